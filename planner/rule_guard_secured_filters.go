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
// usual). Failing conjuncts that cannot move into one view are guarded in
// place (flagVisibleRows).
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
	guarded := moveIntoViews(q)
	return flagVisibleRows(q) || guarded
}

// moveIntoViews moves each failing conjunct over one secured view into it.
func moveIntoViews(q *plan.Query) bool {
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

// flagVisibleRows guards the failing conjuncts moveIntoViews could not
// move: those that read a secured view and another relation (a join
// condition, a correlated subquery's term), and those in an outer join's
// ON or over a view on its null-supplying side. Each such view gets a
// column that is 1 on the rows its row filter keeps and 0 otherwise,
// computed from the row's own values, and the conjunct runs only where
// no view it reads says 0:
//
//	ON d.pin = c.pin AND CAST(CASE WHEN c.full_name = 'x' THEN 'x' ELSE d.pin END AS SIGNED) > 0
//	=> CASE WHEN COALESCE(c._lt_visible, 1) = 1 THEN CAST(...) > 0 END
//
// Safe because the conjuncts stand in a WHERE or ON, where NULL and false
// both drop the row; on every row a view keeps the flag is 1 and the
// conjunct is what it was, a row null-extended by an outer join has a NULL
// flag and keeps the conjunct too (over NULLs, which hide nothing), and a
// row the filter hides is dropped by the view whatever the conjunct says.
// Optimizers that evaluate the conjunct before the view's filter now see
// the flag first.
func flagVisibleRows(q *plan.Query) bool {
	views := map[string]*plan.Derived{}
	eachQuery(q, func(q *plan.Query) {
		if sel, ok := q.Body.(*plan.Select); ok {
			plan.Relations(sel.From, func(r plan.Relation) {
				if d, ok := r.(*plan.Derived); ok && d.Secured {
					if inner, ok := d.Query.Body.(*plan.Select); ok && inner.Where != nil && !inner.Aggregated {
						views[d.Alias] = d
					}
				}
			})
		}
	})
	if len(views) == 0 {
		return false
	}
	guarded := false
	guard := func(e plan.Expr) plan.Expr {
		cs := plan.Conjuncts(e)
		for i, c := range cs {
			if leakproof(c) {
				continue
			}
			var cond []plan.Expr
			for _, alias := range directRels(c) {
				if d := views[alias]; d != nil {
					flag := visibleFlag(d)
					cond = append(cond, &plan.Binary{Op: "=", L: &plan.Func{Name: "coalesce", Args: []plan.Expr{flag, one()}, Typ: plan.Int64}, R: one(), Typ: plan.Bool})
				}
			}
			if len(cond) > 0 {
				cs[i] = &plan.Case{Whens: []plan.When{{Cond: plan.And(cond), Then: c}}, Typ: plan.Bool}
				guarded = true
			}
		}
		return plan.And(cs)
	}
	eachQuery(q, func(q *plan.Query) {
		sel, ok := q.Body.(*plan.Select)
		if !ok {
			return
		}
		if sel.Where != nil {
			sel.Where = guard(sel.Where)
		}
		plan.Relations(sel.From, func(r plan.Relation) {
			if j, ok := r.(*plan.Join); ok && j.On != nil {
				j.On = guard(j.On)
			}
		})
	})
	return guarded
}

const visibleColumn = "_lt_visible"

// visibleFlag is a reference to view d's flag column, added on first use.
func visibleFlag(d *plan.Derived) plan.Expr {
	ref := &plan.ColRef{Rel: d.Alias, Name: visibleColumn, Typ: plan.Int64}
	for _, c := range d.Query.Columns {
		if c.Name == visibleColumn {
			return ref
		}
	}
	inner := d.Query.Body.(*plan.Select)
	flag := &plan.Case{Whens: []plan.When{{Cond: inner.Where, Then: one()}}, Else: &plan.Literal{Value: int64(0), Typ: plan.Int64}, Typ: plan.Int64}
	inner.Items = append(inner.Items, plan.SelectItem{Expr: flag, Alias: visibleColumn})
	d.Query.Columns = append(d.Query.Columns, plan.Column{Name: visibleColumn, Type: plan.Int64})
	return ref
}

func one() plan.Expr { return &plan.Literal{Value: int64(1), Typ: plan.Int64} }

// directRels lists the relations e reads itself, not inside a subquery
// (a subquery's own terms are guarded in its block): each is in scope
// where e stands, in its block or an enclosing one.
func directRels(e plan.Expr) []string {
	seen := map[string]bool{}
	var out []string
	var visit func(plan.Expr) bool
	visit = func(x plan.Expr) bool {
		switch v := x.(type) {
		case *plan.Subquery, *plan.Exists:
			return false
		case *plan.InSubquery:
			plan.Walk(v.X, visit)
			return false
		case *plan.ColRef:
			if !seen[v.Rel] {
				seen[v.Rel] = true
				out = append(out, v.Rel)
			}
		}
		return true
	}
	plan.Walk(e, visit)
	return out
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
