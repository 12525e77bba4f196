package planner

import (
	"fmt"
	"strings"

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

// RemoteStats are what EXPLAIN ANALYZE reports for one remote.
type RemoteStats struct {
	Rows, Bytes, Batches int64
	// Keys is how many join keys reduced this remote's scan; -1 when it
	// was not reduced (or the other side had too many).
	Keys int64
	// Wall is the time from sending the statement to its last row.
	WallMillis float64
	// Hidden: the remote reads rows the principal may not see (a row
	// filter), so its counts would tell how many there are; only time is
	// shown.
	Hidden bool
}

// Explain renders a plan for people: where each part runs and the exact SQL
// each source receives. SQL literals appear as the user wrote them; no data
// read from a source is ever part of a plan.
func Explain(cat *catalog.Snapshot, p *plan.Plan, stats map[int]RemoteStats, residualMillis float64, totalRows int64) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan over catalog version %d\n", cat.Version)
	cols := make([]string, len(p.Columns))
	for i, c := range p.Columns {
		cols[i] = fmt.Sprintf("%s %s", c.Name, catalog.TypeName(c.Type))
	}
	fmt.Fprintf(&b, "Output: %s\n", strings.Join(cols, ", "))
	if stats != nil && totalRows >= 0 {
		fmt.Fprintf(&b, "Returned %d rows in %.1f ms\n", totalRows, residualMillis)
	} else if stats != nil {
		fmt.Fprintf(&b, "Ran in %.1f ms\n", residualMillis)
	}
	if p.Single != nil {
		st, d, err := RemoteStatement(cat, p.Single)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "Whole query runs in source %s (%s):\n", p.Single.Source, d)
		fmt.Fprintf(&b, "  %s\n", st.SQL)
		writeStats(&b, stats, p.Single.ID)
		return b.String(), nil
	}
	view := sqlgen.ViewName
	if p.ViewPrefix != "" {
		view = func(id int) string { return sqlgen.PrefixedViewName(p.ViewPrefix, id) }
	}
	// Shown without the LIMIT wrapper DuckDB needs around each view
	// (docs/sql.md, "Reading EXPLAIN").
	st, err := sqlgen.RenderResidualForReading(p.Root, view)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "Residual runs in DuckDB over %d remote stream(s):\n  %s\n", len(p.Remotes), st.SQL)
	for _, r := range p.Remotes {
		st, d, err := RemoteStatement(cat, r)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "Remote %d -> %s (%s) as %s:\n  %s\n", r.ID, r.Source, d, view(r.ID), st.SQL)
		if k := r.ReduceBy; k != nil {
			fmt.Fprintf(&b, "  reduced at run time: AND %s.%s IN (distinct %s of remote %d), when they are few\n", r.Alias, k.Column, k.FromColumn, k.From)
		}
		if r.KeysWithheld != "" {
			fmt.Fprintf(&b, "  %s\n", r.KeysWithheld)
		}
		writeStats(&b, stats, r.ID)
	}
	return b.String(), nil
}

func writeStats(b *strings.Builder, stats map[int]RemoteStats, id int) {
	if stats == nil {
		return
	}
	s := stats[id]
	if s.Hidden {
		fmt.Fprintf(b, "  %.1f ms (row, byte and key counts are not shown: the access policy filters this table's rows)\n", s.WallMillis)
		return
	}
	fmt.Fprintf(b, "  read %d rows, %d bytes in %d batches, %.1f ms", s.Rows, s.Bytes, s.Batches, s.WallMillis)
	if s.Keys >= 0 {
		fmt.Fprintf(b, "; scan reduced by %d keys", s.Keys)
	}
	b.WriteString("\n")
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
