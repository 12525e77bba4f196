package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/connectors/conformance"
	"lienthong/connectors/sqlite"
	"lienthong/planner/sqlgen"
)

var liteTypes = map[conformance.ColType]string{
	conformance.I16: "SMALLINT", conformance.I32: "INTEGER", conformance.I64: "BIGINT",
	conformance.F64: "DOUBLE", conformance.Dec: "DECIMAL(16,2)", conformance.Text: "TEXT",
	conformance.Date: "DATE", conformance.TS: "DATETIME", conformance.TSTZ: "TIMESTAMP",
	conformance.Bool: "BOOLEAN", conformance.Bin: "BLOB",
}

var ts = &arrow.TimestampType{Unit: arrow.Microsecond}

var liteWant = map[conformance.ColType]arrow.DataType{
	conformance.I16: arrow.PrimitiveTypes.Int64, conformance.I32: arrow.PrimitiveTypes.Int64,
	conformance.I64: arrow.PrimitiveTypes.Int64, conformance.F64: arrow.PrimitiveTypes.Float64,
	conformance.Dec: &arrow.Decimal128Type{Precision: 16, Scale: 2}, conformance.Text: arrow.BinaryTypes.String,
	// SQLite has no zone-aware type: text with an offset is read as its UTC instant.
	conformance.Date: arrow.FixedWidthTypes.Date32, conformance.TS: ts, conformance.TSTZ: ts,
	conformance.Bool: arrow.FixedWidthTypes.Boolean, conformance.Bin: arrow.BinaryTypes.Binary,
}

func liteLiteral(t conformance.ColType, in string) string {
	switch t {
	case conformance.Text, conformance.Date, conformance.TS, conformance.TSTZ:
		return conformance.QuoteString(in)
	case conformance.Bin:
		return "X'" + in + "'"
	}
	return in
}

// createDB writes a SQLite file with stmts (read-write, unlike the connector).
func createDB(t *testing.T, stmts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fixture.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return path
}

func harness() *conformance.Harness {
	return &conformance.Harness{
		Kind:             catalog.SQLite,
		Dialect:          sqlgen.SQLite,
		TypeName:         func(c conformance.ColType) string { return liteTypes[c] },
		Literal:          liteLiteral,
		Want:             func(c conformance.ColType) arrow.DataType { return liteWant[c] },
		NullabilityKnown: true,
		BigSQL: func() []string {
			return []string{
				"CREATE TABLE big (id INTEGER PRIMARY KEY, txt TEXT)",
				fmt.Sprintf("INSERT INTO big WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %d) SELECT n, 'r' || n FROM s", conformance.BigRows),
			}
		},
		Build: func(t *testing.T, _ []string, stmts []string) config.Source {
			return config.Source{Name: "yte", Kind: catalog.SQLite, Path: createDB(t, stmts...)}
		},
		Sleep: func(m string) string {
			return "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) AS x FROM c /* " + m + " */"
		},
		SleepType: arrow.PrimitiveTypes.Int64,
		Down: func(t *testing.T) config.Source {
			return config.Source{Name: "yte", Kind: catalog.SQLite, Path: filepath.Join(t.TempDir(), "missing.db"),
				ConnectTimeout: config.Duration{Duration: time.Second}}
		},
	}
}

func TestConformance(t *testing.T) { conformance.Run(t, harness()) }

// TestMissingFile: a missing file is refused clearly and not created.
func TestMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.db")
	_, err := sqlite.Open(context.Background(), config.Source{Name: "yte", Kind: catalog.SQLite, Path: path})
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, connectors.ErrSourceUnavailable) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("got %v", err)
	}
	if _, statErr := sql.Open("sqlite", path+"?mode=ro"); statErr != nil {
		t.Fatal(statErr)
	}
	if matches, _ := filepath.Glob(path); len(matches) != 0 {
		t.Fatal("Open created the file")
	}
}

// TestReadOnly: the connector cannot write, even if asked.
func TestReadOnly(t *testing.T) {
	path := createDB(t, "CREATE TABLE t (x INTEGER)")
	c, err := sqlite.Open(context.Background(), config.Source{Name: "yte", Kind: catalog.SQLite, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	rr, err := c.Query(context.Background(), sqlgen.Statement{SQL: "INSERT INTO t VALUES (1) RETURNING x"}, schema)
	if err == nil {
		for rr.Next() {
		}
		err = rr.Err()
		rr.Release()
	}
	if err == nil {
		t.Fatal("write succeeded on a read-only source")
	}
}

// TestStoredForms: DECIMAL values stored as REAL, INTEGER or TEXT all read
// exactly; dates and timestamps stored as text in the usual forms.
func TestStoredForms(t *testing.T) {
	path := createDB(t, "CREATE TABLE t (id INTEGER, d DECIMAL(20,4), ts DATETIME, n NUMERIC, u)",
		"INSERT INTO t VALUES (1, 0.1, '2024-05-06T07:08:09Z', 1.5, 'x'), (2, 7, '2024-05-06 07:08', 12, 3), (3, '1234567890123456.1234', '2024-05-06 14:08:09+07:00', 'abc', 2.5)")
	c, err := sqlite.Open(context.Background(), config.Source{Name: "yte", Kind: catalog.SQLite, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tables, err := c.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var fields []arrow.Field
	for _, col := range tables[0].Columns[1:] {
		fields = append(fields, arrow.Field{Name: col.Name, Type: col.Type, Nullable: true})
	}
	rr, err := c.Query(context.Background(), sqlgen.Statement{SQL: "SELECT d, ts, n, u FROM t ORDER BY id"}, arrow.NewSchema(fields, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var got []string
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := range int(rec.NumRows()) {
			var row []string
			for _, col := range rec.Columns() {
				row = append(row, conformance.Canon(col, i))
			}
			got = append(got, strings.Join(row, "|"))
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	// SQLite itself stores '1234567890123456.1234' in a DECIMAL column as
	// the REAL 1234567890123456.0 (NUMERIC affinity keeps 15 digits): the
	// connector reads what is stored, exactly.
	want := "0.1|2024-05-06 07:08:09|1.5|x 7|2024-05-06 07:08:00|12|3 1234567890123456|2024-05-06 07:08:09|abc|2.5"
	if g := strings.Join(got, " "); g != want {
		t.Fatalf("got  %s\nwant %s", g, want)
	}
}

// TestInvalidUTF8: text that is not UTF-8 fails, naming source and column
// but not the value.
func TestInvalidUTF8(t *testing.T) {
	path := createDB(t, "CREATE TABLE t (ho_ten TEXT)", "INSERT INTO t VALUES (CAST(X'4E677579C3' AS TEXT))")
	c, err := sqlite.Open(context.Background(), config.Source{Name: "yte", Kind: catalog.SQLite, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	schema := arrow.NewSchema([]arrow.Field{{Name: "ho_ten", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	rr, err := c.Query(context.Background(), sqlgen.Statement{SQL: "SELECT ho_ten FROM t"}, schema)
	if err != nil {
		t.Fatal(err)
	}
	for rr.Next() {
	}
	err = rr.Err()
	rr.Release()
	if err == nil || !strings.Contains(err.Error(), "yte") || !strings.Contains(err.Error(), "ho_ten") ||
		!strings.Contains(err.Error(), "UTF-8") || strings.Contains(err.Error(), "Nguy") {
		t.Fatalf("got %v", err)
	}
}

// TestInjection: the tricky-literal corpus in every pushable predicate
// form (SQLite keeps no session defaults in the file: the connector's
// pragmas are the settings).
func TestInjection(t *testing.T) { conformance.RunInjection(t, harness()) }
