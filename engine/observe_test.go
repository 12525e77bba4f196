package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"lienthong/engine"
)

type recorder struct {
	mu       sync.Mutex
	begins   []engine.Attempt
	ends     []engine.Attempt
	failNext error
}

func (r *recorder) Begin(_ context.Context, a *engine.Attempt) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.begins = append(r.begins, *a)
	return r.failNext
}

func (r *recorder) End(_ context.Context, a *engine.Attempt) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ends = append(r.ends, *a)
	return r.failNext
}

func TestObserverSeesEveryAttempt(t *testing.T) {
	e, _, _ := genEngine(t, 0.002, 9)
	rec := &recorder{}
	e.SetObserver(rec)
	sess := engine.Session{Principal: "analyst1", Agency: "BHXH", Purpose: "DEATH_FOLLOWUP", CaseID: "HS-1"}
	q := "SELECT d.pin FROM hotich.deaths d JOIN dancu.citizens c ON c.pin = d.pin WHERE c.pin <> '001099000001' ORDER BY d.pin"
	first, err := rows(t, e, q, engine.QueryOptions{Session: sess})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rows(t, e, q, engine.QueryOptions{Session: sess}); err != nil {
		t.Fatal(err)
	}
	if len(rec.begins) != 2 || len(rec.ends) != 2 {
		t.Fatalf("want 2 begins and 2 ends, got %d and %d", len(rec.begins), len(rec.ends))
	}
	a := rec.ends[0]
	if a.Outcome != engine.Succeeded || a.Rows != int64(len(first)) || a.Session != sess || a.ResultSHA256 == "" {
		t.Fatalf("bad end record: %+v", a)
	}
	if rec.ends[1].ResultSHA256 != a.ResultSHA256 {
		t.Error("the same query over the same data must hash the same")
	}
	if len(a.FilterPINs) != 1 || a.FilterPINs[0] != "001099000001" {
		t.Errorf("filtered PINs: %v", a.FilterPINs)
	}
	if len(a.Sources) != 2 || a.RowsPerSource["hotich"] == 0 {
		t.Errorf("sources touched: %v, rows per source %v", a.Sources, a.RowsPerSource)
	}
	// A parameter is recorded with the text, and a PIN among the values
	// is a filtered PIN like a literal one.
	pq := "SELECT d.pin FROM hotich.deaths d JOIN dancu.citizens c ON c.pin = d.pin WHERE c.pin <> ? ORDER BY d.pin"
	withParam, err := rows(t, e, pq, engine.QueryOptions{Session: sess, Params: []any{"001099000001"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := rec.ends[len(rec.ends)-1]; strings.Join(withParam, "|") != strings.Join(first, "|") || p.SQL != pq+"\n-- params: '001099000001'" ||
		len(p.FilterPINs) != 1 || p.FilterPINs[0] != "001099000001" {
		t.Errorf("with a parameter: %d rows (want %d), recorded %q, PINs %v", len(withParam), len(first), p.SQL, p.FilterPINs)
	}
	// Bad SQL is recorded as a failed attempt with its code.
	if _, err := rows(t, e, "SELECT nope FROM dancu.citizens", engine.QueryOptions{Session: sess}); err == nil {
		t.Fatal("want an error")
	}
	if last := rec.ends[len(rec.ends)-1]; last.Outcome != engine.Failed || last.ErrorCode != "LT-UNKNOWN" {
		t.Errorf("failed attempt recorded as %+v", last)
	}
	// Fail closed: an audit log that cannot be written answers nothing.
	rec.failNext = errors.New("disk full")
	_, err = rows(t, e, q, engine.QueryOptions{Session: sess})
	if !errors.Is(err, engine.ErrAudit) {
		t.Fatalf("want ErrAudit, got %v", err)
	}
}
