package planner

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"vitess.io/vitess/go/vt/sqlparser"

	"lienthong/catalog"
	"lienthong/internal/defence"
	"lienthong/planner/plan"
	"lienthong/policy"
)

// binder turns the parser's AST into plan IR, resolving every name against
// one catalog snapshot and typing every expression.
type binder struct {
	cat    *catalog.Snapshot
	access *policy.Access // nil: no access policy in force
	verify bool           // the statement is one pin_verify check
	// internal: the statement is lienthong's own rewrite of a checked
	// query (differential privacy), not the user's text.
	internal  bool
	secured   map[string]*securedRef // secured views by IR alias
	protected []*securedRef          // the aggregate-only ones, in FROM order
	sql       string
	now       time.Time
	aliases   map[string]int
	ctes      []map[string]*cteDef
	scans     []*plan.Scan
	limits    Limits
	tables    int    // table references bound so far (countTable)
	database  string // Options.Database: the source of unqualified tables

	// verifyScans are the scans of pin_verify checks: the one read of a
	// table under a policy that no secured view stands in front of.
	verifyScans []*plan.Scan
}

type cteDef struct {
	name string
	stmt sqlparser.TableStatement
	cols []string
}

// relBinding is one FROM item visible to expressions.
type relBinding struct {
	name   string         // how SQL qualifies it: alias, or table name
	source string         // for base tables, to accept source.table.column
	table  *catalog.Table // the table behind a base or secured reference
	alias  string         // statement-unique alias in the IR
	cols   []plan.Column
	scan   *plan.Scan
}

type scope struct {
	rels   []*relBinding
	parent *scope
	// aggOK is true where aggregates may appear (select list, HAVING,
	// ORDER BY); sawAgg records that one did.
	aggOK  bool
	sawAgg bool
	// items are the select list, for aliases in GROUP BY, HAVING, ORDER BY.
	items []plan.SelectItem
	names []string
}

func (b *binder) errf(word string, code Code, format string, args ...any) error {
	return errAt(b.sql, findWord(b.sql, word), code, format, args...)
}

// uniqueAlias returns name, or name_N when name is taken in the statement.
func (b *binder) uniqueAlias(name string) string {
	key := strings.ToLower(name)
	n := b.aliases[key]
	b.aliases[key] = n + 1
	if n == 0 {
		return name
	}
	return fmt.Sprintf("%s_%d", name, n+1)
}

// bindStatement binds a top-level query.
func (b *binder) bindStatement(stmt sqlparser.Statement) (*plan.Query, []string, error) {
	ts, ok := stmt.(sqlparser.TableStatement)
	if !ok {
		return nil, nil, readOnlyError(b.sql, stmt)
	}
	if b.access != nil {
		if err := b.checkVerifyStatement(stmt); err != nil {
			return nil, nil, err
		}
	}
	q, names, err := b.bindQuery(ts, nil)
	if err != nil {
		return nil, nil, err
	}
	return q, names, nil
}

func readOnlyError(sql string, stmt sqlparser.Statement) error {
	kind := strings.ToUpper(strings.Fields(strings.TrimSpace(sqlparser.String(stmt)) + " ?")[0])
	switch stmt.(type) {
	case *sqlparser.Insert, *sqlparser.Update, *sqlparser.Delete, sqlparser.DDLStatement, *sqlparser.Set,
		*sqlparser.Load, *sqlparser.CallProc, *sqlparser.TruncateTable:
		return errAt(sql, 0, CodeReadOnly, "lienthong is read-only: %s is refused; only SELECT queries (and EXPLAIN, REFRESH CATALOG) run", kind)
	}
	return errAt(sql, 0, CodeUnsupported, "%s statements are not supported; write a SELECT query", kind)
}

