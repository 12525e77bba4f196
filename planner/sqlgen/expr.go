package sqlgen

import (
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
		if r.d.BinaryOperand() != "" && isString(x.X.Type()) && !x.Not {
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
		name, ok := r.d.CastType(l.Typ)
		if !ok {
			r.w("NULL")
			return
		}
		r.w("CAST(NULL AS ", name, ")")
		return
	}
	s, ok := r.d.Literal(l.Value, l.Typ)
	if !ok {
		r.fail("unsupported literal %T", l.Value)
		return
	}
	r.w(s)
}

// cmpOperand renders an operand of a string comparison so that the
// comparison is by code point: MariaDB's default collations are
// case-insensitive and pad spaces, so its operands compare as bytes
// (UTF-8 byte order is code-point order).
func (r *renderer) cmpOperand(e plan.Expr) {
	if isString(e.Type()) {
		r.w(r.d.BinaryOperand())
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
		if coll := r.d.CodePointCollation(); coll != "" && str && x.Op != "=" && x.Op != "<>" {
			r.expr(x.L)
			r.w(coll, " ", x.Op, " ")
			r.expr(x.R)
		} else if r.d.BinaryOperand() != "" && str && x.Op == "=" {
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
		// digits, PostgreSQL's would truncate integers). Dividing by zero
		// gives NULL, as in MySQL, wherever it runs (DuckDB's DOUBLE
		// division would give Infinity, PostgreSQL's an error).
		r.w("(")
		r.castTo(x.L, plan.Float64)
		r.w(" / NULLIF(")
		r.castTo(x.R, plan.Float64)
		r.w(", 0))")
		return
	case "DIV":
		r.w("(")
		r.expr(x.L)
		r.w(r.d.IntDiv(), "NULLIF(")
		r.expr(x.R)
		r.w(", 0))")
		return
	case "%":
		r.w("(")
		r.expr(x.L)
		r.w(" % NULLIF(")
		r.expr(x.R)
		r.w(", 0))")
		return
	}
	r.w("(")
	r.expr(x.L)
	r.w(" ", x.Op, " ")
	r.expr(x.R)
	r.w(")")
}

// like renders x LIKE p with lienthong's one meaning of a pattern
// (docs/sql.md): % and _ are wildcards, backslash escapes the character
// after it (\% \_ \\, and \x is x), and a lone backslash at the end
// matches a backslash, as in MySQL. Sources disagree on the corners
// (PostgreSQL and DuckDB refuse a trailing backslash, SQLite matches
// nothing), so a literal pattern is rewritten into the form where they all
// agree (escapes only before %, _ and backslash) with an explicit ESCAPE;
// a computed pattern is only rendered for DuckDB (CanEval keeps it in the
// residual), which gets the trailing backslash doubled at run time.
func (r *renderer) like(x *plan.Like) {
	r.w("(")
	r.expr(x.X)
	if x.Not {
		r.w(" NOT")
	}
	r.w(" LIKE ")
	if lit, ok := x.Pattern.(*plan.Literal); ok {
		if s, ok := lit.Value.(string); ok {
			r.w(r.d.QuoteString(CanonicalLike(s)))
		} else {
			r.expr(x.Pattern)
		}
	} else {
		// Odd trailing backslashes: append one, so the last is escaped.
		r.w("(CASE WHEN regexp_matches(")
		r.expr(x.Pattern)
		r.w(`, '(^|[^\\])(\\\\)*\\$') THEN `)
		r.expr(x.Pattern)
		r.w(` || '\' ELSE `)
		r.expr(x.Pattern)
		r.w(" END)")
	}
	r.w(r.d.LikeCollation())
	r.w(" ESCAPE ", r.d.QuoteString(`\`))
	r.w(")")
}

// CanonicalLike rewrites a LIKE pattern into the form every source reads
// alike: the same matches, with a backslash only before %, _ and backslash
// (\x becomes x; a trailing lone backslash becomes \\).
func CanonicalLike(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' {
			if i+1 < len(p) {
				i++
				c = p[i]
			}
			switch c {
			case '%', '_', '\\':
				b.WriteByte('\\')
			}
			b.WriteByte(c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// aggRenderer is a built-in dialect that spells some aggregate its own way;
// it reports whether it rendered a.
type aggRenderer interface {
	renderAgg(r *renderer, a *plan.Agg) bool
}

func (r *renderer) agg(a *plan.Agg) {
	if ar, ok := r.d.(aggRenderer); ok && ar.renderAgg(r, a) {
		return
	}
	name := strings.ToUpper(a.Name)
	inner := func() {
		r.w(name, "(")
		if a.Distinct {
			r.w("DISTINCT ")
		}
		if a.Arg == nil {
			r.w("*")
		} else if a.Name == "avg" {
			r.castTo(a.Arg, plan.Float64)
		} else {
			r.expr(a.Arg)
		}
		r.w(")")
	}
	// SUM widens differently in every database; cast to the planned type.
	cast, ok := r.d.CastType(a.Typ)
	if a.Name != "sum" || !ok {
		inner()
		return
	}
	r.w("CAST(")
	inner()
	r.w(" AS ", cast, ")")
}

func (r *renderer) window(x *plan.Window) {
	switch x.Name {
	case "row_number", "rank", "dense_rank":
		r.w(strings.ToUpper(x.Name), "()")
	case "agg":
		// The cast sum() needs goes around the whole window expression.
		name, ok := r.d.CastType(x.Typ)
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
