package engine_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"lienthong/engine"
	"lienthong/planner"
)

// A source that goes down (its port refuses connections, its open
// connections are cut) and comes back on the same port: its queries fail
// at once naming it, the breaker opens after breaker_failures and then
// refuses without trying, the engine's source states (what /readyz and
// /v1/catalog report) say so, queries on another source are unaffected;
// once it listens again the breaker's probe (a query after the cool-down,
// or at once a health probe, Engine.Ping) closes it without a restart.
func TestSourceDownAndBack(t *testing.T) {
	for _, kind := range []string{"postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			dsn, server := holeDatabase(t, kind)
			p := newCutProxy(t, server)
			const cooldown = time.Second
			e := holeEngine(t, kind, dsn(p.addr), dsn(server), `connect_timeout = "1s"
read_timeout = "1s"
max_concurrent = 2
breaker_failures = 2
breaker_cooldown = "1s"`)
			const q = "SELECT COUNT(*) FROM slow.t"
			if _, err := timedRows(t, e, q); err != nil {
				t.Fatal(err)
			}
			bound := baseline(t, e)
			load := startHealthyLoad(t, e)
			state := func() engine.SourceState {
				st := e.SourceStates()
				if st[1].Breaker != engine.BreakerClosed {
					t.Errorf("the healthy source's state: %+v", st[1])
				}
				return st[0]
			}
			fail := func(what string, within time.Duration, codes ...string) error {
				t.Helper()
				d, err := timedRows(t, e, q)
				if err == nil {
					t.Fatalf("%s: a query on the source succeeded while it refused connections", what)
				}
				checkSourceError(t, err, codes...)
				if d > within {
					t.Errorf("%s: failing took %s (bound %s)", what, d, within)
				}
				t.Logf("%s: failed in %s", what, d.Round(time.Millisecond))
				return err
			}
			down := string(planner.CodeUnavailable)
			for _, recover := range []string{"query after the cool-down", "health probe"} {
				p.refuse()
				// Connection refused: known at once, no timeout to wait.
				fail("down, first query", time.Second, down)
				fail("down, second query", time.Second, down)
				if st := state(); st.Breaker != engine.BreakerOpen || st.Failures < 2 {
					t.Fatalf("after breaker_failures = 2 failures: %+v", st)
				}
				// Open: refused without trying.
				if err := fail("breaker open", 200*time.Millisecond, down); !errors.Is(err, engine.ErrSourceDown) {
					t.Errorf("not refused by the breaker: %v", err)
				}
				// A health probe while down keeps it open.
				if _, err := e.Ping(context.Background(), "slow"); err == nil {
					t.Fatal("a ping succeeded while the source refused connections")
				}
				if st := state(); st.Breaker != engine.BreakerOpen {
					t.Fatalf("after a failed probe: %+v", st)
				}
				if recover == "query after the cool-down" {
					// The cool-down over, the states say a probe is due;
					// the next query is it, fails, and the breaker reopens.
					time.Sleep(cooldown)
					if st := state(); st.Breaker != engine.BreakerHalfOpen {
						t.Fatalf("after the cool-down: %+v", st)
					}
					if err := fail("the probe, still down", time.Second, down); errors.Is(err, engine.ErrSourceDown) {
						t.Errorf("after the cool-down a query was refused instead of probing: %v", err)
					}
					if st := state(); st.Breaker != engine.BreakerOpen {
						t.Fatalf("after a failed probe: %+v", st)
					}
				}
				p.reopen(t)
				back := time.Now()
				if recover == "health probe" {
					if _, err := e.Ping(context.Background(), "slow"); err != nil {
						t.Fatalf("a ping once the source listens again: %v", err)
					}
					if st := state(); st.Breaker != engine.BreakerClosed || st.Failures != 0 {
						t.Fatalf("a successful probe left %+v", st)
					}
				}
				for {
					_, err := timedRows(t, e, q)
					if err == nil {
						break
					}
					if !errors.Is(err, engine.ErrSourceDown) {
						t.Fatalf("once the source listens again, a query failed other than by the breaker: %v", err)
					}
					if time.Since(back) > cooldown+3*time.Second {
						t.Fatalf("no recovery %s after the source listened again: %v", time.Since(back), err)
					}
					time.Sleep(50 * time.Millisecond)
				}
				took := time.Since(back)
				t.Logf("%s: recovered %s after the source listened again", recover, took.Round(time.Millisecond))
				if recover == "health probe" && took > time.Second {
					t.Errorf("after a successful probe the first query took %s", took)
				}
				if st := state(); st.Breaker != engine.BreakerClosed || st.Failures != 0 || st.Running != 0 {
					t.Errorf("after recovery: %+v", st)
				}
			}
			load.check(t, bound)
		})
	}
}

// A source down when the engine starts: its queries fail at once naming
// it; once it listens, a query connects it lazily, without a restart or
// REFRESH CATALOG. (The planner's LT-SOURCE-DOWN message quotes the
// catalog's reason, the driver's connect error with host and database
// user: a known gap, not asserted here.)
func TestSourceDownAtStartComesBack(t *testing.T) {
	for _, kind := range []string{"postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			dsn, server := holeDatabase(t, kind)
			p := newCutProxy(t, server)
			p.refuse()
			e := holeEngine(t, kind, dsn(p.addr), dsn(server), `connect_timeout = "1s"
breaker_failures = 2
breaker_cooldown = "500ms"`)
			const q = "SELECT COUNT(*) FROM slow.t"
			d, err := timedRows(t, e, q)
			if err == nil {
				t.Fatal("a query on a source that refuses connections succeeded")
			}
			downAtStart(t, err, p.addr)
			if d > 2*time.Second {
				t.Errorf("failing took %s", d)
			}
			p.reopen(t)
			back := time.Now()
			for {
				_, err := timedRows(t, e, q)
				if err == nil {
					break
				}
				downAtStart(t, err, p.addr)
				if time.Since(back) > 5*time.Second {
					t.Fatalf("no recovery: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Logf("down at start: failed in %s; recovered %s after the source listened", d.Round(time.Millisecond), time.Since(back).Round(time.Millisecond))
		})
	}
}

func downAtStart(t *testing.T, err error, addr string) {
	t.Helper()
	if code := engine.ErrorCode(err); code != string(planner.CodeUnavailable) || !strings.Contains(err.Error(), "source slow") {
		t.Errorf("want %s naming source slow: %v", planner.CodeUnavailable, err)
	}
	// The driver's text (host, port, database user, database) is the
	// operator's, never the client's.
	_, port, _ := net.SplitHostPort(addr)
	for _, leak := range []string{"127.0.0.1", port, "dial", "user", "lt_"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("the error shows the driver's %q: %v", leak, err)
		}
	}
}
