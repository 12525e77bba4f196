package planner

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"vitess.io/vitess/go/vt/sqlparser"

	"lienthong/catalog"
	"lienthong/planner/plan"
)

// Type rules: how lienthong types operands, arithmetic and comparisons
// (the binder applies them; every dialect must compute the same).

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
