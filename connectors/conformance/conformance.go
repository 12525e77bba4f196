package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/connectors/arrowconv"
	"lienthong/connectors/open"
	"lienthong/planner/sqlgen"
)

// Harness adapts the suite to one source kind.
type Harness struct {
	Kind    catalog.Kind
	Dialect sqlgen.Dialect
	// TypeName is the source's DDL type for a fixture type ("" leaves the
	// column out: CSV has no binary).
	TypeName func(ColType) string
	// Literal renders the non-NULL fixture text in the source's SQL.
	Literal func(t ColType, in string) string
	// Want is the Arrow type Tables() must report for a fixture type.
	Want func(ColType) arrow.DataType
	// NullabilityKnown is false where Tables() cannot see NOT NULL (files).
	NullabilityKnown bool
	// BigSQL creates table big(id bigint, txt text) holding ids 1..BigRows.
	BigSQL func() []string
	// Build runs stmts in a new database of this kind and returns a source
	// config over it holding the tables named.
	Build func(t *testing.T, tables []string, stmts []string) config.Source
	// Sleep is a statement running for ~30 s or more, carrying marker in a
	// comment, returning one column of SleepType.
	Sleep     func(marker string) string
	SleepType arrow.DataType
	// Running reports whether a statement containing marker still runs on
	// the server (nil where there is no server to ask).
	Running func(t *testing.T, src config.Source, marker string) bool
	// Down is a source of this kind that cannot be reached.
	Down func(t *testing.T) config.Source
	// Hostile, when set, is Build for a source whose sessions start with the
	// kind's most hostile settings (database or user defaults every new
	// connection inherits: PostgreSQL standard_conforming_strings=off,
	// MariaDB NO_BACKSLASH_ESCAPES,ANSI_QUOTES,PIPES_AS_CONCAT...), which
	// the connector must override. RunInjection uses it, and Run can too.
	Hostile func(t *testing.T, tables []string, stmts []string) config.Source
	// LongText is the DDL type for text of 100 KB and more (default
	// TypeName(Text)).
	LongText string
}

// Quote quotes an identifier in the harness's dialect.
func (h *Harness) Quote(id string) string { return sqlgen.Quote(h.Dialect, id) }

type allocSetter interface{ SetAllocator(memory.Allocator) }

// Run is the conformance suite.
func Run(t *testing.T, h *Harness) {
	ctx := context.Background()
	var stmts []string
	kinds, people := KindsTable(), PeopleTable()
	stmts = append(stmts, CreateSQL(h, kinds)...)
	stmts = append(stmts, CreateSQL(h, people)...)
	stmts = append(stmts, h.BigSQL()...)
	src := h.Build(t, []string{"kinds", "people", "big"}, stmts)

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	conn, err := open.Source(ctx, src)
	if err != nil {
		t.Fatalf("open %s: %v", src.Kind, err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		mem.AssertSize(t, 0)
	})
	as, ok := conn.(allocSetter)
	if !ok {
		t.Fatalf("%T has no SetAllocator", conn)
	}
	as.SetAllocator(mem)
	if conn.Name() != src.Name || conn.Kind() != h.Kind || conn.Dialect() != h.Dialect {
		t.Fatalf("identity: got %s/%s/%s", conn.Name(), conn.Kind(), conn.Dialect())
	}
	// The planner renders for the registered dialect, the connector runs
	// what it is sent: they must be one.
	if k, ok := connectors.Lookup(h.Kind); !ok || k.Dialect != h.Dialect {
		t.Fatalf("kind %s is not registered with dialect %s", h.Kind, h.Dialect)
	}

	tables, err := conn.Tables(ctx)
	if err != nil {
		t.Fatalf("Tables: %v", err)
	}
	byName := map[string]*catalog.Table{}
	for _, tb := range tables {
		byName[strings.ToLower(tb.Name)] = tb
	}
	for _, n := range []string{"kinds", "people", "big"} {
		if byName[n] == nil {
			t.Fatalf("Tables() lacks %s; got %v", n, tables)
		}
	}
	ref := func(name string) string {
		tb := byName[name]
		s := h.Quote(tb.RemoteName)
		if tb.RemoteSchema != "" {
			s = h.Quote(tb.RemoteSchema) + "." + s
		}
		return s
	}

	t.Run("Ping", func(t *testing.T) {
		if err := conn.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Tables", func(t *testing.T) { testTables(t, h, byName, kinds) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, h, conn, byName["kinds"], ref("kinds"), kinds) })
	t.Run("Predicates", func(t *testing.T) { testPredicates(t, h, conn, ref("people")) })
	t.Run("Limit", func(t *testing.T) {
		got := ids(t, conn, fmt.Sprintf("SELECT %s FROM %s ORDER BY %[1]s LIMIT 2", h.Quote("id"), ref("people")))
		if got != "1,2" {
			t.Fatalf("LIMIT 2 gave %s", got)
		}
	})
	t.Run("Streaming", func(t *testing.T) { testStreaming(t, h, conn, byName["big"], ref("big")) })
	t.Run("EarlyRelease", func(t *testing.T) { testEarlyRelease(t, h, conn, src, byName["big"], ref("big"), ref("people")) })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, h, conn, src) })
	t.Run("ConvertError", func(t *testing.T) { testConvertError(t, h, conn, ref("people")) })
	t.Run("Unavailable", func(t *testing.T) { testUnavailable(t, h) })
}

