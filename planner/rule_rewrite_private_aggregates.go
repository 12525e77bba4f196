package planner

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"vitess.io/vitess/go/vt/sqlparser"

	"lienthong/internal/defence"
	"lienthong/planner/plan"
	"lienthong/policy"
)

// RewritePrivateAggregates: aggregate-only tables answer differentially
// private aggregates only.
//
// A query that reads one must have the form
//
//	SELECT <keys and aggregates> FROM t [JOIN u ON ...] [WHERE ...] [GROUP BY keys] [ORDER BY keys]
//
// with aggregates COUNT(*), COUNT(x), COUNT(DISTINCT <pin>), SUM(col) and
// AVG(col) (col with clamping bounds in the policy), the aggregate-only
// tables joined to each other on their PIN columns, and no subquery,
// derived table, CTE, set operation, window function, HAVING, DISTINCT,
// LIMIT or outer join: nothing lets a protected row reach the output, or
// decide which rows another citizen's contribution counts in, except
// through the bounded aggregates. It is rewritten to
//
//	SELECT g..., COUNT(*) AS units, SUM(LEAST(c, L)), SUM(LEAST(GREATEST(s, L*lo), L*hi)) ...
//	FROM (SELECT ..., ROW_NUMBER() OVER (PARTITION BY unit ORDER BY g...) AS rn
//	      FROM (SELECT unit, g..., COUNT(*) AS c, SUM(LEAST(GREATEST(x, lo), hi)) AS s ...
//	            FROM <the user's FROM> WHERE <the user's WHERE> GROUP BY unit, g...) u) b
//	WHERE rn <= G GROUP BY g...
//
// so each citizen (unit: the first aggregate-only table's raw PIN) adds to
// at most G groups and at most L rows' worth to each (the policy's
// max_groups_per_citizen and max_rows_per_citizen), which bounds every
// figure's sensitivity; the engine then adds noise (policy/dp) and keeps
// only groups whose noisy citizen count clears the threshold. Which
// groups a citizen is kept in depends on that citizen's rows alone.
//
// RewritePrivateAggregates is that rewrite as a policy stage: the first
// step after binding, so every rule after it plans the bounded query. It
// cannot be disabled.
func rewritePrivateAggregates(s *planning) (bool, error) {
	if len(s.b.protected) == 0 || !defence.On(defence.Private) {
		return false, nil
	}
	// Checked as the user wrote it (errors point into their SQL), then
	// planned as the bounded rewrite.
	text, pv, err := s.b.privateStatement(s.stmt, s.q, s.names)
	if err != nil {
		return false, err
	}
	stmt, err := Parse(text)
	if err != nil {
		return false, fmt.Errorf("internal: the differential-privacy rewrite does not parse: %w", err)
	}
	if err := s.bind(text, stmt, true); err != nil {
		return false, fmt.Errorf("internal: the differential-privacy rewrite does not bind: %w", err)
	}
	s.stmt, s.p.Privacy = stmt, pv
	return true, nil
}

// unitColumn is the secured view's column holding the privacy unit in the
// rewritten statement; the user's SQL can never name it.
const unitColumn = "_lt_unit"

func (b *binder) refusePrivate(word, why string) error {
	return b.deny(word, &policy.DeniedError{Msg: fmt.Sprintf("%s may read %s only as differentially private aggregates: %s (see docs/security.md, Aggregate-only tables)",
		b.access.Principal.Name, b.protectedNames(), why)})
}

func (b *binder) protectedNames() string {
	var names []string
	for _, r := range b.protected {
		names = append(names, r.table.Source+"."+r.table.Name)
	}
	return strings.Join(names, ", ")
}

