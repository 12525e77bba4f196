package main

// The shell as people use it: this test binary run as the CLI
// (LIENTHONG_AS_CLI, see TestMain) in a pseudo-terminal, typed at, and its
// screen read back.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/text/unicode/norm"
)

// ptyShell is a lienthong process on a pseudo-terminal.
type ptyShell struct {
	t    *testing.T
	f    *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  []byte
	mark int // expect looks after this offset of the plain text
	done chan struct{}
}

// startPTY runs lienthong args on a terminal of rows x cols, with env
// added to a clean environment (HOME and the state dir in a temp dir).
func startPTY(t *testing.T, rows, cols uint16, env []string, args ...string) *ptyShell {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append([]string{"LIENTHONG_AS_CLI=1", "TERM=xterm", "PATH=" + os.Getenv("PATH"), "PAGER=off", "LANG=C.UTF-8"}, env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyShell{t: t, f: f, cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			p.mu.Lock()
			p.out = append(p.out, buf[:n]...)
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
	})
	return p
}

// ansi matches terminal control sequences and carriage returns, which
// plain text leaves out.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r`)

func (p *ptyShell) plain() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ansi.ReplaceAllString(string(p.out), "")
}

func (p *ptyShell) raw() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.out)
}

func (p *ptyShell) send(s string) {
	p.t.Helper()
	if _, err := p.f.WriteString(s); err != nil {
		p.t.Fatal(err)
	}
}

