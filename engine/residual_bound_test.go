//go:build duckdb_arrow

package engine

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"lienthong/catalog"
	"lienthong/config"
)

// crossEngine is an engine over two DuckDB files: a.t with n rows, b.u with
// m; SELECT ... FROM a.t, b.u is an n*m-row cross-source result.
func crossEngine(t testing.TB, n, m int) *Engine {
	t.Helper()
	dir := t.TempDir()
	mk := func(name, table string, rows int) config.Source {
		p := filepath.Join(dir, name+".duckdb")
		db, err := sql.Open("duckdb", p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(fmt.Sprintf("CREATE TABLE %s AS SELECT range AS %s FROM range(%d)", table, table+"v", rows)); err != nil {
			t.Fatal(err)
		}
		db.Close()
		return config.Source{Name: name, Kind: catalog.DuckDB, Path: p}
	}
	e, err := New(context.Background(), &config.Config{Sources: []config.Source{mk("a", "t", n), mk("b", "u", m)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	e.WaitCatalog(context.Background())
	return e
}

const crossQuery = "SELECT t.tv, u.uv, t.tv * u.uv AS z FROM a.t, b.u"

// vmHWM is the process's peak resident set, in kB.
func vmHWM(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	t.Skip("no VmHWM")
	return 0
}

// The residual streams: a 6M-row cross-source result's first batch comes
// while the large source is still being read, and the whole result goes
// through with the process's peak RSS growing far less than the result's
// size (6M rows x 3 BIGINT = 144 MB as Arrow, more as DuckDB's
// materialised chunks). Run in a child process so its peak RSS is this
// query's alone.
func TestResidualStreamsBounded(t *testing.T) {
	n, m := int64(300_000), int64(20)
	if v := os.Getenv("LT_STREAM_ROWS"); v != "" {
		n, _ = strconv.ParseInt(v, 10, 64)
	}
	if os.Getenv("LT_STREAM_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestResidualStreamsBounded$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "LT_STREAM_CHILD=1")
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	e := crossEngine(t, int(n), int(m))
	ctx := context.Background()
	// Warm up: DuckDB's and Go's baseline allocations are not the query's.
	warm, err := e.Query(ctx, "SELECT t.tv, u.uv FROM a.t, b.u LIMIT 10", QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for warm.Next() {
	}
	warm.Release()
	before := vmHWM(t)

	start := time.Now()
	var first time.Duration
	res, err := e.Query(ctx, crossQuery, QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	var rows, batches int64
	for res.Next() {
		if batches == 0 {
			first = time.Since(start)
			// The first batch: the big source must still be streaming.
			var read int64
			for _, s := range res.streams {
				if s.source == "a" {
					read = s.rows.Load()
				}
			}
			if read >= n {
				t.Errorf("first batch came after all %d rows of a.t were read: the residual materialised", n)
			}
			t.Logf("first batch: %d of %d rows of a.t read", read, n)
		}
		rows += res.RecordBatch().NumRows()
		batches++
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != n*m {
		t.Fatalf("%d rows, want %d", rows, n*m)
	}
	growth := vmHWM(t) - before
	t.Logf("%d rows in %d batches; first batch after %v, all after %v; peak RSS grew %d MB", rows, batches, first, time.Since(start), growth/1024)
	// Materialised, the result alone is over 144 MB; streamed, the
	// residual holds u's 20 rows and a few chunks.
	if growth > 100*1024 {
		t.Errorf("peak RSS grew %d MB streaming %d rows: want under 100 MB", growth/1024, rows)
	}
}
