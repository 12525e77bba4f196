package planner

import "lienthong/planner/plan"

// PushDerivedIntoRemote sends a derived table (a subquery in FROM, a CTE
// reference, a secured view) whose tables all live in one source that runs
// all of it to that source as one statement, read under the table's alias.
//
//	SELECT c.sex, v.n FROM dancu.citizens c
//	JOIN (SELECT pin, COUNT(*) AS n FROM yte.visits GROUP BY pin) v ON v.pin = c.pin
//	=> Remote(yte): SELECT pin, COUNT(*) AS n FROM visits GROUP BY pin
//
// Safe when the derived query reads nothing from outside itself (it is not
// correlated) and canPushQuery holds for its source's dialect: the source
// then computes exactly the rows the residual would have. Outer blocks are
// tried first, so the largest pushable derived table wins. The remotes are
// numbered by CutScansIntoRemotes.
func pushDerivedIntoRemote(s *planning) (bool, error) {
	pushed := false
	eachFrom(s.q, func(r plan.Relation) plan.Relation {
		x, ok := r.(*plan.Derived)
		if !ok {
			return r
		}
		scans := Scans(x.Query)
		if len(scans) == 0 || !selfContained(x.Query) {
			return r
		}
		for _, sc := range scans[1:] {
			if sc.Table.Source != scans[0].Table.Source {
				return r
			}
		}
		if !canPushQuery(dialectOf(s.cat, scans[0]), x.Query) {
			return r
		}
		pushed = true
		return &plan.Remote{Alias: x.Alias, Source: scans[0].Table.Source, Query: x.Query, Columns: x.Query.Columns}
	})
	return pushed, nil
}

// selfContained reports whether q reads only relations it defines itself.
func selfContained(q *plan.Query) bool {
	defined := map[string]bool{}
	for _, s := range Scans(q) {
		defined[s.Alias] = true
	}
	eachQuery(q, func(q *plan.Query) {
		if sel, ok := q.Body.(*plan.Select); ok {
			plan.Relations(sel.From, func(r plan.Relation) {
				if d, ok := r.(*plan.Derived); ok {
					defined[d.Alias] = true
				}
			})
		}
	})
	ok := true
	plan.QueryExprs(q, func(e plan.Expr) {
		rels, _ := plan.RelsOf(e)
		for a := range rels {
			if !defined[a] && a != "_lt_set" {
				ok = false
			}
		}
	})
	return ok
}
