package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lienthong/config"
)

func TestOutputLimit(t *testing.T) {
	srv := &config.Server{MaxResultRows: 50, MaxResultBytes: 1 << 20}
	const defaultRows = "the terminal's default; [server] max_result_rows sets another"
	for _, c := range []struct {
		name     string
		srv      *config.Server
		maxRows  int64
		terminal bool
		want     resultLimit
	}{
		{"terminal, no [server] limits: the CLI's defaults", &config.Server{}, -1, true, resultLimit{rows: terminalMaxRows, bytes: terminalMaxBytes, rowsFrom: defaultRows}},
		{"terminal, no config (--server)", nil, -1, true, resultLimit{rows: terminalMaxRows, bytes: terminalMaxBytes, rowsFrom: defaultRows}},
		{"terminal, [server] limits", srv, -1, true, resultLimit{rows: 50, bytes: 1 << 20, rowsFrom: "[server] max_result_rows, on a terminal"}},
		{"terminal, --max-rows", srv, 7, true, resultLimit{rows: 7, bytes: 1 << 20, rowsFrom: "--max-rows"}},
		{"terminal, --max-rows 0", srv, 0, true, resultLimit{}},
		{"piped: unlimited", srv, -1, false, resultLimit{}},
		{"piped, --max-rows", srv, 7, false, resultLimit{rows: 7, rowsFrom: "--max-rows"}},
	} {
		got := outputLimit(c.srv, c.maxRows, c.terminal)
		if got.rows != c.want.rows || got.bytes != c.want.bytes || got.rowsFrom != c.want.rowsFrom {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

// manyRows writes a CSV of n rows (several Arrow batches) into a new
// directory and returns the directory.
func manyRows(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d,name %d\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A session stops printing at its limit, inside a batch or at its edge:
// the rows within it are printed whole (a table with its footer), then
// LT-RESULT-LIMIT (exit status 5) says how to get the rest.
func TestSessionStopsAtLimit(t *testing.T) {
	var out bytes.Buffer
	s := csvSession(t, manyRows(t, 5000), &out)
	for _, c := range []struct {
		format string
		limit  resultLimit
		rows   int
		want   string
	}{
		{"csv", resultLimit{rows: 3000, rowsFrom: "R"}, 3000, "more than 3000 rows (R)"}, // past the first batch
		{"csv", resultLimit{rows: 1, rowsFrom: "R"}, 1, "more than 1 rows (R)"},
		{"table", resultLimit{rows: 10, rowsFrom: "--max-rows"}, 10, "(--max-rows)"},
		{"csv", resultLimit{bytes: 100, bytesFrom: "B"}, 0, "larger than 100 bytes (B)"},
	} {
		out.Reset()
		s.format, s.limit = c.format, c.limit
		err := s.run(context.Background(), "SELECT id, name FROM f.big ORDER BY id")
		var le *limitError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "LT-RESULT-LIMIT: ") ||
			!strings.Contains(err.Error(), "--max-rows N (0: no limit)") || exitStatus(err) != 5 {
			t.Fatalf("%+v: want LT-RESULT-LIMIT saying %q (exit 5), got %v (exit %d)", c.limit, c.want, err, exitStatus(err))
		}
		got := out.String()
		switch c.format {
		case "csv":
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			if len(lines) != c.rows+1 || (c.rows > 0 && lines[c.rows] != fmt.Sprintf("%d,name %d", c.rows, c.rows)) {
				t.Errorf("%+v: %d lines, last %q; want the header and rows 1..%d", c.limit, len(lines), lines[len(lines)-1], c.rows)
			}
		case "table":
			if !strings.Contains(got, "\n(10 rows)\n") || strings.Contains(got, "name 11 ") || !strings.Contains(got, "name 10") {
				t.Errorf("table cut at 10 rows:\n%s", got)
			}
		}
	}
	// Within the limit: the whole result, no error.
	out.Reset()
	s.format, s.limit = "csv", resultLimit{rows: 5000}
	if err := s.run(context.Background(), "SELECT id FROM f.big"); err != nil || strings.Count(out.String(), "\n") != 5001 {
		t.Fatalf("a result of exactly the limit: %v, %d lines", err, strings.Count(out.String(), "\n"))
	}
}

// The real command line: piped output streams everything unless
// --max-rows says otherwise; on a terminal (a pty, through script(1)) the
// [server] table's max_result_rows bounds what is printed.
func TestQueryLimitEndToEnd(t *testing.T) {
	src := manyRows(t, 5000)
	cfg := filepath.Join(t.TempDir(), "lienthong.toml")
	toml := fmt.Sprintf("[[sources]]\nname = \"f\"\nkind = \"csv\"\npath = %q\n\n[server]\nmax_result_rows = 7\n", filepath.Join(src, "*.csv"))
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (stdout, stderr string, status int) {
		c := exec.Command(self, args...)
		c.Env = append(os.Environ(), "LIENTHONG_AS_CLI=1")
		var o, e bytes.Buffer
		c.Stdout, c.Stderr = &o, &e
		err := c.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			status = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return o.String(), e.String(), status
	}
	const q = "SELECT id FROM f.big ORDER BY id"
	out, errs, st := run("query", "--config", cfg, "--format", "csv", q)
	if st != 0 || strings.Count(out, "\n") != 5001 || errs != "" {
		t.Errorf("piped: exit %d, %d lines, stderr %q; want every row", st, strings.Count(out, "\n"), errs)
	}
	out, errs, st = run("query", "--config", cfg, "--format", "csv", "--max-rows", "3", q)
	if st != 5 || out != "id\n1\n2\n3\n" || !strings.Contains(errs, "error: LT-RESULT-LIMIT: the result has more than 3 rows (--max-rows)") {
		t.Errorf("piped --max-rows 3: exit %d, stdout %q, stderr %q", st, out, errs)
	}
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("no script(1) to run the command on a pty; TestOutputLimit covers the terminal's limits")
	}
	line := strings.Join([]string{self, "query", "--config", cfg, "'" + q + "'"}, " ")
	c := exec.Command("script", "-qec", line, "/dev/null")
	c.Env = append(os.Environ(), "LIENTHONG_AS_CLI=1")
	b, err := c.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Fatalf("on a terminal: %v (want exit 5)\n%s", err, b)
	}
	tty := strings.ReplaceAll(string(b), "\r\n", "\n")
	if !strings.Contains(tty, "\n 7\n(7 rows)\n") || strings.Contains(tty, "\n 8\n") || !strings.Contains(tty, "more than 7 rows ([server] max_result_rows, on a terminal)") {
		t.Errorf("on a terminal, want 7 rows and the limit's message:\n%s", tty)
	}
	if _, _, st := run("query", "--config", cfg, "--max-rows", "0", q); st != 0 {
		t.Errorf("--max-rows 0: exit %d", st)
	}
}
