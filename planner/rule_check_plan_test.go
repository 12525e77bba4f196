package planner

import (
	"errors"
	"strings"
	"testing"

	"lienthong/planner/plan"
)

// CheckPlan refuses each kind of broken plan: the plans are bound as usual,
// broken the way a faulty rule could break them, then run through the rules.
func TestCheckPlan(t *testing.T) {
	cat := testCatalog()
	access := testAccess(t, "an", "DEATH_FOLLOWUP")
	const join = "SELECT c.pin, r.commune_code FROM dancu.citizens c JOIN cutru.residences r ON r.pin = c.pin WHERE c.sex = 'F'"
	citizens := func(s *planning) *securedRef {
		for _, ref := range s.b.secured {
			if ref.table.Name == "citizens" {
				return ref
			}
		}
		t.Fatal("no secured view of citizens")
		return nil
	}
	outer := func(s *planning) *plan.Select { return s.q.Body.(*plan.Select) }
	for _, c := range []struct {
		name   string
		sql    string
		policy bool
		breaks func(s *planning)
		want   string // "" for a plan that holds
	}{
		{"sound plan", join, false, func(*planning) {}, ""},
		{"sound secured plan", join, true, func(*planning) {}, ""},
		{"remote does not render", join, false, func(s *planning) {
			// An ORDER BY reference cannot be rendered in a scan's filter.
			sc := s.b.scans[0]
			sc.Filters = append(sc.Filters, &plan.OutputRef{Index: 0, Typ: plan.Bool})
		}, "remote 1 does not render"},
		{"residual does not render", join, false, func(s *planning) {
			outer(s).Where = &plan.Binary{Op: "AND", L: outer(s).Where, R: &plan.OutputRef{Index: 0, Typ: plan.Bool}, Typ: plan.Bool}
		}, "the residual does not render"},
		{"scan without its view", join, true, func(s *planning) {
			j := outer(s).From.(*plan.Join)
			j.Left = &plan.Scan{Alias: "c", Table: citizens(s).table, Columns: []string{"pin"}}
		}, "dancu.citizens is read without its secured view"},
		{"scan outside its view", join, true, func(s *planning) {
			outer(s).From.(*plan.Join).Left = citizens(s).scan
		}, "dancu.citizens is read outside its secured view"},
		{"raw column read outside the view", join, true, func(s *planning) {
			raw := &plan.IsNull{X: &plan.ColRef{Rel: citizens(s).scan.Alias, Name: "pin", Typ: plan.String}, Not: true}
			outer(s).Where = plan.And(append(plan.Conjuncts(outer(s).Where), raw))
		}, "a raw column of dancu.citizens is read outside its secured view"},
		{"pseudonym dropped", join, true, func(s *planning) {
			view := citizens(s).view.Body.(*plan.Select)
			for i, it := range view.Items {
				if f, ok := it.Expr.(*plan.Func); ok && f.Name == "pseudonym" {
					view.Items[i].Expr = f.Args[0]
				}
			}
		}, "dancu.citizens.pin leaves its secured view without its pseudonym"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opt := Options{Now: fixedNow}
			if c.policy {
				opt.Access = access
			}
			s, err := bindPlanning(cat, c.sql, opt)
			if err != nil {
				t.Fatal(err)
			}
			c.breaks(s)
			err = s.apply(rules)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("a sound plan is refused: %v", err)
			case c.want != "" && (!errors.Is(err, ErrPlanInvariant) || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("want %q (ErrPlanInvariant), got %v", c.want, err)
			}
		})
	}
}
