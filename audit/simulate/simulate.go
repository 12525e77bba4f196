// Package simulate writes a synthetic but realistic audit history (an
// audit log and a health history) over the demo agency databases, through
// the real audit.Log and health.Monitor with a simulated clock, and keeps
// the true figures it was made from so reports can be checked against
// them. Logs it writes are marked simulated; reports made from them say so.
package simulate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"lienthong/attempt"
	"lienthong/audit"
	"lienthong/audit/chain"
	"lienthong/health"
)

// Options steer a simulation.
type Options struct {
	// Dir receives audit.log and its sidecars, and audit.log.health.
	Dir string
	// From, To bound the simulated period.
	From, To time.Time
	Seed     uint64
	// PerDay is the mean number of attempts on a working day at the
	// start of the period (traffic grows 4% a month); default 150.
	PerDay float64
	// ProbeInterval of the simulated monitor; default 15 minutes.
	ProbeInterval time.Duration
	Keys          *chain.Keys
	// Restart, if set, is when the node is stopped for 30 minutes (an
	// upgrade): the logs are closed and reopened, and nothing is measured
	// meanwhile.
	Restart time.Time
}

// Window is a time range [From, To).
type Window = health.Window

// Tally is what the simulation did, for one source, agency, purpose or month.
type Tally struct {
	Attempts, Succeeded, Denied, Failed, Cancelled int64
	RowsDelivered, RowsShared                      int64
	Agencies, Purposes                             map[string]bool
	FailuresByCode                                 map[string]int64
	// Durations of succeeded attempts, for exact percentiles.
	Durations []time.Duration
}

func newTally() *Tally {
	return &Tally{Agencies: map[string]bool{}, Purposes: map[string]bool{}, FailuresByCode: map[string]int64{}}
}

// Percentile is the exact nearest-rank q-quantile of Durations.
func (t *Tally) Percentile(q float64) time.Duration {
	if len(t.Durations) == 0 {
		return 0
	}
	d := append([]time.Duration(nil), t.Durations...)
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	rank := int(math.Ceil(q * float64(len(d))))
	return d[max(rank, 1)-1]
}

// Truth is what was simulated.
type Truth struct {
	Total    *Tally
	BySource map[string]*Tally
	ByAgency map[string]*Tally
	ByMonth  map[string]*Tally // "2006-01" in the period's location
	// Outages per source (the simulated ground truth) and the true down
	// time within the period.
	Outages map[string][]Window
	Down    map[string]time.Duration
	// Stopped is when the node was stopped (nothing measured).
	Stopped []Window
}

// Source is a simulated agency database.
type Source struct {
	Name, Agency, Kind string
	// Slowness multiplies query latency (a CSV over a slow link is slower).
	Slowness float64
	// OutagesPerMonth and MeanOutage shape unplanned outages.
	OutagesPerMonth float64
	MeanOutage      time.Duration
	// Maintenance: a planned window on the first Sunday of each month
	// from 22:00 local time, of this length (0: none).
	Maintenance time.Duration
}

// DemoSources are the five demo agency databases (make demo).
var DemoSources = []Source{
	{Name: "dancu", Agency: "Bộ Công an (C06): Cơ sở dữ liệu quốc gia về dân cư", Kind: "duckdb", Slowness: 1, OutagesPerMonth: 0.3, MeanOutage: 25 * time.Minute},
	{Name: "hotich", Agency: "Bộ Tư pháp: Cơ sở dữ liệu hộ tịch điện tử", Kind: "sqlite", Slowness: 1.1, OutagesPerMonth: 1, MeanOutage: 50 * time.Minute},
	{Name: "cutru", Agency: "Bộ Công an: Cơ sở dữ liệu về cư trú", Kind: "sqlite", Slowness: 1, OutagesPerMonth: 0.6, MeanOutage: 40 * time.Minute},
	{Name: "bhxh", Agency: "Bảo hiểm xã hội Việt Nam: Cơ sở dữ liệu bảo hiểm", Kind: "parquet", Slowness: 1.3, OutagesPerMonth: 0.8, MeanOutage: time.Hour, Maintenance: 4 * time.Hour},
	{Name: "yte", Agency: "Bộ Y tế: Cơ sở dữ liệu y tế", Kind: "csv", Slowness: 1.8, OutagesPerMonth: 2.5, MeanOutage: 2 * time.Hour},
}

