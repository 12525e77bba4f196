package planner

import (
	"fmt"
	"strings"

	"lienthong/catalog"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
)

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

// Explain renders a plan for people: where each part runs, the exact SQL
// each source receives and the rules that shaped it. SQL literals appear as
// the user wrote them; no data read from a source is ever part of a plan.
func Explain(cat *catalog.Snapshot, p *plan.Plan, stats map[int]RemoteStats, residualMillis float64, totalRows int64) (string, error) {
	return explain(cat, p, stats, residualMillis, totalRows, true)
}

// explain is Explain, with or without the line of rules (the golden plans
// show the plan alone and check the rules separately).
func explain(cat *catalog.Snapshot, p *plan.Plan, stats map[int]RemoteStats, residualMillis float64, totalRows int64, withRules bool) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan over catalog version %d\n", cat.Version)
	cols := make([]string, len(p.Columns))
	for i, c := range p.Columns {
		cols[i] = fmt.Sprintf("%s %s", c.Name, catalog.TypeName(c.Type))
	}
	fmt.Fprintf(&b, "Output: %s\n", strings.Join(cols, ", "))
	if withRules && len(p.Rules) > 0 {
		fmt.Fprintf(&b, "Rules: %s\n", strings.Join(p.Rules, ", "))
	}
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
