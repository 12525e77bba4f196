package duckdb

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"lienthong/catalog"
	"lienthong/config"
)

// A DuckDB-backed source's own DuckDB takes the memory limit and spill
// directory it is given (the engine gives the node's, inside its own
// spill directory).
func TestSourceMemoryLimitAndSpill(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.csv"), []byte("pin,n\n001,1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spill := filepath.Join(dir, "spill", "source-0")
	c, err := Open(context.Background(), config.Source{Name: "s", Kind: catalog.CSV, Path: filepath.Join(dir, "*.csv"), MemoryLimit: "123MB", SpillDirectory: spill})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var limit, temp string
	if err := c.db.QueryRow("SELECT current_setting('memory_limit'), current_setting('temp_directory')").Scan(&limit, &temp); err != nil {
		t.Fatal(err)
	}
	// DuckDB reports the limit in its own units (123MB is 117.3 MiB).
	if limit != "117.3 MiB" || temp != spill {
		t.Fatalf("memory_limit %q temp_directory %q; want 117.3 MiB and %s", limit, temp, spill)
	}
}
