package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Options control one benchmark run.
type Options struct {
	Setup        SetupOptions
	Runs         int    // counted runs per system and query
	Warmup       int    // warm-up runs per system and query (results checked)
	Queries      string // comma-separated names or prefixes; empty: all
	Out          string // results directory
	PeerTimeout  time.Duration
	LienthongBin string // the CLI for peak-RSS runs
	SkipRSS      bool
	// MaxBusy, when positive, makes each query wait (up to MaxBusyWait)
	// until the machine's CPUs, sampled for 2 s while the benchmark is
	// idle, are busy less than this fraction: other work on a 2-core
	// machine distorts every timing.
	MaxBusy     float64
	MaxBusyWait time.Duration
	Log         io.Writer
}

// Report is the results file.
type Report struct {
	Date            string            `json:"date"`
	Scale           float64           `json:"scale"`
	Seed            int64             `json:"seed"`
	Machine         string            `json:"machine"`
	Versions        map[string]string `json:"versions"`
	Runs            int               `json:"runs"`
	Warmup          int               `json:"warmup"`
	PeerTimeoutS    float64           `json:"peer_timeout_s"`
	Params          map[string]string `json:"params"`
	Systems         map[string]string `json:"systems"`
	Queries         []QueryReport     `json:"queries"`
	Summary         Totals            `json:"summary"`
	SetupReusedData bool              `json:"setup_reused_data"`
	// Lienthong is the source tree measured: HEAD and whether the work
	// tree had uncommitted changes.
	Lienthong string `json:"lienthong_tree"`
}

// QueryReport is one query's measurements. Times are seconds; the headline
// *_s fields are medians of the counted runs.
type QueryReport struct {
	Name     string `json:"name"`
	Measures string `json:"measures"`
	SQL      string `json:"sql"`
	// LoadAvg is the 1-minute load average when the query started, Busy
	// the fraction of CPU time others used in the 2 s before it started.
	LoadAvg float64 `json:"loadavg_1m"`
	Busy    float64 `json:"cpu_busy_before"`
	// Status is "ok" when all three systems returned the same rows on every
	// run; otherwise "mismatch" or "error", and the timings do not count.
	Status     string   `json:"status"`
	Problems   []string `json:"problems,omitempty"`
	ResultRows int      `json:"result_rows"`

	LienthongS     float64   `json:"lienthong_s"`
	LienthongMinS  float64   `json:"lienthong_min_s"`
	LienthongMaxS  float64   `json:"lienthong_max_s"`
	LienthongRuns  []float64 `json:"lienthong_runs_s"`
	LienthongRSSMB float64   `json:"lienthong_rss_mb"`
	// LienthongCLIS is the wall time of the peak-RSS subprocess run,
	// engine start-up included.
	LienthongCLIS float64 `json:"lienthong_cli_s"`

	PeerS       float64   `json:"peer_s"` // the timeout when PeerTimeout
	PeerMinS    float64   `json:"peer_min_s"`
	PeerMaxS    float64   `json:"peer_max_s"`
	PeerRuns    []float64 `json:"peer_runs_s"`
	PeerTimeout bool      `json:"peer_timeout"`

	FloorS        float64   `json:"floor_s"` // FloorQueryS + FloorExtractS per run, median
	FloorMinS     float64   `json:"floor_min_s"`
	FloorMaxS     float64   `json:"floor_max_s"`
	FloorRuns     []float64 `json:"floor_runs_s"`
	FloorQueryS   float64   `json:"floor_query_s"`
	FloorExtractS float64   `json:"floor_extract_s"`
	// FloorExtractFrom says where the extraction statements came from:
	// "explain" (lienthong's remotes) or "query file" (static per-query
	// statements where lienthong's plan reads more than the query needs).
	FloorExtractFrom string         `json:"floor_extract_from"`
	FloorExtract     []ExtractStats `json:"floor_extract"`

	LienthongVsPeer  float64 `json:"lienthong_vs_peer"`  // lienthong_s / peer_s; < 1 is faster
	LienthongVsFloor float64 `json:"lienthong_vs_floor"` // lienthong_s / floor_s

	// Sources are lienthong's remotes with rows and bytes read (EXPLAIN ANALYZE).
	Sources        []SourceRead `json:"sources"`
	RowsRead       int64        `json:"lienthong_rows_read"`
	BytesRead      int64        `json:"lienthong_bytes_read"`
	ExplainAnalyze string       `json:"lienthong_explain_analyze,omitempty"`
	PeerPlan       string       `json:"peer_plan,omitempty"`
}

