package server

import (
	"bytes"
	"context"
	"crypto/x509"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"lienthong/config"
	"lienthong/engine"
	"lienthong/internal/testpki"
	"lienthong/tokens"
)

// The fixture: a DuckDB file "d" with big (1,000,000 rows) and small (1,000
// rows, every type the JSON encoder renders), and a CSV source "c" so joins
// run in the residual.
var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
	sharedEng   *engine.Engine
	testToken   = "lt_test-token-0123456789abcdef"
	otherToken  = "lt_other-token-0123456789abcdef"
	testHash    string
	otherHash   string
)

const bigRows = 1_000_000

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedEng != nil {
		sharedEng.Close()
	}
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

func makeFixture() {
	fixtureDir, fixtureErr = os.MkdirTemp("", "lienthong-server-test")
	if fixtureErr != nil {
		return
	}
	db, err := sql.Open("duckdb", filepath.Join(fixtureDir, "d.duckdb"))
	if err != nil {
		fixtureErr = err
		return
	}
	defer db.Close()
	for _, stmt := range []string{
		fmt.Sprintf(`CREATE TABLE big AS SELECT lpad(CAST(i AS VARCHAR), 12, '0') AS pin, i AS n,
			'Nguyễn Văn ' || CAST(i %% 9973 AS VARCHAR) AS name, DATE '1950-01-01' + CAST(i %% 20000 AS INTEGER) AS birth_date
			FROM range(%d) t(i)`, bigRows),
		`CREATE TABLE small AS SELECT lpad(CAST(i AS VARCHAR), 12, '0') AS pin, CAST(i AS INTEGER) AS n,
			CASE WHEN i % 7 = 0 THEN NULL ELSE 'tên "' || CAST(i AS VARCHAR) || E'"\n\\' END AS note,
			CAST(i * 0.25 AS DECIMAL(12,2)) AS amount, i / 3.0 AS ratio, i % 2 = 0 AS even,
			DATE '2020-02-29' + CAST(i AS INTEGER) AS d, TIMESTAMP '2024-01-01 08:30:00' + INTERVAL (i) MINUTE AS ts
			FROM range(1000) t(i)`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			fixtureErr = err
			return
		}
	}
	var csv strings.Builder
	csv.WriteString("pin,province\n")
	for i := 0; i < 1000; i += 2 {
		fmt.Fprintf(&csv, "%012d,P%02d\n", i, i%63)
	}
	if err := os.MkdirAll(filepath.Join(fixtureDir, "c"), 0o755); err != nil {
		fixtureErr = err
		return
	}
	if err := os.WriteFile(filepath.Join(fixtureDir, "c", "residence.csv"), []byte(csv.String()), 0o644); err != nil {
		fixtureErr = err
		return
	}
	if testHash, fixtureErr = tokens.Hash(testToken); fixtureErr != nil {
		return
	}
	otherHash, fixtureErr = tokens.Hash(otherToken)
}

func fixtureConfig(t testing.TB, extra string) *config.Config {
	t.Helper()
	text := fmt.Sprintf("[[sources]]\nname = \"d\"\nkind = \"duckdb\"\npath = %q\n\n[[sources]]\nname = \"c\"\nkind = \"csv\"\npath = %q\n%s",
		filepath.Join(fixtureDir, "d.duckdb"), filepath.Join(fixtureDir, "c", "*.csv"), extra)
	cfg, err := config.Parse(filepath.Join(fixtureDir, "lienthong.toml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// testEngine is one engine over the fixture, shared by the tests.
func testEngine(t testing.TB) *engine.Engine {
	t.Helper()
	fixtureOnce.Do(func() {
		makeFixture()
		if fixtureErr != nil {
			return
		}
		sharedEng, fixtureErr = engine.New(context.Background(), fixtureConfig(t, ""))
		if fixtureErr == nil {
			sharedEng.WaitCatalog(context.Background())
		}
	})
	if fixtureErr != nil {
		t.Fatalf("fixture: %v", fixtureErr)
	}
	return sharedEng
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testServer struct {
	*Server
	logs *syncBuffer
	auth *TokenAuthenticator
}

// startServer runs a server over eng (the shared fixture engine when nil)
// on loopback ports chosen by the kernel; mutate adjusts the settings.
func startServer(t testing.TB, eng *engine.Engine, mutate func(*Config)) *testServer {
	t.Helper()
	return startServerAuth(t, eng, mutate, nil)
}

// startServerAuth is startServer with the test principals' authenticator
// wrapped by wrap (when not nil) before the server starts.
func startServerAuth(t testing.TB, eng *engine.Engine, mutate func(*Config), wrap func(Authenticator) Authenticator) *testServer {
	t.Helper()
	if eng == nil {
		eng = testEngine(t)
	} else {
		testEngine(t) // the tokens
	}
	cfg := &Config{HTTPAddr: "127.0.0.1:0", FlightAddr: "127.0.0.1:0", TokensFile: "(test)", LogLevel: "debug"}
	if mutate != nil {
		mutate(cfg)
	}
	auth := authOf(t,
		tokens.Entry{Name: "analyst", Agency: "bhxh", TokenHash: testHash},
		tokens.Entry{Name: "other", Agency: "yte", TokenHash: otherHash},
		tokens.Entry{Name: "cert-user", Agency: "cutru", CertCN: "cert-user.cutru.gov.vn"})
	logs := &syncBuffer{}
	var a Authenticator = auth
	if wrap != nil {
		a = wrap(auth)
	}
	s, err := New(cfg, Options{Logger: NewLogger(logs, "debug"), Auth: a})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	s.SetEngine(eng)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return &testServer{Server: s, logs: logs, auth: auth}
}

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	dir                       string
	caFile, certFile, keyFile string
	clientCert, clientKey     string
	caPool                    *x509.CertPool
}

func newPKI(t testing.TB, clientCN string) *testPKI {
	t.Helper()
	dir := t.TempDir()
	ca := testpki.NewCA(t, "lienthong test CA")
	p := &testPKI{dir: dir, caPool: ca.Pool}
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	p.caFile = write("ca.pem", ca.PEM)
	leaf := func(cn string) (string, string) {
		l := ca.Issue(t, cn)
		return write(cn+".pem", l.CertPEM), write(cn+".key", l.KeyPEM)
	}
	p.certFile, p.keyFile = leaf("server")
	p.clientCert, p.clientKey = leaf(clientCN)
	return p
}

// authOf authenticates against entries, each put in force by a tokens.put
// command.
func authOf(t testing.TB, entries ...tokens.Entry) *TokenAuthenticator {
	t.Helper()
	m := &tokens.Machine{}
	for _, e := range entries {
		c, err := tokens.PutCommand(time.Now(), e)
		if err == nil {
			_, err = m.Apply(c)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return NewTokenAuthenticator(m, time.Minute)
}
