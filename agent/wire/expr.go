package wire

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/planner/plan"
)

// Expr is one node of a filter: the plan IR's pushable expressions as
// JSON. Op is "col", "lit", a binary operator (AND OR = <> < <= > >= + -
// *), "not", "neg", "isnull", "in", "between", "like", "func", "case" or
// "cast". Args are the operands in the IR's order (in: the tested value,
// then the list; between: value, low, high; like: value, pattern; case:
// condition and result pairs, then the ELSE when Else is set).
type Expr struct {
	Op    string  `json:"op"`
	Name  string  `json:"name,omitempty"`  // col: the column; func: the function
	Type  string  `json:"type,omitempty"`  // the node's type (TypeName)
	Value *string `json:"value,omitempty"` // lit: the value's text; absent for NULL
	Args  []Expr  `json:"args,omitempty"`
	Not   bool    `json:"not,omitempty"`
	Else  bool    `json:"else,omitempty"`
}

var binaryOps = map[string]bool{"AND": true, "OR": true, "=": true, "<>": true, "<": true, "<=": true, ">": true, ">=": true, "+": true, "-": true, "*": true}

// EncodeExpr writes e as a wire expression. Column references lose their
// relation: a request reads one table.
func EncodeExpr(e plan.Expr) (Expr, error) {
	t := func(dt arrow.DataType) (string, error) { return TypeName(dt) }
	list := func(es ...plan.Expr) ([]Expr, error) {
		out := make([]Expr, 0, len(es))
		for _, x := range es {
			w, err := EncodeExpr(x)
			if err != nil {
				return nil, err
			}
			out = append(out, w)
		}
		return out, nil
	}
	var w Expr
	var err error
	switch x := e.(type) {
	case *plan.ColRef:
		w = Expr{Op: "col", Name: x.Name}
		w.Type, err = t(x.Typ)
	case *plan.Literal:
		w = Expr{Op: "lit"}
		if w.Type, err = t(x.Typ); err != nil {
			return w, err
		}
		if x.Value != nil {
			v, err := literalText(x.Value)
			if err != nil {
				return w, err
			}
			w.Value = &v
		}
	case *plan.Binary:
		if !binaryOps[x.Op] {
			return w, fmt.Errorf("operator %s is not sent to agents", x.Op)
		}
		w = Expr{Op: x.Op}
		if w.Type, err = t(x.Typ); err != nil {
			return w, err
		}
		w.Args, err = list(x.L, x.R)
	case *plan.Not:
		w = Expr{Op: "not"}
		w.Args, err = list(x.X)
	case *plan.Neg:
		w = Expr{Op: "neg"}
		w.Args, err = list(x.X)
	case *plan.IsNull:
		w = Expr{Op: "isnull", Not: x.Not}
		w.Args, err = list(x.X)
	case *plan.In:
		w = Expr{Op: "in", Not: x.Not}
		w.Args, err = list(append([]plan.Expr{x.X}, x.List...)...)
	case *plan.Between:
		w = Expr{Op: "between", Not: x.Not}
		w.Args, err = list(x.X, x.Lo, x.Hi)
	case *plan.Like:
		w = Expr{Op: "like", Not: x.Not}
		w.Args, err = list(x.X, x.Pattern)
	case *plan.Func:
		w = Expr{Op: "func", Name: x.Name}
		if w.Type, err = t(x.Typ); err != nil {
			return w, err
		}
		w.Args, err = list(x.Args...)
	case *plan.Case:
		w = Expr{Op: "case"}
		if w.Type, err = t(x.Typ); err != nil {
			return w, err
		}
		var args []plan.Expr
		for _, wh := range x.Whens {
			args = append(args, wh.Cond, wh.Then)
		}
		if x.Else != nil {
			args = append(args, x.Else)
			w.Else = true
		}
		w.Args, err = list(args...)
	case *plan.Cast:
		w = Expr{Op: "cast"}
		if w.Type, err = t(x.To); err != nil {
			return w, err
		}
		w.Args, err = list(x.X)
	default:
		return w, fmt.Errorf("expression %T is not sent to agents", e)
	}
	return w, err
}

func literalText(v any) (string, error) {
	switch v := v.(type) {
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case string:
		return v, nil
	}
	return "", fmt.Errorf("literal of Go type %T is not sent to agents", v)
}

// Columns answers for the table a request reads: a column's type when it
// is exported (and may be read or filtered on).
type Columns func(name string) (arrow.DataType, bool)

// Decoder turns wire filters back into plan IR for one table read under
// alias Rel. It checks shape only (columns exist and are exported, types
// agree, operators known, size bounded); whether the agent's database
// computes the result exactly is the caller's question (sqlgen.CanEval).
type Decoder struct {
	Rel     string
	Columns Columns
	nodes   int
}

// Decode converts one filter. Its errors are Refusals.
func (d *Decoder) Decode(w Expr) (plan.Expr, error) { return d.decode(w, 0) }

