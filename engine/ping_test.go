package engine_test

import (
	"context"
	"path/filepath"
	"testing"

	"lienthong/bench/gen"
	"lienthong/config"
	"lienthong/engine"
)

func TestPing(t *testing.T) {
	dir := t.TempDir()
	if _, err := gen.Generate(context.Background(), gen.Options{Scale: 0.002, Seed: 9, Out: dir}); err != nil {
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
	defer e.Close()
	for _, s := range e.SourceNames() {
		if d, err := e.Ping(context.Background(), s); err != nil || d <= 0 {
			t.Fatalf("%s: %v %v", s, d, err)
		}
	}
	if _, err := e.Ping(context.Background(), "nope"); err == nil {
		t.Fatal("want an error")
	}
	rec := &recorder{}
	e.SetObserver(rec)
	if _, err := e.Explain(context.Background(), "SELECT COUNT(*) FROM dancu.citizens", true, engine.QueryOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(rec.begins) != 1 || len(rec.ends) != 1 || rec.ends[0].Outcome != engine.Succeeded || rec.ends[0].RowsPerSource["dancu"] == 0 {
		t.Fatalf("explain analyze not audited: %+v", rec.ends)
	}
}
