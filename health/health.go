// Package health measures whether each connected agency database answers:
// a Monitor probes every source periodically and on demand, learns from
// finished queries (a success proves a source up; a source failure
// prompts a probe at once) and keeps every observation in a hash-chained
// history file beside the audit log (FILE.health, the same format and
// guarantees as the audit log). Uptime per period is then measured from
// that history, not estimated: see Measure.
//
// It is a package apart from audit because it has its own lifecycle (a
// goroutine per node, independent of queries) and its own consumers (the
// report, `sources status`, and a health endpoint); it keeps its history
// in an audit/chain (records, chain, file store), so the history is as
// tamper-evident as the audit log. It imports audit/chain, never audit:
// audit/report imports health.
package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"lienthong/audit/chain"
)

// Pinger checks that a source answers. The engine will provide it
// (Engine.Ping); until then cmd/lienthong adapts the connectors.
type Pinger interface {
	Ping(ctx context.Context, source string) (time.Duration, error)
}

// PingerFunc adapts a function.
type PingerFunc func(ctx context.Context, source string) (time.Duration, error)

func (f PingerFunc) Ping(ctx context.Context, source string) (time.Duration, error) {
	return f(ctx, source)
}

// Sample is one observation of a source.
type Sample struct {
	Time    time.Time
	Source  string
	Up      bool
	Latency time.Duration // probes only
	Error   string        // first line, PIN-like numbers removed
	// Via is "probe" (periodic or triggered) or "use" (a finished query);
	// "stop" (no source) marks the monitor stopping cleanly.
	Via string
	// Interval is the probe interval in force: a sample stands for the
	// source's state until the next one, for at most 2 intervals.
	Interval time.Duration
}

func sampleFromRecord(r *chain.Record) (Sample, bool) {
	if r.Kind == chain.KindClose {
		// The monitor stopped: what it last saw stands for nothing after.
		return Sample{Time: r.Time, Via: "stop"}, true
	}
	if r.Kind != chain.KindProbe && r.Kind != chain.KindUse {
		return Sample{}, false
	}
	return Sample{Time: r.Time, Source: r.Source, Up: r.Status == "up", Latency: time.Duration(r.LatencyUS) * time.Microsecond,
		Error: r.Error, Via: string(r.Kind), Interval: time.Duration(r.IntervalMS) * time.Millisecond}, true
}

func (s Sample) record() *chain.Record {
	status := "down"
	if s.Up {
		status = "up"
	}
	kind := chain.KindProbe
	if s.Via == "use" {
		kind = chain.KindUse
	}
	return &chain.Record{Kind: kind, Source: s.Source, Status: status, LatencyUS: s.Latency.Microseconds(), Error: s.Error, IntervalMS: s.Interval.Milliseconds()}
}

// Options configure a Monitor.
type Options struct {
	// Path of the history file; by convention chain.HealthPath(audit log).
	Path string
	// Keys authenticate the history's head (the audit key).
	Keys *chain.Keys
	Node string
	// Sources lists the sources to probe, asked at each probe: they
	// change while the monitor runs (a cluster's sources API).
	Sources func() []string
	// Interval between probe rounds; default 30s.
	Interval time.Duration
	// Timeout of one probe; default 10s.
	Timeout time.Duration
	// MinReprobe is the least time between two probes of one source
	// triggered by queries; default 5s.
	MinReprobe time.Duration
	// Now is the clock; simulations set it.
	Now    func() time.Time
	NoSync bool
	// Simulated marks the history as synthetic.
	Simulated bool
	// OnChange is called when a source's state changes (e.g. to refresh
	// the catalog when a source comes back).
	OnChange func(source string, up bool)
}

// DefaultInterval is the probe interval when none is configured.
const DefaultInterval = 30 * time.Second

// Monitor probes sources and records what it sees.
type Monitor struct {
	opt   Options
	p     Pinger
	chain *chain.Chain
	store chain.Store

	mu       sync.Mutex
	state    map[string]Sample
	lastTrig map[string]time.Time
	trig     chan []string
	uses     chan *chain.Record
	dropped  int64
}

