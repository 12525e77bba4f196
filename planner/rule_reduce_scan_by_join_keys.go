package planner

import (
	"fmt"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/catalog"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
	"lienthong/policy"
)

// ReduceScanByJoinKeys marks a remote whose rows only matter when they join
// a (smaller) remote on an equality: at run time the engine reads the
// smaller side first and, when its distinct keys are few, adds them to the
// other side's scan as an IN list, so only rows that can join travel.
//
//	SELECT ... FROM dancu.citizens c JOIN bhxh.health_cards h ON h.pin = c.pin
//	WHERE c.permanent_commune = '01001'
//	=> Scan(c) WHERE c.permanent_commune = '01001'
//	   Scan(h) WHERE h.pin IN (<the pins Scan(c) returned>)
//
// Safe where every output row needs the equality to hold: the scan reduced
// is on either side of an inner join (ON or WHERE equality), the NULL-
// supplying side of an outer join, or the inner side of a correlated
// [NOT] EXISTS or of an IN (subquery) in WHERE. A row whose key is not among
// the other side's keys can never satisfy the equality, so dropping it early
// changes nothing. NOT IN is excluded: there a dropped NULL would matter.
//
// The keys are PINs read from one agency's rows, written into the SQL sent
// to another, where they land in its logs: under an access policy a
// reduction needs the policy's consent (Access.MayShareKeys, [[key_sharing]]).
func reduceScanByJoinKeys(s *planning) (bool, error) {
	minProbe := float64(MinReduceProbe)
	if s.opt.MinReduceProbe > 0 {
		minProbe = s.opt.MinReduceProbe
	}
	reduceScansByJoinKeys(s.cat, s.q, s.p.Remotes, minProbe, s.opt.Access)
	for _, r := range s.p.Remotes {
		if r.ReduceBy != nil {
			return true, nil
		}
	}
	return false, nil
}

