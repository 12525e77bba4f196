package main

import (
	"bytes"
	"database/sql"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lienthong/agent"
	"lienthong/internal/testpki"
)

// agencyDir writes an agency's SQLite database, certificates and an
// agency.toml that serves them, returning the file.
func agencyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, "hotich.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`CREATE TABLE citizens (pin TEXT, full_name TEXT, deceased INTEGER)`, `INSERT INTO citizens VALUES ('001000000001', 'Lê Văn C', 0)`} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	ca := testpki.NewCA(t, "engines")
	ca.Write(t, dir, "agent", ca.Issue(t, "agent"))
	cfg := `agency = "hotich"

[listen]
flight = "127.0.0.1:0"
health = "127.0.0.1:0"

[tls]
cert_file = "agent.pem"
key_file = "agent-key.pem"
client_ca_file = "agent-ca.pem"

[source]
kind = "sqlite"
path = "hotich.db"

[log]
path = "requests.log"

[[engines]]
name = "central"
purposes = ["audit"]

[[exports]]
table = "citizens"
columns = ["pin", "full_name"]
row_filter = "deceased = 0"
`
	p := filepath.Join(dir, "agency.toml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// agentCLI runs the test binary as lienthong with args.
func agentCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(self, args...)
	c.Env = append(os.Environ(), "LIENTHONG_AS_CLI=1")
	out, err := c.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func TestAgentCheckCommand(t *testing.T) {
	p := agencyDir(t)
	if out, code := agentCLI(t, "agent", "check", p); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("check of a good file: exit %d\n%s", code, out)
	}
	data, _ := os.ReadFile(p)
	bad := strings.Replace(string(data), `columns = ["pin", "full_name"]`, `columns = ["pin", "salary"]`, 1)
	os.WriteFile(p, []byte(bad), 0o600)
	out, code := agentCLI(t, "agent", "check", p)
	if code == 0 || !strings.Contains(out, p+`:25: export "citizens": table citizens has no column "salary"`) {
		t.Fatalf("check of a bad file: exit %d\n%s", code, out)
	}
}

// The agent runs until SIGTERM, then closes its log; log verify and
// search read it, and verify fails on an edited byte.
func TestAgentRunsAndItsLogCommands(t *testing.T) {
	p := agencyDir(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(self, "agent", "--config", p)
	c.Env = append(os.Environ(), "LIENTHONG_AS_CLI=1")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// The health address is printed when serving.
	var health string
	deadline := time.Now().Add(20 * time.Second)
	for health == "" {
		if time.Now().After(deadline) {
			c.Process.Kill()
			t.Fatalf("the agent did not start:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
		if _, rest, ok := strings.Cut(stderr.String(), "health "); ok {
			health, _, _ = strings.Cut(rest, " ")
		}
	}
	resp, err := http.Get("http://" + health + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("readyz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("the agent did not stop cleanly on SIGTERM: %v\n%s", err, stderr.String())
	}
	logPath := filepath.Join(filepath.Dir(p), "requests.log")
	recs, err := agent.ReadLog(logPath)
	if err != nil || len(recs) != 2 || recs[0].Kind != "open" || recs[1].Kind != "close" {
		t.Fatalf("log after a clean stop: %+v %v", recs, err)
	}
	if out, code := agentCLI(t, "agent", "log", "verify", logPath); code != 0 || !strings.Contains(out, "intact, 2 records") {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	if out, code := agentCLI(t, "agent", "log", "search", logPath, "--from", "2000-01-01"); code != 0 || strings.Count(out, "\n") != 3 {
		t.Errorf("search: exit %d\n%s", code, out)
	}
	data, _ := os.ReadFile(logPath)
	i := bytes.Index(data, []byte("\n")) + 10 // inside record 2
	data[i] ^= 1
	os.WriteFile(logPath, data, 0o600)
	if out, code := agentCLI(t, "agent", "log", "verify", logPath); code == 0 || !strings.Contains(out, "record 2") {
		t.Fatalf("verify of an edited log: exit %d\n%s", code, out)
	}
}

// syncBuffer is a bytes.Buffer a child's output goroutine and the test
// share.
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

// SIGHUP re-reads agency.toml: a good file is put in force and the agent
// says what changed; a bad one is refused at its line; both are in the
// request log, and the agent keeps running.
func TestAgentReloadsOnSIGHUP(t *testing.T) {
	p := agencyDir(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(self, "agent", "--config", p)
	c.Env = append(os.Environ(), "LIENTHONG_AS_CLI=1")
	var stderr syncBuffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Process.Kill()
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(stderr.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q from the agent:\n%s", what, stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("serving")
	data, _ := os.ReadFile(p)
	edit := func(old, new string) {
		t.Helper()
		if !strings.Contains(string(data), old) {
			t.Fatalf("agency.toml has no %q", old)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	edit(`columns = ["pin", "full_name"]`, `columns = ["pin"]`)
	if err := c.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("and the TLS files: exports changed citizens (in force: 1 engine, 1 export)")
	edit(`columns = ["pin", "full_name"]`, `columns = ["pin", "salary"]`)
	if err := c.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(`reload refused, nothing changed (the rules and certificates in force stay): ` + p + `:25: export "citizens": table citizens has no column "salary"`)
	edit(`flight = "127.0.0.1:0"`, `flight = "127.0.0.1:1"`)
	if err := c.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(p + `:4: listen.flight changed, and the running agent cannot change it: it takes a restart`)
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("the agent did not stop cleanly after its reloads: %v\n%s", err, stderr.String())
	}
	recs, err := agent.ReadLog(filepath.Join(filepath.Dir(p), "requests.log"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Kind+":"+r.Outcome)
	}
	if want := []string{"open:", "reload:reloaded", "reload:refused", "reload:refused", "close:"}; !slices.Equal(kinds, want) {
		t.Fatalf("log records %v, want %v", kinds, want)
	}
}