// template is a kind of query an agency sends.
type template struct {
	name    string
	sql     string // %s: a PIN
	sources []string
	tables  []string
	columns []string
	pin     bool
	// rows delivered: lo..hi uniformly; rows read per source: factor × delivered + base
	rowsLo, rowsHi int
	readFactor     float64
	readBase       int
	median         time.Duration
	heavy          bool
}

var templates = map[string]template{
	"citizen": {name: "citizen", pin: true, sources: []string{"dancu"}, tables: []string{"dancu.citizens"},
		columns: []string{"dancu.citizens.birth_date", "dancu.citizens.full_name", "dancu.citizens.pin", "dancu.citizens.sex"},
		sql:     "SELECT c.pin, c.full_name, c.birth_date, c.sex FROM dancu.citizens c WHERE c.pin = '%s'", rowsLo: 0, rowsHi: 1, readFactor: 1, median: 18 * time.Millisecond},
	"residence": {name: "residence", pin: true, sources: []string{"cutru"}, tables: []string{"cutru.residences"},
		columns: []string{"cutru.residences.commune_code", "cutru.residences.kind", "cutru.residences.pin", "cutru.residences.status"},
		sql:     "SELECT r.kind, r.status, r.commune_code, r.registered_on FROM cutru.residences r WHERE r.pin = '%s'", rowsLo: 0, rowsHi: 3, readFactor: 1, median: 22 * time.Millisecond},
	"card": {name: "card", pin: true, sources: []string{"bhxh", "dancu"}, tables: []string{"bhxh.health_cards", "dancu.citizens"},
		columns: []string{"bhxh.health_cards.card_no", "bhxh.health_cards.pin", "bhxh.health_cards.valid_to", "dancu.citizens.birth_date", "dancu.citizens.pin"},
		sql:     "SELECT c.pin, c.birth_date, h.card_no, h.valid_to FROM dancu.citizens c LEFT JOIN bhxh.health_cards h ON h.pin = c.pin WHERE c.pin = '%s'", rowsLo: 1, rowsHi: 2, readFactor: 1, median: 45 * time.Millisecond},
	"vaccination": {name: "vaccination", pin: true, sources: []string{"yte"}, tables: []string{"yte.vaccinations"},
		columns: []string{"yte.vaccinations.pin", "yte.vaccinations.vaccine", "yte.vaccinations.vaccinated_on"},
		sql:     "SELECT v.vaccine, v.vaccinated_on FROM yte.vaccinations v WHERE v.pin = '%s' ORDER BY v.vaccinated_on", rowsLo: 0, rowsHi: 12, readFactor: 1, median: 35 * time.Millisecond},
	"citizen360": {name: "citizen360", pin: true, sources: []string{"bhxh", "cutru", "dancu", "hotich", "yte"},
		tables:  []string{"bhxh.funeral_allowances", "bhxh.health_cards", "cutru.residences", "dancu.citizens", "hotich.births", "hotich.deaths", "yte.visits"},
		columns: []string{"dancu.citizens.birth_date", "dancu.citizens.death_date", "dancu.citizens.full_name", "dancu.citizens.pin"},
		sql:     "SELECT c.pin, c.full_name, c.birth_date, c.death_date, (SELECT COUNT(*) FROM cutru.residences r WHERE r.pin = c.pin AND r.status = 'active') AS active_residences, (SELECT MAX(h.valid_to) FROM bhxh.health_cards h WHERE h.pin = c.pin) AS card_valid_to, (SELECT COUNT(*) FROM yte.visits v WHERE v.pin = c.pin) AS visits, (SELECT MAX(d.registered_on) FROM hotich.deaths d WHERE d.pin = c.pin) AS death_registered FROM dancu.citizens c WHERE c.pin = '%s'",
		rowsLo:  1, rowsHi: 1, readFactor: 3, readBase: 2, median: 140 * time.Millisecond},
	"group_a_cards": {name: "group_a_cards", sources: []string{"bhxh", "dancu"}, tables: []string{"bhxh.health_cards", "dancu.citizens"},
		columns: []string{"bhxh.health_cards.pin", "dancu.citizens.birth_date", "dancu.citizens.death_date", "dancu.citizens.full_name", "dancu.citizens.permanent_commune", "dancu.citizens.pin"},
		sql:     "SELECT c.pin, c.full_name, c.birth_date, c.permanent_commune FROM dancu.citizens c WHERE c.birth_date > DATE_SUB(CURDATE(), INTERVAL 6 YEAR) AND c.death_date IS NULL AND NOT EXISTS (SELECT 1 FROM bhxh.health_cards h WHERE h.pin = c.pin) ORDER BY c.birth_date DESC, c.pin",
		rowsLo:  40, rowsHi: 400, readFactor: 30, readBase: 2000, median: 650 * time.Millisecond, heavy: true},
	"group_a_residence": {name: "group_a_residence", sources: []string{"cutru", "dancu"}, tables: []string{"cutru.residences", "dancu.citizens"},
		columns: []string{"cutru.residences.kind", "cutru.residences.pin", "cutru.residences.status", "dancu.citizens.birth_date", "dancu.citizens.death_date", "dancu.citizens.full_name", "dancu.citizens.pin"},
		sql:     "SELECT c.pin, c.full_name, c.birth_date FROM dancu.citizens c WHERE c.birth_date > DATE_SUB(CURDATE(), INTERVAL 6 YEAR) AND c.death_date IS NULL AND NOT EXISTS (SELECT 1 FROM cutru.residences r WHERE r.pin = c.pin AND r.kind = 'permanent' AND r.status = 'active') ORDER BY c.pin",
		rowsLo:  10, rowsHi: 150, readFactor: 40, readBase: 1500, median: 520 * time.Millisecond, heavy: true},
	"group_b_resident": {name: "group_b_resident", sources: []string{"cutru", "dancu"}, tables: []string{"cutru.residences", "dancu.citizens"},
		columns: []string{"cutru.residences.commune_code", "cutru.residences.kind", "cutru.residences.pin", "cutru.residences.registered_on", "cutru.residences.status", "dancu.citizens.death_date", "dancu.citizens.full_name", "dancu.citizens.pin"},
		sql:     "SELECT c.pin, c.full_name, c.death_date, MIN(r.commune_code) AS commune FROM dancu.citizens c JOIN cutru.residences r ON r.pin = c.pin WHERE c.death_date IS NOT NULL AND r.kind = 'permanent' AND r.status = 'active' GROUP BY c.pin, c.full_name, c.death_date ORDER BY c.death_date, c.pin",
		rowsLo:  5, rowsHi: 80, readFactor: 25, readBase: 800, median: 480 * time.Millisecond, heavy: true},
	"group_b_allowance": {name: "group_b_allowance", sources: []string{"bhxh", "hotich"}, tables: []string{"bhxh.funeral_allowances", "hotich.deaths"},
		columns: []string{"bhxh.funeral_allowances.pin", "hotich.deaths.commune_code", "hotich.deaths.death_date", "hotich.deaths.pin", "hotich.deaths.registered_on"},
		sql:     "SELECT d.pin, d.death_date, d.registered_on, d.commune_code FROM hotich.deaths d WHERE NOT EXISTS (SELECT 1 FROM bhxh.funeral_allowances f WHERE f.pin = d.pin) ORDER BY d.registered_on, d.pin",
		rowsLo:  5, rowsHi: 60, readFactor: 12, readBase: 300, median: 260 * time.Millisecond, heavy: true},
	"births": {name: "births", sources: []string{"dancu", "hotich"}, tables: []string{"dancu.citizens", "hotich.births"},
		columns: []string{"dancu.citizens.full_name", "dancu.citizens.pin", "hotich.births.child_pin", "hotich.births.full_name"},
		sql:     "SELECT b.child_pin, c.full_name AS npd_name, b.full_name AS hotich_name FROM hotich.births b JOIN dancu.citizens c ON c.pin = b.child_pin WHERE b.full_name <> c.full_name ORDER BY b.child_pin",
		rowsLo:  20, rowsHi: 300, readFactor: 20, readBase: 3000, median: 1400 * time.Millisecond, heavy: true},
	"dashboard": {name: "dashboard", sources: []string{"bhxh", "dancu"}, tables: []string{"bhxh.health_cards", "dancu.citizens"},
		columns: []string{"bhxh.health_cards.pin", "bhxh.health_cards.valid_to", "dancu.citizens.death_date", "dancu.citizens.pin", "dancu.citizens.sex"},
		sql:     "SELECT SUBSTRING(c.pin, 1, 3) AS province, c.sex, COUNT(*) AS citizens, COUNT(h.pin) AS with_valid_card FROM dancu.citizens c LEFT JOIN (SELECT DISTINCT pin FROM bhxh.health_cards WHERE valid_to >= CURDATE()) h ON h.pin = c.pin WHERE c.death_date IS NULL GROUP BY SUBSTRING(c.pin, 1, 3), c.sex ORDER BY province, c.sex",
		rowsLo:  126, rowsHi: 126, readFactor: 0, readBase: 90000, median: 900 * time.Millisecond, heavy: true},
	"visits": {name: "visits", sources: []string{"yte"}, tables: []string{"yte.visits"},
		columns: []string{"yte.visits.cost", "yte.visits.facility_code", "yte.visits.visit_date"},
		sql:     "SELECT v.facility_code, COUNT(*) AS visits, SUM(v.cost) AS cost FROM yte.visits v WHERE v.visit_date >= DATE_SUB(CURDATE(), INTERVAL 30 DAY) GROUP BY v.facility_code ORDER BY cost DESC",
		rowsLo:  30, rowsHi: 120, readFactor: 0, readBase: 25000, median: 1100 * time.Millisecond, heavy: true},
}