// ExtractStats is one floor extraction statement and what it returned.
type ExtractStats struct {
	Extract
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
}

// Counted says whether the query's timings count (all answers equal).
func (q *QueryReport) Counted() bool { return q.Status == "ok" }

// Run sets up, runs every selected query and writes the results files.
func Run(ctx context.Context, o Options) (*Report, []string, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	all, err := Queries()
	if err != nil {
		return nil, nil, err
	}
	qs, err := Select(all, o.Queries)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(o.LienthongBin); err != nil && !o.SkipRSS {
		return nil, nil, fmt.Errorf("%s not found (run `make build`, or `make bench`, which builds it): %w", o.LienthongBin, err)
	}
	env, err := Setup(ctx, o.Setup)
	if err != nil {
		return nil, nil, err
	}
	floor, err := OpenFloor(ctx, env.Oracle, env.Config)
	if err != nil {
		return nil, nil, err
	}
	defer floor.Close()
	peer, err := OpenPeer(ctx, env.HubDSN, o.PeerTimeout)
	if err != nil {
		return nil, nil, err
	}
	defer peer.Close()
	lt, err := OpenLienthong(ctx, env.Config, o.LienthongBin)
	if err != nil {
		return nil, nil, err
	}
	defer lt.Close()
	params, err := Params(ctx, floor.Oracle())
	if err != nil {
		return nil, nil, err
	}
	logf("bench: parameters %v", params)

	rep := &Report{
		Date: time.Now().Format("2006-01-02"), Scale: o.Setup.Scale, Seed: o.Setup.Seed,
		Machine: machine(), Runs: o.Runs, Warmup: o.Warmup, PeerTimeoutS: o.PeerTimeout.Seconds(),
		Params: params, SetupReusedData: env.Reused, Lienthong: treeState(ctx),
		Versions: map[string]string{
			"go":         runtime.Version(),
			"postgresql": peer.Version(ctx),
			"mariadb":    mariaDBVersion(ctx, o.Setup.MySQLDSN),
			"duckdb":     floor.DuckDBVersion(ctx),
		},
		Systems: map[string]string{
			"lienthong": "in-process engine.New + Engine.Query over the generated sources (PostgreSQL, MariaDB, CSV), every batch read; peak RSS from one `lienthong query --format arrow` subprocess",
			"peer":      "PostgreSQL hub database " + HubDB + ": postgres_fdw (dancu, cutru), mysql_fdw (hotich, bhxh), file_fdw (yte CSV); same SQL text",
			"floor":     "the query on one co-located DuckDB file (the generator's oracle) plus the time to extract, concurrently with the real drivers, the rows and columns the query needs from each source",
		},
	}
	for _, q := range qs {
		bq, err := q.Bind(params)
		if err != nil {
			return nil, nil, err
		}
		busy := waitQuiet(ctx, o, logf)
		load := loadAvg()
		logf("bench: %s (cpu busy %.0f%%, load %.2f)", bq.Name, 100*busy, load)
		qr := runQuery(ctx, o, bq, lt, peer, floor, logf)
		qr.LoadAvg, qr.Busy = load, busy
		rep.Queries = append(rep.Queries, qr)
		logf("bench: %s: %s lienthong %.3fs peer %.3fs%s floor %.3fs (query %.3fs + extract %.3fs) rss %.0f MB rows %d",
			qr.Name, qr.Status, qr.LienthongS, qr.PeerS, map[bool]string{true: " (timeout)"}[qr.PeerTimeout], qr.FloorS, qr.FloorQueryS, qr.FloorExtractS, qr.LienthongRSSMB, qr.ResultRows)
		for _, p := range qr.Problems {
			logf("bench: %s: %s", qr.Name, p)
		}
	}
	rep.Summary = Summarise(rep.Queries)
	files, err := WriteReport(rep, o.Out)
	return rep, files, err
}

