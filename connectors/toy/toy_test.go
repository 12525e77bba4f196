// Package toy_test is a source kind added the way a new one is: a Go-only
// connector serving a fixed table from memory, with a dialect of its own,
// registered in one place (init below). Nothing outside this package knows
// it; the test queries it through the engine, joined with a real SQLite
// source.
package toy_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "modernc.org/sqlite"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/engine"
	"lienthong/internal/attacks"
	"lienthong/planner/sqlgen"
)

const kind catalog.Kind = "memory"

// The one registration.
func init() {
	connectors.Register(connectors.Kind{Name: kind, Dialect: memDialect{sqlgen.Postgres}, Open: open})
}

// memDialect spells scans as PostgreSQL does and computes nothing: every
// filter, join and expression over its table runs in the residual, so the
// connector only ever reads columns of its one table.
type memDialect struct{ sqlgen.Dialect }

func (memDialect) String() string    { return "memory" }
func (memDialect) Caps() sqlgen.Caps { return sqlgen.Caps{} }

// people is the table the source serves.
var people = []struct {
	pin, name string
	born      int64
}{
	{"001", "Nguyễn Văn An", 1950},
	{"002", "Trần Thị Bình", 1987},
	{"003", "Lê Văn Cường", 2001},
	{"004", "Phạm Thị Dung", 1999},
}

type conn struct{ name string }

func open(_ context.Context, s config.Source) (connectors.Connector, error) {
	return &conn{name: s.Name}, nil
}

func (c *conn) Name() string               { return c.name }
func (c *conn) Kind() catalog.Kind         { return kind }
func (c *conn) Dialect() sqlgen.Dialect    { return memDialect{sqlgen.Postgres} }
func (c *conn) Ping(context.Context) error { return nil }
func (c *conn) Close() error               { return nil }

func (c *conn) Tables(context.Context) ([]*catalog.Table, error) {
	return []*catalog.Table{{Source: c.name, Name: "people", RemoteName: "people", RowEstimate: int64(len(people)),
		Columns: []catalog.Column{
			{Name: "pin", Type: arrow.BinaryTypes.String, SourceType: "string"},
			{Name: "full_name", Type: arrow.BinaryTypes.String, SourceType: "string"},
			{Name: "born", Type: arrow.PrimitiveTypes.Int64, SourceType: "int"},
		}}}, nil
}

// A scan of a ScanOnly dialect is SELECT "a"."col", ... FROM "people" AS "a"
// (or SELECT 1 AS "_lt_one" ... when only the row count matters).
var (
	scanRE = regexp.MustCompile(`^SELECT (.+) FROM "people" AS "[a-z_0-9]+"$`)
	colRE  = regexp.MustCompile(`^"[a-z_0-9]+"\."([a-z_]+)"$`)
)

func (c *conn) Query(_ context.Context, q sqlgen.Statement, schema *arrow.Schema) (array.RecordReader, error) {
	m := scanRE.FindStringSubmatch(q.SQL)
	if m == nil {
		return nil, fmt.Errorf("memory source: not a scan: %s", q.SQL)
	}
	items := strings.Split(m[1], ", ")
	if len(items) != schema.NumFields() {
		return nil, fmt.Errorf("memory source: %d columns for %d fields", len(items), schema.NumFields())
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i, item := range items {
		col := "_lt_one"
		if cm := colRE.FindStringSubmatch(item); cm != nil {
			col = cm[1]
		}
		for _, p := range people {
			switch fb := b.Field(i).(type) {
			case *array.StringBuilder:
				map[string]func(){"pin": func() { fb.Append(p.pin) }, "full_name": func() { fb.Append(p.name) }}[col]()
			case *array.Int64Builder:
				if col == "born" {
					fb.Append(p.born)
				} else {
					fb.Append(1)
				}
			default:
				return nil, fmt.Errorf("memory source: field %s is %s", col, schema.Field(i).Type)
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewRecordReader(schema, []arrow.RecordBatch{rec})
}

func TestToyKindThroughTheEngine(t *testing.T) {
	dir := t.TempDir()
	// A real source to join with: residences by PIN.
	residences := map[string]string{"001": "01001", "002": "01001", "003": "79001", "009": "01001"}
	db, err := sql.Open("sqlite", filepath.Join(dir, "cutru.db"))
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{"CREATE TABLE residences (pin TEXT, commune_code TEXT)"}
	for pin, commune := range residences {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO residences VALUES ('%s', '%s')", pin, commune))
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	toml := "[[sources]]\nname = \"cutru\"\nkind = \"sqlite\"\npath = \"cutru.db\"\n\n" +
		"[[sources]]\nname = \"mem\"\nkind = \"memory\"\npath = \"unused\"\n"
	if err := os.WriteFile(filepath.Join(dir, "lienthong.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	e := attacks.OpenEngine(t, filepath.Join(dir, "lienthong.toml"))

	query := "SELECT p.full_name, p.born, r.commune_code FROM mem.people p JOIN cutru.residences r ON r.pin = p.pin " +
		"WHERE r.commune_code = '01001' AND p.born > 1960 ORDER BY p.full_name"
	got, err := attacks.Rows(e, query, engine.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range people {
		if residences[p.pin] == "01001" && p.born > 1960 {
			want = append(want, fmt.Sprintf("%s | %d | 01001", p.name, p.born))
		}
	}
	slices.Sort(want)
	if !slices.Equal(got, want) || len(want) == 0 {
		t.Fatalf("join over the memory source:\ngot  %q\nwant %q", got, want)
	}

	// The toy's dialect computes nothing: its filter stays in the residual
	// and it is sent a bare scan; the SQLite side gets its filter.
	plan, err := e.Explain(context.Background(), query, false, engine.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`-> mem (memory)`, `SELECT "p"."pin", "p"."full_name", "p"."born" FROM "people" AS "p"` + "\n",
		`-> cutru (sqlite)`, `WHERE ("r"."commune_code" = '01001')`} {
		if !strings.Contains(plan, w) {
			t.Errorf("EXPLAIN lacks %q:\n%s", w, plan)
		}
	}

	// A count over the toy alone runs in the residual over a row-count scan.
	got, err = attacks.Rows(e, "SELECT COUNT(*) FROM mem.people", engine.QueryOptions{})
	if err != nil || len(got) != 1 || got[0] != fmt.Sprint(len(people)) {
		t.Fatalf("COUNT(*) over the memory source: %q, %v", got, err)
	}
}
