package mysql_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	_ "github.com/go-sql-driver/mysql"

	"lienthong/catalog"
	"lienthong/config"
	"lienthong/connectors"
	"lienthong/connectors/conformance"
	"lienthong/connectors/mysql"
	"lienthong/internal/testenv"
	"lienthong/planner/sqlgen"
)

var myTypes = map[conformance.ColType]string{
	conformance.I16: "smallint", conformance.I32: "int", conformance.I64: "bigint",
	conformance.F64: "double", conformance.Dec: "decimal(16,2)", conformance.Text: "varchar(200)",
	conformance.Date: "date", conformance.TS: "datetime(6)", conformance.TSTZ: "timestamp(6) NULL",
	conformance.Bool: "boolean", conformance.Bin: "varbinary(100)",
}

var myWant = map[conformance.ColType]arrow.DataType{
	conformance.I16: arrow.PrimitiveTypes.Int16, conformance.I32: arrow.PrimitiveTypes.Int32,
	conformance.I64: arrow.PrimitiveTypes.Int64, conformance.F64: arrow.PrimitiveTypes.Float64,
	conformance.Dec: &arrow.Decimal128Type{Precision: 16, Scale: 2}, conformance.Text: arrow.BinaryTypes.String,
	conformance.Date: arrow.FixedWidthTypes.Date32, conformance.TS: &arrow.TimestampType{Unit: arrow.Microsecond},
	conformance.TSTZ: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
	// boolean is tinyint(1): an int8 unless the catalog config says boolean.
	conformance.Bool: arrow.PrimitiveTypes.Int8, conformance.Bin: arrow.BinaryTypes.Binary,
}

