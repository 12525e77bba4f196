package sqlgen

import (
	"fmt"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/catalog"
)

// Dialect is what sqlgen needs to know about the SQL one kind of source (or
// the engine's DuckDB residual) speaks: how to spell identifiers, literals
// and casts, what makes a string comparison code-point exact there, and
// which plans it computes exactly as lienthong defines them (Caps). The
// renderer composes SQL from these answers; which functions a dialect
// computes, and how it spells them, is the function registry's (funcs.go).
//
// The built-in dialects are Postgres, MySQL (MariaDB), SQLite and DuckDB,
// one file each. A source kind with a dialect of its own implements this
// interface (embedding a built-in one and overriding Caps is the short way)
// and registers it with its kind (RegisterKind, through connectors.Register).
// Methods answer about the dialect alone; they never call one another, so an
// embedding dialect can override any of them. Dialect values must be
// comparable: they key the function registry's renderings.
type Dialect interface {
	// String is the dialect's name, as EXPLAIN shows it.
	String() string
	// Caps says which plans the dialect computes exactly.
	Caps() Caps
	// QuoteIdent quotes an identifier.
	QuoteIdent(id string) string
	// QuoteString renders a string literal. NUL bytes cannot be
	// represented in any source's text and are refused by the binder.
	QuoteString(s string) string
	// CastType renders an Arrow type as a CAST target; false when the
	// dialect has no such type.
	CastType(t arrow.DataType) (string, bool)
	// Literal renders a non-NULL literal of type t (v as in plan.Literal:
	// bool, int64, float64, or the string form of strings, dates,
	// timestamps and decimals); false when the dialect cannot write it.
	Literal(v any, t arrow.DataType) (string, bool)
	// BinaryOperand is written before a string operand of a comparison, an
	// IN list or an ORDER BY key so that it compares by code point (MariaDB:
	// "BINARY "); "" when strings already compare so. A dialect with one
	// also gets the plain equality, which can use an index, beside the
	// binary one.
	BinaryOperand() string
	// CodePointCollation is written after a string range comparison's left
	// operand and after a string ORDER BY key so that they compare by code
	// point (PostgreSQL: ` COLLATE "C"`); "" when not needed.
	CodePointCollation() string
	// LikeCollation follows a LIKE pattern so that it matches case-
	// sensitively, '_' per character (MariaDB: " COLLATE utf8mb4_bin").
	LikeCollation() string
	// NullsOrder places NULLs as lienthong does (first ascending, last
	// descending, as MySQL): " NULLS FIRST" / " NULLS LAST", or "" when that
	// is already the dialect's default.
	NullsOrder(desc bool) string
	// NoLimit is the LIMIT clause an OFFSET without LIMIT needs ("" when
	// OFFSET may stand alone).
	NoLimit() string
	// IntDiv is the integer division operator, spaced (" DIV ").
	IntDiv() string
}

// Caps are what a dialect computes exactly as lienthong defines it
// (docs/sql.md). The zero value computes nothing: its sources are only
// scanned, every filter and expression runs in the residual.
type Caps struct {
	// Everything: computes every expression lienthong supports (DuckDB,
	// which the residual is); only the engine's own functions and
	// subqueries are judged apart. The other fields then do not matter
	// for expressions.
	Everything bool
	// Expressions: evaluates filters, expressions and whole queries at all,
	// within the limits below.
	Expressions bool
	// Booleans: can return a boolean column.
	Booleans bool
	// FullJoin: has FULL OUTER JOIN.
	FullJoin bool
	// StringSets: DISTINCT, GROUP BY, UNION and COUNT(DISTINCT) keep strings
	// that differ in case or trailing spaces apart (MariaDB's collations
	// merge them).
	StringSets bool
	// ExactDecimals: compares, sums and orders decimals, floats and
	// timestamps by value (SQLite compares by storage class).
	ExactDecimals bool
	// MaxLikePattern is the longest LIKE pattern accepted; 0 for no limit.
	MaxLikePattern int
	// CastResults: a whole query pushed here casts its result columns to
	// the planned types, as the residual does.
	CastResults bool
	// ScansOnly: the source takes single-table scans with their filters,
	// never a whole query, join, grouping or derived table (an agency's
	// agent accepts structured scan requests only).
	ScansOnly bool
}

// Quote quotes an identifier for dialect d.
func Quote(d Dialect, id string) string { return d.QuoteIdent(id) }

// QuoteString renders a string literal for dialect d.
func QuoteString(d Dialect, s string) string { return d.QuoteString(s) }

// TypeName renders an Arrow type as a CAST target in dialect d.
func TypeName(d Dialect, t arrow.DataType) (string, bool) { return d.CastType(t) }

// The kind registry: which dialect each source kind speaks. Connector
// packages fill it through connectors.Register; the planner and config
// read it, without importing any connector (or its driver).
var kinds struct {
	sync.RWMutex
	order []catalog.Kind
	d     map[catalog.Kind]Dialect
}

// RegisterKind records that sources of kind k speak d. Registering a kind
// twice is a programming error and panics.
func RegisterKind(k catalog.Kind, d Dialect) {
	kinds.Lock()
	defer kinds.Unlock()
	if _, dup := kinds.d[k]; dup || k == "" || d == nil {
		panic(fmt.Sprintf("sqlgen: kind %q registered twice or without a dialect", k))
	}
	if kinds.d == nil {
		kinds.d = map[catalog.Kind]Dialect{}
	}
	kinds.d[k] = d
	kinds.order = append(kinds.order, k)
}

// DialectOf is the dialect sources of kind k speak; an unregistered kind is
// an error (config refuses it before, so reaching here is a bug).
func DialectOf(k catalog.Kind) (Dialect, error) {
	kinds.RLock()
	defer kinds.RUnlock()
	if d, ok := kinds.d[k]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("sqlgen: source kind %q is not registered (known: %s)", k, strings.Join(kindNames(), ", "))
}

// Kinds lists the registered kinds in registration order.
func Kinds() []catalog.Kind {
	kinds.RLock()
	defer kinds.RUnlock()
	return append([]catalog.Kind(nil), kinds.order...)
}

func kindNames() []string {
	var ks []string
	for _, k := range kinds.order {
		ks = append(ks, string(k))
	}
	if len(ks) == 0 {
		return []string{"none"}
	}
	return ks
}

// ScanOnly is dialect d computing nothing: its sources are only scanned, in
// d's spelling, and every filter and expression runs in the residual. For a
// source that cannot run SQL of its own beyond reading a table.
func ScanOnly(d Dialect) Dialect { return scanOnly{d} }

type scanOnly struct{ Dialect }

func (scanOnly) Caps() Caps { return Caps{} }
