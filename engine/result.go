package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"lienthong/catalog"
	"lienthong/planner"
	"lienthong/planner/plan"
)

// Result is a running query: a stream of record batches with the plan it
// runs and, once read to the end, per-remote statistics.
type Result struct {
	Plan     *plan.Plan
	Snapshot *catalog.Snapshot
	schema   *arrow.Schema
	inner    array.RecordReader
	streams  []*stream
	cur      arrow.RecordBatch
	cleanup  func()
	released bool
	rows     int64
	bytes    int64

	// Audit: the attempt is ended exactly once, when the stream ends,
	// fails or is released early.
	attempt *Attempt
	obs     Observer
	ctx     context.Context // for the audit: never cancelled
	query   context.Context // the query's context
	hasher  *resultHasher
	endErr  error
	// finished is set when the stream ended; endErr is then its error.
	finished bool
}

func (r *Result) Schema() *arrow.Schema { return r.schema }

func (r *Result) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.released || r.endErr != nil || r.finished {
		return false
	}
	if !r.inner.Next() {
		r.finished = true
		if err := r.streamErr(); err != nil {
			r.end(Failed, err)
		} else {
			r.end(Succeeded, nil)
		}
		return false
	}
	rec := r.inner.RecordBatch()
	r.rows += rec.NumRows()
	for _, col := range rec.Columns() {
		r.bytes += int64(arraySize(col.Data()))
	}
	// Same columns, the names the user asked for.
	r.cur = array.NewRecordBatch(r.schema, rec.Columns(), rec.NumRows())
	if r.hasher != nil {
		if err := r.hasher.add(r.cur); err != nil {
			r.end(Failed, err)
			return false
		}
	}
	return true
}

// end reports the attempt's outcome once; a failure to write it fails the
// result, so a client never sees success that was not audited.
func (r *Result) end(o Outcome, err error) {
	if r.obs == nil || r.attempt == nil {
		if err != nil && r.endErr == nil {
			r.endErr = err
		}
		return
	}
	a := r.attempt
	r.attempt = nil
	a.Outcome, a.ErrorCode, a.FailedSource = o, ErrorCode(err), failedSource(err)
	if o == Failed && isCancelled(err) {
		a.Outcome = Cancelled
	}
	a.Rows, a.Bytes, a.Duration = r.rows, r.bytes, time.Since(a.Start)
	a.RowsPerSource = map[string]int64{}
	for _, s := range r.streams {
		a.RowsPerSource[s.source] += s.rows.Load()
	}
	if o == Succeeded {
		a.ResultSHA256 = r.hasher.sum()
	}
	if aerr := r.obs.End(r.ctx, a); aerr != nil {
		r.endErr = fmt.Errorf("%w: %w", ErrAudit, aerr)
	} else if err != nil {
		r.endErr = err
	}
}

func (r *Result) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *Result) Record() arrow.RecordBatch      { return r.cur }

func (r *Result) Err() error {
	if r.endErr != nil || r.finished {
		// Once the stream has ended its outcome is fixed: a context
		// cancelled after a complete result does not unmake it.
		return clientError(r.endErr)
	}
	return clientError(r.streamErr())
}

func (r *Result) streamErr() error {
	if r.query != nil && r.query.Err() != nil {
		// Whatever the residual or a source made of it (DuckDB says
		// "Interrupted", a source its own words), the query was cancelled.
		return cancelled(r.query)
	}
	if err := r.inner.Err(); err != nil {
		if r.cleanup != nil { // the residual's reader: DuckDB's message
			// A source that failed mid-stream surfaces through DuckDB
			// (as an error of its own class): report the source's.
			for _, s := range r.streams {
				if serr := s.Err(); serr != nil {
					return serr
				}
			}
			return residualError(err)
		}
		return err
	}
	for _, s := range r.streams {
		if err := s.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (r *Result) Retain() {}

// Release stops every source query still running and frees the residual.
func (r *Result) Release() {
	if r.released {
		return
	}
	if r.attempt != nil {
		r.end(Cancelled, context.Canceled)
	}
	r.released = true
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	r.inner.Release()
	if r.cleanup != nil {
		r.cleanup()
	}
}

// Rows is how many rows the result has returned so far.
func (r *Result) Rows() int64 { return r.rows }

// Stats reports rows, bytes and time read from each remote.
func (r *Result) Stats() map[int]planner.RemoteStats {
	out := map[int]planner.RemoteStats{}
	for _, s := range r.streams {
		out[s.id] = planner.RemoteStats{Rows: s.rows.Load(), Bytes: s.bytes.Load(), Batches: s.batches.Load(), WallMillis: float64(s.wallMicros.Load()) / 1000, Keys: s.keys.Load()}
	}
	return out
}

func schemaOf(cols []plan.Column) *arrow.Schema {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.Name, Type: c.Type, Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// renameSchema keeps DuckDB's column types under the user's column names.
func renameSchema(s *arrow.Schema, cols []plan.Column) *arrow.Schema {
	fields := make([]arrow.Field, s.NumFields())
	for i := range fields {
		f := s.Field(i)
		if i < len(cols) {
			f.Name = cols[i].Name
		}
		f.Nullable = true
		fields[i] = f
	}
	return arrow.NewSchema(fields, nil)
}
