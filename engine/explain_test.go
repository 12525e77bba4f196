package engine_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"lienthong/engine"
	"lienthong/planner"
)

// EXPLAIN ANALYZE counts rows: under a policy it must not count rows the
// principal may not see, and no profile prints filter values (PINs).
func TestExplainAnalyzeHidesCounts(t *testing.T) {
	f := newPolicyFixture(t)
	ctx := context.Background()
	out, err := f.secured.Explain(ctx, "SELECT COUNT(*) FROM dancu.citizens c JOIN hotich.deaths d ON d.pin = c.pin", true, engine.QueryOptions{Session: an})
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`dancu[^\n]*\n[^\n]*\n\s+read \d+ rows`).MatchString(out) || strings.Contains(out, "Rows") {
		t.Errorf("row counts of the filtered citizens table are shown:\n%s", out)
	}
	if !strings.Contains(out, "not shown") {
		t.Errorf("want the hidden counts said so:\n%s", out)
	}
	var pe *planner.Error
	if _, err := f.secured.Explain(ctx, "SELECT COUNT(*) FROM dancu.citizens", true, engine.QueryOptions{Session: binh}); !errors.As(err, &pe) || pe.Code != planner.CodeDenied {
		t.Errorf("EXPLAIN ANALYZE of a private query: want LT-DENIED, got %v", err)
	}
	if _, err := f.secured.Explain(ctx, "SELECT COUNT(*) FROM dancu.citizens", false, engine.QueryOptions{Session: binh}); err != nil {
		t.Errorf("EXPLAIN of a private query: %v", err)
	}
	// Without a policy the profile stays, without the join keys.
	out, err = f.open.Explain(ctx, "SELECT c.full_name, d.death_date FROM dancu.citizens c JOIN hotich.deaths d ON d.pin = c.pin WHERE d.death_date > '2000-01-01'", true, engine.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pin := range f.pins {
		if strings.Contains(out, pin) {
			t.Fatalf("the profile prints a PIN:\n%s", out)
		}
	}
	if !strings.Contains(out, "Residual operators (DuckDB") {
		t.Errorf("want DuckDB's profile without a policy:\n%s", out)
	}
}

// The catalog lists only what a principal may read.
func TestCatalogForPrincipal(t *testing.T) {
	f := newPolicyFixture(t)
	list := func(s engine.Session) map[string]bool {
		snap, err := f.secured.CatalogFor(context.Background(), s)
		if err != nil {
			t.Fatalf("%s: %v", s.Principal, err)
		}
		out := map[string]bool{}
		for _, src := range snap.Sources {
			for _, tb := range src.Tables {
				out[src.Name+"."+tb.Name] = true
				for _, c := range tb.Columns {
					out[src.Name+"."+tb.Name+"."+c.Name] = true
				}
			}
		}
		return out
	}
	got := list(an)
	for _, want := range []string{"dancu.citizens.pin", "dancu.citizens.full_name", "hotich.deaths", "bhxh.funeral_allowances"} {
		if !got[want] {
			t.Errorf("an should see %s", want)
		}
	}
	for _, hidden := range []string{"dancu.citizens.phone", "dancu.households", "hotich.births", "yte.visits"} {
		if got[hidden] {
			t.Errorf("an must not see %s", hidden)
		}
	}
	if c := list(cuong); len(c) != 0 {
		t.Errorf("a verify-only principal sees no table: %v", c)
	}
	if b := list(engine.Session{Principal: "binh"}); !b["yte.visits"] || b["dancu.citizens.full_name"] || !b["dancu.citizens.sex"] {
		t.Errorf("binh, any purpose: %v", b)
	}
	if _, err := f.secured.CatalogFor(context.Background(), engine.Session{Principal: "mallory"}); err == nil {
		t.Error("an unknown principal sees nothing")
	}
	if all, _ := f.open.CatalogFor(context.Background(), engine.Session{}); len(all.Sources) < 4 {
		t.Errorf("without a policy the whole catalog: %d sources", len(all.Sources))
	}
}