func schemaOf(tb *catalog.Table, names ...string) *arrow.Schema {
	var fs []arrow.Field
	for _, c := range tb.Columns {
		for _, n := range names {
			if strings.EqualFold(c.Name, n) {
				fs = append(fs, arrow.Field{Name: c.Name, Type: c.Type, Nullable: c.Nullable})
			}
		}
	}
	return arrow.NewSchema(fs, nil)
}

func testTables(t *testing.T, h *Harness, byName map[string]*catalog.Table, kinds Table) {
	tb := byName["kinds"]
	for _, col := range kinds.Columns {
		if h.TypeName(col.Type) == "" {
			continue
		}
		c := tb.Column(col.Name)
		if c == nil {
			t.Errorf("kinds.%s missing from Tables()", col.Name)
			continue
		}
		want := h.Want(col.Type)
		if col.Name == "id" {
			want = h.Want(I64)
		}
		if !arrow.TypeEqual(c.Type, want) {
			t.Errorf("kinds.%s (%s): type %s, want %s", col.Name, c.SourceType, c.Type, want)
		}
		if c.SourceType == "" {
			t.Errorf("kinds.%s: empty SourceType", col.Name)
		}
		wantNull := !col.NotNull || !h.NullabilityKnown
		if c.Nullable != wantNull {
			t.Errorf("kinds.%s: nullable %v, want %v", col.Name, c.Nullable, wantNull)
		}
	}
	if tb.Source == "" || tb.RemoteName == "" {
		t.Errorf("kinds: Source %q RemoteName %q", tb.Source, tb.RemoteName)
	}
}

// readAll drains a reader into canonical text rows and counts batches.
func readAll(t *testing.T, rr array.RecordReader) (rows [][]string, batches int) {
	t.Helper()
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		if !rec.Schema().Equal(rr.Schema()) {
			t.Fatalf("batch schema %s differs from reader schema %s", rec.Schema(), rr.Schema())
		}
		if rec.NumRows() > connectors.BatchRows {
			t.Fatalf("batch of %d rows > BatchRows", rec.NumRows())
		}
		batches++
		for i := range int(rec.NumRows()) {
			row := make([]string, rec.NumCols())
			for j, col := range rec.Columns() {
				row[j] = Canon(col, i)
			}
			rows = append(rows, row)
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatalf("reading: %v", err)
	}
	return rows, batches
}

// Canon renders value i in the canonical text fixtures use: decimals without
// trailing zeros, floats shortest, timestamps as UTC wall clock, binary hex.
func Canon(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	switch x := a.(type) {
	case *array.Decimal128:
		return trimDec(arrowconv.FormatDecimal(x.Value(i), x.DataType().(*arrow.Decimal128Type).Scale))
	case *array.Float64:
		return strconv.FormatFloat(x.Value(i), 'f', -1, 64)
	case *array.Float32:
		return strconv.FormatFloat(float64(x.Value(i)), 'f', -1, 32)
	case *array.Date32:
		return x.Value(i).ToTime().Format(time.DateOnly)
	case *array.Timestamp:
		return time.UnixMicro(int64(x.Value(i))).UTC().Format("2006-01-02 15:04:05.999999")
	case *array.Binary:
		return hex.EncodeToString(x.Value(i))
	case *array.String:
		return x.Value(i)
	case *array.Boolean:
		return strconv.FormatBool(x.Value(i))
	}
	return a.ValueStr(i)
}