// bindQuery binds a SELECT or UNION with its ORDER BY and LIMIT. parent is
// the enclosing scope for correlated subqueries. names are the output
// column names as the user sees them (possibly repeated).
func (b *binder) bindQuery(ts sqlparser.TableStatement, parent *scope) (*plan.Query, []string, error) {
	var with *sqlparser.With
	switch s := ts.(type) {
	case *sqlparser.Select:
		with = s.With
	case *sqlparser.Union:
		with = s.With
	}
	if with != nil {
		if with.Recursive {
			return nil, nil, b.errf("recursive", CodeUnsupported, "WITH RECURSIVE is not supported")
		}
		defs := map[string]*cteDef{}
		b.ctes = append(b.ctes, defs)
		defer func() { b.ctes = b.ctes[:len(b.ctes)-1] }()
		for _, c := range with.CTEs {
			d := &cteDef{name: c.ID.String(), stmt: c.Subquery}
			for _, col := range c.Columns {
				d.cols = append(d.cols, col.String())
			}
			defs[strings.ToLower(d.name)] = d
		}
	}
	switch s := ts.(type) {
	case *sqlparser.Select:
		if s.Into != nil {
			return nil, nil, b.errf("into", CodeReadOnly, "SELECT ... INTO is refused: lienthong is read-only")
		}
		if s.Lock != sqlparser.NoLock {
			return nil, nil, b.errf("for", CodeReadOnly, "locking reads (FOR UPDATE/SHARE) are refused: lienthong is read-only")
		}
		sel, sc, names, err := b.bindSelect(s, parent)
		if err != nil {
			return nil, nil, err
		}
		q := &plan.Query{Body: sel, Columns: outputColumns(sel.Items, names)}
		if err := b.bindOrderLimit(q, s.OrderBy, s.Limit, sc); err != nil {
			return nil, nil, err
		}
		return q, names, nil
	case *sqlparser.Union:
		l, names, err := b.bindQuery(s.Left, parent)
		if err != nil {
			return nil, nil, err
		}
		r, _, err := b.bindQuery(s.Right, parent)
		if err != nil {
			return nil, nil, err
		}
		if len(l.Columns) != len(r.Columns) {
			return nil, nil, b.errf("union", CodeType, "UNION operands have %d and %d columns; they must have the same number", len(l.Columns), len(r.Columns))
		}
		cols := make([]plan.Column, len(l.Columns))
		for i := range cols {
			t, err := commonType(l.Columns[i].Type, r.Columns[i].Type)
			if err != nil {
				return nil, nil, b.errf("union", CodeType, "UNION column %d: %v", i+1, err)
			}
			cols[i] = plan.Column{Name: l.Columns[i].Name, Type: t}
		}
		q := &plan.Query{Body: &plan.SetOp{Kind: plan.Union, All: !s.Distinct, Left: l, Right: r}, Columns: cols}
		// ORDER BY of a UNION names output columns.
		sc := &scope{parent: parent, names: names}
		for i, c := range cols {
			sc.items = append(sc.items, plan.SelectItem{Expr: &plan.ColRef{Rel: "_lt_set", Name: c.Name, Typ: c.Type}, Alias: names[i]})
		}
		if err := b.bindOrderLimit(q, s.OrderBy, s.Limit, sc); err != nil {
			return nil, nil, err
		}
		for _, o := range q.OrderBy {
			if _, ok := o.Expr.(*plan.OutputRef); !ok {
				return nil, nil, b.errf("order", CodeUnsupported, "ORDER BY of a UNION must name an output column (by name or position)")
			}
		}
		return q, names, nil
	}
	return nil, nil, errAt(b.sql, -1, CodeUnsupported, "unsupported query form %T", ts)
}

// outputColumns names the columns of a block, unique within it so outer
// queries and rendered SQL can refer to each one.
func outputColumns(items []plan.SelectItem, names []string) []plan.Column {
	seen := map[string]int{}
	cols := make([]plan.Column, len(items))
	for i, it := range items {
		n := names[i]
		key := strings.ToLower(n)
		seen[key]++
		if seen[key] > 1 {
			n = fmt.Sprintf("%s_%d", n, seen[key])
		}
		cols[i] = plan.Column{Name: n, Type: it.Expr.Type()}
	}
	return cols
}

