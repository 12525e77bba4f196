package agent_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	_ "github.com/go-sql-driver/mysql"

	"lienthong/agent"
	"lienthong/agent/agenttest"
	"lienthong/agent/wire"
	"lienthong/catalog"
	"lienthong/config"
	"lienthong/internal/testenv"
)

const serverTOML = `[[engines]]
name = "central-engine"
purposes = ["audit"]

[[exports]]
table = "people"
columns = ["pin", "full_name", "born", "amount"]
pin_column = "pin"
row_filter = "alive = TRUE AND province = 'HN'"
`

// loadPeople fills people with hostile and ordinary values alike, as
// bind parameters (placeholders in the driver's style).
func loadPeople(t *testing.T, db *sql.DB, driver, createSQL string) {
	t.Helper()
	if _, err := db.Exec(createSQL); err != nil {
		t.Fatal(err)
	}
	ins := `INSERT INTO people VALUES (?, ?, ?, ?, ?, ?)`
	if driver == "pgx" {
		ins = `INSERT INTO people VALUES ($1, $2, $3, $4, $5, $6)`
	}
	names := []string{"Nguyễn Văn A", "O'Brien", `back\slash`, "Trần Thị B", "a;DROP TABLE people;--", "Ω"}
	for i := 1; i <= 60; i++ {
		prov := "HN"
		if i%4 == 0 {
			prov = "DN"
		}
		born := fmt.Sprintf("19%02d-0%d-1%d", 50+i%40, 1+i%9, i%10)
		if _, err := db.Exec(ins, fmt.Sprintf("%012d", 1000000000+i), names[i%len(names)], born, fmt.Sprintf("%d.%02d", i*100, i%100), i%7 != 0, prov); err != nil {
			t.Fatal(err)
		}
	}
}

func checkServer(t *testing.T, kind catalog.Kind, dsn, driver, createSQL, rules string) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	loadPeople(t, db, driver, createSQL)
	r := agenttest.Start(t, agenttest.Options{Source: config.Source{Kind: kind, DSN: dsn}, TOML: rules})
	c := dial(t, r.Addr, r.Engine)
	req := request()
	req.Table = "people"
	req.Columns = []string{"pin", "full_name", "amount"}
	req.Filters = []wire.Expr{{Op: ">=", Type: "bool", Args: []wire.Expr{col("born", "date32"), lit("date32", "1960-01-01")}}}
	got, err := get(t, c, enc(t, req))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := db.Query(`SELECT pin, full_name, CAST(amount AS CHAR(20)) FROM people WHERE alive = TRUE AND province = 'HN' AND born >= '1960-01-01'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var want [][]string
	for rs.Next() {
		var a, b, c string
		if err := rs.Scan(&a, &b, &c); err != nil {
			t.Fatal(err)
		}
		want = append(want, []string{strings.TrimSpace(a), b, c})
	}
	// Decimals as numbers: the text of 1000.10 is 1000.1 in Arrow.
	for _, rows := range [][][]string{got, want} {
		for _, row := range rows {
			f, err := strconv.ParseFloat(strings.TrimSpace(row[2]), 64)
			if err != nil {
				t.Fatalf("amount %q: %v", row[2], err)
			}
			row[2] = strconv.FormatFloat(f, 'f', 2, 64)
		}
	}
	if len(want) == 0 || !slices.EqualFunc(sorted(got), sorted(want), slices.Equal) {
		t.Fatalf("agent served\n%v\ndirectly\n%v", got, want)
	}
	// Hostile strings as literals reach the database as values.
	for _, v := range []string{"O'Brien", `back\slash`, "a;DROP TABLE people;--"} {
		req := request()
		req.Table, req.Columns = "people", []string{"full_name"}
		req.Filters = []wire.Expr{eqExpr(col("full_name", "utf8"), lit("utf8", v))}
		rows, err := get(t, c, enc(t, req))
		if err != nil || len(rows) == 0 || rows[0][0] != v {
			t.Errorf("literal %q: %v %v", v, rows, err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM people`).Scan(&n); err != nil || n != 60 {
		t.Errorf("people has %d rows (%v), want 60", n, err)
	}
}

func TestPostgresSourceThroughTheAgent(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	checkServer(t, catalog.Postgres, dsn, "pgx", `CREATE TABLE people (pin char(12), full_name text, born date, amount numeric(12,2), alive boolean, province text)`, serverTOML)
}

func TestMariaDBSourceThroughTheAgent(t *testing.T) {
	dsn := testenv.MySQLDSN(t)
	// MariaDB's BOOLEAN is tinyint(1), a number to lienthong.
	checkServer(t, catalog.MySQL, dsn, "mysql", `CREATE TABLE people (pin char(12), full_name varchar(100), born date, amount decimal(12,2), alive boolean, province varchar(10))`,
		strings.Replace(serverTOML, "alive = TRUE", "alive = 1", 1))
}

