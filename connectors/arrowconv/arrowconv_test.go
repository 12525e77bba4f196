package arrowconv

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"

	"lienthong/connectors"
)

func TestParseDecimal(t *testing.T) {
	cases := []struct {
		in         string
		prec, sc   int32
		want, fail string
	}{
		{"12345678901234.56", 16, 2, "12345678901234.56", ""},
		{"-0.01", 16, 2, "-0.01", ""},
		{"0.5", 16, 2, "0.50", ""},
		{"+7", 5, 2, "7.00", ""},
		{"1.5e2", 5, 0, "150", ""},
		{"1.2300", 5, 2, "1.23", ""},
		{"99999999999999999999999999999999999999", 38, 0, "99999999999999999999999999999999999999", ""},
		{"-1234567890123456789012345678.0123456789", 38, 10, "-1234567890123456789012345678.0123456789", ""},
		{"1.234", 5, 2, "", "fractional"},
		{"1234", 5, 2, "", "precision"},
		{"NaN", 5, 2, "", "not a decimal"},
		{"1.2.3", 5, 2, "", "not a decimal"},
		{"", 5, 2, "", "not a decimal"},
	}
	for _, c := range cases {
		n, err := ParseDecimal(c.in, c.prec, c.sc)
		if c.fail != "" {
			if err == nil || !strings.Contains(err.Error(), c.fail) {
				t.Errorf("%q: want error %q, got %v", c.in, c.fail, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := FormatDecimal(n, c.sc); got != c.want {
			t.Errorf("%q: got %s want %s", c.in, got, c.want)
		}
	}
}

func TestConversions(t *testing.T) {
	dec := &arrow.Decimal128Type{Precision: 10, Scale: 3}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "d", Type: dec, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "n", Type: arrow.Null, Nullable: true},
	}, nil)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b, err := NewBuilder(mem, schema, "src")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	hcm := time.FixedZone("ICT", 7*3600)
	rows := [][]any{
		{int64(-128), []byte("1.500"), []byte("Ánh"), time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 7, 0, 0, 0, hcm), int64(1), int64(3), nil},
		{"12", pgtype.Numeric{Int: big.NewInt(-1), Exp: -2, Valid: true}, "x", "2099-12-31", "2024-01-01T00:00:00.5Z", "0", "2.5", nil},
		{true, 0.1, int64(5), []byte("1970-01-01"), []byte("2024-01-01 07:00:00+07:00"), false, float32(0.5), nil},
		{nil, nil, nil, nil, nil, nil, nil, nil},
	}
	for _, r := range rows {
		if err := b.AppendRow(r); err != nil {
			t.Fatal(err)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	want := []string{
		`[-128 12 1 (null)]`,
		`[1.5 -0.01 0.1 (null)]`,
		`["Ánh" "x" "5" (null)]`,
		`[1900-01-01 2099-12-31 1970-01-01 (null)]`,
		`[1704067200000000 1704067200500000 1704067200000000 (null)]`,
		`[true false false (null)]`,
		`[3 2.5 0.5 (null)]`,
		`[(null) (null) (null) (null)]`,
	}
	for i, col := range rec.Columns() {
		if got := col.String(); got != want[i] {
			t.Errorf("%s: got %s want %s", schema.Field(i).Name, got, want[i])
		}
	}
}

func TestErrorsNameColumnNotValue(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ho_ten", Type: arrow.BinaryTypes.String},
		{Name: "tien", Type: &arrow.Decimal128Type{Precision: 5, Scale: 2}},
		{Name: "so", Type: arrow.PrimitiveTypes.Int16},
		{Name: "luc", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
	}, nil)
	b, err := NewBuilder(memory.NewGoAllocator(), schema, "dancu")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	bad := []any{[]byte("Nguy\xffn"), "123456.78", int64(99999), time.Date(2024, 1, 1, 0, 0, 0, 1, time.UTC)}
	secret := []string{"Nguy", "123456", "99999", "2024"}
	for col, v := range bad {
		err := b.Append(col, v)
		var se *connectors.SourceError
		if err == nil || !errors.As(err, &se) || se.Source != "dancu" || se.Op != "convert" {
			t.Fatalf("col %d: %v", col, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, schema.Field(col).Name) || strings.Contains(msg, secret[col]) {
			t.Errorf("col %d: message must name the column and not the value: %s", col, msg)
		}
	}
}

func TestAppendArrayCasts(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	i32 := array.NewInt32Builder(mem)
	i32.AppendValues([]int32{1, -2, 0}, []bool{true, true, false})
	src := i32.NewArray()
	i32.Release()
	defer src.Release()
	db := array.NewDecimal128Builder(mem, &arrow.Decimal128Type{Precision: 38, Scale: 0})
	db.Append(decimal128.FromI64(42))
	db.AppendNull()
	db.Append(decimal128.FromI64(-7))
	hsrc := db.NewArray()
	db.Release()
	defer hsrc.Release()
	ts := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Nanosecond})
	ts.AppendValues([]arrow.Timestamp{1_000, 2_000, 3_000}, nil)
	tsrc := ts.NewArray()
	ts.Release()
	defer tsrc.Release()

	schema := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "h", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	}, nil)
	b, err := NewBuilder(mem, schema, "s")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	for i, a := range []arrow.Array{src, hsrc, tsrc} {
		if err := b.AppendArray(i, a); err != nil {
			t.Fatal(err)
		}
	}
	b.AddRows(3)
	rec := b.NewRecordBatch()
	defer rec.Release()
	if got := rec.Column(0).String() + rec.Column(1).String(); got != "[1 -2 (null)][42 (null) -7]" {
		t.Fatal(got)
	}
	// Nanoseconds that are not whole microseconds fail rather than truncate.
	ts = array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Nanosecond})
	ts.Append(1_001)
	bad := ts.NewArray()
	ts.Release()
	defer bad.Release()
	if err := b.AppendArray(2, bad); err == nil {
		t.Fatal("sub-microsecond timestamp accepted")
	}
}
