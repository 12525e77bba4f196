package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/connectors/conformance"
	"lienthong/connectors/open"
	"lienthong/connectors/postgres"
	"lienthong/internal/testenv"
	"lienthong/planner/sqlgen"
)

var pgTypes = map[conformance.ColType]string{
	conformance.I16: "smallint", conformance.I32: "integer", conformance.I64: "bigint",
	conformance.F64: "double precision", conformance.Dec: "numeric(16,2)", conformance.Text: "text",
	conformance.Date: "date", conformance.TS: "timestamp", conformance.TSTZ: "timestamptz",
	conformance.Bool: "boolean", conformance.Bin: "bytea",
}

var pgWant = map[conformance.ColType]arrow.DataType{
	conformance.I16: arrow.PrimitiveTypes.Int16, conformance.I32: arrow.PrimitiveTypes.Int32,
	conformance.I64: arrow.PrimitiveTypes.Int64, conformance.F64: arrow.PrimitiveTypes.Float64,
	conformance.Dec: &arrow.Decimal128Type{Precision: 16, Scale: 2}, conformance.Text: arrow.BinaryTypes.String,
	conformance.Date: arrow.FixedWidthTypes.Date32, conformance.TS: &arrow.TimestampType{Unit: arrow.Microsecond},
	conformance.TSTZ: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
	conformance.Bool: arrow.FixedWidthTypes.Boolean, conformance.Bin: arrow.BinaryTypes.Binary,
}

func pgLiteral(t conformance.ColType, in string) string {
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
		return "'\\x" + in + "'::bytea"
	}
	return in
}

