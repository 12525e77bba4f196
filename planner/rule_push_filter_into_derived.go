package planner

import "lienthong/planner/plan"

// PushFilterIntoDerived moves a WHERE conjunct that reads one derived table
// (a subquery in FROM, a CTE reference, a secured view) into that table's
// own WHERE, written over its items, where PushFilterIntoScan can take it
// on to the source.
//
//	WITH kids AS (SELECT pin, birth_date FROM dancu.citizens)
//	SELECT ... FROM kids k WHERE k.birth_date >= '2021-01-01'
//	=> the CTE's block gets WHERE citizens.birth_date >= '2021-01-01'
//
// Safe when the derived block is a plain row-by-row SELECT (no grouping,
// DISTINCT, window, ORDER BY or LIMIT: each of those would change which rows
// the filter sees) and is not NULL-supplied by an outer join around it. A
// masked column is replaced by its mask, so the filter still sees only the
// masked value.
func pushFilterIntoDerived(s *planning) (bool, error) {
	return pushFiltersIntoDerived(s.q), nil
}

// pushFiltersIntoDerived reports whether it moved any conjunct.
func pushFiltersIntoDerived(q *plan.Query) bool {
	pushed := false
	var visit func(q *plan.Query)
	visit = func(q *plan.Query) {
		sel, ok := q.Body.(*plan.Select)
		if !ok {
			if so, ok := q.Body.(*plan.SetOp); ok {
				visit(so.Left)
				visit(so.Right)
			}
			return
		}
		var moved bool
		sel.Where, moved = moveConjuncts(sel.Where, func(c plan.Expr) bool { return pushIntoDerived(c, sel.From) })
		pushed = pushed || moved
		var rel func(plan.Relation)
		rel = func(r plan.Relation) {
			switch x := r.(type) {
			case *plan.Join:
				rel(x.Left)
				rel(x.Right)
			case *plan.Derived:
				visit(x.Query)
			}
		}
		rel(sel.From)
	}
	visit(q)
	return pushed
}

func pushIntoDerived(c plan.Expr, from plan.Relation) bool {
	alias, ok := oneRelation(c)
	if !ok {
		return false
	}
	d, nullable := findDerived(from, alias)
	if d == nil || nullable || len(d.Query.OrderBy) > 0 {
		return false
	}
	inner, ok := rowByRow(d.Query)
	if !ok {
		return false
	}
	moved, ok := overItems(c, alias, d.Query.Columns, inner)
	if !ok {
		return false
	}
	inner.Where = plan.And(append(plan.Conjuncts(inner.Where), moved))
	return true
}