// privateStatement checks an aggregate-only query (stmt, bound as q) and
// returns the rewritten SQL and its privacy step.
func (b *binder) privateStatement(stmt sqlparser.Statement, q *plan.Query, names []string) (string, *plan.Privacy, error) {
	s, ok := stmt.(*sqlparser.Select)
	sel, ok2 := q.Body.(*plan.Select)
	if !ok || !ok2 {
		return "", nil, b.refusePrivate("union", "set operations (UNION, INTERSECT, EXCEPT) are not allowed")
	}
	switch {
	case s.With != nil:
		return "", nil, b.refusePrivate("with", "WITH is not allowed; write the tables in FROM")
	case s.Having != nil:
		return "", nil, b.refusePrivate("having", "HAVING is not allowed (it would filter on exact figures); filter the noisy results yourself")
	case s.Limit != nil || q.Limit != nil || q.Offset != nil:
		return "", nil, b.refusePrivate("limit", "LIMIT and OFFSET are not allowed; every released group is returned")
	case s.Distinct:
		return "", nil, b.refusePrivate("distinct", "SELECT DISTINCT is not allowed")
	case !sel.Aggregated:
		return "", nil, b.refusePrivate("select", "this query returns rows, not aggregates")
	}
	var why, word string
	_ = sqlparser.Walk(func(n sqlparser.SQLNode) (bool, error) {
		switch x := n.(type) {
		case *sqlparser.Subquery, *sqlparser.DerivedTable, *sqlparser.ExistsExpr:
			why, word = "subqueries and derived tables are not allowed", "select"
		case *sqlparser.OverClause:
			why, word = "window functions are not allowed", "over"
		case *sqlparser.JoinTableExpr:
			if x.Join != sqlparser.NormalJoinType && x.Join != sqlparser.StraightJoinType {
				why, word = "only inner joins are allowed", "join"
			}
			if x.Condition != nil && len(x.Condition.Using) > 0 {
				why, word = "write join conditions with ON, not USING", "using"
			}
		}
		return why == "", nil
	}, s)
	if why != "" {
		return "", nil, b.refusePrivate(word, why)
	}
	if err := b.checkUnitsJoined(s); err != nil {
		return "", nil, err
	}
	pv := b.access.Privacy
	G, L := int64(pv.MaxGroupsPerCitizen), int64(pv.MaxRowsPerCitizen)
	unit := quoteIdent(b.protected[0].name) + "." + unitColumn

	// Keys: the GROUP BY expressions as the user wrote them (positions and
	// select aliases resolved).
	var keyText []string
	if s.GroupBy != nil {
		for i, g := range s.GroupBy.Exprs {
			keyText = append(keyText, sqlparser.String(groupKeyAST(s, sel.Items, g, sel.GroupBy[i])))
		}
	}
	priv := &plan.Privacy{Epsilon: pv.EpsilonPerQuery, Delta: pv.DeltaPerQuery, Grouped: len(keyText) > 0, MaxGroups: G, MinGroup: int64(b.access.MinGroup)}
	var inner, outer []string
	inner = append(inner, unit+" AS "+unitColumn)
	var gcols []string
	for i, k := range keyText {
		g := fmt.Sprintf("_lt_g%d", i+1)
		gcols = append(gcols, g)
		inner = append(inner, "("+k+") AS "+g)
		outer = append(outer, g)
	}
	outer = append(outer, "COUNT(*) AS _lt_units")
	priv.UnitsCol = len(keyText)
	col := len(outer)
	var mids []string // the per-citizen columns the middle block passes on
	add := func(innerExpr, outerFmt string) int {
		n := fmt.Sprintf("_lt_p%d", len(mids)+1)
		inner = append(inner, innerExpr+" AS "+n)
		mids = append(mids, n)
		outer = append(outer, fmt.Sprintf(outerFmt, n)+" AS _lt_a"+strconv.Itoa(col))
		col++
		return col - 1
	}
	mechanisms, unitsReleased := 0, false
	selItems := s.SelectExprs.Exprs
	if len(selItems) != len(sel.Items) {
		return "", nil, b.refusePrivate("*", "SELECT * is not allowed; name the keys and aggregates")
	}
	for i, it := range sel.Items {
		out := plan.PrivateOutput{Name: names[i]}
		ae, _ := selItems[i].(*sqlparser.AliasedExpr)
		if ki := keyIndex(it.Expr, sel.GroupBy); ki >= 0 {
			out.Kind, out.Col, out.Type = "key", ki, it.Expr.Type()
			priv.Outputs = append(priv.Outputs, out)
			continue
		}
		agg, ok := it.Expr.(*plan.Agg)
		if !ok || ae == nil {
			return "", nil, b.refusePrivate(names[i], fmt.Sprintf("output column %d (%s) must be a GROUP BY key or one of COUNT(*), COUNT(x), COUNT(DISTINCT <pin>), SUM(column), AVG(column); compute other figures from the noisy results", i+1, names[i]))
		}
		argText := func() string {
			switch x := ae.Expr.(type) {
			case *sqlparser.Count:
				return sqlparser.String(x.Args[0])
			case *sqlparser.Sum:
				return sqlparser.String(x.Arg)
			case *sqlparser.Avg:
				return sqlparser.String(x.Arg)
			}
			return ""
		}
		switch {
		case agg.Name == "count" && agg.Arg == nil:
			out.Kind, out.Type = "count", plan.Int64
			out.Col = add("COUNT(*)", fmt.Sprintf("SUM(LEAST(%%s, %d))", L))
			out.Sensitivity = float64(G * L)
			mechanisms++
		case agg.Name == "count" && agg.Distinct:
			if !b.isUnitPIN(agg.Arg) {
				return "", nil, b.refusePrivate(names[i], fmt.Sprintf("output column %d: COUNT(DISTINCT ...) is allowed only of an aggregate-only table's PIN column (the citizens counted)", i+1))
			}
			out.Kind, out.Type, out.Col = "units", plan.Int64, priv.UnitsCol
			unitsReleased = true
		case agg.Name == "count":
			if argText() == "" {
				return "", nil, b.refusePrivate(names[i], "unsupported COUNT form")
			}
			out.Kind, out.Type = "count", plan.Int64
			out.Col = add("COUNT("+argText()+")", fmt.Sprintf("SUM(LEAST(%%s, %d))", L))
			out.Sensitivity = float64(G * L)
			mechanisms++
		case (agg.Name == "sum" || agg.Name == "avg") && !agg.Distinct:
			lo, hi, err := b.boundsOf(agg.Arg, names[i], i)
			if err != nil {
				return "", nil, err
			}
			m := max(-lo, hi)
			clamp := fmt.Sprintf("SUM(LEAST(GREATEST(%s, %s), %s))", argText(), num(lo), num(hi))
			outerSum := fmt.Sprintf("SUM(LEAST(GREATEST(%%s, %s), %s))", num(lo*float64(L)), num(hi*float64(L)))
			out.Col = add(clamp, outerSum)
			out.Sensitivity = float64(G*L) * m
			out.Kind, out.Type = agg.Name, plan.Float64
			if agg.Name == "sum" && isInteger(agg.Arg.Type()) && isWhole(lo) && isWhole(hi) {
				out.Type = plan.Int64
			}
			mechanisms++
			if agg.Name == "avg" {
				out.CountCol = add("COUNT("+argText()+")", fmt.Sprintf("SUM(LEAST(%%s, %d))", L))
				out.CountSensitivity = float64(G * L)
				mechanisms++
			}
		default:
			return "", nil, b.refusePrivate(names[i], fmt.Sprintf("output column %d uses %s, which returns one citizen's value or is not bounded; allowed: COUNT, COUNT(DISTINCT <pin>), SUM, AVG", i+1, strings.ToUpper(agg.Name)))
		}
		priv.Outputs = append(priv.Outputs, out)
	}
	// Sequential composition: each noisy figure gets an equal share; the
	// citizen count is one of them when it is thresholded or released.
	if priv.Grouped || unitsReleased {
		mechanisms++
	}
	share := pv.EpsilonPerQuery / float64(mechanisms)
	if priv.Grouped || unitsReleased {
		priv.UnitsEpsilon = share
	}
	for i := range priv.Outputs {
		o := &priv.Outputs[i]
		switch o.Kind {
		case "count", "sum":
			o.Epsilon = share
		case "avg":
			o.Epsilon, o.CountEpsilon = share, share
		}
	}
	// ORDER BY: group keys only (applied before thresholding, which keeps
	// the order).
	var order []string
	for _, o := range q.OrderBy {
		idx := -1
		if r, ok := o.Expr.(*plan.OutputRef); ok && priv.Outputs[r.Index].Kind == "key" {
			idx = priv.Outputs[r.Index].Col
		} else if !ok {
			idx = keyIndex(o.Expr, sel.GroupBy)
		}
		if idx < 0 {
			return "", nil, b.refusePrivate("order", "ORDER BY may name group keys only; sort by the noisy figures yourself")
		}
		dir := ""
		if o.Desc {
			dir = " DESC"
		}
		order = append(order, gcols[idx]+dir)
	}
	from := make([]string, len(s.From))
	for i, t := range s.From {
		from[i] = sqlparser.String(t)
	}
	var sql strings.Builder
	fmt.Fprintf(&sql, "SELECT %s FROM %s", strings.Join(inner, ", "), strings.Join(from, ", "))
	if s.Where != nil {
		fmt.Fprintf(&sql, " WHERE %s", sqlparser.String(s.Where.Expr))
	}
	fmt.Fprintf(&sql, " GROUP BY %s", strings.Join(append([]string{unit}, keyText...), ", "))
	block := sql.String()
	if priv.Grouped {
		cols := append(append([]string{unitColumn}, gcols...), mids...)
		block = fmt.Sprintf("SELECT %s, ROW_NUMBER() OVER (PARTITION BY %s ORDER BY %s) AS _lt_rn FROM (%s) AS _lt_u",
			strings.Join(cols, ", "), unitColumn, strings.Join(gcols, ", "), block)
		block = fmt.Sprintf("SELECT %s FROM (%s) AS _lt_b WHERE _lt_rn <= %d GROUP BY %s", strings.Join(outer, ", "), block, G, strings.Join(gcols, ", "))
		if len(order) > 0 {
			block += " ORDER BY " + strings.Join(order, ", ")
		}
	} else {
		block = fmt.Sprintf("SELECT %s FROM (%s) AS _lt_u", strings.Join(outer, ", "), block)
	}
	return block, priv, nil
}

