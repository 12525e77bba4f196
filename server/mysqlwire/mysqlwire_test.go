package mysqlwire_test

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"lienthong/audit/chain"
	"lienthong/config"
	"lienthong/internal/testenv"
	"lienthong/internal/testpki"
	"lienthong/node"
	"lienthong/server/mysqlwire"
	"lienthong/tokens"
)

// A node with two real sources: a CSV file "f" (people) and a MariaDB
// database "my" (benefits, secret), a policy granting alice f.* and
// my.benefits for purpose STATS (not my.secret), a tokens file, an audit
// log, and the MySQL front-end on a free loopback port.
type fixture struct {
	n     *node.Node
	addr  string
	token string
	audit string
	dsn   string // the MariaDB source's database
}

func start(t testing.TB, extraServer string) *fixture {
	t.Helper()
	return startWith(t, extraServer, "")
}

// startWith is start with more policy (the MariaDB database also has a
// table staff, which the base policy does not grant), and the Flight SQL
// front-end on when extraServer sets flight_addr.
func startWith(t testing.TB, extraServer, extraPolicy string) *fixture {
	t.Helper()
	dsn := testenv.MySQLDSN(t)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE TABLE benefits (pin VARCHAR(12) NOT NULL, amount DECIMAL(12,2), paid DATE, at DATETIME, n BIGINT, ratio DOUBLE)",
		"INSERT INTO benefits VALUES ('P001', 1250000.50, '2026-03-01', '2026-03-01 08:30:00', 7, 0.25), ('P002', 99.99, '2026-04-15', '2026-04-15 17:05:09', 9, 1.5), ('P003', NULL, NULL, NULL, NULL, NULL)",
		"CREATE TABLE secret (pin VARCHAR(12), note VARCHAR(20))",
		"INSERT INTO secret VALUES ('P001', 'x')",
		"CREATE TABLE staff (pin VARCHAR(12), name VARCHAR(40), salary DECIMAL(12,2))",
		"INSERT INTO staff VALUES ('P001', 'An', 1000.00)",
		// nums (1..1000): a self-join of it keeps MariaDB busy.
		"CREATE TABLE nums AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 1000) SELECT i FROM r",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("people.csv", "pin,name\nP001,Nguyễn Văn An\nP002,Trần Thị Bình\nP003,Lê Cường\n")
	var bigCSV strings.Builder
	bigCSV.WriteString("i,word\n")
	for i := range 3000 {
		fmt.Fprintf(&bigCSV, "%d,w%d\n", i, i)
	}
	write("big.csv", bigCSV.String())
	if _, err := chain.WriteKeyFile(filepath.Join(dir, "audit.key")); err != nil {
		t.Fatal(err)
	}
	token, err := tokens.Generate()
	if err != nil {
		t.Fatal(err)
	}
	h, err := tokens.Hash(token)
	if err != nil {
		t.Fatal(err)
	}
	write("tokens.toml", fmt.Sprintf("[[principals]]\nname = \"alice\"\nagency = \"bhxh\"\ntoken_hash = %q\n", h))
	write("policy.toml", `
[[purposes]]
name = "STATS"
description = "statistics"

[[roles]]
name = "analyst"

[[principals]]
name = "alice"
agency = "bhxh"
roles = ["analyst"]

[[grants]]
role = "analyst"
purposes = ["STATS"]
source = "f"
table = "*"

[[grants]]
role = "analyst"
purposes = ["STATS"]
source = "my"
table = "benefits"
`+extraPolicy)
	write("lienthong.toml", fmt.Sprintf(`policy = "policy.toml"
[[sources]]
name = "f"
kind = "csv"
path = "*.csv"

[[sources]]
name = "my"
kind = "mysql"
dsn = %q

[server]
http_addr = "127.0.0.1:0"
%s
mysql_addr = "127.0.0.1:0"
tokens_file = "tokens.toml"
shutdown_grace = "2s"
%s
[audit]
log = "audit.log"
key_file = "audit.key"
node_id = "n1"
`, dsn, flightOff(extraServer), extraServer))
	cfg, err := config.Load(filepath.Join(dir, "lienthong.toml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := node.Open(ctx, cfg, node.Options{Serve: true, Audit: cfg.Audit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	if n.MySQL == nil {
		t.Fatal("mysql_addr is set but the node has no MySQL front-end")
	}
	return &fixture{n: n, addr: n.MySQL.Addr(), token: token, audit: cfg.Audit.Log, dsn: dsn}
}

func flightOff(extraServer string) string {
	if strings.Contains(extraServer, "flight_addr") {
		return ""
	}
	return `flight_addr = "off"`
}

const loopbackOK = "mysql_allow_cleartext_loopback = true\n"

func (f *fixture) open(t testing.TB, user, password, params string) *sql.DB {
	t.Helper()
	dsn := fmt.Sprintf("%s:%s@tcp(%s)/?allowCleartextPasswords=true&timeout=10s&readTimeout=60s%s", user, password, f.addr, params)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1) // one connection: SET @lienthong_purpose holds for the queries after it
	return db
}