func runQuery(ctx context.Context, o Options, q Query, lt *Lienthong, peer *Peer, floor *Floor, logf func(string, ...any)) QueryReport {
	qr := QueryReport{Name: q.Name, Measures: q.Measures, SQL: q.SQL, Status: "ok"}
	problem := func(format string, args ...any) {
		qr.Problems = append(qr.Problems, fmt.Sprintf(format, args...))
	}
	// lienthong's EXPLAIN ANALYZE runs the query once (untimed): rows and
	// bytes per source, and the remotes the floor's extraction mirrors.
	ltOK := true
	if text, err := lt.Explain(ctx, q.SQL, true); err != nil {
		problem("lienthong EXPLAIN ANALYZE: %v", err)
		ltOK = false
	} else {
		qr.ExplainAnalyze = text
		if reads, err := ParseExplain(text); err != nil {
			problem("lienthong EXPLAIN ANALYZE: %v", err)
		} else {
			qr.Sources = reads
			for _, r := range reads {
				qr.RowsRead += max(r.Rows, 0)
				qr.BytesRead += max(r.Bytes, 0)
			}
		}
	}
	// The floor's extraction statements: the query file's, or lienthong's
	// remotes (with the same run-time key filters, keys known in advance).
	extract, display := q.FloorExtract, q.FloorExtract
	qr.FloorExtractFrom = "query file"
	if len(extract) == 0 && len(qr.Sources) > 0 {
		var err error
		if extract, display, err = floor.PlanExtract(ctx, qr.Sources); err != nil {
			problem("%v", err)
		}
		qr.FloorExtractFrom = "explain"
	}
	if len(extract) == 0 {
		problem("no floor extraction statements")
	}
	if p, err := peer.Explain(ctx, q.SQL); err == nil {
		qr.PeerPlan = p
	} else {
		problem("peer EXPLAIN: %v", err)
	}

	var ref []Row // the floor's (oracle's) answer
	refSet := false
	check := func(system string, rows []Row) {
		SortRows(rows)
		if !refSet {
			ref, refSet = rows, true
			qr.ResultRows = len(rows)
			return
		}
		if d := Compare(ref, rows); d != "" {
			problem("%s differs from the floor: %s", system, d)
		}
	}
	peerOK := true
	floorOK := true
	var lRuns, pRuns, fRuns, fq, fx []float64
	runFloor := func(counted bool) {
		if !floorOK {
			return
		}
		var xr ExtractResult
		if len(extract) > 0 {
			var err error
			xr, err = floor.Extract(ctx, extract)
			if err != nil {
				problem("floor extraction: %v", err)
				floorOK = false
				return
			}
		}
		out := floor.Query(ctx, q.SQL)
		if out.Err != nil {
			problem("floor: %v", out.Err)
			floorOK = false
			return
		}
		check("floor", out.Rows)
		if qr.FloorExtract == nil {
			for i, x := range display {
				qr.FloorExtract = append(qr.FloorExtract, ExtractStats{Extract: x, Rows: xr.Rows[i], Bytes: xr.Bytes[i]})
			}
		}
		if counted {
			fq = append(fq, out.Elapsed.Seconds())
			fx = append(fx, xr.Elapsed.Seconds())
			fRuns = append(fRuns, out.Elapsed.Seconds()+xr.Elapsed.Seconds())
		}
	}
	runLienthong := func(counted bool) {
		if !ltOK {
			return
		}
		out := lt.Run(ctx, q.SQL)
		if out.Err != nil {
			problem("lienthong: %v", out.Err)
			ltOK = false
			return
		}
		check("lienthong", out.Rows)
		if counted {
			lRuns = append(lRuns, out.Elapsed.Seconds())
		}
	}
	runPeer := func(counted bool) {
		if !peerOK || qr.PeerTimeout {
			return
		}
		out := peer.Run(ctx, q.SQL)
		switch {
		case out.Timeout:
			qr.PeerTimeout = true
			logf("bench: %s: peer timed out after %s", q.Name, o.PeerTimeout)
			return
		case out.Err != nil:
			problem("peer: %v", out.Err)
			peerOK = false
			return
		}
		check("peer", out.Rows)
		if counted {
			pRuns = append(pRuns, out.Elapsed.Seconds())
		}
	}
	// The floor runs first so its answer is the reference; then the three
	// alternate, run by run.
	for i := 0; i < o.Warmup; i++ {
		runFloor(false)
		runLienthong(false)
		runPeer(false)
	}
	for i := 0; i < o.Runs; i++ {
		runLienthong(true)
		runPeer(true)
		runFloor(true)
	}

	ls, ps, fs := Summarize(lRuns), Summarize(pRuns), Summarize(fRuns)
	qr.LienthongS, qr.LienthongMinS, qr.LienthongMaxS, qr.LienthongRuns = ls.Median, ls.Min, ls.Max, ls.Runs
	qr.PeerS, qr.PeerMinS, qr.PeerMaxS, qr.PeerRuns = ps.Median, ps.Min, ps.Max, ps.Runs
	qr.FloorS, qr.FloorMinS, qr.FloorMaxS, qr.FloorRuns = fs.Median, fs.Min, fs.Max, fs.Runs
	qr.FloorQueryS, qr.FloorExtractS = Summarize(fq).Median, Summarize(fx).Median
	if qr.PeerTimeout {
		t := o.PeerTimeout.Seconds()
		qr.PeerS, qr.PeerMinS, qr.PeerMaxS = t, t, t
	}

	if ltOK && !o.SkipRSS {
		if mb, wall, err := lt.PeakRSS(ctx, q.SQL); err != nil {
			problem("lienthong RSS run: %v", err)
		} else {
			qr.LienthongRSSMB, qr.LienthongCLIS = mb, wall.Seconds()
		}
	}
	switch {
	case !ltOK || !floorOK || !peerOK || !refSet:
		qr.Status = "error"
	case len(qr.Problems) > 0:
		qr.Status = "mismatch"
		for _, p := range qr.Problems {
			if !strings.Contains(p, "differs from") {
				qr.Status = "error"
			}
		}
	}
	qr.LienthongVsPeer = Ratio(qr.LienthongS, qr.PeerS)
	qr.LienthongVsFloor = Ratio(qr.LienthongS, qr.FloorS)
	return qr
}