func reduceScansByJoinKeys(cat *catalog.Snapshot, q *plan.Query, remotes []*plan.Remote, minProbe float64, access *policy.Access) {
	byAlias := map[string]*plan.Remote{}
	for _, r := range remotes {
		if r.Scan != nil {
			byAlias[r.Alias] = r
		}
	}
	derived := map[string]*plan.Derived{}
	eachQuery(q, func(q *plan.Query) {
		if sel, ok := q.Body.(*plan.Select); ok {
			plan.Relations(sel.From, func(r plan.Relation) {
				if d, ok := r.(*plan.Derived); ok {
					derived[d.Alias] = d
				}
			})
		}
	})
	type cand struct {
		probe, build *plan.Remote
		pcol, bcol   string
	}
	var cands []cand
	// add records "probe may be reduced by build" for probe.pcol = build.bcol.
	add := func(probe, build *plan.ColRef) {
		p, pcol, pwrap := resolveKey(probe, byAlias, derived)
		b, bcol, bwrap := resolveKey(build, byAlias, derived)
		if p == nil || b == nil || p == b || pwrap != bwrap {
			return
		}
		pt, bt := p.Scan.Table.Column(pcol).Type, b.Scan.Table.Column(bcol).Type
		if !keyType(pt) || !arrow.TypeEqual(pt, bt) {
			return
		}
		// The probe's source must compute the IN list it will be sent.
		in := &plan.In{X: &plan.ColRef{Rel: p.Scan.Alias, Name: pcol, Typ: pt}, List: []plan.Expr{&plan.Literal{Typ: pt}}}
		if !sqlgen.CanEval(dialectOf(cat, p.Scan), in, nil) {
			return
		}
		cands = append(cands, cand{p, b, pcol, bcol})
	}
	// both records the two directions of an equality that every row needs.
	both := func(e plan.Expr) {
		if l, r, ok := colEquality(e); ok {
			add(l, r)
			add(r, l)
		}
	}
	eachQuery(q, func(q *plan.Query) {
		sel, ok := q.Body.(*plan.Select)
		if !ok {
			return
		}
		for _, c := range plan.Conjuncts(sel.Where) {
			// Only equalities between this block's own tables: a correlated
			// one must not reduce the outer side (handled with EXISTS below).
			if l, r, ok := colEquality(c); ok && inRelation(sel.From, l.Rel) && inRelation(sel.From, r.Rel) {
				both(c)
			}
			if in, ok := c.(*plan.InSubquery); ok && !in.Not {
				if x, ok := in.X.(*plan.ColRef); ok {
					if y, ok := subqueryKey(in.Query); ok {
						add(y, x)
					}
				}
			}
		}
		var joins func(plan.Relation)
		joins = func(r plan.Relation) {
			j, ok := r.(*plan.Join)
			if !ok {
				return
			}
			joins(j.Left)
			joins(j.Right)
			for _, c := range plan.Conjuncts(j.On) {
				l, r, ok := colEquality(c)
				if !ok {
					continue
				}
				// Orient l to the join's left subtree.
				if !inRelation(j.Left, l.Rel) {
					l, r = r, l
				}
				if !inRelation(j.Left, l.Rel) || !inRelation(j.Right, r.Rel) {
					continue
				}
				// Only a side that is not preserved needs the equality for
				// every row it contributes.
				ln, rn := nullSupplying(j.Kind)
				if !rn {
					add(l, r)
				}
				if !ln {
					add(r, l)
				}
			}
		}
		joins(sel.From)
		// Correlated equalities inside [NOT] EXISTS and scalar subqueries
		// reduce the inner side: inner rows whose key matches no outer row
		// never take part in any evaluation.
		plan.QueryExprs(q, func(e plan.Expr) {
			plan.Walk(e, func(x plan.Expr) bool {
				var sub *plan.Query
				switch v := x.(type) {
				case *plan.Exists:
					sub = v.Query
				case *plan.Subquery:
					sub = v.Query
				}
				if sub != nil {
					if inner, ok := sub.Body.(*plan.Select); ok {
						for _, c := range plan.Conjuncts(inner.Where) {
							l, r, ok := colEquality(c)
							if !ok {
								continue
							}
							if inRelation(inner.From, l.Rel) && !inRelation(inner.From, r.Rel) {
								add(l, r)
							} else if inRelation(inner.From, r.Rel) && !inRelation(inner.From, l.Rel) {
								add(r, l)
							}
						}
					}
				}
				return true
			})
		})
	})
	// Smallest builders first; each remote is reduced at most once, and
	// never by a remote that (transitively) waits for it.
	sort.SliceStable(cands, func(i, j int) bool { return estimate(cands[i].build) < estimate(cands[j].build) })
	waitsFor := func(a, b *plan.Remote) bool { // does a wait (transitively) for b?
		for x := a; x != nil && x.ReduceBy != nil; {
			if x.ReduceBy.From == b.ID {
				return true
			}
			var next *plan.Remote
			for _, r := range remotes {
				if r.ID == x.ReduceBy.From {
					next = r
				}
			}
			x = next
		}
		return false
	}
	for _, c := range cands {
		// A small probe side is cheaper read whole, in parallel, than
		// reduced after waiting for the other side.
		if estimate(c.probe) < minProbe {
			continue
		}
		if c.probe.ReduceBy != nil || estimate(c.build) > estimate(c.probe) || waitsFor(c.build, c.probe) {
			continue
		}
		if access != nil {
			if from := remoteTables(c.build); !access.MayShareKeys(c.build.Source, from, c.probe.Source) {
				c.probe.KeysWithheld = fmt.Sprintf("not reduced by remote %d's keys: the access policy does not let %s receive PINs read from %s ([[key_sharing]])", c.build.ID, c.probe.Source, c.build.Source)
				continue
			}
		}
		c.probe.ReduceBy = &plan.KeyFilter{Column: c.pcol, From: c.build.ID, FromColumn: c.bcol}
	}
}

