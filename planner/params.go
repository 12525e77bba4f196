package planner

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"vitess.io/vitess/go/vt/sqlparser"
)

// bindParams puts the values of a statement's parameters (?, in the order
// they appear) into its syntax tree as literals of their own type: a
// string parameter is a string literal however it is spelled, so no value
// can change what the statement says, and every rule after (type
// coercion, pushdown, the policy) treats it as the literal it is. Values
// are nil, bool, string, integers, float64 and json.Number (a JSON
// number, kept exact: an integer or a decimal).
func bindParams(sql string, stmt sqlparser.Statement, params []any) (sqlparser.Statement, error) {
	var args []*sqlparser.Argument
	var list bool
	_ = sqlparser.Walk(func(n sqlparser.SQLNode) (bool, error) {
		switch a := n.(type) {
		case *sqlparser.Argument:
			args = append(args, a)
		case sqlparser.ListArg:
			list = true
		}
		return true, nil
	}, stmt)
	if list {
		return nil, errAt(sql, -1, CodeUnsupported, "list parameters (::name) are not supported; write one ? per value")
	}
	if len(args) != len(params) {
		at := -1
		if len(args) > len(params) {
			at = nthQuestionMark(sql, len(params))
		}
		return nil, errAt(sql, at, CodeSyntax, "the query has %d parameter(s) (?) but %d value(s) were given; send one value per ?", len(args), len(params))
	}
	values := map[string]sqlparser.Expr{}
	for i, a := range args {
		lit, err := paramLiteral(params[i])
		if err != nil {
			return nil, errAt(sql, nthQuestionMark(sql, i), CodeType, "parameter %d: %v", i+1, err)
		}
		values[a.Name] = lit
	}
	out := sqlparser.Rewrite(stmt, nil, func(c *sqlparser.Cursor) bool {
		if a, ok := c.Node().(*sqlparser.Argument); ok {
			c.Replace(values[a.Name])
		}
		return true
	})
	return out.(sqlparser.Statement), nil
}

// paramLiteral is the literal a parameter value stands for.
func paramLiteral(v any) (sqlparser.Expr, error) {
	switch x := v.(type) {
	case nil:
		return &sqlparser.NullVal{}, nil
	case bool:
		return sqlparser.BoolVal(x), nil
	case string:
		return sqlparser.NewStrLiteral(x), nil
	case int:
		return sqlparser.NewIntLiteral(strconv.Itoa(x)), nil
	case int64:
		return sqlparser.NewIntLiteral(strconv.FormatInt(x, 10)), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a number SQL has", x)
		}
		return sqlparser.NewFloatLiteral(strconv.FormatFloat(x, 'g', -1, 64)), nil
	case json.Number:
		s := string(x)
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return sqlparser.NewIntLiteral(s), nil
		}
		if strings.ContainsAny(s, "eE") {
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				return nil, fmt.Errorf("%s is not a number", s)
			}
			return sqlparser.NewFloatLiteral(s), nil
		}
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return nil, fmt.Errorf("%s is not a number", s)
		}
		return sqlparser.NewDecimalLiteral(s), nil
	}
	return nil, fmt.Errorf("a %T cannot be a parameter; send a string, number, boolean or null", v)
}

// nthQuestionMark is the offset of the n-th (from 0) ? outside literals,
// quoted names and comments; -1 when there are fewer.
func nthQuestionMark(sql string, n int) int {
	off := 0
	for {
		i := questionMark(sql[off:])
		if i < 0 {
			return -1
		}
		if n == 0 {
			return off + i
		}
		n--
		off += i + 1
	}
}

// ParamsText writes parameter values as the SQL literals they are bound
// as, for the audit record of a statement with parameters (the record's
// SQL is the text as received; the values follow it, so PINs among them
// are hashed like any in the text).
func ParamsText(params []any) string {
	parts := make([]string, len(params))
	for i, v := range params {
		lit, err := paramLiteral(v)
		if err != nil {
			parts[i] = "?"
			continue
		}
		parts[i] = sqlparser.String(lit)
	}
	return strings.Join(parts, ", ")
}

// CountParams is the number of ? parameters of sql (a prepared
// statement's parameter count), or its syntax error.
func CountParams(sql string) (int, error) {
	stmt, err := Parse(sql)
	if err != nil {
		return 0, err
	}
	n := 0
	_ = sqlparser.Walk(func(node sqlparser.SQLNode) (bool, error) {
		if _, ok := node.(*sqlparser.Argument); ok {
			n++
		}
		return true, nil
	}, stmt)
	return n, nil
}
