package engine_test

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"

	"lienthong/engine"
)

// Error oracles: a user predicate that fails on one value (a cast, a
// division by zero) must never run on a row the row filter hides, or
// error-versus-no-error tells whether that row exists. an sees only
// province 079; f.citizen is outside it.
func TestSecurityBarrier(t *testing.T) {
	f := newPolicyFixture(t)
	// A hidden and a visible citizen, both with a death record (so join
	// oracles meet them), the hidden one's name shared by no visible row.
	hiddenRows, err := rows(t, f.open, "SELECT c.full_name FROM dancu.citizens c JOIN hotich.deaths d ON d.pin = c.pin WHERE c.hometown_province <> '079' AND c.sex = 'F' AND c.full_name NOT IN (SELECT full_name FROM dancu.citizens WHERE hometown_province = '079') ORDER BY c.pin LIMIT 1", engine.QueryOptions{})
	if err != nil || len(hiddenRows) != 1 {
		t.Fatal(hiddenRows, err)
	}
	hidden := hiddenRows[0]
	visible, err := rows(t, f.open, "SELECT c.full_name FROM dancu.citizens c JOIN hotich.deaths d ON d.pin = c.pin WHERE c.hometown_province = '079' AND c.sex = 'F' ORDER BY c.pin LIMIT 1", engine.QueryOptions{})
	if err != nil || len(visible) != 1 {
		t.Fatal(visible, err)
	}
	oracles := []string{
		"SELECT COUNT(*) FROM dancu.citizens WHERE CAST(CASE WHEN full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) = 1",
		"SELECT COUNT(*) FROM dancu.citizens c WHERE CAST(CASE WHEN c.full_name = '%s' THEN 'not a date' ELSE '2000-01-01' END AS DATE) IS NOT NULL",
		"SELECT COUNT(*) FROM dancu.citizens c JOIN hotich.deaths d ON d.pin = c.pin AND CAST(CASE WHEN c.full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) = 1",
		"SELECT pin FROM dancu.citizens WHERE sex = 'F' AND CAST(CASE WHEN full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) = 1 ORDER BY pin LIMIT 1",
		"SELECT COUNT(*) FROM (SELECT full_name FROM dancu.citizens) t WHERE CAST(CASE WHEN t.full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) = 1",
		// The secured view on the null-supplying side of an outer join.
		"SELECT COUNT(*) FROM hotich.deaths d LEFT JOIN dancu.citizens c ON d.pin = c.pin AND CAST(CASE WHEN c.full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) = 1",
		"SELECT COUNT(*) FROM dancu.citizens c RIGHT JOIN hotich.deaths d ON d.pin = c.pin AND CAST(CASE WHEN c.full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) = 1",
		// Subqueries, correlated or not.
		"SELECT COUNT(*) FROM hotich.deaths d WHERE EXISTS (SELECT 1 FROM dancu.citizens c WHERE c.pin = d.pin AND CAST(CASE WHEN c.full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) = 1)",
		"SELECT COUNT(*) FROM hotich.deaths d WHERE d.pin IN (SELECT c.pin FROM dancu.citizens c WHERE CAST(CASE WHEN c.full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) = 1)",
		"SELECT (SELECT COUNT(*) FROM dancu.citizens c WHERE CAST(CASE WHEN c.full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) = 1)",
		// A failing term over the secured view and another relation.
		"SELECT COUNT(*) FROM hotich.deaths d JOIN dancu.citizens c ON d.pin = c.pin AND (CAST(CASE WHEN c.full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) > 0 OR d.pin IS NULL)",
		"SELECT COUNT(*) FROM hotich.deaths d, dancu.citizens c WHERE d.pin = c.pin AND (CAST(CASE WHEN c.full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) > 0 OR d.pin IS NULL)",
		"SELECT COUNT(*) FROM hotich.deaths d LEFT JOIN dancu.citizens c ON d.pin = c.pin WHERE CAST(CASE WHEN c.full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) > 0 OR c.pin IS NULL",
		"SELECT COUNT(*) FROM hotich.deaths d WHERE EXISTS (SELECT 1 FROM dancu.citizens c WHERE c.pin = d.pin AND (CAST(CASE WHEN c.full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) > 0 OR d.pin IS NULL))",
		// Failing expressions outside WHERE: select list, grouping, ordering.
		"SELECT CAST(CASE WHEN full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) FROM dancu.citizens",
		"SELECT COUNT(*) FROM dancu.citizens GROUP BY CAST(CASE WHEN full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED)",
		"SELECT pin FROM dancu.citizens ORDER BY CAST(CASE WHEN full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED) LIMIT 1",
		"SELECT SUM(CAST(CASE WHEN full_name = '%s' THEN 'x' ELSE '1' END AS SIGNED)) FROM dancu.citizens",
	}
	// Structurally: the failing predicate runs only under the row filter,
	// in the source's SQL as well as in the residual's, whatever order
	// their optimizers choose.
	for _, pushdown := range []bool{true, false} {
		plan, err := f.secured.Explain(context.Background(), strings.ReplaceAll(oracles[0], "%s", "a"), false, engine.QueryOptions{Session: an, NoPushdown: !pushdown})
		if err != nil || !strings.Contains(plan, `CASE WHEN ("citizens_src"."hometown_province" = '079') THEN (CAST(`) {
			t.Errorf("pushdown %v: want the cast guarded by the row filter:\n%s %v", pushdown, plan, err)
		}
	}
	// A failing term over the view and another relation runs only where
	// the view's own flag says its row filter keeps the row.
	for _, pushdown := range []bool{true, false} {
		q := "SELECT COUNT(*) FROM hotich.deaths d JOIN dancu.citizens c ON d.pin = c.pin AND (CAST(CASE WHEN c.full_name = 'a' THEN 'x' ELSE '1' END AS SIGNED) > 0 OR d.pin IS NULL)"
		plan, err := f.secured.Explain(context.Background(), q, false, engine.QueryOptions{Session: an, NoPushdown: !pushdown})
		if err != nil || !strings.Contains(plan, `CASE WHEN ("c_src"."hometown_province" = '079') THEN 1 ELSE 0 END AS "_lt_visible"`) ||
			!strings.Contains(plan, `CASE WHEN (coalesce("c"."_lt_visible", 1) = 1) THEN ((CAST(`) {
			t.Errorf("pushdown %v: want the join term guarded by the view's flag:\n%s %v", pushdown, plan, err)
		}
	}
	for _, o := range oracles {
		for _, pushdown := range []bool{true, false} {
			q := strings.ReplaceAll(o, "%s", strings.ReplaceAll(hidden, "'", "''"))
			if _, err := rows(t, f.secured, q, engine.QueryOptions{Session: an, NoPushdown: !pushdown}); err != nil {
				t.Errorf("pushdown %v: a predicate ran on a hidden row: %s: %v", pushdown, q, err)
			}
		}
		// The same predicate on a row an may see fails as it should: the
		// test would notice a barrier that silently drops predicates.
		q := strings.ReplaceAll(o, "%s", strings.ReplaceAll(visible[0], "'", "''"))
		if _, err := rows(t, f.secured, q, engine.QueryOptions{Session: an}); err == nil {
			t.Errorf("a failing predicate on a visible row must fail: %s", q)
		}
	}
}