// remoteTables lists the tables a remote reads.
func remoteTables(r *plan.Remote) []string {
	var out []string
	if r.Scan != nil {
		out = append(out, r.Scan.Table.Name)
	}
	if r.Query != nil {
		for _, s := range Scans(r.Query) {
			out = append(out, s.Table.Name)
		}
	}
	return out
}

// resolveKey finds the remote scan column behind a column reference, also
// through plain derived tables (CTE references, secured views). wrap says
// how the value was transformed on the way: "" for the raw value, or the
// pseudonym's purpose. Equal pseudonyms (one purpose, one key) mean equal
// PINs, so the engine may reduce by raw PINs; no raw PIN reaches the client,
// only a source's scan.
func resolveKey(c *plan.ColRef, remotes map[string]*plan.Remote, derived map[string]*plan.Derived) (*plan.Remote, string, string) {
	if r := remotes[c.Rel]; r != nil {
		return r, c.Name, ""
	}
	d := derived[c.Rel]
	if d == nil {
		return nil, "", ""
	}
	// Dropping rows below a block that is not row by row changes the rows
	// it returns (a ROW_NUMBER() over fewer rows numbers them otherwise).
	sel, ok := rowByRow(d.Query)
	if !ok {
		return nil, "", ""
	}
	for i, col := range d.Query.Columns {
		if col.Name != c.Name {
			continue
		}
		switch e := sel.Items[i].Expr.(type) {
		case *plan.ColRef:
			if inRelation(sel.From, e.Rel) {
				return resolveKey(e, remotes, derived)
			}
		case *plan.Func:
			if e.Name == "pseudonym" {
				if inner, ok := e.Args[0].(*plan.ColRef); ok && inRelation(sel.From, inner.Rel) {
					r, name, wrap := resolveKey(inner, remotes, derived)
					if wrap == "" {
						return r, name, "pseudonym:" + fmt.Sprint(e.Args[1].(*plan.Literal).Value)
					}
				}
			}
		}
	}
	return nil, "", ""
}

// MinReduceProbe is the estimated size below which a scan is not worth
// reducing: waiting for the other side costs more than sending it all.
// Options.MinReduceProbe overrides it (tests force reduction on small data).
const MinReduceProbe = 50_000

// estimate guesses a scan's output rows: the table's estimate, a tenth for
// each pushed filter. Unknown sizes count as large.
func estimate(r *plan.Remote) float64 {
	n := float64(r.Scan.Table.RowEstimate)
	if n < 0 {
		n = 1e7
	}
	for range r.Scan.Filters {
		n /= 10
	}
	return n
}

func keyType(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.INT64, arrow.INT32, arrow.INT16, arrow.INT8:
		return true
	}
	return false
}

// colEquality matches "a.x = b.y" between two different relations.
func colEquality(e plan.Expr) (*plan.ColRef, *plan.ColRef, bool) {
	b, ok := e.(*plan.Binary)
	if !ok || b.Op != "=" {
		return nil, nil, false
	}
	l, ok1 := b.L.(*plan.ColRef)
	r, ok2 := b.R.(*plan.ColRef)
	if !ok1 || !ok2 || l.Rel == r.Rel {
		return nil, nil, false
	}
	return l, r, true
}

// subqueryKey is the column an IN subquery returns, when it is a plain
// column of one of its own scans.
func subqueryKey(q *plan.Query) (*plan.ColRef, bool) {
	sel, ok := q.Body.(*plan.Select)
	if !ok || sel.Aggregated || len(sel.Items) != 1 || q.Limit != nil || q.Offset != nil {
		return nil, false
	}
	c, ok := sel.Items[0].Expr.(*plan.ColRef)
	if !ok || !inRelation(sel.From, c.Rel) {
		return nil, false
	}
	return c, true
}
