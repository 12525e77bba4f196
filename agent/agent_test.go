package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	_ "modernc.org/sqlite"

	"lienthong/agent"
	"lienthong/agent/agenttest"
	"lienthong/agent/wire"
	"lienthong/catalog"
	"lienthong/config"
	"lienthong/internal/testpki"
)

// citizensDB writes the agency's SQLite database: citizens (some of them
// deceased, in two provinces) and a table the agency does not export.
func citizensDB(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hotich.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{
		`CREATE TABLE citizens (pin TEXT, full_name TEXT, province TEXT, salary INTEGER, deceased INTEGER)`,
		`CREATE TABLE secret (pin TEXT, note TEXT)`,
		`INSERT INTO secret VALUES ('001000000001', 'not for export')`,
	}
	for i := 1; i <= 40; i++ {
		prov := "HN"
		if i%3 == 0 {
			prov = "HCM"
		}
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO citizens VALUES ('%012d', 'Nguyễn Văn %d', '%s', %d, %d)`, 1000000000+i, i, prov, 1000*i, b2i(i%5 == 0)))
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return path
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// agencyTOML is the export rules the adversarial tests run against.
const agencyTOML = `replay_window = "1m"

[[engines]]
name = "central-engine"
purposes = ["audit", "casework"]

[[exports]]
table = "citizens"
columns = ["pin", "full_name", "province"]
pin_column = "pin"
row_filter = "deceased = 0"
max_keys = 10
max_rows = 32

[[exports]]
table = "secret"
columns = ["pin"]
purposes = ["casework"]
require_case = true
`

type fixture struct {
	r      *agenttest.Running
	dbPath string
	engine flight.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	path := citizensDB(t)
	r := agenttest.Start(t, agenttest.Options{Source: config.Source{Name: "hotich", Kind: catalog.SQLite, Path: path}, TOML: agencyTOML, Agency: "hotich"})
	return &fixture{r: r, dbPath: path, engine: dial(t, r.Addr, r.Engine)}
}

// dial connects a raw Flight client with an engine's certificate files.
func dial(t testing.TB, addr string, f testpki.Files) flight.Client {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "127.0.0.1"})))
	if err != nil {
		t.Fatal(err)
	}
	c := flight.NewClientFromConn(cc, nil)
	t.Cleanup(func() { c.Close() })
	return c
}

func nonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// request is a well-formed request for the default export.
func request() *wire.Request {
	return &wire.Request{Version: wire.Version, Nonce: nonce(), Time: time.Now().UTC(), Table: "citizens", Columns: []string{"pin", "full_name"},
		Principal: "analyst1", Agency: "bhxh", Purpose: "audit", Attempt: "a-1"}
}

func str(s string) *string { return &s }

// get sends ticket and reads the whole stream: the rows as text, or the
// error.
func get(t testing.TB, c flight.Client, ticket []byte) ([][]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := c.DoGet(ctx, &flight.Ticket{Ticket: ticket})
	if err != nil {
		return nil, err
	}
	rd, err := flight.NewRecordReader(s)
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	var rows [][]string
	for rd.Next() {
		rec := rd.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			var row []string
			for j := 0; j < int(rec.NumCols()); j++ {
				row = append(row, rec.Column(j).ValueStr(i))
			}
			rows = append(rows, row)
		}
	}
	if err := rd.Err(); err != nil {
		return rows, err
	}
	return rows, nil
}

func enc(t testing.TB, r *wire.Request) []byte {
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// refusalOf is the refusal an error carries (false: none).
func refusalOf(err error) (wire.Refusal, bool) {
	if err == nil {
		return wire.Refusal{}, false
	}
	return wire.ParseRefusal(status.Convert(err).Message())
}

func records(t testing.TB, path string) []agent.Record {
	t.Helper()
	recs, err := agent.ReadLog(path)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// direct queries the SQLite file itself.
func direct(t testing.TB, path, q string) [][]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rs, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out [][]string
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var row []string
		for _, v := range vals {
			row = append(row, v.String)
		}
		out = append(out, row)
	}
	return out
}

func sorted(rows [][]string) [][]string {
	sort.Slice(rows, func(i, j int) bool { return strings.Join(rows[i], "\x00") < strings.Join(rows[j], "\x00") })
	return rows
}

func TestServesExactlyTheRowsADirectQueryGives(t *testing.T) {
	f := newFixture(t)
	req := request()
	req.Columns = []string{"pin", "full_name", "province"}
	eq := wire.Expr{Op: "=", Type: "bool", Args: []wire.Expr{{Op: "col", Name: "province", Type: "utf8"}, {Op: "lit", Type: "utf8", Value: str("HN")}}}
	req.Filters = []wire.Expr{eq}
	got, err := get(t, f.engine, enc(t, req))
	if err != nil {
		t.Fatal(err)
	}
	want := direct(t, f.dbPath, `SELECT pin, full_name, province FROM citizens WHERE deceased = 0 AND province = 'HN'`)
	if len(want) == 0 || !slices.EqualFunc(sorted(got), sorted(want), slices.Equal) {
		t.Fatalf("agent served\n%v\na direct query gives\n%v", got, want)
	}
	// A PIN range is one partition: [from, to).
	req = request()
	req.PinRange = &wire.PinRange{From: "001000000010", To: "001000000020"}
	got, err = get(t, f.engine, enc(t, req))
	if err != nil {
		t.Fatal(err)
	}
	want = direct(t, f.dbPath, `SELECT pin, full_name FROM citizens WHERE deceased = 0 AND pin >= '001000000010' AND pin < '001000000020'`)
	if len(want) == 0 || !slices.EqualFunc(sorted(got), sorted(want), slices.Equal) {
		t.Fatalf("PIN range: agent served\n%v\nwant\n%v", got, want)
	}
	// Limit: exactly that many rows, served.
	req = request()
	req.Limit = 5
	got, err = get(t, f.engine, enc(t, req))
	if err != nil || len(got) != 5 {
		t.Fatalf("limit 5: %d rows, %v", len(got), err)
	}
	// No columns (COUNT(*)): one _lt_one per row.
	req = request()
	req.Columns = nil
	got, err = get(t, f.engine, enc(t, req))
	if err != nil || len(got) != 32 {
		t.Fatalf("no columns: %d rows (want 32 living citizens), %v", len(got), err)
	}
	recs := records(t, f.r.LogPath)
	served := 0
	for _, r := range recs {
		if r.Outcome == "served" && r.Action == "scan" {
			served++
			if r.Engine != agenttest.EngineCN || r.Principal != "analyst1" || r.Purpose != "audit" || r.RequestHash == "" || r.Rows == 0 || r.Bytes == 0 {
				t.Errorf("served record lacks its metadata: %+v", r)
			}
			if r.Body != "" {
				t.Errorf("log_bodies is off but the record has the body")
			}
		}
	}
	if served != 4 {
		t.Errorf("%d served records, want 4", served)
	}
}

func TestMaxRowsEndsTheStreamWithARefusal(t *testing.T) {
	f := newFixture(t)
	// 32 living citizens (40 minus every fifth, by the row filter) and
	// max_rows = 32: served.
	req := request()
	got, err := get(t, f.engine, enc(t, req))
	if err != nil || len(got) != 32 {
		t.Fatalf("32 rows = max_rows: %d rows, %v", len(got), err)
	}
	// A second agent whose max_rows is below the table's size.
	path := citizensDB(t)
	r := agenttest.Start(t, agenttest.Options{Source: config.Source{Kind: catalog.SQLite, Path: path}, TOML: strings.Replace(agencyTOML, "max_rows = 32", "max_rows = 7", 1)})
	c := dial(t, r.Addr, r.Engine)
	got, err = get(t, c, enc(t, request()))
	if rf, ok := refusalOf(err); !ok || rf.Reason != wire.RefusedRowLimit {
		t.Fatalf("more rows than max_rows: got %d rows and %v, want a rows refusal", len(got), err)
	}
	if len(got) > 7 {
		t.Errorf("%d rows passed max_rows 7", len(got))
	}
	recs := records(t, r.LogPath)
	if last := recs[len(recs)-1]; last.Outcome != "refused:rows" {
		t.Errorf("log: %+v", last)
	}
	// With a limit within max_rows, the request is served.
	req = request()
	req.Limit = 7
	if got, err = get(t, c, enc(t, req)); err != nil || len(got) != 7 {
		t.Errorf("limit 7 = max_rows: %d rows, %v", len(got), err)
	}
}

// attack is one hand-crafted request a compromised engine sends.
type attack struct {
	name   string
	client func(f *fixture, t *testing.T) flight.Client // nil: the allowed engine
	ticket func(t *testing.T) []byte
	want   wire.Reason
}

func ticketOf(mod func(r *wire.Request)) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		r := request()
		mod(r)
		return enc(t, r)
	}
}

func col(name, typ string) wire.Expr { return wire.Expr{Op: "col", Name: name, Type: typ} }

func lit(typ, v string) wire.Expr { return wire.Expr{Op: "lit", Type: typ, Value: str(v)} }

func eqExpr(l, r wire.Expr) wire.Expr {
	return wire.Expr{Op: "=", Type: "bool", Args: []wire.Expr{l, r}}
}

var attacks = []attack{
	{name: "unexported column read", ticket: ticketOf(func(r *wire.Request) { r.Columns = []string{"pin", "salary"} }), want: wire.RefusedColumn},
	{name: "unexported column (the row filter's) read", ticket: ticketOf(func(r *wire.Request) { r.Columns = []string{"deceased"} }), want: wire.RefusedColumn},
	{name: "unexported column in a filter", ticket: ticketOf(func(r *wire.Request) {
		r.Filters = []wire.Expr{{Op: ">", Type: "bool", Args: []wire.Expr{col("salary", "int64"), lit("int64", "30000")}}}
	}), want: wire.RefusedColumn},
	{name: "unexported column in a filter, untyped", ticket: ticketOf(func(r *wire.Request) {
		r.Filters = []wire.Expr{{Op: "isnull", Not: true, Args: []wire.Expr{{Op: "col", Name: "deceased"}}}}
	}), want: wire.RefusedColumn},
	{name: "unexported table", ticket: ticketOf(func(r *wire.Request) { r.Table = "sqlite_master"; r.Columns = []string{"sql"} }), want: wire.RefusedTable},
	{name: "SQL in the table name", ticket: ticketOf(func(r *wire.Request) { r.Table = "citizens; DROP TABLE citizens" }), want: wire.RefusedTable},
	{name: "SQL in a column name", ticket: ticketOf(func(r *wire.Request) { r.Columns = []string{`pin" FROM secret; DROP TABLE citizens; --`} }), want: wire.RefusedColumn},
	{name: "SQL in a function name", ticket: ticketOf(func(r *wire.Request) {
		r.Filters = []wire.Expr{{Op: "func", Name: "load_extension('x');--", Type: "bool"}}
	}), want: wire.RefusedFilter},
	{name: "function the source cannot compute", ticket: ticketOf(func(r *wire.Request) {
		r.Filters = []wire.Expr{{Op: "func", Name: "pseudonym", Type: "bool", Args: []wire.Expr{col("pin", "utf8"), lit("utf8", "audit")}}}
	}), want: wire.RefusedFilter},
	{name: "arithmetic the source computes differently", ticket: ticketOf(func(r *wire.Request) {
		r.Filters = []wire.Expr{eqExpr(wire.Expr{Op: "+", Type: "float64", Args: []wire.Expr{lit("float64", "0.1"), lit("float64", "0.2")}}, lit("float64", "0.3"))}
	}), want: wire.RefusedFilter},
	{name: "subquery operator", ticket: ticketOf(func(r *wire.Request) { r.Filters = []wire.Expr{{Op: "exists"}} }), want: wire.RefusedFilter},
	{name: "filter that is not a condition", ticket: ticketOf(func(r *wire.Request) { r.Filters = []wire.Expr{col("full_name", "utf8")} }), want: wire.RefusedFilter},
	{name: "oversized key set", ticket: ticketOf(func(r *wire.Request) {
		in := wire.Expr{Op: "in", Args: []wire.Expr{col("pin", "utf8")}}
		for i := range 11 {
			in.Args = append(in.Args, lit("utf8", fmt.Sprintf("%012d", i)))
		}
		r.Filters = []wire.Expr{in}
	}), want: wire.RefusedKeys},
	{name: "wrong purpose", ticket: ticketOf(func(r *wire.Request) { r.Purpose = "marketing" }), want: wire.RefusedPurpose},
	{name: "no purpose", ticket: ticketOf(func(r *wire.Request) { r.Purpose = "" }), want: wire.RefusedPurpose},
	{name: "purpose the table does not allow", ticket: ticketOf(func(r *wire.Request) { r.Table = "secret"; r.Columns = []string{"pin"} }), want: wire.RefusedPurpose},
	{name: "missing required case", ticket: ticketOf(func(r *wire.Request) { r.Table = "secret"; r.Columns = []string{"pin"}; r.Purpose = "casework" }), want: wire.RefusedPurpose},
	{name: "unknown engine", client: func(f *fixture, t *testing.T) flight.Client { return dial(t, f.r.Addr, f.r.Other) }, ticket: ticketOf(func(*wire.Request) {}), want: wire.RefusedEngine},
	{name: "unknown engine, malformed ticket", client: func(f *fixture, t *testing.T) flight.Client { return dial(t, f.r.Addr, f.r.Other) }, ticket: func(*testing.T) []byte { return []byte(`{"version":`) }, want: wire.RefusedEngine},
	{name: "stale time", ticket: ticketOf(func(r *wire.Request) { r.Time = time.Now().Add(-time.Hour) }), want: wire.RefusedReplay},
	{name: "time from the future", ticket: ticketOf(func(r *wire.Request) { r.Time = time.Now().Add(10 * time.Minute) }), want: wire.RefusedReplay},
	{name: "no nonce", ticket: ticketOf(func(r *wire.Request) { r.Nonce = "" }), want: wire.RefusedRequest},
	{name: "malformed ticket", ticket: func(*testing.T) []byte { return []byte(`{"version":1,"table":"citizens",`) }, want: wire.RefusedRequest},
	{name: "SQL as a field", ticket: func(*testing.T) []byte {
		return []byte(`{"version":1,"nonce":"n1","time":"` + time.Now().UTC().Format(time.RFC3339) + `","table":"citizens","columns":["pin"],"purpose":"audit","sql":"DROP TABLE citizens"}`)
	}, want: wire.RefusedRequest},
	{name: "other version", ticket: ticketOf(func(r *wire.Request) { r.Version = 2 }), want: wire.RefusedRequest},
	{name: "negative limit", ticket: ticketOf(func(r *wire.Request) { r.Limit = -1 }), want: wire.RefusedRequest},
	{name: "duplicate column", ticket: ticketOf(func(r *wire.Request) { r.Columns = []string{"pin", "pin"} }), want: wire.RefusedRequest},
	{name: "deep filter", ticket: ticketOf(func(r *wire.Request) {
		e := eqExpr(col("pin", "utf8"), lit("utf8", "x"))
		for range wire.MaxExprDepth + 1 {
			e = wire.Expr{Op: "not", Args: []wire.Expr{e}}
		}
		r.Filters = []wire.Expr{e}
	}), want: wire.RefusedFilter},
}

// runAttacks sends every attack and returns what went wrong (empty: every
// one was refused with its reason and logged as such).
func runAttacks(t *testing.T, f *fixture) []string {
	var problems []string
	hashes := map[string]wire.Reason{}
	for _, a := range attacks {
		c := f.engine
		if a.client != nil {
			c = a.client(f, t)
		}
		tk := a.ticket(t)
		rows, err := get(t, c, tk)
		r, ok := refusalOf(err)
		if !ok || r.Reason != a.want {
			problems = append(problems, fmt.Sprintf("%s: got %d rows and %v, want refusal %q", a.name, len(rows), err, a.want))
			continue
		}
		if len(rows) > 0 {
			problems = append(problems, fmt.Sprintf("%s: refused after %d rows", a.name, len(rows)))
		}
		hashes[wire.Hash(tk)] = a.want
	}
	// Every refusal is in the agency's log, with the request's hash.
	logged := map[string]string{}
	for _, r := range records(t, f.r.LogPath) {
		logged[r.RequestHash] = r.Outcome
	}
	for h, want := range hashes {
		if got := logged[h]; got != "refused:"+string(want) {
			problems = append(problems, fmt.Sprintf("request %s…: logged as %q, want refused:%s", h[:12], got, want))
		}
	}
	return problems
}

func TestAdversarialRequestsAreRefusedAndLogged(t *testing.T) {
	f := newFixture(t)
	before := direct(t, f.dbPath, `SELECT (SELECT COUNT(*) FROM citizens), (SELECT COUNT(*) FROM secret), (SELECT group_concat(name) FROM sqlite_master)`)
	for _, p := range runAttacks(t, f) {
		t.Error(p)
	}
	// A replayed request: the first is served, the copy refused.
	tk := enc(t, request())
	if _, err := get(t, f.engine, tk); err != nil {
		t.Fatalf("first request: %v", err)
	}
	if _, err := get(t, f.engine, tk); !isRefusal(err, wire.RefusedReplay) {
		t.Errorf("replayed request: %v", err)
	}
	// A certificate of another CA: TLS refuses, nothing is served.
	foreign := dial(t, f.r.Addr, f.r.Foreign)
	if rows, err := get(t, foreign, enc(t, request())); err == nil || len(rows) > 0 {
		t.Errorf("a client certificate from another CA was served: %d rows, %v", len(rows), err)
	} else if _, ok := refusalOf(err); ok {
		t.Errorf("another CA's certificate reached the request checks (%v); TLS must refuse it", err)
	}
	// An oversized ticket is refused before it is parsed.
	big := bytes.Repeat([]byte(" "), wire.MaxTicketBytes+1)
	if _, err := get(t, f.engine, big); err == nil {
		t.Error("an oversized ticket was accepted")
	}
	after := direct(t, f.dbPath, `SELECT (SELECT COUNT(*) FROM citizens), (SELECT COUNT(*) FROM secret), (SELECT group_concat(name) FROM sqlite_master)`)
	if !slices.EqualFunc(before, after, slices.Equal) {
		t.Errorf("the source changed: %v -> %v", before, after)
	}
	recs := records(t, f.r.LogPath)
	last := recs[len(recs)-1]
	if last.Outcome != "refused:request" && last.Outcome != "refused:replay" {
		t.Logf("last record: %+v", last)
	}
	if _, err := agent.VerifyFile(f.r.LogPath); err != nil {
		t.Errorf("the log does not verify: %v", err)
	}
}

func isRefusal(err error, want wire.Reason) bool {
	r, ok := refusalOf(err)
	return ok && r.Reason == want
}

// The mutation check: with one defence switched off the adversarial suite
// must fail (a suite that passes either way proves nothing).
func TestAdversarialSuiteNoticesAMissingDefence(t *testing.T) {
	for _, d := range []string{agent.DefColumns, agent.DefCanEval, agent.DefReplay} {
		t.Run(d, func(t *testing.T) {
			f := newFixture(t)
			restore := agent.SwitchOff(d)
			defer restore()
			if problems := runAttacks(t, f); len(problems) == 0 {
				t.Errorf("with %s switched off the adversarial suite still passes", d)
			} else {
				t.Logf("with %s off the suite fails: %s", d, problems[0])
			}
		})
	}
}

func TestCatalogListsOnlyExportedTablesAndColumns(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cat := catalogOf(t, f.engine)
	if cat.Agency != "hotich" || len(cat.Tables) != 2 {
		t.Fatalf("catalog: %+v", cat)
	}
	c := cat.Tables[0]
	var names []string
	for _, col := range c.Columns {
		names = append(names, col.Name+":"+col.Type)
	}
	if c.Name != "citizens" || c.PINColumn != "pin" || strings.Join(names, ",") != "pin:utf8,full_name:utf8,province:utf8" {
		t.Errorf("citizens: %+v", c)
	}
	// Ping answers; another engine gets the engine refusal.
	ps, err := f.engine.DoAction(ctx, &flight.Action{Type: wire.ActionPing})
	if err == nil {
		_, err = ps.Recv()
	}
	if err != nil && err != io.EOF {
		t.Errorf("ping: %v", err)
	}
	other := dial(t, f.r.Addr, f.r.Other)
	os, err := other.DoAction(ctx, &flight.Action{Type: wire.ActionCatalog})
	if err == nil {
		_, err = os.Recv()
	}
	if !isRefusal(err, wire.RefusedEngine) {
		t.Errorf("another engine's catalog: %v", err)
	}
	// Everything else is Unimplemented.
	if _, err := f.engine.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte("SELECT 1")}); status.Code(err) != codes.Unimplemented {
		t.Errorf("GetFlightInfo: %v", err)
	}
	hs, err := f.engine.Handshake(ctx)
	if err == nil {
		_, err = hs.Recv()
	}
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("Handshake: %v", err)
	}
	as, err := f.engine.DoAction(ctx, &flight.Action{Type: "CancelFlightInfo"})
	if err == nil {
		_, err = as.Recv()
	}
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("another action: %v", err)
	}
	// The health endpoint: agency, source, the log's head.
	resp, err := http.Get("http://" + f.r.HealthAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h agent.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || resp.StatusCode != 200 || h.Agency != "hotich" || h.Source != "up" || h.Log.Seq < 3 || len(h.Log.Hash) != 64 {
		t.Errorf("healthz: %d %+v %v", resp.StatusCode, h, err)
	}
}