func mysqlErr(t *testing.T, err error) *mysql.MySQLError {
	t.Helper()
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		t.Fatalf("want a MySQL error, got %v", err)
	}
	return me
}

func TestGoDriver(t *testing.T) {
	f := start(t, loopbackOK)
	db := f.open(t, "alice", f.token, "")
	ctx := context.Background()

	var version string
	if err := db.QueryRowContext(ctx, "SELECT @@version").Scan(&version); err != nil || version != "8.0.40-lienthong" {
		t.Fatalf("@@version = %q, %v", version, err)
	}
	for _, q := range []string{"SET NAMES utf8mb4", "SET autocommit = 1", "SET SESSION sql_mode = 'ANSI'", "SET @lienthong_purpose = 'STATS'"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	dbs := strings.Join(column(t, db, "SHOW DATABASES"), ",")
	if dbs != "f,my" {
		t.Fatalf("SHOW DATABASES = %s, want f,my", dbs)
	}
	if tables := strings.Join(column(t, db, "SHOW TABLES FROM f"), ","); tables != "big,people" {
		t.Fatalf("SHOW TABLES FROM f = %s", tables)
	}
	if tables := strings.Join(column(t, db, "SHOW TABLES FROM my"), ","); tables != "benefits" {
		t.Fatalf("SHOW TABLES FROM my = %s, want only the granted benefits", tables)
	}
	if _, err := db.ExecContext(ctx, "USE my"); err != nil {
		t.Fatal(err)
	}
	if cur := column(t, db, "SELECT DATABASE()"); len(cur) != 1 || cur[0] != "my" {
		t.Fatalf("SELECT DATABASE() after USE my = %v", cur)
	}
	desc := map[string]string{}
	rows, err := db.QueryContext(ctx, "SHOW COLUMNS FROM benefits")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var field, typ, null, key string
		var def sql.NullString
		var extra string
		if err := rows.Scan(&field, &typ, &null, &key, &def, &extra); err != nil {
			t.Fatal(err)
		}
		desc[field] = typ + " " + null
	}
	rows.Close()
	if desc["amount"] != "decimal(12,2) YES" || desc["paid"] != "date YES" || desc["n"] != "bigint YES" || desc["pin"] != "varchar(16383) NO" {
		t.Fatalf("SHOW COLUMNS FROM benefits: %v", desc)
	}

	// What clients send while browsing.
	if got := strings.Join(column(t, db, "SHOW FULL TABLES FROM f LIKE 'peo%'"), ","); got != "people" {
		t.Fatalf("SHOW FULL TABLES LIKE: %s", got)
	}
	if got := strings.Join(column(t, db, "DESCRIBE f.people"), ","); got != "pin,name" {
		t.Fatalf("DESCRIBE f.people: %s", got)
	}
	var vname, vval string
	if err := db.QueryRowContext(ctx, "SHOW VARIABLES LIKE 'max_allowed%'").Scan(&vname, &vval); err != nil || vname != "max_allowed_packet" || vval != "67108864" {
		t.Fatalf("SHOW VARIABLES LIKE: %s %s %v", vname, vval, err)
	}
	var ac, pkt int64
	var purpose string
	if err := db.QueryRowContext(ctx, "SELECT @@session.autocommit, @@max_allowed_packet, @lienthong_purpose").Scan(&ac, &pkt, &purpose); err != nil || ac != 1 || pkt != 67108864 || purpose != "STATS" {
		t.Fatalf("session variables: %d %d %q %v", ac, pkt, purpose, err)
	}
	if _, err := db.QueryContext(ctx, "SHOW TABLES FROM nosuch"); mysqlErr(t, err).Number != 1146 {
		t.Fatalf("SHOW TABLES FROM an unknown source: %v", err)
	}

	// A cross-source join: the CSV's names and MariaDB's benefits, with
	// each column's MySQL type exact. DATETIME has 6 decimals: the engine
	// reads datetimes as microsecond timestamps.
	rows, err = db.QueryContext(ctx, `SELECT p.name, b.amount, b.paid, b.at, b.n, b.ratio, b.amount > 100 AS big
		FROM f.people p JOIN my.benefits b ON b.pin = p.pin ORDER BY p.pin`)
	if err != nil {
		t.Fatal(err)
	}
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ct := range cts {
		s := ct.Name() + ":" + ct.DatabaseTypeName()
		if p, sc, ok := ct.DecimalSize(); ok && (ct.DatabaseTypeName() == "DECIMAL" || ct.DatabaseTypeName() == "DATETIME") {
			s += fmt.Sprintf("(%d,%d)", p, sc)
		}
		got = append(got, s)
	}
	want := "name:VARCHAR amount:DECIMAL(12,2) paid:DATE at:DATETIME(6,6) n:BIGINT ratio:DOUBLE big:TINYINT"
	if strings.Join(got, " ") != want {
		t.Fatalf("column types\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	var lines []string
	for rows.Next() {
		var name string
		var amount, paid, at, n, ratio, big sql.NullString
		if err := rows.Scan(&name, &amount, &paid, &at, &n, &ratio, &big); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Join([]string{name, amount.String, paid.String, at.String, n.String, ratio.String, big.String}, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	wantRows := "Nguyễn Văn An|1250000.50|2026-03-01|2026-03-01 08:30:00.000000|7|0.25|1;Trần Thị Bình|99.99|2026-04-15|2026-04-15 17:05:09.000000|9|1.5|0;Lê Cường||||||"
	if strings.Join(lines, ";") != wantRows {
		t.Fatalf("rows\n got %s\nwant %s", strings.Join(lines, ";"), wantRows)
	}

	// An aggregate.
	var total string
	var count int64
	if err := db.QueryRowContext(ctx, "SELECT SUM(amount), COUNT(*) FROM my.benefits").Scan(&total, &count); err != nil {
		t.Fatal(err)
	}
	if total != "1250100.49" || count != 3 {
		t.Fatalf("SUM, COUNT = %s, %d", total, count)
	}

	// Denied: the table is not granted. The registry's errno and SQLSTATE.
	_, err = db.QueryContext(ctx, "SELECT note FROM my.secret")
	if me := mysqlErr(t, err); me.Number != 1142 || string(me.SQLState[:]) != "42000" || !strings.HasPrefix(me.Message, "LT-DENIED") {
		t.Fatalf("denied query: %d %s %q", me.Number, me.SQLState, me.Message)
	}
	// A syntax error: 1064, and the engine's message, not a source's.
	_, err = db.QueryContext(ctx, "SELEC name FROM f.people")
	if me := mysqlErr(t, err); me.Number != 1064 || string(me.SQLState[:]) != "42000" || !strings.HasPrefix(me.Message, "LT-SYNTAX") {
		t.Fatalf("syntax error: %d %s %q", me.Number, me.SQLState, me.Message)
	}
	// The connection is still usable after errors.
	if names := column(t, db, "SELECT name FROM f.people WHERE pin = 'P002'"); len(names) != 1 || names[0] != "Trần Thị Bình" {
		t.Fatalf("after errors: %v", names)
	}

	// Every query went through the audit log, under alice and STATS.
	rd, err := chain.OpenReader(f.audit)
	if err != nil {
		t.Fatal(err)
	}
	var ends []string
	if err := rd.Iterate(0, func(r *chain.Record) error {
		if r.Kind == chain.KindEnd {
			ends = append(ends, r.Principal+":"+r.Purpose+":"+r.Outcome)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(ends) < 4 || !strings.Contains(strings.Join(ends, " "), "alice:STATS:") {
		t.Fatalf("audit end records: %v", ends)
	}
}

// column runs q and returns its first column.
func column(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, vals[0].String)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func TestAuthRefused(t *testing.T) {
	f := start(t, loopbackOK)
	// A wrong token, and the right token under another principal's name.
	for _, c := range []struct{ user, pass string }{{"alice", "not-the-token"}, {"bob", f.token}} {
		err := f.open(t, c.user, c.pass, "").Ping()
		if me := mysqlErr(t, err); me.Number != 1045 || string(me.SQLState[:]) != "28000" {
			t.Fatalf("%s with a wrong password: %d %s %q", c.user, me.Number, me.SQLState, me.Message)
		}
	}
	// Without allowCleartextPasswords the driver cannot send the token.
	db, _ := sql.Open("mysql", fmt.Sprintf("alice:%s@tcp(%s)/?timeout=10s", f.token, f.addr))
	defer db.Close()
	if err := db.Ping(); err == nil {
		t.Fatal("a driver refusing cleartext passwords connected")
	}
}

// Without TLS and without mysql_allow_cleartext_loopback, the server does
// not even ask for the cleartext password: the right token is refused.
func TestCleartextRefusedWithoutTLS(t *testing.T) {
	f := start(t, "")
	err := f.open(t, "alice", f.token, "").Ping()
	me := mysqlErr(t, err)
	if me.Number != 1045 || !strings.Contains(me.Message, "over TLS") {
		t.Fatalf("cleartext without TLS: %d %q", me.Number, me.Message)
	}
}

// Purpose and case as connection attributes (go-sql-driver's
// connectionAttributes), instead of SET.
func TestPurposeAttribute(t *testing.T) {
	f := start(t, loopbackOK)
	db := f.open(t, "alice", f.token, "&connectionAttributes=lienthong_purpose:STATS")
	if got := column(t, db, "SELECT @lienthong_purpose"); len(got) != 1 || got[0] != "STATS" {
		t.Fatalf("@lienthong_purpose from the attribute: %v", got)
	}
	if got := column(t, db, "SELECT COUNT(*) FROM my.benefits"); len(got) != 1 || got[0] != "3" {
		t.Fatalf("count with the attribute's purpose: %v", got)
	}
	// A database in the DSN is USE'd at login.
	if got := column(t, f.open(t, "alice", f.token, "&connectionAttributes=lienthong_purpose:STATS"), "SELECT DATABASE()"); len(got) != 1 || got[0] != "" {
		t.Fatalf("DATABASE() without one: %v", got)
	}
	withDB, _ := sql.Open("mysql", fmt.Sprintf("alice:%s@tcp(%s)/my?allowCleartextPasswords=true&timeout=10s", f.token, f.addr))
	defer withDB.Close()
	if got := column(t, withDB, "SELECT DATABASE()"); len(got) != 1 || got[0] != "my" {
		t.Fatalf("DATABASE() with my in the DSN: %v", got)
	}
	// Without a purpose the policy refuses.
	_, err := f.open(t, "alice", f.token, "").Query("SELECT COUNT(*) FROM my.benefits")
	if me := mysqlErr(t, err); me.Number != 1142 {
		t.Fatalf("no purpose: %d %q", me.Number, me.Message)
	}
	// The user name may carry the purpose and case (Grafana sends no
	// attributes): "principal/purpose[/case]". The token is still alice's.
	byName := f.open(t, "alice/STATS/HS-1", f.token, "")
	var purpose, caseID string
	if err := byName.QueryRow("SELECT @lienthong_purpose, @lienthong_case").Scan(&purpose, &caseID); err != nil || purpose != "STATS" || caseID != "HS-1" {
		t.Fatalf("purpose and case from the user name: %q %q %v", purpose, caseID, err)
	}
	if got := column(t, byName, "SELECT COUNT(*) FROM my.benefits"); len(got) != 1 || got[0] != "3" {
		t.Fatalf("count with the user name's purpose: %v", got)
	}
	if err := f.open(t, "bob/STATS", f.token, "").Ping(); mysqlErr(t, err).Number != 1045 {
		t.Fatalf("another principal's name with alice's token: %v", err)
	}
	// A purpose that is not the policy's is refused at the first query.
	_, err = f.open(t, "alice/NOPE", f.token, "").Query("SELECT COUNT(*) FROM my.benefits")
	if me := mysqlErr(t, err); me.Number != 1142 {
		t.Fatalf("an unknown purpose in the user name: %d %q", me.Number, me.Message)
	}
}

// The mysql command-line client (MariaDB's or MySQL's, from the Debian
// package) against the node.
func TestMySQLClient(t *testing.T) {
	bin, err := exec.LookPath("mysql")
	if err != nil {
		if testenv.RequireServices() {
			t.Fatal("the mysql client is not installed (apt-get install mariadb-client)")
		}
		t.Skip("no mysql client on PATH")
	}
	f := start(t, loopbackOK)
	host, port, _ := strings.Cut(f.addr, ":")
	// stdout is the result, stderr the errors.
	var stderr strings.Builder
	run := func(sqlText string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "--protocol=TCP", "-h", host, "-P", port, "-u", "alice", "--enable-cleartext-plugin", "--batch", "-e", sqlText)
		cmd.Env = append(os.Environ(), "MYSQL_PWD="+f.token)
		stderr.Reset()
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		// MariaDB's client says on stdout that the option is its default.
		return strings.TrimPrefix(string(out), "WARNING: option '--enable-cleartext-plugin' is obsolete.\n"), err
	}
	out, err := run("SHOW DATABASES; SET @lienthong_purpose = 'STATS'; SELECT p.name, b.amount FROM f.people p JOIN my.benefits b ON b.pin = p.pin WHERE b.amount IS NOT NULL ORDER BY p.pin")
	if err != nil {
		t.Fatalf("mysql: %v\n%s%s", err, out, stderr.String())
	}
	want := "Database\nf\nmy\nname\tamount\nNguyễn Văn An\t1250000.50\nTrần Thị Bình\t99.99\n"
	if out != want {
		t.Fatalf("mysql output\n got %q\nwant %q", out, want)
	}
	_, err = run("SELECT note FROM my.secret")
	if msg := stderr.String(); err == nil || !strings.Contains(msg, "ERROR 1142 (42000)") || !strings.Contains(msg, "LT-DENIED") {
		t.Fatalf("denied through the mysql client: %v\n%s", err, msg)
	}
	// A prepared statement (the client's SQL-level PREPARE): the value
	// binds as a literal, so the injection attempt matches no PIN.
	out, err = run("SET @lienthong_purpose = 'STATS'; PREPARE s FROM 'SELECT name FROM f.people WHERE pin = ?'; " +
		"SET @p = 'P002'; EXECUTE s USING @p; SET @p = 'P001'' OR ''1''=''1'; EXECUTE s USING @p; DEALLOCATE PREPARE s")
	if err != nil || out != "name\nTrần Thị Bình\n" {
		t.Fatalf("prepared statement through the mysql client: %v\n%q%s", err, out, stderr.String())
	}
	// No database selected: 1046 (3D000), as MySQL says it.
	_, err = run("SET @lienthong_purpose = 'STATS'; SELECT name FROM people")
	if msg := stderr.String(); err == nil || !strings.Contains(msg, "ERROR 1046 (3D000)") {
		t.Fatalf("an unqualified table without USE: %v\n%s", err, msg)
	}
	// After USE (-D), unqualified names are the source's.
	out, err = run("SET @lienthong_purpose = 'STATS'; USE f; SELECT name FROM people WHERE pin = 'P003'")
	if err != nil || out != "name\nLê Cường\n" {
		t.Fatalf("after USE f: %v\n%q%s", err, out, stderr.String())
	}
}

// KILL QUERY from another connection of the principal (what the mysql
// client sends on Ctrl-C) stops a running query with LT-CANCELLED.
func TestKillQuery(t *testing.T) {
	f := start(t, loopbackOK)
	db := f.open(t, "alice", f.token, "&connectionAttributes=lienthong_purpose:STATS")
	db.SetMaxOpenConns(2)
	ctx := context.Background()
	a, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var id int64
	if err := a.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil || id == 0 {
		t.Fatalf("CONNECTION_ID(): %d %v", id, err)
	}
	done := make(chan error, 1)
	started := time.Now()
	go func() {
		// 27 billion rows: it runs until killed (or query_timeout, 5m).
		var n int64
		done <- a.QueryRowContext(ctx, "SELECT COUNT(*) FROM f.big x, f.big y, f.big z WHERE concat(x.word, y.word) <> z.word").Scan(&n)
	}()
	time.Sleep(500 * time.Millisecond)
	b, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.ExecContext(ctx, fmt.Sprintf("KILL QUERY %d", id)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if me := mysqlErr(t, err); me.Number != 1317 || string(me.SQLState[:]) != "70100" || !strings.HasPrefix(me.Message, "LT-CANCELLED") {
			t.Fatalf("killed query: %d %s %q", me.Number, me.SQLState, me.Message)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the query was not stopped within 30s of KILL QUERY")
	}
	t.Logf("killed after %v", time.Since(started))
	// The killed connection serves the next query.
	var one int64
	if err := a.QueryRowContext(ctx, "SELECT COUNT(*) FROM f.people").Scan(&one); err != nil || one != 3 {
		t.Fatalf("after the kill: %d %v", one, err)
	}
	// An unknown connection id is an error.
	if _, err := b.ExecContext(ctx, "KILL QUERY 999999"); err == nil {
		t.Fatal("KILL QUERY of no connection succeeded")
	}
}

// Rows stream as the engine produces them: a result that grows past
// max_result_rows has sent rows before the error ends it, with the
// registry's errno for LT-RESULT-LIMIT (the first batch, 8192 rows of
// 9000, is within max_result_rows; the second is not).
func TestResultLimitMidStream(t *testing.T) {
	f := start(t, loopbackOK+"max_result_rows = 8500\n")
	db := f.open(t, "alice", f.token, "&connectionAttributes=lienthong_purpose:STATS")
	rows, err := db.Query("SELECT x.i, y.name FROM f.big x CROSS JOIN f.people y")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	me := mysqlErr(t, rows.Err())
	if me.Number != 1105 || string(me.SQLState[:]) != "54000" || !strings.HasPrefix(me.Message, "LT-RESULT-LIMIT") {
		t.Fatalf("result limit: %d %s %q", me.Number, me.SQLState, me.Message)
	}
	if n == 0 || n > 8500 {
		t.Fatalf("%d rows before the limit's error, want some and at most 8500", n)
	}
}

// With tls_cert the token is taken over TLS (and only over TLS: the
// loopback exception is off here).
func TestTLS(t *testing.T) {
	ca := testpki.NewCA(t, "lienthong test CA")
	files := ca.Write(t, t.TempDir(), "cert", ca.Issue(t, "lienthong test"))
	f := start(t, fmt.Sprintf("tls_cert = %q\ntls_key = %q\n", files.Cert, files.Key))
	if err := mysql.RegisterTLSConfig("lienthong-test", &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}); err != nil {
		t.Fatal(err)
	}
	db := f.open(t, "alice", f.token, "&tls=lienthong-test&connectionAttributes=lienthong_purpose:STATS")
	if got := column(t, db, "SELECT COUNT(*) FROM my.benefits"); len(got) != 1 || got[0] != "3" {
		t.Fatalf("count over TLS: %v", got)
	}
	if got := column(t, db, "SELECT @@have_ssl"); len(got) != 1 || got[0] != "YES" {
		t.Fatalf("@@have_ssl over TLS: %v", got)
	}
	err := f.open(t, "alice", f.token, "").Ping()
	if me := mysqlErr(t, err); me.Number != 1045 {
		t.Fatalf("the same server without TLS: %d %q", me.Number, me.Message)
	}
}

// TestTLSReload: the MySQL port takes the certificate in force at each
// handshake: after the files are replaced and the node's Reload (what
// SIGHUP calls), a new connection gets the new one; a key that does not
// match is refused by Reload, naming the file, and new connections keep
// the certificate before.
func TestTLSReload(t *testing.T) {
	ca := testpki.NewCA(t, "lienthong test CA")
	files := ca.Write(t, t.TempDir(), "cert", ca.Issue(t, "mysql-a"))
	f := start(t, fmt.Sprintf("tls_cert = %q\ntls_key = %q\n", files.Cert, files.Key))
	var mu sync.Mutex
	var served string
	if err := mysql.RegisterTLSConfig("lienthong-reload", &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			mu.Lock()
			served = cs.PeerCertificates[0].Subject.CommonName
			mu.Unlock()
			return nil
		}}); err != nil {
		t.Fatal(err)
	}
	servedNow := func() string {
		t.Helper()
		db := f.open(t, "alice", f.token, "&tls=lienthong-reload&connectionAttributes=lienthong_purpose:STATS")
		if got := column(t, db, "SELECT COUNT(*) FROM my.benefits"); len(got) != 1 || got[0] != "3" {
			t.Fatalf("count over TLS: %v", got)
		}
		db.Close()
		mu.Lock()
		defer mu.Unlock()
		return served
	}
	if got := servedNow(); got != "mysql-a" {
		t.Fatalf("served %q, want mysql-a", got)
	}
	b := ca.Issue(t, "mysql-b")
	for path, pem := range map[string][]byte{files.Cert: b.CertPEM, files.Key: b.KeyPEM} {
		if err := os.WriteFile(path, pem, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.n.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := servedNow(); got != "mysql-b" {
		t.Fatalf("after Reload: served %q, want mysql-b", got)
	}
	if err := os.WriteFile(files.Key, ca.Issue(t, "mysql-c").KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.n.Reload(); err == nil || !strings.Contains(err.Error(), "server.tls_key "+files.Key) {
		t.Fatalf("Reload with a key of another certificate: %v", err)
	}
	if got := servedNow(); got != "mysql-b" {
		t.Fatalf("after a refused Reload: served %q, want mysql-b", got)
	}
}

// Ctrl-C in the mysql client: it sends KILL QUERY on a second connection,
// and the running query ends with LT-CANCELLED.
func TestMySQLClientCtrlC(t *testing.T) {
	bin, err := exec.LookPath("mysql")
	if err != nil {
		if testenv.RequireServices() {
			t.Fatal("the mysql client is not installed (apt-get install mariadb-client)")
		}
		t.Skip("no mysql client on PATH")
	}
	f := start(t, loopbackOK)
	host, port, _ := strings.Cut(f.addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--protocol=TCP", "-h", host, "-P", port, "-u", "alice", "--batch",
		"-e", "SET @lienthong_purpose = 'STATS'; SELECT COUNT(*) FROM f.big x, f.big y, f.big z WHERE concat(x.word, y.word) <> z.word")
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+f.token)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the client did not end within 60s of Ctrl-C:\n%s", out.String())
	}
	t.Logf("mysql after Ctrl-C: %s", out.String())
	if !strings.Contains(out.String(), "ERROR 1317 (70100)") || !strings.Contains(out.String(), "LT-CANCELLED") {
		t.Fatalf("mysql after Ctrl-C: %v\n%s", err, out.String())
	}
}

// Ctrl-C while MariaDB runs the query's source statement: the client's
// KILL QUERY cancels it, and the statement leaves MariaDB's process list
// (the engine's cancellation reaches the source, not only the client).
func TestMySQLClientCtrlCStopsSourceQuery(t *testing.T) {
	bin, err := exec.LookPath("mysql")
	if err != nil {
		if testenv.RequireServices() {
			t.Fatal("the mysql client is not installed (apt-get install mariadb-client)")
		}
		t.Skip("no mysql client on PATH")
	}
	f := startWith(t, loopbackOK, `
[[grants]]
role = "analyst"
purposes = ["STATS"]
source = "my"
table = "nums"
`)
	admin, err := sql.Open("mysql", f.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// The source statement is the whole self-join, pushed to MariaDB
	// (10^9 rows to count: minutes).
	const marker = "nums"
	running := func() int {
		var n int
		if err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%" + marker + "%' AND ID <> CONNECTION_ID()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	host, port, _ := strings.Cut(f.addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--protocol=TCP", "-h", host, "-P", port, "-u", "alice", "--batch",
		"-e", "SET @lienthong_purpose = 'STATS'; SELECT COUNT(*) FROM my.nums a, my.nums b, my.nums c WHERE a.i + b.i <> c.i")
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+f.token)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for running() == 0 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the source statement never showed in MariaDB's process list:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the client did not end within 60s of Ctrl-C:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "ERROR 1317 (70100)") {
		t.Fatalf("mysql after Ctrl-C: %v\n%s", err, out.String())
	}
	deadline = time.Now().Add(10 * time.Second)
	for running() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("10s after Ctrl-C the source statement still runs in MariaDB")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Streaming a 300,000-row result (two columns) over the MySQL protocol.
func BenchmarkStream(b *testing.B) {
	f := start(b, loopbackOK)
	db := f.open(b, "alice", f.token, "&connectionAttributes=lienthong_purpose:STATS")
	b.ResetTimer()
	var rows int
	for range b.N {
		r, err := db.Query("SELECT x.i, y.word FROM f.big x, f.big y WHERE y.i < 100")
		if err != nil {
			b.Fatal(err)
		}
		var i int64
		var w string
		for r.Next() {
			if err := r.Scan(&i, &w); err != nil {
				b.Fatal(err)
			}
			rows++
		}
		if err := r.Err(); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// A client that connects and never logs in is disconnected after the
// handshake timeout; one that logged in may stay idle past it.
func TestHandshakeTimeout(t *testing.T) {
	old := mysqlwire.SetHandshakeTimeout(time.Second)
	defer mysqlwire.SetHandshakeTimeout(old)
	f := start(t, loopbackOK)
	db := f.open(t, "alice", f.token, "")
	var id int64
	if err := db.QueryRow("SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 4096)
	start := time.Now()
	for {
		if _, err := conn.Read(buf); err != nil { // the greeting, then the close
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("a silent connection was still open after 30s")
			}
			break
		}
	}
	t.Logf("closed after %v", time.Since(start))
	time.Sleep(1500 * time.Millisecond)
	// The same connection (database/sql would silently open another).
	var again int64
	if err := db.QueryRow("SELECT CONNECTION_ID()").Scan(&again); err != nil || again != id {
		t.Fatalf("a logged-in connection idle past the handshake timeout: id %d then %d, %v", id, again, err)
	}
}
