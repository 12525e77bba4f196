package planner

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"vitess.io/vitess/go/mysql/datetime"
	"vitess.io/vitess/go/vt/sqlparser"

	"lienthong/catalog"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
)

func typeName(t arrow.DataType) string {
	if t == nil || t.ID() == arrow.NULL {
		return "NULL"
	}
	return catalog.TypeName(t)
}

func decimalType(p, s int) arrow.DataType {
	return &arrow.Decimal128Type{Precision: int32(min(p, 38)), Scale: int32(min(s, 38))}
}

func isNum(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128:
		return true
	}
	return false
}

func isInt(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

func isTemporal(t arrow.DataType) bool {
	return t.ID() == arrow.DATE32 || t.ID() == arrow.TIMESTAMP
}

// decParts returns precision and scale of a numeric type seen as decimal.
func decParts(t arrow.DataType) (int, int) {
	if d, ok := t.(*arrow.Decimal128Type); ok {
		return int(d.Precision), int(d.Scale)
	}
	return 19, 0
}

// commonType is the type two branches (CASE, COALESCE, UNION) widen to.
func commonType(a, b arrow.DataType) (arrow.DataType, error) {
	switch {
	case a.ID() == arrow.NULL:
		return b, nil
	case b.ID() == arrow.NULL || arrow.TypeEqual(a, b):
		return a, nil
	case isInt(a) && isInt(b):
		return plan.Int64, nil
	case isNum(a) && isNum(b):
		if a.ID() == arrow.FLOAT32 || a.ID() == arrow.FLOAT64 || b.ID() == arrow.FLOAT32 || b.ID() == arrow.FLOAT64 {
			return plan.Float64, nil
		}
		pa, sa := decParts(a)
		pb, sb := decParts(b)
		s := max(sa, sb)
		return decimalType(max(pa-sa, pb-sb)+s, s), nil
	case isTemporal(a) && isTemporal(b):
		if a.ID() == arrow.TIMESTAMP {
			return a, nil
		}
		return b, nil
	case a.ID() == arrow.STRING && b.ID() == arrow.STRING:
		return plan.String, nil
	}
	return nil, fmt.Errorf("%s and %s have no common type; CAST one of them", typeName(a), typeName(b))
}

func arithType(op string, a, b arrow.DataType) (arrow.DataType, error) {
	if a.ID() == arrow.NULL {
		a = b
	}
	if b.ID() == arrow.NULL {
		b = a
	}
	if a.ID() == arrow.NULL {
		return plan.Int64, nil
	}
	if !isNum(a) || !isNum(b) {
		if isTemporal(a) || isTemporal(b) {
			return nil, fmt.Errorf("date arithmetic with %s needs DATE_ADD/DATE_SUB or DATEDIFF", op)
		}
		return nil, fmt.Errorf("operator %s needs numbers, not %s and %s", op, typeName(a), typeName(b))
	}
	switch op {
	case "/":
		return plan.Float64, nil
	case "DIV":
		return plan.Int64, nil
	}
	if a.ID() == arrow.FLOAT32 || a.ID() == arrow.FLOAT64 || b.ID() == arrow.FLOAT32 || b.ID() == arrow.FLOAT64 {
		return plan.Float64, nil
	}
	if isInt(a) && isInt(b) {
		return plan.Int64, nil
	}
	pa, sa := decParts(a)
	pb, sb := decParts(b)
	switch op {
	case "*":
		return decimalType(pa+pb, sa+sb), nil
	default:
		s := max(sa, sb)
		return decimalType(max(pa-sa, pb-sb)+s+1, s), nil
	}
}

var cmpOps = map[sqlparser.ComparisonExprOperator]string{
	sqlparser.EqualOp: "=", sqlparser.NotEqualOp: "<>", sqlparser.LessThanOp: "<",
	sqlparser.LessEqualOp: "<=", sqlparser.GreaterThanOp: ">", sqlparser.GreaterEqualOp: ">=",
}

var arithOps = map[sqlparser.BinaryExprOperator]string{
	sqlparser.PlusOp: "+", sqlparser.MinusOp: "-", sqlparser.MultOp: "*", sqlparser.DivOp: "/",
	sqlparser.IntDivOp: "DIV", sqlparser.ModOp: "%",
}

// coerceForCompare turns a string literal compared with a date or timestamp
// into a literal of that type, as MySQL users expect (birth_date >= '2020-01-01').
func (b *binder) coerceForCompare(x, lit plan.Expr) (plan.Expr, error) {
	l, ok := lit.(*plan.Literal)
	if !ok || l.Typ.ID() != arrow.STRING || l.Value == nil {
		return lit, nil
	}
	s := l.Value.(string)
	switch x.Type().ID() {
	case arrow.DATE32:
		d, err := parseDate(s)
		if err != nil {
			return nil, b.errf(s, CodeType, "'%s' is compared with a date but is not one (want YYYY-MM-DD)", s)
		}
		return &plan.Literal{Value: d, Typ: plan.Date}, nil
	case arrow.TIMESTAMP:
		ts, err := parseTimestamp(s)
		if err != nil {
			return nil, b.errf(s, CodeType, "'%s' is compared with a timestamp but is not one (want YYYY-MM-DD HH:MM:SS)", s)
		}
		return &plan.Literal{Value: ts, Typ: x.Type()}, nil
	}
	return lit, nil
}

func (b *binder) comparable(op string, l, r plan.Expr) (plan.Expr, plan.Expr, error) {
	var err error
	if r, err = b.coerceForCompare(l, r); err != nil {
		return nil, nil, err
	}
	if l, err = b.coerceForCompare(r, l); err != nil {
		return nil, nil, err
	}
	if _, err := commonType(l.Type(), r.Type()); err != nil {
		return nil, nil, b.errf(op, CodeType, "cannot compare %s with %s; CAST one side", typeName(l.Type()), typeName(r.Type()))
	}
	return l, r, nil
}

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

func (b *binder) aggregate(name string, arg sqlparser.Expr, distinct bool, over *sqlparser.OverClause, sc *scope) (plan.Expr, error) {
	if !sc.aggOK && over == nil {
		return nil, b.errf(name, CodeType, "aggregate %s is not allowed here (WHERE, GROUP BY and ON are evaluated before grouping); use HAVING", strings.ToUpper(name))
	}
	a := &plan.Agg{Name: name, Distinct: distinct}
	if arg != nil {
		// The argument of an aggregate is evaluated per row.
		saved := sc.aggOK
		sc.aggOK = false
		v, err := b.bindExpr(arg, sc)
		sc.aggOK = saved
		if err != nil {
			return nil, err
		}
		a.Arg = v
	}
	switch name {
	case "count":
		a.Typ = plan.Int64
	case "avg":
		if !isNum(a.Arg.Type()) && a.Arg.Type().ID() != arrow.NULL {
			return nil, b.errf(name, CodeType, "AVG needs a number, not %s", typeName(a.Arg.Type()))
		}
		a.Typ = plan.Float64
	case "sum":
		t := a.Arg.Type()
		switch {
		case isInt(t) || t.ID() == arrow.NULL:
			a.Typ = plan.Int64
		case t.ID() == arrow.DECIMAL128:
			_, s := decParts(t)
			a.Typ = decimalType(38, s)
		case isNum(t):
			a.Typ = plan.Float64
		default:
			return nil, b.errf(name, CodeType, "SUM needs a number, not %s", typeName(t))
		}
	case "min", "max":
		a.Typ = a.Arg.Type()
	}
	if over != nil {
		w, err := b.window(over, sc)
		if err != nil {
			return nil, err
		}
		w.Name, w.Agg, w.Typ = "agg", a, a.Typ
		return w, nil
	}
	sc.sawAgg = true
	return a, nil
}

func (b *binder) window(over *sqlparser.OverClause, sc *scope) (*plan.Window, error) {
	if over.WindowSpec == nil || !over.WindowName.IsEmpty() {
		return nil, b.errf("over", CodeUnsupported, "named windows are not supported; write OVER (PARTITION BY ... ORDER BY ...)")
	}
	spec := over.WindowSpec
	if spec.FrameClause != nil {
		return nil, b.errf("rows", CodeUnsupported, "window frames (ROWS/RANGE) are not supported yet")
	}
	if !sc.aggOK {
		return nil, b.errf("over", CodeType, "window functions are only allowed in the select list and ORDER BY")
	}
	w := &plan.Window{}
	saved := sc.aggOK
	defer func() { sc.aggOK = saved }()
	for _, p := range spec.PartitionClause {
		v, err := b.bindExpr(p, sc)
		if err != nil {
			return nil, err
		}
		w.PartitionBy = append(w.PartitionBy, v)
	}
	for _, o := range spec.OrderClause {
		v, err := b.bindExpr(o.Expr, sc)
		if err != nil {
			return nil, err
		}
		w.OrderBy = append(w.OrderBy, plan.OrderItem{Expr: v, Desc: o.Direction == sqlparser.DescOrder})
	}
	return w, nil
}

// funcType is the result type of a call to f (the registry's Typing) under
// the binder's type rules.
func funcType(f *sqlgen.Function, a []plan.Expr) (arrow.DataType, error) {
	switch f.Typing {
	case sqlgen.FirstArg:
		return a[0].Type(), nil
	case sqlgen.CommonArgs, sqlgen.CommonBranches:
		if f.Typing == sqlgen.CommonBranches {
			a = a[1:]
		}
		t := plan.Null
		for _, x := range a {
			var err error
			if t, err = commonType(t, x.Type()); err != nil {
				return nil, err
			}
		}
		return t, nil
	case sqlgen.ModArgs:
		return arithType("%", a[0].Type(), a[1].Type())
	case sqlgen.Rounded:
		if isInt(a[0].Type()) {
			return plan.Int64, nil
		}
		if d, ok := a[0].Type().(*arrow.Decimal128Type); ok {
			if len(a) == 1 {
				return decimalType(int(d.Precision), 0), nil
			}
			if l, ok := a[1].(*plan.Literal); ok {
				if n, ok := l.Value.(int64); ok && n >= 0 && n <= int64(d.Scale) {
					return decimalType(int(d.Precision), int(n)), nil
				}
			}
			return d, nil
		}
		return plan.Float64, nil
	}
	return f.Result, nil
}

// aliases maps MySQL synonyms to lienthong's canonical function names.
var funcAliases = map[string]string{
	"ifnull": "coalesce", "lcase": "lower", "ucase": "upper", "character_length": "char_length",
	"dayofmonth": "day", "ceiling": "ceil", "pow": "power", "substr": "substring",
	"nfc_normalize": "nfc", "strip_accents": "unaccent",
}

func (b *binder) bindFunction(e sqlparser.Expr, sc *scope) (plan.Expr, error) {
	switch x := e.(type) {
	case *sqlparser.CountStar:
		return b.aggregate("count", nil, false, x.OverClause, sc)
	case *sqlparser.Count:
		if len(x.Args) != 1 {
			return nil, b.errf("count", CodeUnsupported, "COUNT takes one argument")
		}
		return b.aggregate("count", x.Args[0], x.Distinct, x.OverClause, sc)
	case *sqlparser.Sum:
		return b.aggregate("sum", x.Arg, x.Distinct, x.OverClause, sc)
	case *sqlparser.Avg:
		return b.aggregate("avg", x.Arg, x.Distinct, x.OverClause, sc)
	case *sqlparser.Min:
		return b.aggregate("min", x.Arg, x.Distinct, x.OverClause, sc)
	case *sqlparser.Max:
		return b.aggregate("max", x.Arg, x.Distinct, x.OverClause, sc)
	case *sqlparser.ArgumentLessWindowExpr:
		name := map[sqlparser.ArgumentLessWindowExprType]string{
			sqlparser.RowNumberExprType: "row_number", sqlparser.RankExprType: "rank", sqlparser.DenseRankExprType: "dense_rank",
		}[x.Type]
		if name == "" {
			return nil, b.errf("over", CodeUnsupported, "window function %s is not supported", sqlparser.String(x))
		}
		w, err := b.window(x.OverClause, sc)
		if err != nil {
			return nil, err
		}
		w.Name, w.Typ = name, plan.Int64
		return w, nil
	case *sqlparser.CurTimeFuncExpr:
		switch strings.ToLower(x.Name.String()) {
		case "current_date", "curdate", "utc_date":
			return &plan.Literal{Value: b.now.Format("2006-01-02"), Typ: plan.Date}, nil
		default:
			return &plan.Literal{Value: b.now.Format("2006-01-02 15:04:05.999999"), Typ: plan.Timestamp}, nil
		}
	case *sqlparser.SubstrExpr:
		args := []sqlparser.Expr{x.Name, x.From}
		if x.To != nil {
			args = append(args, x.To)
		}
		vals, err := b.bindExprs(args, sc)
		if err != nil {
			return nil, err
		}
		return &plan.Func{Name: "substring", Args: vals, Typ: plan.String}, nil
	case *sqlparser.TrimFuncExpr:
		if x.TrimArg != nil {
			return nil, b.errf("trim", CodeUnsupported, "TRIM(x FROM s) is not supported; TRIM(s) removes spaces")
		}
		v, err := b.bindExpr(x.StringArg, sc)
		if err != nil {
			return nil, err
		}
		name := map[sqlparser.TrimFuncType]string{sqlparser.LTrimType: "ltrim", sqlparser.RTrimType: "rtrim"}[x.TrimFuncType]
		if name == "" {
			name = "trim"
			switch x.Type {
			case sqlparser.LeadingTrimType:
				name = "ltrim"
			case sqlparser.TrailingTrimType:
				name = "rtrim"
			}
		}
		return &plan.Func{Name: name, Args: []plan.Expr{v}, Typ: plan.String}, nil
	case *sqlparser.IntervalDateExpr:
		unit, ok := intervalUnit(x.Unit)
		if !ok {
			return nil, b.errf("interval", CodeUnsupported, "compound INTERVAL units are not supported; use one unit such as DAY or MONTH")
		}
		d, err := b.bindExpr(x.Date, sc)
		if err != nil {
			return nil, err
		}
		if lit, ok := d.(*plan.Literal); ok && lit.Typ.ID() == arrow.STRING {
			if d, err = b.coerceForCompare(&plan.Literal{Typ: plan.Date}, lit); err != nil {
				return nil, err
			}
		}
		n, err := b.bindExpr(x.Interval, sc)
		if err != nil {
			return nil, err
		}
		if !isInt(n.Type()) {
			return nil, b.errf("interval", CodeType, "INTERVAL needs a whole number, not %s", typeName(n.Type()))
		}
		name := "date_add"
		switch x.Syntax {
		case sqlparser.IntervalDateExprDateSub, sqlparser.IntervalDateExprSubdate, sqlparser.IntervalDateExprBinarySub:
			name = "date_sub"
		}
		t := d.Type()
		switch {
		case t.ID() == arrow.DATE32 && (unit == "hour" || unit == "minute" || unit == "second" || unit == "microsecond"):
			t = plan.Timestamp
		case !isTemporal(t):
			return nil, b.errf(name, CodeType, "%s needs a date or timestamp, not %s", strings.ToUpper(name), typeName(t))
		}
		return &plan.Func{Name: name, Args: []plan.Expr{d, n, unitLit(unit)}, Typ: t}, nil
	case *sqlparser.TimestampDiffExpr:
		unit, ok := intervalUnit(x.Unit)
		if !ok {
			return nil, b.errf("timestampdiff", CodeUnsupported, "TIMESTAMPDIFF unit is not supported")
		}
		vals, err := b.bindExprs([]sqlparser.Expr{x.Expr1, x.Expr2}, sc)
		if err != nil {
			return nil, err
		}
		for i := range vals {
			if vals[i], err = b.coerceForCompare(&plan.Literal{Typ: plan.Timestamp}, vals[i]); err != nil {
				return nil, err
			}
		}
		return &plan.Func{Name: "timestampdiff", Args: []plan.Expr{unitLit(unit), vals[0], vals[1]}, Typ: plan.Int64}, nil
	case *sqlparser.ExtractFuncExpr:
		unit, ok := intervalUnit(x.IntervalType)
		if !ok {
			return nil, b.errf("extract", CodeUnsupported, "EXTRACT unit is not supported")
		}
		v, err := b.bindExpr(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		return &plan.Func{Name: "extract", Args: []plan.Expr{unitLit(unit), v}, Typ: plan.Int64}, nil
	case *sqlparser.FuncExpr:
		if !x.Qualifier.IsEmpty() {
			return nil, b.errf(x.Name.String(), CodeUnsupported, "qualified function names are not supported")
		}
		name := x.Name.Lowered()
		switch name {
		case "now", "current_timestamp", "localtime", "localtimestamp", "sysdate", "utc_timestamp":
			return &plan.Literal{Value: b.now.Format("2006-01-02 15:04:05.999999"), Typ: plan.Timestamp}, nil
		case "curdate", "current_date", "utc_date":
			return &plan.Literal{Value: b.now.Format("2006-01-02"), Typ: plan.Date}, nil
		}
		if canon, ok := funcAliases[name]; ok {
			name = canon
		}
		if name == "pin_verify" {
			return b.pinVerify(x.Exprs, sc)
		}
		if name == "substring" {
			return b.bindFunction(&sqlparser.SubstrExpr{Name: x.Exprs[0], From: x.Exprs[1], To: optArg(x.Exprs, 2)}, sc)
		}
		fn, ok := sqlgen.LookupFunction(name)
		if !ok || fn.MaxArgs == 0 {
			msg := fmt.Sprintf("unknown function %s", strings.ToUpper(name))
			if sug := catalog.Closest(name, sqlgen.CallableFunctions()); sug != "" {
				msg += fmt.Sprintf("; did you mean %s?", strings.ToUpper(sug))
			}
			return nil, b.errf(x.Name.String(), CodeUnknown, "%s (docs/sql.md lists the supported functions)", msg)
		}
		if len(x.Exprs) < fn.MinArgs || len(x.Exprs) > fn.MaxArgs {
			return nil, b.errf(x.Name.String(), CodeType, "%s takes %s arguments, got %d", strings.ToUpper(name), argRange(fn), len(x.Exprs))
		}
		args, err := b.bindExprs(x.Exprs, sc)
		if err != nil {
			return nil, err
		}
		if fn.ArgsAs != nil {
			for i := range args {
				if args[i], err = b.coerceForCompare(&plan.Literal{Typ: fn.ArgsAs}, args[i]); err != nil {
					return nil, err
				}
			}
		}
		t, err := funcType(fn, args)
		if err != nil {
			return nil, b.errf(x.Name.String(), CodeType, "%s: %v", strings.ToUpper(name), err)
		}
		return &plan.Func{Name: name, Args: args, Typ: t}, nil
	}
	return nil, errAt(b.sql, -1, CodeUnsupported, "%s is not supported (docs/sql.md lists what is)", sqlparser.String(e))
}

func optArg(es []sqlparser.Expr, i int) sqlparser.Expr {
	if i < len(es) {
		return es[i]
	}
	return nil
}

func argRange(f *sqlgen.Function) string {
	if f.MinArgs == f.MaxArgs {
		return fmt.Sprint(f.MinArgs)
	}
	if f.MaxArgs >= 64 {
		return fmt.Sprintf("at least %d", f.MinArgs)
	}
	return fmt.Sprintf("%d to %d", f.MinArgs, f.MaxArgs)
}