func pgExec(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func harness() *conformance.Harness {
	return &conformance.Harness{
		Kind:             catalog.Postgres,
		Dialect:          sqlgen.Postgres,
		TypeName:         func(c conformance.ColType) string { return pgTypes[c] },
		Literal:          pgLiteral,
		Want:             func(c conformance.ColType) arrow.DataType { return pgWant[c] },
		NullabilityKnown: true,
		BigSQL: func() []string {
			return []string{fmt.Sprintf(`CREATE TABLE big AS SELECT n::bigint AS id, 'r' || n AS txt FROM generate_series(1, %d) n`, conformance.BigRows), "ANALYZE big"}
		},
		Build: func(t *testing.T, _ []string, stmts []string) config.Source {
			dsn := testenv.PostgresDSN(t)
			pgExec(t, dsn, stmts...)
			return config.Source{Name: "dancu", Kind: catalog.Postgres, DSN: dsn, Schema: "public",
				ConnectTimeout: config.Duration{Duration: 5 * time.Second}}
		},
		Sleep:     func(m string) string { return "SELECT 1 AS x FROM pg_sleep(30) /* " + m + " */" },
		SleepType: arrow.PrimitiveTypes.Int32,
		Running: func(t *testing.T, src config.Source, marker string) bool {
			ctx := context.Background()
			c, err := pgx.Connect(ctx, src.DSN)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			var n int
			if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND strpos(query, $1) > 0`, marker).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n > 0
		},
		Down: func(t *testing.T) config.Source {
			return config.Source{Name: "dancu", Kind: catalog.Postgres, DSN: "postgres://postgres@127.0.0.1:1/x",
				ConnectTimeout: config.Duration{Duration: 2 * time.Second}}
		},
	}
}

func TestConformance(t *testing.T) { conformance.Run(t, harness()) }

// TestTextTypes: types without an exact Arrow counterpart (numeric without
// precision, uuid, json, jsonb, arrays, intervals) are read as PostgreSQL's
// own text, exactly; a domain maps as its base type.
func TestTextTypes(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	pgExec(t, dsn,
		"CREATE DOMAIN money2 AS numeric(12,2) NOT NULL",
		`CREATE TABLE x (id int PRIMARY KEY, n numeric, u uuid, j json, jb jsonb, a int[], i interval, m money2, c char(3), v varchar(5), r real)`,
		`INSERT INTO x VALUES (1, 123456789012345678901234567890.123456789012345, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
		  '{"b": 1,  "a": "Ánh"}', '{"b": 1, "a": "Ánh"}', '{1,2,NULL}', '1 day 02:03:04', 1.5, 'ab', 'Lê', 1.25),
		  (2, 'NaN', NULL, NULL, NULL, NULL, NULL, -0.01, NULL, NULL, NULL),
		  (3, -0.000000000000000000001, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL)`)
	c, err := postgres.Open(context.Background(), config.Source{Name: "p", Kind: catalog.Postgres, DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tables, err := c.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tb := tables[0]
	var fields []arrow.Field
	var types []string
	for _, col := range tb.Columns[1:] {
		fields = append(fields, arrow.Field{Name: col.Name, Type: col.Type, Nullable: col.Nullable})
		types = append(types, col.SourceType+"="+col.Type.String())
	}
	wantTypes := "numeric=utf8 uuid=utf8 json=utf8 jsonb=utf8 integer[]=utf8 interval=utf8 money2=decimal(12, 2) character(3)=utf8 character varying(5)=utf8 real=float32"
	if got := strings.Join(types, " "); got != wantTypes {
		t.Errorf("types:\n got  %s\n want %s", got, wantTypes)
	}
	if tb.Column("m").Nullable || !tb.Column("n").Nullable {
		t.Errorf("nullability: domain NOT NULL %v, n %v", tb.Column("m").Nullable, tb.Column("n").Nullable)
	}
	rr, err := c.Query(context.Background(), sqlgen.Statement{SQL: "SELECT n, u, j, jb, a, i, m, c, v, r FROM x ORDER BY id"}, arrow.NewSchema(fields, nil))
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
	want := []string{
		`123456789012345678901234567890.123456789012345|a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|{"b": 1,  "a": "Ánh"}|{"a": "Ánh", "b": 1}|{1,2,NULL}|P1DT2H3M4S|1.5|ab |Lê|1.25`,
		`NaN|NULL|NULL|NULL|NULL|NULL|-0.01|NULL|NULL|NULL`,
		`-0.000000000000000000001|NULL|NULL|NULL|NULL|NULL|0|NULL|NULL|NULL`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("values:\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

// TestNumericToDecimal: a numeric result read into a decimal or integer
// target (SUM over bigint is numeric) converts exactly or fails.
func TestNumericToDecimal(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	c, err := postgres.Open(context.Background(), config.Source{Name: "p", Kind: catalog.Postgres, DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	run := func(sql string, typ arrow.DataType) (string, error) {
		rr, err := c.Query(context.Background(), sqlgen.Statement{SQL: sql}, arrow.NewSchema([]arrow.Field{{Name: "x", Type: typ, Nullable: true}}, nil))
		if err != nil {
			return "", err
		}
		defer rr.Release()
		var out []string
		for rr.Next() {
			for i := range int(rr.RecordBatch().NumRows()) {
				out = append(out, conformance.Canon(rr.RecordBatch().Column(0), i))
			}
		}
		return strings.Join(out, ","), rr.Err()
	}
	if got, err := run("SELECT sum(x) FROM (VALUES (9223372036854775807::bigint), (1)) v(x)", &arrow.Decimal128Type{Precision: 38, Scale: 0}); err != nil || got != "9223372036854775808" {
		t.Errorf("sum as decimal: %s %v", got, err)
	}
	if _, err := run("SELECT sum(x) FROM (VALUES (9223372036854775807::bigint), (1)) v(x)", arrow.PrimitiveTypes.Int64); err == nil {
		t.Errorf("overflowing sum read as int64 without error")
	}
	if got, err := run("SELECT x::int4 FROM generate_series(1, 3) x", arrow.PrimitiveTypes.Int64); err != nil || got != "1,2,3" {
		t.Errorf("int4 widened: %s %v", got, err)
	}
	if _, err := run("SELECT 'infinity'::timestamp", &arrow.TimestampType{Unit: arrow.Microsecond}); err == nil {
		t.Errorf("infinity timestamp accepted")
	}
	if _, err := run("SELECT 1/0", arrow.PrimitiveTypes.Int32); err == nil || !strings.Contains(err.Error(), "22012") {
		t.Errorf("division by zero: %v", err)
	}
}

// TestLoginRefused: an unknown role is ErrSourceUnavailable too.
func TestLoginRefused(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	bad := strings.Replace(dsn, "postgres@", "lt_nobody@", 1)
	_, err := postgres.Open(context.Background(), config.Source{Name: "dancu", Kind: catalog.Postgres, DSN: bad})
	if !errors.Is(err, connectors.ErrSourceUnavailable) || !strings.Contains(err.Error(), "dancu") {
		t.Fatalf("got %v", err)
	}
}

// TestConnectTimeout: an address that never answers fails within the
// source's connect timeout.
func TestConnectTimeout(t *testing.T) {
	start := time.Now()
	_, err := open.Source(context.Background(), config.Source{Name: "dancu", Kind: catalog.Postgres,
		DSN: "postgres://postgres@10.255.255.1:5432/x", ConnectTimeout: config.Duration{Duration: 700 * time.Millisecond}})
	if !errors.Is(err, connectors.ErrSourceUnavailable) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 1700*time.Millisecond {
		t.Fatalf("took %s", d)
	}
}

// hostileBuild is Build for a database whose defaults are the most hostile
// an agency could leave: every new session starts with backslash escapes
// in plain literals, backslash-quote accepted, a search path, date, time
// zone and float settings unlike lienthong's, and x = NULL read as IS NULL.
func hostileBuild(t *testing.T, _ []string, stmts []string) config.Source {
	dsn := testenv.PostgresDSN(t)
	pgExec(t, dsn, stmts...)
	pgExec(t, dsn, "CREATE SCHEMA lt_evil")
	db := strings.TrimPrefix(mustParseURLPath(t, dsn), "/")
	pgExec(t, dsn,
		"ALTER DATABASE "+db+" SET standard_conforming_strings = off",
		"ALTER DATABASE "+db+" SET backslash_quote = on",
		"ALTER DATABASE "+db+" SET escape_string_warning = off",
		"ALTER DATABASE "+db+" SET search_path = lt_evil",
		"ALTER DATABASE "+db+" SET DateStyle = 'SQL, DMY'",
		"ALTER DATABASE "+db+" SET IntervalStyle = 'sql_standard'",
		"ALTER DATABASE "+db+" SET TimeZone = 'Asia/Ho_Chi_Minh'",
		"ALTER DATABASE "+db+" SET extra_float_digits = -15",
		"ALTER DATABASE "+db+" SET transform_null_equals = on",
		"ALTER DATABASE "+db+" SET bytea_output = 'escape'",
	)
	// The settings are in force for a plain new session: the suite is not
	// vacuous.
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var scs, bq string
	if err := c.QueryRow(ctx, "SELECT current_setting('standard_conforming_strings'), current_setting('backslash_quote')").Scan(&scs, &bq); err != nil || scs != "off" || bq != "on" {
		t.Fatalf("hostile defaults not in force: standard_conforming_strings=%s backslash_quote=%s (%v)", scs, bq, err)
	}
	return config.Source{Name: "dancu", Kind: catalog.Postgres, DSN: dsn, Schema: "public",
		ConnectTimeout: config.Duration{Duration: 5 * time.Second}}
}

func mustParseURLPath(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return "/" + cfg.Database
}

// TestInjection: the tricky-literal corpus in every pushable predicate
// form, on a database with hostile defaults.
func TestInjection(t *testing.T) {
	h := harness()
	h.Hostile = hostileBuild
	conformance.RunInjection(t, h)
}

// TestConformanceHostile: the whole suite on a database with hostile
// defaults (types, dates, time zones, streaming, cancel).
func TestConformanceHostile(t *testing.T) {
	h := harness()
	h.Build = hostileBuild
	conformance.Run(t, h)
}

// TestSessionPinned: on a database with hostile defaults, and with a DSN
// asking for them too, every session runs with the settings rendered SQL
// depends on.
func TestSessionPinned(t *testing.T) {
	src := hostileBuild(t, nil, nil)
	src.DSN += "?options=" + strings.NewReplacer(" ", "%20", "=", "%3D").Replace("-c standard_conforming_strings=off -c search_path=lt_evil")
	c, err := open.Source(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	names := []string{"standard_conforming_strings", "backslash_quote", "client_encoding", "search_path", "DateStyle",
		"IntervalStyle", "TimeZone", "extra_float_digits", "transform_null_equals", "bytea_output", "transaction_read_only"}
	var cols []string
	var fields []arrow.Field
	for _, n := range names {
		cols = append(cols, "current_setting('"+n+"')")
		fields = append(fields, arrow.Field{Name: n, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	// Several connections: the pool's, one after another.
	for range 3 {
		rr, err := c.Query(context.Background(), sqlgen.Statement{SQL: "SELECT " + strings.Join(cols, ", ")}, arrow.NewSchema(fields, nil))
		if err != nil {
			t.Fatal(err)
		}
		if !rr.Next() {
			t.Fatal(rr.Err())
		}
		var got []string
		for _, col := range rr.RecordBatch().Columns() {
			got = append(got, conformance.Canon(col, 0))
		}
		rr.Release()
		want := `on|safe_encoding|UTF8|pg_catalog, "public"|ISO, YMD|iso_8601|UTC|3|off|hex|on`
		if g := strings.Join(got, "|"); g != want {
			t.Fatalf("session settings:\n got  %s\n want %s", g, want)
		}
	}
}
