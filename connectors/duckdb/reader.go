//go:build duckdb_arrow

package duckdb

import (
	"context"
	"database/sql"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"lienthong/connectors"
	"lienthong/connectors/arrowconv"
)

var _ array.RecordReader = (*reader)(nil)

// reader re-batches DuckDB's Arrow chunks (2048 rows) into BatchRows-row
// batches of the target schema, casting each column exactly.
type reader struct {
	arrowconv.ReaderState
	c       *Connector
	ctx     context.Context
	src     array.RecordReader
	conn    *sql.Conn
	pending arrow.RecordBatch
	off     int64
	done    bool
}

func (r *reader) Next() bool {
	r.DropBatch()
	if r.done || r.Error != nil {
		return false
	}
	for r.Build.Rows() < connectors.BatchRows {
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
		take := min(int64(connectors.BatchRows-r.Build.Rows()), r.pending.NumRows()-r.off)
		for i, col := range r.pending.Columns() {
			s := array.NewSlice(col, r.off, r.off+take)
			err := r.Build.AppendArray(i, s)
			s.Release()
			if err != nil {
				r.fail(err)
				return false
			}
		}
		r.Build.AddRows(int(take))
		r.off += take
		if r.off == r.pending.NumRows() {
			r.pending.Release()
			r.pending = nil
		}
	}
	if r.Build.Rows() == 0 {
		return false
	}
	r.Batch = r.Build.NewRecordBatch()
	return true
}

func (r *reader) fail(err error) {
	r.Error = err
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

func (r *reader) Release() { r.ReleaseWith(func() { r.close() }) }
