package engine_test

import (
	"context"
	"testing"

	"lienthong/engine"
)

// readWithProgress runs sql, reads it to the end and returns its progress.
func readWithProgress(t *testing.T, e *engine.Engine, sql string, who engine.Session) []engine.SourceProgress {
	t.Helper()
	prog := &engine.Progress{}
	res, err := e.Query(context.Background(), sql, engine.QueryOptions{Session: who, Progress: prog})
	if err != nil {
		t.Fatal(err)
	}
	for res.Next() {
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	res.Release()
	return prog.Sources()
}

// Progress counts rows read per source, and under a policy shows no more
// than EXPLAIN ANALYZE: no count for a table the principal sees only part
// of, none at all for a differentially private query.
func TestProgressCountsWhatExplainAnalyzeShows(t *testing.T) {
	f := newPolicyFixture(t)
	q := "SELECT COUNT(*) FROM dancu.citizens c JOIN hotich.deaths d ON d.pin = c.pin"
	open := readWithProgress(t, f.open, q, engine.Session{})
	if len(open) != 2 || open[0].Source != "dancu" || open[1].Source != "hotich" {
		t.Fatalf("want dancu and hotich, got %+v", open)
	}
	for _, s := range open {
		if s.Hidden || s.Rows <= 0 || !s.Done {
			t.Errorf("without a policy every count shows, and the sources are done: %+v", s)
		}
	}
	secured := readWithProgress(t, f.secured, q, an)
	for _, s := range secured {
		if s.Source == "dancu" && (!s.Hidden || s.Rows != 0) {
			t.Errorf("an sees only part of dancu.citizens: its count must be hidden: %+v", s)
		}
	}
	private := readWithProgress(t, f.secured, "SELECT COUNT(*) FROM dancu.citizens", binh)
	if len(private) == 0 {
		t.Fatal("the private query read no source")
	}
	for _, s := range private {
		if !s.Hidden || s.Rows != 0 {
			t.Errorf("a differentially private query's counts must be hidden: %+v", s)
		}
	}
}
