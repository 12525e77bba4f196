package agent_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"

	"lienthong/agent/agenttest"
	"lienthong/agent/wire"
	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors/open"
	"lienthong/internal/testenv"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
)

// BenchmarkScan1M reads a 1M-row, 3-column PostgreSQL table directly
// (the connector, as the engine does) and through the agent (Flight over
// mutual TLS on loopback, the agent's connector behind it):
//
//	go test -tags duckdb_arrow ./agent -run '^$' -bench Scan1M -benchtime 3x
func BenchmarkScan1M(b *testing.B) {
	dsn := testenv.PostgresDSN(b)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE wide AS SELECT lpad(g::text, 12, '0') AS pin, g::bigint AS n, date '2000-01-01' + (g % 9000) AS born FROM generate_series(1, 1000000) g`); err != nil {
		b.Fatal(err)
	}
	src := config.Source{Name: "agency", Kind: catalog.Postgres, DSN: dsn, Schema: "public"}
	cols := []string{"pin", "n", "born"}
	b.Run("direct", func(b *testing.B) {
		conn, err := open.Source(context.Background(), src.WithDefaults())
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		tables, err := conn.Tables(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		var tbl *catalog.Table
		for _, t := range tables {
			if t.Name == "wide" {
				tbl = t
			}
		}
		st, err := sqlgen.RenderScan(conn.Dialect(), &plan.Scan{Alias: "t", Table: tbl, Columns: cols})
		if err != nil {
			b.Fatal(err)
		}
		schema := arrow.NewSchema([]arrow.Field{{Name: "pin", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "born", Type: arrow.FixedWidthTypes.Date32, Nullable: true}}, nil)
		b.ResetTimer()
		for range b.N {
			rd, err := conn.Query(context.Background(), st, schema)
			if err != nil {
				b.Fatal(err)
			}
			var n int64
			for rd.Next() {
				n += rd.RecordBatch().NumRows()
			}
			if rd.Err() != nil || n != 1000000 {
				b.Fatal(n, rd.Err())
			}
			rd.Release()
		}
		b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("agent", func(b *testing.B) {
		r := agenttest.Start(b, agenttest.Options{Source: src, TOML: `max_streams = 4

[[engines]]
name = "central-engine"
purposes = ["audit"]

[[exports]]
table = "wide"
columns = ["pin", "n", "born"]
pin_column = "pin"
max_rows = 2000000
`})
		c := dial(b, r.Addr, r.Engine)
		b.ResetTimer()
		for range b.N {
			req := &wire.Request{Version: wire.Version, Nonce: nonce(), Time: time.Now().UTC(), Table: "wide", Columns: cols, Purpose: "audit"}
			s, err := c.DoGet(context.Background(), &flight.Ticket{Ticket: enc(b, req)})
			if err != nil {
				b.Fatal(err)
			}
			rd, err := flight.NewRecordReader(s)
			if err != nil {
				b.Fatal(err)
			}
			var n int64
			for rd.Next() {
				n += rd.RecordBatch().NumRows()
			}
			if rd.Err() != nil || n != 1000000 {
				b.Fatal(n, rd.Err())
			}
			rd.Release()
		}
		b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkPointLookup is one PIN's row through the agent (the latency
// the agent adds is this minus the database's own).
func BenchmarkPointLookup(b *testing.B) {
	path := citizensDB(b)
	r := agenttest.Start(b, agenttest.Options{Source: config.Source{Kind: catalog.SQLite, Path: path}, TOML: agencyTOML})
	c := dial(b, r.Addr, r.Engine)
	b.ResetTimer()
	for range b.N {
		req := request()
		req.Filters = []wire.Expr{eqExpr(col("pin", "utf8"), lit("utf8", "001000000011"))}
		rows, err := get(b, c, enc(b, req))
		if err != nil || len(rows) != 1 {
			b.Fatal(rows, err)
		}
	}
}