// requester is a requesting agency and what it asks, with weights.
type requester struct {
	code    string
	name    string
	weight  float64
	users   int
	uses    []use
	caseTag string // prefix of case ids ("" for none: statistics)
}

type use struct {
	template, purpose string
	weight            float64
}

var requesters = []requester{
	{code: "BHXH", name: "Bảo hiểm xã hội Việt Nam", weight: 26, users: 14, caseTag: "BHXH-HS", uses: []use{
		{"card", "HEALTH_CARD_UNDER6", 40}, {"citizen", "HEALTH_CARD_UNDER6", 20}, {"group_a_cards", "HEALTH_CARD_UNDER6", 6},
		{"group_b_allowance", "FUNERAL_ALLOWANCE", 8}, {"citizen360", "FUNERAL_ALLOWANCE", 10}}},
	{code: "BCA-C06", name: "Bộ Công an (C06)", weight: 22, users: 10, caseTag: "C06-HS", uses: []use{
		{"residence", "RESIDENCE_REGISTRATION", 45}, {"citizen", "RESIDENCE_REGISTRATION", 25}, {"group_a_residence", "NPD_CONSISTENCY", 6},
		{"group_b_resident", "RESIDENCE_DELETION_AFTER_DEATH", 8}}},
	{code: "BTP", name: "Bộ Tư pháp", weight: 12, users: 6, caseTag: "HT", uses: []use{
		{"citizen", "BIRTH_REGISTRATION", 50}, {"births", "NPD_CONSISTENCY", 6}, {"citizen360", "DEATH_REGISTRATION", 12}}},
	{code: "BYT", name: "Bộ Y tế", weight: 10, users: 8, caseTag: "BYT-HS", uses: []use{
		{"vaccination", "VACCINATION_RECORD", 60}, {"citizen", "HEALTH_RECORD_LINKING", 25}, {"visits", "HEALTH_STATISTICS", 4}}},
	{code: "UBND-HN", name: "UBND TP Hà Nội (one-stop)", weight: 11, users: 9, caseTag: "HN-1C", uses: []use{
		{"citizen", "ONE_STOP_PROCEDURE", 60}, {"residence", "ONE_STOP_PROCEDURE", 30}, {"card", "ONE_STOP_PROCEDURE", 10}}},
	{code: "UBND-HCM", name: "UBND TP Hồ Chí Minh (one-stop)", weight: 12, users: 10, caseTag: "HCM-1C", uses: []use{
		{"citizen", "ONE_STOP_PROCEDURE", 60}, {"residence", "ONE_STOP_PROCEDURE", 30}, {"card", "ONE_STOP_PROCEDURE", 10}}},
	{code: "VPCP-DVCQG", name: "Văn phòng Chính phủ: Cổng Dịch vụ công quốc gia", weight: 5, users: 2, caseTag: "DVCQG", uses: []use{
		{"citizen", "PUBLIC_SERVICE_PORTAL", 70}, {"card", "PUBLIC_SERVICE_PORTAL", 30}}},
	{code: "TCTK", name: "Tổng cục Thống kê", weight: 2, users: 3, uses: []use{
		{"dashboard", "STATISTICS", 70}, {"visits", "STATISTICS", 30}}},
}

