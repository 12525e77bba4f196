package planner

import "lienthong/planner/plan"

// Walks over the plan IR that several rules share.

// subqueryOf is the query of a subquery expression (scalar, EXISTS or IN),
// nil for any other expression.
func subqueryOf(e plan.Expr) *plan.Query {
	switch v := e.(type) {
	case *plan.Subquery:
		return v.Query
	case *plan.Exists:
		return v.Query
	case *plan.InSubquery:
		return v.Query
	}
	return nil
}

// eachSubquery calls fn for the query of every subquery expression of q's
// blocks (not of queries nested deeper).
func eachSubquery(q *plan.Query, fn func(*plan.Query)) {
	plan.QueryExprs(q, func(e plan.Expr) {
		plan.Walk(e, func(x plan.Expr) bool {
			if sub := subqueryOf(x); sub != nil {
				fn(sub)
			}
			return true
		})
	})
}

// eachQuery calls fn for q and every query nested in it (derived tables,
// subqueries, set operands), innermost first.
func eachQuery(q *plan.Query, fn func(*plan.Query)) {
	if q == nil {
		return
	}
	switch b := q.Body.(type) {
	case *plan.SetOp:
		eachQuery(b.Left, fn)
		eachQuery(b.Right, fn)
	case *plan.Select:
		plan.Relations(b.From, func(r plan.Relation) {
			if d, ok := r.(*plan.Derived); ok {
				eachQuery(d.Query, fn)
			}
		})
	}
	eachSubquery(q, func(sub *plan.Query) { eachQuery(sub, fn) })
	fn(q)
}

// eachFrom calls fn for every table and derived table of every FROM tree
// in q, outer blocks first, and puts what fn returns in its place; it then
// enters the derived tables fn kept and the subqueries. So a rule that
// replaces a derived table replaces the largest one it can.
func eachFrom(q *plan.Query, fn func(plan.Relation) plan.Relation) {
	var rel func(plan.Relation) plan.Relation
	rel = func(r plan.Relation) plan.Relation {
		if j, ok := r.(*plan.Join); ok {
			j.Left = rel(j.Left)
			j.Right = rel(j.Right)
			return j
		}
		return fn(r)
	}
	var visit func(q *plan.Query)
	visit = func(q *plan.Query) {
		switch b := q.Body.(type) {
		case *plan.SetOp:
			visit(b.Left)
			visit(b.Right)
			return
		case *plan.Select:
			if b.From != nil {
				b.From = rel(b.From)
			}
			plan.Relations(b.From, func(r plan.Relation) {
				if d, ok := r.(*plan.Derived); ok {
					visit(d.Query)
				}
			})
		}
		eachSubquery(q, visit)
	}
	visit(q)
}

// columnRefs returns every "alias.column" that q's expressions read,
// subqueries included.
func columnRefs(q *plan.Query) map[string]bool {
	used := map[string]bool{}
	var refs func(plan.Expr)
	refs = func(e plan.Expr) {
		plan.Walk(e, func(x plan.Expr) bool {
			if v, ok := x.(*plan.ColRef); ok {
				used[v.Rel+"."+v.Name] = true
			} else if sub := subqueryOf(x); sub != nil {
				plan.QueryExprs(sub, refs)
			}
			return true
		})
	}
	plan.QueryExprs(q, refs)
	return used
}

// moveConjuncts offers each conjunct of e, in order, to move, which takes
// it (puts it elsewhere in the plan) or leaves it; it returns the AND of
// those left and whether move took any.
func moveConjuncts(e plan.Expr, move func(plan.Expr) bool) (plan.Expr, bool) {
	var keep []plan.Expr
	moved := false
	for _, c := range plan.Conjuncts(e) {
		if move(c) {
			moved = true
		} else {
			keep = append(keep, c)
		}
	}
	return plan.And(keep), moved
}

// inRelation reports whether alias names a relation of r's FROM tree.
func inRelation(r plan.Relation, alias string) bool {
	found := false
	plan.Relations(r, func(x plan.Relation) { found = found || plan.AliasOf(x) == alias })
	return found
}

// overItems rewrites c, which reads columns of the derived table alias
// (columns cols, block inner), over that block's items: what it means
// inside the block.
func overItems(c plan.Expr, alias string, cols []plan.Column, inner *plan.Select) (plan.Expr, bool) {
	byName := map[string]plan.Expr{}
	for i, it := range inner.Items {
		byName[cols[i].Name] = it.Expr
	}
	ok := true
	moved := plan.Map(c, func(x plan.Expr) plan.Expr {
		if ref, isRef := x.(*plan.ColRef); isRef && ref.Rel == alias {
			e, found := byName[ref.Name]
			if !found {
				ok = false
				return x
			}
			return e
		}
		return x
	})
	return moved, ok
}

// Scans returns every table scan in q, subqueries included.
func Scans(q *plan.Query) []*plan.Scan {
	var out []*plan.Scan
	eachQuery(q, func(q *plan.Query) {
		if sel, ok := q.Body.(*plan.Select); ok {
			plan.Relations(sel.From, func(r plan.Relation) {
				switch x := r.(type) {
				case *plan.Scan:
					out = append(out, x)
				case *plan.Remote:
					if x.Scan != nil {
						out = append(out, x.Scan)
					}
				}
			})
		}
	})
	return out
}
