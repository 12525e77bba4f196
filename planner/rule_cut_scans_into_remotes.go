package planner

import "lienthong/planner/plan"

// CutScansIntoRemotes cuts the residual at its scans: each becomes a Remote
// that its source runs, read by DuckDB under the scan's alias.
//
//	SELECT c.pin FROM dancu.citizens c WHERE c.sex = 'F'
//	=> residual: SELECT c.pin FROM _lt_remote_1 AS c
//	   Remote 1 (dancu): SELECT c.pin FROM citizens AS c WHERE c.sex = 'F'
//
// A required step, not a rewrite: the residual reads sources only through
// remotes. Remotes are numbered in plan order, outer blocks first, the
// derived tables PushDerivedIntoRemote pushed among them.
func cutScansIntoRemotes(s *planning) (bool, error) {
	var remotes []*plan.Remote
	eachFrom(s.q, func(r plan.Relation) plan.Relation {
		switch x := r.(type) {
		case *plan.Remote:
			if x.ID == 0 { // a pushed derived table, met for the first time
				x.ID = len(remotes) + 1
				remotes = append(remotes, x)
			}
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
		}
		return r
	})
	s.p.Remotes = remotes
	return len(remotes) > 0, nil
}
