package planner

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/planner/plan"
)

// FoldConstants replaces DATE_ADD/DATE_SUB of constants (typically of
// CURDATE(), which the binder fixed to one instant) by the date they
// compute, so a filter on it can run in a source that lacks the function.
//
//	WHERE birth_date > DATE_SUB(CURDATE(), INTERVAL 6 YEAR)
//	=> WHERE birth_date > DATE '2020-11-30'
//
// Safe because the value is computed as every engine computes it (months
// clamp to the end of the month, as in MySQL and DuckDB) and keeps the
// expression's type, which the binder already gave it. It runs over the
// bound plan, before GuardSecuredFilters: a literal cannot fail, so a
// folded filter is leakproof and stays where the user wrote it. Not a
// pushdown rule: NoPushdown keeps it.
func foldConstantsRule(s *planning) (bool, error) {
	return foldConstants(s.q) > 0, nil
}

// foldConstants folds every constant DATE_ADD/DATE_SUB in q and returns
// how many it folded.
func foldConstants(q *plan.Query) int {
	n := 0
	fold := func(e plan.Expr) plan.Expr {
		if !hasFoldable(e) {
			return e
		}
		return plan.Map(e, func(x plan.Expr) plan.Expr {
			if lit := foldDateAdd(x); lit != nil {
				n++
				return lit
			}
			return x
		})
	}
	eachQuery(q, func(q *plan.Query) { mapBlockExprs(q, fold) })
	return n
}

func hasFoldable(e plan.Expr) bool {
	found := false
	plan.Walk(e, func(x plan.Expr) bool {
		found = found || foldDateAdd(x) != nil
		return !found
	})
	return found
}

// mapBlockExprs replaces each expression of q's own block (select list,
// join conditions, scan filters, WHERE, GROUP BY, HAVING, ORDER BY) by
// what fn returns; nested queries are not entered.
func mapBlockExprs(q *plan.Query, fn func(plan.Expr) plan.Expr) {
	if sel, ok := q.Body.(*plan.Select); ok {
		for i := range sel.Items {
			sel.Items[i].Expr = fn(sel.Items[i].Expr)
		}
		plan.Relations(sel.From, func(r plan.Relation) {
			switch x := r.(type) {
			case *plan.Join:
				if x.On != nil {
					x.On = fn(x.On)
				}
			case *plan.Scan:
				for i := range x.Filters {
					x.Filters[i] = fn(x.Filters[i])
				}
			}
		})
		if sel.Where != nil {
			sel.Where = fn(sel.Where)
		}
		for i := range sel.GroupBy {
			sel.GroupBy[i] = fn(sel.GroupBy[i])
		}
		if sel.Having != nil {
			sel.Having = fn(sel.Having)
		}
	}
	for i := range q.OrderBy {
		q.OrderBy[i].Expr = fn(q.OrderBy[i].Expr)
	}
}

// foldDateAdd is the literal a DATE_ADD/DATE_SUB of constants computes
// (its arguments: the date, the amount, the unit), or nil.
func foldDateAdd(e plan.Expr) plan.Expr {
	f, ok := e.(*plan.Func)
	if !ok || f.Name != "date_add" && f.Name != "date_sub" {
		return nil
	}
	name, d, n, t := f.Name, f.Args[0], f.Args[1], f.Typ
	unit, _ := f.Args[2].(*plan.Literal).Value.(string)
	dl, ok1 := d.(*plan.Literal)
	nl, ok2 := n.(*plan.Literal)
	if !ok1 || !ok2 || dl.Value == nil || nl.Value == nil {
		return nil
	}
	k, ok := nl.Value.(int64)
	if !ok {
		return nil
	}
	if name == "date_sub" {
		k = -k
	}
	var base time.Time
	var err error
	if dl.Typ.ID() == arrow.DATE32 {
		base, err = time.Parse("2006-01-02", dl.Value.(string))
	} else {
		base, err = time.Parse("2006-01-02 15:04:05.999999", dl.Value.(string))
	}
	if err != nil {
		return nil
	}
	var out time.Time
	switch unit {
	case "year", "quarter", "month":
		months := k
		if unit == "year" {
			months *= 12
		} else if unit == "quarter" {
			months *= 3
		}
		first := time.Date(base.Year(), base.Month(), 1, base.Hour(), base.Minute(), base.Second(), base.Nanosecond(), time.UTC).AddDate(0, int(months), 0)
		last := first.AddDate(0, 1, -1).Day()
		out = first.AddDate(0, 0, min(base.Day(), last)-1)
	case "week":
		out = base.AddDate(0, 0, int(7*k))
	case "day":
		out = base.AddDate(0, 0, int(k))
	case "hour":
		out = base.Add(time.Duration(k) * time.Hour)
	case "minute":
		out = base.Add(time.Duration(k) * time.Minute)
	case "second":
		out = base.Add(time.Duration(k) * time.Second)
	default:
		return nil
	}
	if t.ID() == arrow.DATE32 {
		return &plan.Literal{Value: out.Format("2006-01-02"), Typ: plan.Date}
	}
	return &plan.Literal{Value: out.Format("2006-01-02 15:04:05.999999"), Typ: t}
}
