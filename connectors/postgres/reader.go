package postgres

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"lienthong/connectors"
	"lienthong/connectors/arrowconv"
)

var _ array.RecordReader = (*reader)(nil)

// reader streams one statement's rows, holding its pooled connection until
// the rows end or the reader is released.
type reader struct {
	arrowconv.ReaderState
	c    *Connector
	ctx  context.Context
	pc   *pgxpool.Conn
	rr   *pgconn.ResultReader
	decs []decoder
	done bool
}

func (r *reader) Next() bool {
	r.DropBatch()
	if r.done || r.Error != nil {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.fail(&connectors.SourceError{Source: r.c.name, Op: "query", Err: err})
		return false
	}
	for r.Build.Rows() < connectors.BatchRows {
		if !r.rr.NextRow() {
			_, err := r.rr.Close()
			if err != nil {
				if r.ctx.Err() != nil {
					err = r.ctx.Err()
				}
				r.fail(r.c.stmtErr(r.pc.Conn().PgConn(), err))
				return false
			}
			r.done = true
			r.pc.Release()
			r.pc = nil
			break
		}
		for i, v := range r.rr.Values() {
			if err := r.decs[i](v); err != nil {
				r.fail(err)
				return false
			}
		}
		r.Build.RowDone()
	}
	if r.Build.Rows() == 0 {
		return false
	}
	r.Batch = r.Build.NewRecordBatch()
	return true
}

func (r *reader) fail(err error) {
	r.Error = err
	r.abandon()
}

// abandon stops an unfinished statement: a cancel request makes the server
// stop now (closing the socket alone would let pg_sleep or a sort run on),
// and the connection is closed rather than drained and reused.
func (r *reader) abandon() {
	if r.pc == nil {
		return
	}
	pg := r.pc.Conn().PgConn()
	if !pg.IsClosed() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = pg.CancelRequest(ctx)
		_ = pg.Close(ctx)
		cancel()
	}
	r.pc.Release() // the pool drops a closed connection
	r.pc = nil
}

func (r *reader) Release() { r.ReleaseWith(func() { r.abandon() }) }
