package wire

import (
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/planner/plan"
)

func TestExprRoundTrip(t *testing.T) {
	dec := &arrow.Decimal128Type{Precision: 12, Scale: 2}
	cols := map[string]arrow.DataType{"pin": plan.String, "born": plan.Date, "n": plan.Int64, "amt": dec, "at": plan.TimestampTZ, "ok": plan.Bool, "x": plan.Float64}
	col := func(n string) *plan.ColRef { return &plan.ColRef{Rel: "t", Name: n, Typ: cols[n]} }
	lit := func(v any, t arrow.DataType) *plan.Literal { return &plan.Literal{Value: v, Typ: t} }
	exprs := []plan.Expr{
		&plan.Binary{Op: "=", L: col("pin"), R: lit("001234567890", plan.String), Typ: plan.Bool},
		&plan.Binary{Op: "AND", L: &plan.Between{X: col("born"), Lo: lit("1990-01-01", plan.Date), Hi: lit("1999-12-31", plan.Date)}, R: &plan.Not{X: &plan.IsNull{X: col("amt"), Not: true}}, Typ: plan.Bool},
		&plan.In{X: col("n"), List: []plan.Expr{lit(int64(-3), plan.Int64), lit(int64(9007199254740993), plan.Int64), &plan.Literal{Typ: plan.Null}}, Not: true},
		&plan.Like{X: col("pin"), Pattern: lit(`0\_1%`, plan.String)},
		&plan.Binary{Op: ">", L: col("amt"), R: lit("-12.50", dec), Typ: plan.Bool},
		&plan.Binary{Op: "<", L: col("at"), R: lit("2026-01-01 00:00:00.123456", plan.TimestampTZ), Typ: plan.Bool},
		&plan.Binary{Op: "=", L: col("x"), R: lit(0.1, plan.Float64), Typ: plan.Bool},
		&plan.Case{Whens: []plan.When{{Cond: col("ok"), Then: lit(int64(1), plan.Int64)}}, Else: &plan.Neg{X: col("n")}, Typ: plan.Int64},
		&plan.Func{Name: "length", Args: []plan.Expr{col("pin")}, Typ: plan.Int64},
		&plan.Cast{X: col("n"), To: plan.String},
	}
	d := &Decoder{Rel: "t", Columns: func(n string) (arrow.DataType, bool) { t, ok := cols[n]; return t, ok }}
	for _, e := range exprs {
		w, err := EncodeExpr(e)
		if err != nil {
			t.Fatalf("encode %#v: %v", e, err)
		}
		back, err := d.Decode(w)
		if err != nil {
			t.Fatalf("decode %+v: %v", w, err)
		}
		if !reflect.DeepEqual(back, e) {
			t.Errorf("round trip changed %#v into %#v", e, back)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	cols := func(n string) (arrow.DataType, bool) {
		if n == "pin" {
			return plan.String, true
		}
		return nil, false
	}
	s := func(v string) *string { return &v }
	pin := Expr{Op: "col", Name: "pin", Type: "utf8"}
	cases := map[string]struct {
		e    Expr
		want Reason
	}{
		"unexported column":   {Expr{Op: "=", Type: "bool", Args: []Expr{{Op: "col", Name: "salary"}, {Op: "lit", Type: "int64", Value: s("1")}}}, RefusedColumn},
		"unknown operator":    {Expr{Op: "||", Type: "utf8", Args: []Expr{pin, pin}}, RefusedFilter},
		"subquery":            {Expr{Op: "exists"}, RefusedFilter},
		"wrong arity":         {Expr{Op: "=", Type: "bool", Args: []Expr{pin}}, RefusedFilter},
		"bad literal":         {Expr{Op: "=", Type: "bool", Args: []Expr{pin, {Op: "lit", Type: "date32", Value: s("yesterday")}}}, RefusedFilter},
		"column type lies":    {Expr{Op: "col", Name: "pin", Type: "int64"}, RefusedFilter},
		"function name":       {Expr{Op: "func", Name: "pg_sleep(1);--", Type: "int64"}, RefusedFilter},
		"unknown type":        {Expr{Op: "lit", Type: "interval", Value: s("1")}, RefusedFilter},
		"literal with args":   {Expr{Op: "lit", Type: "utf8", Value: s("a"), Args: []Expr{pin}}, RefusedFilter},
		"case without a when": {Expr{Op: "case", Type: "int64", Else: true, Args: []Expr{{Op: "lit", Type: "int64", Value: s("1")}}}, RefusedFilter},
	}
	deep := pin
	for range MaxExprDepth + 2 {
		deep = Expr{Op: "not", Args: []Expr{deep}}
	}
	cases["too deep"] = struct {
		e    Expr
		want Reason
	}{deep, RefusedFilter}
	big := Expr{Op: "in", Args: []Expr{pin}}
	for range MaxExprNodes {
		big.Args = append(big.Args, Expr{Op: "lit", Type: "utf8", Value: s("1")})
	}
	cases["too many nodes"] = struct {
		e    Expr
		want Reason
	}{big, RefusedKeys}
	for name, c := range cases {
		d := &Decoder{Rel: "t", Columns: cols}
		_, err := d.Decode(c.e)
		r, ok := err.(Refusal)
		if !ok || r.Reason != c.want {
			t.Errorf("%s: got %v, want refusal %s", name, err, c.want)
		}
	}
}

func TestRequestDecodeStrict(t *testing.T) {
	if _, err := Decode([]byte(`{"version":1,"table":"t","sql":"DROP TABLE t"}`)); err == nil {
		t.Error("a request with an unknown field (sql) was accepted")
	}
	if _, err := Decode([]byte(`{"version":1} {"version":1}`)); err == nil {
		t.Error("trailing data accepted")
	}
	if _, err := Decode(make([]byte, MaxTicketBytes+1)); err == nil {
		t.Error("oversized ticket accepted")
	}
	r := &Request{Version: Version, Nonce: "n", Table: "t", Columns: []string{"pin"}}
	b, _ := r.Encode()
	back, err := Decode(b)
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

func TestRefusalNamesOnlyIdentifiers(t *testing.T) {
	r, ok := ParseRefusal(Refusal{Reason: RefusedColumn, Name: "luong"}.Message())
	if !ok || r.Reason != RefusedColumn || r.Name != "luong" {
		t.Fatalf("got %+v %v", r, ok)
	}
	// An agent that puts a value into a refusal does not get it through.
	r, _ = ParseRefusal("lienthong-agent-refused:column:Nguyễn Văn A 001234567890, born 1990")
	if r.Name != "" || strings.Contains(r.Error(), "Nguy") {
		t.Errorf("refusal carried free text: %q", r.Error())
	}
	r, _ = ParseRefusal("lienthong-agent-refused:column:001234567890")
	if r.Name != "" {
		t.Errorf("a PIN passed as a refusal's name: %q", r.Error())
	}
	r, _ = ParseRefusal("lienthong-agent-refused:0012345678901:x")
	if r.Reason != RefusedRequest || strings.Contains(r.Error(), "001234") {
		t.Errorf("unknown reason passed through: %q", r.Error())
	}
	if _, ok := ParseRefusal("some driver error"); ok {
		t.Error("a plain message parsed as a refusal")
	}
}
