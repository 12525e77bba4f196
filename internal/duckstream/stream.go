package duckstream

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	bindings "github.com/duckdb/duckdb-go-bindings"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Reader streams a residual statement chunk by chunk: a streaming
// pending result (duckdb_pending_prepared_streaming) whose every
// FetchChunk runs DuckDB's pipeline one chunk further, each chunk
// converted to an Arrow record batch. Memory is what DuckDB's operators
// hold (a hash join's build side, a sort), not the whole result.
type Reader struct {
	conn    bindings.Connection
	stmt    bindings.PreparedStatement
	pending bindings.PendingResult
	res     bindings.Result
	opts    bindings.ArrowOptions
	schema  *arrow.Schema
	cur     arrow.RecordBatch
	err     error
	done    bool
	refs    atomic.Int64
	once    sync.Once

	// The interrupter: interrupts the connection once ctx is cancelled,
	// until the reader is released.
	stop, stopped chan struct{}
}

// residualErr is a DuckDB failure as duckdb-go would report it, so
// residualError classifies it alike.
func duckErr(t bindings.ErrorType, msg string) error {
	return &duckdb.Error{Type: duckdb.ErrorType(t), Msg: msg}
}

// Stream prepares sql on conn and starts it streaming; cancelling
// ctx interrupts it.
func Stream(ctx context.Context, conn bindings.Connection, sql string) (*Reader, error) {
	r := &Reader{conn: conn, stop: make(chan struct{}), stopped: make(chan struct{})}
	r.refs.Store(1)
	go r.interrupter(ctx)
	fail := func(err error) (*Reader, error) {
		r.Release()
		return nil, err
	}
	if bindings.Prepare(conn, sql, &r.stmt) == bindings.StateError {
		return fail(duckErr(bindings.ErrorTypeInvalid, bindings.PrepareError(r.stmt)))
	}
	if bindings.PendingPreparedStreaming(r.stmt, &r.pending) == bindings.StateError {
		return fail(duckErr(bindings.ErrorTypeInvalid, bindings.PendingError(r.pending)))
	}
	if bindings.ExecutePending(r.pending, &r.res) == bindings.StateError {
		return fail(duckErr(bindings.ResultErrorType(&r.res), bindings.ResultError(&r.res)))
	}
	r.opts = bindings.ResultGetArrowOptions(&r.res)
	n := bindings.ColumnCount(&r.res)
	names := make([]string, n)
	types := make([]bindings.LogicalType, n)
	for i := range n {
		names[i] = bindings.ColumnName(&r.res, i)
		types[i] = bindings.ColumnLogicalType(&r.res, i)
	}
	schema, ed := bindings.NewArrowSchema(r.opts, types, names)
	for i := range types {
		bindings.DestroyLogicalType(&types[i])
	}
	if bindings.ErrorDataHasError(ed) {
		err := duckErr(bindings.ErrorDataErrorType(ed), bindings.ErrorDataMessage(ed))
		bindings.DestroyErrorData(&ed)
		return fail(err)
	}
	bindings.DestroyErrorData(&ed)
	r.schema = schema
	return r, nil
}

// interrupter calls duckdb_interrupt once ctx is cancelled, and again
// every while (DuckDB clears an interrupt between some calls), until the
// reader is released; Release waits for it, so it never interrupts the
// connection's next query.
func (r *Reader) interrupter(ctx context.Context) {
	defer close(r.stopped)
	select {
	case <-r.stop:
		return
	case <-ctx.Done():
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		bindings.Interrupt(r.conn)
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
	}
}

func (r *Reader) Schema() *arrow.Schema { return r.schema }

func (r *Reader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.done {
		return false
	}
	for {
		chunk := bindings.FetchChunk(r.res)
		if chunk.Ptr == nil {
			r.done = true
			if msg := bindings.ResultError(&r.res); msg != "" {
				r.err = duckErr(bindings.ResultErrorType(&r.res), msg)
			}
			return false
		}
		if bindings.DataChunkGetSize(chunk) == 0 {
			bindings.DestroyDataChunk(&chunk)
			continue
		}
		rec, ed := bindings.DataChunkToArrowArray(r.opts, r.schema, chunk)
		bindings.DestroyDataChunk(&chunk)
		if bindings.ErrorDataHasError(ed) {
			r.done = true
			r.err = duckErr(bindings.ErrorDataErrorType(ed), bindings.ErrorDataMessage(ed))
			bindings.DestroyErrorData(&ed)
			return false
		}
		bindings.DestroyErrorData(&ed)
		r.cur = rec
		return true
	}
}

func (r *Reader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *Reader) Record() arrow.RecordBatch      { return r.cur }
func (r *Reader) Err() error                     { return r.err }
func (r *Reader) Retain()                        { r.refs.Add(1) }

// Release frees the current batch, the result, the pending result and the
// statement, and stops the interrupter.
func (r *Reader) Release() {
	if r.refs.Add(-1) > 0 {
		return
	}
	r.once.Do(func() {
		if r.cur != nil {
			r.cur.Release()
			r.cur = nil
		}
		close(r.stop)
		<-r.stopped
		bindings.DestroyArrowOptions(&r.opts)
		bindings.DestroyResult(&r.res)
		bindings.DestroyPending(&r.pending)
		bindings.DestroyPrepare(&r.stmt)
	})
}
