// Package plan is lienthong's plan IR: a query as SQL-shaped blocks (like
// Vitess's operators before routing) with bound, typed expressions. It is pure
// data: the planner builds and rewrites it, sqlgen renders it to a dialect,
// the engine runs the fragments it marks as Remote.
package plan

import (
	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/catalog"
)

// Column is one output column of a relation or query.
type Column struct {
	Name string
	Type arrow.DataType
}

// Query is a query expression: a block or a set operation, then ORDER BY,
// LIMIT and OFFSET.
type Query struct {
	Body    Body
	OrderBy []OrderItem
	Limit   *int64
	Offset  *int64
	Columns []Column // output columns, in order
}

// Body is a *Select or a *SetOp.
type Body interface{ body() }

// Select is one SELECT block.
type Select struct {
	Distinct bool
	Items    []SelectItem
	From     Relation // nil for SELECT without FROM
	Where    Expr     // nil when absent
	GroupBy  []Expr
	Having   Expr
	// Aggregated is true when the block groups (GROUP BY or an aggregate in
	// the select list or HAVING): every item is then a group key or aggregate.
	Aggregated bool
}

// SelectItem is one output expression and its name.
type SelectItem struct {
	Expr  Expr
	Alias string
}

// SetOpKind is the kind of a set operation. There is one, UNION: the
// parser (vitess's MySQL grammar) has no INTERSECT or EXCEPT.
type SetOpKind int

const (
	Union SetOpKind = iota
)

// SetOp combines two query expressions.
type SetOp struct {
	Kind        SetOpKind
	All         bool
	Left, Right *Query
}

func (*Select) body() {}
func (*SetOp) body()  {}

// OutputRef is an ORDER BY key naming output column Index of the query it
// orders (a select alias or ordinal, or any key of a set operation).
type OutputRef struct {
	Index int
	Typ   arrow.DataType
}

func (e *OutputRef) Type() arrow.DataType { return e.Typ }

// OrderItem is one ORDER BY key. Nulls sort first ascending and last
// descending (MySQL's rule), whatever the dialect's default.
type OrderItem struct {
	Expr Expr
	Desc bool
}

// Relation is a FROM item: *Scan, *Join, *Derived or *Remote.
type Relation interface{ relation() }

// Scan reads one source table. Alias is unique in the whole statement, so
// rendered SQL never depends on scoping rules of the target dialect.
type Scan struct {
	Alias string
	Table *catalog.Table
	// Columns the query needs, in table order (projection pushdown).
	Columns []string
	// Filters are conjuncts evaluated at the scan: the source runs them when
	// the scan is remote.
	Filters []Expr
}

// JoinKind is how a join treats unmatched rows.
type JoinKind int

const (
	InnerJoin JoinKind = iota
	LeftJoin
	RightJoin
	CrossJoin
	FullJoin
)

func (k JoinKind) String() string {
	return [...]string{"INNER JOIN", "LEFT JOIN", "RIGHT JOIN", "CROSS JOIN", "FULL OUTER JOIN"}[k]
}

// Join combines two relations.
type Join struct {
	Kind        JoinKind
	Left, Right Relation
	On          Expr // nil for CROSS JOIN
}

// Derived is a subquery in FROM (and each reference to a CTE, inlined).
type Derived struct {
	Alias string
	Query *Query
	// Secured marks the access policy's view of one table (row filters and
	// masks over its scan); nothing outside may see past it.
	Secured bool
}

// Remote marks the pushdown boundary (Vitess's Route): everything under it
// runs in one source as one statement; the rest of the plan reads its rows
// under Alias. Columns are what the statement returns, in order.
type Remote struct {
	ID      int    // 1-based, in plan order; names the staged stream
	Alias   string // alias the enclosing query uses for this relation
	Source  string
	Columns []Column
	// Exactly one of Scan or Query is set: a single table read, or a whole
	// sub-plan the source runs.
	Scan  *Scan
	Query *Query
	// ReduceBy, when set, lets the engine read remote From first and, if it
	// has few enough distinct keys, add "Column IN (those keys)" to this
	// scan (semi-join reduction: only rows that can join travel).
	ReduceBy *KeyFilter
	// KeysWithheld says why a reduction was not planned although it could
	// have been: the access policy does not let this source receive the
	// other's PINs (EXPLAIN shows it).
	KeysWithheld string
}

