package sqlgen

import (
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/planner/plan"
)

func (r *renderer) expr(e plan.Expr) {
	switch x := e.(type) {
	case *plan.ColRef:
		r.ident(x.Rel)
		r.w(".")
		r.ident(x.Name)
	case *plan.Literal:
		r.literal(x)
	case *plan.Binary:
		r.binary(x)
	case *plan.Not:
		r.w("(NOT ")
		r.expr(x.X)
		r.w(")")
	case *plan.Neg:
		r.w("(- ")
		r.expr(x.X)
		r.w(")")
	case *plan.IsNull:
		r.w("(")
		r.expr(x.X)
		if x.Not {
			r.w(" IS NOT NULL)")
		} else {
			r.w(" IS NULL)")
		}
	case *plan.In:
		if r.d == MySQL && isString(x.X.Type()) && !x.Not {
			// As for equality: the plain IN lets MariaDB use an index, the
			// binary one makes the match exact.
			r.w("(")
			r.expr(x.X)
			r.w(" IN (")
			for i, v := range x.List {
				if i > 0 {
					r.w(", ")
				}
				r.expr(v)
			}
			r.w(") AND ")
			defer r.w(")")
		}
		r.w("(")
		r.cmpOperand(x.X)
		if x.Not {
			r.w(" NOT")
		}
		r.w(" IN (")
		for i, v := range x.List {
			if i > 0 {
				r.w(", ")
			}
			r.cmpOperand(v)
		}
		r.w("))")
	case *plan.Between:
		r.w("(")
		r.cmpOperand(x.X)
		if x.Not {
			r.w(" NOT")
		}
		r.w(" BETWEEN ")
		r.cmpOperand(x.Lo)
		r.w(" AND ")
		r.cmpOperand(x.Hi)
		r.w(")")
	case *plan.Like:
		r.like(x)
	case *plan.Func:
		r.function(x)
	case *plan.Agg:
		r.agg(x)
	case *plan.Window:
		r.window(x)
	case *plan.Case:
		r.w("CASE")
		for _, wh := range x.Whens {
			r.w(" WHEN ")
			r.expr(wh.Cond)
			r.w(" THEN ")
			r.castTo(wh.Then, x.Typ)
		}
		if x.Else != nil {
			r.w(" ELSE ")
			r.castTo(x.Else, x.Typ)
		}
		r.w(" END")
	case *plan.Cast:
		r.castTo(x.X, x.To)
	case *plan.Subquery:
		r.w("(")
		r.query(x.Query, false)
		r.w(")")
	case *plan.Exists:
		if x.Not {
			r.w("(NOT EXISTS (")
		} else {
			r.w("(EXISTS (")
		}
		r.query(x.Query, false)
		r.w("))")
	case *plan.InSubquery:
		r.w("(")
		r.cmpOperand(x.X)
		if x.Not {
			r.w(" NOT")
		}
		r.w(" IN (")
		r.query(x.Query, false)
		r.w("))")
	case *plan.OutputRef:
		r.fail("output reference outside ORDER BY")
	default:
		r.fail("unknown expression %T", e)
	}
}

func (r *renderer) literal(l *plan.Literal) {
	if l.Value == nil {
		if l.Typ == nil || l.Typ.ID() == arrow.NULL {
			r.w("NULL")
			return
		}
		name, ok := TypeName(r.d, l.Typ)
		if !ok {
			r.w("NULL")
			return
		}
		r.w("CAST(NULL AS ", name, ")")
		return
	}
	switch v := l.Value.(type) {
	case bool:
		switch {
		case r.d == SQLite && v:
			r.w("1")
		case r.d == SQLite:
			r.w("0")
		case v:
			r.w("TRUE")
		default:
			r.w("FALSE")
		}
	case int64:
		r.w(strconv.FormatInt(v, 10))
	case float64:
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEn") {
			s += ".0"
		}
		if r.d == DuckDB || r.d == Postgres {
			// A bare 1.5 is DECIMAL in both; lienthong typed it DOUBLE.
			name, _ := TypeName(r.d, plan.Float64)
			r.w("CAST(", s, " AS ", name, ")")
			return
		}
		r.w(s)
	case string:
		switch l.Typ.ID() {
		case arrow.DATE32:
			if r.d == SQLite {
				r.w(QuoteString(r.d, v))
			} else {
				r.w("DATE ", QuoteString(r.d, v))
			}
		case arrow.TIMESTAMP:
			switch r.d {
			case SQLite:
				r.w(QuoteString(r.d, v))
			case MySQL:
				r.w("TIMESTAMP ", QuoteString(r.d, v))
			default:
				name, _ := TypeName(r.d, l.Typ)
				r.w("CAST(", QuoteString(r.d, v), " AS ", name, ")")
			}
		case arrow.DECIMAL128:
			if r.d == SQLite {
				r.w(v)
				return
			}
			name, _ := TypeName(r.d, l.Typ)
			r.w("CAST(", QuoteString(r.d, v), " AS ", name, ")")
		default:
			r.w(QuoteString(r.d, v))
		}
	default:
		r.fail("unsupported literal %T", l.Value)
	}
}

// cmpOperand renders an operand of a string comparison so that the
// comparison is by code point: MariaDB's default collations are
// case-insensitive and pad spaces, so its operands compare as bytes
// (UTF-8 byte order is code-point order).
func (r *renderer) cmpOperand(e plan.Expr) {
	if r.d == MySQL && isString(e.Type()) {
		r.w("BINARY ")
	}
	r.expr(e)
}

