package planner

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"vitess.io/vitess/go/mysql/datetime"
	"vitess.io/vitess/go/vt/sqlparser"

	"lienthong/planner/plan"
)

func (b *binder) bindExprs(es []sqlparser.Expr, sc *scope) ([]plan.Expr, error) {
	out := make([]plan.Expr, len(es))
	for i, e := range es {
		x, err := b.bindExpr(e, sc)
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}

func (b *binder) bindExpr(e sqlparser.Expr, sc *scope) (plan.Expr, error) {
	switch x := e.(type) {
	case *sqlparser.ColName:
		return b.resolveColumn(x, sc)
	case *sqlparser.Literal:
		return b.literal(x)
	case *sqlparser.NullVal:
		return &plan.Literal{Typ: plan.Null}, nil
	case sqlparser.BoolVal:
		return &plan.Literal{Value: bool(x), Typ: plan.Bool}, nil
	case *sqlparser.AndExpr, *sqlparser.OrExpr:
		var le, re sqlparser.Expr
		op := "AND"
		if a, ok := x.(*sqlparser.AndExpr); ok {
			le, re = a.Left, a.Right
		} else {
			o := x.(*sqlparser.OrExpr)
			le, re, op = o.Left, o.Right, "OR"
		}
		l, err := b.bindExpr(le, sc)
		if err != nil {
			return nil, err
		}
		r, err := b.bindExpr(re, sc)
		if err != nil {
			return nil, err
		}
		if err := wantBool(b, l, op+" operand"); err != nil {
			return nil, err
		}
		if err := wantBool(b, r, op+" operand"); err != nil {
			return nil, err
		}
		return &plan.Binary{Op: op, L: l, R: r, Typ: plan.Bool}, nil
	case *sqlparser.NotExpr:
		in, err := b.bindExpr(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		if err := wantBool(b, in, "NOT operand"); err != nil {
			return nil, err
		}
		return &plan.Not{X: in}, nil
	case *sqlparser.ComparisonExpr:
		return b.bindComparison(x, sc)
	case *sqlparser.BetweenExpr:
		v, err := b.bindExpr(x.Left, sc)
		if err != nil {
			return nil, err
		}
		lo, err := b.bindExpr(x.From, sc)
		if err != nil {
			return nil, err
		}
		hi, err := b.bindExpr(x.To, sc)
		if err != nil {
			return nil, err
		}
		if _, lo, err = b.comparable("between", v, lo); err != nil {
			return nil, err
		}
		if _, hi, err = b.comparable("between", v, hi); err != nil {
			return nil, err
		}
		return &plan.Between{X: v, Lo: lo, Hi: hi, Not: !x.IsBetween}, nil
	case *sqlparser.IsExpr:
		v, err := b.bindExpr(x.Left, sc)
		if err != nil {
			return nil, err
		}
		switch x.Right {
		case sqlparser.IsNullOp:
			return &plan.IsNull{X: v}, nil
		case sqlparser.IsNotNullOp:
			return &plan.IsNull{X: v, Not: true}, nil
		case sqlparser.IsTrueOp, sqlparser.IsNotTrueOp, sqlparser.IsFalseOp, sqlparser.IsNotFalseOp:
			if err := wantBool(b, v, "IS TRUE/FALSE"); err != nil {
				return nil, err
			}
			want := x.Right == sqlparser.IsTrueOp || x.Right == sqlparser.IsNotTrueOp
			eq := &plan.Binary{Op: "=", L: v, R: &plan.Literal{Value: want, Typ: plan.Bool}, Typ: plan.Bool}
			coal := &plan.Func{Name: "coalesce", Args: []plan.Expr{eq, &plan.Literal{Value: false, Typ: plan.Bool}}, Typ: plan.Bool}
			if x.Right == sqlparser.IsNotTrueOp || x.Right == sqlparser.IsNotFalseOp {
				return &plan.Not{X: coal}, nil
			}
			return coal, nil
		}
	case *sqlparser.BinaryExpr:
		op, ok := arithOps[x.Operator]
		if !ok {
			return nil, b.errf("", CodeUnsupported, "operator in %s is not supported", sqlparser.String(x))
		}
		l, err := b.bindExpr(x.Left, sc)
		if err != nil {
			return nil, err
		}
		r, err := b.bindExpr(x.Right, sc)
		if err != nil {
			return nil, err
		}
		t, err := arithType(op, l.Type(), r.Type())
		if err != nil {
			return nil, errAt(b.sql, -1, CodeType, "%s: %v", sqlparser.String(x), err)
		}
		return &plan.Binary{Op: op, L: l, R: r, Typ: t}, nil
	case *sqlparser.UnaryExpr:
		v, err := b.bindExpr(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		switch x.Operator {
		case sqlparser.UMinusOp:
			if lit, ok := v.(*plan.Literal); ok {
				switch n := lit.Value.(type) {
				case int64:
					return &plan.Literal{Value: -n, Typ: lit.Typ}, nil
				case float64:
					return &plan.Literal{Value: -n, Typ: lit.Typ}, nil
				case string:
					if lit.Typ.ID() == arrow.DECIMAL128 {
						return &plan.Literal{Value: negDecimal(n), Typ: lit.Typ}, nil
					}
				}
			}
			if !isNum(v.Type()) {
				return nil, errAt(b.sql, -1, CodeType, "unary minus needs a number, not %s", typeName(v.Type()))
			}
			return &plan.Neg{X: v}, nil
		case sqlparser.UPlusOp:
			return v, nil
		case sqlparser.BangOp:
			return &plan.Not{X: v}, nil
		}
		return nil, errAt(b.sql, -1, CodeUnsupported, "operator in %s is not supported", sqlparser.String(x))
	case *sqlparser.CaseExpr:
		return b.bindCase(x, sc)
	case *sqlparser.CastExpr:
		return b.bindCast(x.Expr, x.Type, sc)
	case *sqlparser.ConvertExpr:
		return b.bindCast(x.Expr, x.Type, sc)
	case *sqlparser.Subquery:
		q, _, err := b.bindQuery(x.Select, sc)
		if err != nil {
			return nil, err
		}
		if len(q.Columns) != 1 {
			return nil, errAt(b.sql, -1, CodeType, "a scalar subquery must return one column, this one returns %d", len(q.Columns))
		}
		return &plan.Subquery{Query: q}, nil
	case *sqlparser.ExistsExpr:
		q, _, err := b.bindQuery(x.Subquery.Select, sc)
		if err != nil {
			return nil, err
		}
		return &plan.Exists{Query: q}, nil
	case *sqlparser.IntroducerExpr:
		return b.bindExpr(x.Expr, sc)
	case *sqlparser.CollateExpr:
		return nil, b.errf("collate", CodeUnsupported, "COLLATE is not supported: strings compare by code point; use LOWER() for case-insensitive matching")
	}
	return b.bindFunction(e, sc)
}

func negDecimal(s string) string {
	if strings.HasPrefix(s, "-") {
		return s[1:]
	}
	return "-" + s
}

func (b *binder) bindComparison(x *sqlparser.ComparisonExpr, sc *scope) (plan.Expr, error) {
	if x.Modifier != sqlparser.Missing {
		return nil, b.errf("any", CodeUnsupported, "ANY/ALL comparisons are not supported; use IN or EXISTS")
	}
	l, err := b.bindExpr(x.Left, sc)
	if err != nil {
		return nil, err
	}
	switch x.Operator {
	case sqlparser.InOp, sqlparser.NotInOp:
		not := x.Operator == sqlparser.NotInOp
		switch r := x.Right.(type) {
		case *sqlparser.Subquery:
			q, _, err := b.bindQuery(r.Select, sc)
			if err != nil {
				return nil, err
			}
			if len(q.Columns) != 1 {
				return nil, errAt(b.sql, -1, CodeType, "IN (subquery) needs one column, this one returns %d", len(q.Columns))
			}
			if _, err := commonType(l.Type(), q.Columns[0].Type); err != nil {
				return nil, errAt(b.sql, -1, CodeType, "IN compares %s with %s; CAST one side", typeName(l.Type()), typeName(q.Columns[0].Type))
			}
			return &plan.InSubquery{X: l, Query: q, Not: not}, nil
		case sqlparser.ValTuple:
			list, err := b.bindExprs(r, sc)
			if err != nil {
				return nil, err
			}
			for i := range list {
				if _, list[i], err = b.comparable("in", l, list[i]); err != nil {
					return nil, err
				}
			}
			return &plan.In{X: l, List: list, Not: not}, nil
		}
		return nil, errAt(b.sql, -1, CodeUnsupported, "unsupported IN form %s", sqlparser.String(x))
	case sqlparser.LikeOp, sqlparser.NotLikeOp:
		if x.Escape != nil {
			return nil, b.errf("escape", CodeUnsupported, "LIKE ... ESCAPE is not supported; the escape character is backslash")
		}
		p, err := b.bindExpr(x.Right, sc)
		if err != nil {
			return nil, err
		}
		if l.Type().ID() != arrow.STRING || p.Type().ID() != arrow.STRING && p.Type().ID() != arrow.NULL {
			return nil, b.errf("like", CodeType, "LIKE needs strings, not %s and %s; CAST to CHAR first", typeName(l.Type()), typeName(p.Type()))
		}
		return &plan.Like{X: l, Pattern: p, Not: x.Operator == sqlparser.NotLikeOp}, nil
	}
	op, ok := cmpOps[x.Operator]
	if !ok {
		return nil, errAt(b.sql, -1, CodeUnsupported, "operator in %s is not supported", sqlparser.String(x))
	}
	r, err := b.bindExpr(x.Right, sc)
	if err != nil {
		return nil, err
	}
	if l, r, err = b.comparable(op, l, r); err != nil {
		return nil, err
	}
	return &plan.Binary{Op: op, L: l, R: r, Typ: plan.Bool}, nil
}

func (b *binder) bindCase(x *sqlparser.CaseExpr, sc *scope) (plan.Expr, error) {
	c := &plan.Case{Typ: plan.Null}
	var operand plan.Expr
	if x.Expr != nil {
		var err error
		if operand, err = b.bindExpr(x.Expr, sc); err != nil {
			return nil, err
		}
	}
	for _, w := range x.Whens {
		cond, err := b.bindExpr(w.Cond, sc)
		if err != nil {
			return nil, err
		}
		if operand != nil {
			l, r, err := b.comparable("when", operand, cond)
			if err != nil {
				return nil, err
			}
			cond = &plan.Binary{Op: "=", L: l, R: r, Typ: plan.Bool}
		} else if err := wantBool(b, cond, "WHEN"); err != nil {
			return nil, err
		}
		then, err := b.bindExpr(w.Val, sc)
		if err != nil {
			return nil, err
		}
		if c.Typ, err = commonType(c.Typ, then.Type()); err != nil {
			return nil, b.errf("case", CodeType, "CASE branches: %v", err)
		}
		c.Whens = append(c.Whens, plan.When{Cond: cond, Then: then})
	}
	if x.Else != nil {
		el, err := b.bindExpr(x.Else, sc)
		if err != nil {
			return nil, err
		}
		if c.Typ, err = commonType(c.Typ, el.Type()); err != nil {
			return nil, b.errf("case", CodeType, "CASE branches: %v", err)
		}
		c.Else = el
	}
	return c, nil
}

// castType maps a MySQL CAST target to an Arrow type.
func castType(ct *sqlparser.ConvertType) (arrow.DataType, error) {
	switch strings.ToLower(ct.Type) {
	case "signed", "signed integer", "integer", "int", "bigint", "unsigned", "unsigned integer":
		return plan.Int64, nil
	case "char", "varchar", "nchar", "text":
		return plan.String, nil
	case "date":
		return plan.Date, nil
	case "datetime", "timestamp":
		return plan.Timestamp, nil
	case "double", "float", "real":
		return plan.Float64, nil
	case "decimal", "numeric":
		p, s := 10, 0
		if ct.Length != nil {
			p = *ct.Length
		}
		if ct.Scale != nil {
			s = *ct.Scale
		}
		if p < 1 || p > 38 || s > p {
			return nil, fmt.Errorf("DECIMAL(%d,%d) is out of range (precision 1..38, scale <= precision)", p, s)
		}
		return decimalType(p, s), nil
	}
	return nil, fmt.Errorf("CAST to %s is not supported; use SIGNED, DECIMAL(p,s), DOUBLE, CHAR, DATE or DATETIME", ct.Type)
}

func (b *binder) bindCast(e sqlparser.Expr, ct *sqlparser.ConvertType, sc *scope) (plan.Expr, error) {
	v, err := b.bindExpr(e, sc)
	if err != nil {
		return nil, err
	}
	t, err := castType(ct)
	if err != nil {
		return nil, b.errf(ct.Type, CodeType, "%v", err)
	}
	// Dates and times have no one number every source agrees on (MySQL
	// gives 20240101, others refuse): say so at bind time.
	from := v.Type().ID()
	if (from == arrow.DATE32 || from == arrow.TIMESTAMP) && (isNum(t) || t.ID() == arrow.BOOL) {
		return nil, b.errf(ct.Type, CodeType, "cannot CAST a %s to %s; use YEAR(), MONTH(), DAY() or DATEDIFF() for numbers from dates", typeName(v.Type()), typeName(t))
	}
	return &plan.Cast{X: v, To: t}, nil
}

// intervalUnit names a MySQL interval unit the way sqlgen expects.
func intervalUnit(u datetime.IntervalType) (string, bool) {
	switch u {
	case datetime.IntervalYear:
		return "year", true
	case datetime.IntervalQuarter:
		return "quarter", true
	case datetime.IntervalMonth:
		return "month", true
	case datetime.IntervalWeek:
		return "week", true
	case datetime.IntervalDay:
		return "day", true
	case datetime.IntervalHour:
		return "hour", true
	case datetime.IntervalMinute:
		return "minute", true
	case datetime.IntervalSecond:
		return "second", true
	case datetime.IntervalMicrosecond:
		return "microsecond", true
	}
	return "", false
}

func unitLit(u string) *plan.Literal { return &plan.Literal{Value: u, Typ: plan.String} }
