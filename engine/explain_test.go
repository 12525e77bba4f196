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
