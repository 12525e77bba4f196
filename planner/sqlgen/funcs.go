package sqlgen

import (
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/planner/plan"
)

// Function is one scalar function lienthong supports (docs/sql.md): how the
// binder types a call, and how each dialect that computes it exactly as
// lienthong defines it spells it. A dialect a function has no rendering
// for does not compute it, and calls stay in the residual (DuckDB), which
// renders every function.
type Function struct {
	Name string
	// MinArgs and MaxArgs bound a call by name. MaxArgs 0: the binder builds
	// the call from syntax of its own (EXTRACT, INTERVAL arithmetic,
	// TIMESTAMPDIFF) or from a policy (pseudonym); it is not callable by
	// name.
	MinArgs, MaxArgs int
	// Typing says how the result type follows from the arguments; Result is
	// it for Fixed.
	Typing Typing
	Result arrow.DataType
	// ArgsAs, when set, coerces each argument as if compared with a value of
	// this type (DATEDIFF reads '2026-01-01' as a date).
	ArgsAs arrow.DataType
	// EngineOnly functions exist only in the engine's residual (a UDF holding
	// keys), never in a source, DuckDB-file sources included.
	EngineOnly bool
	render     map[Dialect]renderFunc
}

// Typing is how a function's result type follows from its arguments; the
// binder, which owns the type rules, computes it.
type Typing int

const (
	Fixed          Typing = iota // Function.Result
	FirstArg                     // the first argument's type
	CommonArgs                   // the common type of every argument
	CommonBranches               // the common type of every argument but the first (IF)
	ModArgs                      // the type of first % second (MOD)
	Rounded                      // ROUND's: integers stay integers, decimals keep or lose scale
)

type renderFunc func(r *renderer, f *plan.Func)

// LookupFunction finds a function by its canonical name.
func LookupFunction(name string) (*Function, bool) {
	f, ok := functions[name]
	return f, ok
}

