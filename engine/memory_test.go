//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"lienthong/planner"
)

// procKB reads a field of /proc/self/status (VmRSS, VmHWM), in kB.
func procKB(t testing.TB, field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	t.Skip("no " + field)
	return 0
}

// inChild re-runs the test named run in a child process (env set) and
// reports its log: peak RSS is then the test's alone.
func inChild(t *testing.T, run string, env ...string) bool {
	if os.Getenv("LT_MEMORY_CHILD") != "" {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.count=1", "-test.v", "-test.timeout=15m")
	cmd.Env = append(append(os.Environ(), "LT_MEMORY_CHILD=1"), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func spillBytes(dir string) (files int, bytes int64) {
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && fi.Name() != spillLock {
			files++
			bytes += fi.Size()
		}
		return nil
	})
	return
}

// A cross-source ORDER BY whose sort needs several times duckdb_memory_limit
// completes with the right answer by spilling: every row, in order. The
// spill directory holds DuckDB's files during the query and none after
// it; Close removes it. The process's peak RSS stays within the limit
// plus a stated overhead, and after the query its RSS returns close to
// where it was idle (DuckDB's allocator gives the pages back). Run in a
// child process so the RSS figures are this query's; LT_MEMORY_ROWS sets
// a.t's rows (12 rows of b.u each), make test-memory runs it larger.
func TestResidualSortSpillsAndReleases(t *testing.T) {
	n := envInt("LT_MEMORY_ROWS", 1_000_000)
	if inChild(t, "TestResidualSortSpillsAndReleases", "LT_MEMORY_ROWS="+strconv.Itoa(n)) {
		return
	}
	const m = 12
	const limitMB = 128
	e := crossEngine(t, n, m)
	base := t.TempDir()
	if err := e.ConfigureResidual(strconv.Itoa(limitMB)+"MB", base); err != nil {
		t.Fatal(err)
	}
	dir := e.SpillDirectory()
	ctx := context.Background()
	warm, err := e.Query(ctx, "SELECT t.tv, u.uv FROM a.t, b.u ORDER BY 1 LIMIT 10", QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for warm.Next() {
	}
	warm.Release()
	time.Sleep(2 * time.Second) // the allocator's background purge
	idle := procKB(t, "VmRSS")

	// (k, tv, uv) is unique per row and k scatters the rows: the sort
	// has to hold (or spill) all n*m of them before its first row.
	q := "SELECT (t.tv * 7919 + u.uv * 104729) % 1000003 AS k, t.tv, u.uv FROM a.t, b.u ORDER BY k, t.tv, u.uv"
	start := time.Now()
	res, err := e.Query(ctx, q, QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var rows, sumT, sumU, maxSpill, maxTemp int64
	var batches, first int
	var prev [3]int64
	prev[0] = -1
	for res.Next() {
		rec := res.RecordBatch()
		if batches%64 == 0 {
			if _, b := spillBytes(dir); b > maxSpill {
				maxSpill = b
			}
			var tb int64
			if err := e.residual.QueryRow("SELECT coalesce(sum(size), 0) FROM duckdb_temporary_files()").Scan(&tb); err != nil {
				t.Fatal(err)
			}
			maxTemp = max(maxTemp, tb)
		}
		if batches == 0 {
			first = int(time.Since(start).Milliseconds())
		}
		batches++
		k, tv, uv := rec.Column(0).(*array.Int64), rec.Column(1).(*array.Int64), rec.Column(2).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			cur := [3]int64{k.Value(i), tv.Value(i), uv.Value(i)}
			if cur[0] != (cur[1]*7919+cur[2]*104729)%1000003 {
				t.Fatalf("row %d: k %d does not match (%d, %d)", rows, cur[0], cur[1], cur[2])
			}
			if !(prev[0] < cur[0] || prev[0] == cur[0] && (prev[1] < cur[1] || prev[1] == cur[1] && prev[2] < cur[2])) {
				t.Fatalf("row %d: %v after %v: not in order", rows, cur, prev)
			}
			prev = cur
			sumT += cur[1]
			sumU += cur[2]
			rows++
		}
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	res.Release()
	took := time.Since(start)
	peak := procKB(t, "VmHWM")
	N, M := int64(n), int64(m)
	if rows != N*M || sumT != M*N*(N-1)/2 || sumU != N*M*(M-1)/2 {
		t.Fatalf("%d rows (want %d), sums %d %d (want %d %d)", rows, N*M, sumT, sumU, M*N*(N-1)/2, N*M*(M-1)/2)
	}
	t.Logf("%d rows (%d MB as 3 BIGINT) sorted under memory_limit %dMB in %v (first batch after %d ms); spilled up to %d MB (dir), %d MB (duckdb_temporary_files)",
		rows, rows*24>>20, limitMB, took.Round(time.Millisecond), first, maxSpill>>20, maxTemp>>20)
	if maxSpill == 0 || maxTemp == 0 {
		t.Errorf("the sort never spilled (dir %d bytes, DuckDB %d): the test shows nothing", maxSpill, maxTemp)
	}
	// Nothing of the query stays on disk.
	if files, b := spillBytes(dir); files != 0 {
		t.Errorf("after the query the spill directory holds %d files (%d bytes)", files, b)
	}

	// Peak: the limit, plus what is outside DuckDB's buffer pool (its
	// allocator's slack, the source DuckDBs' scans, the prefetched Arrow
	// batches, Go's heap).
	const overheadMB = 192
	t.Logf("RSS idle %d MB, peak %d MB (limit %d MB + %d MB)", idle>>10, peak>>10, limitMB, (peak-idle)>>10-limitMB)
	if peak-idle > (limitMB+overheadMB)<<10 {
		t.Errorf("peak RSS %d MB is past idle %d MB + memory_limit %d MB + %d MB", peak>>10, idle>>10, limitMB, overheadMB)
	}

	// Released: back within 64 MB of idle in a few seconds.
	const keptMB = 64
	var after int64
	deadline := time.Now().Add(10 * time.Second)
	for {
		after = procKB(t, "VmRSS")
		if after-idle <= 16<<10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("RSS after the query %d MB (idle %d MB), %v after it ended", after>>10, idle>>10, time.Since(start.Add(took)).Round(100*time.Millisecond))
	if after-idle > keptMB<<10 {
		t.Errorf("RSS %d MB 10 s after the query, idle was %d MB: more than %d MB kept", after>>10, idle>>10, keptMB)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("spill directory after Close: %v", err)
	}
}

// DuckDB's Out of Memory Error is the user's limit, LT-LIMIT, with a
// fixed message naming the setting; nothing of DuckDB's own text.
func TestResidualOutOfMemoryIsLimit(t *testing.T) {
	e := crossEngine(t, 200_000, 3)
	// 8MB is less than DuckDB's sort needs for its own blocks, spilling
	// or not.
	if err := e.ConfigureResidual("8MB", t.TempDir()); err != nil {
		t.Fatal(err)
	}
	res, err := e.Query(context.Background(), "SELECT t.tv, u.uv, CONCAT(t.tv, '-', u.uv, 'xxx') FROM a.t, b.u ORDER BY 3", QueryOptions{})
	if err == nil {
		for res.Next() {
		}
		err = res.Err()
		res.Release()
	}
	if err == nil {
		t.Fatal("the query ran within 8MB: no out-of-memory to test")
	}
	var pe *planner.Error
	if ErrorCode(err) != "LT-LIMIT" || !errors.As(err, &pe) {
		t.Fatalf("code %q: %v", ErrorCode(err), err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "duckdb_memory_limit") || strings.Contains(msg, "Out of Memory") || strings.Contains(msg, "xxx") || strings.ContainsAny(msg, "0123456789") {
		t.Fatalf("message %q", msg)
	}
	t.Logf("%s", msg)
	// The operator's log keeps DuckDB's reason (memory, or a full disk).
	var ce *ClientError
	if !errors.As(err, &ce) || !strings.Contains(ce.Detail(), "Out of Memory") {
		t.Errorf("the operator's detail lost DuckDB's reason: %v", err)
	}
	if files, _ := spillBytes(e.SpillDirectory()); files != 0 {
		t.Errorf("%d spill files left after the failed query", files)
	}
}
