package sqlgen

import (
	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/planner/plan"
)

// CanEval reports whether dialect d computes e exactly as lienthong does, so
// e may be pushed to a source of that dialect. Subqueries are judged by sub,
// which knows where their tables live; nil means they cannot be pushed.
func CanEval(d Dialect, e plan.Expr, sub func(*plan.Query) bool) bool {
	ok := true
	caps := d.Caps()
	if caps.Everything {
		// DuckDB computes everything but the engine's own functions; only
		// subqueries need the caller's word.
		plan.Walk(e, func(x plan.Expr) bool {
			switch v := x.(type) {
			case *plan.Func:
				f, known := functions[v.Name]
				ok = ok && known && !f.EngineOnly
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
	if !caps.Expressions {
		return false
	}
	plan.Walk(e, func(x plan.Expr) bool {
		if !ok {
			return false
		}
		if !typeOK(x.Type()) {
			ok = false
			return false
		}
		switch v := x.(type) {
		case *plan.ColRef, *plan.Literal, *plan.Not, *plan.IsNull, *plan.In, *plan.Between, *plan.Case:
		case *plan.Like:
			// SQLite's LIKE is case-sensitive only under the pragma the
			// connector sets; MariaDB's with the binary collation sqlgen adds.
			// Only a literal pattern is rewritten so that every source
			// reads it alike (see like); SQLite refuses long ones.
			lit, isLit := v.Pattern.(*plan.Literal)
			if !isLit {
				ok = false
			} else if s, isStr := lit.Value.(string); isStr && caps.MaxLikePattern > 0 && len(CanonicalLike(s)) > caps.MaxLikePattern {
				ok = false
			}
		case *plan.Neg:
		case *plan.Binary:
			switch v.Op {
			case "AND", "OR", "=", "<>", "<", "<=", ">", ">=":
				if !caps.ExactDecimals && (isDecimalish(v.L.Type()) || isDecimalish(v.R.Type())) {
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
			ok = computes(d, v.Name)
		case *plan.Agg:
			switch v.Name {
			case "count":
				// MariaDB would count case variants of a string as one.
				ok = caps.StringSets || !v.Distinct || v.Arg == nil || !isString(v.Arg.Type())
			case "sum", "avg":
				ok = v.Arg != nil && (isInteger(v.Arg.Type()) || v.Arg.Type().ID() == arrow.DECIMAL128 && caps.ExactDecimals)
			case "min", "max":
				// Strings order by collation in the sources.
				ok = v.Arg != nil && !isString(v.Arg.Type()) && (caps.ExactDecimals || !isDecimalish(v.Arg.Type()))
			default:
				ok = false
			}
		case *plan.Cast:
			_, ok = d.CastType(v.To)
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

func typeOK(t arrow.DataType) bool {
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
