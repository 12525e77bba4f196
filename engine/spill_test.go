package engine

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lienthong/config"
)

// New makes a spill directory of the engine's own; Close removes it.
func TestSpillDirectory(t *testing.T) {
	base := t.TempDir()
	e, err := New(context.Background(), &config.Config{DuckDBTempDirectory: base, DuckDBMemoryLimit: "512MB"})
	if err != nil {
		t.Fatal(err)
	}
	dir := e.SpillDirectory()
	if filepath.Dir(dir) != base || !strings.HasPrefix(filepath.Base(dir), "lienthong-spill-") {
		t.Fatalf("spill directory %q not under %q", dir, base)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("spill directory: %v", err)
	}
	var got, limit string
	if err := e.residual.QueryRow("SELECT current_setting('temp_directory'), current_setting('memory_limit')").Scan(&got, &limit); err != nil {
		t.Fatal(err)
	}
	if got != dir {
		t.Fatalf("DuckDB spills to %q, want %q", got, dir)
	}
	t.Logf("memory_limit %s", limit)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("spill directory left after Close: %v", err)
	}
	if d := defaultMemoryLimit(); d == "" {
		t.Log("no /proc/meminfo: DuckDB's default memory limit")
	}
}

// spillChild runs in a child process (LT_SPILL_CHILD is the temp
// directory): it opens an engine, prints its spill directory and, with
// LT_SPILL_SORT, runs a sort in the residual that spills, then waits to
// be killed.
func spillChild(t *testing.T, base string) {
	e, err := New(context.Background(), &config.Config{DuckDBTempDirectory: base, DuckDBMemoryLimit: "64MB"})
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("dir " + e.SpillDirectory() + "\n")
	if os.Getenv("LT_SPILL_SORT") != "" {
		go e.residual.Exec("CREATE TEMP TABLE s AS SELECT range AS v FROM range(40000000) ORDER BY hash(range)")
	}
	time.Sleep(5 * time.Minute)
}

// A process killed with SIGKILL cannot remove its spill directory; the
// next engine on the same temp directory does, and leaves alone the
// directory of an engine that is still alive (in another process).
func TestSpillSweptAfterKill(t *testing.T) {
	if base := os.Getenv("LT_SPILL_CHILD"); base != "" {
		spillChild(t, base)
		return
	}
	base := t.TempDir()
	start := func(sort bool) (*exec.Cmd, string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSpillSweptAfterKill$", "-test.count=1")
		cmd.Env = append(os.Environ(), "LT_SPILL_CHILD="+base)
		if sort {
			cmd.Env = append(cmd.Env, "LT_SPILL_SORT=1")
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		line, err := bufio.NewReader(out).ReadString('\n')
		dir, ok := strings.CutPrefix(strings.TrimSpace(line), "dir ")
		if err != nil || !ok {
			t.Fatalf("child said %q: %v", line, err)
		}
		return cmd, dir
	}
	killed, deadDir := start(true)
	live, liveDir := start(false)

	// Wait for the dying child's sort to spill, so real spill files are
	// left behind.
	spillFiles := func(dir string) (n int, bytes int64) {
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && fi.Name() != spillLock {
				n++
				bytes += fi.Size()
			}
			return nil
		})
		return
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if n, b := spillFiles(deadDir); n > 0 && b > 0 {
			t.Logf("child spilled %d files, %d MB", n, b>>20)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child's sort never spilled")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := killed.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed.Wait()
	if n, _ := spillFiles(deadDir); n == 0 {
		t.Fatal("the killed child's spill files are gone before any sweep: the test shows nothing")
	}
	// A directory of a lienthong before the lock file, and one that is not
	// lienthong's at all.
	legacy := filepath.Join(base, spillPrefix+"legacy")
	other := filepath.Join(base, "someone-else")
	for _, d := range []string{legacy, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	e, err := New(context.Background(), &config.Config{DuckDBTempDirectory: base, DuckDBMemoryLimit: "64MB"})
	if err != nil {
		t.Fatal(err)
	}
	own := e.SpillDirectory()
	for _, c := range []struct {
		dir  string
		want bool
	}{{deadDir, false}, {legacy, false}, {liveDir, true}, {other, true}, {own, true}} {
		_, err := os.Stat(c.dir)
		if exists := err == nil; exists != c.want {
			t.Errorf("%s: exists %v, want %v", c.dir, exists, c.want)
		}
	}
	// The live child's lock is still its own: a second engine leaves it too.
	e2, err := New(context.Background(), &config.Config{DuckDBTempDirectory: base})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{liveDir, own} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("a second engine swept a live directory: %v", err)
		}
	}
	e2.Close()
	live.Process.Signal(syscall.SIGKILL)
	live.Wait()
	e.Close()
	if _, err := os.Stat(own); !os.IsNotExist(err) {
		t.Errorf("own directory after Close: %v", err)
	}
	// Both children dead now: the next engine leaves only its own.
	e3, err := New(context.Background(), &config.Config{DuckDBTempDirectory: base})
	if err != nil {
		t.Fatal(err)
	}
	defer e3.Close()
	left, _ := filepath.Glob(filepath.Join(base, spillPrefix+"*"))
	if len(left) != 1 || left[0] != e3.SpillDirectory() {
		t.Errorf("after the live child died: %v, want only %s", left, e3.SpillDirectory())
	}
}

// DuckDB-backed sources get the node's memory limit unless they set their
// own, and spill inside the engine's spill directory, one subdirectory
// each, so Close and the sweep remove their files too.
func TestSourcesShareTheMemoryBound(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.csv"), []byte("pin,n\n001,1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "lienthong.toml")
	toml := "duckdb_memory_limit = \"300MB\"\nduckdb_temp_directory = \"spill\"\n" +
		"[[sources]]\nname = \"a\"\nkind = \"csv\"\npath = \"*.csv\"\n" +
		"[[sources]]\nname = \"b\"\nkind = \"csv\"\npath = \"*.csv\"\nmemory_limit = \"64MB\"\n"
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a, b := e.srcs["a"].cfg, e.srcs["b"].cfg
	if a.MemoryLimit != "300MB" || b.MemoryLimit != "64MB" {
		t.Fatalf("memory limits %q, %q; want the node's 300MB and b's own 64MB", a.MemoryLimit, b.MemoryLimit)
	}
	if filepath.Dir(a.SpillDirectory) != e.SpillDirectory() || a.SpillDirectory == b.SpillDirectory {
		t.Fatalf("spill directories %q, %q; want two apart inside %q", a.SpillDirectory, b.SpillDirectory, e.SpillDirectory())
	}
}