// checkUnitsJoined requires every aggregate-only table after the first to
// be joined to an earlier one on both PIN columns (a.pin = b.pin in ON or
// WHERE), so each output row belongs to one citizen. A self-join on
// anything else would let one citizen's row meet everyone else's.
func (b *binder) checkUnitsJoined(s *sqlparser.Select) error {
	if len(b.protected) < 2 {
		return nil
	}
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			return find(p)
		}
		return x
	}
	pinOf := func(c *sqlparser.ColName) string {
		for _, r := range b.protected {
			if strings.EqualFold(c.Qualifier.Name.String(), r.name) && strings.EqualFold(c.Name.String(), r.table.PINColumn) {
				return strings.ToLower(r.name)
			}
		}
		return ""
	}
	var conds []sqlparser.Expr
	if s.Where != nil {
		conds = append(conds, s.Where.Expr)
	}
	_ = sqlparser.Walk(func(n sqlparser.SQLNode) (bool, error) {
		if j, ok := n.(*sqlparser.JoinTableExpr); ok && j.Condition != nil && j.Condition.On != nil {
			conds = append(conds, j.Condition.On)
		}
		return true, nil
	}, sqlparser.TableExprs(s.From))
	for _, c := range conds {
		for _, term := range sqlparser.SplitAndExpression(nil, c) {
			cmp, ok := term.(*sqlparser.ComparisonExpr)
			if !ok || cmp.Operator != sqlparser.EqualOp {
				continue
			}
			l, ok1 := cmp.Left.(*sqlparser.ColName)
			r, ok2 := cmp.Right.(*sqlparser.ColName)
			if !ok1 || !ok2 {
				continue
			}
			if a, z := pinOf(l), pinOf(r); a != "" && z != "" {
				parent[find(a)] = find(z)
			}
		}
	}
	root := find(strings.ToLower(b.protected[0].name))
	for _, r := range b.protected[1:] {
		if find(strings.ToLower(r.name)) != root {
			return b.refusePrivate(r.name, fmt.Sprintf("join %s to the other aggregate-only tables on their PIN columns (e.g. ON %s.%s = %s.%s), so every row belongs to one citizen",
				r.name, b.protected[0].name, b.protected[0].table.PINColumn, r.name, r.table.PINColumn))
		}
	}
	return nil
}

