package sqlgen

import (
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/planner/plan"
)

// sourceFuncs lists the functions each source dialect computes exactly as
// lienthong defines them (see docs/sql.md). Everything else runs in the
// DuckDB residual, which renders every function below.
var sourceFuncs = map[Dialect]map[string]bool{
	Postgres: {"coalesce": true, "abs": true, "year": true, "month": true, "day": true},
	MySQL:    {"coalesce": true, "abs": true, "year": true, "month": true, "day": true},
	SQLite:   {"coalesce": true},
}

// engineOnly functions exist only in the engine's residual DuckDB (a UDF
// holding keys), never in a source, DuckDB-file sources included.
var engineOnly = map[string]bool{"pseudonym": true}

// dateParts maps lienthong's date-part names to DuckDB's.
var dateParts = map[string]string{
	"year": "year", "quarter": "quarter", "month": "month", "week": "week", "day": "day",
	"hour": "hour", "minute": "minute", "second": "second", "microsecond": "microsecond",
	"dayofweek": "dayofweek", "dayofyear": "dayofyear",
}

func (r *renderer) args(args []plan.Expr) {
	for i, a := range args {
		if i > 0 {
			r.w(", ")
		}
		r.expr(a)
	}
}

func (r *renderer) call(name string, args ...plan.Expr) {
	r.w(name, "(")
	r.args(args)
	r.w(")")
}

func (r *renderer) function(f *plan.Func) {
	if r.d != DuckDB {
		r.sourceFunction(f)
		return
	}
	a := f.Args
	switch f.Name {
	case "coalesce", "nullif", "lower", "upper", "trim", "ltrim", "rtrim", "abs", "replace",
		"left", "right", "lpad", "rpad", "reverse", "floor", "ceil", "sqrt", "power", "ln", "exp",
		"sign", "greatest", "least", "concat_ws":
		r.call(f.Name, a...)
	case "concat":
		// MySQL's CONCAT is NULL when any argument is; DuckDB's || agrees.
		r.w("(")
		for i, x := range a {
			if i > 0 {
				r.w(" || ")
			}
			r.castTo(x, plan.String)
		}
		r.w(")")
	case "nfc":
		r.call("nfc_normalize", a...)
	case "pseudonym":
		// A keyed hash computed by the engine's UDF; args: value, purpose.
		// The key itself never appears in SQL.
		r.call("lt_pseudonym", a...)
	case "unaccent":
		// Normalise first so precomposed and combining forms lose the same
		// marks; đ is a letter of its own, not a d with a mark.
		r.w("replace(replace(strip_accents(nfc_normalize(")
		r.expr(a[0])
		r.w(")), 'đ', 'd'), 'Đ', 'D')")
	case "length": // MySQL LENGTH counts bytes
		r.call("strlen", a...)
	case "char_length":
		r.call("length", a...)
	case "substring":
		r.call("substring", a...)
	case "instr": // INSTR(str, sub) is 1-based, 0 when absent
		r.call("instr", a...)
	case "round":
		if len(a) == 1 {
			r.call("round", a[0], &plan.Literal{Value: int64(0), Typ: plan.Int64})
		} else {
			r.call("round", a...)
		}
	case "truncate":
		r.call("trunc", a...)
	case "mod":
		r.w("(")
		r.expr(a[0])
		r.w(" % ")
		r.expr(a[1])
		r.w(")")
	case "if":
		r.w("CASE WHEN ")
		r.expr(a[0])
		r.w(" THEN ")
		r.castTo(a[1], f.Typ)
		r.w(" ELSE ")
		r.castTo(a[2], f.Typ)
		r.w(" END")
	case "year", "quarter", "month", "week", "day", "hour", "minute", "second", "dayofweek", "dayofyear":
		r.w("CAST(")
		r.call(dateParts[f.Name], a...)
		r.w(" AS BIGINT)")
	case "extract":
		// Args: unit literal, value.
		unit := a[0].(*plan.Literal).Value.(string)
		r.w("CAST(date_part('", dateParts[unit], "', ")
		r.expr(a[1])
		r.w(") AS BIGINT)")
	case "date_add", "date_sub":
		// Args: value, amount, unit literal.
		unit := a[2].(*plan.Literal).Value.(string)
		op := " + "
		if f.Name == "date_sub" {
			op = " - "
		}
		r.w("CAST((")
		r.expr(a[0])
		r.w(op, "(")
		r.castTo(a[1], plan.Int64)
		r.w(") * INTERVAL 1 ", strings.ToUpper(unit), ") AS ")
		name, _ := TypeName(DuckDB, f.Typ)
		r.w(name, ")")
	case "datediff":
		r.w("date_diff('day', CAST(")
		r.expr(a[1])
		r.w(" AS DATE), CAST(")
		r.expr(a[0])
		r.w(" AS DATE))")
	case "timestampdiff":
		// DuckDB's date_sub counts whole units like MySQL's TIMESTAMPDIFF.
		unit := a[0].(*plan.Literal).Value.(string)
		r.w("date_sub('", dateParts[unit], "', CAST(")
		r.expr(a[1])
		r.w(" AS TIMESTAMP), CAST(")
		r.expr(a[2])
		r.w(" AS TIMESTAMP))")
	case "date":
		r.castTo(a[0], plan.Date)
	default:
		r.fail("function %s has no DuckDB rendering", f.Name)
	}
}

