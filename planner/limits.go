package planner

import (
	"fmt"

	"vitess.io/vitess/go/vt/sqlparser"
)

// CodeLimit is a query past one of the planner's size limits.
const CodeLimit Code = "LT-LIMIT"

// Limits bound the size of a statement before anything is bound or sent:
// a deeply nested expression costs DuckDB and the sources time that grows
// much faster than the text (an 800-deep (id+0) ran 27.7 s in DuckDB), and
// CTEs referenced from CTEs multiply the tables a plan reads. Zero fields
// take the defaults.
type Limits struct {
	// MaxExpressionDepth bounds how deeply expressions nest (a chain of
	// AND, or of OR, counts as one level).
	MaxExpressionDepth int `toml:"max_expression_depth"`
	// MaxInList bounds the values of one IN (...) list.
	MaxInList int `toml:"max_in_list"`
	// MaxExpressions bounds the expression nodes of the whole statement.
	MaxExpressions int `toml:"max_expressions"`
	// MaxTables bounds the table and CTE references a plan binds, each
	// reference to a CTE binding the CTE's own again.
	MaxTables int `toml:"max_tables"`
}

// Defaults of Limits.
const (
	DefaultMaxExpressionDepth = 64
	DefaultMaxInList          = 10_000
	DefaultMaxExpressions     = 50_000
	DefaultMaxTables          = 64
)

// WithDefaults fills zero fields.
func (l Limits) WithDefaults() Limits {
	if l.MaxExpressionDepth <= 0 {
		l.MaxExpressionDepth = DefaultMaxExpressionDepth
	}
	if l.MaxInList <= 0 {
		l.MaxInList = DefaultMaxInList
	}
	if l.MaxExpressions <= 0 {
		l.MaxExpressions = DefaultMaxExpressions
	}
	if l.MaxTables <= 0 {
		l.MaxTables = DefaultMaxTables
	}
	return l
}

func limitError(what, setting string, limit int) *Error {
	return &Error{Code: CodeLimit, Msg: fmt.Sprintf("%s: the limit is %s = %d (raise it in the [limits] table of the config; docs/configuration.md)", what, setting, limit)}
}

// checkLimits measures a parsed statement against l. The parser itself is
// linear in the text (measured: 50,000 nested parentheses parse in 50 ms),
// so the check runs on its tree.
func checkLimits(stmt sqlparser.SQLNode, l Limits) error {
	var depth, nodes int
	var err error
	sqlparser.Rewrite(stmt, func(c *sqlparser.Cursor) bool {
		if err != nil {
			return false
		}
		n := c.Node()
		if tuple, ok := n.(sqlparser.ValTuple); ok && len(tuple) > l.MaxInList {
			err = limitError(fmt.Sprintf("a list of %d values", len(tuple)), "max_in_list", l.MaxInList)
			return false
		}
		if _, ok := n.(sqlparser.Expr); !ok {
			return true
		}
		nodes++
		if nodes > l.MaxExpressions {
			err = limitError(fmt.Sprintf("more than %d expressions", l.MaxExpressions), "max_expressions", l.MaxExpressions)
			return false
		}
		if !sameChain(c.Parent(), n) {
			depth++
			if depth > l.MaxExpressionDepth {
				err = limitError(fmt.Sprintf("expressions nested more than %d deep", l.MaxExpressionDepth), "max_expression_depth", l.MaxExpressionDepth)
				return false
			}
		}
		return true
	}, func(c *sqlparser.Cursor) bool {
		if _, ok := c.Node().(sqlparser.Expr); ok && !sameChain(c.Parent(), c.Node()) {
			depth--
		}
		return true
	})
	return err
}

// sameChain reports whether n continues its parent's AND or OR chain.
func sameChain(parent, n sqlparser.SQLNode) bool {
	switch n.(type) {
	case *sqlparser.AndExpr:
		_, ok := parent.(*sqlparser.AndExpr)
		return ok
	case *sqlparser.OrExpr:
		_, ok := parent.(*sqlparser.OrExpr)
		return ok
	}
	return false
}

// countTable counts one more table the plan reads against MaxTables.
func (b *binder) countTable() error {
	b.tables++
	if b.tables > b.limits.MaxTables {
		return limitError(fmt.Sprintf("a plan binding more than %d table and CTE references (each reference to a CTE binds its own again)", b.limits.MaxTables), "max_tables", b.limits.MaxTables)
	}
	return nil
}