var provinces = []string{"001", "031", "079", "048", "092", "038", "040", "036", "027", "022", "075", "074", "056", "066", "089"}

// Run writes the simulated history and returns its truth.
func Run(ctx context.Context, opt Options) (*Truth, error) {
	if opt.Keys == nil {
		return nil, errors.New("simulate: a key is required")
	}
	if opt.PerDay <= 0 {
		opt.PerDay = 150
	}
	if opt.ProbeInterval <= 0 {
		opt.ProbeInterval = 15 * time.Minute
	}
	if !opt.To.After(opt.From) {
		return nil, errors.New("simulate: empty period")
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x6c69656e74686f6e))
	loc := opt.From.Location()
	s := &sim{opt: opt, rng: rng, loc: loc, truth: &Truth{Total: newTally(), BySource: map[string]*Tally{}, ByAgency: map[string]*Tally{}, ByMonth: map[string]*Tally{},
		Outages: map[string][]Window{}, Down: map[string]time.Duration{}}}
	s.planOutages()
	if !opt.Restart.IsZero() {
		s.truth.Stopped = []Window{{From: opt.Restart, To: opt.Restart.Add(30 * time.Minute)}}
	}
	arrivals := s.planArrivals()
	s.now = opt.From.Add(-time.Hour)
	if err := s.open(); err != nil {
		return nil, err
	}
	// Probes run on the grid from an hour before the period.
	nextProbe := opt.From.Add(-time.Hour).Truncate(opt.ProbeInterval)
	probeUntil := func(t time.Time) error {
		for !nextProbe.After(t) && nextProbe.Before(opt.To) {
			if err := s.maybeRestart(nextProbe); err != nil {
				return err
			}
			if !s.stopped(nextProbe) {
				s.now = nextProbe
				if _, err := s.mon.Probe(ctx); err != nil {
					return err
				}
			}
			nextProbe = nextProbe.Add(opt.ProbeInterval)
		}
		return nil
	}
	for _, at := range arrivals {
		if err := probeUntil(at); err != nil {
			return nil, err
		}
		if err := s.maybeRestart(at); err != nil {
			return nil, err
		}
		if s.stopped(at) {
			continue
		}
		if err := s.attempt(ctx, at); err != nil {
			return nil, err
		}
	}
	if err := probeUntil(opt.To); err != nil {
		return nil, err
	}
	s.now = opt.To
	if err := s.close(); err != nil {
		return nil, err
	}
	for name, ws := range s.truth.Outages {
		for _, w := range ws {
			s.truth.Down[name] += w.Intersect(Window{From: opt.From, To: opt.To}).Duration()
		}
	}
	return s.truth, nil
}

