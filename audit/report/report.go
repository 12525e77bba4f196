// Package report makes the connection and sharing report Decision
// 1911/QĐ-TTg Art. 3.1.đ and 3.4.đ require every 6 months and every year:
// per connected agency database its measured uptime, queries served, rows
// shared, who asked and why, denials, failures by cause and latency; the
// same per requesting agency; and monthly trends. Every figure comes from
// the audit log and the health history, which are verified first; the
// report names their heads so the logs it was made from can be proven
// unchanged later.
package report

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"lienthong/audit/chain"
	"lienthong/audit/sketch"
	"lienthong/health"
)

// Options say what to report on.
type Options struct {
	Log    string // the audit log
	Health string // the health history; default chain.HealthPath(Log)
	// Period [From, To); Label names it ("2026-H1").
	From, To time.Time
	Label    string
	// Loc is the zone months and dates are shown in; default Asia/Ho_Chi_Minh.
	Loc *time.Location
	// Keys authenticate the logs' heads (optional).
	Keys *chain.Keys
	// Generated is the time printed as the report's date; default now.
	Generated time.Time
}

// Counts are the figures reported for a source, an agency, a purpose or a month.
type Counts struct {
	Attempts   int64
	Succeeded  int64
	Denied     int64
	Failed     int64
	Cancelled  int64
	Unfinished int64 // begun, never ended (the node stopped)
	// RowsDelivered to clients; RowsShared read from sources (what left
	// the agencies' databases, for any outcome).
	RowsDelivered, BytesDelivered, RowsShared int64
	// Latency of succeeded attempts (whole attempt, planning to last row).
	Latency sketch.Sketch
	// FailuresByCode counts failed and cancelled attempts by error code.
	FailuresByCode map[string]int64

	agencies, purposes, principals, sources map[string]bool
}

// Distinct counts.
func (c Counts) Agencies() int   { return len(c.agencies) }
func (c Counts) Purposes() int   { return len(c.purposes) }
func (c Counts) Principals() int { return len(c.principals) }
func (c Counts) Sources() int    { return len(c.sources) }

// AgencyList and friends name them.
func (c Counts) AgencyList() []string  { return sortedSet(c.agencies) }
func (c Counts) PurposeList() []string { return sortedSet(c.purposes) }
func (c Counts) SourceList() []string  { return sortedSet(c.sources) }

// FailuresTotal is failed + cancelled + unfinished.
func (c Counts) FailuresTotal() int64 { return c.Failed + c.Cancelled + c.Unfinished }

func sortedSet(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}

func (c *Counts) add(a *chain.AttemptView, rowsShared int64) {
	info := a.Info()
	c.Attempts++
	switch a.Outcome() {
	case "succeeded":
		c.Succeeded++
		c.Latency.Add(a.End.Duration())
	case "denied":
		c.Denied++
	case "cancelled":
		c.Cancelled++
	case "unfinished":
		c.Unfinished++
	default:
		c.Failed++
	}
	if a.End != nil {
		c.RowsDelivered += a.End.Rows
		c.BytesDelivered += a.End.Bytes
		if a.Outcome() == "failed" || a.Outcome() == "cancelled" {
			if c.FailuresByCode == nil {
				c.FailuresByCode = map[string]int64{}
			}
			code := a.End.Code
			if code == "" {
				code = "(none)"
			}
			c.FailuresByCode[code]++
		}
	} else {
		if c.FailuresByCode == nil {
			c.FailuresByCode = map[string]int64{}
		}
		c.FailuresByCode[CodeUnfinished]++
	}
	c.RowsShared += rowsShared
	if c.agencies == nil {
		c.agencies, c.purposes, c.principals, c.sources = map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	}
	c.agencies[orUnknown(info.Agency)] = true
	c.purposes[orUnknown(info.Purpose)] = true
	c.principals[orUnknown(info.Principal)] = true
	for _, s := range a.Sources() {
		c.sources[s] = true
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "(not given)"
	}
	return s
}

// CodeUnfinished is the cause given to attempts that never ended.
const CodeUnfinished = "(node stopped)"

// SourceRow is one connected agency database.
type SourceRow struct {
	Source string
	Uptime health.Uptime // over the period
	Counts
}

// AgencyRow is one requesting agency.
type AgencyRow struct {
	Agency string
	Counts
}

// PurposeRow is one declared purpose.
type PurposeRow struct {
	Purpose string
	Counts
}

// MonthRow is one calendar month of the period.
type MonthRow struct {
	Month  time.Time // first instant of the month, in Loc
	Counts Counts
	// Uptime per source in the month.
	Uptime map[string]health.Uptime
}

// FailureRow counts one cause of failure.
type FailureRow struct {
	Code     string
	Category string // source, query, limit, node, client
	Meaning  string
	Count    int64
	BySource map[string]int64 // attempts touching each source (an attempt with two sources counts in both)
}

// LogStatus says what verifying a log found.
type LogStatus struct {
	Path      string
	Records   int
	LastSeq   uint64
	LastHash  string
	Head      *chain.Head
	Authed    bool
	Tampered  bool
	Problems  []chain.Problem
	Nodes     []string
	Simulated bool
}