func (r *renderer) sourceFunction(f *plan.Func) {
	if !sourceFuncs[r.d][f.Name] {
		r.fail("function %s cannot run in %s", f.Name, r.d)
		return
	}
	switch f.Name {
	case "year", "month", "day":
		if r.d == Postgres {
			r.w("CAST(EXTRACT(", strings.ToUpper(f.Name), " FROM ")
			r.expr(f.Args[0])
			r.w(") AS BIGINT)")
			return
		}
		r.call(strings.ToUpper(f.Name), f.Args...)
	default:
		r.call(strings.ToUpper(f.Name), f.Args...)
	}
}

// CanEval reports whether dialect d computes e exactly as lienthong does, so
// e may be pushed to a source of that dialect. Subqueries are judged by sub,
// which knows where their tables live; nil means they cannot be pushed.
func CanEval(d Dialect, e plan.Expr, sub func(*plan.Query) bool) bool {
	ok := true
	if d == DuckDB {
		// DuckDB computes everything but the engine's own functions; only
		// subqueries need the caller's word.
		plan.Walk(e, func(x plan.Expr) bool {
			switch v := x.(type) {
			case *plan.Func:
				ok = ok && !engineOnly[v.Name]
			case *plan.Subquery:
				ok = ok && sub != nil && sub(v.Query)
			case *plan.Exists:
				ok = ok && sub != nil && sub(v.Query)
			case *plan.InSubquery:
				ok = ok && sub != nil && sub(v.Query)
			}
			return ok
		})
		return ok
	}
	plan.Walk(e, func(x plan.Expr) bool {
		if !ok {
			return false
		}
		if !typeOK(d, x.Type()) {
			ok = false
			return false
		}
		switch v := x.(type) {
		case *plan.ColRef, *plan.Literal, *plan.Not, *plan.IsNull, *plan.In, *plan.Between, *plan.Case:
		case *plan.Like:
			// SQLite's LIKE is case-sensitive only under the pragma the
			// connector sets; MariaDB's with the binary collation sqlgen adds.
			// SQLite refuses patterns longer than 50,000 bytes
			// (SQLITE_MAX_LIKE_PATTERN_LENGTH): those run in the residual.
			if p, lit := v.Pattern.(*plan.Literal); d == SQLite && lit {
				if s, _ := p.Value.(string); len(s) > 50000 {
					ok = false
				}
			}
		case *plan.Neg:
		case *plan.Binary:
			switch v.Op {
			case "AND", "OR", "=", "<>", "<", "<=", ">", ">=":
				if d == SQLite && (isDecimalish(v.L.Type()) || isDecimalish(v.R.Type())) {
					// SQLite compares text and real decimals by storage class.
					ok = false
				}
			case "+", "-", "*":
				if !isInteger(v.Typ) {
					ok = false
				}
			default:
				ok = false
			}
		case *plan.Func:
			ok = sourceFuncs[d][v.Name]
		case *plan.Agg:
			switch v.Name {
			case "count":
				// MariaDB would count case variants of a string as one.
				ok = !(d == MySQL && v.Distinct && v.Arg != nil && isString(v.Arg.Type()))
			case "sum", "avg":
				ok = v.Arg != nil && (isInteger(v.Arg.Type()) || v.Arg.Type().ID() == arrow.DECIMAL128 && d != SQLite)
			case "min", "max":
				// Strings order by collation in the sources.
				ok = v.Arg != nil && !isString(v.Arg.Type()) && !(d == SQLite && isDecimalish(v.Arg.Type()))
			default:
				ok = false
			}
		case *plan.Cast:
			_, ok = TypeName(d, v.To)
		case *plan.Subquery:
			ok = sub != nil && sub(v.Query)
		case *plan.Exists:
			ok = sub != nil && sub(v.Query)
		case *plan.InSubquery:
			ok = sub != nil && sub(v.Query)
		default:
			ok = false
		}
		return ok
	})
	return ok
}

func typeOK(d Dialect, t arrow.DataType) bool {
	if t == nil {
		return false
	}
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.STRING, arrow.BOOL, arrow.DATE32, arrow.NULL:
		return true
	case arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.TIMESTAMP:
		return true
	}
	return false
}

func isInteger(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
		return true
	}
	return false
}

func isDecimalish(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.DECIMAL128, arrow.FLOAT32, arrow.FLOAT64, arrow.TIMESTAMP:
		return true
	}
	return false
}
