//go:build duckdb_arrow

package engine

// Time to the first batch of a large residual-like result: duckdb-go's
// Arrow query, which materialises the whole result first, against the
// engine's streaming path (internal/duckstream). duckdb-go v2.10506.0
// executes every statement with duckdb_pending_prepared (Stmt.executeBound),
// so both database/sql rows and (*Arrow).QueryContext read chunks of a
// finished result; duckstream uses the bindings' streaming pending result
// on the same connection instead.

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"lienthong/internal/duckstream"
)

// bigResult is a 10M-row residual-like result (a join DuckDB cannot
// shortcut, ordered by nothing).
const bigResult = "SELECT a.range AS x, b.range AS y, a.range * b.range AS z FROM range(100000) a, range(100) b WHERE (a.range + b.range) % 7 <> 3"

// BenchmarkResidualFirstBatch compares the time to the first batch of a
// large result: duckdb-go's Arrow query (materialises) against the
// engine's streaming path.
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
				h, err := duckstream.Handle(dc)
				if err != nil {
					return err
				}
				rdr, err := duckstream.Stream(context.Background(), h, bigResult)
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
}
