package agent

import (
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

var _ array.RecordReader = (*merged)(nil)

// merged reads the partitions of one scan at once and hands out their
// batches as they come (a scan has no order). At most one batch per
// partition waits, so memory stays bounded by the partition count.
type merged struct {
	refs   atomic.Int64
	schema *arrow.Schema
	parts  []*reader
	ch     chan arrow.RecordBatch
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
	cur    arrow.RecordBatch
	once   sync.Once
}

func newMerged(schema *arrow.Schema, parts []*reader) *merged {
	m := &merged{schema: schema, parts: parts, ch: make(chan arrow.RecordBatch, len(parts)), stop: make(chan struct{})}
	for _, p := range parts {
		m.wg.Add(1)
		go m.read(p)
	}
	go func() { m.wg.Wait(); close(m.ch) }()
	return m
}

func (m *merged) read(p *reader) {
	defer m.wg.Done()
	for p.Next() {
		rec := p.RecordBatch()
		rec.Retain()
		select {
		case m.ch <- rec:
		case <-m.stop:
			rec.Release()
			return
		}
	}
	if err := p.Err(); err != nil {
		m.mu.Lock()
		if m.err == nil {
			m.err = err
		}
		m.mu.Unlock()
		m.halt() // one partition failed: the scan has
	}
}

func (m *merged) halt() { m.once.Do(func() { close(m.stop) }) }

func (m *merged) Schema() *arrow.Schema { return m.schema }

func (m *merged) Next() bool {
	if m.cur != nil {
		m.cur.Release()
		m.cur = nil
	}
	if m.Err() != nil {
		return false
	}
	rec, ok := <-m.ch
	if !ok || m.Err() != nil {
		if ok {
			rec.Release()
		}
		return false
	}
	m.cur = rec
	return true
}

func (m *merged) RecordBatch() arrow.RecordBatch { return m.cur }

// Record is RecordBatch (the deprecated name array.RecordReader keeps).
func (m *merged) Record() arrow.RecordBatch { return m.cur }

func (m *merged) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *merged) Retain() { m.refs.Add(1) }

// Release stops every partition (cancelling their agent streams) and
// frees what is buffered.
func (m *merged) Release() {
	if m.refs.Add(-1) >= 0 {
		return
	}
	if m.cur != nil {
		m.cur.Release()
		m.cur = nil
	}
	m.halt()
	for _, p := range m.parts {
		p.cancel() // a Next blocked on the agent returns
	}
	for rec := range m.ch { // closed once every reading goroutine is done
		rec.Release()
	}
	for _, p := range m.parts {
		p.Release()
	}
}