// Report is the whole report.
type Report struct {
	Label     string
	From, To  time.Time
	Loc       *time.Location
	Generated time.Time
	Simulated bool
	Nodes     []string

	Audit, Health LogStatus

	Total    Counts
	Sources  []SourceRow // connected databases, plus "(none)" for attempts refused before naming one
	Agencies []AgencyRow
	Purposes []PurposeRow
	Failures []FailureRow
	Months   []MonthRow
	Outages  []health.Outage

	pairs       map[string]int64 // agency \x00 source -> attempts
	monthSource map[string]int64 // month label \x00 source -> rows shared
}

// NoSource names the row of attempts that named no source (refused
// before planning).
const NoSource = "(no source)"

// Build reads and verifies the logs and computes the report.
func Build(opt Options) (*Report, error) {
	if opt.Loc == nil {
		loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
		if err != nil {
			loc = time.FixedZone("ICT", 7*3600)
		}
		opt.Loc = loc
	}
	if opt.Health == "" {
		opt.Health = chain.HealthPath(opt.Log)
	}
	if opt.Generated.IsZero() {
		opt.Generated = time.Now()
	}
	if !opt.To.After(opt.From) {
		return nil, errors.New("report: the period is empty")
	}
	r := &Report{Label: opt.Label, From: opt.From, To: opt.To, Loc: opt.Loc, Generated: opt.Generated}
	var err error
	if r.Audit, err = status(opt.Log, opt.Keys); err != nil {
		return nil, err
	}
	haveHealth := true
	if r.Health, err = status(opt.Health, opt.Keys); err != nil {
		haveHealth = false
		r.Health = LogStatus{Path: opt.Health, Problems: []chain.Problem{{Kind: "missing", Warning: true, Msg: err.Error()}}}
	}

	// Months of the period, in Loc.
	var windows []health.Window
	windows = append(windows, health.Window{From: opt.From, To: opt.To})
	for m := monthStart(opt.From.In(opt.Loc)); m.Before(opt.To); m = m.AddDate(0, 1, 0) {
		w := health.Window{From: m, To: m.AddDate(0, 1, 0)}.Intersect(health.Window{From: opt.From, To: opt.To})
		windows = append(windows, w)
		r.Months = append(r.Months, MonthRow{Month: m, Uptime: map[string]health.Uptime{}})
	}
	uptime := map[string][]health.Uptime{}
	if haveHealth {
		if uptime, r.Outages, err = health.Measure(opt.Health, windows...); err != nil {
			return nil, fmt.Errorf("report: health history: %w", err)
		}
	}

	sources := map[string]*SourceRow{}
	agencies := map[string]*AgencyRow{}
	purposes := map[string]*PurposeRow{}
	failures := map[string]*FailureRow{}
	src := func(name string) *SourceRow {
		if sources[name] == nil {
			sources[name] = &SourceRow{Source: name}
		}
		return sources[name]
	}
	for name := range uptime {
		src(name)
	}

	rd, err := chain.OpenReader(opt.Log)
	if err != nil {
		return nil, err
	}
	r.Nodes, r.Simulated = r.Audit.Nodes, r.Audit.Simulated
	r.pairs, r.monthSource = map[string]int64{}, map[string]int64{}
	err = chain.Attempts(rd, rd.SeqFor(opt.From), chain.Filter{From: opt.From, To: opt.To}, func(a *chain.AttemptView) error {
		var shared int64
		if a.End != nil {
			for _, n := range a.End.RowsPerSource {
				shared += n
			}
		}
		r.Total.add(a, shared)
		names := a.Sources()
		if len(names) == 0 {
			names = []string{NoSource}
		}
		info := a.Info()
		ag := orUnknown(info.Agency)
		month := r.monthLabel(monthStart(a.Start().In(opt.Loc)))
		for _, s := range names {
			var n int64
			if a.End != nil {
				n = a.End.RowsPerSource[s]
			}
			src(s).add(a, n)
			r.pairs[ag+"\x00"+s]++
			r.monthSource[month+"\x00"+s] += n
		}
		if agencies[ag] == nil {
			agencies[ag] = &AgencyRow{Agency: ag}
		}
		agencies[ag].add(a, shared)
		pu := orUnknown(info.Purpose)
		if purposes[pu] == nil {
			purposes[pu] = &PurposeRow{Purpose: pu}
		}
		purposes[pu].add(a, shared)
		m := monthStart(a.Start().In(opt.Loc))
		for i := range r.Months {
			if r.Months[i].Month.Equal(m) {
				r.Months[i].Counts.add(a, shared)
			}
		}
		if out := a.Outcome(); out == "failed" || out == "cancelled" || out == "unfinished" {
			code := CodeUnfinished
			if a.End != nil {
				code = orUnknown(a.End.Code)
			}
			f := failures[code]
			if f == nil {
				cat, meaning := Cause(code)
				f = &FailureRow{Code: code, Category: cat, Meaning: meaning, BySource: map[string]int64{}}
				failures[code] = f
			}
			f.Count++
			for _, s := range names {
				f.BySource[s]++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	for name, row := range sources {
		if u, ok := uptime[name]; ok {
			row.Uptime = u[0]
			for i := range r.Months {
				r.Months[i].Uptime[name] = u[i+1]
			}
		} else {
			row.Uptime = health.Uptime{Window: windows[0]}
		}
		r.Sources = append(r.Sources, *row)
	}
	sort.Slice(r.Sources, func(i, j int) bool {
		a, b := r.Sources[i].Source, r.Sources[j].Source
		if (a == NoSource) != (b == NoSource) {
			return b == NoSource
		}
		return a < b
	})
	for _, a := range agencies {
		r.Agencies = append(r.Agencies, *a)
	}
	sort.Slice(r.Agencies, func(i, j int) bool {
		if r.Agencies[i].Attempts != r.Agencies[j].Attempts {
			return r.Agencies[i].Attempts > r.Agencies[j].Attempts
		}
		return r.Agencies[i].Agency < r.Agencies[j].Agency
	})
	for _, p := range purposes {
		r.Purposes = append(r.Purposes, *p)
	}
	sort.Slice(r.Purposes, func(i, j int) bool {
		if r.Purposes[i].Attempts != r.Purposes[j].Attempts {
			return r.Purposes[i].Attempts > r.Purposes[j].Attempts
		}
		return r.Purposes[i].Purpose < r.Purposes[j].Purpose
	})
	for _, f := range failures {
		r.Failures = append(r.Failures, *f)
	}
	sort.Slice(r.Failures, func(i, j int) bool {
		if r.Failures[i].Count != r.Failures[j].Count {
			return r.Failures[i].Count > r.Failures[j].Count
		}
		return r.Failures[i].Code < r.Failures[j].Code
	})
	return r, nil
}

func status(path string, keys *chain.Keys) (LogStatus, error) {
	v, err := chain.VerifyFile(path, chain.VerifyOptions{Keys: keys})
	if err != nil {
		return LogStatus{}, err
	}
	return LogStatus{Path: path, Records: v.Records, LastSeq: v.LastSeq, LastHash: v.LastHash, Head: v.Head, Authed: v.HeadAuthenticated, Tampered: v.Tampered(), Problems: v.Problems, Nodes: v.Nodes, Simulated: v.Simulated}, nil
}

// Cause explains an error code: its category and what it means.
func Cause(code string) (category, meaning string) {
	switch code {
	case "LT-SOURCE", "LT-SOURCE-ERROR":
		return "source", "a source failed while running its part"
	case "LT-SOURCE-DOWN":
		return "source", "a source the query needs was not connected"
	case "LT-TIMEOUT":
		return "limit", "the query ran past its time limit"
	case "LT-RESULT-LIMIT":
		return "limit", "the result passed the row or byte limit"
	case "LT-BUSY":
		return "limit", "the node was at its concurrency limit"
	case "LT-SYNTAX", "LT-UNKNOWN", "LT-AMBIGUOUS", "LT-TYPE", "LT-UNSUPPORTED", "LT-READONLY":
		return "query", "the SQL was wrong or not supported (" + strings.ToLower(strings.TrimPrefix(code, "LT-")) + ")"
	case "LT-CANCELLED":
		return "client", "the client cancelled or went away"
	case "LT-AUDIT":
		return "node", "the audit log could not be written, so nothing was answered"
	case "LT-INTERNAL":
		return "node", "an internal error"
	case CodeUnfinished:
		return "node", "the node stopped while the query ran"
	}
	return "other", "error code " + code
}

// ParsePeriod reads "2026-H1", "2026-H2", "2026" (a year), "2026-Q3" or
// "2026-05" in loc.
func ParsePeriod(s string, loc *time.Location) (from, to time.Time, err error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	year, rest, _ := strings.Cut(s, "-")
	y, yerr := strconv.Atoi(year)
	if yerr != nil || y < 2000 || y > 2200 {
		return from, to, fmt.Errorf("period %q: want 2026-H1, 2026-H2, 2026, 2026-Q1 or 2026-05", s)
	}
	start := func(m int) time.Time { return time.Date(y, time.Month(m), 1, 0, 0, 0, 0, loc) }
	switch {
	case rest == "":
		return start(1), start(1).AddDate(1, 0, 0), nil
	case rest == "H1" || rest == "H2":
		m := 1
		if rest == "H2" {
			m = 7
		}
		return start(m), start(m).AddDate(0, 6, 0), nil
	case len(rest) == 2 && rest[0] == 'Q' && rest[1] >= '1' && rest[1] <= '4':
		m := 3*int(rest[1]-'1') + 1
		return start(m), start(m).AddDate(0, 3, 0), nil
	default:
		if m, err := strconv.Atoi(rest); err == nil && m >= 1 && m <= 12 {
			return start(m), start(m).AddDate(0, 1, 0), nil
		}
	}
	return from, to, fmt.Errorf("period %q: want 2026-H1, 2026-H2, 2026, 2026-Q1 or 2026-05", s)
}

func monthStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, t.Location())
}
