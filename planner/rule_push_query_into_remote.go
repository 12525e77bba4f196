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
//
// When it fires the plan is that one remote and the residual rules do not
// run.
func pushQueryIntoRemote(s *planning) (bool, error) {
	r := pushWholeQuery(s.cat, s.q, s.b.scans)
	if r == nil {
		return false, nil
	}
	r.ID = 1
	s.p.Single = r
	s.p.Remotes = []*plan.Remote{r}
	return true, nil
}

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
	if d.Caps().ScansOnly {
		return false
	}
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