// Open opens (or creates) the history file and restores each source's last
// known state from it.
func Open(opt Options, p Pinger) (*Monitor, error) {
	if opt.Keys == nil {
		return nil, errors.New("health: a key is required (it authenticates the history's head)")
	}
	if opt.Interval <= 0 {
		opt.Interval = DefaultInterval
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	if opt.MinReprobe <= 0 {
		opt.MinReprobe = 5 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	fs, err := chain.OpenFileStore(opt.Path, chain.FileOptions{Keys: opt.Keys, Node: opt.Node, NoSync: opt.NoSync})
	if err != nil {
		return nil, err
	}
	m := &Monitor{opt: opt, p: p, store: fs, chain: chain.NewChain(fs, opt.Node, opt.Now), state: map[string]Sample{},
		lastTrig: map[string]time.Time{}, trig: make(chan []string, 64), uses: make(chan *chain.Record, 1024)}
	if fs.Last() != nil {
		// The last state of each source: read back from the end. A
		// history is small next to the audit log (one line per probe).
		from := uint64(0)
		if n := fs.Last().Seq; n > 100_000 {
			from = n - 100_000
		}
		_ = fs.Iterate(from, func(r *chain.Record) error {
			if s, ok := sampleFromRecord(r); ok && s.Source != "" {
				m.state[s.Source] = s
			}
			return nil
		})
	}
	if err := m.chain.Append(&chain.Record{Kind: chain.KindOpen, Format: chain.Format, KeyID: opt.Keys.ID, Note: fs.Recovered, Simulated: opt.Simulated, IntervalMS: opt.Interval.Milliseconds()}); err != nil {
		fs.Close()
		return nil, err
	}
	return m, nil
}

// Probe checks the given sources (all when none) at once, in parallel,
// and records the results as one batch.
func (m *Monitor) Probe(ctx context.Context, sources ...string) ([]Sample, error) {
	if len(sources) == 0 {
		sources = m.opt.Sources()
	}
	out := make([]Sample, len(sources))
	var wg sync.WaitGroup
	for i, src := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, m.opt.Timeout)
			defer cancel()
			at := m.opt.Now()
			lat, err := m.p.Ping(pctx, src)
			s := Sample{Time: at, Source: src, Up: err == nil, Latency: lat, Via: "probe", Interval: m.opt.Interval}
			if err != nil {
				s.Error = cleanError(err)
			}
			out[i] = s
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err() // stopping: a probe cut short says nothing about the source
	}
	return out, m.record(out)
}

// record appends samples and updates the state.
func (m *Monitor) record(samples []Sample) error {
	recs := make([]*chain.Record, len(samples))
	for i, s := range samples {
		recs[i] = s.record()
	}
	if err := m.chain.Append(recs...); err != nil {
		return err
	}
	var changed []Sample
	m.mu.Lock()
	for i, s := range samples {
		s.Time = recs[i].Time
		old, had := m.state[s.Source]
		m.state[s.Source] = s
		if !had || old.Up != s.Up {
			changed = append(changed, s)
		}
	}
	m.mu.Unlock()
	if m.opt.OnChange != nil {
		for _, s := range changed {
			m.opt.OnChange(s.Source, s.Up)
		}
	}
	return nil
}

// cleanError keeps an error's first line, without PIN-like numbers and at
// most 300 bytes: errors are stored, and must not carry data.
func cleanError(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	msg = chain.Scrub(msg)
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}

// sourceCodes are the error codes that blame a source, not the query;
// checkCodes may or may not (a timeout: a slow source, or a heavy query),
// so they only prompt a probe.
var (
	sourceCodes = map[string]bool{"LT-SOURCE": true, "LT-SOURCE-DOWN": true, "LT-SOURCE-ERROR": true, "LT-SOURCE-TIMEOUT": true}
	checkCodes  = map[string]bool{"LT-TIMEOUT": true}
)

