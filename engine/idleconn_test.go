package engine_test

import (
	"context"
	"slices"
	"testing"

	"lienthong/engine"
)

// fillPool leaves n connections idle in slow's pool: n statements open
// at once, then ended.
func fillPool(t *testing.T, e *engine.Engine, n int) {
	t.Helper()
	var open []*engine.Result
	for range n {
		// Each holds its connection until read to the end.
		res, err := e.Query(context.Background(), "SELECT n FROM slow.big", engine.QueryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Next() {
			t.Fatalf("no rows: %v", res.Err())
		}
		open = append(open, res)
	}
	for _, res := range open {
		for res.Next() {
		}
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		res.Release()
	}
}

// A pooled connection that died while idle does not fail the next query:
// the statement, which finds it broken before anything was read, runs
// once more on a fresh connection (not another of the pool's idle ones:
// a blip kills them all). Two ways to die: closed (the client's
// socket sees the end at once) and reset on first use (a server restart
// or a firewall that forgot the connection: the client learns it only
// when it sends). A connection that breaks after rows were delivered is
// an error, never retried (TestSourceKilledMidStream).
func TestBrokenIdleConnectionIsRetried(t *testing.T) {
	for _, kind := range []string{"postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			dsn, server := holeDatabase(t, kind)
			// More batches than the engine reads ahead (fillPool).
			bigTable(t, kind, dsn(server), 8*8192)
			p := newCutProxy(t, server)
			e := holeEngine(t, kind, dsn(p.addr), dsn(server), `connect_timeout = "1s"
read_timeout = "2s"
breaker_failures = 2`)
			const q = "SELECT n, pin FROM slow.t ORDER BY n"
			want, err := rows(t, e, q, engine.QueryOptions{})
			if err != nil || len(want) == 0 {
				t.Fatalf("before: %v %v", want, err)
			}
			for _, blip := range []struct {
				name string
				do   func()
			}{{"closed", p.cutIdle}, {"reset on first use", p.poison}} {
				fillPool(t, e, 2)
				if n := p.open(); n < 2 {
					t.Fatalf("%d connections in the pool, want 2 (a retry on the other would pass for a retry on a fresh one)", n)
				}
				blip.do()
				got, err := rows(t, e, q, engine.QueryOptions{})
				if err != nil {
					t.Fatalf("%s: the query after its pooled connections broke failed: %v", blip.name, err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s: %d rows, want %d", blip.name, len(got), len(want))
				}
			}
			if st := e.SourceStates()[0]; st.Failures != 0 || st.Breaker != engine.BreakerClosed {
				t.Errorf("a retried blip counted as a failure: %+v", st)
			}
		})
	}
}