// KeyFilter names the join keys a remote's scan may be reduced by.
type KeyFilter struct {
	Column     string // column of the reduced scan
	From       int    // ID of the remote whose keys reduce it
	FromColumn string // that remote's key column
}

func (*Scan) relation()    {}
func (*Join) relation()    {}
func (*Derived) relation() {}
func (*Remote) relation()  {}

// Plan is a planned statement: the residual query (run by DuckDB over the
// remotes' streams) or, when one source runs everything, a single remote.
type Plan struct {
	// Root is the residual query. When Single is set, Root is nil.
	Root    *Query
	Single  *Remote
	Remotes []*Remote
	Columns []Column
	// Verify marks a pin_verify check: the engine rate-limits them per
	// principal and the audit log records each one.
	Verify bool
	// Restricted lists the tables (source.table) the principal sees only
	// some rows of: EXPLAIN ANALYZE must not count their rows.
	Restricted []string
	// Privacy, when set, turns the result's exact bounded figures into
	// differentially private ones (aggregate-only tables).
	Privacy *Privacy
	// Rules names the planner's rules that changed this statement, in the
	// order they ran (EXPLAIN shows them).
	Rules []string
	// ViewPrefix is set by the engine when it runs the plan: its DuckDB
	// views are named ViewPrefix+"remote_N" (concurrent queries share one
	// catalog), so EXPLAIN ANALYZE names them as DuckDB's profile does.
	// Empty: "_lt_", the names plain EXPLAIN shows.
	ViewPrefix string
}

// Relations calls fn for r and every relation of its FROM tree (join
// inputs), parents first; it does not enter derived tables' queries.
func Relations(r Relation, fn func(Relation)) {
	if r == nil {
		return
	}
	fn(r)
	if j, ok := r.(*Join); ok {
		Relations(j.Left, fn)
		Relations(j.Right, fn)
	}
}

// AliasOf is the alias a relation is known by, "" for a join.
func AliasOf(r Relation) string {
	switch x := r.(type) {
	case *Scan:
		return x.Alias
	case *Derived:
		return x.Alias
	case *Remote:
		return x.Alias
	}
	return ""
}

// Privacy is the differential-privacy step of an aggregate-only query: the
// plan computes, per group, the number of distinct citizens and each
// aggregate's per-citizen bounded exact value; the engine adds noise,
// releases only groups whose noisy citizen count clears the threshold, and
// returns Outputs. Pure data: the mechanisms live in policy/dp.
type Privacy struct {
	Epsilon, Delta float64 // spent by this query
	// Grouped: groups come from the data and are thresholded; otherwise
	// the one group of an ungrouped query is public and always released.
	Grouped bool
	// UnitsCol is the internal column of distinct citizens per group;
	// UnitsEpsilon its share of Epsilon (0 when it is neither thresholded
	// nor released); MaxGroups the groups one citizen adds to.
	UnitsCol     int
	UnitsEpsilon float64
	MaxGroups    int64
	// MinGroup is a floor under the threshold (the policy's k).
	MinGroup int64
	Outputs  []PrivateOutput
}

// PrivateOutput is one column the user asked for.
type PrivateOutput struct {
	Name string
	Type arrow.DataType
	// Kind: "key" (a group key, copied), "units" (COUNT(DISTINCT pin)),
	// "count", "sum" or "avg".
	Kind string
	Col  int // internal column: the key, the bounded count or sum
	// CountCol is AVG's bounded count column.
	CountCol int
	// Sensitivity of Col (and CountSensitivity of CountCol) over all
	// groups one citizen can change; Epsilon (and CountEpsilon) their
	// shares of the query's epsilon.
	Sensitivity, CountSensitivity float64
	Epsilon, CountEpsilon         float64
}
