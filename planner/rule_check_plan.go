package planner

import (
	"errors"
	"fmt"
	"strings"

	"lienthong/internal/defence"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
	"lienthong/policy"
)

// CheckPlan is the last step: it asserts what every plan must satisfy,
// whatever the rules before it did, and refuses the statement with an
// internal error (ErrPlanInvariant) when one does not hold: that is a
// planner bug, and running the plan could send a source a statement it
// cannot run or show the principal what the policy hides.
//
//   - Every remote renders in its source's dialect, and the residual in
//     DuckDB's.
//   - Under an access policy, every table is read through its secured view:
//     each scan is the FROM of its view's block (or of a pin_verify check),
//     and nothing outside the view reads the scan's raw columns.
//   - A column the grant gives as a pseudonym leaves its view only as
//     pseudonym(column, purpose).
//
// It changes nothing and cannot be disabled.
func checkPlanRule(s *planning) (bool, error) {
	return false, checkPlan(s)
}

// ErrPlanInvariant marks a plan CheckPlan refused.
var ErrPlanInvariant = errors.New("internal: the plan breaks a planner invariant")

func broken(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrPlanInvariant}, args...)...)
}

func checkPlan(s *planning) error {
	for _, r := range s.p.Remotes {
		if _, _, err := RemoteStatement(s.cat, r); err != nil {
			return broken("remote %d does not render: %v", r.ID, err)
		}
	}
	roots := []*plan.Query{}
	for _, r := range s.p.Remotes {
		if r.Query != nil {
			roots = append(roots, r.Query)
		}
	}
	if s.p.Single == nil {
		if _, err := sqlgen.RenderResidual(s.q, sqlgen.DuckDB, sqlgen.ViewName); err != nil {
			return broken("the residual does not render: %v", err)
		}
		roots = append(roots, s.q)
	}
	if s.opt.Access == nil {
		return nil
	}
	return checkSecured(s.b, roots, s.opt.Access)
}

// checkSecured checks the secured views of binder b in the plan's blocks
// (the queries under roots).
func checkSecured(b *binder, roots []*plan.Query, access *policy.Access) error {
	views := map[*plan.Query]*securedRef{}
	byScan := map[*plan.Scan]*securedRef{}
	for _, ref := range b.secured {
		views[ref.view], byScan[ref.scan] = ref, ref
	}
	verify := map[*plan.Scan]bool{}
	for _, sc := range b.verifyScans {
		verify[sc] = true
	}
	// inside[q]: the secured view whose block q is or is nested in.
	inside := map[*plan.Query]*securedRef{}
	for q, ref := range views {
		eachQuery(q, func(n *plan.Query) { inside[n] = ref })
	}
	var err error
	fail := func(e error) {
		if err == nil {
			err = e
		}
	}
	for _, root := range roots {
		eachQuery(root, func(q *plan.Query) {
			sel, _ := q.Body.(*plan.Select)
			if sel != nil {
				plan.Relations(sel.From, func(r plan.Relation) {
					sc := scanOf(r)
					if sc == nil || verify[sc] || isCatalogView(b.cat, sc.Table) {
						return
					}
					ref := byScan[sc]
					switch {
					case ref == nil && defence.On(defence.SecuredView):
						// (The attack suite's mutation check binds tables
						// without their views to prove it notices.)
						fail(broken("%s.%s is read without its secured view", sc.Table.Source, sc.Table.Name))
					case ref != nil && (ref.view != q || scanOf(sel.From) != sc):
						fail(broken("%s.%s is read outside its secured view", sc.Table.Source, sc.Table.Name))
					}
				})
			}
			// Only the view's block (and what is nested in it) may read
			// the raw columns of its scan.
			readRaw := func(e plan.Expr) plan.Expr {
				plan.Walk(e, func(x plan.Expr) bool {
					c, ok := x.(*plan.ColRef)
					if !ok {
						return true
					}
					for _, ref := range b.secured {
						if c.Rel == ref.scan.Alias && inside[q] != ref {
							fail(broken("a raw column of %s.%s is read outside its secured view", ref.table.Source, ref.table.Name))
						}
					}
					return true
				})
				return e
			}
			mapBlockExprs(q, readRaw)
			if ref := views[q]; ref != nil && sel != nil {
				fail(checkPseudonyms(ref, q, sel, access))
			}
		})
	}
	return err
}

// checkPseudonyms checks that each item of a secured view whose column the
// grant pseudonymises is pseudonym(<that raw column>, <the purpose>).
func checkPseudonyms(ref *securedRef, q *plan.Query, sel *plan.Select, access *policy.Access) error {
	for i, it := range sel.Items {
		name := q.Columns[i].Name
		rule, ok := ref.access.Columns[strings.ToLower(name)]
		if !ok || !strings.EqualFold(rule.Mask, policy.Pseudonym) {
			continue
		}
		f, ok := it.Expr.(*plan.Func)
		if ok && f.Name == "pseudonym" && len(f.Args) == 2 {
			c, isCol := f.Args[0].(*plan.ColRef)
			p, isLit := f.Args[1].(*plan.Literal)
			if isCol && isLit && c.Rel == ref.scan.Alias && strings.EqualFold(c.Name, name) && p.Value == access.Purpose.Name {
				continue
			}
		}
		return broken("%s.%s.%s leaves its secured view without its pseudonym", ref.table.Source, ref.table.Name, name)
	}
	return nil
}

// scanOf is the table scan r is or wraps (a remote reading one scan).
func scanOf(r plan.Relation) *plan.Scan {
	switch x := r.(type) {
	case *plan.Scan:
		return x
	case *plan.Remote:
		return x.Scan
	}
	return nil
}