// Totals are the run's geometric means and goal checks over the queries
// whose answers matched.
type Totals struct {
	Counted int `json:"counted_queries"`
	// GeoMeanVsPeer is the geometric mean of lienthong_s/peer_s (a timed-out
	// peer counts at the timeout, so the speedup is a lower bound);
	// SpeedupVsPeer is its inverse.
	GeoMeanVsPeer  float64 `json:"geomean_lienthong_vs_peer"`
	SpeedupVsPeer  float64 `json:"geomean_speedup_vs_peer"`
	GeoMeanVsFloor float64 `json:"geomean_lienthong_vs_floor"`
	// GeoMeanFloorVsPeer is the geometric mean of floor_s/peer_s: the best
	// speedup over the peer an engine at its floor would show.
	GeoMeanFloorVsPeer float64 `json:"geomean_floor_vs_peer"`
	// Goals: speedup >= 10, no query slower than the peer, every query
	// within 2x of its floor.
	GoalSpeedup    bool     `json:"goal_speedup_10x"`
	SlowerThanPeer []string `json:"slower_than_peer"`
	OverTwiceFloor []string `json:"over_2x_floor"`
	NotCounted     []string `json:"not_counted"`
	GoalsMet       bool     `json:"goals_met"`
}

// Summarise computes the geometric means and the goal checks.
func Summarise(qs []QueryReport) Totals {
	var t Totals
	var vsPeer, vsFloor, floorVsPeer []float64
	for _, q := range qs {
		if !q.Counted() {
			t.NotCounted = append(t.NotCounted, q.Name)
			continue
		}
		t.Counted++
		if q.LienthongVsPeer > 0 {
			vsPeer = append(vsPeer, q.LienthongVsPeer)
			if q.LienthongVsPeer > 1 {
				t.SlowerThanPeer = append(t.SlowerThanPeer, q.Name)
			}
		}
		if r := Ratio(q.FloorS, q.PeerS); r > 0 {
			floorVsPeer = append(floorVsPeer, r)
		}
		if q.LienthongVsFloor > 0 {
			vsFloor = append(vsFloor, q.LienthongVsFloor)
			if q.LienthongVsFloor > 2 {
				t.OverTwiceFloor = append(t.OverTwiceFloor, q.Name)
			}
		}
	}
	t.GeoMeanVsPeer = GeoMean(vsPeer)
	if t.GeoMeanVsPeer > 0 {
		t.SpeedupVsPeer = 1 / t.GeoMeanVsPeer
	}
	t.GeoMeanVsFloor = GeoMean(vsFloor)
	t.GeoMeanFloorVsPeer = GeoMean(floorVsPeer)
	t.GoalSpeedup = t.SpeedupVsPeer >= 10
	t.GoalsMet = t.GoalSpeedup && len(t.SlowerThanPeer) == 0 && len(t.OverTwiceFloor) == 0 && len(t.NotCounted) == 0
	return t
}

