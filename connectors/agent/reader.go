package agent

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
)

var _ array.RecordReader = (*reader)(nil)

// reader streams one scan's batches from the agent under the plan's schema
// (field names are the plan's; types were checked equal).
type reader struct {
	refs   atomic.Int64
	c      *Connector
	ctx    context.Context
	rd     *flight.Reader
	schema *arrow.Schema
	w      *watchdog
	cancel context.CancelFunc
	cur    arrow.RecordBatch
	err    error
	once   sync.Once
}

func (r *reader) Schema() *arrow.Schema { return r.schema }

func (r *reader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.err != nil {
		return false
	}
	r.w.arm()
	ok := r.rd.Next()
	r.w.disarm()
	if !ok {
		if err := r.rd.Err(); err != nil {
			r.err = r.c.streamErr(r.ctx, r.w, err)
		}
		r.close()
		return false
	}
	rec := r.rd.RecordBatch()
	r.cur = array.NewRecordBatch(r.schema, rec.Columns(), rec.NumRows())
	return true
}

func (r *reader) RecordBatch() arrow.RecordBatch { return r.cur }

// Record is RecordBatch (the deprecated name array.RecordReader keeps).
func (r *reader) Record() arrow.RecordBatch { return r.cur }

func (r *reader) Err() error { return r.err }

func (r *reader) Retain() { r.refs.Add(1) }

func (r *reader) Release() {
	if r.refs.Add(-1) >= 0 {
		return
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	r.close()
}

// close ends the stream: cancelling it tells the agent, which cancels its
// database's statement.
func (r *reader) close() {
	r.once.Do(func() {
		r.cancel()
		r.rd.Release()
		r.w.disarm()
	})
}

// watchdog cancels a stream that waits longer than read_timeout for the
// agent's next message (an agent that accepts and then goes silent).
type watchdog struct {
	after  time.Duration
	t      *time.Timer
	cancel context.CancelFunc
	hit    atomic.Bool
}

func newWatchdog(after time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{after: after, cancel: cancel}
	if after > 0 {
		w.t = time.AfterFunc(time.Hour, func() { w.hit.Store(true); cancel() })
		w.t.Stop()
	}
	return w
}

func (w *watchdog) arm() {
	if w.t != nil {
		w.t.Reset(w.after)
	}
}

func (w *watchdog) disarm() {
	if w.t != nil {
		w.t.Stop()
	}
}

func (w *watchdog) fired() bool { return w.hit.Load() }
