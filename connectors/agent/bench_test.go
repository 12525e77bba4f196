package agent_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"lienthong/agent/agenttest"
	"lienthong/attempt"
	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/connectors/open"
	"lienthong/internal/testenv"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
)

// BenchmarkAgent compares reading through an agency's agent with reading
// the same PostgreSQL table directly: a 1M-row, 3-column scan (goal: at
// least 0.8x the direct rows/s) and a point lookup by PIN (the agent's
// added latency). Run with make bench-agent.
func BenchmarkAgent(b *testing.B) {
	dsn := benchTable(b)
	db := config.Source{Name: "src", Kind: catalog.Postgres, DSN: dsn, Schema: "public", PINColumn: "pin"}
	r := agenttest.Start(b, agenttest.Options{Source: db})
	conns := map[string]connectors.Connector{}
	for name, src := range map[string]config.Source{
		"direct": db,
		"agent":  {Name: "via", Kind: catalog.Agent, Address: r.Addr, CAFile: r.Engine.CA, CertFile: r.Engine.Cert, KeyFile: r.Engine.Key},
		"agent4": {Name: "via4", Kind: catalog.Agent, Address: r.Addr, CAFile: r.Engine.CA, CertFile: r.Engine.Cert, KeyFile: r.Engine.Key, Partitions: 4},
	} {
		c, err := open.Source(context.Background(), src.WithDefaults())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		conns[name] = c
	}
	// agent4 reads the scan as 4 PIN ranges at once (partitions = 4).
	for _, name := range []string{"direct", "agent", "agent4"} {
		c := conns[name]
		tables, err := c.Tables(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		var t *catalog.Table
		for _, x := range tables {
			if x.Name == "wide" {
				t = x
			}
		}
		if t == nil || name != "direct" && t.PINColumn != "pin" { // the agency marks it
			b.Fatalf("%s: no table wide with PIN column pin: %+v", name, t)
		}
		scan := &plan.Scan{Alias: "w", Table: t, Columns: []string{"id", "pin", "score"}}
		b.Run("scan1M/"+name, func(b *testing.B) {
			var rows int64
			for b.Loop() {
				rows += read(b, c, scan)
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
		pin := t.Column("pin")
		lookup := *scan
		lookup.Filters = []plan.Expr{&plan.Binary{Op: "=", L: &plan.ColRef{Rel: "w", Name: "pin", Typ: pin.Type}, R: &plan.Literal{Value: "000000500000", Typ: pin.Type}, Typ: plan.Bool}}
		b.Run("lookup/"+name, func(b *testing.B) {
			for b.Loop() {
				if n := read(b, c, &lookup); n != 1 {
					b.Fatalf("lookup found %d rows", n)
				}
			}
		})
	}
}

func read(b *testing.B, c connectors.Connector, s *plan.Scan) int64 {
	st, err := sqlgen.RenderScan(c.Dialect(), s)
	if err != nil {
		b.Fatal(err)
	}
	var fields []arrow.Field
	for _, name := range s.Columns {
		col := s.Table.Column(name)
		fields = append(fields, arrow.Field{Name: col.Name, Type: col.Type, Nullable: true})
	}
	ctx := attempt.WithRequest(context.Background(), attempt.Session{Principal: "bench", Purpose: agenttest.Purpose}, "bench")
	rr, err := c.Query(ctx, st, arrow.NewSchema(fields, nil))
	if err != nil {
		b.Fatal(err)
	}
	defer rr.Release()
	var n int64
	for rr.Next() {
		n += rr.RecordBatch().NumRows()
	}
	if err := rr.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

// benchTable makes wide(id bigint, pin text, score numeric(12,2)) with 1M
// rows and an index on pin.
func benchTable(b *testing.B) string {
	dsn := testenv.PostgresDSN(b)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	start := time.Now()
	for _, s := range []string{
		`CREATE TABLE wide AS SELECT g::bigint AS id, lpad(g::text, 12, '0') AS pin, (g % 100000 / 100.0)::numeric(12,2) AS score FROM generate_series(1, 1000000) g`,
		`CREATE INDEX ON wide (pin)`, `ANALYZE wide`,
	} {
		if _, err := c.Exec(ctx, s); err != nil {
			b.Fatalf("%s: %v", s, err)
		}
	}
	b.Logf("%s", fmt.Sprintf("1M rows loaded in %s", time.Since(start).Round(time.Millisecond)))
	return dsn
}
