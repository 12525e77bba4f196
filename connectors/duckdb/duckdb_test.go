//go:build duckdb_arrow

package duckdb_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	_ "github.com/duckdb/duckdb-go/v2"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors/conformance"
	"lienthong/planner/sqlgen"
)

var duckTypes = map[conformance.ColType]string{
	conformance.I16: "SMALLINT", conformance.I32: "INTEGER", conformance.I64: "BIGINT",
	conformance.F64: "DOUBLE", conformance.Dec: "DECIMAL(16,2)", conformance.Text: "VARCHAR",
	conformance.Date: "DATE", conformance.TS: "TIMESTAMP", conformance.TSTZ: "TIMESTAMPTZ",
	conformance.Bool: "BOOLEAN", conformance.Bin: "BLOB",
}

var duckWant = map[conformance.ColType]arrow.DataType{
	conformance.I16: arrow.PrimitiveTypes.Int16, conformance.I32: arrow.PrimitiveTypes.Int32,
	conformance.I64: arrow.PrimitiveTypes.Int64, conformance.F64: arrow.PrimitiveTypes.Float64,
	conformance.Dec: &arrow.Decimal128Type{Precision: 16, Scale: 2}, conformance.Text: arrow.BinaryTypes.String,
	conformance.Date: arrow.FixedWidthTypes.Date32, conformance.TS: &arrow.TimestampType{Unit: arrow.Microsecond},
	conformance.TSTZ: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
	conformance.Bool: arrow.FixedWidthTypes.Boolean, conformance.Bin: arrow.BinaryTypes.Binary,
}

func duckLiteral(t conformance.ColType, in string) string {
	switch t {
	case conformance.Text:
		return conformance.QuoteString(in)
	case conformance.Date:
		return "DATE " + conformance.QuoteString(in)
	case conformance.TS:
		return "TIMESTAMP " + conformance.QuoteString(in)
	case conformance.TSTZ:
		return "TIMESTAMPTZ " + conformance.QuoteString(in)
	case conformance.Bin:
		return "from_hex('" + in + "')"
	}
	return in
}

// duckExec runs stmts in the DuckDB at path ("" for in memory), then the
// after statements (COPY TO files), and closes it.
func duckExec(t *testing.T, path string, stmts []string) {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range append([]string{"SET TimeZone = 'UTC'"}, stmts...) {
		if _, err := conn.ExecContext(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func base(kind catalog.Kind) *conformance.Harness {
	return &conformance.Harness{
		Kind:             kind,
		Dialect:          sqlgen.DuckDB,
		TypeName:         func(c conformance.ColType) string { return duckTypes[c] },
		Literal:          duckLiteral,
		Want:             func(c conformance.ColType) arrow.DataType { return duckWant[c] },
		NullabilityKnown: true,
		BigSQL: func() []string {
			return []string{fmt.Sprintf("CREATE TABLE big AS SELECT range::BIGINT AS id, 'r' || range AS txt FROM range(1, %d)", conformance.BigRows+1)}
		},
		Sleep: func(m string) string {
			return "SELECT count(*) AS x FROM range(1000000000000) t(i) WHERE hash(i) % 7 = 0 /* " + m + " */"
		},
		SleepType: arrow.PrimitiveTypes.Int64,
	}
}

func TestConformanceDuckDB(t *testing.T) {
	h := base(catalog.DuckDB)
	h.Build = func(t *testing.T, _ []string, stmts []string) config.Source {
		path := filepath.Join(t.TempDir(), "fixture.duckdb")
		duckExec(t, path, stmts)
		return config.Source{Name: "thongke", Kind: catalog.DuckDB, Path: path}
	}
	h.Down = func(t *testing.T) config.Source {
		return config.Source{Name: "thongke", Kind: catalog.DuckDB, Path: filepath.Join(t.TempDir(), "missing.duckdb"),
			ConnectTimeout: config.Duration{Duration: time.Second}}
	}
	conformance.Run(t, h)
	t.Run("Injection", func(t *testing.T) { conformance.RunInjection(t, h) })
}

// fileHarness writes each fixture table to dir/<table>.<ext> with COPY TO.
func fileHarness(kind catalog.Kind, ext, opts string) *conformance.Harness {
	h := base(kind)
	h.NullabilityKnown = false
	h.Build = func(t *testing.T, tables []string, stmts []string) config.Source {
		dir := t.TempDir()
		for _, tb := range tables {
			stmts = append(stmts, fmt.Sprintf("COPY %s TO '%s' (%s)", tb, filepath.Join(dir, tb+"."+ext), opts))
		}
		duckExec(t, "", stmts)
		return config.Source{Name: "files", Kind: kind, Path: filepath.Join(dir, "*."+ext)}
	}
	h.Down = func(t *testing.T) config.Source {
		return config.Source{Name: "files", Kind: kind, Path: filepath.Join(t.TempDir(), "*."+ext),
			ConnectTimeout: config.Duration{Duration: time.Second}}
	}
	return h
}

func TestConformanceParquet(t *testing.T) {
	conformance.Run(t, fileHarness(catalog.Parquet, "parquet", "FORMAT parquet"))
}

// CSV types are what DuckDB's sniffer detects: integers as BIGINT and
// decimals as DOUBLE (use Parquet where exact decimals matter); CSV holds
// no binary.
func TestConformanceCSV(t *testing.T) {
	h := fileHarness(catalog.CSV, "csv", "FORMAT csv, HEADER true")
	h.TypeName = func(c conformance.ColType) string {
		if c == conformance.Bin {
			return ""
		}
		return duckTypes[c]
	}
	h.Want = func(c conformance.ColType) arrow.DataType {
		switch c {
		case conformance.I16, conformance.I32:
			return arrow.PrimitiveTypes.Int64
		case conformance.Dec:
			return arrow.PrimitiveTypes.Float64
		}
		return duckWant[c]
	}
	conformance.Run(t, h)
}
