package health_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

	"lienthong/audit/chain"
	"lienthong/health"
)

func keys(t *testing.T) *chain.Keys {
	k, err := chain.NewKeys(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestMeasuredUptime probes two sources every 10 minutes through January
// 2026 with known outages and a gap when the node was stopped, and checks
// the measured figures exactly.
func TestMeasuredUptime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log.health")
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := jan
	downA := health.Window{From: jan.Add(9 * 24 * time.Hour), To: jan.Add(9*24*time.Hour + 12*time.Hour)} // 12 h
	stopped := health.Window{From: jan.Add(20 * 24 * time.Hour), To: jan.Add(21 * 24 * time.Hour)}        // no probes for a day
	pinger := health.PingerFunc(func(_ context.Context, src string) (time.Duration, error) {
		if src == "a" && !now.Before(downA.From) && now.Before(downA.To) {
			return 0, errors.New("dial tcp 127.0.0.1:5432: connection refused (pin 001099000001)")
		}
		return 3 * time.Millisecond, nil
	})
	m, err := health.Open(health.Options{Path: path, Keys: keys(t), Node: "n1", Sources: func() []string { return []string{"a", "b"} }, Interval: 10 * time.Minute, Now: func() time.Time { return now }, NoSync: true}, pinger)
	if err != nil {
		t.Fatal(err)
	}
	feb := jan.AddDate(0, 1, 0)
	for ; now.Before(feb); now = now.Add(10 * time.Minute) {
		if !now.Before(stopped.From) && now.Before(stopped.To) {
			continue
		}
		if _, err := m.Probe(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	month := health.Window{From: jan, To: feb}
	per, outages, err := health.Measure(path, month)
	if err != nil {
		t.Fatal(err)
	}
	a, b := per["a"][0], per["b"][0]
	// The last probe before the stop (19 Jan 23:50) holds for two
	// intervals, to 20 Jan 00:10; nothing is known from then to 21 Jan.
	unmeasured := 24*time.Hour - 10*time.Minute
	// The probe at 31 Jan 23:50 holds 10 min to the window's end.
	if a.Down != 12*time.Hour || a.Up != 31*24*time.Hour-unmeasured-12*time.Hour || a.Unmeasured() != unmeasured {
		t.Fatalf("a: up %v down %v unmeasured %v", a.Up, a.Down, a.Unmeasured())
	}
	wantPct := 100 * float64(31*24*time.Hour-unmeasured-12*time.Hour) / float64(31*24*time.Hour-unmeasured)
	if math.Abs(a.Percent()-wantPct) > 1e-9 || b.Percent() != 100 {
		t.Fatalf("uptime a %.6f (want %.6f), b %.6f", a.Percent(), wantPct, b.Percent())
	}
	if a.Outages != 1 || a.Longest != 12*time.Hour || len(outages) != 1 || outages[0].Start != downA.From || outages[0].End != downA.To {
		t.Fatalf("outages: %+v %+v", a, outages)
	}
	if bytes.Contains([]byte(outages[0].Error), []byte("001099000001")) {
		t.Fatal("a PIN-like number in a stored error")
	}
	if p50 := b.Latency.Quantile(0.5); p50 < 2970*time.Microsecond || p50 > 3030*time.Microsecond {
		t.Fatalf("probe latency p50 %v", p50)
	}
	res, err := chain.VerifyFile(path, chain.VerifyOptions{Keys: keys(t)})
	if err != nil || len(res.Problems) > 0 {
		t.Fatalf("history does not verify: %v %v", err, res.Problems)
	}
}

// TestUsedByQueries: a query that fails on one source marks it down at
// once and asks for a probe; a later success marks it up again.
func TestUsedByQueries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h")
	up := true
	now := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	m, err := health.Open(health.Options{Path: path, Keys: keys(t), Sources: func() []string { return []string{"a", "b"} }, Interval: time.Minute, Now: func() time.Time { return now }, NoSync: true},
		health.PingerFunc(func(context.Context, string) (time.Duration, error) {
			if !up {
				return 0, errors.New("down")
			}
			return time.Millisecond, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	now = now.Add(20 * time.Second)
	probe, err := m.Used(&chain.Record{Time: now, Outcome: "failed", Code: "LT-SOURCE", Sources: []string{"a"}})
	if err != nil || len(probe) != 1 || probe[0] != "a" {
		t.Fatalf("probe %v, %v", probe, err)
	}
	if st := m.State(); st[0].Up || st[0].Via != "use" {
		t.Fatalf("state after a failed query: %+v", st)
	}
	// Two sources, one failed: the record cannot say which; probe both.
	if probe, _ := m.Used(&chain.Record{Time: now, Outcome: "failed", Code: "LT-SOURCE", Sources: []string{"a", "b"}}); len(probe) != 2 {
		t.Fatalf("probe %v", probe)
	}
	// When the engine names the failed source, that one is marked down.
	now = now.Add(time.Second)
	if probe, err := m.Used(&chain.Record{Time: now, Outcome: "failed", Code: "LT-SOURCE", Sources: []string{"a", "b"}, FailedSource: "b"}); err != nil || len(probe) != 1 || probe[0] != "b" {
		t.Fatalf("probe %v %v", probe, err)
	}
	if st := m.State(); st[1].Up {
		t.Fatalf("b after a failure naming it: %+v", st[1])
	}
	// A user error says nothing about sources.
	if probe, _ := m.Used(&chain.Record{Time: now, Outcome: "failed", Code: "LT-SYNTAX", Sources: []string{"a"}}); len(probe) != 0 {
		t.Fatalf("probe %v", probe)
	}
	now = now.Add(10 * time.Second)
	if _, err := m.Used(&chain.Record{Time: now, Outcome: "succeeded", Sources: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	if st := m.State(); !st[0].Up || !st[1].Up {
		t.Fatalf("state after a successful query: %+v", st)
	}
	m.Close()
	// Reopening restores the last state.
	m2, err := health.Open(health.Options{Path: path, Keys: keys(t), Sources: func() []string { return []string{"a", "b"} }, NoSync: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if st := m2.State(); len(st) != 2 || !st[0].Up {
		t.Fatalf("restored state: %+v", st)
	}
	per, _, err := health.Measure(path, health.Window{From: now.Add(-time.Hour), To: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if a := per["a"][0]; a.Down != 11*time.Second || a.Outages != 1 {
		t.Fatalf("a: down %v outages %d", a.Down, a.Outages)
	}
}
