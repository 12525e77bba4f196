// Package sqlgen renders plan IR to SQL text, one dialect per source kind.
// All SQL lienthong sends anywhere is made here: identifiers are quoted and
// literals escaped per dialect, so user text is never pasted into SQL.
//
// It also decides pushability: CanEval says whether a dialect computes an
// expression exactly as lienthong defines it (binary string comparison,
// MySQL NULL ordering, exact decimals). Anything it refuses stays in the
// DuckDB residual, which computes every expression lienthong supports.
//
// What differs between dialects is answered by the Dialect interface
// (dialect.go, one file per built-in dialect); functions live in one
// registry (funcs.go) that the binder types with, the renderer spells and
// CanEval consults; source kinds map to dialects through RegisterKind.
package sqlgen

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/catalog"
	"lienthong/planner/plan"
)

// Statement is rendered SQL ready for one source.
type Statement struct {
	SQL string
	// Scan is the table read SQL was rendered from (RenderScan), for a
	// source that takes structured requests instead of SQL text (an
	// agency's agent, which renders its own SQL); nil for a whole query.
	Scan *plan.Scan
}

// ViewName is the name under which remote N's stream is shown in plans.
// The engine registers each query's streams under names of its own
// (PrefixedViewName, prefix "_lt_qN_"), since concurrent queries share one
// DuckDB catalog.
func ViewName(id int) string { return PrefixedViewName("_lt_", id) }

// PrefixedViewName is remote N's view for a query whose views start with
// prefix.
func PrefixedViewName(prefix string, id int) string { return fmt.Sprintf("%sremote_%d", prefix, id) }

type renderer struct {
	d   Dialect
	b   strings.Builder
	err error
	// residual is true when rendering the DuckDB residual: Remote relations
	// read their registered views, named by view.
	residual bool
	// castResults casts the top query's columns to the planned types.
	castResults bool
	// forReading omits what only DuckDB needs (the LIMIT wrapper around
	// each view): the residual as EXPLAIN shows it.
	forReading bool
	view       func(id int) string
}

func (r *renderer) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("sqlgen(%s): "+format, append([]any{r.d}, args...)...)
	}
}

func (r *renderer) w(parts ...string) {
	for _, p := range parts {
		r.b.WriteString(p)
	}
}

func (r *renderer) ident(id string) { r.w(r.d.QuoteIdent(id)) }

// RenderQuery renders a whole query pushed to a source of dialect d.
func RenderQuery(d Dialect, q *plan.Query) (Statement, error) {
	r := &renderer{d: d, castResults: d.Caps().CastResults}
	r.query(q, true)
	return Statement{SQL: r.b.String()}, r.err
}

// RenderResidual renders q for the residual, in dialect d (DuckDB), where
// remote N is read from the view view(N).
func RenderResidual(q *plan.Query, d Dialect, view func(id int) string) (Statement, error) {
	r := &renderer{d: d, residual: true, castResults: true, view: view}
	r.query(q, true)
	return Statement{SQL: r.b.String()}, r.err
}

// RenderResidualForReading is RenderResidual without the wrapper that stops
// DuckDB pushing filters into the views' scans (SELECT * FROM view LIMIT
// 9223372036854775807): the SQL a reader of EXPLAIN needs. It is never run.
func RenderResidualForReading(q *plan.Query, view func(id int) string) (Statement, error) {
	r := &renderer{d: DuckDB, residual: true, castResults: true, forReading: true, view: view}
	r.query(q, true)
	return Statement{SQL: r.b.String()}, r.err
}

// RenderScan renders the statement that reads one table with its pushed
// projection and filters.
func RenderScan(d Dialect, s *plan.Scan) (Statement, error) {
	r := &renderer{d: d}
	r.scanSelect(s)
	return Statement{SQL: r.b.String(), Scan: s}, r.err
}

func (r *renderer) tableName(t *catalog.Table) {
	if t.RemoteSchema != "" {
		r.ident(t.RemoteSchema)
		r.w(".")
	}
	name := t.RemoteName
	if name == "" {
		name = t.Name
	}
	r.ident(name)
}

func (r *renderer) scanSelect(s *plan.Scan) {
	r.w("SELECT ")
	if len(s.Columns) == 0 {
		// Only the row count matters (COUNT(*) over the scan).
		r.w("1 AS ")
		r.ident("_lt_one")
	}
	for i, c := range s.Columns {
		if i > 0 {
			r.w(", ")
		}
		r.ident(s.Alias)
		r.w(".")
		r.ident(c)
	}
	r.w(" FROM ")
	r.tableName(s.Table)
	r.w(" AS ")
	r.ident(s.Alias)
	if len(s.Filters) > 0 {
		r.w(" WHERE ")
		r.expr(plan.And(s.Filters))
	}
}

func (r *renderer) query(q *plan.Query, top bool) {
	switch b := q.Body.(type) {
	case *plan.Select:
		r.selectBlock(b, q.Columns, top)
		r.orderBy(q, b)
	case *plan.SetOp:
		if len(q.OrderBy) > 0 || q.Limit != nil || q.Offset != nil {
			// Order a set operation by its output columns from outside, which
			// every dialect accepts.
			r.w("SELECT * FROM (")
			r.setOp(b)
			r.w(") AS ")
			r.ident("_lt_set")
			r.orderBy(q, nil)
		} else {
			r.setOp(b)
		}
	default:
		r.fail("unknown query body %T", q.Body)
	}
	r.limit(q)
}

