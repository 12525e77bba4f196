package planner

import (
	"lienthong/catalog"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
)

// PushFilterIntoScan moves a conjunct that reads one table into that table's
// scan, so the source filters rows before they travel.
//
//	SELECT ... FROM dancu.citizens c JOIN bhxh.health_cards h ON h.pin = c.pin
//	WHERE c.permanent_commune = '00004' AND h.valid_to >= DATE '2026-01-01'
//	=> Scan(c) WHERE c.permanent_commune = '00004'
//	   Scan(h) WHERE h.valid_to >= DATE '2026-01-01'
//
// Safe when the source computes the conjunct exactly (sqlgen.CanEval) and
// the scan is not on the NULL-supplying side of an outer join as seen from
// where the conjunct sits (a WHERE term there also removes NULL-extended
// rows, which a filter inside the scan would not). ON terms of an outer join
// are pushed only into its NULL-supplying side, where they mean the same.
func pushFilterIntoScan(s *planning) (bool, error) {
	before := scanFilters(s.b.scans)
	pushFiltersIntoScans(s.cat, s.q)
	return scanFilters(s.b.scans) > before, nil
}

func scanFilters(scans []*plan.Scan) int {
	n := 0
	for _, sc := range scans {
		n += len(sc.Filters)
	}
	return n
}

func pushFiltersIntoScans(cat *catalog.Snapshot, q *plan.Query) {
	eachQuery(q, func(q *plan.Query) {
		sel, ok := q.Body.(*plan.Select)
		if !ok || sel.From == nil {
			return
		}
		sel.Where, _ = moveConjuncts(sel.Where, func(c plan.Expr) bool { return tryPush(cat, c, sel.From) })
		pushJoinConditions(cat, sel.From)
	})
}

// pushJoinConditions pushes ON terms into the sides they may filter: not
// into a preserved side (the other one NULL-supplying), whose every row
// must reach the output, matched or not.
func pushJoinConditions(cat *catalog.Snapshot, r plan.Relation) {
	j, ok := r.(*plan.Join)
	if !ok {
		return
	}
	pushJoinConditions(cat, j.Left)
	pushJoinConditions(cat, j.Right)
	ln, rn := nullSupplying(j.Kind)
	j.On, _ = moveConjuncts(j.On, func(c plan.Expr) bool {
		return !rn && tryPush(cat, c, j.Left) || !ln && tryPush(cat, c, j.Right)
	})
}

// tryPush pushes c into the scan of within that it reads, if that is safe.
func tryPush(cat *catalog.Snapshot, c plan.Expr, within plan.Relation) bool {
	alias, ok := oneRelation(c)
	if !ok {
		return false
	}
	s, nullable := findScan(within, alias)
	if s == nil || nullable {
		return false
	}
	if !sqlgen.CanEval(dialectOf(cat, s), c, nil) {
		return false
	}
	s.Filters = append(s.Filters, c)
	return true
}
