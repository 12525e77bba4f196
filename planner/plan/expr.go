package plan

import (
	"github.com/apache/arrow-go/v18/arrow"
)

// Expr is a bound, typed scalar expression.
type Expr interface {
	Type() arrow.DataType
}

// Common types, so every package names them the same way.
var (
	Int64     arrow.DataType = arrow.PrimitiveTypes.Int64
	Float64   arrow.DataType = arrow.PrimitiveTypes.Float64
	String    arrow.DataType = arrow.BinaryTypes.String
	Bool      arrow.DataType = arrow.FixedWidthTypes.Boolean
	Date      arrow.DataType = arrow.FixedWidthTypes.Date32
	Timestamp arrow.DataType = &arrow.TimestampType{Unit: arrow.Microsecond}
	// TimestampTZ is an instant; lienthong keeps instants in UTC.
	TimestampTZ arrow.DataType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	Null        arrow.DataType = arrow.Null
)

// ColRef reads a column of the relation with the statement-unique alias Rel.
// A ColRef whose Rel belongs to an enclosing block is a correlated reference.
type ColRef struct {
	Rel  string
	Name string
	Typ  arrow.DataType
}

// Literal is a constant. Value is nil (NULL), bool, int64, float64 or string;
// decimals, dates and timestamps keep their canonical text in a string and
// are told apart by Typ.
type Literal struct {
	Value any
	Typ   arrow.DataType
}

// Binary is an arithmetic (+ - * / % DIV), comparison (= <> < <= > >=) or
// logical (AND OR) operator.
type Binary struct {
	Op   string
	L, R Expr
	Typ  arrow.DataType
}

// Not negates a boolean.
type Not struct{ X Expr }

// Neg is unary minus.
type Neg struct{ X Expr }

// IsNull is X IS [NOT] NULL.
type IsNull struct {
	X   Expr
	Not bool
}

// In is X [NOT] IN (list of values).
type In struct {
	X    Expr
	List []Expr
	Not  bool
}

// Between is X [NOT] BETWEEN Lo AND Hi.
type Between struct {
	X, Lo, Hi Expr
	Not       bool
}

// Like is X [NOT] LIKE Pattern, case-sensitive, with backslash escapes.
type Like struct {
	X, Pattern Expr
	Not        bool
}

// Func is a scalar function from lienthong's function list (see docs/sql.md);
// Name is the canonical lower-case name. sqlgen knows how each dialect
// computes it, or that it cannot.
type Func struct {
	Name string
	Args []Expr
	Typ  arrow.DataType
}

// Agg is an aggregate: count, sum, avg, min, max. Arg is nil for COUNT(*).
type Agg struct {
	Name     string
	Arg      Expr
	Distinct bool
	Typ      arrow.DataType
}

// Window is a window function: row_number, rank, dense_rank, or an
// aggregate (Agg) computed over a window.
type Window struct {
	Name        string // row_number, rank, dense_rank, or "agg"
	Agg         *Agg   // when Name == "agg"
	PartitionBy []Expr
	OrderBy     []OrderItem
	Typ         arrow.DataType
}

// When is one WHEN ... THEN ... arm of a CASE.
type When struct{ Cond, Then Expr }

// Case is a searched CASE (a simple CASE is bound into this form).
type Case struct {
	Whens []When
	Else  Expr
	Typ   arrow.DataType
}

// Cast converts X to To.
type Cast struct {
	X  Expr
	To arrow.DataType
}

// Subquery is a scalar subquery: one column, at most one row.
type Subquery struct{ Query *Query }

// Exists is [NOT] EXISTS (subquery).
type Exists struct {
	Query *Query
	Not   bool
}

// InSubquery is X [NOT] IN (subquery).
type InSubquery struct {
	X     Expr
	Query *Query
	Not   bool
}

