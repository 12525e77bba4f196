//go:build duckdb_arrow

package duckdb

import (
	"context"
	"database/sql"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"lienthong/connectors"
	"lienthong/connectors/arrowconv"
)

var _ array.RecordReader = (*reader)(nil)

// reader re-batches DuckDB's Arrow chunks (2048 rows) into BatchRows-row
// batches of the target schema, casting each column exactly.
type reader struct {
	refs    atomic.Int64
	c       *Connector
	ctx     context.Context
	src     array.RecordReader
	conn    *sql.Conn
	b       *arrowconv.Builder
	pending arrow.RecordBatch
	off     int64
	cur     arrow.RecordBatch
	err     error
	done    bool
}

func (r *reader) Schema() *arrow.Schema { return r.b.Schema() }

func (r *reader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.done || r.err != nil {
		return false
	}
	for r.b.Rows() < connectors.BatchRows {
		if err := r.ctx.Err(); err != nil {
			r.fail(r.c.queryErr(r.ctx, err))
			return false
		}
		if r.pending == nil {
			if !r.src.Next() {
				if err := r.src.Err(); err != nil {
					r.fail(r.c.queryErr(r.ctx, err))
					return false
				}
				r.done = true
				r.close()
				break
			}
			r.pending = r.src.RecordBatch()
			r.pending.Retain()
			r.off = 0
		}
		take := min(int64(connectors.BatchRows-r.b.Rows()), r.pending.NumRows()-r.off)
		for i, col := range r.pending.Columns() {
			s := array.NewSlice(col, r.off, r.off+take)
			err := r.b.AppendArray(i, s)
			s.Release()
			if err != nil {
				r.fail(err)
				return false
			}
		}
		r.b.AddRows(int(take))
		r.off += take
		if r.off == r.pending.NumRows() {
			r.pending.Release()
			r.pending = nil
		}
	}
	if r.b.Rows() == 0 {
		return false
	}
	r.cur = r.b.NewRecordBatch()
	return true
}

func (r *reader) fail(err error) {
	r.err = err
	r.close()
}

// close frees DuckDB's result and returns the connection.
func (r *reader) close() {
	if r.pending != nil {
		r.pending.Release()
		r.pending = nil
	}
	if r.src != nil {
		r.src.Release()
		r.src = nil
		r.conn.Close()
	}
}

func (r *reader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *reader) Record() arrow.RecordBatch      { return r.cur }
func (r *reader) Err() error                     { return r.err }
func (r *reader) Retain()                        { r.refs.Add(1) }

func (r *reader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	r.close()
	r.b.Release()
}
