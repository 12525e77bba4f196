package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
)

// params builds a one-batch binding: cols[i] is the i-th parameter's
// column, every column with the same number of rows.
func params(t *testing.T, cols ...arrow.Array) arrow.RecordBatch {
	t.Helper()
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: "p", Type: c.DataType(), Nullable: true}
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(cols[0].Len()))
	for _, c := range cols {
		c.Release()
	}
	t.Cleanup(rec.Release)
	return rec
}

func strCol(vals ...string) arrow.Array {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vals, nil)
	return b.NewArray()
}

// Flight SQL prepared statements take their ? values from the DoPut
// binding (arrow-go's SetParameters): each row is one execution, the
// results concatenated; every value binds as a literal of its own type.
func TestFlightPreparedParameters(t *testing.T) {
	ts := startServer(t, nil, nil)
	c := flightClient(t, ts.FlightAddr(), nil)
	ctx := withToken(context.Background(), testToken)
	exec := func(ps *flightsql.PreparedStatement) ([]string, error) {
		t.Helper()
		info, err := ps.Execute(ctx)
		if err != nil {
			return nil, err
		}
		rows, _, err := fetch(ctx, c, info)
		return rows, err
	}
	literal := func(sql string) []string {
		t.Helper()
		rows, err := runFlight(ctx, c, sql)
		if err != nil || len(rows) == 0 {
			t.Fatalf("%s: %v %v", sql, rows, err)
		}
		return rows
	}

	ps, err := c.Prepare(ctx, "SELECT n, note FROM d.small WHERE pin = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close(ctx)
	if ps.ParameterSchema() != nil || ps.DatasetSchema().NumFields() != 2 || ps.DatasetSchema().Field(1).Name != "note" {
		t.Fatalf("schemas: parameters %v, dataset %v", ps.ParameterSchema(), ps.DatasetSchema())
	}
	// Executing before binding says what is missing.
	_, err = exec(ps)
	wantCode(t, err, codes.InvalidArgument, "bind their values first")

	ps.SetParameters(params(t, strCol("000000000005")))
	got, err := exec(ps)
	if want := literal("SELECT n, note FROM d.small WHERE pin = '000000000005'"); err != nil || strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("one row: %v %v, want %v", got, err, want)
	}
	// Several rows: one execution each, the results in order.
	ps.SetParameters(params(t, strCol("000000000009", "000000000003", "nobody")))
	got, err = exec(ps)
	if want := append(literal("SELECT n, note FROM d.small WHERE pin = '000000000009'"), literal("SELECT n, note FROM d.small WHERE pin = '000000000003'")...); err != nil || strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("three rows: %v %v, want %v", got, err, want)
	}
	// Injection through a value: it is one string literal, no PIN is it.
	for _, inj := range []string{"000000000005' OR '1'='1", "000000000005'--", `000000000005\' OR 1=1 -- `, "x' UNION SELECT n, pin FROM d.small --"} {
		ps.SetParameters(params(t, strCol(inj)))
		if got, err := exec(ps); err != nil || len(got) != 0 {
			t.Errorf("injection %q: %v %v", inj, got, err)
		}
	}
	// The wrong number of columns is refused.
	ps.SetParameters(params(t, strCol("a"), strCol("b")))
	_, err = exec(ps)
	wantCode(t, err, codes.InvalidArgument, "1 parameter(s)")

	// Typed values: integers, floats, booleans, decimals, dates, NULL.
	typed, err := c.Prepare(ctx, "SELECT pin FROM d.small WHERE n < ? AND ratio < ? AND even = ? AND amount >= ? AND d >= ? AND (note = ? OR note IS NOT NULL) ORDER BY pin")
	if err != nil {
		t.Fatal(err)
	}
	defer typed.Close(ctx)
	ib := array.NewInt64Builder(memory.DefaultAllocator)
	ib.Append(40)
	fb := array.NewFloat64Builder(memory.DefaultAllocator)
	fb.Append(12.5)
	bb := array.NewBooleanBuilder(memory.DefaultAllocator)
	bb.Append(true)
	db := array.NewDecimal128Builder(memory.DefaultAllocator, &arrow.Decimal128Type{Precision: 12, Scale: 2})
	db.Append(decimal128.FromI64(150)) // 1.50
	dtb := array.NewDate32Builder(memory.DefaultAllocator)
	dtb.Append(arrow.Date32FromTime(mustDate(t, "2020-03-05")))
	nb := array.NewStringBuilder(memory.DefaultAllocator)
	nb.AppendNull()
	typed.SetParameters(params(t, ib.NewArray(), fb.NewArray(), bb.NewArray(), db.NewArray(), dtb.NewArray(), nb.NewArray()))
	got, err = exec(typed)
	want := literal("SELECT pin FROM d.small WHERE n < 40 AND ratio < 12.5 AND even = true AND amount >= 1.50 AND d >= '2020-03-05' AND (note = NULL OR note IS NOT NULL) ORDER BY pin")
	if err != nil || strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("typed values: %v %v, want %v", got, err, want)
	}
}

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