func (e *ColRef) Type() arrow.DataType     { return e.Typ }
func (e *Literal) Type() arrow.DataType    { return e.Typ }
func (e *Binary) Type() arrow.DataType     { return e.Typ }
func (e *Not) Type() arrow.DataType        { return Bool }
func (e *Neg) Type() arrow.DataType        { return e.X.Type() }
func (e *IsNull) Type() arrow.DataType     { return Bool }
func (e *In) Type() arrow.DataType         { return Bool }
func (e *Between) Type() arrow.DataType    { return Bool }
func (e *Like) Type() arrow.DataType       { return Bool }
func (e *Func) Type() arrow.DataType       { return e.Typ }
func (e *Agg) Type() arrow.DataType        { return e.Typ }
func (e *Window) Type() arrow.DataType     { return e.Typ }
func (e *Case) Type() arrow.DataType       { return e.Typ }
func (e *Cast) Type() arrow.DataType       { return e.To }
func (e *Subquery) Type() arrow.DataType   { return e.Query.Columns[0].Type }
func (e *Exists) Type() arrow.DataType     { return Bool }
func (e *InSubquery) Type() arrow.DataType { return Bool }

// Walk calls fn for e and every expression under it, not descending into
// subqueries' blocks (their expressions belong to another scope); fn
// returning false stops descent below that node.
func Walk(e Expr, fn func(Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch x := e.(type) {
	case *Binary:
		Walk(x.L, fn)
		Walk(x.R, fn)
	case *Not:
		Walk(x.X, fn)
	case *Neg:
		Walk(x.X, fn)
	case *IsNull:
		Walk(x.X, fn)
	case *In:
		Walk(x.X, fn)
		for _, a := range x.List {
			Walk(a, fn)
		}
	case *Between:
		Walk(x.X, fn)
		Walk(x.Lo, fn)
		Walk(x.Hi, fn)
	case *Like:
		Walk(x.X, fn)
		Walk(x.Pattern, fn)
	case *Func:
		for _, a := range x.Args {
			Walk(a, fn)
		}
	case *Agg:
		Walk(x.Arg, fn)
	case *Window:
		if x.Agg != nil {
			Walk(x.Agg, fn)
		}
		for _, p := range x.PartitionBy {
			Walk(p, fn)
		}
		for _, o := range x.OrderBy {
			Walk(o.Expr, fn)
		}
	case *Case:
		for _, w := range x.Whens {
			Walk(w.Cond, fn)
			Walk(w.Then, fn)
		}
		Walk(x.Else, fn)
	case *Cast:
		Walk(x.X, fn)
	case *InSubquery:
		Walk(x.X, fn)
	}
}

// Conjuncts splits an AND tree into its terms.
func Conjuncts(e Expr) []Expr {
	if e == nil {
		return nil
	}
	if b, ok := e.(*Binary); ok && b.Op == "AND" {
		return append(Conjuncts(b.L), Conjuncts(b.R)...)
	}
	return []Expr{e}
}

// And joins terms with AND; nil for none.
func And(terms []Expr) Expr {
	var out Expr
	for _, t := range terms {
		if out == nil {
			out = t
		} else {
			out = &Binary{Op: "AND", L: out, R: t, Typ: Bool}
		}
	}
	return out
}

// RelsOf returns the relation aliases e reads, including those read inside
// its subqueries (correlated references), and whether e contains a subquery.
func RelsOf(e Expr) (rels map[string]bool, hasSubquery bool) {
	rels = map[string]bool{}
	var visit func(Expr) bool
	visit = func(x Expr) bool {
		switch v := x.(type) {
		case *ColRef:
			rels[v.Rel] = true
		case *Subquery:
			hasSubquery = true
			QueryExprs(v.Query, func(y Expr) { Walk(y, visit) })
		case *Exists:
			hasSubquery = true
			QueryExprs(v.Query, func(y Expr) { Walk(y, visit) })
		case *InSubquery:
			hasSubquery = true
			QueryExprs(v.Query, func(y Expr) { Walk(y, visit) })
		}
		return true
	}
	Walk(e, visit)
	return rels, hasSubquery
}

// QueryExprs calls fn for every top-level expression of q and of the blocks
// and relations inside it (scan filters, join conditions, derived tables).
func QueryExprs(q *Query, fn func(Expr)) {
	if q == nil {
		return
	}
	switch b := q.Body.(type) {
	case *Select:
		for _, it := range b.Items {
			fn(it.Expr)
		}
		RelationExprs(b.From, fn)
		if b.Where != nil {
			fn(b.Where)
		}
		for _, g := range b.GroupBy {
			fn(g)
		}
		if b.Having != nil {
			fn(b.Having)
		}
	case *SetOp:
		QueryExprs(b.Left, fn)
		QueryExprs(b.Right, fn)
	}
	for _, o := range q.OrderBy {
		fn(o.Expr)
	}
}

// RelationExprs calls fn for the expressions inside a FROM tree.
func RelationExprs(r Relation, fn func(Expr)) {
	switch x := r.(type) {
	case *Scan:
		for _, f := range x.Filters {
			fn(f)
		}
	case *Join:
		RelationExprs(x.Left, fn)
		RelationExprs(x.Right, fn)
		if x.On != nil {
			fn(x.On)
		}
	case *Derived:
		QueryExprs(x.Query, fn)
	case *Remote:
		// A remote's own statement is opaque here: the source runs it.
		if x.Scan != nil {
			RelationExprs(x.Scan, fn)
		}
	}
}

// Map returns e with every node replaced by fn's result, bottom-up; fn
// returns its argument to keep a node. Subqueries are not entered.
func Map(e Expr, fn func(Expr) Expr) Expr {
	if e == nil {
		return nil
	}
	m := func(x Expr) Expr { return Map(x, fn) }
	list := func(xs []Expr) []Expr {
		out := make([]Expr, len(xs))
		for i, x := range xs {
			out[i] = m(x)
		}
		return out
	}
	switch x := e.(type) {
	case *Binary:
		c := *x
		c.L, c.R = m(x.L), m(x.R)
		return fn(&c)
	case *Not:
		return fn(&Not{X: m(x.X)})
	case *Neg:
		return fn(&Neg{X: m(x.X)})
	case *IsNull:
		return fn(&IsNull{X: m(x.X), Not: x.Not})
	case *In:
		return fn(&In{X: m(x.X), List: list(x.List), Not: x.Not})
	case *Between:
		return fn(&Between{X: m(x.X), Lo: m(x.Lo), Hi: m(x.Hi), Not: x.Not})
	case *Like:
		return fn(&Like{X: m(x.X), Pattern: m(x.Pattern), Not: x.Not})
	case *Func:
		c := *x
		c.Args = list(x.Args)
		return fn(&c)
	case *Case:
		c := *x
		c.Whens = make([]When, len(x.Whens))
		for i, w := range x.Whens {
			c.Whens[i] = When{Cond: m(w.Cond), Then: m(w.Then)}
		}
		c.Else = m(x.Else)
		return fn(&c)
	case *Cast:
		return fn(&Cast{X: m(x.X), To: x.To})
	case *Agg:
		c := *x
		c.Arg = m(x.Arg)
		return fn(&c)
	case *Window:
		c := *x
		c.PartitionBy = list(x.PartitionBy)
		c.OrderBy = make([]OrderItem, len(x.OrderBy))
		for i, o := range x.OrderBy {
			c.OrderBy[i] = OrderItem{Expr: m(o.Expr), Desc: o.Desc}
		}
		if x.Agg != nil {
			c.Agg, _ = m(x.Agg).(*Agg)
		}
		return fn(&c)
	case *InSubquery:
		return fn(&InSubquery{X: m(x.X), Query: x.Query, Not: x.Not})
	}
	return fn(e)
}