// A client that goes away cancels the agency's query: PostgreSQL no
// longer runs it.
func TestCancellationStopsThePostgresQuery(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE VIEW slow_people AS SELECT '001000000001'::text AS pin FROM (SELECT pg_sleep(60)) s`); err != nil {
		t.Fatal(err)
	}
	r := agenttest.Start(t, agenttest.Options{Source: config.Source{Kind: catalog.Postgres, DSN: dsn}, TOML: `[[engines]]
name = "central-engine"
purposes = ["audit"]

[[exports]]
table = "slow_people"
columns = ["pin"]
`})
	c := dial(t, r.Addr, r.Engine)
	running := func() int {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%slow_people%' AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ctx, cancel := context.WithCancel(context.Background())
	req := request()
	req.Table, req.Columns = "slow_people", []string{"pin"}
	done := make(chan error, 1)
	go func() {
		s, err := c.DoGet(ctx, &flight.Ticket{Ticket: enc(t, req)})
		if err == nil {
			_, err = s.Recv()
		}
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for running() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the source query never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	deadline = time.Now().Add(10 * time.Second)
	for running() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the source query still runs 10s after the client went away")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The request is logged as cancelled.
	deadline = time.Now().Add(5 * time.Second)
	for {
		recs := records(t, r.LogPath)
		if last := recs[len(recs)-1]; last.Outcome == "cancelled" && last.Table == "slow_people" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cancelled record: %+v", recs[len(recs)-1])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A database error that quotes a citizen's value reaches the client as
// the fixed message only; the request is logged as failed.
func TestSourceErrorsCarryNoData(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{
		`CREATE TABLE people (pin text, full_name text)`,
		`INSERT INTO people VALUES ('001234567890', 'Nguyễn Văn Bí Mật')`,
		// Reading n makes PostgreSQL quote the name it cannot cast.
		`CREATE VIEW bad AS SELECT pin, full_name::int AS n FROM people`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	r := agenttest.Start(t, agenttest.Options{Source: config.Source{Kind: catalog.Postgres, DSN: dsn}, TOML: `[[engines]]
name = "central-engine"
purposes = ["audit"]

[[exports]]
table = "bad"
columns = ["pin", "n"]
`})
	c := dial(t, r.Addr, r.Engine)
	req := request()
	req.Table, req.Columns = "bad", []string{"pin", "n"}
	_, err = get(t, c, enc(t, req))
	if err == nil {
		t.Fatal("the failing view was served")
	}
	if msg := err.Error(); strings.Contains(msg, "Nguy") || strings.Contains(msg, "001234567890") || !strings.Contains(msg, "failed to answer") {
		t.Errorf("the client saw %q", msg)
	}
	recs := records(t, r.LogPath)
	if last := recs[len(recs)-1]; last.Outcome != "failed" {
		t.Errorf("logged as %+v", last)
	}
	data, _ := os.ReadFile(r.LogPath)
	if strings.Contains(string(data), "Nguy") {
		t.Error("the request log holds the value from the error")
	}
}

// The security barrier: an engine's filter that fails on some value (a
// cast) must not run on rows the agency's row filter hides, or failing
// tells the engine such a row exists. PostgreSQL evaluates the cheaper
// condition first: the engine's cast before the row filter's long OR.
func TestFailingFiltersDoNotSeeHiddenRows(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{
		`CREATE TABLE people (pin text, full_name text, province text, alive boolean)`,
		`INSERT INTO people VALUES ('001000000001', '1', 'HN', true), ('001000000002', '2', 'HN', true), ('001000000003', 'Hidden Person', 'HCM', true)`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	r := agenttest.Start(t, agenttest.Options{Source: config.Source{Kind: catalog.Postgres, DSN: dsn}, TOML: `[[engines]]
name = "central-engine"
purposes = ["audit"]

[[exports]]
table = "people"
columns = ["pin", "full_name"]
row_filter = "province = 'HN' OR province = 'A1' OR province = 'A2' OR province = 'A3' OR province = 'A4' OR province = 'A5'"
`})
	c := dial(t, r.Addr, r.Engine)
	probe := func() ([][]string, error) {
		req := request()
		req.Table = "people"
		req.Filters = []wire.Expr{eqExpr(wire.Expr{Op: "cast", Type: "int64", Args: []wire.Expr{col("full_name", "utf8")}}, lit("int64", "1"))}
		return get(t, c, enc(t, req))
	}
	rows, err := probe()
	if err != nil || len(rows) != 1 || rows[0][0] != "001000000001" {
		t.Fatalf("guarded: %v %v", rows, err)
	}
	// Without the guard PostgreSQL casts the hidden row's name and fails:
	// the oracle the guard closes (so this test can fail).
	restore := agent.SwitchOff(agent.DefGuard)
	defer restore()
	if rows, err := probe(); err == nil {
		t.Fatalf("unguarded, PostgreSQL evaluated the row filter first (%v): this test no longer shows the oracle", rows)
	}
}