func trimDec(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

func query(t *testing.T, conn connectors.Connector, sql string, schema *arrow.Schema) array.RecordReader {
	t.Helper()
	rr, err := conn.Query(context.Background(), sqlgen.Statement{SQL: sql}, schema)
	if err != nil {
		t.Fatalf("query %s: %v", sql, err)
	}
	return rr
}

func testRoundTrip(t *testing.T, h *Harness, conn connectors.Connector, tb *catalog.Table, ref string, kinds Table) {
	var names, quoted []string
	var idx []int
	for i, col := range kinds.Columns {
		if h.TypeName(col.Type) != "" {
			names = append(names, col.Name)
			quoted = append(quoted, h.Quote(col.Name))
			idx = append(idx, i)
		}
	}
	schema := schemaOf(tb, names...)
	sql := fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(quoted, ", "), ref, h.Quote("id"))
	rows, _ := readAll(t, query(t, conn, sql, schema))
	if len(rows) != len(kinds.Rows) {
		t.Fatalf("got %d rows, want %d", len(rows), len(kinds.Rows))
	}
	for r, row := range rows {
		for j, got := range row {
			cell := kinds.Rows[r][idx[j]]
			want := "NULL"
			if cell != nil {
				want = cell.Want
			}
			if kinds.Columns[idx[j]].Type == Bool && arrow.IsInteger(schema.Field(j).Type.ID()) {
				// MySQL's tinyint(1): an integer unless the catalog says boolean.
				if b, ok := map[string]string{"true": "1", "false": "0"}[want]; ok {
					want = b
				}
			}
			if got != want {
				t.Errorf("row %d %s: got %q, want %q", r+1, names[j], got, want)
			}
		}
	}
}

// ids runs a one-column id query and joins the ids.
func ids(t *testing.T, conn connectors.Connector, sql string) string {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	rows, _ := readAll(t, query(t, conn, sql, schema))
	var out []string
	for _, r := range rows {
		out = append(out, r[0])
	}
	return strings.Join(out, ",")
}

