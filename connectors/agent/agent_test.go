package agent_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"lienthong/agent/agenttest"
	"lienthong/attempt"
	"lienthong/catalog"
	"lienthong/config"
	"lienthong/engine"
	"lienthong/internal/attacks"
	"lienthong/internal/testenv"
)

// The rows every source of this test holds: NULLs, Vietnamese names in NFC
// and NFD (different strings), quotes, backslashes and LIKE's own
// characters, negative and large decimals, instants (in UTC: the sources'
// own zone handling is their connectors' conformance). {bs} is a
// backslash as the dialect writes one in a string.
var peopleRows = []string{
	`(1, '001090000001', 'Nguyễn Văn An', '1990-01-15', 1234.50, '2026-03-01 01:00:00', '2026-03-01 08:00:00', 1, 9007199254740993, 0.1)`,
	`(2, '079185000002', 'Nguyễn Văn An', '1985-06-30', -0.01, '2026-03-01 01:00:00', '1999-12-31 23:59:59.999999', 0, -5, -2.5)`,
	`(3, '001200000003', 'O''Brien {bs} 50%_off', '2000-02-29', 0, NULL, NULL, NULL, 0, NULL)`,
	`(4, '092070000004', 'Trần Thị Bích', NULL, 9999999999.99, '1970-01-01 00:00:01', '2026-11-30 12:00:00', 1, NULL, 1e300)`,
	`(5, NULL, 'trần thị bích', '1970-01-01', NULL, '2038-01-19 03:14:07', '2026-01-01 00:00:00', 0, 42, 3)`,
	`(6, '001301000006', '', '2026-12-01', 12.34, '2026-06-16 04:30:00', '2026-06-15 23:30:00', 1, 7, 7)`,
}

func rowsSQL(backslash string) string {
	return strings.ReplaceAll(strings.Join(peopleRows, ", "), "{bs}", backslash)
}

