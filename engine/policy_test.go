package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"lienthong/engine"
	"lienthong/internal/attacks"
	"lienthong/planner"
	"lienthong/policy"
)

const (
	keyDeath = attacks.KeyDeath
	keyStats = attacks.KeyStats
)

// policyFixture is internal/attacks' fixture under the names these tests
// use.
type policyFixture struct {
	open, secured *engine.Engine // without and with the access policy
	pins          []string       // every raw PIN in the data
	citizen       [3]string      // one citizen's pin, full_name, birth_date (outside province 079)
	policyPath    string
	*attacks.Fixture
}

func newPolicyFixture(t *testing.T) *policyFixture {
	t.Helper()
	f := attacks.NewFixture(t)
	return &policyFixture{open: f.Open, secured: f.Secured, pins: f.PINs, citizen: f.Citizen, policyPath: f.PolicyPath, Fixture: f}
}

var (
	an    = attacks.An
	binh  = attacks.Binh
	cuong = attacks.Cuong
)

// leak returns the first forbidden value found (attacks.Fixture.Leak).
func (f *policyFixture) leak(cells []string, text, query string) string {
	return f.Leak(cells, text, query)
}

// TestPolicyAttacks tries to get around the access policy. Whatever each
// attempt returns, rows, error message or plan, must carry no protected
// value; attempts marked denied must be refused as such.
func TestPolicyAttacks(t *testing.T) {
	f := newPolicyFixture(t)
	rawPIN, rawName, rawBirth := f.citizen[0], f.citizen[1], f.citizen[2]
	type attack struct {
		who    engine.Session
		sql    string
		denied bool
	}
	attacks := []attack{
		{an, "SELECT pin FROM dancu.citizens", false},
		{an, "SELECT * FROM dancu.citizens", false},
		{an, "SELECT c.* FROM dancu.citizens c", false},
		{an, "SeLeCt /* tricky */ PIN, Full_Name fRoM DANCU.CITIZENS", false},
		{an, "SELECT pin FROM dancu.citizens WHERE pin = '" + rawPIN + "'", false},
		{an, "SELECT full_name FROM dancu.citizens WHERE full_name = '" + rawName + "'", false},
		{an, "SELECT full_name FROM dancu.citizens WHERE hometown_province <> '079'", false},
		{an, "SELECT full_name FROM dancu.citizens WHERE hometown_province = '001' OR 1 = 1", false},
		{an, "SELECT religion, ethnicity_code FROM dancu.citizens WHERE religion IS NOT NULL OR ethnicity_code IS NOT NULL", false},
		{an, "SELECT birth_date FROM dancu.citizens", false},
		{an, "SELECT MIN(birth_date), MAX(birth_date) FROM dancu.citizens", false},
		{an, "SELECT CAST(birth_date AS CHAR) FROM dancu.citizens", false},
		{an, "SELECT (SELECT pin FROM dancu.citizens LIMIT 1)", false},
		{an, "SELECT pin FROM dancu.citizens WHERE pin IN (SELECT pin FROM dancu.citizens)", false},
		{an, "WITH x AS (SELECT * FROM dancu.citizens) SELECT pin, full_name, birth_date FROM x", false},
		{an, "WITH x AS (SELECT pin AS p FROM dancu.citizens) SELECT a.p FROM x a JOIN x b ON a.p = b.p", false},
		{an, "SELECT pin FROM dancu.citizens UNION SELECT pin FROM hotich.deaths", false},
		{an, "SELECT d.pin, c.full_name FROM hotich.deaths d JOIN dancu.citizens c ON c.pin = d.pin", false},
		{an, "SELECT d.pin FROM hotich.deaths d WHERE NOT EXISTS (SELECT 1 FROM bhxh.funeral_allowances f WHERE f.pin = d.pin)", false},
		{an, "SELECT full_name FROM dancu.citizens ORDER BY pin LIMIT 5", false},
		{an, "SELECT full_name FROM dancu.citizens ORDER BY full_name LIMIT 1000000 OFFSET 0", false},
		{an, "SELECT full_name FROM dancu.citizens LIMIT 10 OFFSET 10", false},
		{an, "SELECT pin, ROW_NUMBER() OVER (ORDER BY pin) FROM dancu.citizens", false},
		{an, "SELECT pin, COUNT(*) FROM dancu.citizens GROUP BY pin HAVING COUNT(*) > 0", false},
		{an, "SELECT SUBSTRING(pin, 1, 12), LEFT(pin, 3), CONCAT(pin, '') FROM dancu.citizens", false},
		{an, "SELECT CAST(pin AS SIGNED) FROM dancu.citizens", false},
		{an, "SELECT CAST(full_name AS SIGNED) FROM dancu.citizens", false},
		{an, "SELECT COUNT(*) FROM dancu.citizens WHERE pin LIKE '079%'", false},
		{an, "SELECT card_no FROM bhxh.health_cards", false},
		{an, "SELECT c.full_name FROM dancu.citizens c JOIN hotich.births b ON b.child_pin = c.pin", true},
		{an, "SELECT child_pin FROM hotich.births", true},
		{an, "SELECT phone FROM dancu.citizens", false}, // not granted: unknown to an
		{an, "SELECT citizens_src.pin FROM dancu.citizens", false},
		{an, "SELECT lt_pseudonym('" + rawPIN + "', 'DEATH_FOLLOWUP')", false},
		{an, "SELECT full_name FROM dancu.citizens WHERE pin = pseudonym('" + rawPIN + "')", false},
		{an, "SELECT pin FROM dancu.households", true},
		{an, "DELETE FROM dancu.citizens", false},
		{an, "SELECT pin FROM dancu.citizens WHERE birth_date = '" + rawBirth + "'", false},
		{engine.Session{Principal: "an", Purpose: "DEATH_FOLLOWUP"}, "SELECT pin FROM dancu.citizens", true},             // no case id
		{engine.Session{Principal: "an", Purpose: "POPULATION_STATISTICS"}, "SELECT COUNT(*) FROM dancu.citizens", true}, // purpose not granted
		{engine.Session{Principal: "an"}, "SELECT COUNT(*) FROM dancu.citizens", true},
		{engine.Session{Principal: "mallory", Purpose: "DEATH_FOLLOWUP", CaseID: "x"}, "SELECT COUNT(*) FROM dancu.citizens", true},
		{engine.Session{}, "SELECT 1", true},
		{binh, "SELECT * FROM dancu.citizens", true},
		{binh, "SELECT pin FROM dancu.citizens", true},
		{binh, "SELECT MIN(birth_date) FROM dancu.citizens", true},
		{binh, "SELECT COUNT(*), (SELECT MAX(pin) FROM dancu.citizens) FROM dancu.citizens", true},
		{binh, "SELECT pin, COUNT(*) FROM dancu.citizens GROUP BY pin", false}, // every group has 1 row
		{binh, "SELECT COUNT(*) FROM dancu.citizens WHERE pin = '" + rawPIN + "'", false},
		{binh, "SELECT birth_date, COUNT(*) FROM dancu.citizens GROUP BY birth_date", false},
		{binh, "SELECT sex, COUNT(*) FROM dancu.citizens GROUP BY sex UNION ALL SELECT sex, 1 FROM dancu.citizens", true},
		{binh, "SELECT COUNT(*) FROM (SELECT pin FROM dancu.citizens LIMIT 1) t", false},
		{cuong, "SELECT * FROM dancu.citizens", true},
		{cuong, "SELECT COUNT(*) FROM dancu.citizens", true},
		{cuong, "SELECT pin_verify('" + rawPIN + "', '" + rawName + "', DATE '" + rawBirth + "')", false},
	}
	if len(attacks) < 40 {
		t.Fatalf("the suite needs at least 40 attacks, has %d", len(attacks))
	}
	for i, a := range attacks {
		t.Run(fmt.Sprintf("%02d", i), func(t *testing.T) {
			got, err := rows(t, f.secured, a.sql, engine.QueryOptions{Session: a.who})
			var pe *planner.Error
			if a.denied && !(errors.As(err, &pe) && pe.Code == planner.CodeDenied) {
				t.Errorf("%s: want LT-DENIED, got %v (%d rows)", a.sql, err, len(got))
			}
			text := strings.Join(got, "\n")
			if err != nil {
				text += "\n" + err.Error()
				got = append(got, strings.Split(err.Error(), " ")...)
			}
			if plan, perr := f.secured.Explain(context.Background(), a.sql, false, engine.QueryOptions{Session: a.who}); perr == nil {
				text += "\n" + plan
				if strings.Contains(plan, keyDeath) || strings.Contains(plan, keyStats) {
					t.Errorf("%s: EXPLAIN shows a pseudonym key", a.sql)
				}
			}
			if v := f.leak(got, text, a.sql); v != "" {
				t.Errorf("%s as %s leaks %q", a.sql, a.who.Principal, v)
			}
		})
	}
}