type sim struct {
	opt       Options
	rng       *rand.Rand
	loc       *time.Location
	truth     *Truth
	now       time.Time
	log       *audit.Log
	mon       *health.Monitor
	restarted bool
	lastEnd   *chain.Record
}

func (s *sim) clock() time.Time { return s.now }

func (s *sim) open() error {
	path := filepath.Join(s.opt.Dir, "audit.log")
	var err error
	s.mon, err = health.Open(health.Options{Path: chain.HealthPath(path), Keys: s.opt.Keys, Node: "sim-node-1", Sources: sourceNames, Interval: s.opt.ProbeInterval,
		MinReprobe: time.Minute, Now: s.clock, NoSync: true, Simulated: true}, health.PingerFunc(s.ping))
	if err != nil {
		return err
	}
	s.log, err = audit.Open(audit.Options{Path: path, Keys: s.opt.Keys, Node: "sim-node-1", Now: s.clock, NoSync: true, Simulated: true,
		OnEnd: func(r *chain.Record) { s.lastEnd = r }})
	return err
}

func (s *sim) close() error {
	return errors.Join(s.log.Close(), s.mon.Close())
}

func (s *sim) stopped(t time.Time) bool {
	for _, w := range s.truth.Stopped {
		if !t.Before(w.From) && t.Before(w.To) {
			return true
		}
	}
	return false
}

