package agent_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"lienthong/agent"
	"lienthong/agent/agenttest"
	"lienthong/agent/wire"
	"lienthong/catalog"
	"lienthong/config"
	"lienthong/internal/testenv"
	"lienthong/internal/testpki"
)

// reloadTOML is the rules the reload tests start with: people (HN only)
// and benefits, both to central-engine for audit.
const reloadTOML = `[[engines]]
name = "central-engine"
purposes = ["audit"]

[[exports]]
table = "people"
columns = ["pin", "full_name"]
pin_column = "pin"
row_filter = "province = 'HN'"

[[exports]]
table = "benefits"
columns = ["pin", "amount"]
`

// benefitsExport is reloadTOML's second export, which tests remove.
const benefitsExport = `[[exports]]
table = "benefits"
columns = ["pin", "amount"]
`

// reloadAgent starts an agent over a PostgreSQL database of its own.
func reloadAgent(t *testing.T) (*agenttest.Running, string) {
	t.Helper()
	dsn := testenv.PostgresWith(t,
		`CREATE TABLE people (pin text, full_name text, province text)`,
		`INSERT INTO people VALUES ('001000000001', 'Lê Văn A', 'HN'), ('001000000002', 'Trần Thị B', 'HN'), ('001000000003', 'Phạm C', 'DN')`,
		`CREATE TABLE benefits (pin text, amount bigint)`,
		`INSERT INTO benefits VALUES ('001000000001', 100), ('001000000003', 300)`,
	)
	return agenttest.Start(t, agenttest.Options{Source: config.Source{Kind: catalog.Postgres, DSN: dsn}, TOML: reloadTOML}), dsn
}

// read asks for table's columns.
func read(t *testing.T, c flight.Client, table string, cols ...string) ([][]string, error) {
	t.Helper()
	req := request()
	req.Table, req.Columns = table, cols
	return get(t, c, enc(t, req))
}

// served fails the test unless table's read is served with want rows.
func served(t *testing.T, c flight.Client, want int, table string, cols ...string) [][]string {
	t.Helper()
	rows, err := read(t, c, table, cols...)
	if err != nil || len(rows) != want {
		t.Fatalf("read of %s: %d rows %v, %v; want %d rows served", table, len(rows), rows, err, want)
	}
	return sorted(rows)
}

// lastReload is the log's last reload record.
func lastReload(t *testing.T, path string) agent.Record {
	t.Helper()
	recs := records(t, path)
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Kind == "reload" {
			return recs[i]
		}
	}
	t.Fatalf("no reload record in %+v", recs)
	return agent.Record{}
}

// lineOf is the 1-based line of the first line of path holding s.
func lineOf(t *testing.T, path, s string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", path, s)
	return 0
}

// (a) An export removed by a reload is refused from then on; a changed
// row filter applies from then on; the reload is in the request log.
func TestReloadRemovesAnExport(t *testing.T) {
	r, _ := reloadAgent(t)
	c := dial(t, r.Addr, r.Engine)
	served(t, c, 2, "benefits", "pin", "amount")
	if got := served(t, c, 2, "people", "pin"); got[0][0] != "001000000001" || got[1][0] != "001000000002" {
		t.Fatalf("people before the reload: %v", got)
	}

	r.Edit(t, benefitsExport, "")
	r.Edit(t, `row_filter = "province = 'HN'"`, `row_filter = "province = 'DN'"`)
	if err := r.Agent.Reload(); err != nil {
		t.Fatal(err)
	}
	_, err := read(t, c, "benefits", "pin", "amount")
	if ref, ok := refusalOf(err); !ok || ref.Reason != wire.RefusedTable || ref.Name != "benefits" {
		t.Fatalf("benefits after its export was removed: %v, want a table refusal", err)
	}
	if got := served(t, c, 1, "people", "pin"); got[0][0] != "001000000003" {
		t.Fatalf("people after the row filter changed: %v, want DN's only", got)
	}
	// The catalog lists what is in force.
	cat := catalogOf(t, c)
	if len(cat.Tables) != 1 || cat.Tables[0].Name != "people" {
		t.Fatalf("catalog after the reload: %+v", cat.Tables)
	}

	rec := lastReload(t, r.LogPath)
	if rec.Outcome != "reloaded" || !strings.Contains(rec.Note, "exports removed benefits") || !strings.Contains(rec.Note, "exports changed people") {
		t.Fatalf("reload record: %+v", rec)
	}
	recs := records(t, r.LogPath)
	if next := recs[rec.Seq]; next.Kind != "request" || next.Table != "benefits" || next.Outcome != "refused:table" {
		t.Fatalf("record after the reload: %+v", next)
	}
	if _, err := agent.VerifyFile(r.LogPath); err != nil {
		t.Fatal(err)
	}
}

// catalogOf runs the catalog action.
func catalogOf(t *testing.T, c flight.Client) wire.Catalog {
	t.Helper()
	s, err := c.DoAction(t.Context(), &flight.Action{Type: wire.ActionCatalog})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var cat wire.Catalog
	if err := json.Unmarshal(res.Body, &cat); err != nil {
		t.Fatal(err)
	}
	return cat
}