func pgSource(t *testing.T) config.Source {
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, s := range []string{
		`CREATE TABLE people (id integer NOT NULL, pin text, name text, born date, score numeric(12,2), seen timestamptz, at timestamp, active integer, n bigint, f double precision)`,
		`SET TimeZone = 'UTC'`,
		`INSERT INTO people VALUES ` + rowsSQL(`\`),
		`ALTER TABLE people ALTER COLUMN active TYPE boolean USING active <> 0`,
		`CREATE TABLE big AS SELECT g AS id, lpad(g::text, 12, '0') AS pin, (g % 1000)::numeric(12,2) AS score FROM generate_series(1, 30000) g`,
		`CREATE VIEW slow AS SELECT x AS id, pg_sleep(30) IS NOT NULL AS slept FROM generate_series(1, 2) x`,
	} {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return config.Source{Name: "src", Kind: catalog.Postgres, DSN: dsn, Schema: "public"}
}

func mySource(t *testing.T) config.Source {
	dsn := testenv.MySQLDSN(t)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range []string{
		`CREATE TABLE people (id int NOT NULL, pin varchar(12), name varchar(100), born date, score decimal(12,2), seen timestamp(6) NULL, at datetime(6), active tinyint(1), n bigint, f double)`,
		`SET time_zone = '+00:00'`,
		`INSERT INTO people VALUES ` + rowsSQL(`\\`),
	} {
		if _, err := conn.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return config.Source{Name: "src", Kind: catalog.MySQL, DSN: dsn}
}

// layout is a node reading the same database directly (source "direct")
// and through an agent (source "via").
type layout struct {
	e     *engine.Engine
	agent *agenttest.Running
	db    config.Source
}

func newLayout(t *testing.T, db config.Source, agentTOML, extra string) *layout {
	t.Helper()
	r := agenttest.Start(t, agenttest.Options{Source: db, TOML: agentTOML})
	var b strings.Builder
	fmt.Fprintf(&b, "[[sources]]\nname = \"direct\"\nkind = %q\n", db.Kind)
	if db.DSN != "" {
		fmt.Fprintf(&b, "dsn = %q\n", db.DSN)
	}
	if db.Path != "" {
		fmt.Fprintf(&b, "path = %q\n", db.Path)
	}
	fmt.Fprintf(&b, "\n[[sources]]\nname = \"via\"\nkind = \"agent\"\naddress = %q\nca_file = %q\ncert_file = %q\nkey_file = %q\n%s\n",
		r.Addr, r.Engine.CA, r.Engine.Cert, r.Engine.Key, extra)
	path := filepath.Join(t.TempDir(), "lienthong.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	e := attacks.OpenEngine(t, path)
	for _, s := range e.WaitCatalog(context.Background()).Sources {
		if s.Unavailable != "" {
			t.Fatalf("source %s unavailable: %s", s.Name, s.Unavailable)
		}
	}
	return &layout{e: e, agent: r, db: db}
}

var asked = engine.QueryOptions{Session: attempt.Session{Principal: "an", Agency: "BHXH", Purpose: agenttest.Purpose, CaseID: "HS-1"}}

// predicates are WHERE clauses over people: every kind of filter the
// planner pushes to an agent, and some it keeps (the answer must not
// change either way).
var predicates = []string{
	"id = 3", "id <> 3", "id < 3", "id <= 3", "id > 4", "id >= 4", "id BETWEEN 2 AND 4", "id NOT BETWEEN 2 AND 4",
	"id IN (1, 3, 5)", "id NOT IN (1, 3, 5)", "n IS NULL", "n IS NOT NULL", "NOT (id = 1 OR id = 2)", "id = 1 OR n = 42",
	"n = 9007199254740993", "n < 0", "n + 1 = 43", "-n = 5", "id * 2 = 6",
	"pin = '001090000001'", "pin IN ('001090000001', '092070000004', 'x')", "pin >= '079'", "pin < '079'", "pin IS NULL",
	"name = 'Nguyễn Văn An'", "name = 'Nguyễn Văn An'", "name <> 'Trần Thị Bích'", "name = 'trần thị bích'",
	"name < 'Trần'", "name > 'N'", "name = ''", `name = 'O''Brien \ 50%_off'`,
	"name LIKE 'Nguy%'", "name LIKE '%Bích'", "name LIKE 'tr%'", `name LIKE '%\%\_%'`, "name LIKE '_'", "name NOT LIKE '%n%'",
	"born = DATE '2000-02-29'", "born > DATE '1989-12-31'", "born BETWEEN DATE '1970-01-01' AND DATE '1990-01-15'", "born IS NULL",
	"score > 0", "score = 12.34", "score < -0.001", "score IS NULL", "score BETWEEN 0 AND 1234.5",
	"seen > TIMESTAMP '2026-03-01 00:30:00'", "seen IS NULL", "at >= TIMESTAMP '2026-01-01 00:00:00'", "at < TIMESTAMP '2000-01-01 00:00:00'",
	"active", "NOT active", "active IS NULL", "f > 1", "f = 0.1", "f < 0",
	"CASE WHEN id > 3 THEN n ELSE 0 END = 42", "LENGTH(name) > 12", "UPPER(name) = 'TRẦN THỊ BÍCH'", "COALESCE(n, 0) = 0",
}

// checkSame runs query ({src} replaced) on the direct source and through
// the agent: the same rows, or the same error code.
func checkSame(t *testing.T, l *layout, query string) {
	t.Helper()
	want, werr := attacks.Rows(l.e, strings.ReplaceAll(query, "{src}", "direct"), asked)
	got, err := attacks.Rows(l.e, strings.ReplaceAll(query, "{src}", "via"), asked)
	if werr != nil || err != nil {
		if engine.ErrorCode(werr) != engine.ErrorCode(err) {
			t.Errorf("%s\ndirect: %v\nagent:  %v", query, werr, err)
		}
		return
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		plan, _ := l.e.Explain(context.Background(), strings.ReplaceAll(query, "{src}", "via"), false, asked)
		t.Errorf("%s\ndirect: %q\nagent:  %q\nplan:\n%s", query, want, got, plan)
	}
}

// TestSameAnswersThroughAgent is the connector conformance of the agent
// kind: types (NULLs, diacritics, decimals, instants), every pushable
// predicate, limits, joins with reduction, read through an agent, against
// the same database read directly, on PostgreSQL and MariaDB.
func TestSameAnswersThroughAgent(t *testing.T) {
	for _, db := range []struct {
		name string
		src  func(*testing.T) config.Source
	}{{"postgres", pgSource}, {"mariadb", mySource}} {
		t.Run(db.name, func(t *testing.T) {
			l := newLayout(t, db.src(t), "", "")
			checkSame(t, l, "SELECT * FROM {src}.people")
			for _, p := range predicates {
				checkSame(t, l, "SELECT id, pin, name, born, score, seen, at, active, n, f FROM {src}.people WHERE "+p)
			}
			checkSame(t, l, "SELECT COUNT(*), SUM(score), MIN(born), MAX(seen) FROM {src}.people")
			checkSame(t, l, "SELECT active, COUNT(*) FROM {src}.people GROUP BY active")
			checkSame(t, l, "SELECT name FROM {src}.people ORDER BY id LIMIT 2")
			checkSame(t, l, "SELECT p.id, q.id FROM {src}.people p JOIN direct.people q ON q.pin = p.pin WHERE q.score > 0")
			if db.name == "postgres" {
				checkSame(t, l, "SELECT COUNT(*), SUM(score) FROM {src}.big WHERE pin LIKE '00000001%'")
				checkSame(t, l, "SELECT COUNT(*) FROM {src}.big b JOIN direct.people p ON p.id = b.id")
			}

			// Filters reach the agent: the agent's scan carries them.
			plan, err := l.e.Explain(context.Background(), "SELECT id FROM via.people WHERE pin = '001090000001' AND born > DATE '1980-01-01'", false, asked)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(plan, "-> via (agent)") || !strings.Contains(plan, `WHERE (("people"."pin" = '001090000001') AND ("people"."born" > DATE '1980-01-01'))`) {
				t.Errorf("the filters were not sent to the agent:\n%s", plan)
			}
		})
	}
}

// TestReducedThroughAgent: semi-join reduction sends the other side's
// PINs in the agent's request, and the answer is the same.
func TestReducedThroughAgent(t *testing.T) {
	l := newLayout(t, pgSource(t), "", "")
	q := "SELECT b.id, b.score FROM via.big b JOIN direct.people p ON p.pin = b.pin"
	opt := asked
	opt.MinReduceProbe = 1
	p, _, err := l.e.Plan(q, opt)
	if err != nil {
		t.Fatal(err)
	}
	reduced := false
	for _, rm := range p.Remotes {
		reduced = reduced || rm.Source == "via" && rm.ReduceBy != nil
	}
	if !reduced {
		t.Fatalf("the agent's scan was not reduced by the join's keys")
	}
	want, err := attacks.Rows(l.e, strings.Replace(q, "via.big", "direct.big", 1), opt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := attacks.Rows(l.e, q, opt)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		t.Errorf("reduced through the agent: %q, direct %q", got, want)
	}
}

// TestPartitionsThroughAgent: a full scan read as PIN ranges in parallel
// gives every row once.
func TestPartitionsThroughAgent(t *testing.T) {
	db := pgSource(t)
	l := newLayout(t, db, "", "partitions = 4")
	checkSame(t, l, "SELECT COUNT(*), COUNT(DISTINCT pin), SUM(score) FROM {src}.big")
	checkSame(t, l, "SELECT * FROM {src}.people") // NULL PINs are in the first range
	checkSame(t, l, "SELECT id FROM {src}.big WHERE id % 997 = 0")
}

// TestCancelReachesAgencyDatabase: stopping a query stops the statement
// the agent runs on the agency's database.
func TestCancelReachesAgencyDatabase(t *testing.T) {
	l := newLayout(t, pgSource(t), "", "")
	ctx, cancel := context.WithCancel(context.Background())
	// The query waits for its first row, which the source sleeps on.
	stop := time.AfterFunc(500*time.Millisecond, cancel)
	defer stop.Stop()
	start := time.Now()
	res, err := l.e.Query(ctx, "SELECT id FROM via.slow", asked)
	if err == nil {
		for res.Next() {
		}
		err = res.Err()
		res.Release()
	}
	if engine.ErrorCode(err) != "LT-CANCELLED" || time.Since(start) > 10*time.Second {
		t.Fatalf("cancelled query: %v after %s, want LT-CANCELLED at once", err, time.Since(start))
	}
	running := func() int {
		c, err := pgx.Connect(context.Background(), l.db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		var n int
		if err := c.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE '%slow%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for running() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the agency database still runs the cancelled scan 10 s later")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAgencyRulesReachTheClient: what the agency does not export is not in
// the node's catalog, and a refusal reaches the client as
// LT-SOURCE-REFUSED in lienthong's words.
func TestAgencyRulesReachTheClient(t *testing.T) {
	rules := fmt.Sprintf(`
[[engines]]
name = %q
purposes = [%q]

[[exports]]
table = "people"
columns = ["id", "pin", "name", "born"]
pin_column = "pin"
row_filter = "born >= DATE '1980-01-01'"
`, agenttest.EngineCN, agenttest.Purpose)
	l := newLayout(t, pgSource(t), rules, "")
	snap := l.e.Catalog()
	via := snap.Source("via")
	if via == nil || len(via.Tables) != 1 || via.Tables[0].Name != "people" || len(via.Tables[0].Columns) != 4 || via.Tables[0].PINColumn != "pin" {
		t.Fatalf("the node's catalog of the agent: %+v", via)
	}
	// The agency's row filter holds whatever the query asks.
	got, err := attacks.Rows(l.e, "SELECT id FROM via.people ORDER BY id", asked)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1", "2", "3", "6"}; !slices.Equal(got, want) {
		t.Errorf("rows through the agency's row filter: %q, want %q", got, want)
	}
	if _, err := attacks.Rows(l.e, "SELECT score FROM via.people", asked); engine.ErrorCode(err) != "LT-UNKNOWN" {
		t.Errorf("an unexported column: %v, want LT-UNKNOWN", err)
	}
	other := asked
	other.Session.Purpose = "marketing"
	_, err = attacks.Rows(l.e, "SELECT id FROM via.people", other)
	if engine.ErrorCode(err) != "LT-SOURCE-REFUSED" || !strings.Contains(err.Error(), "purpose") || !strings.Contains(err.Error(), "source via") {
		t.Fatalf("a purpose the agency does not allow: %v, want LT-SOURCE-REFUSED naming the purpose and the source", err)
	}
	var se interface{ Detail() string }
	if !errors.As(err, &se) {
		t.Errorf("%T is not a client error", err)
	}
	// The refusal is in the agency's own log.
	log, err := os.ReadFile(l.agent.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "marketing") || !strings.Contains(string(log), "refused") {
		t.Errorf("the agency's log lacks the refusal:\n%s", log)
	}
}