// groupKeyAST is the expression a GROUP BY item stands for: the select
// item it names by position or alias (bound to the same expression), or
// itself.
func groupKeyAST(s *sqlparser.Select, items []plan.SelectItem, g sqlparser.Expr, bound plan.Expr) sqlparser.Expr {
	for k, se := range s.SelectExprs.Exprs {
		ae, ok := se.(*sqlparser.AliasedExpr)
		if !ok || k >= len(items) || !sameExpr(items[k].Expr, bound) {
			continue
		}
		switch x := g.(type) {
		case *sqlparser.Literal:
			if x.Type == sqlparser.IntVal && x.Val == strconv.Itoa(k+1) {
				return ae.Expr
			}
		case *sqlparser.ColName:
			if x.Qualifier.IsEmpty() && !ae.As.IsEmpty() && ae.As.EqualString(x.Name.String()) {
				return ae.Expr
			}
		}
	}
	return g
}

func keyIndex(e plan.Expr, keys []plan.Expr) int {
	for i, k := range keys {
		if sameExpr(e, k) {
			return i
		}
	}
	return -1
}

// isUnitPIN reports whether e is the PIN column of an aggregate-only table.
func (b *binder) isUnitPIN(e plan.Expr) bool {
	c, ok := e.(*plan.ColRef)
	if !ok {
		return false
	}
	for _, r := range b.protected {
		if c.Rel == r.alias && strings.EqualFold(c.Name, r.table.PINColumn) {
			return true
		}
	}
	return false
}

// boundsOf finds the policy's clamping bounds of a summed column.
func (b *binder) boundsOf(e plan.Expr, name string, i int) (float64, float64, error) {
	c, ok := e.(*plan.ColRef)
	var ref *securedRef
	if ok {
		ref = b.secured[c.Rel]
	}
	if ref == nil {
		return 0, 0, b.refusePrivate(name, fmt.Sprintf("output column %d: SUM and AVG take a column (with bounds in the policy), not an expression", i+1))
	}
	bd, ok := ref.access.Bounds[strings.ToLower(c.Name)]
	if !ok {
		return 0, 0, b.refusePrivate(name, fmt.Sprintf("output column %d: %s.%s.%s has no bounds in the policy; the administrator declares them in the grant (bounds = { %s = [low, high] })",
			i+1, ref.table.Source, ref.table.Name, c.Name, c.Name))
	}
	switch c.Typ.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64, arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.DECIMAL256:
	default:
		return 0, 0, b.refusePrivate(name, fmt.Sprintf("output column %d: %s is not numeric", i+1, c.Name))
	}
	return bd[0], bd[1], nil
}

func isInteger(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

func isWhole(f float64) bool { return f == float64(int64(f)) }

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
