package planner

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/cockroachdb/datadriven"

	"lienthong/catalog"
	"lienthong/planner/plan"
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
		{Name: "offline", Kind: catalog.MySQL, Unavailable: "connection refused"},
	}}
	// Row estimates as at scale 1 (1M citizens).
	rows := map[string]int64{"citizens": 1_000_000, "births": 995_000, "deaths": 6_200, "residences": 1_293_000, "funeral_allowances": 5_900}
	for _, s := range snap.Sources {
		for _, t := range s.Tables {
			t.RowEstimate = rows[t.Name]
		}
	}
	return snap
}

var fixedNow = time.Date(2026, 11, 30, 9, 30, 0, 0, time.UTC)

// TestPlans runs the golden plan files: each shows where every part of a
// query runs and the exact SQL each source receives. Rewrite with
// go test ./planner -run TestPlans -rewrite.
func TestPlans(t *testing.T) {
	cat := testCatalog()
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			opt := Options{Now: fixedNow, NoPushdown: d.HasArg("nopushdown")}
			switch d.Cmd {
			case "plan":
				p, err := Plan(cat, d.Input, opt)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				out, err := Explain(cat, p, nil, 0, 0)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				return out
			case "error":
				_, err := Plan(cat, d.Input, opt)
				if err == nil {
					return "no error\n"
				}
				return err.Error() + "\n"
			}
			return fmt.Sprintf("unknown command %s\n", d.Cmd)
		})
	})
}

// Each rewrite rule has a test that expects it to fire.
func TestRulesFire(t *testing.T) {
	cat := testCatalog()
	t.Run("PushQueryIntoRemote", func(t *testing.T) {
		p, err := Plan(cat, "SELECT sex, COUNT(*) FROM dancu.citizens GROUP BY sex", Options{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		if p.Single == nil || p.Single.Source != "dancu" {
			t.Fatalf("want the whole query in dancu, got %+v", p)
		}
	})
	t.Run("PushFilterIntoScan", func(t *testing.T) {
		p, err := Plan(cat, "SELECT c.pin FROM dancu.citizens c JOIN cutru.residences r ON r.pin = c.pin WHERE c.permanent_commune = '00004' AND r.status = 'active'", Options{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		if p.Single != nil || len(p.Remotes) != 2 {
			t.Fatalf("want two remotes, got %+v", p)
		}
		for _, r := range p.Remotes {
			if len(r.Scan.Filters) != 1 {
				t.Errorf("remote %d (%s): want 1 pushed filter, got %d", r.ID, r.Source, len(r.Scan.Filters))
			}
		}
		if sel := p.Root.Body.(*plan.Select); sel.Where != nil {
			t.Errorf("WHERE should be empty after pushdown, has %s", flat(sel.Where))
		}
	})
	t.Run("NoPushIntoNullSuppliedSide", func(t *testing.T) {
		p, err := Plan(cat, "SELECT c.pin FROM dancu.citizens c LEFT JOIN cutru.residences r ON r.pin = c.pin WHERE r.status IS NULL", Options{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Remotes {
			if r.Source == "cutru" && len(r.Scan.Filters) != 0 {
				t.Fatalf("IS NULL on the NULL-supplying side must stay above the join")
			}
		}
	})
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