// Used learns from a finished query (an audit end record): a success
// proves each source it read up, recorded only when that changes the
// known state; a failure that blames a source (the one the engine names,
// or the only one the query read) marks it down. It returns the sources to probe now to settle their state: those
// marked down, and all a multi-source failure or a timeout touched (the
// record does not say which source failed), or every source when none is
// named.
func (m *Monitor) Used(r *chain.Record) ([]string, error) {
	switch {
	case r.Outcome == "succeeded":
		var ups []Sample
		m.mu.Lock()
		for _, src := range r.Sources {
			if s, ok := m.state[src]; ok && !s.Up {
				ups = append(ups, Sample{Time: r.Time, Source: src, Up: true, Via: "use", Interval: m.opt.Interval})
			}
		}
		m.mu.Unlock()
		if len(ups) == 0 {
			return nil, nil
		}
		return nil, m.record(ups)
	case r.Outcome == "failed" && checkCodes[r.Code]:
		return slices.Clone(r.Sources), nil
	case r.Outcome == "failed" && sourceCodes[r.Code]:
		if len(r.Sources) == 0 && r.FailedSource == "" {
			return m.opt.Sources(), nil
		}
		if len(r.Sources) == 1 || r.FailedSource != "" {
			src := r.FailedSource
			if src == "" {
				src = r.Sources[0]
			}
			m.mu.Lock()
			s, ok := m.state[src]
			m.mu.Unlock()
			if !ok || s.Up {
				err := m.record([]Sample{{Time: r.Time, Source: src, Up: false, Via: "use", Interval: m.opt.Interval, Error: "a query failed with " + r.Code + " naming this source"}})
				return []string{src}, err
			}
		}
		return slices.Clone(r.Sources), nil
	}
	return nil, nil
}

// Observe is Used for the audit log's OnEnd hook: it hands the record to
// Run without blocking (dropping it if Run is far behind).
func (m *Monitor) Observe(r *chain.Record) {
	select {
	case m.uses <- r:
	default:
		m.mu.Lock()
		m.dropped++
		m.mu.Unlock()
	}
}

// Run probes every Interval until ctx ends, and handles what Observe
// hands it (at most one triggered probe per source per MinReprobe).
func (m *Monitor) Run(ctx context.Context) error {
	tick := time.NewTicker(m.opt.Interval)
	defer tick.Stop()
	if _, err := m.Probe(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if _, err := m.Probe(ctx); err != nil && ctx.Err() == nil {
				return err
			}
		case r := <-m.uses:
			probe, err := m.Used(r)
			if err != nil {
				return err
			}
			if probe = m.throttle(probe); len(probe) > 0 {
				if _, err := m.Probe(ctx, probe...); err != nil && ctx.Err() == nil {
					return err
				}
			}
		}
	}
}

func (m *Monitor) throttle(srcs []string) []string {
	now := m.opt.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, s := range srcs {
		if now.Sub(m.lastTrig[s]) >= m.opt.MinReprobe {
			m.lastTrig[s] = now
			out = append(out, s)
		}
	}
	return out
}

// State is the last sample of each source, by name.
func (m *Monitor) State() []Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Sample, 0, len(m.state))
	for _, s := range m.state {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

// Close records a close and closes the history.
func (m *Monitor) Close() error {
	err := m.chain.Append(&chain.Record{Kind: chain.KindClose})
	return errors.Join(err, m.store.Close())
}

// ReadSamples calls fn with every sample in the history at path whose time
// is in [from, to) (zero: unbounded), in order.
func ReadSamples(path string, from, to time.Time, fn func(Sample) error) error {
	rd, err := chain.OpenReader(path)
	if err != nil {
		return err
	}
	start := uint64(0)
	if !from.IsZero() {
		start = rd.SeqFor(from)
	}
	return rd.Iterate(start, func(r *chain.Record) error {
		s, ok := sampleFromRecord(r)
		if !ok || (!from.IsZero() && s.Time.Before(from)) || (!to.IsZero() && !s.Time.Before(to)) {
			return nil
		}
		return fn(s)
	})
}

// String is a one-line description of a sample.
func (s Sample) String() string {
	st := "up"
	if !s.Up {
		st = "DOWN"
	}
	out := fmt.Sprintf("%s %-8s %-4s", s.Time.Format(time.RFC3339), s.Source, st)
	if s.Via == "probe" {
		out += fmt.Sprintf(" %7.1f ms", float64(s.Latency.Microseconds())/1000)
	} else {
		out += "  (query)  "
	}
	if s.Error != "" {
		out += "  " + s.Error
	}
	return out
}