func randomMarker(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func testStreaming(t *testing.T, h *Harness, conn connectors.Connector, tb *catalog.Table, ref string) {
	schema := schemaOf(tb, "id", "txt")
	sql := fmt.Sprintf("SELECT %s, %s FROM %s ORDER BY %[1]s", h.Quote("id"), h.Quote("txt"), ref)
	rr := query(t, conn, sql, schema)
	defer rr.Release()
	var n, batches int
	var sum int64
	for rr.Next() {
		rec := rr.RecordBatch()
		if rec.NumRows() > connectors.BatchRows {
			t.Fatalf("batch of %d rows", rec.NumRows())
		}
		batches++
		idc := rec.Column(0)
		for i := range int(rec.NumRows()) {
			v, err := strconv.ParseInt(Canon(idc, i), 10, 64)
			if err != nil {
				t.Fatalf("id: %v", err)
			}
			n++
			if v != int64(n) {
				t.Fatalf("row %d has id %d", n, v)
			}
			sum += v
			if want := "r" + strconv.Itoa(n); Canon(rec.Column(1), i) != want {
				t.Fatalf("row %d txt %q, want %q", n, Canon(rec.Column(1), i), want)
			}
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	if n != BigRows || batches < 2 || batches < BigRows/connectors.BatchRows {
		t.Fatalf("%d rows in %d batches, want %d rows in ≥%d batches", n, batches, BigRows, BigRows/connectors.BatchRows)
	}
}

func testEarlyRelease(t *testing.T, h *Harness, conn connectors.Connector, src config.Source, tb *catalog.Table, ref, people string) {
	marker := randomMarker("lt_early_")
	schema := schemaOf(tb, "id", "txt")
	// A cross join makes the result far larger than any socket buffer
	// (bounded: DuckDB materialises a result before its first batch).
	sql := fmt.Sprintf("SELECT a.%s, a.%s FROM %s AS a, %s AS b LIMIT 2000000 /* %s */", h.Quote("id"), h.Quote("txt"), ref, ref, marker)
	for range 3 { // more releases than a pool holds idle connections
		rr := query(t, conn, sql, schema)
		if !rr.Next() {
			t.Fatalf("no first batch: %v", rr.Err())
		}
		start := time.Now()
		rr.Release()
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Release took %s", d)
		}
	}
	if h.Running != nil {
		waitGone(t, h, src, marker)
	}
	// The connector must stay usable.
	if got := ids(t, conn, fmt.Sprintf("SELECT %s FROM %s ORDER BY %[1]s", h.Quote("id"), people)); got != "1,2,3,4,5,6" {
		t.Fatalf("after early release: %s", got)
	}
}

func waitGone(t *testing.T, h *Harness, src config.Source, marker string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for h.Running(t, src, marker) {
		if time.Now().After(deadline) {
			t.Fatalf("statement %s still running on the server 3s after it was stopped", marker)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testCancel(t *testing.T, h *Harness, conn connectors.Connector, src config.Source) {
	marker := randomMarker("lt_cancel_")
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: h.SleepType, Nullable: true}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once the statement is seen running (or after a moment
		// where the source has no process list).
		deadline := time.Now().Add(5 * time.Second)
		time.Sleep(200 * time.Millisecond)
		for h.Running != nil && !h.Running(t, src, marker) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	rr, err := conn.Query(ctx, sqlgen.Statement{SQL: h.Sleep(marker)}, schema)
	if err == nil {
		for rr.Next() {
		}
		err = rr.Err()
		rr.Release()
	}
	d := time.Since(start)
	if err == nil {
		t.Fatalf("cancelled statement returned no error after %s", d)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error does not match context.Canceled: %v", err)
	}
	var se *connectors.SourceError
	if !errors.As(err, &se) || se.Source != src.Name {
		t.Errorf("error is not a SourceError naming %s: %v", src.Name, err)
	}
	if d > 8*time.Second {
		t.Fatalf("cancellation took %s", d)
	}
	if h.Running != nil {
		waitGone(t, h, src, marker)
	}
}

// testConvertError asks for a type the values cannot become: the error
// names the source and column but not the value.
func testConvertError(t *testing.T, h *Harness, conn connectors.Connector, people string) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "name", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s = 4", h.Quote("name"), people, h.Quote("id"))
	rr, err := conn.Query(context.Background(), sqlgen.Statement{SQL: sql}, schema)
	if err == nil {
		for rr.Next() {
		}
		err = rr.Err()
		rr.Release()
	}
	if err == nil {
		t.Fatal("text read as int64 gave no error")
	}
	msg := err.Error()
	if strings.Contains(msg, "Lê") || strings.Contains(msg, "Ánh") {
		t.Fatalf("error leaks the value: %s", msg)
	}
	if !strings.Contains(msg, conn.Name()) || !strings.Contains(msg, "name") {
		t.Fatalf("error should name source and column: %s", msg)
	}
}

func testUnavailable(t *testing.T, h *Harness) {
	src := h.Down(t)
	if src.ConnectTimeout.Duration == 0 {
		src.ConnectTimeout.Duration = 2 * time.Second
	}
	start := time.Now()
	c, err := open.Source(context.Background(), src)
	d := time.Since(start)
	if err == nil {
		c.Close()
		t.Fatal("opening an unreachable source succeeded")
	}
	if !errors.Is(err, connectors.ErrSourceUnavailable) {
		t.Errorf("error does not match ErrSourceUnavailable: %v", err)
	}
	var se *connectors.SourceError
	if !errors.As(err, &se) || se.Source != src.Name || se.Op != "connect" {
		t.Errorf("want SourceError{Source: %s, Op: connect}, got %#v", src.Name, err)
	}
	if !strings.Contains(err.Error(), src.Name) {
		t.Errorf("message does not name the source: %v", err)
	}
	if d > src.ConnectTimeout.Duration+time.Second {
		t.Errorf("took %s with connect timeout %s", d, src.ConnectTimeout.Duration)
	}
	t.Logf("unavailable: %v (%s)", err, d.Round(time.Millisecond))
}