// maybeRestart stops the node at the restart time and starts it again
// when the stop is over.
func (s *sim) maybeRestart(t time.Time) error {
	if len(s.truth.Stopped) == 0 || s.restarted || t.Before(s.truth.Stopped[0].From) {
		return nil
	}
	s.now = s.truth.Stopped[0].From
	if err := s.close(); err != nil {
		return err
	}
	s.now = s.truth.Stopped[0].To
	s.restarted = true
	return s.open()
}

func sourceNames() []string {
	var out []string
	for _, src := range DemoSources {
		out = append(out, src.Name)
	}
	return out
}

// down reports whether src is in an outage at t.
func (s *sim) down(src string, t time.Time) bool {
	for _, w := range s.truth.Outages[src] {
		if !t.Before(w.From) && t.Before(w.To) {
			return true
		}
	}
	return false
}

func (s *sim) ping(_ context.Context, src string) (time.Duration, error) {
	if s.down(src, s.now) {
		for _, d := range DemoSources {
			if d.Name == src {
				switch d.Kind {
				case "csv", "parquet":
					return 0, fmt.Errorf("source %s: connect: stat /srv/lienthong/%s: input/output error (NFS server not responding)", src, src)
				}
			}
		}
		return 0, fmt.Errorf("source %s: connect: dial tcp 10.20.%d.15:5432: connect: connection refused", src, len(src))
	}
	base := 2 * time.Millisecond
	for _, d := range DemoSources {
		if d.Name == src {
			base = time.Duration(float64(base) * d.Slowness)
		}
	}
	// Probes run in parallel: each draws from its own generator, seeded
	// by source and time, so the history does not depend on scheduling.
	h := uint64(14695981039346656037)
	for _, c := range []byte(src) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	r := rand.New(rand.NewPCG(s.opt.Seed^h, uint64(s.now.UnixNano())))
	return time.Duration(float64(base) * math.Exp(0.35*r.NormFloat64())), nil
}

func (s *sim) lognormal(median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(sigma*s.rng.NormFloat64()))
}

// planOutages draws each source's outages: a monthly maintenance window
// and unplanned ones (Poisson arrivals, exponential lengths).
func (s *sim) planOutages() {
	from, to := s.opt.From.Add(-24*time.Hour), s.opt.To
	for _, src := range DemoSources {
		var ws []Window
		if src.Maintenance > 0 {
			for m := time.Date(from.Year(), from.Month(), 1, 22, 0, 0, 0, s.loc); m.Before(to); m = m.AddDate(0, 1, 0) {
				d := m
				for d.Weekday() != time.Sunday {
					d = d.AddDate(0, 0, 1)
				}
				ws = append(ws, Window{From: d, To: d.Add(src.Maintenance)})
			}
		}
		rate := src.OutagesPerMonth / (30 * 24 * float64(time.Hour))
		for t := from; ; {
			t = t.Add(time.Duration(s.rng.ExpFloat64() / rate))
			if !t.Before(to) {
				break
			}
			length := time.Duration(s.rng.ExpFloat64() * float64(src.MeanOutage))
			length = max(length.Round(time.Minute), 3*time.Minute)
			ws = append(ws, Window{From: t.Round(time.Minute), To: t.Round(time.Minute).Add(length)})
		}
		sort.Slice(ws, func(i, j int) bool { return ws[i].From.Before(ws[j].From) })
		var merged []Window
		for _, w := range ws {
			if n := len(merged); n > 0 && !w.From.After(merged[n-1].To) {
				if w.To.After(merged[n-1].To) {
					merged[n-1].To = w.To
				}
				continue
			}
			merged = append(merged, w)
		}
		s.truth.Outages[src.Name] = merged
	}
}

// holidays (2026) on which traffic is a tenth of a working day's: Tết
// Nguyên Đán, Hùng Kings' day, Reunion day and Labour day, National day.
var holidays = map[string]bool{}

func init() {
	for _, d := range []string{"2026-01-01", "2026-02-14", "2026-02-15", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-21", "2026-02-22",
		"2026-04-26", "2026-04-27", "2026-04-30", "2026-05-01", "2026-09-01", "2026-09-02"} {
		holidays[d] = true
	}
}

