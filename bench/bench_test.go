package bench

// Fast unit tests of the harness's arithmetic and parsing; the benchmark
// itself never runs under go test (it is `make bench`).

import (
	"bytes"
	"image/png"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"
)

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{3, 1, 2, 10, 4})
	if s.Median != 3 || s.Min != 1 || s.Max != 10 {
		t.Fatalf("odd count: %+v", s)
	}
	if s := Summarize([]float64{4, 1, 3, 2}); s.Median != 2.5 {
		t.Fatalf("even count median %v, want 2.5", s.Median)
	}
	if s := Summarize(nil); s.Median != 0 {
		t.Fatalf("empty: %+v", s)
	}
}

func TestRatiosAndGeoMean(t *testing.T) {
	if r := Ratio(1, 4); r != 0.25 {
		t.Fatalf("Ratio(1,4) = %v", r)
	}
	if r := Ratio(1, 0); r != 0 {
		t.Fatalf("missing peer gives %v, want 0", r)
	}
	if g := GeoMean([]float64{0.1, 0.001}); math.Abs(g-0.01) > 1e-12 {
		t.Fatalf("GeoMean = %v, want 0.01", g)
	}
	if g := GeoMean([]float64{2, 0, 8}); math.Abs(g-4) > 1e-12 {
		t.Fatalf("GeoMean skips zeros: %v, want 4", g)
	}
	qs := []QueryReport{
		{Name: "a", Status: "ok", LienthongVsPeer: 0.1, LienthongVsFloor: 1.5},
		{Name: "b", Status: "ok", LienthongVsPeer: 2, LienthongVsFloor: 3},
		{Name: "c", Status: "mismatch", LienthongVsPeer: 0.0001, LienthongVsFloor: 1},
	}
	tot := Summarise(qs)
	if tot.Counted != 2 || math.Abs(tot.GeoMeanVsPeer-math.Sqrt(0.2)) > 1e-12 || math.Abs(tot.SpeedupVsPeer-1/math.Sqrt(0.2)) > 1e-9 {
		t.Fatalf("totals %+v", tot)
	}
	if strings.Join(tot.SlowerThanPeer, ",") != "b" || strings.Join(tot.OverTwiceFloor, ",") != "b" || strings.Join(tot.NotCounted, ",") != "c" {
		t.Fatalf("goal lists %+v", tot)
	}
	if tot.GoalsMet || tot.GoalSpeedup {
		t.Fatalf("goals should be missed: %+v", tot)
	}
}

// The same answer from Arrow (lienthong, DuckDB) and from pgx (the peer)
// compares equal in any row order, with numbers of different types.
func TestCompareAcrossSystems(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "pin", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 38, Scale: 2}, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"002", "001"}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{7, 3}, nil)
	b.Field(2).(*array.Decimal128Builder).Append(decimal128.FromI64(1800000000)) // 18000000.00
	b.Field(2).(*array.Decimal128Builder).AppendNull()
	b.Field(3).(*array.Date32Builder).AppendValues([]arrow.Date32{
		arrow.Date32FromTime(time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)),
		arrow.Date32FromTime(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))}, nil)
	rec := b.NewRecordBatch()
	got, err := ArrowRows(nil, rec)
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}

	var num pgtype.Numeric
	if err := num.Scan("18000000.00"); err != nil {
		t.Fatal(err)
	}
	var peer []Row
	for _, vals := range [][]any{
		{"001", int32(3), nil, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)},
		{"002", big.NewInt(7), num, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)},
	} {
		r := make(Row, len(vals))
		for i, v := range vals {
			if r[i], err = ValueCell(v); err != nil {
				t.Fatal(err)
			}
		}
		peer = append(peer, r)
	}
	SortRows(got)
	SortRows(peer)
	if d := Compare(got, peer); d != "" {
		t.Fatalf("answers differ: %s", d)
	}
	// A float sum equal up to rounding still matches; a different value,
	// a NULL for a value or a changed string does not.
	a := []Row{{numCell(14334528000), textCell("J06")}}
	if d := Compare(a, []Row{{numCell(14334528000.000002), textCell("J06")}}); d != "" {
		t.Fatalf("rounding: %s", d)
	}
	for _, b := range [][]Row{
		{{numCell(14334529000), textCell("J06")}},
		{{{}, textCell("J06")}},
		{{numCell(14334528000), textCell("j06")}},
		{},
	} {
		if Compare(a, b) == "" {
			t.Fatalf("%v and %v compared equal", a, b)
		}
	}
}

