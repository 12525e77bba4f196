package report_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lienthong/audit"
	"lienthong/audit/chain"
	"lienthong/audit/report"
	"lienthong/audit/simulate"
	"lienthong/audit/sketch"
	"lienthong/engine"
	"lienthong/health"
)

func keys(t testing.TB) *chain.Keys {
	k, err := chain.NewKeys(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// knownHistory writes a small history whose figures are known by
// construction (see TestReportKnownFigures).
func knownHistory(t *testing.T, dir string) string {
	path := filepath.Join(dir, "audit.log")
	k := keys(t)
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }
	now := day(1, 1).Add(-2 * time.Hour)
	clock := func() time.Time { return now }
	downA := health.Window{From: day(1, 10), To: day(1, 10).Add(12 * time.Hour)}
	downB := health.Window{From: day(2, 5), To: day(2, 6)}
	in := func(w health.Window) bool { return !now.Before(w.From) && now.Before(w.To) }
	mon, err := health.Open(health.Options{Path: chain.HealthPath(path), Keys: k, Node: "n1", Sources: func() []string { return []string{"a", "b"} }, Interval: 10 * time.Minute, Now: clock, NoSync: true},
		health.PingerFunc(func(_ context.Context, src string) (time.Duration, error) {
			if (src == "a" && in(downA)) || (src == "b" && in(downB)) {
				return 0, errors.New("connection refused")
			}
			return 4 * time.Millisecond, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	end := day(3, 1)
	for ; now.Before(end); now = now.Add(10 * time.Minute) {
		if _, err := mon.Probe(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := mon.Close(); err != nil {
		t.Fatal(err)
	}

	now = day(1, 1)
	l, err := audit.Open(audit.Options{Path: path, Keys: k, Node: "n1", Now: clock, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n := 0
	run := func(at time.Time, agency, purpose string, sources []string, begin bool, o engine.Outcome, code string, d time.Duration, rows int64, per map[string]int64) {
		t.Helper()
		n++
		now = at
		a := &engine.Attempt{ID: fmt.Sprint(n), Start: at, Session: engine.Session{Principal: strings.ToLower(agency) + ".u1", Agency: agency, Purpose: purpose}, SQL: "SELECT 1", Sources: sources}
		if begin {
			if err := l.Begin(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		if o == "" {
			return // never ends
		}
		a.Outcome, a.ErrorCode, a.Duration, a.Rows, a.RowsPerSource = o, code, d, rows, per
		if err := l.End(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 100; i++ {
		run(day(1, 15).Add(time.Duration(i)*time.Minute), "X", "P1", []string{"a"}, true, engine.Succeeded, "", time.Duration(i)*time.Millisecond, int64(i), map[string]int64{"a": int64(2 * i)})
	}
	for i := 1; i <= 3; i++ {
		run(day(1, 20).Add(time.Duration(i)*time.Minute), "X", "P1", []string{"a"}, true, engine.Cancelled, "LT-CANCELLED", time.Second, 0, map[string]int64{"a": 1})
	}
	for i := 1; i <= 4; i++ {
		run(day(1, 21).Add(time.Duration(i)*time.Minute), "X", "P1", nil, false, engine.Failed, "LT-SYNTAX", time.Millisecond, 0, nil)
	}
	for i := 1; i <= 20; i++ {
		run(day(2, 5).Add(10*time.Hour+time.Duration(i)*time.Minute), "Y", "P2", []string{"b"}, true, engine.Failed, "LT-SOURCE", 40*time.Millisecond, 0, map[string]int64{"b": 0})
	}
	for i := 1; i <= 10; i++ {
		run(day(2, 10).Add(time.Duration(i)*time.Minute), "Y", "P2", []string{"a", "b"}, true, engine.Succeeded, "", 200*time.Millisecond, 5, map[string]int64{"a": 5, "b": 7})
	}
	for i := 1; i <= 5; i++ {
		run(day(2, 12).Add(time.Duration(i)*time.Minute), "Y", "P2", []string{"b"}, false, engine.Denied, "LT-DENIED", time.Millisecond, 0, nil)
	}
	run(day(2, 20), "X", "P1", []string{"a"}, true, "", "", 0, 0, nil) // the node stops while it runs
	// Outside the period: not counted.
	run(day(3, 2), "X", "P1", []string{"a"}, true, engine.Succeeded, "", time.Millisecond, 1, map[string]int64{"a": 1})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReportKnownFigures(t *testing.T) {
	dir := t.TempDir()
	path := knownHistory(t, dir)
	r, err := report.Build(report.Options{Log: path, From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Label: "test", Loc: time.UTC, Keys: keys(t)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Audit.Tampered || r.Health.Tampered || !r.Audit.Authed {
		t.Fatalf("logs: %+v %+v", r.Audit, r.Health)
	}
	tot := r.Total
	if tot.Attempts != 143 || tot.Succeeded != 110 || tot.Denied != 5 || tot.Failed != 24 || tot.Cancelled != 3 || tot.Unfinished != 1 {
		t.Fatalf("totals: %+v", tot)
	}
	if tot.RowsDelivered != 5050+50 || tot.RowsShared != 10100+3+120 {
		t.Fatalf("rows: delivered %d shared %d", tot.RowsDelivered, tot.RowsShared)
	}
	src := map[string]report.SourceRow{}
	for _, s := range r.Sources {
		src[s.Source] = s
	}
	a, b, none := src["a"], src["b"], src[report.NoSource]
	if a.Attempts != 114 || a.Succeeded != 110 || a.RowsShared != 10100+50+3 || a.Agencies() != 2 || a.Purposes() != 2 || a.Unfinished != 1 || a.Cancelled != 3 {
		t.Fatalf("source a: %+v", a.Counts)
	}
	if b.Attempts != 35 || b.Succeeded != 10 || b.Denied != 5 || b.Failed != 20 || b.RowsShared != 70 || b.FailuresByCode["LT-SOURCE"] != 20 {
		t.Fatalf("source b: %+v", b.Counts)
	}
	if none.Attempts != 4 || none.Failed != 4 {
		t.Fatalf("no source: %+v", none.Counts)
	}
	// p50 of 1..100 ms and ten 200 ms: rank 55 → 55 ms; p95: rank 105 → 200 ms.
	near := func(got, want time.Duration) bool {
		return math.Abs(float64(got-want)) <= sketch.Accuracy*float64(want)
	}
	if p50, p95 := a.Latency.Quantile(0.5), a.Latency.Quantile(0.95); !near(p50, 55*time.Millisecond) || !near(p95, 200*time.Millisecond) {
		t.Fatalf("a latency p50 %v p95 %v", p50, p95)
	}
	// Uptime: a down 12 h in 59 days, b 24 h; probes cover the whole period.
	period := 59 * 24 * time.Hour
	if a.Uptime.Down != 12*time.Hour || a.Uptime.Unmeasured() != 0 || math.Abs(a.Uptime.Percent()-100*float64(period-12*time.Hour)/float64(period)) > 1e-9 {
		t.Fatalf("a uptime: %+v %.6f", a.Uptime, a.Uptime.Percent())
	}
	if b.Uptime.Down != 24*time.Hour || b.Uptime.Outages != 1 || b.Uptime.Longest != 24*time.Hour {
		t.Fatalf("b uptime: down %v outages %d longest %v", b.Uptime.Down, b.Uptime.Outages, b.Uptime.Longest)
	}
	if len(r.Months) != 2 || r.Months[0].Counts.Attempts != 107 || r.Months[1].Counts.Attempts != 36 {
		t.Fatalf("months: %d", len(r.Months))
	}
	if feb := r.Months[1].Uptime["b"]; math.Abs(feb.Percent()-100*float64(28*24-24)/float64(28*24)) > 1e-9 {
		t.Fatalf("b in February: %.6f", feb.Percent())
	}
	if jan := r.Months[0].Uptime["b"]; jan.Percent() != 100 {
		t.Fatalf("b in January: %.6f", jan.Percent())
	}
	ag := map[string]report.AgencyRow{}
	for _, x := range r.Agencies {
		ag[x.Agency] = x
	}
	if ag["X"].Attempts != 108 || ag["Y"].Attempts != 35 || ag["Y"].Sources() != 2 || ag["X"].RowsDelivered != 5050 {
		t.Fatalf("agencies: X %+v Y %+v", ag["X"].Counts, ag["Y"].Counts)
	}
	codes := map[string]int64{}
	for _, f := range r.Failures {
		codes[f.Code] = f.Count
	}
	if codes["LT-SOURCE"] != 20 || codes["LT-SYNTAX"] != 4 || codes["LT-CANCELLED"] != 3 || codes[report.CodeUnfinished] != 1 {
		t.Fatalf("failures: %v", codes)
	}
	checkOutputs(t, r, filepath.Join(dir, "out"))
}

// checkOutputs writes the report and checks every file is well formed.
func checkOutputs(t *testing.T, r *report.Report, dir string) {
	t.Helper()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"report.md", "report.html", "sources.csv", "agencies.csv", "months.csv", "failures.csv", "purposes.csv", "uptime_by_month.csv", "outages.csv", "summary.csv"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", name, err)
		}
	}
	svgs, _ := filepath.Glob(filepath.Join(dir, "*.svg"))
	if len(svgs) != 5 {
		t.Fatalf("charts: %v", svgs)
	}
	for _, f := range svgs {
		b, _ := os.ReadFile(f)
		dec := xml.NewDecoder(bytes.NewReader(b))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s is not well-formed XML: %v", f, err)
			}
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !bytes.Contains(md, []byte("verified: every record intact")) {
		t.Fatalf("report.md does not state the logs verified:\n%s", md)
	}
}

// TestReportAgainstSimulation checks a month of simulated traffic: the
// report's counts equal what the simulation did, its percentiles are
// within the sketch's 1% and its uptime within the probe interval's
// resolution of the true outages.
func TestReportAgainstSimulation(t *testing.T) {
	dir := t.TempDir()
	ict := time.FixedZone("ICT", 7*3600)
	from, to, err := report.ParsePeriod("2026-01", ict)
	if err != nil {
		t.Fatal(err)
	}
	interval := 15 * time.Minute
	truth, err := simulate.Run(context.Background(), simulate.Options{Dir: dir, From: from, To: to, Seed: 7, PerDay: 60, ProbeInterval: interval, Keys: keys(t),
		Restart: time.Date(2026, 1, 20, 2, 0, 0, 0, ict)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Build(report.Options{Log: filepath.Join(dir, "audit.log"), From: from, To: to, Label: "2026-01", Loc: ict, Keys: keys(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Simulated || r.Audit.Tampered || r.Health.Tampered {
		t.Fatalf("simulated %v, audit %+v, health %+v", r.Simulated, r.Audit.Problems, r.Health.Problems)
	}
	same := func(what string, c *report.Counts, tr *simulate.Tally) {
		t.Helper()
		if tr == nil {
			tr = &simulate.Tally{}
		}
		if c.Attempts != tr.Attempts || c.Succeeded != tr.Succeeded || c.Denied != tr.Denied || c.Failed != tr.Failed || c.Cancelled != tr.Cancelled ||
			c.RowsDelivered != tr.RowsDelivered || c.RowsShared != tr.RowsShared || c.Agencies() != len(tr.Agencies) || c.Purposes() != len(tr.Purposes) {
			t.Errorf("%s: report %d/%d/%d/%d/%d rows %d/%d agencies %d purposes %d; truth %d/%d/%d/%d/%d rows %d/%d agencies %d purposes %d", what,
				c.Attempts, c.Succeeded, c.Denied, c.Failed, c.Cancelled, c.RowsDelivered, c.RowsShared, c.Agencies(), c.Purposes(),
				tr.Attempts, tr.Succeeded, tr.Denied, tr.Failed, tr.Cancelled, tr.RowsDelivered, tr.RowsShared, len(tr.Agencies), len(tr.Purposes))
		}
		for code, n := range tr.FailuresByCode {
			if c.FailuresByCode[code] != n {
				t.Errorf("%s: %s failures %d, truth %d", what, code, c.FailuresByCode[code], n)
			}
		}
		for _, q := range []float64{0.5, 0.95} {
			got, want := c.Latency.Quantile(q), tr.Percentile(q)
			if math.Abs(float64(got-want)) > sketch.Accuracy*float64(want)+float64(time.Microsecond) {
				t.Errorf("%s: p%.0f %v, truth %v", what, q*100, got, want)
			}
		}
	}
	same("total", &r.Total, truth.Total)
	if truth.Total.Attempts < 1000 {
		t.Fatalf("too little traffic to test: %d", truth.Total.Attempts)
	}
	for _, s := range r.Sources {
		if s.Source == report.NoSource {
			continue
		}
		same("source "+s.Source, &s.Counts, truth.BySource[s.Source])
		// Measured down time can differ from the truth by up to a probe
		// interval at each end of each outage (queries that fail narrow it).
		tol := time.Duration(2*len(truth.Outages[s.Source])+2) * interval
		if d := s.Uptime.Down - truth.Down[s.Source]; d > tol || d < -tol {
			t.Errorf("source %s: measured down %v, true down %v (tolerance %v)", s.Source, s.Uptime.Down, truth.Down[s.Source], tol)
		}
		// The 30 minutes the node was stopped are unmeasured: the
		// monitor's close record ends what its last probe stands for.
		if um := s.Uptime.Unmeasured(); um != 30*time.Minute {
			t.Errorf("source %s: unmeasured %v", s.Source, um)
		}
		t.Logf("%-7s uptime %.3f%% (true %.3f%%), attempts %d, p95 %v", s.Source, s.Uptime.Percent(),
			100-100*float64(truth.Down[s.Source])/float64(to.Sub(from)), s.Attempts, s.Latency.Quantile(0.95))
	}
	for _, a := range r.Agencies {
		same("agency "+a.Agency, &a.Counts, truth.ByAgency[a.Agency])
	}
	same("month", &r.Months[0].Counts, truth.ByMonth["2026-01"])
	checkOutputs(t, r, filepath.Join(dir, "out"))
}

func TestParsePeriod(t *testing.T) {
	loc := time.UTC
	for in, want := range map[string][2]string{
		"2026-H1": {"2026-01-01", "2026-07-01"}, "2026-h2": {"2026-07-01", "2027-01-01"}, "2026": {"2026-01-01", "2027-01-01"},
		"2026-Q3": {"2026-07-01", "2026-10-01"}, "2026-05": {"2026-05-01", "2026-06-01"},
	} {
		f, to, err := report.ParsePeriod(in, loc)
		if err != nil || f.Format("2006-01-02") != want[0] || to.Format("2006-01-02") != want[1] {
			t.Errorf("%s: %v %v %v", in, f, to, err)
		}
	}
	if _, _, err := report.ParsePeriod("2026-H3", loc); err == nil {
		t.Error("2026-H3 accepted")
	}
}
