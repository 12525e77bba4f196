//go:build duckdb_arrow

package engine

// The prototype of the streaming residual, kept for its benchmark; the
// engine's own is residualstream.go (on duckdb-go's connection, reached
// through duckdbconn.go).
//
// duckdb-go v2 (v2.10506.0) executes every statement with the pending-result
// API in its materialising form: Stmt.executeBound (statement.go) calls
// mapping.PendingPrepared (duckdb_pending_prepared), then ExecutePending,
// which runs the whole query before returning. Both database/sql rows
// (rows.go, Next -> FetchChunk) and (*Arrow).QueryContext (arrow.go,
// recordReaderFromRows -> FetchChunk) then read chunks of that
// materialised result. The bindings it wraps (duckdb-go-bindings
// prepared.go) also expose PendingPreparedStreaming
// (duckdb_pending_prepared_streaming); FetchChunk on a streaming result
// (duckdb_fetch_chunk) runs the pipeline one chunk further per call, and
// DataChunkToArrowArray converts each chunk to an Arrow record batch.
// duckdb-go's Conn keeps its mapping.Connection unexported, so using that
// path on the engine's residual connection (where the views and the
// pseudonym UDF live) needs either a duckdb-go change (a streaming option
// on Arrow.QueryContext) or the engine opening its residual database
// through the bindings directly.

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	bindings "github.com/duckdb/duckdb-go-bindings"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// streamingQuery runs sql on conn with a streaming pending result and
// calls fn with each batch as DuckDB produces it; fn returns false to stop.
func streamingQuery(conn bindings.Connection, sql string, fn func(arrow.RecordBatch) bool) error {
	var stmt bindings.PreparedStatement
	if bindings.Prepare(conn, sql, &stmt) == bindings.StateError {
		defer bindings.DestroyPrepare(&stmt)
		return errors.New(bindings.PrepareError(stmt))
	}
	defer bindings.DestroyPrepare(&stmt)
	var pending bindings.PendingResult
	if bindings.PendingPreparedStreaming(stmt, &pending) == bindings.StateError {
		defer bindings.DestroyPending(&pending)
		return errors.New(bindings.PendingError(pending))
	}
	defer bindings.DestroyPending(&pending)
	var res bindings.Result
	if bindings.ExecutePending(pending, &res) == bindings.StateError {
		defer bindings.DestroyResult(&res)
		return errors.New(bindings.ResultError(&res))
	}
	defer bindings.DestroyResult(&res)
	opts := bindings.ResultGetArrowOptions(&res)
	defer bindings.DestroyArrowOptions(&opts)
	n := bindings.ColumnCount(&res)
	names := make([]string, n)
	types := make([]bindings.LogicalType, n)
	for i := range n {
		names[i] = bindings.ColumnName(&res, i)
		types[i] = bindings.ColumnLogicalType(&res, i)
	}
	schema, ed := bindings.NewArrowSchema(opts, types, names)
	for i := range types {
		bindings.DestroyLogicalType(&types[i])
	}
	if bindings.ErrorDataHasError(ed) {
		return errors.New(bindings.ErrorDataMessage(ed))
	}
	for {
		chunk := bindings.FetchChunk(res)
		if chunk.Ptr == nil {
			if msg := bindings.ResultError(&res); msg != "" {
				return errors.New(msg)
			}
			return nil
		}
		rec, ed := bindings.DataChunkToArrowArray(opts, schema, chunk)
		bindings.DestroyDataChunk(&chunk)
		if bindings.ErrorDataHasError(ed) {
			return errors.New(bindings.ErrorDataMessage(ed))
		}
		more := fn(rec)
		rec.Release()
		if !more {
			return nil
		}
	}
}

// bigResult is a 10M-row residual-like result (a join DuckDB cannot
// shortcut, ordered by nothing).
const bigResult = "SELECT a.range AS x, b.range AS y, a.range * b.range AS z FROM range(100000) a, range(100) b WHERE (a.range + b.range) % 7 <> 3"

// BenchmarkResidualFirstBatch compares the time to the first batch of a
// large result: duckdb-go's Arrow query (materialises) against the
// streaming pending result through the bindings.
//
//	go test -tags=duckdb_arrow -run '^$' -bench ResidualFirstBatch -benchtime 3x ./engine/
func BenchmarkResidualFirstBatch(b *testing.B) {
	b.Run("arrow-query", func(b *testing.B) {
		db, err := openResidual()
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for b.Loop() {
			conn, err := db.Conn(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			err = conn.Raw(func(dc any) error {
				ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
				if err != nil {
					return err
				}
				rdr, err := ar.QueryContext(context.Background(), bigResult)
				if err != nil {
					return err
				}
				defer rdr.Release()
				if !rdr.Next() {
					return errors.New("no batch")
				}
				b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/first-batch")
				return nil
			})
			conn.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("streaming", func(b *testing.B) {
		var db bindings.Database
		if bindings.Open("", &db) == bindings.StateError {
			b.Fatal("open")
		}
		defer bindings.Close(&db)
		var conn bindings.Connection
		if bindings.Connect(db, &conn) == bindings.StateError {
			b.Fatal("connect")
		}
		defer bindings.Disconnect(&conn)
		for b.Loop() {
			start := time.Now()
			if err := streamingQuery(conn, bigResult, func(arrow.RecordBatch) bool {
				b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/first-batch")
				return false
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The streaming path gives every row, in batches, and its first batch
// comes before the whole result is computed.
func TestStreamingResidualPrototype(t *testing.T) {
	var db bindings.Database
	if bindings.Open("", &db) == bindings.StateError {
		t.Fatal("open")
	}
	defer bindings.Close(&db)
	var conn bindings.Connection
	if bindings.Connect(db, &conn) == bindings.StateError {
		t.Fatal("connect")
	}
	defer bindings.Disconnect(&conn)
	var rows, batches int64
	if err := streamingQuery(conn, "SELECT range AS x FROM range(1000000)", func(r arrow.RecordBatch) bool {
		rows += r.NumRows()
		batches++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if rows != 1_000_000 || batches < 2 {
		t.Fatalf("%d rows in %d batches", rows, batches)
	}
	if err := streamingQuery(conn, "SELECT CAST('x' AS INT)", func(arrow.RecordBatch) bool { return true }); err == nil {
		t.Fatal("want an error")
	}
}
