package mysqlwire

import (
	"encoding/json"
	"fmt"
	"testing"

	"vitess.io/vitess/go/sqltypes"
	querypb "vitess.io/vitess/go/vt/proto/query"
)

// The binary protocol's types that go-sql-driver never sends (DECIMAL,
// DATE, unsigned past int64, BIT) become the parameter values the planner
// binds: exact decimals, canonical dates, and a refusal for the rest.
func TestParamValue(t *testing.T) {
	cases := []struct {
		typ  querypb.Type
		raw  string
		want any
	}{
		{sqltypes.Null, "", nil},
		{sqltypes.Int8, "-5", int64(-5)},
		{sqltypes.Int64, "9223372036854775807", int64(9223372036854775807)},
		{sqltypes.Uint64, "18446744073709551615", json.Number("18446744073709551615")},
		{sqltypes.Uint32, "7", int64(7)},
		{sqltypes.Float64, "0.25", 0.25},
		{sqltypes.Decimal, "1250000.50", json.Number("1250000.50")},
		{sqltypes.Date, "2026-3-1", "2026-03-01"},
		{sqltypes.Datetime, "2026-3-1 8:30:0.000000", "2026-03-01 08:30:00"},
		{sqltypes.Datetime, "2026-3-1 8:30:0.000120", "2026-03-01 08:30:00.000120"},
		{sqltypes.VarChar, "P001' OR '1'='1", "P001' OR '1'='1"},
		{sqltypes.Blob, "x", "x"},
	}
	for _, c := range cases {
		got, err := paramValue(c.typ, []byte(c.raw))
		if err != nil || fmt.Sprintf("%T %v", got, got) != fmt.Sprintf("%T %v", c.want, c.want) {
			t.Errorf("%v %q: %T %v, %v; want %T %v", c.typ, c.raw, got, got, err, c.want, c.want)
		}
	}
	for _, c := range []struct {
		typ querypb.Type
		raw string
	}{{sqltypes.Decimal, "1e5"}, {sqltypes.Decimal, "NaN"}, {sqltypes.Int64, "x"}, {sqltypes.Date, "yesterday"}, {sqltypes.Bit, "\x01"}, {sqltypes.Geometry, "x"}} {
		if v, err := paramValue(c.typ, []byte(c.raw)); err == nil {
			t.Errorf("%v %q accepted as %v", c.typ, c.raw, v)
		}
	}
}