var funcName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`)

func (d *Decoder) decode(w Expr, depth int) (plan.Expr, error) {
	d.nodes++
	if d.nodes > MaxExprNodes {
		return nil, Refusal{Reason: RefusedKeys}
	}
	if depth > MaxExprDepth {
		return nil, Refusal{Reason: RefusedFilter}
	}
	bad := Refusal{Reason: RefusedFilter}
	args := func(n int) ([]plan.Expr, error) {
		if n >= 0 && len(w.Args) != n || n < 0 && len(w.Args) < -n {
			return nil, bad
		}
		out := make([]plan.Expr, len(w.Args))
		for i, a := range w.Args {
			x, err := d.decode(a, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	}
	typ := func() (arrow.DataType, error) {
		t, err := ParseType(w.Type)
		if err != nil {
			return nil, bad
		}
		return t, nil
	}
	switch w.Op {
	case "col":
		ct, ok := d.Columns(w.Name)
		if !ok {
			return nil, Refusal{Reason: RefusedColumn, Name: w.Name}
		}
		if w.Type != "" {
			if t, err := typ(); err != nil || !arrow.TypeEqual(t, ct) {
				return nil, bad
			}
		}
		return &plan.ColRef{Rel: d.Rel, Name: w.Name, Typ: ct}, nil
	case "lit":
		t, err := typ()
		if err != nil {
			return nil, err
		}
		if len(w.Args) > 0 {
			return nil, bad
		}
		if w.Value == nil {
			return &plan.Literal{Typ: t}, nil
		}
		v, err := literalValue(*w.Value, t)
		if err != nil {
			return nil, bad
		}
		return &plan.Literal{Value: v, Typ: t}, nil
	case "not", "neg", "isnull":
		a, err := args(1)
		if err != nil {
			return nil, err
		}
		switch w.Op {
		case "not":
			return &plan.Not{X: a[0]}, nil
		case "neg":
			return &plan.Neg{X: a[0]}, nil
		}
		return &plan.IsNull{X: a[0], Not: w.Not}, nil
	case "in":
		a, err := args(-2)
		if err != nil {
			return nil, err
		}
		return &plan.In{X: a[0], List: a[1:], Not: w.Not}, nil
	case "between":
		a, err := args(3)
		if err != nil {
			return nil, err
		}
		return &plan.Between{X: a[0], Lo: a[1], Hi: a[2], Not: w.Not}, nil
	case "like":
		a, err := args(2)
		if err != nil {
			return nil, err
		}
		return &plan.Like{X: a[0], Pattern: a[1], Not: w.Not}, nil
	case "func":
		if !funcName.MatchString(w.Name) {
			return nil, bad
		}
		t, err := typ()
		if err != nil {
			return nil, err
		}
		a, err := args(len(w.Args))
		if err != nil {
			return nil, err
		}
		return &plan.Func{Name: w.Name, Args: a, Typ: t}, nil
	case "case":
		t, err := typ()
		if err != nil {
			return nil, err
		}
		a, err := args(len(w.Args))
		if err != nil {
			return nil, err
		}
		c := &plan.Case{Typ: t}
		if w.Else {
			if len(a) == 0 {
				return nil, bad
			}
			c.Else, a = a[len(a)-1], a[:len(a)-1]
		}
		if len(a) == 0 || len(a)%2 != 0 {
			return nil, bad
		}
		for i := 0; i < len(a); i += 2 {
			c.Whens = append(c.Whens, plan.When{Cond: a[i], Then: a[i+1]})
		}
		return c, nil
	case "cast":
		t, err := typ()
		if err != nil {
			return nil, err
		}
		a, err := args(1)
		if err != nil {
			return nil, err
		}
		return &plan.Cast{X: a[0], To: t}, nil
	}
	if binaryOps[w.Op] {
		t, err := typ()
		if err != nil {
			return nil, err
		}
		a, err := args(2)
		if err != nil {
			return nil, err
		}
		return &plan.Binary{Op: w.Op, L: a[0], R: a[1], Typ: t}, nil
	}
	return nil, bad
}

// literalValue parses a literal's text into the IR's Go value for type t:
// bool, int64, float64, or the canonical text of strings, dates,
// timestamps and decimals (checked to parse as such).
func literalValue(s string, t arrow.DataType) (any, error) {
	switch t.ID() {
	case arrow.BOOL:
		return strconv.ParseBool(s)
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
		return strconv.ParseInt(s, 10, 64)
	case arrow.FLOAT32, arrow.FLOAT64:
		return strconv.ParseFloat(s, 64)
	case arrow.STRING:
		return s, nil
	case arrow.DATE32:
		if !dateText.MatchString(s) {
			return nil, fmt.Errorf("not a date")
		}
		return s, nil
	case arrow.TIMESTAMP:
		if !timestampText.MatchString(s) {
			return nil, fmt.Errorf("not a timestamp")
		}
		return s, nil
	case arrow.DECIMAL128:
		if !decimalText.MatchString(s) {
			return nil, fmt.Errorf("not a decimal")
		}
		return s, nil
	}
	return nil, fmt.Errorf("no literal of type %s", t)
}

var (
	dateText      = regexp.MustCompile(`^-?\d{4,6}-\d{2}-\d{2}$`)
	timestampText = regexp.MustCompile(`^-?\d{4,6}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}(:?\d{2})?)?$`)
	decimalText   = regexp.MustCompile(`^-?\d{1,38}(\.\d{1,38})?$`)
)