func TestParseExplain(t *testing.T) {
	text := `Plan over catalog version 1
Output: pin string
Returned 1 rows in 169.8 ms
Residual runs in DuckDB over 2 remote stream(s):
  SELECT "c"."pin" FROM "_lt_remote_2" AS "c"
Remote 1 -> hotich (mysql) as _lt_remote_1:
  SELECT ` + "`b`.`child_pin`" + ` FROM ` + "`births`" + ` AS ` + "`b`" + `
  reduced at run time: AND b.child_pin IN (distinct pin of remote 2), when they are few
  read 9944 rows, 160392 bytes in 2 batches, 58.9 ms; scan reduced by 12 keys
Remote 2 -> dancu (postgres) as _lt_remote_2:
  SELECT "c"."pin" FROM "citizens" AS "c" WHERE ("c"."pin" = '001')
  read 1 rows, 13 bytes in 1 batches, 1.0 ms
`
	reads, err := ParseExplain(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(reads) != 2 || reads[0].Source != "hotich" || reads[0].Rows != 9944 || reads[0].Bytes != 160392 ||
		reads[0].ReducedKeys != 12 || reads[0].ReduceBy != "AND b.child_pin IN (distinct pin of remote 2), when they are few" || reads[1].ReducedKeys != -1 || !strings.HasPrefix(reads[0].SQL, "SELECT `b`") ||
		reads[1].Source != "dancu" || reads[1].Rows != 1 || !strings.Contains(reads[1].SQL, `'001'`) {
		t.Fatalf("parsed %+v", reads)
	}
	whole, err := ParseExplain("Plan over catalog version 1\nOutput: n int64\nWhole query runs in source dancu (postgres):\n  SELECT COUNT(*) FROM \"citizens\"\n")
	if err != nil || len(whole) != 1 || whole[0].Source != "dancu" || whole[0].Rows != -1 {
		t.Fatalf("whole query: %+v, %v", whole, err)
	}
	if _, err := ParseExplain("nothing"); err == nil {
		t.Fatal("no remote: want an error")
	}
}

func TestQueriesParseAndBind(t *testing.T) {
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 12 {
		t.Fatalf("%d queries, want at least 12", len(qs))
	}
	params := map[string]string{"pin": "001037244542", "commune": "74031"}
	for _, q := range qs {
		if q.Measures == "" || strings.Contains(q.SQL, "--") {
			t.Errorf("%s: header not parsed", q.Name)
		}
		b, err := q.Bind(params)
		if err != nil {
			t.Errorf("%s: %v", q.Name, err)
			continue
		}
		if strings.Contains(b.SQL, "{{") {
			t.Errorf("%s: unbound placeholder", q.Name)
		}
		for _, x := range b.FloorExtract {
			if strings.Contains(x.SQL, "{{") || x.Source == "" {
				t.Errorf("%s: bad floor-extract %+v", q.Name, x)
			}
		}
	}
	if _, err := qs[0].Bind(map[string]string{"pin": "x'y", "commune": "1"}); err == nil {
		t.Error("a quote in a parameter must be refused")
	}
	sel, err := Select(qs, "q01, q10_dashboard_population")
	if err != nil || len(sel) != 2 {
		t.Fatalf("Select: %d, %v", len(sel), err)
	}
	if _, err := Select(qs, "q99"); err == nil {
		t.Fatal("unknown query: want an error")
	}
}

func TestReportRenders(t *testing.T) {
	rep := &Report{Date: "2026-11-30", Scale: 1, Runs: 5, Warmup: 1, PeerTimeoutS: 300,
		Params: map[string]string{"pin": "001"}, Versions: map[string]string{}, Systems: map[string]string{},
		Queries: []QueryReport{
			{Name: "q01_x", Status: "ok", LienthongS: 0.01, PeerS: 0.5, FloorS: 0.005, LienthongVsPeer: 0.02, LienthongVsFloor: 2},
			{Name: "q02_y", Status: "ok", LienthongS: 2, PeerS: 300, PeerTimeout: true, FloorS: 1, LienthongVsPeer: 2.0 / 300, LienthongVsFloor: 2},
		}}
	rep.Summary = Summarise(rep.Queries)
	md := Markdown(rep, "x.png")
	for _, want := range []string{"| q01_x |", "timeout (>300)", "geometric mean", "x.png"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	b, err := Chart(rep)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
}