func (r *renderer) setOp(s *plan.SetOp) {
	// Each operand as a derived table: SQLite forbids parenthesised compound
	// operands, and operands may carry their own ORDER BY / LIMIT.
	r.w("SELECT * FROM (")
	r.query(s.Left, false)
	r.w(") AS ")
	r.ident("_lt_l")
	r.w(" UNION ")
	if s.All {
		r.w("ALL ")
	}
	r.w("SELECT * FROM (")
	r.query(s.Right, false)
	r.w(") AS ")
	r.ident("_lt_r")
}

func (r *renderer) selectBlock(s *plan.Select, cols []plan.Column, top bool) {
	r.w("SELECT ")
	if s.Distinct {
		r.w("DISTINCT ")
	}
	for i, it := range s.Items {
		if i > 0 {
			r.w(", ")
		}
		if top && r.castResults {
			// The residual's result has exactly the planned types, so a query
			// returns the same Arrow schema wherever it ran.
			r.castTo(it.Expr, cols[i].Type)
		} else {
			r.expr(it.Expr)
		}
		r.w(" AS ")
		r.ident(cols[i].Name)
	}
	if s.From != nil {
		r.w(" FROM ")
		r.relation(s.From)
	}
	if s.Where != nil {
		r.w(" WHERE ")
		r.expr(s.Where)
	}
	if len(s.GroupBy) > 0 {
		r.w(" GROUP BY ")
		for i, g := range s.GroupBy {
			if i > 0 {
				r.w(", ")
			}
			r.expr(g)
		}
	}
	if s.Having != nil {
		r.w(" HAVING ")
		r.expr(s.Having)
	}
}

func (r *renderer) orderBy(q *plan.Query, sel *plan.Select) {
	if len(q.OrderBy) == 0 {
		return
	}
	r.w(" ORDER BY ")
	for i, o := range q.OrderBy {
		if i > 0 {
			r.w(", ")
		}
		key := o.Expr
		if ref, ok := key.(*plan.OutputRef); ok {
			if sel != nil {
				key = sel.Items[ref.Index].Expr
			} else {
				key = &plan.ColRef{Rel: "_lt_set", Name: q.Columns[ref.Index].Name, Typ: ref.Typ}
			}
		}
		r.orderKey(key, o.Desc)
	}
}

// orderKey renders one key with MySQL's NULL placement (first ascending,
// last descending) and code-point order for strings.
func (r *renderer) orderKey(e plan.Expr, desc bool) {
	str := isString(e.Type())
	if str {
		r.w(r.d.BinaryOperand())
	}
	r.expr(e)
	if str {
		r.w(r.d.CodePointCollation())
	}
	if desc {
		r.w(" DESC")
	}
	r.w(r.d.NullsOrder(desc))
}

func (r *renderer) limit(q *plan.Query) {
	if q.Limit == nil && q.Offset == nil {
		return
	}
	if q.Limit != nil {
		r.w(" LIMIT ", strconv.FormatInt(*q.Limit, 10))
	} else {
		r.w(r.d.NoLimit())
	}
	if q.Offset != nil {
		r.w(" OFFSET ", strconv.FormatInt(*q.Offset, 10))
	}
}

func (r *renderer) relation(rel plan.Relation) {
	switch x := rel.(type) {
	case *plan.Scan:
		if len(x.Filters) == 0 {
			r.tableName(x.Table)
		} else {
			r.w("(")
			r.scanSelect(x)
			r.w(")")
		}
		r.w(" AS ")
		r.ident(x.Alias)
	case *plan.Join:
		r.relation(x.Left)
		r.w(" ", x.Kind.String(), " ")
		if _, nested := x.Right.(*plan.Join); nested {
			r.w("(")
			r.relation(x.Right)
			r.w(")")
		} else {
			r.relation(x.Right)
		}
		if x.Kind != plan.CrossJoin {
			r.w(" ON ")
			if x.On == nil {
				r.w("TRUE")
			} else {
				r.expr(x.On)
			}
		}
	case *plan.Derived:
		r.w("(")
		r.query(x.Query, false)
		r.w(") AS ")
		r.ident(x.Alias)
	case *plan.Remote:
		if !r.residual {
			r.fail("remote relation inside a pushed query")
			return
		}
		// DuckDB pushes filters into an Arrow view's scan and then trusts the
		// stream to apply them, which a registered Go stream cannot: the
		// filter would be lost. A LIMIT no stream reaches stops the pushdown
		// just above the scan; joins and projections are unaffected.
		if r.forReading {
			r.ident(r.view(x.ID))
			r.w(" AS ")
			r.ident(x.Alias)
			return
		}
		r.w("(SELECT * FROM ")
		r.ident(r.view(x.ID))
		r.w(" LIMIT 9223372036854775807) AS ")
		r.ident(x.Alias)
	default:
		r.fail("unknown relation %T", rel)
	}
}

func isString(t arrow.DataType) bool {
	return t != nil && (t.ID() == arrow.STRING || t.ID() == arrow.LARGE_STRING)
}

func (r *renderer) castTo(e plan.Expr, t arrow.DataType) {
	if arrow.TypeEqual(e.Type(), t) && e.Type().ID() != arrow.NULL {
		r.expr(e)
		return
	}
	name, ok := r.d.CastType(t)
	if !ok {
		r.fail("cannot cast to %s", catalog.TypeName(t))
		return
	}
	r.w("CAST(")
	r.expr(e)
	r.w(" AS ", name, ")")
}
