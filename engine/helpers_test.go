package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"lienthong/bench/gen"
	"lienthong/engine"
	"lienthong/internal/attacks"
)

// genEngine generates embedded agency data and opens an engine over it.
func genEngine(t *testing.T, scale float64, seed int64) (*engine.Engine, *gen.Manifest, string) {
	t.Helper()
	dir := t.TempDir()
	m, err := gen.Generate(context.Background(), gen.Options{Scale: scale, Seed: seed, Out: dir})
	if err != nil {
		t.Fatal(err)
	}
	return attacks.OpenEngine(t, filepath.Join(dir, "lienthong.toml")), m, dir
}

// tomlEngine writes toml as dir/lienthong.toml and opens an engine over
// it, closed when t ends.
func tomlEngine(t *testing.T, dir, toml string) *engine.Engine {
	t.Helper()
	path := filepath.Join(dir, "lienthong.toml")
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return attacks.OpenEngine(t, path)
}

// rows runs sql and renders each row canonically.
func rows(t *testing.T, e *engine.Engine, sql string, opt engine.QueryOptions) ([]string, error) {
	t.Helper()
	return attacks.Rows(e, sql, opt)
}
