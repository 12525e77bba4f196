package planner

import "lienthong/planner/plan"

// PINLiterals returns the literals a plan compares PIN columns with (for
// the audit log, which keeps them only as keyed hashes).
func PINLiterals(p *plan.Plan) []string {
	pinCols := map[string]bool{} // alias.column
	var qs []*plan.Query
	if p.Root != nil {
		qs = append(qs, p.Root)
	}
	for _, r := range p.Remotes {
		if r.Query != nil {
			qs = append(qs, r.Query)
		}
	}
	var scans []*plan.Scan
	for _, q := range qs {
		scans = append(scans, Scans(q)...)
	}
	for _, r := range p.Remotes {
		if r.Scan != nil {
			scans = append(scans, r.Scan)
		}
	}
	for _, s := range scans {
		if s.Table.PINColumn != "" {
			pinCols[s.Alias+"."+s.Table.PINColumn] = true
		}
	}
	var out []string
	visit := func(e plan.Expr) {
		plan.Walk(e, func(x plan.Expr) bool {
			isPin := func(e plan.Expr) bool {
				c, ok := e.(*plan.ColRef)
				return ok && pinCols[c.Rel+"."+c.Name]
			}
			lit := func(e plan.Expr) {
				if l, ok := e.(*plan.Literal); ok {
					if s, ok := l.Value.(string); ok {
						out = append(out, s)
					}
				}
			}
			switch v := x.(type) {
			case *plan.Binary:
				if isPin(v.L) {
					lit(v.R)
				} else if isPin(v.R) {
					lit(v.L)
				}
			case *plan.In:
				if isPin(v.X) {
					for _, item := range v.List {
						lit(item)
					}
				}
			}
			return true
		})
	}
	for _, q := range qs {
		eachQuery(q, func(q *plan.Query) { plan.QueryExprs(q, visit) })
	}
	for _, s := range scans {
		for _, f := range s.Filters {
			visit(f)
		}
	}
	return out
}