func myString(s string) string { return conformance.QuoteString(strings.ReplaceAll(s, `\`, `\\`)) }

func myLiteral(t conformance.ColType, in string) string {
	switch t {
	case conformance.Text, conformance.Date, conformance.TS:
		return myString(in)
	case conformance.TSTZ:
		// MariaDB has no offset syntax: convert in the server.
		return fmt.Sprintf("CONVERT_TZ(%s, %s, '+00:00')", myString(in[:len(in)-6]), myString(in[len(in)-6:]))
	case conformance.Bin:
		return "X'" + in + "'"
	}
	return in
}

func myExec(t *testing.T, dsn string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range append([]string{"SET time_zone = '+00:00'", "SET NAMES utf8mb4"}, stmts...) {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func harness() *conformance.Harness {
	return &conformance.Harness{
		Kind:             catalog.MySQL,
		Dialect:          sqlgen.MySQL,
		TypeName:         func(c conformance.ColType) string { return myTypes[c] },
		Literal:          myLiteral,
		Want:             func(c conformance.ColType) arrow.DataType { return myWant[c] },
		NullabilityKnown: true,
		BigSQL: func() []string {
			return []string{
				"CREATE TABLE big (id bigint NOT NULL PRIMARY KEY, txt varchar(20))",
				"SET SESSION max_recursive_iterations = 1000000",
				fmt.Sprintf(`INSERT INTO big WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %d) SELECT n, CONCAT('r', n) FROM s`, conformance.BigRows),
			}
		},
		Build: func(t *testing.T, _ []string, stmts []string) config.Source {
			dsn := testenv.MySQLDSN(t)
			myExec(t, dsn, stmts...)
			return config.Source{Name: "hotich", Kind: catalog.MySQL, DSN: dsn, ConnectTimeout: config.Duration{Duration: 5 * time.Second}}
		},
		Sleep:     func(m string) string { return "SELECT SLEEP(30) AS x /* " + m + " */" },
		SleepType: arrow.PrimitiveTypes.Int64,
		Running: func(t *testing.T, src config.Source, marker string) bool {
			db, err := sql.Open("mysql", src.DSN)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var n int
			err = db.QueryRow(`SELECT count(*) FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND command = 'Query' AND INSTR(info, ?) > 0`, marker).Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			return n > 0
		},
		Down: func(t *testing.T) config.Source {
			return config.Source{Name: "hotich", Kind: catalog.MySQL, DSN: "root@tcp(127.0.0.1:1)/hotich",
				ConnectTimeout: config.Duration{Duration: 2 * time.Second}}
		},
	}
}

func TestConformance(t *testing.T) { conformance.Run(t, harness()) }

// TestTinyintAsBool: where the catalog says a tinyint(1) is boolean, the
// planner asks for bool and the values convert.
func TestTinyintAsBool(t *testing.T) {
	dsn := testenv.MySQLDSN(t)
	myExec(t, dsn, "CREATE TABLE f (id int, b tinyint(1), u bigint unsigned, d decimal(38,10), s char(3))",
		"INSERT INTO f VALUES (1, 1, 18446744073709551615, 1234567890123456789012345678.0123456789, 'ab'), (2, 0, 0, -0.0000000001, NULL), (3, NULL, NULL, NULL, 'x')")
	c, err := mysql.Open(context.Background(), config.Source{Name: "m", Kind: catalog.MySQL, DSN: "mysql://root@127.0.0.1:3306/" + dbOf(t, dsn)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tables, err := c.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f := tables[0]
	if got := f.Column("u").Type; !arrow.TypeEqual(got, &arrow.Decimal128Type{Precision: 20}) {
		t.Errorf("bigint unsigned as %s", got)
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "u", Type: f.Column("u").Type, Nullable: true},
		{Name: "d", Type: f.Column("d").Type, Nullable: true},
		{Name: "s", Type: f.Column("s").Type, Nullable: true},
	}, nil)
	rr, err := c.Query(context.Background(), sqlgen.Statement{SQL: "SELECT b, u, d, s FROM f ORDER BY id"}, schema)
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
	want := "true|18446744073709551615|1234567890123456789012345678.0123456789|ab false|0|-0.0000000001|NULL NULL|NULL|NULL|x"
	if g := strings.Join(got, " "); g != want {
		t.Fatalf("got  %s\nwant %s", g, want)
	}
}

func dbOf(t *testing.T, dsn string) string {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.DBName
}

// TestLoginRefused: a wrong password is ErrSourceUnavailable naming the
// source, and the password is not in the message.
func TestLoginRefused(t *testing.T) {
	dsn := testenv.MySQLDSN(t)
	db := dbOf(t, dsn)
	_, err := mysql.Open(context.Background(), config.Source{Name: "hotich", Kind: catalog.MySQL,
		DSN: "mysql://lt_nobody:s3cret-pw@127.0.0.1:3306/" + db})
	if !errors.Is(err, connectors.ErrSourceUnavailable) || !strings.Contains(err.Error(), "hotich") || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("got %v", err)
	}
}

// TestSessionSettings: whatever the server defaults, the session is UTC,
// utf8mb4 and has backslash escapes on and ANSI_QUOTES off.
func TestSessionSettings(t *testing.T) {
	dsn := testenv.MySQLDSN(t)
	c, err := mysql.Open(context.Background(), config.Source{Name: "hotich", Kind: catalog.MySQL, DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "tz", Type: arrow.BinaryTypes.String}, {Name: "cs", Type: arrow.BinaryTypes.String},
		{Name: "mode", Type: arrow.BinaryTypes.String}, {Name: "bs", Type: arrow.BinaryTypes.String},
	}, nil)
	rr, err := c.Query(context.Background(), sqlgen.Statement{SQL: `SELECT @@session.time_zone, @@character_set_results, @@session.sql_mode, 'a\\b'`}, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatal(rr.Err())
	}
	rec := rr.RecordBatch()
	var got []string
	for _, col := range rec.Columns() {
		got = append(got, conformance.Canon(col, 0))
	}
	if g := strings.Join(got, "|"); g != `+00:00|utf8mb4|NO_ENGINE_SUBSTITUTION|a\b` {
		t.Fatalf("session: %s", g)
	}
}

// TestConnectTimeout: an address that never answers fails within the
// source's connect timeout.
func TestConnectTimeout(t *testing.T) {
	start := time.Now()
	_, err := mysql.Open(context.Background(), config.Source{Name: "hotich", Kind: catalog.MySQL,
		DSN: "root@tcp(10.255.255.1:3306)/hotich", ConnectTimeout: config.Duration{Duration: 700 * time.Millisecond}})
	if !errors.Is(err, connectors.ErrSourceUnavailable) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 1700*time.Millisecond {
		t.Fatalf("took %s", d)
	}
	t.Logf("%v after %s", err, time.Since(start).Round(time.Millisecond))
}

// hostileBuild is Build for a database reached as a user whose sessions
// start in MariaDB's most hostile sql_mode for rendered SQL
// (NO_BACKSLASH_ESCAPES, ANSI_QUOTES, PIPES_AS_CONCAT), another time zone
// and a latin1 connection. MariaDB has no per-user or per-database
// sql_mode, so the user is a fresh non-SUPER account and the global
// init_connect (which MariaDB runs for non-SUPER logins only) sets the
// mode for that account alone: root's and other accounts' sessions, other
// tests' included, are untouched. init_connect is restored afterwards.
func hostileBuild(t *testing.T, _ []string, stmts []string) config.Source {
	dsn := testenv.MySQLDSN(t)
	myExec(t, dsn, stmts...)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := cfg.DBName
	user := "lt_hostile_" + strings.TrimPrefix(db, "lt_")
	if len(user) > 80 {
		user = user[:80]
	}
	const pw = "lt-hostile-pw"
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var prev string
	if err := admin.QueryRow("SELECT @@GLOBAL.init_connect").Scan(&prev); err != nil {
		t.Fatal(err)
	}
	if prev != "" && !strings.Contains(prev, "lt\\_hostile\\_") {
		t.Skipf("the server has an init_connect of its own (%q); not replacing it", prev)
	}
	hostile := "SET SESSION sql_mode = IF(CURRENT_USER() LIKE 'lt\\_hostile\\_%', 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES,PIPES_AS_CONCAT,IGNORE_SPACE', @@SESSION.sql_mode), " +
		"time_zone = IF(CURRENT_USER() LIKE 'lt\\_hostile\\_%', '+07:00', @@SESSION.time_zone), " +
		"character_set_client = IF(CURRENT_USER() LIKE 'lt\\_hostile\\_%', 'latin1', @@SESSION.character_set_client)"
	for _, s := range []string{
		fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", user, pw),
		fmt.Sprintf("CREATE USER '%s'@'localhost' IDENTIFIED BY '%s'", user, pw),
		fmt.Sprintf("GRANT SELECT ON `%s`.* TO '%s'@'127.0.0.1'", db, user),
		fmt.Sprintf("GRANT SELECT ON `%s`.* TO '%s'@'localhost'", db, user),
		"SET GLOBAL init_connect = " + myString(hostile),
	} {
		if _, err := admin.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	t.Cleanup(func() {
		a, err := sql.Open("mysql", testenv.MySQLBase())
		if err != nil {
			t.Log(err)
			return
		}
		defer a.Close()
		for _, s := range []string{
			"SET GLOBAL init_connect = " + myString(prev),
			fmt.Sprintf("DROP USER IF EXISTS '%s'@'127.0.0.1', '%s'@'localhost'", user, user),
		} {
			if _, err := a.Exec(s); err != nil {
				t.Logf("%s: %v", s, err)
			}
		}
	})
	hcfg := cfg.Clone()
	hcfg.User, hcfg.Passwd = user, pw
	hdsn := hcfg.FormatDSN()
	// The hostile mode is in force for a plain new session of that user:
	// the suite is not vacuous.
	hdb, err := sql.Open("mysql", hdsn)
	if err != nil {
		t.Fatal(err)
	}
	defer hdb.Close()
	var mode string
	if err := hdb.QueryRow("SELECT @@SESSION.sql_mode").Scan(&mode); err != nil || !strings.Contains(mode, "NO_BACKSLASH_ESCAPES") || !strings.Contains(mode, "ANSI_QUOTES") {
		t.Fatalf("hostile sql_mode not in force: %q (%v)", mode, err)
	}
	return config.Source{Name: "hotich", Kind: catalog.MySQL, DSN: hdsn, ConnectTimeout: config.Duration{Duration: 5 * time.Second}}
}

// TestInjection: the tricky-literal corpus in every pushable predicate
// form, as a user whose sessions start in the most hostile sql_mode.
func TestInjection(t *testing.T) {
	h := harness()
	h.Hostile = hostileBuild
	h.LongText = "longtext"
	conformance.RunInjection(t, h)
}

// TestConformanceHostile: the whole suite under that user.
func TestConformanceHostile(t *testing.T) {
	h := harness()
	h.Build = hostileBuild
	conformance.Run(t, h)
}

// TestDriverLogsStructured: the driver's own messages (here: a pooled
// connection the server killed) go to the logger SetLogger installs, as
// JSON, not as plain lines on stderr.
func TestDriverLogsStructured(t *testing.T) {
	var buf syncBuf
	mysql.SetLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { mysql.SetLogger(nil) })
	dsn := testenv.MySQLDSN(t)
	db := dbOf(t, dsn)
	c, err := mysql.Open(context.Background(), config.Source{Name: "hotich", Kind: catalog.MySQL, DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	run := func() {
		rr, err := c.Query(context.Background(), sqlgen.Statement{SQL: "SELECT 1 AS x"}, schema)
		if err != nil {
			t.Fatal(err)
		}
		for rr.Next() {
		}
		if err := rr.Err(); err != nil {
			t.Fatal(err)
		}
		rr.Release()
	}
	run()
	// Kill the connector's idle pooled connection from another session.
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	admin.SetMaxIdleConns(0)
	var me int64
	if err := admin.QueryRow("SELECT CONNECTION_ID()").Scan(&me); err != nil {
		t.Fatal(err)
	}
	rows, err := admin.Query("SELECT id FROM information_schema.processlist WHERE db = ? AND id <> ?", db, me)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) == 0 {
		t.Fatal("no pooled connection to kill")
	}
	for _, id := range ids {
		if _, err := admin.Exec(fmt.Sprintf("KILL %d", id)); err != nil && !strings.Contains(err.Error(), "1094") { // gone already
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	run() // the driver finds the dead connection, logs, and uses a new one
	out := buf.String()
	if !strings.Contains(out, `"msg":"mysql driver"`) {
		t.Fatalf("no structured driver line; got %q", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSessionSettingsOverrideDSN: a DSN naming the pinned variables itself
// (in another letter case, so the driver sends both) cannot change them.
func TestSessionSettingsOverrideDSN(t *testing.T) {
	dsn := testenv.MySQLDSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	dsn += sep + "SQL_MODE=%27ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT%27&Time_Zone=%27%2B07:00%27&character_set_results=latin1"
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "tz", Type: arrow.BinaryTypes.String}, {Name: "cs", Type: arrow.BinaryTypes.String},
		{Name: "mode", Type: arrow.BinaryTypes.String}, {Name: "bs", Type: arrow.BinaryTypes.String},
	}, nil)
	// The driver's SET lists the DSN's variables in map order: try often.
	for range 8 {
		c, err := mysql.Open(context.Background(), config.Source{Name: "hotich", Kind: catalog.MySQL, DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		rr, err := c.Query(context.Background(), sqlgen.Statement{SQL: `SELECT @@session.time_zone, @@character_set_results, @@session.sql_mode, 'a\\b'`}, schema)
		if err != nil {
			c.Close()
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
		c.Close()
		if g := strings.Join(got, "|"); g != `+00:00|utf8mb4|NO_ENGINE_SUBSTITUTION|a\b` {
			t.Fatalf("session: %s", g)
		}
	}
}