// TestPolicySemantics checks what the policy does give, against the same
// queries over hand-written secured views on the unrestricted engine.
func TestPolicySemantics(t *testing.T) {
	f := newPolicyFixture(t)
	// The secured view of dancu.citizens for "an", as the policy means it.
	view := `WITH citizens AS (SELECT pin, full_name, CAST(CONCAT(CAST(YEAR(birth_date) AS CHAR), '-01-01') AS DATE) AS birth_date, sex, death_date, permanent_commune,
		hometown_province, CAST(NULL AS CHAR) AS religion, CAST(NULL AS CHAR) AS ethnicity_code
		FROM dancu.citizens WHERE hometown_province = '079') `
	pseud := func(rows []string) []string {
		out := make([]string, len(rows))
		for i, r := range rows {
			cells := strings.Split(r, " | ")
			for j, c := range cells {
				if len(c) == 12 && strings.Trim(c, "0123456789") == "" {
					cells[j] = policy.PseudonymOf([]byte(keyDeath), c)
				}
			}
			out[i] = strings.Join(cells, " | ")
		}
		sort.Strings(out)
		return out
	}
	for _, q := range []struct{ secured, viewSQL string }{
		{"SELECT pin, full_name, birth_date FROM dancu.citizens WHERE sex = 'F'", view + "SELECT pin, full_name, birth_date FROM citizens WHERE sex = 'F'"},
		{"SELECT birth_date, COUNT(*) FROM dancu.citizens GROUP BY birth_date", view + "SELECT birth_date, COUNT(*) FROM citizens GROUP BY birth_date"},
		{"SELECT COUNT(*) FROM dancu.citizens WHERE religion IS NOT NULL", view + "SELECT COUNT(*) FROM citizens WHERE religion IS NOT NULL"},
		{"SELECT c.pin, d.death_date FROM dancu.citizens c JOIN hotich.deaths d ON d.pin = c.pin",
			view + "SELECT c.pin, d.death_date FROM citizens c JOIN hotich.deaths d ON d.pin = c.pin"},
		{"SELECT COUNT(DISTINCT c.pin) FROM dancu.citizens c JOIN bhxh.health_cards h ON h.pin = c.pin",
			view + "SELECT COUNT(DISTINCT c.pin) FROM citizens c JOIN bhxh.health_cards h ON h.pin = c.pin"},
		{"SELECT d.pin FROM hotich.deaths d WHERE NOT EXISTS (SELECT 1 FROM bhxh.funeral_allowances f WHERE f.pin = d.pin)",
			"SELECT d.pin FROM hotich.deaths d WHERE NOT EXISTS (SELECT 1 FROM bhxh.funeral_allowances f WHERE f.pin = d.pin)"},
	} {
		got, err := rows(t, f.secured, q.secured, engine.QueryOptions{Session: an})
		if err != nil {
			t.Fatalf("%s: %v", q.secured, err)
		}
		want, err := rows(t, f.open, q.viewSQL, engine.QueryOptions{})
		if err != nil {
			t.Fatalf("%s: %v", q.viewSQL, err)
		}
		sort.Strings(got)
		if d := diff(pseud(want), got); d != "" {
			t.Errorf("%s differs from its secured view:\n%s", q.secured, d)
		}
	}
	// The row filter runs in the source: restricted rows never travel.
	plan, err := f.secured.Explain(context.Background(), "SELECT full_name FROM dancu.citizens", false, engine.QueryOptions{Session: an})
	if err != nil || !strings.Contains(plan, `"hometown_province" = '079'`) || strings.Contains(plan, "Whole query") {
		t.Errorf("want the row filter pushed to dancu's scan:\n%s %v", plan, err)
	}
	// Dashboards get differentially private aggregates: noisy, near the
	// truth for large groups (TestPrivateAggregates checks the rest).
	got, err := rows(t, f.secured, "SELECT sex, COUNT(*) FROM dancu.citizens GROUP BY sex ORDER BY sex", engine.QueryOptions{Session: binh})
	if err != nil {
		t.Fatal(err)
	}
	exact, _ := rows(t, f.open, "SELECT sex, COUNT(*) FROM dancu.citizens GROUP BY sex ORDER BY sex", engine.QueryOptions{})
	if len(got) != len(exact) || len(got) == 0 {
		t.Fatalf("want the %d large groups released, got %v", len(exact), got)
	}
	for i := range got {
		if !near(t, got[i], exact[i], 30) {
			t.Errorf("noisy %q is not near exact %q", got[i], exact[i])
		}
	}
	// Verify, don't disclose.
	c := f.citizen
	for _, v := range []struct {
		sql  string
		want string
	}{
		{fmt.Sprintf("SELECT pin_verify('%s', '%s', DATE '%s')", c[0], c[1], c[2]), "true"},
		{fmt.Sprintf("SELECT pin_verify('%s', 'Nguyễn Văn Sai', DATE '%s')", c[0], c[2]), "false"},
		{fmt.Sprintf("SELECT pin_verify('%s', '%s', DATE '1900-01-01')", c[0], c[1]), "false"},
	} {
		got, err := rows(t, f.secured, v.sql, engine.QueryOptions{Session: cuong})
		if err != nil || len(got) != 1 || got[0] != v.want {
			t.Errorf("%s: got %v %v, want %s", v.sql, got, err, v.want)
		}
	}
	// Pseudonyms differ between purposes: results cannot be linked.
	a, _ := rows(t, f.secured, "SELECT COUNT(*) FROM dancu.citizens", engine.QueryOptions{Session: an})
	if len(a) != 1 || a[0] == "0" {
		t.Errorf("an sees no citizens: %v", a)
	}
}

