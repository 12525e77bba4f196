package engine_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"lienthong/config"
	"lienthong/engine"
	"lienthong/planner"
)

// near reports whether a noisy row "k1 | ... | n" has the exact row's keys
// and a last figure within tol of the exact one.
func near(t *testing.T, got, exact string, tol float64) bool {
	t.Helper()
	g, e := strings.Split(got, " | "), strings.Split(exact, " | ")
	if len(g) != len(e) || strings.Join(g[:len(g)-1], "|") != strings.Join(e[:len(e)-1], "|") {
		return false
	}
	gv, err1 := strconv.ParseFloat(g[len(g)-1], 64)
	ev, err2 := strconv.ParseFloat(e[len(e)-1], 64)
	return err1 == nil && err2 == nil && math.Abs(gv-ev) <= tol
}

// Aggregate-only tables answer noisy aggregates near the truth for large
// groups and release no small group.
func TestPrivateAggregates(t *testing.T) {
	f := newPolicyFixture(t)
	for _, c := range []struct {
		private, exact string
		tol            float64 // 30 noise scales: a false failure is below 1e-12
	}{
		{"SELECT COUNT(*) FROM dancu.citizens", "SELECT COUNT(*) FROM dancu.citizens", 30},
		{"SELECT COUNT(DISTINCT pin) FROM dancu.citizens WHERE death_date IS NULL", "SELECT COUNT(*) FROM dancu.citizens WHERE death_date IS NULL", 30},
		{"SELECT sex, COUNT(*) AS n FROM dancu.citizens GROUP BY sex ORDER BY sex DESC", "SELECT sex, COUNT(*) FROM dancu.citizens GROUP BY sex ORDER BY sex DESC", 60},
		{"SELECT c.sex, COUNT(DISTINCT c.pin) FROM dancu.citizens c JOIN yte.visits v ON v.pin = c.pin GROUP BY 1 ORDER BY 1",
			"SELECT c.sex, COUNT(DISTINCT c.pin) FROM dancu.citizens c JOIN yte.visits v ON v.pin = c.pin GROUP BY 1 ORDER BY 1", 60},
		// Visits: one row per citizen counts (max_rows_per_citizen = 1).
		{"SELECT COUNT(*) FROM yte.visits", "SELECT COUNT(DISTINCT pin) FROM yte.visits", 30},
		{"SELECT SUM(cost) FROM yte.visits", "SELECT SUM(m) FROM (SELECT pin, LEAST(SUM(LEAST(GREATEST(cost, 0), 2000000)), 2000000) m FROM yte.visits GROUP BY pin) t", 30 * 2000000 * 1.01},
	} {
		got, err := rows(t, f.secured, c.private, engine.QueryOptions{Session: binh})
		if err != nil {
			t.Errorf("%s: %v", c.private, err)
			continue
		}
		exact, err := rows(t, f.open, c.exact, engine.QueryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(exact) {
			t.Errorf("%s: %d groups released, want the %d large ones: %v", c.private, len(got), len(exact), got)
			continue
		}
		for i := range got {
			if !near(t, got[i], exact[i], c.tol) {
				t.Errorf("%s: noisy %q not within %g of %q", c.private, got[i], c.tol, exact[i])
			}
		}
	}
	// Small groups are never released: one citizen per PIN, a handful per
	// commune.
	for _, q := range []string{
		"SELECT pin, COUNT(*) FROM dancu.citizens GROUP BY pin",
		"SELECT birth_date, COUNT(*) FROM dancu.citizens GROUP BY birth_date",
		"SELECT permanent_commune, COUNT(*) FROM dancu.citizens GROUP BY permanent_commune",
	} {
		got, err := rows(t, f.secured, q, engine.QueryOptions{Session: binh})
		if err != nil || len(got) != 0 {
			t.Errorf("%s: want no group released, got %d %v", q, len(got), err)
		}
	}
	// The same query twice gives different answers (fresh noise each time),
	// which is what makes averaging cost budget.
	a, _ := rows(t, f.secured, "SELECT COUNT(*) FROM dancu.citizens", engine.QueryOptions{Session: binh})
	differs := false
	for i := 0; i < 10 && !differs; i++ {
		b, _ := rows(t, f.secured, "SELECT COUNT(*) FROM dancu.citizens", engine.QueryOptions{Session: binh})
		differs = len(a) == 1 && len(b) == 1 && a[0] != b[0]
	}
	if !differs {
		t.Errorf("eleven noisy counts were all %v: no noise is added", a)
	}
}

// The single-query tricks that single out one citizen are refused: no raw
// row of an aggregate-only table reaches anything but a bounded aggregate.
func TestPrivateRefusesSinglingOut(t *testing.T) {
	f := newPolicyFixture(t)
	one := "full_name = 'x' AND birth_date = '1990-01-01'"
	for _, q := range []string{
		"SELECT SUM(CASE WHEN " + one + " THEN household_id ELSE 0 END) FROM dancu.citizens",
		"SELECT sex, COUNT(*) FROM dancu.citizens GROUP BY sex HAVING MAX(CASE WHEN " + one + " THEN 1 END) = 1",
		"SELECT COUNT(*) FROM dancu.citizens ORDER BY MAX(CASE WHEN " + one + " THEN 1 END)",
		"SELECT COUNT(*) FROM dancu.citizens WHERE permanent_commune IN (SELECT permanent_commune FROM dancu.citizens WHERE " + one + ")",
		"SELECT COUNT(*) FROM dancu.citizens c WHERE EXISTS (SELECT 1 FROM dancu.citizens d WHERE d.permanent_commune = c.permanent_commune AND d.sex = 'F')",
		"SELECT c.sex, c.birth_date, COUNT(*) FROM dancu.citizens c JOIN dancu.citizens d ON d.permanent_commune = c.permanent_commune GROUP BY c.sex, c.birth_date",
		"SELECT COUNT(*) FROM dancu.citizens c, dancu.citizens d",
		"SELECT COUNT(*) FROM (SELECT pin FROM dancu.citizens UNION ALL SELECT pin FROM dancu.citizens) t",
		"SELECT COUNT(*) FROM (SELECT * FROM dancu.citizens WHERE " + one + ") t",
		"SELECT (SELECT COUNT(*) FROM dancu.citizens WHERE " + one + ")",
		"SELECT COUNT(*), (SELECT MAX(pin) FROM dancu.citizens) FROM dancu.citizens",
		"WITH x AS (SELECT * FROM dancu.citizens) SELECT COUNT(*) FROM x",
		"SELECT COUNT(*) FROM dancu.citizens UNION ALL SELECT COUNT(*) FROM dancu.citizens",
		"SELECT sex, COUNT(*) OVER () FROM dancu.citizens",
		"SELECT sex, COUNT(*) FROM dancu.citizens GROUP BY sex ORDER BY COUNT(*) DESC",
		"SELECT sex, COUNT(*) FROM dancu.citizens GROUP BY sex LIMIT 1",
		"SELECT MIN(birth_date) FROM dancu.citizens",
		"SELECT MAX(birth_date) FROM dancu.citizens",
		"SELECT COUNT(DISTINCT birth_date) FROM dancu.citizens",
		"SELECT SUM(household_id) FROM dancu.citizens",
		"SELECT AVG(cost + 0) FROM yte.visits",
		"SELECT COUNT(*) * 2 FROM dancu.citizens",
		"SELECT DISTINCT sex FROM dancu.citizens",
		"SELECT pin FROM dancu.citizens",
		"SELECT * FROM dancu.citizens",
		"SELECT COUNT(*) FROM dancu.citizens c LEFT JOIN yte.visits v ON v.pin = c.pin",
		"SELECT COUNT(*) FROM dancu.citizens c JOIN yte.visits v ON v.facility_code = c.permanent_commune",
		"SELECT COUNT(*) FROM dancu.citizens WHERE _lt_unit = '001'",
		"SELECT sex, GROUP_CONCAT(birth_date) FROM dancu.citizens GROUP BY sex",
	} {
		_, err := rows(t, f.secured, q, engine.QueryOptions{Session: binh})
		var pe *planner.Error
		if !errors.As(err, &pe) || pe.Code != planner.CodeDenied && pe.Code != planner.CodeUnknown && pe.Code != planner.CodeUnsupported {
			t.Errorf("%s: want a refusal, got %v", q, err)
		}
	}
}

// A table reachable only through an aggregate-only grant stays
// aggregate-only whatever else the principal may read.
func TestAggregateOnlyIsPerTable(t *testing.T) {
	f := newPolicyFixture(t)
	em := engine.Session{Principal: "em", Agency: "SO_Y_TE", Purpose: "POPULATION_STATISTICS"}
	if got, err := rows(t, f.secured, "SELECT pin, death_date FROM hotich.deaths", engine.QueryOptions{Session: em}); err != nil || len(got) == 0 {
		t.Errorf("em reads deaths row by row: %d rows, %v", len(got), err)
	}
	for _, q := range []string{
		"SELECT sex, birth_date FROM dancu.citizens",
		"SELECT d.pin, c.birth_date FROM hotich.deaths d JOIN dancu.citizens c ON c.pin = d.pin",
		"SELECT d.pin FROM hotich.deaths d WHERE d.pin IN (SELECT pin FROM dancu.citizens WHERE sex = 'F')",
	} {
		_, err := rows(t, f.secured, q, engine.QueryOptions{Session: em})
		var pe *planner.Error
		if !errors.As(err, &pe) || pe.Code != planner.CodeDenied {
			t.Errorf("%s as em: want LT-DENIED, got %v", q, err)
		}
	}
	// Mixed: deaths joined to the protected citizens on the PIN is a
	// private aggregate with the citizen as unit.
	got, err := rows(t, f.secured, "SELECT COUNT(*) FROM hotich.deaths d JOIN dancu.citizens c ON c.pin = d.pin", engine.QueryOptions{Session: em})
	exact, _ := rows(t, f.open, "SELECT COUNT(DISTINCT c.pin) FROM hotich.deaths d JOIN dancu.citizens c ON c.pin = d.pin", engine.QueryOptions{})
	if err != nil || len(got) != 1 || !near(t, got[0], exact[0], 30) {
		t.Errorf("deaths x citizens as em: got %v %v, want near %v", got, err, exact)
	}
}

// Each private query spends its epsilon; an exhausted budget refuses with
// LT-BUDGET, and the spending survives a restart.
func TestPrivacyBudget(t *testing.T) {
	f := newPolicyFixture(t)
	pol, _ := os.ReadFile(f.policyPath)
	if err := os.WriteFile(f.policyPath, []byte(strings.Replace(string(pol), "epsilon_budget = 1000000", "epsilon_budget = 2.5", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.secured.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	q := "SELECT COUNT(*) FROM dancu.citizens"
	for i := 0; i < 2; i++ {
		if _, err := rows(t, f.secured, q, engine.QueryOptions{Session: binh}); err != nil {
			t.Fatalf("query %d within the budget: %v", i+1, err)
		}
	}
	var pe *planner.Error
	if _, err := rows(t, f.secured, q, engine.QueryOptions{Session: binh}); !errors.As(err, &pe) || pe.Code != planner.CodeBudget {
		t.Fatalf("third query of epsilon 1 in a budget of 2.5: want LT-BUDGET, got %v", err)
	}
	// What binh has left, in SQL (information_schema.privacy_budget) and
	// through Engine.Budget: two charges of epsilon 1, none for the
	// refused third.
	got, err := rows(t, f.secured, "SELECT principal, period, epsilon_budget, epsilon_spent, epsilon_remaining, queries_left, resets > now() FROM information_schema.privacy_budget", engine.QueryOptions{Session: binh})
	if err != nil || len(got) != 1 || !strings.HasPrefix(got[0], "binh | month | 2.5 | 2 | 0.5 | 0 | true") {
		t.Fatalf("binh's budget in SQL: %v %v", got, err)
	}
	if b, err := f.secured.Budget(context.Background(), "binh"); err != nil || b.EpsilonSpent != 2 || b.QueriesLeft != 0 || b.EpsilonPerQuery != 1 {
		t.Fatalf("binh's budget: %+v %v", b, err)
	}
	// Without a policy nothing is charged: the view is empty.
	if got, err := rows(t, f.open, "SELECT * FROM information_schema.privacy_budget", engine.QueryOptions{Session: binh}); err != nil || len(got) != 0 {
		t.Fatalf("the budget without a policy: %v %v", got, err)
	}
	// Other principals have their own budget.
	em := engine.Session{Principal: "em", Agency: "SO_Y_TE", Purpose: "POPULATION_STATISTICS"}
	if _, err := rows(t, f.secured, q, engine.QueryOptions{Session: em}); err != nil {
		t.Errorf("em's budget is its own: %v", err)
	}
	// A restarted node knows what was spent.
	cfg, err := config.Load(filepath.Join(filepath.Dir(f.policyPath), "secured.toml"))
	if err != nil {
		t.Fatal(err)
	}
	f.secured.Close()
	e2, err := engine.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if _, err := rows(t, e2, q, engine.QueryOptions{Session: binh}); !errors.As(err, &pe) || pe.Code != planner.CodeBudget {
		t.Errorf("after a restart: want LT-BUDGET, got %v", err)
	}
}

// A differencing pair (two counts whose filters differ by one citizen)
// gives answers whose distributions differ by at most e^epsilon: the
// difference of the two answers says almost nothing about that citizen.
func TestDifferencingIsIndistinguishable(t *testing.T) {
	if testing.Short() {
		t.Skip("statistical: 3,000 queries")
	}
	f := newPolicyFixture(t)
	exact, _ := rows(t, f.open, "SELECT COUNT(*) FROM dancu.citizens WHERE sex = 'F'", engine.QueryOptions{})
	n, _ := strconv.Atoi(exact[0])
	// The other query leaves out exactly one woman, by her birth date and
	// commune (which binh may filter on, not read).
	one, _ := rows(t, f.open, "SELECT CONCAT(CAST(birth_date AS CHAR), '|', permanent_commune) FROM dancu.citizens WHERE sex = 'F' ORDER BY pin LIMIT 1", engine.QueryOptions{})
	bc := strings.Split(one[0], "|")
	queries := []string{
		"SELECT COUNT(*) FROM dancu.citizens WHERE sex = 'F'",
		"SELECT COUNT(*) FROM dancu.citizens WHERE sex = 'F' AND NOT (birth_date = '" + bc[0] + "' AND permanent_commune = '" + bc[1] + "')",
	}
	if e2, _ := rows(t, f.open, queries[1], engine.QueryOptions{}); len(e2) != 1 || e2[0] != strconv.Itoa(n-1) {
		t.Fatalf("the pair must differ by one citizen: %d vs %v", n, e2)
	}
	const samples = 1500
	var hist [2]map[int]int
	for qi, q := range queries {
		hist[qi] = map[int]int{}
		for i := 0; i < samples; i++ {
			got, err := rows(t, f.secured, q, engine.QueryOptions{Session: binh})
			if err != nil || len(got) != 1 {
				t.Fatalf("%s: %v %v", q, got, err)
			}
			v, _ := strconv.Atoi(got[0])
			hist[qi][v]++
		}
	}
	// epsilon = 1 per query; each central bin's frequency ratio stays
	// within e^1 (with a margin for sampling error at 1,500 samples).
	bound := math.E * 1.35
	checked := 0
	for v := n - 2; v <= n+1; v++ {
		a, b := float64(hist[0][v]), float64(hist[1][v])
		if a < 100 || b < 100 {
			continue
		}
		checked++
		if a/b > bound || b/a > bound {
			t.Errorf("answer %d: %v vs %v times; the ratio exceeds e^epsilon", v, a, b)
		}
	}
	if checked < 2 {
		t.Errorf("too few central answers to compare: %v %v", hist[0], hist[1])
	}
}
