package server

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lienthong/config"
	"lienthong/tokens"
)

func TestConfigParse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.toml")
	// parse is how a node reads the table: decoded with the whole file
	// (package config), then checked for serving here.
	parse := func(text string) (*Config, error) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.LoadTables(path)
		if err != nil {
			return nil, err
		}
		return Settings(cfg)
	}
	c, err := parse(`
time_zone = "Asia/Ho_Chi_Minh"
[[sources]]
name = "x"
kind = "sqlite"
path = "x.db"

[server]
http_addr = "0.0.0.0:9080"
tokens_file = "tokens.toml"
max_concurrent = 16
queue = -1
query_timeout = "90s"
max_result_rows = 1000
max_result_bytes = "512MiB"
shutdown_grace = "5s"
duckdb_memory_limit = "4GB"
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "0.0.0.0:9080" || c.FlightAddr != DefaultFlightAddr || c.TokensFile != filepath.Join(dir, "tokens.toml") ||
		c.MaxConcurrent != 16 || c.Queue != -1 || c.QueryTimeout.Duration != 90*time.Second || c.MaxResultRows != 1000 ||
		c.MaxResultBytes != 512<<20 || c.ShutdownGrace.Duration != 5*time.Second || c.QueueTimeout.Duration != DefaultQueueTimeout {
		t.Fatalf("%+v", c)
	}
	for _, bad := range []struct{ text, want string }{
		{"[server]\ntokens_file = \"t\"\nhttp_adr = \"x\"\n", `node.toml:3: unknown setting "server.http_adr"`},
		{"[server]\nmax_result_bytes = \"lots\"\ntokens_file = \"t\"\n", "want a size"},
		{"[server]\nquery_timeout = \"soon\"\ntokens_file = \"t\"\n", "duration"},
		{"[server]\n", "no way to authenticate"},
		{"[server]\ntokens_file = \"t\"\ntls_cert = \"c.pem\"\n", "go together"},
		{"[server]\ntokens_file = \"t\"\nclient_ca = \"ca.pem\"\n", "needs TLS"},
	} {
		_, err := parse(bad.text)
		var ce *config.Error
		if err == nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: want error containing %q, got %v", bad.text, bad.want, err)
		}
	}
}

func TestTokensFile(t *testing.T) {
	testEngine(t) // hashes
	path := filepath.Join(t.TempDir(), "tokens.toml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("[[principals]]\nname = \"a\"\nagency = \"bhxh\"\ntoken_hash = \"" + testHash + "\"\n\n[[principals]]\nname = \"svc\"\nagency = \"yte\"\ncert_cn = \"svc.yte.gov.vn\"\n")
	// load is how a server reads the file: New proposes it (tokens.set).
	load := func() (*TokenAuthenticator, error) {
		s, err := New(&Config{HTTPAddr: "127.0.0.1:0", FlightAddr: "off", TokensFile: path}, Options{Logger: NewLogger(io.Discard, "error")})
		if err != nil {
			return nil, err
		}
		return s.auth.(*TokenAuthenticator), nil
	}
	a, err := load()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if p, err := a.Authenticate(ctx, Credentials{Bearer: testToken}); err != nil || p != (Principal{"a", "bhxh"}) {
		t.Fatal(p, err)
	}
	if p, err := a.Authenticate(ctx, Credentials{BasicUser: "a", BasicPassword: testToken}); err != nil || p.Name != "a" {
		t.Fatal(p, err)
	}
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "svc.yte.gov.vn"}}
	if p, err := a.Authenticate(ctx, Credentials{ClientCert: cert}); err != nil || p.Name != "svc" {
		t.Fatal(p, err)
	}
	var ae *AuthError
	if _, err := a.Authenticate(ctx, Credentials{ClientCert: &x509.Certificate{Subject: pkix.Name{CommonName: "x"}}}); !errors.As(err, &ae) || !ae.Forbidden {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, Credentials{}); !errors.As(err, &ae) || ae.Forbidden {
		t.Fatal(err)
	}
	// Each error names the file and the line.
	for _, bad := range []struct{ text, want string }{
		{"[[principals]]\nname = \"a\"\n", ":1: principal \"a\": missing agency"},
		{"[[principals]]\nname = \"a\"\nagency = \"x\"\ntoken_hash = \"plain\"\n", ":4: principal \"a\": token_hash: not an argon2id hash"},
		{"[[principals]]\nname = \"a\"\nagency = \"x\"\n[[principals]]\nname = \"a\"\nagency = \"y\"\n", ":5: principal \"a\" listed twice"},
		{"[[principals]]\nname = \"a\"\nagency = \"x\"\ntoken = \"secret\"\n", ":4: unknown setting"},
	} {
		write(bad.text)
		if _, err := load(); err == nil || !strings.Contains(err.Error(), path+bad.want) {
			t.Errorf("%q: want %q, got %v", bad.text, bad.want, err)
		}
	}
	if _, err := tokens.Hash("short"); err == nil {
		t.Fatal("short token hashed")
	}
}

// TestAuthCache: many concurrent requests with one token pay argon2 once;
// a wrong token is remembered as wrong.
func TestAuthCache(t *testing.T) {
	testEngine(t)
	a := authOf(t, tokens.Entry{Name: "a", Agency: "x", TokenHash: testHash}, tokens.Entry{Name: "b", Agency: "y", TokenHash: otherHash})
	var wg sync.WaitGroup
	start := time.Now()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p, err := a.Authenticate(context.Background(), Credentials{Bearer: otherToken}); err != nil || p.Name != "b" {
				t.Error(p, err)
			}
		}()
	}
	wg.Wait()
	// The token matches the second entry: two computations, once.
	if v := a.Verifications(); v != 2 {
		t.Fatalf("%d argon2 computations for 64 requests", v)
	}
	t.Logf("64 concurrent first requests authenticated in %s", time.Since(start).Round(time.Millisecond))
	for range 3 {
		if _, err := a.Authenticate(context.Background(), Credentials{Bearer: "lt_wrong-token-0123456789"}); err == nil {
			t.Fatal("wrong token accepted")
		}
	}
	if v := a.Verifications(); v != 4 {
		t.Fatalf("wrong token: %d computations, want 2 more", v-2)
	}
}

func TestHelpers(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, c := range []struct {
		pat, s string
		want   bool
	}{{"d%", "dancu", true}, {"%cu", "dancu", true}, {"d_ncu", "dancu", true}, {"d_cu", "dancu", false}, {"DANCU", "dancu", true}, {`a\_b`, "a_b", true}, {`a\_b`, "axb", false}} {
		if got := likeMatch(s(c.pat), c.s); got != c.want {
			t.Errorf("likeMatch(%q, %q) = %v", c.pat, c.s, got)
		}
	}
	if got := logRedact(`residual: Conversion Error: Could not convert string '079123456789' to INT32 near 123456`); strings.Contains(got, "079123456789") || strings.Contains(got, "123456") {
		t.Fatal(got)
	}
	if got := decodeHeader("ki%E1%BB%83m%20tra"); got != "kiểm tra" {
		t.Fatal(got)
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(2, 1, 100*time.Millisecond)
	ctx := context.Background()
	r1, _, err1 := l.acquire(ctx)
	r2, _, err2 := l.acquire(ctx)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	got := make(chan error, 1)
	go func() {
		r, _, err := l.acquire(ctx)
		if err == nil {
			r()
		}
		got <- err
	}()
	for l.queued() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, _, err := l.acquire(ctx); err == nil || !strings.Contains(err.Error(), CodeBusy) {
		t.Fatalf("queue full: %v", err)
	}
	r1()
	if err := <-got; err != nil {
		t.Fatalf("queued acquire: %v", err)
	}
	r2()
	if l.running() != 0 {
		t.Fatal(l.running())
	}
}
