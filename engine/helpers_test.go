package engine_test

import (
	"context"
	"path/filepath"
	"testing"

	"lienthong/bench/gen"
	"lienthong/config"
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
	cfg, err := config.Load(filepath.Join(dir, "lienthong.toml"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, m, dir
}

// rows runs sql and renders each row canonically.
func rows(t *testing.T, e *engine.Engine, sql string, opt engine.QueryOptions) ([]string, error) {
	t.Helper()
	return attacks.Rows(e, sql, opt)
}
