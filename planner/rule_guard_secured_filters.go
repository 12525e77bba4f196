package planner

import "lienthong/planner/plan"

// guardSecuredFilters is the security barrier (PostgreSQL's
// security_barrier views). A WHERE or inner-join conjunct of the user's
// over one secured view that could fail or signal (a cast, a division, a
// function: not leakproof) would otherwise reach the source or DuckDB
// beside the view's row filter, whose optimizers reorder conjuncts freely,
// and run on rows the filter hides: error or no error is one bit about a
// hidden row. It moves such a conjunct into the view as
//
//	CASE WHEN <row filter> THEN <conjunct over masked values> END
//
// which every dialect evaluates only for rows the filter keeps. Leakproof
// conjuncts stay where they are (PushFilterIntoDerived moves them as
// usual).
//
//	SELECT ... FROM dancu.citizens c WHERE CAST(c.full_name AS INT) = 1
//	=> the view's WHERE <row filter> AND CASE WHEN <row filter> THEN CAST(...) = 1 END
//
// Safe because the guarded term is the user's conjunct, evaluated over the
// same masked values, on exactly the rows the view keeps; the outer WHERE
// loses it, so each row passes the same terms as before. A policy stage:
// it runs whenever an access policy is in force, pushdown or not, and
// cannot be disabled.
func guardSecuredFiltersRule(s *planning) (bool, error) {
	if s.opt.Access == nil {
		return false, nil
	}
	return guardSecuredFilters(s.q), nil
}

// guardSecuredFilters reports whether it guarded any conjunct.
func guardSecuredFilters(q *plan.Query) bool {
	guarded := false
	eachQuery(q, func(q *plan.Query) {
		sel, ok := q.Body.(*plan.Select)
		if !ok {
			return
		}
		var moved bool
		sel.Where, moved = moveConjuncts(sel.Where, func(c plan.Expr) bool { return guardInto(c, sel.From) })
		guarded = guarded || moved
		plan.Relations(sel.From, func(r plan.Relation) {
			j, ok := r.(*plan.Join)
			if !ok || j.Kind != plan.InnerJoin {
				return
			}
			var moved bool
			j.On, moved = moveConjuncts(j.On, func(c plan.Expr) bool { return guardInto(c, j) })
			guarded = guarded || moved
		})
	})
	return guarded
}

func guardInto(c plan.Expr, from plan.Relation) bool {
	if leakproof(c) {
		return false
	}
	alias, ok := oneRelation(c)
	if !ok {
		return false
	}
	d, nullable := findDerived(from, alias)
	if d == nil || !d.Secured || nullable {
		return false
	}
	inner, ok := d.Query.Body.(*plan.Select)
	if !ok || inner.Where == nil {
		return false // no row filter: the view hides no row
	}
	moved, ok := overItems(c, alias, d.Query.Columns, inner)
	if !ok {
		return false
	}
	guarded := &plan.Case{Whens: []plan.When{{Cond: inner.Where, Then: moved}}, Typ: plan.Bool}
	inner.Where = &plan.Binary{Op: "AND", L: inner.Where, R: guarded, Typ: plan.Bool}
	return true
}

// leakproof reports whether e cannot fail or signal on any row: columns,
// literals, comparisons of same-typed operands, AND/OR/NOT, IS NULL,
// IN lists, BETWEEN and LIKE, and string functions that are total. Casts,
// arithmetic (overflow, division by zero), date functions and everything
// else may fail on some value, and so may tell whether a row exists.
func leakproof(e plan.Expr) bool {
	ok := true
	plan.Walk(e, func(x plan.Expr) bool {
		switch v := x.(type) {
		case *plan.ColRef, *plan.Literal, *plan.Not, *plan.IsNull, *plan.In, *plan.Between, *plan.Like:
		case *plan.Binary:
			switch v.Op {
			case "AND", "OR", "=", "<>", "!=", "<", "<=", ">", ">=", "<=>":
			default:
				ok = false
			}
		case *plan.Func:
			switch v.Name {
			case "lower", "upper", "coalesce", "char_length", "length", "trim", "ltrim", "rtrim", "concat":
			default:
				ok = false
			}
		default:
			ok = false
		}
		return ok
	})
	return ok
}
