package planner

import (
	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/catalog"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
)

// PushQueryIntoRemote sends the whole statement to its one source.
//
//	SELECT c.sex, COUNT(*) FROM dancu.citizens c GROUP BY c.sex
//	=> Remote(dancu): the same query in the source's dialect
//
// Safe when every table lives in that source and every expression, join,
// grouping and ordering evaluates there exactly as lienthong defines it
// (sqlgen.CanEval); otherwise nothing changes and the scans are pushed one
// by one.
func pushWholeQuery(cat *catalog.Snapshot, q *plan.Query, scans []*plan.Scan) *plan.Remote {
	if len(scans) == 0 {
		return nil
	}
	src := scans[0].Table.Source
	for _, s := range scans[1:] {
		if s.Table.Source != src {
			return nil
		}
	}
	d := dialectOf(cat, scans[0])
	if !canPushQuery(d, q) {
		return nil
	}
	if !d.Caps().Booleans {
		// It has no boolean type to return.
		for _, c := range q.Columns {
			if c.Type.ID() == arrow.BOOL {
				return nil
			}
		}
	}
	return &plan.Remote{Source: src, Query: q, Columns: q.Columns}
}

func canPushQuery(d sqlgen.Dialect, q *plan.Query) bool {
	sub := func(s *plan.Query) bool { return canPushQuery(d, s) }
	ok := func(e plan.Expr) bool { return e == nil || sqlgen.CanEval(d, e, sub) }
	for _, o := range q.OrderBy {
		if _, isRef := o.Expr.(*plan.OutputRef); !isRef && !ok(o.Expr) {
			return false
		}
	}
	switch b := q.Body.(type) {
	case *plan.SetOp:
		if !d.Caps().StringSets && !b.All && hasString(q.Columns) {
			return false // MariaDB's UNION would merge case variants
		}
		return canPushQuery(d, b.Left) && canPushQuery(d, b.Right)
	case *plan.Select:
		for _, it := range b.Items {
			if hasWindow(it.Expr) || !ok(it.Expr) {
				return false
			}
		}
		if !d.Caps().StringSets && (b.Distinct && hasString(q.Columns) || anyString(b.GroupBy)) {
			return false // MariaDB groups case variants of a string together
		}
		for _, g := range b.GroupBy {
			if !ok(g) {
				return false
			}
		}
		if !ok(b.Where) || !ok(b.Having) {
			return false
		}
		return canPushRelation(d, b.From)
	}
	return false
}

func canPushRelation(d sqlgen.Dialect, r plan.Relation) bool {
	switch x := r.(type) {
	case nil, *plan.Scan:
		return true
	case *plan.Join:
		if x.Kind == plan.FullJoin && !d.Caps().FullJoin {
			return false // MariaDB has no FULL OUTER JOIN
		}
		if x.On != nil && !sqlgen.CanEval(d, x.On, func(s *plan.Query) bool { return canPushQuery(d, s) }) {
			return false
		}
		return canPushRelation(d, x.Left) && canPushRelation(d, x.Right)
	case *plan.Derived:
		return canPushQuery(d, x.Query)
	}
	return false
}

func hasString(cols []plan.Column) bool {
	for _, c := range cols {
		if c.Type.ID() == arrow.STRING {
			return true
		}
	}
	return false
}

func anyString(es []plan.Expr) bool {
	for _, e := range es {
		if e.Type().ID() == arrow.STRING {
			return true
		}
	}
	return false
}

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
func pushFiltersIntoScans(cat *catalog.Snapshot, q *plan.Query) {
	eachQuery(q, func(q *plan.Query) {
		sel, ok := q.Body.(*plan.Select)
		if !ok || sel.From == nil {
			return
		}
		var keep []plan.Expr
		for _, c := range plan.Conjuncts(sel.Where) {
			if !tryPush(cat, c, sel.From) {
				keep = append(keep, c)
			}
		}
		sel.Where = plan.And(keep)
		pushJoinConditions(cat, sel.From)
	})
}

