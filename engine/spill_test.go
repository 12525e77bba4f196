package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
