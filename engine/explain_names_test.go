package engine_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"lienthong/engine"
)

// EXPLAIN ANALYZE names the views as the run did, so the plan and DuckDB's
// profile (which echoes the executed SQL) agree; plain EXPLAIN shows the
// residual without the LIMIT scan barrier.
func TestExplainAnalyzeViewNamesAgree(t *testing.T) {
	f := newPolicyFixture(t)
	ctx := context.Background()
	q := "SELECT c.full_name, d.death_date FROM dancu.citizens c JOIN hotich.deaths d ON d.pin = c.pin WHERE d.death_date > '2000-01-01'"
	out, err := f.open.Explain(ctx, q, true, engine.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plan, profile, ok := strings.Cut(out, "Residual operators (DuckDB")
	if !ok {
		t.Fatalf("no profile:\n%s", out)
	}
	names := regexp.MustCompile(`_lt_(?:q\d+_)?remote_\d+`)
	inPlan := map[string]bool{}
	for _, n := range names.FindAllString(plan, -1) {
		inPlan[n] = true
	}
	if len(inPlan) != 2 {
		t.Fatalf("want two view names in the plan, got %v:\n%s", inPlan, plan)
	}
	for _, n := range names.FindAllString(profile, -1) {
		if !inPlan[n] {
			t.Errorf("the profile names %s, the plan %v", n, inPlan)
		}
	}
	plain, err := f.open.Explain(ctx, q, false, engine.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain, "LIMIT") || !strings.Contains(plain, `FROM "_lt_remote_1" AS "c"`) {
		t.Errorf("EXPLAIN residual:\n%s", plain)
	}
}
