package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// prefetchDepth is how many batches each remote may read ahead of DuckDB,
// so every source works at once while memory stays bounded.
const prefetchDepth = 4

// stream reads one remote's batches on its own goroutine.
type stream struct {
	id     int
	source string
	schema *arrow.Schema
	ch     chan arrow.RecordBatch
	ctx    context.Context // cancelled by the query's context or by Release
	query  context.Context // the query's own context
	open   func(ctx context.Context) (array.RecordReader, error)
	cancel context.CancelFunc
	done   chan struct{}

	cur     arrow.RecordBatch
	err     error // set before ch closes
	started bool  // run was started (set before any reader exists)
	// stopped is set when the reader let go of the stream (Release);
	// stoppedFirst says it happened before run ended, so whatever error
	// the source gave is the echo of that and not a failure.
	stopped      atomic.Bool
	stoppedFirst bool
	refs         atomic.Int64

	// collect, when set, reads this remote's join keys for another
	// remote's semi-join reduction before anything is handed on.
	collect *keyCollector
	keys    atomic.Int64 // keys the scan was reduced by; -1 when not

	start                 time.Time
	rows, bytes, batches  atomic.Int64
	wallMicros            atomic.Int64
	releaseOnce, doneOnce sync.Once
}

// newStream prepares a remote's stream; run starts it.
func newStream(parent context.Context, id int, schema *arrow.Schema) *stream {
	ctx, cancel := context.WithCancel(parent)
	s := &stream{id: id, schema: schema, ch: make(chan arrow.RecordBatch, prefetchDepth), query: parent, cancel: cancel, done: make(chan struct{}), start: time.Now()}
	s.ctx = ctx
	s.refs.Store(1)
	s.keys.Store(-1)
	return s
}

// Limits of semi-join reduction: a builder with more rows or distinct keys
// than this hands its rows on and the other side is read unreduced.
const (
	maxReduceRows = 1_000_000
	maxReduceKeys = 50_000
)

// keyCollector gathers the distinct values of one column of a builder.
type keyCollector struct {
	col   int
	ready chan struct{}
	keys  []any // nil when there were too many
}

// add records the keys of one batch; false once there are too many.
func (k *keyCollector) add(set map[any]struct{}, rec arrow.RecordBatch) bool {
	col := rec.Column(k.col)
	for i := 0; i < col.Len(); i++ {
		if col.IsNull(i) {
			continue // NULL never joins
		}
		switch a := col.(type) {
		case *array.String:
			set[strings.Clone(a.Value(i))] = struct{}{}
		case *array.Int64:
			set[a.Value(i)] = struct{}{}
		case *array.Int32:
			set[int64(a.Value(i))] = struct{}{}
		case *array.Int16:
			set[int64(a.Value(i))] = struct{}{}
		case *array.Int8:
			set[int64(a.Value(i))] = struct{}{}
		default:
			return false
		}
	}
	return len(set) <= maxReduceKeys
}

func sortedKeys(set map[any]struct{}) []any {
	keys := make([]any, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		switch a := keys[i].(type) {
		case string:
			return a < keys[j].(string)
		case int64:
			return a < keys[j].(int64)
		}
		return false
	})
	return keys
}

func (s *stream) run(ctx context.Context, open func(ctx context.Context) (array.RecordReader, error)) {
	defer close(s.done)
	defer close(s.ch)
	defer func() { s.stoppedFirst = s.stopped.Load() }()
	defer func() { s.wallMicros.Store(time.Since(s.start).Microseconds()) }()
	if s.collect != nil {
		// Whatever happens, the remote waiting for these keys goes on.
		defer func() {
			select {
			case <-s.collect.ready:
			default:
				close(s.collect.ready)
			}
		}()
	}
	src, err := open(ctx)
	if err != nil {
		s.err = err
		return
	}
	defer src.Release()
	if !src.Schema().Equal(s.schema) {
		s.err = fmt.Errorf("internal: remote %d returned schema %s, planned %s", s.id, src.Schema(), s.schema)
		return
	}
	if s.collect != nil {
		// Read ahead of DuckDB until the keys are known: the other side
		// cannot start before, and DuckDB may want that side first.
		var held []arrow.RecordBatch
		set := map[any]struct{}{}
		ok := true
		var rows int64
		for ok && src.Next() {
			rec := src.RecordBatch()
			rec.Retain()
			held = append(held, rec)
			rows += rec.NumRows()
			ok = rows <= maxReduceRows && s.collect.add(set, rec)
		}
		if ok && src.Err() == nil {
			s.collect.keys = sortedKeys(set)
		}
		close(s.collect.ready)
		for i, rec := range held {
			if !s.send(ctx, rec) {
				for _, r := range held[i+1:] {
					r.Release()
				}
				return
			}
		}
		if ok {
			s.err = src.Err()
			return
		}
	}
	for src.Next() {
		rec := src.RecordBatch()
		rec.Retain()
		if !s.send(ctx, rec) {
			return
		}
	}
	s.err = src.Err()
	if s.err == nil && ctx.Err() != nil {
		// A reader may end quietly when its context is cancelled: that
		// is not the end of the data.
		s.err = ctx.Err()
	}
}

// send hands one batch on, counting it; false when the query was cancelled.
func (s *stream) send(ctx context.Context, rec arrow.RecordBatch) bool {
	s.rows.Add(rec.NumRows())
	s.batches.Add(1)
	for _, col := range rec.Columns() {
		s.bytes.Add(int64(arraySize(col.Data())))
	}
	select {
	case s.ch <- rec:
		return true
	case <-ctx.Done():
		rec.Release()
		s.err = ctx.Err()
		return false
	}
}

func arraySize(d arrow.ArrayData) int {
	n := 0
	for _, b := range d.Buffers() {
		if b != nil {
			n += b.Len()
		}
	}
	for _, c := range d.Children() {
		n += arraySize(c)
	}
	return n
}

func (s *stream) Schema() *arrow.Schema { return s.schema }

func (s *stream) Next() bool {
	if s.cur != nil {
		s.cur.Release()
		s.cur = nil
	}
	rec, ok := <-s.ch
	if !ok {
		// run closes ch just before done: wait, so that Err, asked next,
		// sees how the stream ended. Without this a failed stream read in
		// that moment ended as a clean, empty success.
		<-s.done
		return false
	}
	s.cur = rec
	return true
}

func (s *stream) RecordBatch() arrow.RecordBatch { return s.cur }
func (s *stream) Record() arrow.RecordBatch      { return s.cur }

// Err is the stream's failure once it has ended. A stream stopped because
// its reader stopped early (DuckDB's LIMIT was satisfied, Release) ends
// cleanly whatever its source said about being cancelled; a stream whose
// query was cancelled ends with a cancellation error, never cleanly.
func (s *stream) Err() error {
	select {
	case <-s.done:
	default:
		return nil
	}
	if s.query.Err() != nil {
		return cancelled(s.query)
	}
	if s.stoppedFirst {
		return nil // we stopped reading
	}
	return s.err
}

func (s *stream) Retain() { s.refs.Add(1) }

// Release stops the source query (if still running) and frees buffered
// batches.
func (s *stream) Release() {
	if s.refs.Add(-1) > 0 {
		return
	}
	s.releaseOnce.Do(func() {
		s.stopped.Store(true)
		s.cancel()
		if !s.started {
			return
		}
		if s.cur != nil {
			s.cur.Release()
			s.cur = nil
		}
		for rec := range s.ch {
			rec.Release()
		}
		<-s.done
	})
}
