package server

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// limiter admits at most max queries at once; up to queue more wait (at
// most queueTimeout) for a slot, and the rest are refused as busy at once.
type limiter struct {
	slots        chan struct{}
	waiting      atomic.Int64
	maxQueue     int64
	queueTimeout time.Duration
}

func newLimiter(maxConcurrent, queue int, queueTimeout time.Duration) *limiter {
	return &limiter{slots: make(chan struct{}, maxConcurrent), maxQueue: int64(queue), queueTimeout: queueTimeout}
}

func (l *limiter) running() int { return len(l.slots) }
func (l *limiter) queued() int  { return int(l.waiting.Load()) }

// busyFull is the refusal when every slot and the queue are taken. The
// counts are the limits (they are what was reached), named so.
func (l *limiter) busyFull() *Error {
	return newError(http.StatusServiceUnavailable, CodeBusy,
		"the node is busy: %d queries running (max_concurrent) and %d waiting (queue), the most it takes; retry in a moment",
		cap(l.slots), l.maxQueue)
}

// busyTimeout is the refusal of a query that waited queue_timeout: the
// queue was not full, so the counts are those of the moment, the query
// itself not among the waiting.
func (l *limiter) busyTimeout(waited time.Duration) *Error {
	return newError(http.StatusServiceUnavailable, CodeBusy,
		"the node is busy: no query slot freed within %s (queue_timeout); %d of %d slots (max_concurrent) taken, %d other queries waiting; retry in a moment",
		waited.Round(time.Millisecond), l.running(), cap(l.slots), max(l.queued()-1, 0))
}

// acquire waits for a slot; release must be called once the query ends.
func (l *limiter) acquire(ctx context.Context) (release func(), waited time.Duration, err error) {
	release = func() { <-l.slots }
	select {
	case l.slots <- struct{}{}:
		return release, 0, nil
	default:
	}
	if l.waiting.Add(1) > l.maxQueue {
		l.waiting.Add(-1)
		return nil, 0, l.busyFull()
	}
	defer l.waiting.Add(-1)
	start := time.Now()
	t := time.NewTimer(l.queueTimeout)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return release, time.Since(start), nil
	case <-t.C:
		return nil, time.Since(start), l.busyTimeout(l.queueTimeout)
	case <-ctx.Done():
		return nil, time.Since(start), ctx.Err()
	}
}

// BatchBytes is the Arrow in-memory size of a record batch (what
// max_result_bytes counts, here and in the CLI's terminal limit).
func BatchBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += dataBytes(c.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}
