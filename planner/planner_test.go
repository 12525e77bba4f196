package planner

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/cockroachdb/datadriven"

	"lienthong/catalog"
	"lienthong/planner/plan"
	"lienthong/policy"
)

func col(name string, t arrow.DataType) catalog.Column {
	return catalog.Column{Name: name, Type: t, Nullable: true}
}

// testCatalog mirrors the generator's agencies, one per source kind.
func testCatalog() *catalog.Snapshot {
	money := &arrow.Decimal128Type{Precision: 12, Scale: 2}
	snap := &catalog.Snapshot{Version: 1, Sources: []*catalog.Source{
		{Name: "dancu", Kind: catalog.Postgres, Tables: []*catalog.Table{
			{Source: "dancu", Name: "citizens", RemoteSchema: "public", RemoteName: "citizens", PINColumn: "pin", Columns: []catalog.Column{
				col("pin", plan.String), col("full_name", plan.String), col("birth_date", plan.Date), col("sex", plan.String),
				col("ethnicity_code", plan.String), col("permanent_commune", plan.String), col("household_id", plan.Int64),
				col("father_pin", plan.String), col("death_date", plan.Date)}},
		}},
		{Name: "hotich", Kind: catalog.MySQL, Tables: []*catalog.Table{
			{Source: "hotich", Name: "births", RemoteName: "births", PINColumn: "child_pin", Columns: []catalog.Column{
				col("registration_id", plan.Int64), col("child_pin", plan.String), col("full_name", plan.String),
				col("birth_date", plan.Date), col("registered_on", plan.Date)}},
			{Source: "hotich", Name: "deaths", RemoteName: "deaths", PINColumn: "pin", Columns: []catalog.Column{
				col("registration_id", plan.Int64), col("pin", plan.String), col("death_date", plan.Date), col("registered_on", plan.Date)}},
		}},
		{Name: "cutru", Kind: catalog.SQLite, Tables: []*catalog.Table{
			{Source: "cutru", Name: "residences", RemoteName: "residences", PINColumn: "pin", Columns: []catalog.Column{
				col("residence_id", plan.Int64), col("pin", plan.String), col("commune_code", plan.String), col("kind", plan.String),
				col("status", plan.String), col("registered_on", plan.Date)}},
		}},
		{Name: "bhxh", Kind: catalog.Parquet, Tables: []*catalog.Table{
			{Source: "bhxh", Name: "funeral_allowances", RemoteName: "funeral_allowances", PINColumn: "pin", Columns: []catalog.Column{
				col("payment_id", plan.Int64), col("pin", plan.String), col("paid_on", plan.Date), col("amount", money)}},
		}},
		{Name: "thue", Kind: catalog.Agent, Tables: []*catalog.Table{
			{Source: "thue", Name: "taxpayers", RemoteName: "taxpayers", PINColumn: "pin", Columns: []catalog.Column{
				col("pin", plan.String), col("province", plan.String), col("income", money), col("filed_on", plan.Date)}},
		}},
		{Name: "offline", Kind: catalog.MySQL, Unavailable: "connection refused"},
	}}
	// Row estimates as at scale 1 (1M citizens).
	rows := map[string]int64{"citizens": 1_000_000, "births": 995_000, "deaths": 6_200, "residences": 1_293_000, "funeral_allowances": 5_900, "taxpayers": 50_000}
	for _, s := range snap.Sources {
		for _, t := range s.Tables {
			t.RowEstimate = rows[t.Name]
		}
	}
	return snap
}

var fixedNow = time.Date(2026, 11, 30, 9, 30, 0, 0, time.UTC)

// testPolicy grants testCatalog's tables: an reads citizens of some
// communes with PINs pseudonymised, binh counts citizens only as private
// aggregates.
const testPolicy = `
[privacy]
epsilon_per_query = 1.0
delta_per_query = 1e-7
epsilon_budget = 1000
delta_budget = 0.5
period = "month"

[[purposes]]
name = "DEATH_FOLLOWUP"
description = "Follow up deaths"

[[purposes]]
name = "POPULATION_STATISTICS"
description = "Dashboards"

[[roles]]
name = "analyst"

[[roles]]
name = "dashboard"
aggregate_only = true

[[principals]]
name = "an"
agency = "BHXH"
roles = ["analyst"]

[[principals]]
name = "binh"
agency = "SO_Y_TE"
roles = ["dashboard"]

[[grants]]
role = "analyst"
purposes = ["DEATH_FOLLOWUP"]
source = "dancu"
table = "citizens"
columns = ["pin", "full_name", "birth_date", "sex", "permanent_commune", "death_date"]
row_filter = "permanent_commune <> '00000'"
masks = { pin = "pseudonym", birth_date = "YEAR(birth_date)" }

[[grants]]
role = "analyst"
purposes = ["DEATH_FOLLOWUP"]
source = "cutru"
table = "residences"
masks = { pin = "pseudonym" }

[[grants]]
role = "dashboard"
purposes = ["POPULATION_STATISTICS"]
source = "dancu"
table = "citizens"
columns = ["pin", "sex", "birth_date", "permanent_commune"]
masks = { pin = "pseudonym" }

[[keys]]
purpose = "DEATH_FOLLOWUP"
version = 1
env = "LT_PLANNER_TEST_KEY_DEATH"

[[keys]]
purpose = "POPULATION_STATISTICS"
version = 1
env = "LT_PLANNER_TEST_KEY_STATS"
`

