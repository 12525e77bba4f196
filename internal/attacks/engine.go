package attacks

import (
	"context"
	"testing"

	"lienthong/config"
	"lienthong/engine"
)

// OpenEngine loads the config at path and opens an engine over it, closed
// when t ends.
func OpenEngine(t testing.TB, path string) *engine.Engine {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}
