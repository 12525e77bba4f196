package planner

import (
	"fmt"

	"lienthong/catalog"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
)

// RemoteStatement renders the statement remote r's source receives.
func RemoteStatement(cat *catalog.Snapshot, r *plan.Remote) (sqlgen.Statement, sqlgen.Dialect, error) {
	src := cat.Source(r.Source)
	if src == nil {
		return sqlgen.Statement{}, nil, fmt.Errorf("internal: remote %d reads unknown source %s", r.ID, r.Source)
	}
	d, err := sqlgen.DialectOf(src.Kind)
	if err != nil {
		return sqlgen.Statement{}, nil, err
	}
	if r.Scan != nil {
		st, err := sqlgen.RenderScan(d, r.Scan)
		return st, d, err
	}
	st, err := sqlgen.RenderQuery(d, r.Query)
	return st, d, err
}

// ReducedStatement renders remote r's scan with its key filter: the column
// must be one of keys (the distinct keys the remote it is reduced by
// returned). No keys means no row can join.
func ReducedStatement(cat *catalog.Snapshot, r *plan.Remote, keys []any) (sqlgen.Statement, error) {
	src := cat.Source(r.Source)
	if src == nil || r.Scan == nil || r.ReduceBy == nil {
		return sqlgen.Statement{}, fmt.Errorf("internal: remote %d cannot be reduced", r.ID)
	}
	col := r.Scan.Table.Column(r.ReduceBy.Column)
	in := &plan.In{X: &plan.ColRef{Rel: r.Scan.Alias, Name: col.Name, Typ: col.Type}}
	for _, k := range keys {
		in.List = append(in.List, &plan.Literal{Value: k, Typ: col.Type})
	}
	if len(keys) == 0 {
		in.List = []plan.Expr{&plan.Literal{Typ: plan.Null}}
	}
	scan := *r.Scan
	scan.Filters = append(append([]plan.Expr(nil), r.Scan.Filters...), in)
	d, err := sqlgen.DialectOf(src.Kind)
	if err != nil {
		return sqlgen.Statement{}, err
	}
	return sqlgen.RenderScan(d, &scan)
}

// ResidualStatement renders what DuckDB runs over the remotes' streams,
// reading remote N from view(N).
func ResidualStatement(p *plan.Plan, view func(id int) string) (sqlgen.Statement, error) {
	return sqlgen.RenderResidual(p.Root, sqlgen.DuckDB, view)
}