// expect waits for want in the plain text after the mark, moves the mark
// past it and returns the text from the old mark to there.
func (p *ptyShell) expect(want string) string {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		text := p.plain()
		if i := strings.Index(text[p.mark:], want); i >= 0 {
			got := text[p.mark : p.mark+i+len(want)]
			p.mark += i + len(want)
			return got
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("waited 20 s for %q; the screen after the last match:\n%s", want, text[p.mark:])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quit types \q and waits for the process to end.
func (p *ptyShell) quit() {
	p.t.Helper()
	p.send("\\q\r")
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Fatal("the shell did not end on \\q")
	}
	if err := p.cmd.Wait(); err != nil {
		p.t.Errorf("the shell ended with %v", err)
	}
}

// ptyData writes a CSV source "f" with people whose names are in NFD, in
// NFC and in wide characters, and its config.
func ptyData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	people := "id,full_name,province\n" +
		"1," + norm.NFD.String("Nguyễn Văn Ánh") + ",079\n" +
		"2,東京太郎,001\n" +
		"3," + norm.NFC.String("Lê Thị Bình") + ",079\n"
	if err := os.WriteFile(filepath.Join(dir, "people.csv"), []byte(people), 0o644); err != nil {
		t.Fatal(err)
	}
	var many strings.Builder
	many.WriteString("n\n")
	for i := 1; i <= 30; i++ {
		many.WriteString(strings.Repeat("9", i%7+1) + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "many.csv"), []byte(many.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "lienthong.toml")
	toml := "[[sources]]\nname = \"f\"\nkind = \"csv\"\npath = \"" + filepath.Join(dir, "*.csv") + "\"\n"
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestShellInATerminal(t *testing.T) {
	cfg := ptyData(t)
	state := t.TempDir()
	env := []string{"HOME=" + state, "XDG_STATE_HOME=" + state, "EDITOR=sed -i s/41/42/"}
	sh := startPTY(t, 40, 60, env, "sql", "--config", cfg)
	sh.expect("Tab completes")
	sh.expect("lienthong> ")

	// Tab completes a table name from the catalog.
	sh.send("SELECT id FROM f.peo\t")
	sh.expect("f.people")
	sh.send(";\r")
	sh.expect("(3 rows")
	sh.expect("lienthong> ")

	// A statement over two lines is one history entry, recalled whole.
	sh.send("SELECT id,\r")
	sh.expect("-> ")
	sh.send("province FROM f.people ORDER BY id;\r")
	sh.expect("(3 rows")
	sh.expect("lienthong> ")
	sh.send("\x1b[A") // Up
	sh.expect("SELECT id, province FROM f.people ORDER BY id;")
	sh.send("\r")
	if got := sh.expect("(3 rows"); !strings.Contains(got, "079") {
		t.Errorf("the recalled statement did not run:\n%s", got)
	}
	sh.expect("lienthong> ")

	// Display widths: the NFD name (more runes than columns) and the wide
	// name (two columns a character) pad to the same edge. Counted by hand.
	sh.send("SELECT full_name, id FROM f.people ORDER BY id;\r")
	got := sh.expect("(3 rows")
	want := strings.Join([]string{
		"full_name      | id",
		"---------------+---",
		norm.NFD.String("Nguyễn Văn Ánh") + " |  1",
		"東京太郎       |  2",
		norm.NFC.String("Lê Thị Bình") + "    |  3",
	}, "\n")
	if !strings.Contains(got, want) {
		t.Errorf("table not aligned by display width:\n%s\nwant:\n%s", got, want)
	}

	// \format csv.
	sh.send("\\format csv\r")
	sh.expect("output format is csv")
	sh.send("SELECT id, province FROM f.people ORDER BY id;\r")
	sh.expect("\nid,province\n1,079\n2,001\n3,079\n")
	sh.send("\\format table\r")
	sh.expect("output format is table")

	// \x on, then \x auto: a table wider than the terminal (60 columns) is
	// expanded, a narrow one is not.
	sh.send("\\x on\r")
	sh.expect("expanded output is on")
	sh.send("SELECT id, province FROM f.people WHERE id = 2;\r")
	sh.expect("-[ RECORD 1 ]")
	sh.expect("province | 001")
	sh.expect("(1 row")
	sh.send("\\x auto\r")
	sh.expect("expanded output is auto")
	sh.send("SELECT id, full_name, full_name AS a, full_name AS b, full_name AS c, full_name AS d FROM f.people WHERE id = 3;\r")
	sh.expect("-[ RECORD 1 ]")
	sh.expect("(1 row")
	sh.send("SELECT id AS k FROM f.people WHERE id = 3;\r")
	if got := sh.expect("(1 row"); strings.Contains(got, "RECORD") || !strings.Contains(got, "k\n-\n3\n") {
		t.Errorf("a narrow table under \\x auto:\n%s", got)
	}
	sh.send("\\x off\r")
	sh.expect("expanded output is off")

	// \e edits the last statement ($EDITOR here turns 41 into 42) and runs it.
	sh.send("SELECT 41 AS answer;\r")
	sh.expect("(1 row")
	sh.send("\\e\r")
	sh.expect("------\n    42\n(1 row")
	// ... and the statement being typed, which then goes on.
	sh.send("SELECT 41\r")
	sh.expect("-> ")
	sh.send("\\e\r")
	sh.expect("SELECT 42\n")
	sh.send("AS edited;\r")
	sh.expect("------\n    42\n(1 row")

	// \dt, \d+ TABLE, and \o FILE then \o.
	sh.send("\\dt\r")
	sh.expect("f.many")
	sh.send("\\d+ f.people\r")
	sh.expect("f.people (csv)")
	sh.expect("full_name")
	file := filepath.Join(t.TempDir(), "out.txt")
	sh.send("\\o " + file + "\r")
	sh.send("SELECT province AS pv FROM f.people ORDER BY id;\r")
	sh.send("\\o\r")
	sh.send("SELECT 'back' AS here;\r")
	if got := sh.expect("(1 row"); strings.Contains(got, "(3 rows") {
		t.Errorf("\\o FILE: the result reached the terminal:\n%s", got)
	}
	if b, err := os.ReadFile(file); err != nil || !strings.Contains(string(b), "pv\n---\n079\n001\n079\n(3 rows") {
		t.Errorf("\\o FILE: the file holds %q (%v)", b, err)
	}

	// \history off: what follows is not recorded.
	sh.send("\\history off\r")
	sh.expect("history is off")
	sh.send("SELECT 'unrecorded' AS u;\r")
	sh.expect("(1 row")

	// \timing off: the footer without the time.
	sh.send("\\timing off\r")
	sh.expect("timing is off")
	sh.send("SELECT id AS m FROM f.people WHERE id = 1;\r")
	sh.expect("\n(1 row)\n")
	sh.quit()

	// The history file: one line a statement, none a fragment of one.
	hist, err := os.ReadFile(filepath.Join(state, "lienthong", "history"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(hist)), "\n")
	whole, back := 0, 0
	for i, l := range lines {
		if l == "SELECT id," || l == "province FROM f.people ORDER BY id;" {
			t.Errorf("history holds a fragment of a statement: %q", l)
		}
		if l == "SELECT id, province FROM f.people ORDER BY id;" {
			whole++
			back = len(lines) - i // Ups to reach it from a new session
		}
	}
	if strings.Contains(string(hist), "unrecorded") {
		t.Errorf("a statement run after \\history off is in the history file")
	}
	if whole == 0 {
		t.Errorf("history lacks the two-line statement:\n%s", hist)
	}
	if st, err := os.Stat(filepath.Join(state, "lienthong", "history")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the history file should be the user's only: %v %v", st.Mode(), err)
	}

	// A new session recalls it from the file.
	sh = startPTY(t, 40, 60, env, "sql", "--config", cfg)
	sh.expect("lienthong> ")
	for range back {
		sh.send("\x1b[A")
	}
	sh.expect("SELECT id, province FROM f.people ORDER BY id;")
	sh.send("\x03") // clear the line
	sh.expect("lienthong> ")
	sh.quit()
}

// A result longer than the screen goes through $PAGER; a short one does not.
func TestShellPagesLongResults(t *testing.T) {
	cfg := ptyData(t)
	state := t.TempDir()
	sh := startPTY(t, 12, 80, []string{"HOME=" + state, "XDG_STATE_HOME=" + state, "PAGER=sed s/^/PAGED:/"}, "sql", "--config", cfg)
	sh.expect("lienthong> ")
	sh.send("SELECT n FROM f.many;\r")
	sh.expect("PAGED:(30 rows")
	sh.expect("lienthong> ")
	sh.send("SELECT COUNT(*) AS total FROM f.many;\r")
	if got := sh.expect("(1 row"); strings.Contains(got, "PAGED:") {
		t.Errorf("a short result was paged:\n%s", got)
	}
	sh.quit()
}

// Ctrl-C during a long query cancels it (the progress line shows while it
// runs), and the next query answers in the same session.
func TestShellCtrlCInATerminal(t *testing.T) {
	cfg, conn := slowPostgres(t)
	state := t.TempDir()
	sh := startPTY(t, 40, 100, []string{"HOME=" + state, "XDG_STATE_HOME=" + state}, "sql", "--config", cfg)
	sh.expect("lienthong> ")
	sh.send("SELECT pin, z FROM dancu.slow;\r")
	sh.expect("dancu 0 rows")
	sh.expect("Ctrl-C cancels")
	running := make(chan struct{})
	whenSlowRuns(t, conn, func() { close(running) })
	select {
	case <-running:
	case <-time.After(20 * time.Second):
		t.Fatal("the slow query never reached PostgreSQL")
	}
	sh.send("\x03")
	sh.expect("LT-CANCELLED")
	// Between the last progress line and the error, the line is erased.
	raw := sh.raw()
	end := strings.Index(raw, "LT-CANCELLED")
	last := strings.LastIndex(raw[:end], "Ctrl-C cancels")
	if last < 0 || !strings.Contains(raw[last:end], "\r\x1b[K") {
		t.Errorf("the progress line was not erased before the error: %q", raw[max(0, last-80):end])
	}
	sh.expect("lienthong> ")
	sh.send("SELECT COUNT(*) AS n FROM dancu.citizens;\r")
	sh.expect("---\n500\n(1 row")
	sh.quit()
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%slow%' AND state = 'active' AND pid <> pg_backend_pid()").Scan(&n); err != nil || n != 0 {
		t.Errorf("the cancelled query still runs in PostgreSQL (%d, %v)", n, err)
	}
}

// lienthong query draws its progress line on stderr only when stderr is
// a terminal.
func TestQueryProgressOnlyOnATerminal(t *testing.T) {
	cfg, conn := slowPostgres(t)
	if _, err := conn.Exec(context.Background(), "CREATE VIEW slow1 AS SELECT pin, pg_sleep(1.5)::text AS z FROM (SELECT pin FROM citizens LIMIT 1) c"); err != nil {
		t.Fatal(err)
	}
	q := "SELECT pin FROM dancu.slow1"
	sh := startPTY(t, 40, 100, nil, "query", "--config", cfg, q)
	sh.expect("dancu 0 rows")
	sh.expect("000000000001")
	<-sh.done
	// stderr a file, stdout a pipe: no progress.
	errFile := filepath.Join(t.TempDir(), "stderr")
	ef, err := os.Create(errFile)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	cmd := exec.Command(os.Args[0], "query", "--config", cfg, q)
	cmd.Env = append(os.Environ(), "LIENTHONG_AS_CLI=1")
	cmd.Stderr = ef
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "000000000001") {
		t.Fatalf("query: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(errFile); len(b) != 0 {
		t.Errorf("progress written to a stderr that is no terminal: %q", b)
	}
}
