package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	_ "github.com/duckdb/duckdb-go/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	_ "modernc.org/sqlite"

	"lienthong/server"
	"lienthong/tokens"
)

// The memory bound every front-end keeps (docs/configuration.md): a
// cross-source result streams, so the node's RSS stays under
// duckdb_memory_limit plus this, however many rows go through.
const (
	frontendLimitMB    = 256
	frontendOverheadMB = 256
)

// frontendFixture writes a node config over two embedded sources: a.t, a
// DuckDB file of n rows, and b.u, a SQLite file of 10; a.t × b.u is a
// 10n-row cross-source result (it runs in the residual).
func frontendFixture(t *testing.T, n int) (cfg, token string) {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open("duckdb", filepath.Join(dir, "a.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("CREATE TABLE t AS SELECT range AS id, 'citizen-' || range AS name FROM range(%d)", n)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	lite, err := sql.Open("sqlite", filepath.Join(dir, "b.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lite.Exec("CREATE TABLE u (k INTEGER, label TEXT); WITH RECURSIVE r(k) AS (SELECT 0 UNION ALL SELECT k+1 FROM r WHERE k < 9) INSERT INTO u SELECT k, 'label-' || k FROM r"); err != nil {
		t.Fatal(err)
	}
	lite.Close()
	token = "lt_memory-test-token-0123456789"
	hash, err := tokens.Hash(token)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("tokens.toml", "[[principals]]\nname = \"mem\"\nagency = \"test\"\ntoken_hash = \""+hash+"\"\n")
	cfg = write("lienthong.toml", fmt.Sprintf(`duckdb_memory_limit = "%dMB"
duckdb_temp_directory = "spill"

[[sources]]
name = "a"
kind = "duckdb"
path = "a.duckdb"

[[sources]]
name = "b"
kind = "sqlite"
path = "b.sqlite"

[server]
http_addr = "127.0.0.1:0"
flight_addr = "127.0.0.1:0"
tokens_file = "tokens.toml"
max_result_rows = 100000000
max_result_bytes = "16GiB"
query_timeout = "10m"
`, frontendLimitMB))
	return cfg, token
}

const frontendQuery = "SELECT t.id, t.name, u.k, u.label FROM a.t, b.u"

// statusKB reads a field of /proc/<pid>/status, in kB.
func statusKB(t *testing.T, pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	t.Skipf("no %s", field)
	return 0
}

// cli is this test binary run as the lienthong command (TestMain).
func cli(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LIENTHONG_AS_CLI=1")
	return cmd
}

// A 10M-row (LT_FRONTEND_ROWS sets it) cross-source result streams through every front-end, the CLI (`lienthong
// query` into a pipe), HTTP (/v1/query, JSON lines) and Flight SQL (DoGet),
// with the node's peak RSS under duckdb_memory_limit + 256 MB, every row
// arriving. The node is the real command in a child process.
func TestFrontendsStreamWithinMemoryBound(t *testing.T) {
	rows := int64(10_000_000) // about 30 s for all three on 2 cores
	if v, err := strconv.ParseInt(os.Getenv("LT_FRONTEND_ROWS"), 10, 64); err == nil && v > 0 {
		rows = v
	}
	rows -= rows % 10
	cfg, token := frontendFixture(t, int(rows/10))
	bound := int64(frontendLimitMB+frontendOverheadMB) << 10
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	t.Run("cli", func(t *testing.T) {
		start := time.Now()
		cmd := cli(ctx, "query", "--config", cfg, "--format", "csv", frontendQuery)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines, err := countLines(out)
		if werr := cmd.Wait(); werr != nil || err != nil {
			t.Fatalf("lienthong query: %v %v\n%s", werr, err, stderr.String())
		}
		peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // kB on Linux
		t.Logf("CLI: %d rows in %v, peak RSS %d MB", lines-1, time.Since(start).Round(time.Millisecond), peak>>10)
		if lines-1 != rows {
			t.Errorf("CLI printed %d rows, want %d", lines-1, rows)
		}
		if peak > bound {
			t.Errorf("CLI peak RSS %d MB, past memory limit %d MB + %d MB", peak>>10, frontendLimitMB, frontendOverheadMB)
		}
	})

	// The server, once, for HTTP and Flight SQL.
	srv := cli(ctx, "serve", "--config", cfg)
	errPipe, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}()
	var httpURL, flightAddr string
	sc := bufio.NewScanner(errPipe)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "lienthong serving: HTTP "); ok {
			for _, f := range strings.Fields(rest) {
				if a, ok := strings.CutPrefix(f, "grpc://"); ok {
					flightAddr = a
				} else if strings.HasPrefix(f, "http://") {
					httpURL = f
				}
			}
		}
		if strings.HasPrefix(line, "ready:") {
			break
		}
	}
	if httpURL == "" || flightAddr == "" {
		t.Fatal("the server did not start")
	}
	go io.Copy(io.Discard, errPipe)
	pid := srv.Process.Pid
	// Each front-end's own peak: clear_refs 5 resets VmHWM (Linux 4.0+).
	resetPeak := func() bool {
		return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
	}
	idle := statusKB(t, pid, "VmRSS")
	t.Logf("server idle RSS %d MB", idle>>10)
	measure := func(t *testing.T, name string, run func() (int64, error)) {
		if !resetPeak() {
			t.Log("cannot reset VmHWM: the peak is the server's since start")
		}
		start := time.Now()
		got, err := run()
		took := time.Since(start)
		peak := statusKB(t, pid, "VmHWM")
		time.Sleep(2 * time.Second)
		after := statusKB(t, pid, "VmRSS")
		t.Logf("%s: %d rows in %v, server RSS peak %d MB, 2 s after %d MB (idle %d MB)", name, got, took.Round(time.Millisecond), peak>>10, after>>10, idle>>10)
		if err != nil {
			t.Fatal(err)
		}
		if got != rows {
			t.Errorf("%s: %d rows, want %d", name, got, rows)
		}
		if peak > bound {
			t.Errorf("%s: server peak RSS %d MB, past memory limit %d MB + %d MB", name, peak>>10, frontendLimitMB, frontendOverheadMB)
		}
	}

	t.Run("http", func(t *testing.T) {
		measure(t, "HTTP", func() (int64, error) {
			req, _ := http.NewRequestWithContext(ctx, "POST", httpURL+"/v1/query", strings.NewReader(`{"sql": "`+frontendQuery+`"}`))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				return 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
			}
			n, err := countLines(resp.Body)
			if err != nil {
				return n, err
			}
			if st := resp.Trailer.Get(server.HeaderStatus); st != "ok" {
				return n, fmt.Errorf("trailer status %q: %s", st, resp.Trailer.Get(server.HeaderError))
			}
			return n, nil
		})
	})

	t.Run("flight", func(t *testing.T) {
		measure(t, "Flight SQL", func() (int64, error) {
			c, err := flightsql.NewClient(flightAddr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return 0, err
			}
			defer c.Close()
			fctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
			info, err := c.Execute(fctx, frontendQuery)
			if err != nil {
				return 0, err
			}
			var n int64
			for _, ep := range info.Endpoint {
				rdr, err := c.DoGet(fctx, ep.Ticket)
				if err != nil {
					return n, err
				}
				for rdr.Next() {
					n += rdr.RecordBatch().NumRows()
				}
				err = rdr.Err()
				rdr.Release()
				if err != nil {
					return n, err
				}
			}
			return n, nil
		})
	})
}

// countLines reads r to its end, counting newlines.
func countLines(r io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
