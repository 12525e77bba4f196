package engine_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"lienthong/engine"
	"lienthong/internal/testenv"
	"lienthong/planner/sqlgen"
)

// likeValues are the strings every source holds in table t(id, s).
var likeValues = []string{`\`, `\\`, `a\`, `a\b`, `ab`, `%`, `a%b`, `_`, `a_b`, `axb`, `\%`, `\_`, `x`, ``, `a\\`, `a%`, `ba`, `ä\`}

// likePatterns, in lienthong's meaning (docs/sql.md).
var likePatterns = []string{`\`, `\\`, `a\`, `a\\`, `%\`, `%\\`, `%\\%`, `\%`, `%\%%`, `\_`, `a\_b`, `a_b`, `a%`, `a\b`, `%`, `_`, `\x`, `a\%b`, `\\%`, `_\`, `%\\\`, `ä%`, ``}

// likeMatch is the reference: % any run, _ one character, backslash
// makes the next character literal, a trailing backslash is a backslash.
func likeMatch(s, p string) bool {
	type tok struct {
		kind byte // 'c' literal, '%', '_'
		r    rune
	}
	var toks []tok
	pr := []rune(p)
	for i := 0; i < len(pr); i++ {
		switch c := pr[i]; c {
		case '\\':
			if i+1 < len(pr) {
				i++
			}
			toks = append(toks, tok{'c', pr[i]})
		case '%', '_':
			toks = append(toks, tok{kind: byte(c)})
		default:
			toks = append(toks, tok{'c', c})
		}
	}
	sr := []rune(s)
	var m func(i, j int) bool
	m = func(i, j int) bool {
		if j == len(toks) {
			return i == len(sr)
		}
		switch toks[j].kind {
		case '%':
			for k := i; k <= len(sr); k++ {
				if m(k, j+1) {
					return true
				}
			}
			return false
		case '_':
			return i < len(sr) && m(i+1, j+1)
		}
		return i < len(sr) && sr[i] == toks[j].r && m(i+1, j+1)
	}
	return m(0, 0)
}

// likeEngine loads t into PostgreSQL, MariaDB, SQLite and DuckDB.
func likeEngine(t *testing.T) *engine.Engine {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	insert := func(d sqlgen.Dialect) []string {
		stmts := []string{"CREATE TABLE t (id INTEGER, s VARCHAR(20))", "CREATE TABLE p (id INTEGER, pat VARCHAR(20))"}
		if d == sqlgen.MySQL {
			stmts[0] = "CREATE TABLE t (id INTEGER, s VARCHAR(20)) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
		}
		for i, v := range likeValues {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO t VALUES (%d, %s)", i, sqlgen.QuoteString(d, v)))
		}
		stmts = append(stmts, fmt.Sprintf("INSERT INTO t VALUES (%d, NULL)", len(likeValues)))
		for i, v := range likePatterns {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO p VALUES (%d, %s)", i, sqlgen.QuoteString(d, v)))
		}
		return stmts
	}
	pgDSN := testenv.PostgresDSN(t)
	pc, err := pgx.Connect(ctx, pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range insert(sqlgen.Postgres) {
		if _, err := pc.Exec(ctx, s); err != nil {
			t.Fatal(s, err)
		}
	}
	pc.Close(ctx)
	myDSN := testenv.MySQLDSN(t)
	for _, x := range []struct {
		driver, dsn string
		d           sqlgen.Dialect
	}{
		{"mysql", myDSN, sqlgen.MySQL},
		{"sqlite", filepath.Join(dir, "t.sqlite"), sqlgen.SQLite},
		{"duckdb", filepath.Join(dir, "t.duckdb"), sqlgen.DuckDB},
	} {
		db, err := sql.Open(x.driver, x.dsn)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range insert(x.d) {
			if _, err := db.Exec(s); err != nil {
				t.Fatal(x.driver, s, err)
			}
		}
		db.Close()
	}
	toml := fmt.Sprintf(`
[[sources]]
name = "pg"
kind = "postgres"
dsn = %q

[[sources]]
name = "my"
kind = "mysql"
dsn = %q

[[sources]]
name = "lite"
kind = "sqlite"
path = %q

[[sources]]
name = "duck"
kind = "duckdb"
path = %q
`, pgDSN, myDSN, filepath.Join(dir, "t.sqlite"), filepath.Join(dir, "t.duckdb"))
	e := tomlEngine(t, dir, toml)
	for _, s := range e.WaitCatalog(ctx).Sources {
		if s.Unavailable != "" {
			t.Fatalf("%s: %s", s.Name, s.Unavailable)
		}
	}
	return e
}

// LIKE means one thing on every source, pushed down or not: backslash
// escapes, a trailing backslash matches a backslash; a computed pattern and
// a pattern too long for SQLite run in the engine.
func TestLikeEscapesAgreeEverywhere(t *testing.T) {
	e := likeEngine(t)
	ids := func(match func(s string) bool) string {
		var out []string
		for i, v := range likeValues {
			if match(v) {
				out = append(out, strconv.Itoa(i))
			}
		}
		return strings.Join(out, ",")
	}
	got := func(sql string, opt engine.QueryOptions) string {
		rs, err := rows(t, e, sql, opt)
		if err != nil {
			return "error: " + err.Error()
		}
		sort.Slice(rs, func(i, j int) bool { a, _ := strconv.Atoi(rs[i]); b, _ := strconv.Atoi(rs[j]); return a < b })
		return strings.Join(rs, ",")
	}
	for _, src := range []string{"pg", "my", "lite", "duck"} {
		for _, pat := range likePatterns {
			lit := sqlgen.QuoteString(sqlgen.MySQL, pat) // lienthong reads MySQL string syntax
			for _, not := range []string{"", "NOT "} {
				want := ids(func(s string) bool { return likeMatch(s, pat) != (not != "") })
				sql := fmt.Sprintf("SELECT id FROM %s.t WHERE s %sLIKE %s", src, not, lit)
				for _, opt := range []engine.QueryOptions{{}, {NoPushdown: true}} {
					if g := got(sql, opt); g != want {
						t.Errorf("%s (pushdown %v): got [%s], want [%s]", sql, !opt.NoPushdown, g, want)
					}
				}
			}
		}
		// A pattern read from a table: evaluated in the engine.
		var want []string
		for i, v := range likeValues {
			for j, p := range likePatterns {
				if likeMatch(v, p) {
					want = append(want, fmt.Sprintf("%d | %d", i, j))
				}
			}
		}
		sort.Strings(want)
		q := fmt.Sprintf("SELECT t.id, p.id FROM %s.t t JOIN %s.p p ON t.s LIKE p.pat", src, src)
		rs, err := rows(t, e, q, engine.QueryOptions{})
		sort.Strings(rs)
		if err != nil || strings.Join(rs, ";") != strings.Join(want, ";") {
			t.Errorf("%s: got %v (%v), want %v", q, rs, err, want)
		}
	}
	// SQLite refuses patterns over 50,000 bytes: such a LIKE runs in the
	// engine instead.
	long := "'" + strings.Repeat("%", 60_000) + "'"
	for _, src := range []string{"pg", "my", "lite", "duck"} {
		rs, err := rows(t, e, "SELECT COUNT(*) FROM "+src+".t WHERE s LIKE "+long, engine.QueryOptions{})
		if err != nil || len(rs) != 1 || rs[0] != strconv.Itoa(len(likeValues)) {
			t.Errorf("%s: a 60,000-byte pattern: %v %v", src, rs, err)
		}
	}
}