// machine describes this computer.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				var kb float64
				fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:")), "%f", &kb)
				mem = fmt.Sprintf(", %.0f GiB RAM", kb/1024/1024)
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	host, _ := os.Hostname()
	_ = host
	return fmt.Sprintf("%d cores (%s)%s%s; sources, hub and lienthong on the same machine", runtime.NumCPU(), model, mem, kernel)
}

func mariaDBVersion(ctx context.Context, dsn string) string {
	db, err := openMySQL(dsn, "")
	if err != nil {
		return ""
	}
	defer db.Close()
	var v string
	_ = db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v)
	return v
}

// loadAvg is the 1-minute load average (0 if unknown).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	fmt.Sscanf(string(b), "%f", &l)
	return l
}

// cpuBusy samples /proc/stat for d and returns the fraction of all CPUs'
// time spent busy (-1 if unknown).
func cpuBusy(ctx context.Context, d time.Duration) float64 {
	read := func() (busy, total float64, ok bool) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0, false
		}
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		if len(f) < 8 || f[0] != "cpu" {
			return 0, 0, false
		}
		for i, v := range f[1:] {
			var x float64
			fmt.Sscanf(v, "%f", &x)
			if i >= 8 { // guest time is already in user
				break
			}
			total += x
			if i != 3 && i != 4 { // idle, iowait
				busy += x
			}
		}
		return busy, total, true
	}
	b0, t0, ok0 := read()
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	b1, t1, ok1 := read()
	if !ok0 || !ok1 || t1 <= t0 {
		return -1
	}
	return (b1 - b0) / (t1 - t0)
}

// waitQuiet waits until the CPUs are busy less than o.MaxBusy while the
// benchmark is idle, at most o.MaxBusyWait, and returns the busy fraction
// it starts at.
func waitQuiet(ctx context.Context, o Options, logf func(string, ...any)) float64 {
	busy := cpuBusy(ctx, 2*time.Second)
	if o.MaxBusy <= 0 || busy < o.MaxBusy {
		return busy
	}
	logf("bench: CPUs %.0f%% busy with other work: waiting up to %s for the machine to quieten", 100*busy, o.MaxBusyWait)
	deadline := time.Now().Add(o.MaxBusyWait)
	for busy >= o.MaxBusy && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(3 * time.Second)
		busy = cpuBusy(ctx, 2*time.Second)
	}
	if busy >= o.MaxBusy {
		logf("bench: CPUs still %.0f%% busy; going on (timings will be noisy)", 100*busy)
	}
	return busy
}

// treeState describes the lienthong tree being measured (read-only git).
func treeState(ctx context.Context) string {
	head, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	s := strings.TrimSpace(string(head))
	if out, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
		var dirs []string
		seen := map[string]bool{}
		for _, l := range strings.Split(string(out), "\n") {
			if len(l) < 4 { // "XY path"
				continue
			}
			d := l[3:]
			if i := strings.IndexByte(d, '/'); i >= 0 {
				d = d[:i+1]
			}
			if !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
		if len(dirs) > 0 {
			s += " with uncommitted changes in " + strings.Join(dirs, ", ")
		}
	}
	return s
}