func pushJoinConditions(cat *catalog.Snapshot, r plan.Relation) {
	j, ok := r.(*plan.Join)
	if !ok {
		return
	}
	pushJoinConditions(cat, j.Left)
	pushJoinConditions(cat, j.Right)
	var keep []plan.Expr
	for _, c := range plan.Conjuncts(j.On) {
		pushed := false
		switch j.Kind {
		case plan.InnerJoin:
			pushed = tryPush(cat, c, j.Left) || tryPush(cat, c, j.Right)
		case plan.LeftJoin:
			pushed = tryPush(cat, c, j.Right)
		case plan.RightJoin:
			pushed = tryPush(cat, c, j.Left)
		}
		if !pushed {
			keep = append(keep, c)
		}
	}
	j.On = plan.And(keep)
}

// tryPush pushes c into the scan of within that it reads, if that is safe.
func tryPush(cat *catalog.Snapshot, c plan.Expr, within plan.Relation) bool {
	rels, hasSub := plan.RelsOf(c)
	if hasSub || len(rels) != 1 {
		return false
	}
	var alias string
	for a := range rels {
		alias = a
	}
	s, nullable := findScan(within, alias, false)
	if s == nil || nullable {
		return false
	}
	if !sqlgen.CanEval(dialectOf(cat, s), c, nil) {
		return false
	}
	s.Filters = append(s.Filters, c)
	return true
}

// findScan finds the scan with alias in r and whether an outer join in r
// may NULL-extend it.
func findScan(r plan.Relation, alias string, nullable bool) (*plan.Scan, bool) {
	x, n := findRelation(r, alias, nullable)
	s, _ := x.(*plan.Scan)
	return s, n
}

// findRelation finds the relation with alias in r and whether an outer join
// in r may NULL-extend it.
func findRelation(r plan.Relation, alias string, nullable bool) (plan.Relation, bool) {
	if j, ok := r.(*plan.Join); ok {
		ln := nullable || j.Kind == plan.RightJoin || j.Kind == plan.FullJoin
		rn := nullable || j.Kind == plan.LeftJoin || j.Kind == plan.FullJoin
		if x, n := findRelation(j.Left, alias, ln); x != nil {
			return x, n
		}
		return findRelation(j.Right, alias, rn)
	}
	if r != nil && plan.AliasOf(r) == alias {
		return r, nullable
	}
	return nil, false
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
	plan.QueryExprs(q, func(e plan.Expr) {
		plan.Walk(e, func(x plan.Expr) bool {
			switch v := x.(type) {
			case *plan.Subquery:
				eachQuery(v.Query, fn)
			case *plan.Exists:
				eachQuery(v.Query, fn)
			case *plan.InSubquery:
				eachQuery(v.Query, fn)
			}
			return true
		})
	})
	fn(q)
}