// CallableFunctions are the names a query may call, sorted (for "did you
// mean").
func CallableFunctions() []string {
	var out []string
	for name, f := range functions {
		if f.MaxArgs > 0 {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// computes reports whether d computes function name exactly.
func computes(d Dialect, name string) bool {
	f, ok := functions[name]
	return ok && !f.EngineOnly && f.render[d] != nil
}

// The renderings shared by many functions.
var (
	// duckCall is the function under its own name in DuckDB.
	duckCall renderFunc = func(r *renderer, f *plan.Func) { r.call(f.Name, f.Args...) }
	// upperCall is the function under its own name, upper case, in a source.
	upperCall renderFunc = func(r *renderer, f *plan.Func) { r.call(strings.ToUpper(f.Name), f.Args...) }
	// duckAs is the function under another name in DuckDB.
	duckAs = func(name string) renderFunc {
		return func(r *renderer, f *plan.Func) { r.call(name, f.Args...) }
	}
	// duckPart is a date part as a BIGINT in DuckDB.
	duckPart renderFunc = func(r *renderer, f *plan.Func) {
		r.w("CAST(")
		r.call(dateParts[f.Name], f.Args...)
		r.w(" AS BIGINT)")
	}
	// pgPart is a date part as a BIGINT in PostgreSQL.
	pgPart renderFunc = func(r *renderer, f *plan.Func) {
		r.w("CAST(EXTRACT(", strings.ToUpper(f.Name), " FROM ")
		r.expr(f.Args[0])
		r.w(") AS BIGINT)")
	}
)

// residualOnly is the rendering map of a function only DuckDB computes.
func residualOnly(fn renderFunc) map[Dialect]renderFunc { return map[Dialect]renderFunc{DuckDB: fn} }

// fn declares a function callable by name that only DuckDB computes under
// its own name.
func fn(name string, minArgs, maxArgs int, typing Typing, result arrow.DataType) *Function {
	return &Function{Name: name, MinArgs: minArgs, MaxArgs: maxArgs, Typing: typing, Result: result, render: residualOnly(duckCall)}
}

// with replaces the function's renderings (DuckDB's included).
func (f *Function) with(render map[Dialect]renderFunc) *Function {
	f.render = render
	return f
}

// datePart is YEAR(x) and its kind, a BIGINT.
func datePart(name string, sources map[Dialect]renderFunc) *Function {
	f := fn(name, 1, 1, Fixed, plan.Int64)
	f.render = map[Dialect]renderFunc{DuckDB: duckPart}
	for d, r := range sources {
		f.render[d] = r
	}
	return f
}

var functions = map[string]*Function{}

func init() {
	str, i64 := plan.String, plan.Int64
	for _, f := range []*Function{
		fn("concat", 1, 64, Fixed, str).with(residualOnly(func(r *renderer, f *plan.Func) {
			// MySQL's CONCAT is NULL when any argument is; DuckDB's || agrees.
			r.w("(")
			for i, x := range f.Args {
				if i > 0 {
					r.w(" || ")
				}
				r.castTo(x, plan.String)
			}
			r.w(")")
		})),
		fn("concat_ws", 2, 64, Fixed, str),
		fn("lower", 1, 1, Fixed, str),
		fn("upper", 1, 1, Fixed, str),
		fn("trim", 1, 1, Fixed, str),
		fn("ltrim", 1, 1, Fixed, str),
		fn("rtrim", 1, 1, Fixed, str),
		// MySQL LENGTH counts bytes.
		fn("length", 1, 1, Fixed, i64).with(residualOnly(duckAs("strlen"))),
		fn("char_length", 1, 1, Fixed, i64).with(residualOnly(duckAs("length"))),
		fn("substring", 2, 3, Fixed, str),
		fn("replace", 3, 3, Fixed, str),
		fn("left", 2, 2, Fixed, str),
		fn("right", 2, 2, Fixed, str),
		fn("lpad", 3, 3, Fixed, str),
		fn("rpad", 3, 3, Fixed, str),
		fn("reverse", 1, 1, Fixed, str),
		// INSTR(str, sub) is 1-based, 0 when absent, in both.
		fn("instr", 2, 2, Fixed, i64),
		fn("nfc", 1, 1, Fixed, str).with(residualOnly(duckAs("nfc_normalize"))),
		fn("unaccent", 1, 1, Fixed, str).with(residualOnly(func(r *renderer, f *plan.Func) {
			// Normalise first so precomposed and combining forms lose the
			// same marks; đ is a letter of its own, not a d with a mark.
			r.w("replace(replace(strip_accents(nfc_normalize(")
			r.expr(f.Args[0])
			r.w(")), 'đ', 'd'), 'Đ', 'D')")
		})),
		fn("coalesce", 1, 64, CommonArgs, nil).with(map[Dialect]renderFunc{
			DuckDB: duckCall, Postgres: upperCall, MySQL: upperCall, SQLite: upperCall}),
		fn("nullif", 2, 2, FirstArg, nil),
		fn("greatest", 2, 64, CommonArgs, nil),
		fn("least", 2, 64, CommonArgs, nil),
		fn("abs", 1, 1, FirstArg, nil).with(map[Dialect]renderFunc{DuckDB: duckCall, Postgres: upperCall, MySQL: upperCall}),
		fn("round", 1, 2, Rounded, nil).with(residualOnly(func(r *renderer, f *plan.Func) {
			if len(f.Args) == 1 {
				r.call("round", f.Args[0], &plan.Literal{Value: int64(0), Typ: plan.Int64})
			} else {
				r.call("round", f.Args...)
			}
		})),
		fn("truncate", 2, 2, FirstArg, nil).with(residualOnly(duckAs("trunc"))),
		fn("floor", 1, 1, FirstArg, nil),
		fn("ceil", 1, 1, FirstArg, nil),
		fn("sqrt", 1, 1, Fixed, plan.Float64),
		fn("power", 2, 2, Fixed, plan.Float64),
		fn("ln", 1, 1, Fixed, plan.Float64),
		fn("exp", 1, 1, Fixed, plan.Float64),
		fn("sign", 1, 1, Fixed, i64),
		fn("mod", 2, 2, ModArgs, nil).with(residualOnly(func(r *renderer, f *plan.Func) {
			r.w("(")
			r.expr(f.Args[0])
			r.w(" % NULLIF(")
			r.expr(f.Args[1])
			r.w(", 0))") // MOD(x, 0) is NULL, as x % 0
		})),
		datePart("year", map[Dialect]renderFunc{Postgres: pgPart, MySQL: upperCall}),
		datePart("quarter", nil),
		datePart("month", map[Dialect]renderFunc{Postgres: pgPart, MySQL: upperCall}),
		datePart("week", nil),
		datePart("day", map[Dialect]renderFunc{Postgres: pgPart, MySQL: upperCall}),
		datePart("dayofweek", nil),
		datePart("dayofyear", nil),
		datePart("hour", nil),
		datePart("minute", nil),
		datePart("second", nil),
		{Name: "datediff", MinArgs: 2, MaxArgs: 2, Typing: Fixed, Result: i64, ArgsAs: plan.Date, render: residualOnly(func(r *renderer, f *plan.Func) {
			r.w("date_diff('day', CAST(")
			r.expr(f.Args[1])
			r.w(" AS DATE), CAST(")
			r.expr(f.Args[0])
			r.w(" AS DATE))")
		})},
		fn("date", 1, 1, Fixed, plan.Date).with(residualOnly(func(r *renderer, f *plan.Func) { r.castTo(f.Args[0], plan.Date) })),
		fn("if", 3, 3, CommonBranches, nil).with(residualOnly(func(r *renderer, f *plan.Func) {
			r.w("CASE WHEN ")
			r.expr(f.Args[0])
			r.w(" THEN ")
			r.castTo(f.Args[1], f.Typ)
			r.w(" ELSE ")
			r.castTo(f.Args[2], f.Typ)
			r.w(" END")
		})),
		// Built by the binder from their own syntax. Args: unit literal, value.
		{Name: "extract", render: residualOnly(func(r *renderer, f *plan.Func) {
			unit := f.Args[0].(*plan.Literal).Value.(string)
			r.w("CAST(date_part('", dateParts[unit], "', ")
			r.expr(f.Args[1])
			r.w(") AS BIGINT)")
		})},
		{Name: "date_add", render: residualOnly(dateAdd(" + "))},
		{Name: "date_sub", render: residualOnly(dateAdd(" - "))},
		{Name: "timestampdiff", render: residualOnly(func(r *renderer, f *plan.Func) {
			// DuckDB's date_sub counts whole units like MySQL's
			// TIMESTAMPDIFF. Args: unit literal, from, to.
			unit := f.Args[0].(*plan.Literal).Value.(string)
			r.w("date_sub('", dateParts[unit], "', CAST(")
			r.expr(f.Args[1])
			r.w(" AS TIMESTAMP), CAST(")
			r.expr(f.Args[2])
			r.w(" AS TIMESTAMP))")
		})},
		// A keyed hash computed by the engine's UDF; args: value, purpose.
		// The key itself never appears in SQL.
		{Name: "pseudonym", EngineOnly: true, render: residualOnly(duckAs("lt_pseudonym"))},
	} {
		functions[f.Name] = f
	}
}

// dateAdd renders DATE_ADD / DATE_SUB (args: value, amount, unit literal)
// in DuckDB, keeping the planned type.
func dateAdd(op string) renderFunc {
	return func(r *renderer, f *plan.Func) {
		unit := f.Args[2].(*plan.Literal).Value.(string)
		r.w("CAST((")
		r.expr(f.Args[0])
		r.w(op, "(")
		r.castTo(f.Args[1], plan.Int64)
		r.w(") * INTERVAL 1 ", strings.ToUpper(unit), ") AS ")
		name, _ := DuckDB.CastType(f.Typ)
		r.w(name, ")")
	}
}

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
	fn, ok := functions[f.Name]
	if !ok || fn.render[r.d] == nil {
		r.fail("function %s cannot run in %s", f.Name, r.d)
		return
	}
	fn.render[r.d](r, f)
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
