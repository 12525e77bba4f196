package planner

import "lienthong/planner/plan"

// The safety predicates the rules share: each question is answered in one
// place, so two rules cannot disagree about it.

// rowByRow reports whether a derived block computes each output row from
// one input row alone: a plain SELECT with no aggregation, DISTINCT, window
// function, LIMIT or OFFSET, and not a set operation. Only then may a rule
// look through it to the scan beneath, as if its columns were the scan's:
// filtering, or dropping rows that cannot join, before the block instead of
// after changes no row it returns. Each excluded feature makes a row depend
// on other rows (ROW_NUMBER() numbers what it sees; COUNT counts it).
// PushFilterIntoDerived and ReduceScanByJoinKeys both ask this; it returns
// the block's SELECT when it holds.
func rowByRow(q *plan.Query) (*plan.Select, bool) {
	if q.Limit != nil || q.Offset != nil {
		return nil, false
	}
	sel, ok := q.Body.(*plan.Select)
	if !ok || sel.Aggregated || sel.Distinct {
		return nil, false
	}
	for _, it := range sel.Items {
		if hasWindow(it.Expr) {
			return nil, false
		}
	}
	for _, o := range q.OrderBy {
		if hasWindow(o.Expr) {
			return nil, false
		}
	}
	return sel, true
}

func hasWindow(e plan.Expr) bool {
	found := false
	plan.Walk(e, func(x plan.Expr) bool {
		if _, ok := x.(*plan.Window); ok {
			found = true
		}
		return !found
	})
	return found
}

// nullSupplying says which sides of a join of kind k may be NULL-extended:
// a LEFT JOIN's right side, a RIGHT JOIN's left, both sides of a FULL
// JOIN. The other side of a NULL-supplying one is preserved: every row of
// it reaches the output. A condition that must hold of every output row
// (a WHERE term, an equality a reduction relies on) cannot be applied
// inside a NULL-supplying side, whose rows may be replaced by NULLs above
// it; an ON term may filter any side except a preserved one.
func nullSupplying(k plan.JoinKind) (left, right bool) {
	return k == plan.RightJoin || k == plan.FullJoin, k == plan.LeftJoin || k == plan.FullJoin
}

// findRelation finds the relation with alias in r and whether an outer join
// in r may NULL-extend it.
func findRelation(r plan.Relation, alias string, nullable bool) (plan.Relation, bool) {
	if j, ok := r.(*plan.Join); ok {
		ln, rn := nullSupplying(j.Kind)
		if x, n := findRelation(j.Left, alias, nullable || ln); x != nil {
			return x, n
		}
		return findRelation(j.Right, alias, nullable || rn)
	}
	if r != nil && plan.AliasOf(r) == alias {
		return r, nullable
	}
	return nil, false
}

// findScan finds the scan with alias in r and whether an outer join in r
// may NULL-extend it.
func findScan(r plan.Relation, alias string) (*plan.Scan, bool) {
	x, n := findRelation(r, alias, false)
	s, _ := x.(*plan.Scan)
	return s, n
}

// findDerived finds the derived table with alias in r and whether an outer
// join in r may NULL-extend it.
func findDerived(r plan.Relation, alias string) (*plan.Derived, bool) {
	x, n := findRelation(r, alias, false)
	d, _ := x.(*plan.Derived)
	return d, n
}

// oneRelation is the alias of the one relation c reads, when c reads
// exactly one and no subquery: only such a term can move to that relation.
func oneRelation(c plan.Expr) (string, bool) {
	rels, hasSub := plan.RelsOf(c)
	if hasSub || len(rels) != 1 {
		return "", false
	}
	for a := range rels {
		return a, true
	}
	return "", false
}