// fragment cuts the residual at its scans: each becomes a Remote that its
// source runs, read by DuckDB under the scan's alias. With cat set, a
// derived table whose tables all live in one source that runs all of it
// becomes one Remote first (PushDerivedIntoRemote).
//
//	SELECT c.sex, v.n FROM dancu.citizens c
//	JOIN (SELECT pin, COUNT(*) AS n FROM yte.visits GROUP BY pin) v ON v.pin = c.pin
//	=> Remote(yte): SELECT pin, COUNT(*) AS n FROM visits GROUP BY pin
//
// Safe when the derived query reads nothing from outside itself (it is not
// correlated) and canPushQuery holds for its source's dialect.
func fragment(cat *catalog.Snapshot, q *plan.Query) []*plan.Remote {
	var remotes []*plan.Remote
	var rel func(plan.Relation) plan.Relation
	rel = func(r plan.Relation) plan.Relation {
		switch x := r.(type) {
		case *plan.Derived:
			if cat == nil {
				return r
			}
			scans := Scans(x.Query)
			if len(scans) == 0 || !selfContained(x.Query) {
				return r
			}
			for _, s := range scans[1:] {
				if s.Table.Source != scans[0].Table.Source {
					return r
				}
			}
			if !canPushQuery(dialectOf(cat, scans[0]), x.Query) {
				return r
			}
			rm := &plan.Remote{ID: len(remotes) + 1, Alias: x.Alias, Source: scans[0].Table.Source, Query: x.Query, Columns: x.Query.Columns}
			remotes = append(remotes, rm)
			return rm
		case *plan.Scan:
			rm := &plan.Remote{ID: len(remotes) + 1, Alias: x.Alias, Source: x.Table.Source, Scan: x}
			for _, c := range x.Columns {
				rm.Columns = append(rm.Columns, plan.Column{Name: c, Type: x.Table.Column(c).Type})
			}
			if len(rm.Columns) == 0 {
				rm.Columns = []plan.Column{{Name: "_lt_one", Type: plan.Int64}}
			}
			remotes = append(remotes, rm)
			return rm
		case *plan.Join:
			x.Left = rel(x.Left)
			x.Right = rel(x.Right)
		}
		return r
	}
	// Outer blocks first, so the largest pushable derived table wins.
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
		plan.QueryExprs(q, func(e plan.Expr) {
			plan.Walk(e, func(x plan.Expr) bool {
				switch v := x.(type) {
				case *plan.Subquery:
					visit(v.Query)
				case *plan.Exists:
					visit(v.Query)
				case *plan.InSubquery:
					visit(v.Query)
				}
				return true
			})
		})
	}
	visit(q)
	return remotes
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

// PruneScanColumns drops from each scan the columns only its own pushed
// filters read: the source evaluates them and need not send them.
//
//	Scan(c) WHERE c.permanent_commune = '00004' returning pin, permanent_commune
//	=> returning pin
func pruneScanColumns(q *plan.Query, scans []*plan.Scan) {
	saved := make([][]plan.Expr, len(scans))
	for i, s := range scans {
		saved[i], s.Filters = s.Filters, nil
	}
	used := columnRefs(q)
	for i, s := range scans {
		s.Filters = saved[i]
		var keep []string
		for _, c := range s.Columns {
			if used[s.Alias+"."+c] {
				keep = append(keep, c)
			}
		}
		s.Columns = keep
	}
}

// PruneDerivedColumns drops the items of a derived table (a subquery in FROM,
// a CTE reference, a secured view) that nothing outside reads, so their
// columns need not be read from the source at all.
//
//	SELECT d.pin FROM (SELECT pin, full_name, birth_date FROM t) d
//	=> SELECT d.pin FROM (SELECT pin FROM t) d
//
// Safe for plain blocks: not DISTINCT (every column shapes the rows), not a
// set operation; one item is always kept so the block stays valid SQL.
func pruneDerivedColumns(q *plan.Query) {
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
						changed = true
					}
				}
			})
		})
	}
}

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
func pushFiltersIntoDerived(q *plan.Query) {
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
		var keep []plan.Expr
		for _, c := range plan.Conjuncts(sel.Where) {
			if !pushIntoDerived(c, sel.From) {
				keep = append(keep, c)
			}
		}
		sel.Where = plan.And(keep)
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

// oneRelation is the alias of the one relation c reads, when c reads
// exactly one and no subquery.
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

func findDerived(r plan.Relation, alias string) (*plan.Derived, bool) {
	x, n := findRelation(r, alias, false)
	d, _ := x.(*plan.Derived)
	return d, n
}

// columnRefs returns every "alias.column" that q's expressions read,
// subqueries included.
func columnRefs(q *plan.Query) map[string]bool {
	used := map[string]bool{}
	var refs func(plan.Expr)
	refs = func(e plan.Expr) {
		plan.Walk(e, func(x plan.Expr) bool {
			switch v := x.(type) {
			case *plan.ColRef:
				used[v.Rel+"."+v.Name] = true
			case *plan.Subquery:
				plan.QueryExprs(v.Query, refs)
			case *plan.Exists:
				plan.QueryExprs(v.Query, refs)
			case *plan.InSubquery:
				plan.QueryExprs(v.Query, refs)
			}
			return true
		})
	}
	plan.QueryExprs(q, refs)
	return used
}
