package planner

import "lienthong/planner/plan"

// PruneDerivedColumns drops the items of a derived table (a subquery in FROM,
// a CTE reference, a secured view) that nothing outside reads, so their
// columns need not be read from the source at all.
//
//	SELECT d.pin FROM (SELECT pin, full_name, birth_date FROM t) d
//	=> SELECT d.pin FROM (SELECT pin FROM t) d
//
// Safe for plain blocks: not DISTINCT (every column shapes the rows), not a
// set operation; one item is always kept so the block stays valid SQL.
func pruneDerivedColumnsRule(s *planning) (bool, error) {
	return pruneDerivedColumns(s.q), nil
}

// pruneDerivedColumns reports whether it dropped any item.
func pruneDerivedColumns(q *plan.Query) bool {
	pruned := false
	// A derived table's own items count as uses only once it is known
	// which of them survive, so iterate to a fixed point.
	for changed := true; changed; {
		changed = false
		used := columnRefs(q)
		eachQuery(q, func(outer *plan.Query) {
			sel, ok := outer.Body.(*plan.Select)
			if !ok {
				return
			}
			plan.Relations(sel.From, func(r plan.Relation) {
				switch x := r.(type) {
				case *plan.Derived:
					inner, ok := x.Query.Body.(*plan.Select)
					if !ok || inner.Distinct || len(x.Query.OrderBy) > 0 {
						return
					}
					var items []plan.SelectItem
					var cols []plan.Column
					for i, it := range inner.Items {
						if used[x.Alias+"."+x.Query.Columns[i].Name] {
							items = append(items, it)
							cols = append(cols, x.Query.Columns[i])
						}
					}
					if len(items) == 0 {
						items, cols = inner.Items[:1], x.Query.Columns[:1]
					}
					if len(items) < len(inner.Items) {
						inner.Items, x.Query.Columns = items, cols
						changed, pruned = true, true
					}
				}
			})
		})
	}
	return pruned
}