// Masks keep the column's type: the documented year mask of a birth date
// is the first day of that year, so date filters work under it.
func TestMaskKeepsType(t *testing.T) {
	f := newPolicyFixture(t)
	got, err := rows(t, f.secured, "SELECT COUNT(*) FROM dancu.citizens WHERE birth_date = '1990-05-01'", engine.QueryOptions{Session: an})
	if err != nil || len(got) != 1 || got[0] != "0" {
		t.Errorf("a full date never matches a year mask: %v %v", got, err)
	}
	got, err = rows(t, f.secured, "SELECT COUNT(*) FROM dancu.citizens WHERE birth_date >= '1990-01-01' AND birth_date < DATE '1991-01-01'", engine.QueryOptions{Session: an})
	want, _ := rows(t, f.open, "SELECT COUNT(*) FROM dancu.citizens WHERE YEAR(birth_date) = 1990 AND hometown_province = '079'", engine.QueryOptions{})
	if err != nil || len(got) != 1 || got[0] != want[0] {
		t.Errorf("a year range under the year mask: got %v %v, want %v", got, err, want)
	}
	got, err = rows(t, f.secured, "SELECT DISTINCT CAST(birth_date AS CHAR) FROM dancu.citizens", engine.QueryOptions{Session: an})
	for _, v := range got {
		if !strings.HasSuffix(v, "-01-01") {
			t.Errorf("a masked birth date shows more than its year: %q", v)
		}
	}
	if err != nil || len(got) == 0 {
		t.Errorf("masked birth dates: %v %v", got, err)
	}
}

// Semi-join reduction writes PINs read from one agency's rows into the SQL
// sent to another: under a policy only where [[key_sharing]] allows it.
func TestKeySharingIsAPolicyDecision(t *testing.T) {
	f := newPolicyFixture(t)
	q := "SELECT d.pin, c.full_name FROM hotich.deaths d JOIN dancu.citizens c ON c.pin = d.pin"
	opt := engine.QueryOptions{Session: an, MinReduceProbe: 1}
	explain := func() string {
		out, err := f.secured.Explain(context.Background(), q, false, opt)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	before, _ := rows(t, f.secured, q, opt)
	if out := explain(); strings.Contains(out, "reduced at run time") || !strings.Contains(out, "does not let") {
		t.Errorf("without [[key_sharing]] no source receives another's PINs:\n%s", out)
	}
	pol, _ := os.ReadFile(f.policyPath)
	share := "\n[[key_sharing]]\nto = \"dancu\"\nfrom = [\"hotich.deaths\"]\n\n[[key_sharing]]\nto = \"hotich\"\nfrom = [\"dancu\"]\n"
	if err := os.WriteFile(f.policyPath, append(pol, share...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.secured.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	if out := explain(); !strings.Contains(out, "reduced at run time") {
		t.Errorf("with [[key_sharing]] the reduction is planned:\n%s", out)
	}
	after, err := rows(t, f.secured, q, opt)
	sort.Strings(before)
	sort.Strings(after)
	if err != nil || strings.Join(before, "\n") != strings.Join(after, "\n") || len(after) == 0 {
		t.Errorf("the same rows with and without the reduction: %d vs %d (%v)", len(before), len(after), err)
	}
}