func TestLogVerifyDetectsAnEditedByte(t *testing.T) {
	f := newFixture(t)
	for range 3 {
		if _, err := get(t, f.engine, enc(t, request())); err != nil {
			t.Fatal(err)
		}
	}
	n, err := agent.VerifyFile(f.r.LogPath)
	if err != nil || n < 4 {
		t.Fatalf("verify: %d records, %v", n, err)
	}
	data, err := os.ReadFile(f.r.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	// Record 3: change one digit of its row count.
	i := bytes.Index(lines[2], []byte(`"rows":`))
	if i < 0 {
		t.Fatalf("record 3 has no rows: %s", lines[2])
	}
	edited := slices.Clone(data)
	at := len(bytes.Join(lines[:2], nil)) + i + len(`"rows":`)
	edited[at] ^= 1 // 3 ↔ 2 and so on: still valid JSON
	bad := filepath.Join(t.TempDir(), "edited.log")
	if err := os.WriteFile(bad, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = agent.VerifyFile(bad)
	var ve *agent.VerifyError
	if !errors.As(err, &ve) || ve.Seq != 3 {
		t.Fatalf("edited record 3: %v", err)
	}
	// Removing a whole record breaks the numbering at it.
	cut := append(bytes.Join(lines[:1], nil), bytes.Join(lines[2:], nil)...)
	if err := os.WriteFile(bad, cut, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err = agent.VerifyFile(bad); !errors.As(err, &ve) || ve.Seq != 2 {
		t.Fatalf("removed record 2: %v", err)
	}
}

func TestLogBodiesAndSearch(t *testing.T) {
	path := citizensDB(t)
	r := agenttest.Start(t, agenttest.Options{Source: config.Source{Kind: catalog.SQLite, Path: path}, TOML: agencyTOML, LogBodies: true})
	c := dial(t, r.Addr, r.Engine)
	tk := enc(t, request())
	if _, err := get(t, c, tk); err != nil {
		t.Fatal(err)
	}
	bad := request()
	bad.Purpose = "marketing"
	_, _ = get(t, c, enc(t, bad))
	recs := records(t, r.LogPath)
	var body string
	for _, rc := range recs {
		if rc.RequestHash == wire.Hash(tk) {
			body = rc.Body
		}
	}
	if body != string(tk) {
		t.Errorf("log_bodies: body %q, want the ticket", body)
	}
	got, err := agent.Search(r.LogPath, agent.Filter{Outcome: "refused", Engine: agenttest.EngineCN})
	if err != nil || len(got) != 1 || got[0].Outcome != "refused:purpose" || got[0].Purpose != "marketing" {
		t.Errorf("search refused: %+v %v", got, err)
	}
	got, _ = agent.Search(r.LogPath, agent.Filter{Table: "citizens", Outcome: "served", From: time.Now().Add(-time.Minute)})
	if len(got) != 1 {
		t.Errorf("search served citizens: %+v", got)
	}
	got, _ = agent.Search(r.LogPath, agent.Filter{To: time.Now().Add(-time.Hour)})
	if len(got) != 0 {
		t.Errorf("search before an hour ago: %+v", got)
	}
}

func TestAgentReopensItsLog(t *testing.T) {
	path := citizensDB(t)
	r := agenttest.Start(t, agenttest.Options{Source: config.Source{Kind: catalog.SQLite, Path: path}, TOML: agencyTOML})
	c := dial(t, r.Addr, r.Engine)
	if _, err := get(t, c, enc(t, request())); err != nil {
		t.Fatal(err)
	}
	if err := r.Agent.Close(); err != nil {
		t.Fatal(err)
	}
	// A torn last record (the agent died while writing it) is cut off and
	// noted; the chain continues.
	f, err := os.OpenFile(r.LogPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":99,"prev":"`)
	f.Close()
	cfg, err := agent.Load(r.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.Open(context.Background(), cfg, agent.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	n, err := agent.VerifyFile(r.LogPath)
	if err != nil || n != 5 { // open, request, close, open (with its note), close
		recs := records(t, r.LogPath)
		t.Fatalf("reopened log: %d records, %v: %+v", n, err, recs)
	}
	recs := records(t, r.LogPath)
	if !strings.Contains(recs[3].Note, "incomplete") {
		t.Errorf("the open record does not note the repair: %+v", recs[3])
	}
	// A log edited in the middle is not continued.
	data, _ := os.ReadFile(r.LogPath)
	data[40] ^= 1
	os.WriteFile(r.LogPath, data, 0o600)
	if a, err := agent.Open(context.Background(), cfg, agent.Options{}); err == nil {
		a.Close()
		t.Fatal("the agent continued an edited log")
	}
}

// Many concurrent requests and a garbage stream neither take the agent
// down nor leave it unable to serve.
func TestConcurrentRequestsAndGarbage(t *testing.T) {
	f := newFixture(t)
	errs := make(chan error, 40)
	for i := range 40 {
		go func() {
			var tk []byte
			if i%2 == 0 {
				tk = enc(t, request())
			} else {
				tk = make([]byte, 1000)
				_, _ = rand.Read(tk)
			}
			_, err := get(t, f.engine, tk)
			if i%2 == 0 && err != nil && !isRefusal(err, wire.RefusedRate) {
				errs <- err
				return
			}
			errs <- nil
		}()
	}
	for range 40 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if _, err := get(t, f.engine, enc(t, request())); err != nil {
		t.Fatalf("after the storm: %v", err)
	}
	recs := records(t, f.r.LogPath)
	if len(recs) < 42 {
		t.Errorf("%d records for 41 requests and the open", len(recs))
	}
}

// Odd but well-formed filters: each is answered (rows or a refusal),
// never with an internal error (a recovered panic) or a hang, and the
// agent serves on.
func TestOddFiltersNeverCrashTheAgent(t *testing.T) {
	f := newFixture(t)
	pin := col("pin", "utf8")
	null := wire.Expr{Op: "lit", Type: "utf8"}
	odd := []wire.Expr{
		{Op: "in"},
		{Op: "in", Args: []wire.Expr{pin}},
		{Op: "case", Type: "bool", Else: true},
		{Op: "case", Type: "bool", Args: []wire.Expr{pin, pin, pin}},
		{Op: "cast", Type: "null", Args: []wire.Expr{pin}},
		{Op: "cast", Type: "bool", Args: []wire.Expr{pin}},
		{Op: "between", Args: []wire.Expr{pin, lit("int64", "1"), lit("date32", "2020-01-01")}},
		{Op: "like", Args: []wire.Expr{pin, pin}},
		{Op: "like", Args: []wire.Expr{pin, lit("utf8", strings.Repeat("%_", 500))}},
		{Op: "=", Type: "bool", Args: []wire.Expr{pin, null}},
		{Op: "=", Type: "bool", Args: []wire.Expr{lit("decimal128(38,38)", "0.1"), lit("int64", "9223372036854775807")}},
		{Op: "=", Type: "bool", Args: []wire.Expr{lit("int64", "99999999999999999999"), lit("int64", "1")}},
		{Op: "isnull", Args: []wire.Expr{{Op: "lit", Type: "null"}}},
		{Op: "not", Args: []wire.Expr{lit("bool", "true")}},
		{Op: "neg", Args: []wire.Expr{pin}},
		{Op: "AND", Type: "bool", Args: []wire.Expr{pin, lit("utf8", "x")}},
		{Op: "func", Name: "length", Type: "int64", Args: []wire.Expr{}},
		{Op: "func", Name: "substring", Type: "utf8", Args: []wire.Expr{pin, lit("int64", "-5"), lit("int64", "0")}},
		{Op: "func", Name: "lower", Type: "bool", Args: []wire.Expr{pin}},
		{Op: "col", Name: "pin", Type: "bool"},
		{Op: "lit", Type: "bool", Value: str("maybe")},
		{Op: "lit", Type: "timestamp[us,UTC]", Value: str("2026-13-45 25:61:61")},
		{Op: "=", Type: "bool", Args: []wire.Expr{col("pin", ""), lit("utf8", "'; DROP TABLE citizens; --\x00")}},
	}
	for i, e := range odd {
		req := request()
		req.Filters = []wire.Expr{e}
		_, err := get(t, f.engine, enc(t, req))
		if err != nil {
			if _, ok := refusalOf(err); !ok {
				t.Errorf("odd filter %d %+v: %v (not a refusal)", i, e, err)
			}
		}
	}
	if rows, err := get(t, f.engine, enc(t, request())); err != nil || len(rows) != 32 {
		t.Fatalf("after the odd filters: %d rows, %v", len(rows), err)
	}
}

// A batch of wide rows is sent in messages a gRPC client with default
// limits (4 MiB) accepts.
func TestWideRowsFitClientMessageLimits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wide.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE notes (pin TEXT, body TEXT)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM g WHERE i < 3000) INSERT INTO notes SELECT printf('%012d', i), printf('%.2000c', 'x') FROM g`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	r := agenttest.Start(t, agenttest.Options{Source: config.Source{Kind: catalog.SQLite, Path: path}})
	c := dial(t, r.Addr, r.Engine)
	req := request()
	req.Table, req.Columns, req.Purpose = "notes", []string{"pin", "body"}, agenttest.Purpose
	rows, err := get(t, c, enc(t, req))
	if err != nil || len(rows) != 3000 || len(rows[2999][1]) != 2000 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
}