// (b) A file with an error is refused at its line, whatever the error
// (syntax, a column the source lacks, a row filter that does not bind),
// and the rules before keep serving.
func TestReloadRefusesABrokenFile(t *testing.T) {
	r, _ := reloadAgent(t)
	c := dial(t, r.Addr, r.Engine)
	good, err := os.ReadFile(r.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"syntax", `columns = ["pin", "amount"]`, `columns = ["pin", "amount"`, ""},
		{"no such column", `columns = ["pin", "amount"]`, `columns = ["pin", "amountt"]`, `export "benefits": table benefits has no column "amountt"`},
		{"row filter", `row_filter = "province = 'HN'"`, `row_filter = "provinc = 'HN'"`, `export "people": row_filter`},
		{"unknown setting", `columns = ["pin", "amount"]`, `colums = ["pin", "amount"]`, `unknown setting`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(r.ConfigPath, good, 0o600); err != nil {
				t.Fatal(err)
			}
			// Another change in the same file, which must not apply either.
			r.Edit(t, "table = \"benefits\"\n", "table = \"benefits\"\npurposes = [\"other\"]\n")
			r.Edit(t, tc.old, tc.new)
			line := lineOf(t, r.ConfigPath, tc.new)
			err := r.Agent.Reload()
			var ce *config.Error
			if !errors.As(err, &ce) || ce.File != r.ConfigPath || ce.Line != line || !strings.Contains(ce.Msg, tc.want) {
				t.Fatalf("reload of a broken file: %v; want %s:%d: …%s", err, r.ConfigPath, line, tc.want)
			}
			served(t, c, 2, "benefits", "pin", "amount")
			served(t, c, 2, "people", "pin")
			if rec := lastReload(t, r.LogPath); rec.Outcome != "refused" || rec.Note != err.Error() {
				t.Fatalf("reload record: %+v", rec)
			}
		})
	}
	// The file mended, a reload is accepted and says nothing changed.
	if err := os.WriteFile(r.ConfigPath, good, 0o600); err != nil {
		t.Fatal(err)
	}
	what, err := r.Agent.ReloadContext(t.Context())
	if err != nil || !strings.Contains(what, "nothing changed") {
		t.Fatalf("reload of the file in force: %q %v", what, err)
	}
}

// (c) A setting that takes a restart is refused naming it, at its line;
// nothing else in the file applies.
func TestReloadRefusesARestartOnlySetting(t *testing.T) {
	r, dsn := reloadAgent(t)
	c := dial(t, r.Addr, r.Engine)
	good, err := os.ReadFile(r.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key, old, new string
	}{
		{"listen.flight", `flight = "127.0.0.1:0"`, `flight = "127.0.0.1:1"`},
		{"listen.health", `health = "127.0.0.1:0"`, `health = "127.0.0.1:1"`},
		{"log.path", `requests.log"`, `requests2.log"`},
		{"source.statement_timeout", "[source]\n", "[source]\nstatement_timeout = \"1m\"\n"},
		{"source.dsn", "dsn = \"" + dsn, "dsn = \"" + dsn + "?application_name=x"},
		{"agency", `agency = "agency"`, `agency = "other"`},
		{"max_streams", `agency = "agency"`, "max_streams = 3\nagency = \"agency\""},
	} {
		t.Run(tc.key, func(t *testing.T) {
			if err := os.WriteFile(r.ConfigPath, good, 0o600); err != nil {
				t.Fatal(err)
			}
			r.Edit(t, tc.old, tc.new)
			r.Edit(t, benefitsExport, "")
			err := r.Agent.Reload()
			var ce *config.Error
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Msg, tc.key+" changed") || !strings.Contains(ce.Msg, "restart") {
				t.Fatalf("reload changing %s: %v", tc.key, err)
			}
			if ce.Line == 0 || !strings.Contains(strings.Split(mustRead(t, r.ConfigPath), "\n")[ce.Line-1], strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(tc.key, "source."), "listen."), "log.")) {
				t.Errorf("error at line %d, not the line of %s", ce.Line, tc.key)
			}
			if strings.Contains(err.Error(), dsn) {
				t.Errorf("the error quotes the DSN: %v", err)
			}
			served(t, c, 2, "benefits", "pin", "amount")
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// serverCert is the certificate the agent presents to a fresh
// handshake (roots: the CAs the client trusts).
func serverCert(t *testing.T, addr string, roots *x509.CertPool, client tls.Certificate) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{client}, ServerName: "127.0.0.1", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// dialPool is dial with a client certificate in memory and roots.
func dialPool(t *testing.T, addr string, roots *x509.CertPool, client tls.Certificate) flight.Client {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{client}, RootCAs: roots, ServerName: "127.0.0.1"})))
	if err != nil {
		t.Fatal(err)
	}
	c := flight.NewClientFromConn(cc, nil)
	t.Cleanup(func() { c.Close() })
	return c
}

