package conformance

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"lienthong/internal/like"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"lienthong/catalog"
	"lienthong/connectors"
	"lienthong/connectors/open"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
)

// The injection suite: literals that break out of naive quoting, rendered
// by sqlgen in every pushable predicate form and run through the
// connector's Query, against a source whose sessions start with the kind's
// most hostile settings (Harness.Hostile). Every answer is compared with
// the one the literal must give, computed here in Go.

// Tricky is the corpus of string literals. Values holding NUL cannot be
// stored by every source (PostgreSQL text cannot hold it); they are only
// queried for.
func Tricky() []string {
	long := strings.Repeat(`ab'\`, 25*1024) // 100 KB of quotes and backslashes
	return []string{
		`'`, `''`, `'''`, `\`, `\\`, `\'`, `\''`, `\' OR 1=1) --`, `\' OR 1=1) -- `, `' OR '1'='1`,
		`'); SELECT 1; --`, `a\`, `\"`, `"`, `""`, "`", "``", `\x27`, `\047`, `\u0027`, `E'`, `\n`, `\0`,
		"\u2019", "\u02bc", "\u2018quoted\u2019", "\uff07", "\u201c\u201d", // unicode quotes
		"%", "_", "50%", "a_b", `\%`, `\_`, "%_%", `%\`, `_\`,
		"--", "-- comment", "/*", "*/", "/* x */", "/*!50000 OR 1=1*/", "#", "# hash", ";", "a;b",
		"||", "a||b", "$$", "$tag$", "$1", "?", ":x", "\n", "\r\n", "\t", "tab\there",
		"Nguyễn Thị Ánh", "", " ", "a ", "a", "A", "\u00a0",
		long, long + "'", long[:len(long)-1],
	}
}

// TrickyNUL are literals holding NUL: the answer must be right or the
// statement refused, never other rows.
func TrickyNUL() []string { return []string{"\x00", "a\x00b", `\` + "\x00", "'\x00' OR 1=1 --"} }

// InjectionTable holds the stored corpus: id 1..n, s the value; one more
// row with s NULL.
func InjectionTable() (Table, []string) {
	vals := Tricky()
	cols := []Column{{"id", I64, true}, {"s", Text, false}}
	var rows [][]*Cell
	for i, v := range vals {
		rows = append(rows, []*Cell{c(strconv.Itoa(i + 1)), c(v)})
	}
	rows = append(rows, []*Cell{c(strconv.Itoa(len(vals) + 1)), nil})
	return Table{Name: "tricky", Columns: cols, Rows: rows}, vals
}

// escapeLike makes s a LIKE pattern matching exactly s.
func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// wellFormed: every backslash escapes %, _ or a backslash, the only
// escapes every dialect reads alike.
func wellFormed(pat string) bool {
	for i := 0; i < len(pat); i++ {
		if pat[i] == '\\' {
			if i+1 >= len(pat) || !strings.ContainsRune(`%_\`, rune(pat[i+1])) {
				return false
			}
			i++
		}
	}
	return true
}

type injCase struct {
	form string
	expr plan.Expr
	want func(s string) bool // over non-NULL stored values; NULL rows never match unless nullOK
	null bool                // NULL rows match
}

func lit(s string) *plan.Literal { return &plan.Literal{Value: s, Typ: plan.String} }

func cmp(op string, l, r plan.Expr) plan.Expr {
	return &plan.Binary{Op: op, L: l, R: r, Typ: plan.Bool}
}

func injCases(col *plan.ColRef, v string) []injCase {
	cs := []injCase{
		{"=", cmp("=", col, lit(v)), func(s string) bool { return s == v }, false},
		{"= (literal first)", cmp("=", lit(v), col), func(s string) bool { return s == v }, false},
		{"<>", cmp("<>", col, lit(v)), func(s string) bool { return s != v }, false},
		{"<", cmp("<", col, lit(v)), func(s string) bool { return s < v }, false},
		{">=", cmp(">=", col, lit(v)), func(s string) bool { return s >= v }, false},
		{"IN", &plan.In{X: col, List: []plan.Expr{lit(v), lit("lt-absent")}}, func(s string) bool { return s == v || s == "lt-absent" }, false},
		{"NOT IN", &plan.In{X: col, List: []plan.Expr{lit(v), lit("a")}, Not: true}, func(s string) bool { return s != v && s != "a" }, false},
		{"BETWEEN", &plan.Between{X: col, Lo: lit(v), Hi: lit(v + "~")}, func(s string) bool { return s >= v && s <= v+"~" }, false},
		{"LIKE exact", &plan.Like{X: col, Pattern: lit(escapeLike(v))}, func(s string) bool { return s == v }, false},
		{"LIKE prefix", &plan.Like{X: col, Pattern: lit(escapeLike(v) + "%")}, func(s string) bool { return strings.HasPrefix(s, v) }, false},
		{"NOT LIKE contains", &plan.Like{X: col, Pattern: lit("%" + escapeLike(v) + "%"), Not: true}, func(s string) bool { return !strings.Contains(s, v) }, false},
		{"COALESCE =", cmp("=", &plan.Func{Name: "coalesce", Args: []plan.Expr{col, lit(v)}, Typ: plan.String}, lit(v)),
			func(s string) bool { return s == v }, true},
		{"CASE", cmp("=", &plan.Case{Whens: []plan.When{{Cond: cmp("=", col, lit(v)), Then: lit(v)}}, Else: lit(v + "-no"), Typ: plan.String}, lit(v)),
			func(s string) bool { return s == v }, false},
		{"concat", cmp("=", &plan.Func{Name: "concat", Args: []plan.Expr{col, lit(v)}, Typ: plan.String}, lit(v+v)),
			func(s string) bool { return s == v }, false},
	}
	if len(v) > 4096 {
		// '%<100 KB>%' is quadratic in MariaDB (seconds per statement): the
		// long literals keep the other forms, LIKE exact and prefix among them.
		cs = slices.DeleteFunc(cs, func(c injCase) bool { return c.form == "NOT LIKE contains" })
	}
	if wellFormed(v) {
		cs = append(cs, injCase{"LIKE as pattern", &plan.Like{X: col, Pattern: lit(v)}, func(s string) bool { return like.Match(v, s) }, false})
	}
	return cs
}

// RunInjection is the injection suite for one source kind.
func RunInjection(t *testing.T, h *Harness) {
	tbl, vals := InjectionTable()
	build := h.Build
	if h.Hostile != nil {
		build = h.Hostile
	}
	long := *h
	if h.LongText != "" {
		long.TypeName = func(c ColType) string {
			if c == Text {
				return h.LongText
			}
			return h.TypeName(c)
		}
	}
	src := build(t, []string{"tricky"}, CreateSQL(&long, tbl))
	ctx := context.Background()
	conn, err := open.Source(ctx, src)
	if err != nil {
		t.Fatalf("open %s: %v", src.Kind, err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		mem.AssertSize(t, 0)
	})
	conn.(allocSetter).SetAllocator(mem)
	tables, err := conn.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var tb *catalog.Table
	for _, x := range tables {
		if strings.EqualFold(x.Name, "tricky") {
			tb = x
		}
	}
	if tb == nil {
		t.Fatalf("Tables() lacks tricky: %v", tables)
	}
	// The stored values must have arrived intact (the fixture's own SQL).
	all, err := injQuery(conn, h.Dialect, tb, nil)
	if err != nil || len(all) != len(vals)+1 {
		t.Fatalf("fixture: %d rows (%v), want %d", len(all), err, len(vals)+1)
	}
	col := &plan.ColRef{Rel: "t", Name: tb.Column("s").Name, Typ: plan.String}
	literals := append(append([]string{}, vals...), "lt-absent", "zzz", "Nguyễn")
	var n, failures int
	check := func(v string, nul bool) {
		for _, c := range injCases(col, v) {
			if !sqlgen.CanEval(h.Dialect, c.expr, nil) {
				continue
			}
			n++
			var want []int
			for i, s := range vals {
				if c.want(s) {
					want = append(want, i+1)
				}
			}
			if c.null {
				want = append(want, len(vals)+1)
			}
			start := time.Now()
			got, err := injQuery(conn, h.Dialect, tb, c.expr)
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Logf("slow: %s with a %d-byte literal took %s", c.form, len(v), d.Round(time.Millisecond))
			}
			if err != nil && nul {
				continue // refused: acceptable for NUL
			}
			if err != nil || !slices.Equal(got, want) {
				failures++
				if failures <= 20 {
					st, _ := sqlgen.RenderScan(h.Dialect, injScan(tb, c.expr))
					t.Errorf("%s with literal %.60q:\n  sql  %.300s\n  got  %v (error %v)\n  want %v", c.form, v, st.SQL, got, err, want)
				}
			}
		}
	}
	for _, v := range literals {
		check(v, false)
	}
	for _, v := range TrickyNUL() {
		check(v, true)
	}
	t.Logf("%d statements over %d literals, %d wrong", n, len(literals)+len(TrickyNUL()), failures)
}

func injScan(tb *catalog.Table, filter plan.Expr) *plan.Scan {
	s := &plan.Scan{Alias: "t", Table: tb, Columns: []string{tb.Column("id").Name}}
	if filter != nil {
		s.Filters = []plan.Expr{filter}
	}
	return s
}

func injQuery(conn connectors.Connector, d sqlgen.Dialect, tb *catalog.Table, filter plan.Expr) ([]int, error) {
	st, err := sqlgen.RenderScan(d, injScan(tb, filter))
	if err != nil {
		return nil, err
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	rr, err := conn.Query(context.Background(), st, schema)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	var out []int
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := range int(rec.NumRows()) {
			v, err := strconv.Atoi(Canon(rec.Column(0), i))
			if err != nil {
				return nil, fmt.Errorf("id: %w", err)
			}
			out = append(out, v)
		}
	}
	if err := rr.Err(); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}