// planArrivals draws every attempt's start time.
func (s *sim) planArrivals() []time.Time {
	var out []time.Time
	start := time.Date(s.opt.From.Year(), s.opt.From.Month(), s.opt.From.Day(), 0, 0, 0, 0, s.loc)
	for day := start; day.Before(s.opt.To); day = day.AddDate(0, 0, 1) {
		months := day.Sub(s.opt.From).Hours() / 24 / 30
		mean := s.opt.PerDay * math.Pow(1.04, months)
		switch {
		case holidays[day.Format("2006-01-02")]:
			mean *= 0.1
		case day.Weekday() == time.Saturday:
			mean *= 0.3
		case day.Weekday() == time.Sunday:
			mean *= 0.1
		}
		n := s.poisson(mean)
		for i := 0; i < n; i++ {
			var sec float64
			if s.rng.Float64() < 0.85 { // office hours, 07:30 to 17:00
				sec = 7.5*3600 + s.rng.Float64()*9.5*3600
			} else {
				sec = s.rng.Float64() * 86400
			}
			t := day.Add(time.Duration(sec * float64(time.Second))).Truncate(time.Millisecond)
			if !t.Before(s.opt.From) && t.Before(s.opt.To) {
				out = append(out, t)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

func (s *sim) poisson(mean float64) int {
	if mean > 50 {
		return max(0, int(math.Round(mean+math.Sqrt(mean)*s.rng.NormFloat64())))
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= s.rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func (s *sim) pick(weights []float64) int {
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	x := s.rng.Float64() * sum
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

func (s *sim) pin() string {
	prov := provinces[s.rng.IntN(len(provinces))]
	year := 1940 + s.rng.IntN(86)
	g := 2*((year-1900)/100) + s.rng.IntN(2)
	return fmt.Sprintf("%s%d%02d%06d", prov, g, year%100, s.rng.IntN(1_000_000))
}

// attempt simulates one query at t through the real audit.Log.
func (s *sim) attempt(ctx context.Context, t time.Time) error {
	ws := make([]float64, len(requesters))
	for i, r := range requesters {
		ws[i] = r.weight
	}
	req := requesters[s.pick(ws)]
	uw := make([]float64, len(req.uses))
	for i, u := range req.uses {
		uw[i] = u.weight
	}
	u := req.uses[s.pick(uw)]
	tpl := templates[u.template]
	a := &attempt.Attempt{
		ID:    fmt.Sprintf("%016x%016x", s.rng.Uint64(), s.rng.Uint64()),
		Start: t,
		Session: attempt.Session{
			Principal: fmt.Sprintf("%s.canbo%02d", strings.ToLower(req.code), 1+s.rng.IntN(req.users)),
			Agency:    req.code, Purpose: u.purpose,
		},
	}
	if req.caseTag != "" {
		a.Session.CaseID = fmt.Sprintf("%s-%s-%05d", req.caseTag, t.Format("0601"), s.rng.IntN(100000))
	}
	sqlText := tpl.sql
	if tpl.pin {
		p := s.pin()
		sqlText = fmt.Sprintf(tpl.sql, p)
		a.FilterPINs = []string{p}
	}
	a.SQL = sqlText
	r := s.rng.Float64()
	s.now = t
	switch {
	case r < 0.015: // a purpose without a grant on a source: refused at planning
		a.Sources = tpl.sources // (assumes the engine names the sources of a denied query)
		a.Outcome, a.ErrorCode, a.Duration = attempt.Denied, "LT-DENIED", s.lognormal(3*time.Millisecond, 0.3)
		return s.end(ctx, a, req, u)
	case r < 0.035: // the user's SQL is wrong: refused before planning
		a.SQL = strings.Replace(sqlText, "SELECT", "SELEC", 1)
		a.FilterPINs = nil
		code := "LT-SYNTAX"
		if s.rng.Float64() < 0.4 {
			a.SQL = strings.Replace(sqlText, "full_name", "fullname", 1)
			code = "LT-UNKNOWN"
		}
		a.Outcome, a.ErrorCode, a.Duration = attempt.Failed, code, s.lognormal(2*time.Millisecond, 0.3)
		return s.end(ctx, a, req, u)
	}
	a.Sources, a.Tables, a.Columns = tpl.sources, tpl.tables, tpl.columns
	if err := s.log.Begin(ctx, a); err != nil {
		return err
	}
	slow := 1.0
	for _, src := range tpl.sources {
		for _, d := range DemoSources {
			if d.Name == src {
				slow = math.Max(slow, d.Slowness)
			}
		}
	}
	rows := int64(tpl.rowsLo + s.rng.IntN(tpl.rowsHi-tpl.rowsLo+1))
	read := func(frac float64) map[string]int64 {
		m := map[string]int64{}
		for _, src := range tpl.sources {
			m[src] = int64(frac * (tpl.readFactor*float64(rows) + float64(tpl.readBase)*(0.8+0.4*s.rng.Float64())))
		}
		return m
	}
	var failing string
	for _, src := range tpl.sources {
		if s.down(src, t) {
			failing = src
		}
	}
	r2 := s.rng.Float64()
	switch {
	case failing != "":
		// The codes the engine emits: a source that does not answer within
		// connect_timeout is LT-SOURCE-DOWN; one failing the query it was
		// sent is LT-SOURCE-ERROR (engine/errors.go).
		a.Outcome, a.ErrorCode = attempt.Failed, "LT-SOURCE-ERROR"
		a.Duration = s.lognormal(40*time.Millisecond, 0.5)
		if s.rng.Float64() < 0.3 { // connect timeout
			a.ErrorCode = "LT-SOURCE-DOWN"
			a.Duration = 5*time.Second + s.lognormal(20*time.Millisecond, 0.3)
		}
		a.RowsPerSource = read(0)
	case tpl.heavy && r2 < 0.004:
		a.Outcome, a.ErrorCode, a.Duration = attempt.Failed, "LT-TIMEOUT", 5*time.Minute
		a.RowsPerSource = read(0.7)
	case r2 < 0.009:
		a.Outcome, a.ErrorCode = attempt.Cancelled, "LT-CANCELLED"
		a.Duration = time.Duration(float64(tpl.median) * slow * (0.2 + s.rng.Float64()))
		a.RowsPerSource = read(0.5)
		a.Rows = rows / 3
	default:
		a.Outcome = attempt.Succeeded
		a.Duration = s.lognormal(time.Duration(float64(tpl.median)*slow), 0.55)
		a.Rows = rows
		a.Bytes = rows * int64(60+s.rng.IntN(80))
		a.RowsPerSource = read(1)
		sum := sha256.Sum256([]byte(a.ID))
		a.ResultSHA256 = hex.EncodeToString(sum[:])
	}
	s.now = t.Add(a.Duration)
	return s.end(ctx, a, req, u)
}

// end writes the end record, tells the monitor, and tallies the truth.
func (s *sim) end(ctx context.Context, a *attempt.Attempt, req requester, u use) error {
	if err := s.log.End(ctx, a); err != nil {
		return err
	}
	// What the node's OnEnd hook hands the monitor.
	probe, err := s.mon.Used(s.lastEnd)
	if err != nil {
		return err
	}
	if len(probe) > 0 {
		s.now = s.now.Add(time.Second)
		if _, err := s.mon.Probe(ctx, probe...); err != nil {
			return err
		}
	}
	tallies := []*Tally{s.truth.Total, s.tally(s.truth.ByAgency, req.code), s.tally(s.truth.ByMonth, a.Start.In(s.loc).Format("2006-01"))}
	var shared int64
	for _, n := range a.RowsPerSource {
		shared += n
	}
	for _, t := range tallies {
		t.count(a, u.purpose, shared)
	}
	for _, src := range a.Sources {
		s.tally(s.truth.BySource, src).count(a, u.purpose, a.RowsPerSource[src])
	}
	return nil
}

func (s *sim) tally(m map[string]*Tally, k string) *Tally {
	if m[k] == nil {
		m[k] = newTally()
	}
	return m[k]
}

func (t *Tally) count(a *attempt.Attempt, purpose string, shared int64) {
	t.Attempts++
	switch a.Outcome {
	case attempt.Succeeded:
		t.Succeeded++
		t.Durations = append(t.Durations, a.Duration.Truncate(time.Microsecond))
	case attempt.Denied:
		t.Denied++
	case attempt.Cancelled:
		t.Cancelled++
		t.FailuresByCode[a.ErrorCode]++
	default:
		t.Failed++
		t.FailuresByCode[a.ErrorCode]++
	}
	t.RowsDelivered += a.Rows
	t.RowsShared += shared
	t.Agencies[a.Session.Agency] = true
	t.Purposes[purpose] = true
}