func writeFile(t *testing.T, path string, data ...[]byte) {
	t.Helper()
	if err := os.WriteFile(path, slices.Concat(data...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// (d) Certificate rotation: a fresh handshake sees the agent's new
// certificate only after Reload; a client certificate from a new CA is
// accepted only once the client CA bundle holding it is reloaded; a
// certificate without its key is refused and the one in force stays;
// connections already open keep working.
func TestReloadRotatesCertificates(t *testing.T) {
	r, _ := reloadAgent(t)
	newCA := testpki.NewCA(t, "the engines' new CA")
	roots := x509.NewCertPool()
	roots.AddCert(r.CA.Cert)
	roots.AddCert(newCA.Cert)
	oldEngine, err := tls.LoadX509KeyPair(r.Engine.Cert, r.Engine.Key)
	if err != nil {
		t.Fatal(err)
	}
	newEngine := newCA.Issue(t, agenttest.EngineCN)
	open := dialPool(t, r.Addr, roots, oldEngine)
	served(t, open, 2, "benefits", "pin", "amount")
	before := serverCert(t, r.Addr, roots, oldEngine)
	if before.Issuer.CommonName != r.CA.Cert.Subject.CommonName {
		t.Fatalf("the agent's first certificate is from %s", before.Issuer.CommonName)
	}

	// The agent's own certificate, from the new CA.
	rotated := newCA.Issue(t, "agent-2")
	writeFile(t, r.Server.Cert, rotated.CertPEM)
	writeFile(t, r.Server.Key, rotated.KeyPEM)
	if got := serverCert(t, r.Addr, roots, oldEngine); !got.Equal(before) {
		t.Fatal("the new certificate is in force before Reload")
	}
	what, err := r.Agent.ReloadContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := serverCert(t, r.Addr, roots, oldEngine); got.Subject.CommonName != "agent-2" {
		t.Fatalf("a fresh handshake after Reload sees %s from %s, want agent-2", got.Subject.CommonName, got.Issuer.CommonName)
	}
	if !strings.Contains(what, "server certificate replaced") || strings.Contains(what, "client CA") {
		t.Errorf("reload said %q", what)
	}
	served(t, open, 2, "benefits", "pin", "amount")

	// A certificate whose key is not beside it yet: refused at
	// tls.cert_file's line, agent-2 stays.
	third := newCA.Issue(t, "agent-3")
	writeFile(t, r.Server.Cert, third.CertPEM)
	err = r.Agent.Reload()
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Line != lineOf(t, r.ConfigPath, "cert_file") || !strings.Contains(ce.Msg, "tls.cert_file") || strings.Contains(err.Error(), "PRIVATE") {
		t.Fatalf("reload of a certificate without its key: %v", err)
	}
	if got := serverCert(t, r.Addr, roots, oldEngine); got.Subject.CommonName != "agent-2" {
		t.Fatalf("after a refused reload the agent presents %s", got.Subject.CommonName)
	}
	writeFile(t, r.Server.Cert, rotated.CertPEM)

	// An engine certificate from the new CA: the handshake fails while
	// client_ca_file holds the old CA only.
	fresh := dialPool(t, r.Addr, roots, newEngine.TLS)
	if _, err := read(t, fresh, "benefits", "pin"); err == nil {
		t.Fatal("a client certificate from a CA not in client_ca_file was accepted")
	} else if _, ok := refusalOf(err); ok {
		t.Fatalf("a client certificate from an unknown CA got past the handshake: %v", err)
	}
	// The bundle of both CAs, reloaded: both engines' certificates work.
	writeFile(t, r.Server.CA, r.CA.PEM, newCA.PEM)
	if _, err := read(t, dialPool(t, r.Addr, roots, newEngine.TLS), "benefits", "pin"); err == nil {
		t.Fatal("the new CA's client certificate is accepted before Reload")
	}
	what, err = r.Agent.ReloadContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	served(t, dialPool(t, r.Addr, roots, newEngine.TLS), 2, "benefits", "pin", "amount")
	if !strings.Contains(what, "client CA bundle replaced") {
		t.Errorf("reload said %q", what)
	}
	served(t, dialPool(t, r.Addr, roots, oldEngine), 2, "benefits", "pin", "amount")

	// The new CA only: a fresh connection with the old CA's certificate
	// fails; the connection opened at the start still serves.
	writeFile(t, r.Server.CA, newCA.PEM)
	if err := r.Agent.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := read(t, dialPool(t, r.Addr, roots, oldEngine), "benefits", "pin"); err == nil {
		t.Fatal("the old CA's client certificate is accepted after the CA was removed")
	}
	served(t, open, 2, "benefits", "pin", "amount")
	served(t, dialPool(t, r.Addr, roots, newEngine.TLS), 2, "benefits", "pin", "amount")

	var outcomes []string
	for _, rec := range records(t, r.LogPath) {
		if rec.Kind == "reload" {
			outcomes = append(outcomes, rec.Outcome)
		}
	}
	if want := []string{"reloaded", "refused", "reloaded", "reloaded"}; !slices.Equal(outcomes, want) {
		t.Fatalf("reload records %v, want %v", outcomes, want)
	}
}