// testAccess resolves principal and purpose under testPolicy.
func testAccess(t *testing.T, principal, purpose string) *policy.Access {
	t.Helper()
	t.Setenv("LT_PLANNER_TEST_KEY_DEATH", "planner-test-key-death")
	t.Setenv("LT_PLANNER_TEST_KEY_STATS", "planner-test-key-stats")
	pol, err := policy.Parse("policy.toml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	a, err := pol.Resolve(principal, purpose, "")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestPlans runs the golden plan files: each shows where every part of a
// query runs and the exact SQL each source receives. Rewrite with
// go test ./planner -run TestPlans -rewrite.
//
// Arguments: nopushdown; as=PRINCIPAL purpose=PURPOSE (plan under
// testPolicy); disable=Rule (plan without it, which must fire without the
// argument); expect=Rule (the rule must fire). The plan text is compared
// without EXPLAIN's line of rules, which expect= checks instead. Every rule
// of the registry needs a case where it fires and one where it is disabled
// (or, when it cannot be, where disabling it is refused).
func TestPlans(t *testing.T) {
	cat := testCatalog()
	fired, disabled := map[string]bool{}, map[string]bool{}
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			opt := Options{Now: fixedNow, NoPushdown: d.HasArg("nopushdown")}
			var expect []string
			var as, purpose string
			for _, a := range d.CmdArgs {
				switch a.Key {
				case "expect":
					expect = append(expect, a.Vals...)
				case "disable":
					opt.Disable = append(opt.Disable, a.Vals...)
				case "as":
					as = a.Vals[0]
				case "purpose":
					purpose = a.Vals[0]
				}
			}
			if as != "" {
				opt.Access = testAccess(t, as, purpose)
			}
			switch d.Cmd {
			case "plan":
				p, err := Plan(cat, d.Input, opt)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				for _, r := range expect {
					if !slices.Contains(p.Rules, r) {
						t.Errorf("%s: expect=%s, but the rules that fired are %v", d.Pos, r, p.Rules)
					}
					fired[r] = true
				}
				for _, r := range opt.Disable {
					if slices.Contains(p.Rules, r) {
						t.Errorf("%s: %s fired although disabled", d.Pos, r)
					}
					on := opt
					on.Disable = slices.DeleteFunc(slices.Clone(opt.Disable), func(x string) bool { return x == r })
					if q, err := Plan(cat, d.Input, on); err != nil || !slices.Contains(q.Rules, r) {
						t.Errorf("%s: disable=%s proves nothing: %s does not fire here when enabled (%v)", d.Pos, r, r, err)
					}
					disabled[r] = true
				}
				out, err := explain(cat, p, nil, 0, 0, false)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				return out
			case "error":
				_, err := Plan(cat, d.Input, opt)
				if err == nil {
					return "no error\n"
				}
				for _, r := range opt.Disable {
					if strings.Contains(err.Error(), "cannot be disabled") {
						disabled[r] = true
					}
				}
				return err.Error() + "\n"
			}
			return fmt.Sprintf("unknown command %s\n", d.Cmd)
		})
	})
	if t.Failed() {
		return // a failed case stops its file: coverage would be misreported
	}
	for _, r := range rules {
		if !fired[r.Name] && r.Name != "CheckPlan" { // CheckPlan changes nothing: TestCheckPlan
			t.Errorf("no golden plan expects %s to fire (expect=%s)", r.Name, r.Name)
		}
		if !disabled[r.Name] {
			t.Errorf("no golden plan disables %s (disable=%s)", r.Name, r.Name)
		}
	}
}

// A WHERE term on the NULL-supplying side of an outer join stays above it.
func TestNoPushIntoNullSuppliedSide(t *testing.T) {
	cat := testCatalog()
	p, err := Plan(cat, "SELECT c.pin FROM dancu.citizens c LEFT JOIN cutru.residences r ON r.pin = c.pin WHERE r.status IS NULL", Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Remotes {
		if r.Source == "cutru" && len(r.Scan.Filters) != 0 {
			t.Fatalf("IS NULL on the NULL-supplying side must stay above the join")
		}
	}
}

// Options.Disable names rules; an unknown name is an error.
func TestDisableUnknownRule(t *testing.T) {
	_, err := Plan(testCatalog(), "SELECT pin FROM dancu.citizens", Options{Now: fixedNow, Disable: []string{"PushFilterIntoScans"}})
	if err == nil || !strings.Contains(err.Error(), `no rule "PushFilterIntoScans"`) {
		t.Fatalf("want an unknown-rule error, got %v", err)
	}
}

// EXPLAIN shows the rules that fired, in order.
func TestExplainShowsRules(t *testing.T) {
	cat := testCatalog()
	p, err := Plan(cat, "SELECT c.pin FROM dancu.citizens c JOIN cutru.residences r ON r.pin = c.pin WHERE c.permanent_commune = '00004'", Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Explain(cat, p, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := "\nRules: PushFilterIntoScan, PruneScanColumns, CutScansIntoRemotes, ReduceScanByJoinKeys\n"
	if !strings.Contains(out, want) {
		t.Errorf("want %q in EXPLAIN:\n%s", want, out)
	}
}

func TestErrorsArePositioned(t *testing.T) {
	cat := testCatalog()
	_, err := Plan(cat, "SELECT pin,\n  full_nme FROM dancu.citizens", Options{Now: fixedNow})
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("want *Error, got %T %v", err, err)
	}
	if e.Line != 2 || e.Col != 3 || !strings.Contains(e.Msg, "full_name") {
		t.Fatalf("want line 2 col 3 suggesting full_name, got %d:%d %q", e.Line, e.Col, e.Msg)
	}
}
