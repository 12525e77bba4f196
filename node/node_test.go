package node_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"lienthong/audit/chain"
	"lienthong/config"
	"lienthong/engine"
	"lienthong/node"
	"lienthong/server"
	"lienthong/tokens"
)

// nodeConfig writes a node's files into a new directory: a CSV source "f"
// of three rows, an audit key, a tokens file with one principal (token
// returned), and a lienthong.toml with extra appended.
func nodeConfig(t *testing.T, extra string) (path, token string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("people.csv", "pin,name\n001,a\n002,b\n003,c\n")
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
	if err := os.Mkdir(filepath.Join(dir, "spill"), 0o700); err != nil {
		t.Fatal(err)
	}
	write("lienthong.toml", "duckdb_temp_directory = \"spill\"\n[[sources]]\nname = \"f\"\nkind = \"csv\"\npath = \"*.csv\"\n"+extra)
	return filepath.Join(dir, "lienthong.toml"), token
}

const serving = "\n[server]\nhttp_addr = \"127.0.0.1:0\"\nflight_addr = \"off\"\ntokens_file = \"tokens.toml\"\nshutdown_grace = \"2s\"\n" +
	"\n[audit]\nlog = \"audit.log\"\nkey_file = \"audit.key\"\nnode_id = \"n1\"\nprobe_interval = \"1s\"\n"

func load(t testing.TB, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// ends reads the principals of a log's end records.
func ends(t *testing.T, path string) []string {
	t.Helper()
	rd, err := chain.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	err = rd.Iterate(0, func(r *chain.Record) error {
		if r.Kind == chain.KindEnd {
			out = append(out, r.Principal+":"+r.Outcome)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// serve's node: the server answers over the engine, every query is in the
// audit log, the monitor records into the health log, and Close stops all
// of it (the port closes, the spill directory goes).
func TestServingNode(t *testing.T) {
	path, token := nodeConfig(t, serving)
	cfg := load(t, path)
	var listened string
	n, err := node.Open(context.Background(), cfg, node.Options{Serve: true, Audit: cfg.Audit, Health: cfg.Audit,
		Listening: func(s *server.Server) { listened = s.HTTPURL() }})
	if err != nil {
		t.Fatal(err)
	}
	if listened == "" || listened != n.Server.HTTPURL() {
		t.Fatalf("Listening saw %q, the server is at %q", listened, n.Server.HTTPURL())
	}
	req, _ := http.NewRequest("POST", n.Server.HTTPURL()+"/v1/query", strings.NewReader(`{"sql": "SELECT COUNT(*) AS n FROM f.people"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "3") {
		t.Fatalf("query through the node's server: %s %s", resp.Status, body)
	}
	// The monitor's first round is recorded at start; give it a moment.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := os.Stat(cfg.Audit.HealthLog); err == nil && st.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no health history written")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Reload (SIGHUP) re-reads the tokens file: alice's token, verified
	// and cached by the query above, is refused once she is not in it.
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "tokens.toml"), []byte("# nobody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.Reload(); err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest("GET", n.Server.HTTPURL()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("a token removed from the file after Reload: %s, want 401", resp.Status)
	}
	spill := n.Engine.SpillDirectory()
	addr := strings.TrimPrefix(n.Server.HTTPURL(), "http://")
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if got := ends(t, cfg.Audit.Log); len(got) != 1 || got[0] != "alice:succeeded" {
		t.Errorf("audit log's end records: %v", got)
	}
	if _, err := os.Stat(spill); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("spill directory %s left after Close: %v", spill, err)
	}
	if c, err := (&http.Client{Timeout: time.Second}).Get("http://" + addr + "/healthz"); err == nil {
		c.Body.Close()
		t.Error("the server still answers after Close")
	}
}

// The CLI's node: no server, and attempts without a session are recorded
// as the CLI's user.
func TestSessionFilledIn(t *testing.T) {
	path, _ := nodeConfig(t, "")
	cfg := load(t, path)
	dir := filepath.Dir(path)
	a := &config.Audit{Log: filepath.Join(dir, "cli.log"), KeyFile: filepath.Join(dir, "audit.key")}
	n, err := node.Open(context.Background(), cfg, node.Options{Audit: a, Session: engine.Session{Principal: "local:tester", Purpose: "TEST"}})
	if err != nil {
		t.Fatal(err)
	}
	if n.Server != nil || n.Health != nil {
		t.Fatal("a node asked for neither has a server or a monitor")
	}
	res, err := n.Engine.Query(context.Background(), "SELECT name FROM f.people", engine.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for res.Next() {
	}
	res.Release()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if got := ends(t, a.Log); len(got) != 1 || got[0] != "local:tester:succeeded" {
		t.Errorf("end records: %v", got)
	}
}

// A node that fails to open closes what it had opened: the error names
// the file, and neither a spill directory nor a listener is left.
func TestOpenFailureClosesWhatOpened(t *testing.T) {
	for name, c := range map[string]struct {
		extra string
		opt   func(*config.Config) node.Options
		want  string
	}{
		"server without authentication": {"\n[server]\nhttp_addr = \"127.0.0.1:0\"\n", func(*config.Config) node.Options { return node.Options{Serve: true} }, "lienthong.toml: no way to authenticate"},
		"audit key missing": {serving, func(cfg *config.Config) node.Options {
			a := *cfg.Audit
			a.KeyFile = filepath.Join(filepath.Dir(cfg.Path), "nokey")
			return node.Options{Serve: true, Audit: &a, Health: &a}
		}, "nokey"},
	} {
		t.Run(name, func(t *testing.T) {
			path, _ := nodeConfig(t, c.extra)
			cfg := load(t, path)
			n, err := node.Open(context.Background(), cfg, c.opt(cfg))
			if err == nil || n != nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, %v; want an error containing %q", n, err, c.want)
			}
			left, _ := os.ReadDir(filepath.Join(filepath.Dir(path), "spill"))
			if len(left) != 0 {
				t.Errorf("left in the spill directory: %v", left)
			}
		})
	}
}

// The demo's server: a fresh token for "demo" that the server accepts.
func TestServeDemo(t *testing.T) {
	path, _ := nodeConfig(t, "")
	n, err := node.Open(context.Background(), load(t, path), node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	tok, err := n.ServeDemo(t.TempDir())
	if err != nil {
		t.Skipf("the demo's default ports are taken here: %v", err)
	}
	req, _ := http.NewRequest("GET", n.Server.HTTPURL()+"/v1/catalog", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the demo token: %s", resp.Status)
	}
	// The MySQL port, when 3307 was free: the same token logs in.
	if n.MySQL != nil {
		db, err := sql.Open("mysql", "demo:"+tok+"@tcp("+n.MySQL.Addr()+")/?allowCleartextPasswords=true&timeout=10s")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var v string
		if err := db.QueryRow("SELECT @@version_comment").Scan(&v); err != nil || !strings.Contains(v, "lienthong") {
			t.Fatalf("the demo's MySQL port: %q %v", v, err)
		}
	}
	if _, err := n.ServeDemo(t.TempDir()); err == nil {
		t.Fatal("a second server on one node must be refused")
	}
}