func (b *binder) bindSelect(s *sqlparser.Select, parent *scope) (*plan.Select, *scope, []string, error) {
	sc := &scope{parent: parent}
	sel := &plan.Select{Distinct: s.Distinct}
	if len(s.From) == 1 && isDual(s.From[0]) {
		s.From = nil
	}
	if len(s.From) > 0 {
		rel, err := b.bindFrom(s.From, sc)
		if err != nil {
			return nil, nil, nil, err
		}
		sel.From = rel
	}
	if s.Where != nil {
		w, err := b.bindExpr(s.Where.Expr, sc)
		if err != nil {
			return nil, nil, nil, err
		}
		if err := wantBool(b, w, "WHERE"); err != nil {
			return nil, nil, nil, err
		}
		sel.Where = w
	}
	sc.aggOK = true
	var names []string
	for _, se := range s.SelectExprs.Exprs {
		switch x := se.(type) {
		case *sqlparser.StarExpr:
			rels := sc.rels
			if !x.TableName.IsEmpty() {
				rb, err := b.findRel(x.TableName, sc)
				if err != nil {
					return nil, nil, nil, err
				}
				rels = []*relBinding{rb}
			}
			if len(rels) == 0 {
				return nil, nil, nil, b.errf("*", CodeUnknown, "SELECT * needs a FROM clause")
			}
			for _, rb := range rels {
				for _, c := range rb.cols {
					sel.Items = append(sel.Items, plan.SelectItem{Expr: b.colRef(rb, c)})
					names = append(names, c.Name)
				}
			}
		case *sqlparser.AliasedExpr:
			e, err := b.bindExpr(x.Expr, sc)
			if err != nil {
				return nil, nil, nil, err
			}
			name := x.As.String()
			if name == "" {
				if cn, ok := x.Expr.(*sqlparser.ColName); ok {
					name = cn.Name.String()
				} else {
					name = sqlparser.String(x.Expr)
				}
			}
			sel.Items = append(sel.Items, plan.SelectItem{Expr: e, Alias: x.As.String()})
			names = append(names, name)
		default:
			return nil, nil, nil, errAt(b.sql, -1, CodeUnsupported, "unsupported select item %s", sqlparser.String(se))
		}
	}
	sc.items, sc.names = sel.Items, names
	if s.GroupBy != nil {
		if s.GroupBy.WithRollup {
			return nil, nil, nil, b.errf("rollup", CodeUnsupported, "GROUP BY ... WITH ROLLUP is not supported")
		}
		sc.aggOK = false
		for _, g := range s.GroupBy.Exprs {
			e, err := b.bindAliasOrExpr(g, sc, "GROUP BY")
			if err != nil {
				return nil, nil, nil, err
			}
			sel.GroupBy = append(sel.GroupBy, e)
		}
		sc.aggOK = true
	}
	if s.Having != nil {
		h, err := b.bindAliasOrExpr(s.Having.Expr, sc, "HAVING")
		if err != nil {
			return nil, nil, nil, err
		}
		sel.Having = h
	}
	if len(s.Windows) > 0 {
		return nil, nil, nil, b.errf("window", CodeUnsupported, "named WINDOW clauses are not supported; write OVER (...) in place")
	}
	sel.Aggregated = len(sel.GroupBy) > 0 || sc.sawAgg
	if sel.Aggregated {
		for _, it := range sel.Items {
			if err := b.checkGrouped(it.Expr, sel.GroupBy, "the select list"); err != nil {
				return nil, nil, nil, err
			}
		}
		if sel.Having != nil {
			if err := b.checkGrouped(sel.Having, sel.GroupBy, "HAVING"); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return sel, sc, names, nil
}

// checkGrouped refuses a column of an aggregated block that is neither
// grouped by nor inside an aggregate (ONLY_FULL_GROUP_BY): MySQL without it
// returns any one row's value, the other sources refuse, so the answer
// would depend on where the query runs.
func (b *binder) checkGrouped(e plan.Expr, keys []plan.Expr, clause string) error {
	var bad *plan.ColRef
	var visit func(x plan.Expr) bool
	visit = func(x plan.Expr) bool {
		if bad != nil {
			return false
		}
		for _, k := range keys {
			if sameExpr(x, k) {
				return false
			}
		}
		switch v := x.(type) {
		case *plan.Agg, *plan.Subquery, *plan.Exists, *plan.InSubquery:
			return false
		case *plan.Window:
			for _, p := range v.PartitionBy {
				plan.Walk(p, visit)
			}
			for _, o := range v.OrderBy {
				plan.Walk(o.Expr, visit)
			}
			return false
		case *plan.ColRef:
			bad = v
			return false
		}
		return true
	}
	plan.Walk(e, visit)
	if bad != nil {
		return b.errf(bad.Name, CodeType, "%s in %s is neither in GROUP BY nor inside an aggregate; group by it, or aggregate it (COUNT, MIN, MAX, ...)", bad.Name, clause)
	}
	return nil
}

// bindAliasOrExpr binds a GROUP BY or HAVING expression, where MySQL also
// accepts select-list aliases and (GROUP BY) positions.
func (b *binder) bindAliasOrExpr(e sqlparser.Expr, sc *scope, clause string) (plan.Expr, error) {
	if idx, ok, err := b.outputIndex(e, sc, clause); err != nil {
		return nil, err
	} else if ok {
		if clause == "GROUP BY" && containsAgg(sc.items[idx].Expr) {
			return nil, b.errf(sc.names[idx], CodeType, "cannot GROUP BY %s: it is an aggregate", sc.names[idx])
		}
		return sc.items[idx].Expr, nil
	}
	return b.bindExpr(e, sc)
}

// outputIndex resolves a positional reference or a select alias that is
// not also a column of the FROM clause.
func (b *binder) outputIndex(e sqlparser.Expr, sc *scope, clause string) (int, bool, error) {
	if lit, ok := e.(*sqlparser.Literal); ok && lit.Type == sqlparser.IntVal && clause != "HAVING" {
		n, _ := strconv.Atoi(lit.Val)
		if n < 1 || n > len(sc.items) {
			return 0, false, b.errf(lit.Val, CodeUnknown, "%s position %d is out of range: the select list has %d columns", clause, n, len(sc.items))
		}
		return n - 1, true, nil
	}
	cn, ok := e.(*sqlparser.ColName)
	if !ok || !cn.Qualifier.IsEmpty() {
		return 0, false, nil
	}
	name := cn.Name.String()
	found := -1
	for i, it := range sc.items {
		if it.Alias != "" && strings.EqualFold(it.Alias, name) || clause == "ORDER BY" && strings.EqualFold(sc.names[i], name) {
			if found >= 0 && !sameExpr(sc.items[found].Expr, it.Expr) {
				return 0, false, b.errf(name, CodeAmbiguous, "%s %s matches several select items", clause, name)
			}
			if found < 0 {
				found = i
			}
		}
	}
	if found < 0 {
		return 0, false, nil
	}
	// A FROM column of the same name wins in GROUP BY and HAVING (MySQL).
	if clause != "ORDER BY" {
		for _, rb := range sc.rels {
			for _, c := range rb.cols {
				if strings.EqualFold(c.Name, name) {
					return 0, false, nil
				}
			}
		}
	}
	return found, true, nil
}

func (b *binder) bindOrderLimit(q *plan.Query, ob sqlparser.OrderBy, lim *sqlparser.Limit, sc *scope) error {
	for _, o := range ob {
		item := plan.OrderItem{Desc: o.Direction == sqlparser.DescOrder}
		idx, ok, err := b.outputIndex(o.Expr, sc, "ORDER BY")
		if err != nil {
			return err
		}
		if ok {
			item.Expr = &plan.OutputRef{Index: idx, Typ: sc.items[idx].Expr.Type()}
		} else {
			if _, isSet := q.Body.(*plan.SetOp); isSet {
				return b.errf(sqlparser.String(o.Expr), CodeUnknown, "ORDER BY %s: a UNION is ordered by its output columns", sqlparser.String(o.Expr))
			}
			e, err := b.bindExpr(o.Expr, sc)
			if err != nil {
				return err
			}
			// An expression equal to a select item orders by that item.
			for i, it := range sc.items {
				if sameExpr(it.Expr, e) {
					e = &plan.OutputRef{Index: i, Typ: e.Type()}
					break
				}
			}
			item.Expr = e
		}
		q.OrderBy = append(q.OrderBy, item)
	}
	if sel, ok := q.Body.(*plan.Select); ok && sc.sawAgg {
		sel.Aggregated = true
	}
	if sel, ok := q.Body.(*plan.Select); ok && sel.Aggregated {
		for _, o := range q.OrderBy {
			if _, isRef := o.Expr.(*plan.OutputRef); !isRef {
				if err := b.checkGrouped(o.Expr, sel.GroupBy, "ORDER BY"); err != nil {
					return err
				}
			}
		}
	}
	if lim != nil {
		var err error
		if lim.Rowcount != nil {
			if q.Limit, err = b.constInt(lim.Rowcount, "LIMIT"); err != nil {
				return err
			}
		}
		if lim.Offset != nil {
			if q.Offset, err = b.constInt(lim.Offset, "OFFSET"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *binder) constInt(e sqlparser.Expr, clause string) (*int64, error) {
	lit, ok := e.(*sqlparser.Literal)
	if !ok || lit.Type != sqlparser.IntVal {
		return nil, b.errf(strings.ToLower(clause), CodeType, "%s needs a non-negative integer constant", clause)
	}
	n, err := strconv.ParseInt(lit.Val, 10, 64)
	if err != nil || n < 0 {
		return nil, b.errf(lit.Val, CodeType, "%s %s is out of range", clause, lit.Val)
	}
	return &n, nil
}

// sameExpr compares two bound expressions structurally.
func sameExpr(a, b plan.Expr) bool {
	return fmt.Sprintf("%#v", flat(a)) == fmt.Sprintf("%#v", flat(b))
}

// flat renders an expression for structural comparison.
func flat(e plan.Expr) string {
	var sb strings.Builder
	plan.Walk(e, func(x plan.Expr) bool {
		switch v := x.(type) {
		case *plan.ColRef:
			fmt.Fprintf(&sb, "col(%s.%s)", v.Rel, v.Name)
		case *plan.Literal:
			fmt.Fprintf(&sb, "lit(%v:%s)", v.Value, v.Typ)
		case *plan.Binary:
			fmt.Fprintf(&sb, "bin(%s)", v.Op)
		case *plan.Func:
			fmt.Fprintf(&sb, "fn(%s/%d)", v.Name, len(v.Args))
		case *plan.Agg:
			fmt.Fprintf(&sb, "agg(%s,%v,%v)", v.Name, v.Distinct, v.Arg == nil)
		case *plan.Window:
			fmt.Fprintf(&sb, "win(%s,%d,%d)", v.Name, len(v.PartitionBy), len(v.OrderBy))
			for _, o := range v.OrderBy {
				fmt.Fprintf(&sb, "%v", o.Desc)
			}
		case *plan.Subquery, *plan.Exists, *plan.InSubquery:
			fmt.Fprintf(&sb, "sub(%p)", v)
		default:
			fmt.Fprintf(&sb, "%T", v)
			switch w := v.(type) {
			case *plan.In:
				fmt.Fprintf(&sb, "(%v,%d)", w.Not, len(w.List))
			case *plan.IsNull:
				fmt.Fprintf(&sb, "(%v)", w.Not)
			case *plan.Like:
				fmt.Fprintf(&sb, "(%v)", w.Not)
			case *plan.Between:
				fmt.Fprintf(&sb, "(%v)", w.Not)
			case *plan.Cast:
				fmt.Fprintf(&sb, "(%s)", w.To)
			case *plan.Case:
				fmt.Fprintf(&sb, "(%d,%v)", len(w.Whens), w.Else != nil)
			}
		}
		sb.WriteString(";")
		return true
	})
	return sb.String()
}

func containsAgg(e plan.Expr) bool {
	found := false
	plan.Walk(e, func(x plan.Expr) bool {
		if _, ok := x.(*plan.Agg); ok {
			found = true
		}
		_, win := x.(*plan.Window)
		return !found && !win
	})
	return found
}

func wantBool(b *binder, e plan.Expr, clause string) error {
	if id := e.Type().ID(); id != plan.Bool.ID() && id != plan.Null.ID() {
		// MySQL accepts WHERE <number>; lienthong asks for a condition so the
		// same query means the same thing in every source.
		return b.errf(strings.ToLower(strings.Fields(clause)[0]), CodeType, "%s needs a condition (true/false), not a %s", clause, typeName(e.Type()))
	}
	return nil
}

// ---- FROM ----

func (b *binder) bindFrom(from []sqlparser.TableExpr, sc *scope) (plan.Relation, error) {
	var rel plan.Relation
	for _, te := range from {
		r, err := b.bindTableExpr(te, sc)
		if err != nil {
			return nil, err
		}
		if rel == nil {
			rel = r
		} else {
			rel = &plan.Join{Kind: plan.CrossJoin, Left: rel, Right: r}
		}
	}
	return rel, nil
}

func (b *binder) bindTableExpr(te sqlparser.TableExpr, sc *scope) (plan.Relation, error) {
	switch t := te.(type) {
	case *sqlparser.AliasedTableExpr:
		return b.bindAliased(t, sc)
	case *sqlparser.ParenTableExpr:
		return b.bindFrom(t.Exprs, sc)
	case *sqlparser.JoinTableExpr:
		left, err := b.bindTableExpr(t.LeftExpr, sc)
		if err != nil {
			return nil, err
		}
		right, err := b.bindTableExpr(t.RightExpr, sc)
		if err != nil {
			return nil, err
		}
		j := &plan.Join{Left: left, Right: right}
		switch t.Join {
		case sqlparser.NormalJoinType:
			j.Kind = plan.InnerJoin
		case sqlparser.StraightJoinType:
			// Only FULL [OUTER] JOIN reaches the parser as STRAIGHT_JOIN (parse.go).
			j.Kind = plan.FullJoin
		case sqlparser.LeftJoinType:
			j.Kind = plan.LeftJoin
		case sqlparser.RightJoinType:
			j.Kind = plan.RightJoin
		default:
			return nil, b.errf("natural", CodeUnsupported, "NATURAL joins are not supported; write JOIN ... ON or USING")
		}
		cond := t.Condition
		if cond == nil || cond.On == nil && len(cond.Using) == 0 {
			if j.Kind != plan.InnerJoin {
				return nil, b.errf("join", CodeType, "%s needs an ON or USING condition", j.Kind)
			}
			j.Kind = plan.CrossJoin
			return j, nil
		}
		if cond.On != nil {
			on, err := b.bindExpr(cond.On, sc)
			if err != nil {
				return nil, err
			}
			if err := wantBool(b, on, "ON"); err != nil {
				return nil, err
			}
			j.On = on
			return j, nil
		}
		// USING (c): equality of the column of that name on each side.
		lrels, rrels := relsOf(left, sc), relsOf(right, sc)
		var terms []plan.Expr
		for _, c := range cond.Using {
			l, err := b.colIn(lrels, c.String())
			if err != nil {
				return nil, err
			}
			r, err := b.colIn(rrels, c.String())
			if err != nil {
				return nil, err
			}
			terms = append(terms, &plan.Binary{Op: "=", L: l, R: r, Typ: plan.Bool})
		}
		j.On = plan.And(terms)
		return j, nil
	}
	return nil, errAt(b.sql, -1, CodeUnsupported, "unsupported FROM item %s", sqlparser.String(te))
}

// relsOf returns the bindings introduced by a FROM subtree.
func relsOf(r plan.Relation, sc *scope) []*relBinding {
	aliases := map[string]bool{}
	plan.Relations(r, func(x plan.Relation) { aliases[plan.AliasOf(x)] = true })
	var out []*relBinding
	for _, rb := range sc.rels {
		if aliases[rb.alias] {
			out = append(out, rb)
		}
	}
	return out
}

func (b *binder) colIn(rels []*relBinding, name string) (plan.Expr, error) {
	for _, rb := range rels {
		for _, c := range rb.cols {
			if strings.EqualFold(c.Name, name) {
				return b.colRef(rb, c), nil
			}
		}
	}
	return nil, b.errf(name, CodeUnknown, "USING column %s is not in both joined tables", name)
}

func (b *binder) lookupCTE(name string) *cteDef {
	for i := len(b.ctes) - 1; i >= 0; i-- {
		if d, ok := b.ctes[i][strings.ToLower(name)]; ok {
			return d
		}
	}
	return nil
}

func (b *binder) bindAliased(t *sqlparser.AliasedTableExpr, sc *scope) (plan.Relation, error) {
	if len(t.Columns) > 0 && !isDerived(t) {
		return nil, b.errf(t.As.String(), CodeUnsupported, "column aliases are only allowed on derived tables")
	}
	switch x := t.Expr.(type) {
	case sqlparser.TableName:
		if err := b.countTable(); err != nil {
			return nil, err
		}
		src, name := x.Qualifier.String(), x.Name.String()
		if src == "" {
			if d := b.lookupCTE(name); d != nil {
				alias := t.As.String()
				if alias == "" {
					alias = d.name
				}
				// Each reference to a CTE is bound afresh: its scans are its
				// own, so no stream is ever read twice.
				return b.bindDerived(d.stmt, alias, d.cols, sc)
			}
			if b.database != "" {
				src = b.database
			}
		}
		if src == "" {
			hint := ""
			if where := b.cat.TablesNamed(name); len(where) > 0 {
				hint = fmt.Sprintf("; did you mean %s?", strings.Join(where, " or "))
			} else {
				var srcs []string
				for _, s := range b.cat.Sources {
					srcs = append(srcs, s.Name)
				}
				hint = fmt.Sprintf("; sources are %s", strings.Join(srcs, ", "))
			}
			return nil, b.errf(name, CodeNoDatabase, "table %s needs its source, as source.table%s", name, hint)
		}
		tbl, err := b.cat.LookupTable(src, name)
		if err != nil {
			word, code := name, CodeUnknown
			if b.cat.Source(src) == nil {
				word = src
			}
			var ue *catalog.UnavailableError
			if errors.As(err, &ue) {
				word, code = src, CodeUnavailable
			}
			return nil, b.errf(word, code, "%v", err)
		}
		userName := t.As.String()
		if userName == "" {
			userName = tbl.Name
		}
		if b.access != nil && defence.On(defence.SecuredView) && !isCatalogView(b.cat, tbl) {
			return b.securedTable(tbl, userName, sc)
		}
		for _, rb := range sc.rels {
			if strings.EqualFold(rb.name, userName) {
				return nil, b.errf(userName, CodeAmbiguous, "the name %s is used twice in FROM; give one of them an alias", userName)
			}
		}
		scan := &plan.Scan{Alias: b.uniqueAlias(userName), Table: tbl}
		rb := &relBinding{name: userName, source: tbl.Source, alias: scan.Alias, scan: scan}
		for _, c := range tbl.Columns {
			rb.cols = append(rb.cols, plan.Column{Name: c.Name, Type: c.Type})
		}
		sc.rels = append(sc.rels, rb)
		b.scans = append(b.scans, scan)
		return scan, nil
	case *sqlparser.DerivedTable:
		if x.Lateral {
			return nil, b.errf("lateral", CodeUnsupported, "LATERAL derived tables are not supported")
		}
		if t.As.IsEmpty() {
			return nil, b.errf("select", CodeType, "every derived table needs an alias: (SELECT ...) AS name")
		}
		var cols []string
		for _, c := range t.Columns {
			cols = append(cols, c.String())
		}
		return b.bindDerived(x.Select, t.As.String(), cols, sc)
	}
	return nil, errAt(b.sql, -1, CodeUnsupported, "unsupported table expression %s", sqlparser.String(t))
}

// isDual reports the parser's stand-in FROM for SELECT without FROM.
func isDual(te sqlparser.TableExpr) bool {
	at, ok := te.(*sqlparser.AliasedTableExpr)
	if !ok {
		return false
	}
	tn, ok := at.Expr.(sqlparser.TableName)
	return ok && tn.Qualifier.IsEmpty() && tn.Name.String() == "dual"
}

func isDerived(t *sqlparser.AliasedTableExpr) bool {
	_, ok := t.Expr.(*sqlparser.DerivedTable)
	return ok
}

func (b *binder) bindDerived(stmt sqlparser.TableStatement, alias string, colNames []string, sc *scope) (plan.Relation, error) {
	// A derived table sees the enclosing query's outer scopes but not its
	// sibling FROM items (no LATERAL).
	q, _, err := b.bindQuery(stmt, sc.parent)
	if err != nil {
		return nil, err
	}
	if len(colNames) > 0 {
		if len(colNames) != len(q.Columns) {
			return nil, b.errf(alias, CodeType, "%s names %d columns but its query returns %d", alias, len(colNames), len(q.Columns))
		}
		for i := range q.Columns {
			q.Columns[i].Name = colNames[i]
		}
	}
	for _, rb := range sc.rels {
		if strings.EqualFold(rb.name, alias) {
			return nil, b.errf(alias, CodeAmbiguous, "the name %s is used twice in FROM; give one of them another alias", alias)
		}
	}
	d := &plan.Derived{Alias: b.uniqueAlias(alias), Query: q}
	rb := &relBinding{name: alias, alias: d.Alias, cols: q.Columns}
	sc.rels = append(sc.rels, rb)
	return d, nil
}

// colRef references column c of rb and records it as needed by its scan.
func (b *binder) colRef(rb *relBinding, c plan.Column) *plan.ColRef {
	if rb.scan != nil {
		have := false
		for _, n := range rb.scan.Columns {
			if n == c.Name {
				have = true
			}
		}
		if !have {
			rb.scan.Columns = append(rb.scan.Columns, c.Name)
		}
	}
	return &plan.ColRef{Rel: rb.alias, Name: c.Name, Typ: c.Type}
}

func (b *binder) findRel(tn sqlparser.TableName, sc *scope) (*relBinding, error) {
	name := tn.Name.String()
	src := tn.Qualifier.String()
	for s := sc; s != nil; s = s.parent {
		for _, rb := range s.rels {
			if strings.EqualFold(rb.name, name) && (src == "" || strings.EqualFold(rb.source, src)) {
				return rb, nil
			}
		}
	}
	var names []string
	for s := sc; s != nil; s = s.parent {
		for _, rb := range s.rels {
			names = append(names, rb.name)
		}
	}
	msg := fmt.Sprintf("unknown table %s in this query", sqlparser.String(tn))
	if sug := catalog.Closest(name, names); sug != "" {
		msg += fmt.Sprintf("; did you mean %s?", sug)
	} else if len(names) > 0 {
		msg += fmt.Sprintf("; the query's tables are %s", strings.Join(names, ", "))
	}
	return nil, b.errf(name, CodeUnknown, "%s", msg)
}

// resolveColumn finds a column by (optional) qualifier and name, searching
// the block's FROM and then enclosing blocks (correlation).
func (b *binder) resolveColumn(cn *sqlparser.ColName, sc *scope) (plan.Expr, error) {
	name := cn.Name.String()
	if !cn.Qualifier.IsEmpty() {
		rb, err := b.findRel(cn.Qualifier, sc)
		if err != nil {
			return nil, err
		}
		for _, c := range rb.cols {
			if strings.EqualFold(c.Name, name) {
				return b.colRef(rb, c), nil
			}
		}
		var names []string
		for _, c := range rb.cols {
			names = append(names, c.Name)
		}
		msg := fmt.Sprintf("unknown column %s.%s", rb.name, name)
		if sug := catalog.Closest(name, names); sug != "" {
			msg += fmt.Sprintf("; did you mean %s.%s?", rb.name, sug)
		}
		return nil, b.errf(name, CodeUnknown, "%s", msg)
	}
	for s := sc; s != nil; s = s.parent {
		var hit *relBinding
		var hitCol plan.Column
		for _, rb := range s.rels {
			for _, c := range rb.cols {
				if strings.EqualFold(c.Name, name) {
					if hit != nil {
						return nil, b.errf(name, CodeAmbiguous, "column %s is in both %s and %s; qualify it (%s.%s)", name, hit.name, rb.name, hit.name, name)
					}
					hit, hitCol = rb, c
				}
			}
		}
		if hit != nil {
			return b.colRef(hit, hitCol), nil
		}
	}
	var names []string
	for s := sc; s != nil; s = s.parent {
		for _, rb := range s.rels {
			for _, c := range rb.cols {
				names = append(names, c.Name)
			}
		}
	}
	msg := fmt.Sprintf("unknown column %s", name)
	if sug := catalog.Closest(name, names); sug != "" {
		msg += fmt.Sprintf("; did you mean %s?", sug)
	}
	return nil, b.errf(name, CodeUnknown, "%s", msg)
}

// ---- literals ----

func (b *binder) literal(l *sqlparser.Literal) (plan.Expr, error) {
	switch l.Type {
	case sqlparser.StrVal:
		if strings.IndexByte(l.Val, 0) >= 0 {
			return nil, b.errf("", CodeType, "string literals may not contain NUL bytes")
		}
		return &plan.Literal{Value: l.Val, Typ: plan.String}, nil
	case sqlparser.IntVal:
		if n, err := strconv.ParseInt(l.Val, 10, 64); err == nil {
			return &plan.Literal{Value: n, Typ: plan.Int64}, nil
		}
		return decimalLiteral(l.Val)
	case sqlparser.DecimalVal:
		return decimalLiteral(l.Val)
	case sqlparser.FloatVal:
		f, err := strconv.ParseFloat(l.Val, 64)
		if err != nil {
			return nil, b.errf(l.Val, CodeType, "bad number %s", l.Val)
		}
		return &plan.Literal{Value: f, Typ: plan.Float64}, nil
	case sqlparser.DateVal:
		d, err := parseDate(l.Val)
		if err != nil {
			return nil, b.errf(l.Val, CodeType, "DATE '%s' is not a date (want YYYY-MM-DD)", l.Val)
		}
		return &plan.Literal{Value: d, Typ: plan.Date}, nil
	case sqlparser.TimestampVal:
		ts, err := parseTimestamp(l.Val)
		if err != nil {
			return nil, b.errf(l.Val, CodeType, "TIMESTAMP '%s' is not a timestamp (want YYYY-MM-DD HH:MM:SS)", l.Val)
		}
		return &plan.Literal{Value: ts, Typ: plan.Timestamp}, nil
	}
	return nil, b.errf(l.Val, CodeUnsupported, "unsupported literal %s", sqlparser.String(l))
}

func decimalLiteral(s string) (plan.Expr, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, errAt("", -1, CodeType, "bad number %s", s)
	}
	digits := strings.TrimLeft(strings.Replace(strings.TrimPrefix(s, "-"), ".", "", 1), "0")
	scale := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		scale = len(s) - i - 1
	}
	prec := max(len(digits), scale, 1)
	if prec > 38 {
		f, _ := r.Float64()
		return &plan.Literal{Value: f, Typ: plan.Float64}, nil
	}
	return &plan.Literal{Value: r.FloatString(scale), Typ: decimalType(prec, scale)}, nil
}

func parseDate(s string) (string, error) {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
	if err != nil {
		return "", err
	}
	return t.Format("2006-01-02"), nil
}

func parseTimestamp(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02 15:04:05.999999", "2006-01-02T15:04:05.999999", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02 15:04:05.999999"), nil
		}
	}
	return "", fmt.Errorf("not a timestamp")
}
