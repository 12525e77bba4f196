package arrowconv

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"lienthong/connectors"
)

var _ array.RecordReader = (*RowsReader)(nil)

// RowsReader streams a *sql.Rows as record batches of BatchRows rows. It
// holds one batch at a time; the result is never buffered whole.
type RowsReader struct {
	ReaderState
	ctx     context.Context
	rows    *sql.Rows
	vals    []any
	ptrs    []any
	done    bool
	closed  bool
	onClose func(exhausted bool)
	after   func()
	// WrapErr turns a driver error into one safe to show (no row values).
	wrapErr func(error) error
}

// RowsOptions tune NewRowsReader.
type RowsOptions struct {
	// OnClose runs once when the rows are finished or abandoned, before
	// rows.Close; exhausted is false when the reader was released early or
	// failed (MySQL uses it to KILL the still running query first).
	OnClose func(exhausted bool)
	// AfterClose runs once after rows.Close (to return a dedicated conn).
	AfterClose func()
	// WrapErr redacts driver errors; the default wraps as Op "query".
	WrapErr func(error) error
}

// NewRowsReader takes ownership of rows (and closes them).
func NewRowsReader(ctx context.Context, mem memory.Allocator, rows *sql.Rows, schema *arrow.Schema, source string, opt RowsOptions) (*RowsReader, error) {
	r := &RowsReader{ctx: ctx, rows: rows, onClose: opt.OnClose, after: opt.AfterClose, wrapErr: opt.WrapErr}
	if r.wrapErr == nil {
		r.wrapErr = func(err error) error { return &connectors.SourceError{Source: source, Op: "query", Err: err} }
	}
	cols, err := rows.Columns()
	if err == nil && len(cols) != len(schema.Fields()) {
		err = &connectors.SourceError{Source: source, Op: "query",
			Err: fmt.Errorf("statement returns %d columns, schema has %d", len(cols), len(schema.Fields()))}
	}
	var b *Builder
	if err == nil {
		b, err = NewBuilder(mem, schema, source)
	}
	if err != nil {
		r.finish(false)
		return nil, err
	}
	r.InitState(b)
	r.vals = make([]any, len(cols))
	r.ptrs = make([]any, len(cols))
	for i := range r.vals {
		r.ptrs[i] = &r.vals[i]
	}
	return r, nil
}

// Next reads up to BatchRows rows into the next batch.
func (r *RowsReader) Next() bool {
	r.DropBatch()
	if r.done || r.Error != nil {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.fail(err)
		return false
	}
	for r.Build.Rows() < connectors.BatchRows {
		if !r.rows.Next() {
			if err := r.rows.Err(); err != nil {
				r.fail(r.wrapErr(err))
				return false
			}
			r.done = true
			r.finish(true)
			break
		}
		if err := r.rows.Scan(r.ptrs...); err != nil {
			r.fail(r.wrapErr(err))
			return false
		}
		if err := r.Build.AppendRow(r.vals); err != nil {
			r.fail(err)
			return false
		}
	}
	if r.Build.Rows() == 0 {
		return false
	}
	r.Batch = r.Build.NewRecordBatch()
	return true
}

func (r *RowsReader) fail(err error) {
	r.Error = err
	r.finish(false)
}

// finish stops the source query and returns its connection.
func (r *RowsReader) finish(exhausted bool) {
	if r.closed {
		return
	}
	r.closed = true
	if r.onClose != nil {
		r.onClose(exhausted)
	}
	r.rows.Close()
	if r.after != nil {
		r.after()
	}
}

func (r *RowsReader) Release() { r.ReleaseWith(func() { r.finish(r.done) }) }