func TestPolicyFileErrors(t *testing.T) {
	for _, c := range []struct{ toml, want string }{
		{"[[grants]]\nrole = \"nobody\"\npurposes = [\"X\"]\nsource = \"s\"\ntable = \"t\"\n", `unknown role "nobody"`},
		{"[[purposes]]\nname = \"P\"\n[[roles]]\nname = \"r\"\n[[grants]]\nrole = \"r\"\npurposes = [\"Q\"]\nsource = \"s\"\ntable = \"t\"\n", `unknown purpose "Q"`},
		{"[[purposes]]\nname = \"P\"\n[[keys]]\npurpose = \"P\"\nversion = 1\n", "needs env or file"},
		{"[[principals]]\nname = \"x\"\n", "has no agency"},
		{"[settings]\nmin_group = 3\n", `unknown setting "settings.min_group"`},
	} {
		_, err := policy.Parse("p.toml", []byte(c.toml))
		var pe *policy.Error
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, c.want) || pe.Line == 0 {
			t.Errorf("want a positioned error containing %q, got %v", c.want, err)
		}
	}
}

// A policy file with an error is refused as a whole and the one in force
// stays.
func TestPolicyReloadKeepsPreviousOnError(t *testing.T) {
	f := newPolicyFixture(t)
	count := func() error {
		_, err := rows(t, f.secured, "SELECT COUNT(*) FROM dancu.citizens", engine.QueryOptions{Session: an})
		return err
	}
	if err := count(); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(f.policyPath)
	broken := strings.Replace(string(good), `purposes = ["DEATH_FOLLOWUP"]`, `purposes = ["DEATH_FOLOWUP"]`, 1)
	if err := os.WriteFile(f.policyPath, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	var pe *policy.Error
	if err := f.secured.ReloadPolicy(); !errors.As(err, &pe) || pe.Line == 0 || !strings.Contains(pe.Msg, "DEATH_FOLOWUP") {
		t.Fatalf("want a positioned policy error, got %v", err)
	}
	if err := count(); err != nil {
		t.Fatalf("the previous policy must stay in force: %v", err)
	}
	// A valid change takes effect: without the analyst's citizens grant, an
	// is refused.
	revoked := strings.Replace(string(good), "row_filter = \"hometown_province = ${user.province}\"", "row_filter = \"hometown_province = ${user.province}\"\nverify_only = true", 1)
	if err := os.WriteFile(f.policyPath, []byte(revoked), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.secured.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	var qe *planner.Error
	if err := count(); !errors.As(err, &qe) || qe.Code != planner.CodeDenied {
		t.Fatalf("after the reload an must be refused, got %v", err)
	}
}