func (r *renderer) binary(x *plan.Binary) {
	switch x.Op {
	case "AND", "OR":
		r.w("(")
		r.expr(x.L)
		r.w(" ", x.Op, " ")
		r.expr(x.R)
		r.w(")")
		return
	case "=", "<>", "<", "<=", ">", ">=":
		str := isString(x.L.Type()) || isString(x.R.Type())
		r.w("(")
		if r.d == Postgres && str && x.Op != "=" && x.Op != "<>" {
			// Range comparison by code point whatever the column collation.
			r.expr(x.L)
			r.w(` COLLATE "C" `, x.Op, " ")
			r.expr(x.R)
		} else if r.d == MySQL && str && x.Op == "=" {
			// The plain equality lets MariaDB use an index; the binary one
			// makes the comparison exact.
			r.expr(x.L)
			r.w(" = ")
			r.expr(x.R)
			r.w(" AND ")
			r.cmpOperand(x.L)
			r.w(" = ")
			r.cmpOperand(x.R)
		} else {
			r.cmpOperand(x.L)
			r.w(" ", x.Op, " ")
			r.cmpOperand(x.R)
		}
		r.w(")")
		return
	case "/":
		// Division is DOUBLE everywhere (MySQL's would be DECIMAL with 4
		// digits, PostgreSQL's would truncate integers).
		r.w("(")
		r.castTo(x.L, plan.Float64)
		r.w(" / ")
		r.castTo(x.R, plan.Float64)
		r.w(")")
		return
	case "DIV":
		r.w("(")
		r.expr(x.L)
		switch r.d {
		case DuckDB:
			r.w(" // ")
		case MySQL:
			r.w(" DIV ")
		default:
			r.w(" / ")
		}
		r.expr(x.R)
		r.w(")")
		return
	}
	r.w("(")
	r.expr(x.L)
	r.w(" ", x.Op, " ")
	r.expr(x.R)
	r.w(")")
}

func (r *renderer) like(x *plan.Like) {
	r.w("(")
	r.expr(x.X)
	if x.Not {
		r.w(" NOT")
	}
	r.w(" LIKE ")
	r.expr(x.Pattern)
	switch r.d {
	case MySQL:
		// utf8mb4_bin LIKE is case-sensitive and matches '_' per character.
		r.w(" COLLATE utf8mb4_bin")
	case Postgres, SQLite, DuckDB:
		r.w(" ESCAPE ", QuoteString(r.d, `\`))
	}
	r.w(")")
}

func (r *renderer) agg(a *plan.Agg) {
	name := strings.ToUpper(a.Name)
	inner := func() {
		r.w(name, "(")
		if a.Distinct {
			r.w("DISTINCT ")
		}
		if a.Arg == nil {
			r.w("*")
		} else if a.Name == "avg" && r.d != MySQL {
			r.castTo(a.Arg, plan.Float64)
		} else {
			r.expr(a.Arg)
		}
		r.w(")")
	}
	switch {
	case a.Name == "avg" && r.d == MySQL:
		// MySQL's AVG is DECIMAL with 4 digits; lienthong's is DOUBLE.
		r.w("(CAST(SUM(")
		if a.Distinct {
			r.w("DISTINCT ")
		}
		r.expr(a.Arg)
		r.w(") AS DOUBLE) / COUNT(")
		if a.Distinct {
			r.w("DISTINCT ")
		}
		r.expr(a.Arg)
		r.w("))")
	case a.Name == "count" || a.Name == "avg" || r.d == DuckDB && a.Name != "sum":
		inner()
	default:
		// SUM widens differently in every database; cast to the planned type.
		name2, ok := TypeName(r.d, a.Typ)
		if !ok || a.Name != "sum" {
			inner()
			return
		}
		r.w("CAST(")
		inner()
		r.w(" AS ", name2, ")")
	}
}

func (r *renderer) window(x *plan.Window) {
	switch x.Name {
	case "row_number", "rank", "dense_rank":
		r.w(strings.ToUpper(x.Name), "()")
	case "agg":
		// The cast sum() needs goes around the whole window expression.
		name, ok := TypeName(r.d, x.Typ)
		if x.Agg.Name == "sum" && ok {
			r.w("CAST(")
			defer r.w(" AS ", name, ")")
		}
		a := *x.Agg
		a.Name = strings.ToUpper(a.Name)
		r.w(a.Name, "(")
		if a.Distinct {
			r.w("DISTINCT ")
		}
		if a.Arg == nil {
			r.w("*")
		} else if x.Agg.Name == "avg" {
			r.castTo(a.Arg, plan.Float64)
		} else {
			r.expr(a.Arg)
		}
		r.w(")")
	default:
		r.fail("unknown window function %s", x.Name)
		return
	}
	r.w(" OVER (")
	if len(x.PartitionBy) > 0 {
		r.w("PARTITION BY ")
		for i, p := range x.PartitionBy {
			if i > 0 {
				r.w(", ")
			}
			r.expr(p)
		}
	}
	if len(x.OrderBy) > 0 {
		if len(x.PartitionBy) > 0 {
			r.w(" ")
		}
		r.w("ORDER BY ")
		for i, o := range x.OrderBy {
			if i > 0 {
				r.w(", ")
			}
			r.orderKey(o.Expr, o.Desc)
		}
	}
	r.w(")")
}
