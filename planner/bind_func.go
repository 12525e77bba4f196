package planner

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"vitess.io/vitess/go/vt/sqlparser"

	"lienthong/catalog"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
)

// Binding calls: aggregates, window functions and the functions of the
// registry (sqlgen/funcs.go), which types them.

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
		case "database", "schema":
			// The default source (Options.Database: MySQL's USE), as
			// information_schema queries of BI tools compare it.
			if len(x.Exprs) > 0 {
				return nil, b.errf(x.Name.String(), CodeUnsupported, "%s() takes no arguments", strings.ToUpper(name))
			}
			if b.database == "" {
				return &plan.Literal{Value: nil, Typ: plan.String}, nil
			}
			return &plan.Literal{Value: b.database, Typ: plan.String}, nil
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
