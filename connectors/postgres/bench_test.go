package postgres_test

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors/postgres"
	"lienthong/internal/testenv"
	"lienthong/planner/sqlgen"
)

// BenchmarkQuery1M reads 1M rows of 5 columns (bigint, text, date,
// numeric(12,2), timestamptz) from PostgreSQL into Arrow batches.
func BenchmarkQuery1M(b *testing.B) {
	dsn := testenv.PostgresDSN(b)
	pgExec(&testing.T{}, dsn, `CREATE TABLE p AS SELECT n::bigint AS id, 'Nguyễn Văn ' || n AS name,
		DATE '1950-01-01' + (n % 20000) AS born, (n % 100000) / 100.0 ::numeric(12,2) AS score,
		TIMESTAMPTZ '2020-01-01 00:00:00+00' + n * INTERVAL '1 second' AS seen
		FROM generate_series(1, 1000000) n`)
	c, err := postgres.Open(context.Background(), config.Source{Name: "p", Kind: catalog.Postgres, DSN: dsn})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	tables, err := c.Tables(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var fields []arrow.Field
	for _, col := range tables[0].Columns {
		fields = append(fields, arrow.Field{Name: col.Name, Type: col.Type, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	b.ResetTimer()
	for range b.N {
		rr, err := c.Query(context.Background(), sqlgen.Statement{SQL: "SELECT id, name, born, score, seen FROM p"}, schema)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rr.Next() {
			n += int(rr.RecordBatch().NumRows())
		}
		if err := rr.Err(); err != nil {
			b.Fatal(err)
		}
		rr.Release()
		if n != 1000000 {
			b.Fatalf("%d rows", n)
		}
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "rows/s")
}
