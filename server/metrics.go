package server

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// metrics is a small Prometheus text-exposition registry: counters and
// histograms with labels, and gauges read at scrape time.
type metrics struct {
	mu       sync.Mutex
	counters map[string]*counterVec
	hists    map[string]*histVec
	gauges   []gauge
	order    []string
	help     map[string]string
	kinds    map[string]string
}

type counterVec struct {
	labels []string
	values map[string]float64 // key: label values joined by \xff
}

type histVec struct {
	labels  []string
	buckets []float64
	series  map[string]*histSeries
}

type histSeries struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

type gauge struct {
	name, help string
	read       func() float64
}

func newMetrics() *metrics {
	return &metrics{counters: map[string]*counterVec{}, hists: map[string]*histVec{}, help: map[string]string{}, kinds: map[string]string{}}
}

func (m *metrics) counter(name, help string, labels ...string) {
	m.counters[name] = &counterVec{labels: labels, values: map[string]float64{}}
	m.order = append(m.order, name)
	m.help[name], m.kinds[name] = help, "counter"
}

func (m *metrics) histogram(name, help string, buckets []float64, labels ...string) {
	m.hists[name] = &histVec{labels: labels, buckets: buckets, series: map[string]*histSeries{}}
	m.order = append(m.order, name)
	m.help[name], m.kinds[name] = help, "histogram"
}

func (m *metrics) gauge(name, help string, read func() float64) {
	m.gauges = append(m.gauges, gauge{name, help, read})
}

func (m *metrics) add(name string, v float64, labelValues ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.counters[name]
	c.values[strings.Join(labelValues, "\xff")] += v
}

func (m *metrics) observe(name string, v float64, labelValues ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.hists[name]
	key := strings.Join(labelValues, "\xff")
	s := h.series[key]
	if s == nil {
		s = &histSeries{counts: make([]uint64, len(h.buckets))}
		h.series[key] = s
	}
	for i, b := range h.buckets {
		if v <= b {
			s.counts[i]++
			break
		}
	}
	s.sum += v
	s.count++
}

// value reads a counter (for tests).
func (m *metrics) value(name string, labelValues ...string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counters[name].values[strings.Join(labelValues, "\xff")]
}

func labelText(names []string, key string, extra ...string) string {
	var parts []string
	if len(names) > 0 {
		vals := strings.Split(key, "\xff")
		for i, n := range names {
			v := ""
			if i < len(vals) {
				v = vals[i]
			}
			parts = append(parts, n+"="+strconv.Quote(v))
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		parts = append(parts, extra[i]+"="+strconv.Quote(extra[i+1]))
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func fmtFloat(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// write renders the text exposition format (version 0.0.4).
func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, name := range m.order {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, m.help[name], name, m.kinds[name])
		if c := m.counters[name]; c != nil {
			for _, k := range sortedKeysOf(c.values) {
				fmt.Fprintf(w, "%s%s %s\n", name, labelText(c.labels, k), fmtFloat(c.values[k]))
			}
			continue
		}
		h := m.hists[name]
		keys := make([]string, 0, len(h.series))
		for k := range h.series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s := h.series[k]
			var cum uint64
			for i, b := range h.buckets {
				cum += s.counts[i]
				fmt.Fprintf(w, "%s_bucket%s %d\n", name, labelText(h.labels, k, "le", fmtFloat(b)), cum)
			}
			fmt.Fprintf(w, "%s_bucket%s %d\n", name, labelText(h.labels, k, "le", "+Inf"), s.count)
			fmt.Fprintf(w, "%s_sum%s %s\n", name, labelText(h.labels, k), fmtFloat(s.sum))
			fmt.Fprintf(w, "%s_count%s %d\n", name, labelText(h.labels, k), s.count)
		}
	}
	for _, g := range m.gauges {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", g.name, g.help, g.name, g.name, fmtFloat(g.read()))
	}
}

func sortedKeysOf(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Metric names.
const (
	mQueries      = "lienthong_queries_total"
	mQueryLatency = "lienthong_query_duration_seconds"
	mQueueWait    = "lienthong_queue_wait_seconds"
	mResultRows   = "lienthong_result_rows_total"
	mResultBytes  = "lienthong_result_bytes_total"
	mSourceRows   = "lienthong_source_rows_total"
	mSourceBytes  = "lienthong_source_bytes_total"
	mSourceErrors = "lienthong_source_errors_total"
	mAuthFailures = "lienthong_auth_failures_total"
	mPanics       = "lienthong_panics_total"
)

var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

func (s *Server) registerMetrics() {
	m := newMetrics()
	m.counter(mQueries, "Queries by protocol (http, flight) and outcome (ok, user_error, busy, timeout, cancelled, limit, source_error, internal_error).", "protocol", "outcome")
	m.histogram(mQueryLatency, "Time from admission to the last row sent, by protocol and outcome.", latencyBuckets, "protocol", "outcome")
	m.histogram(mQueueWait, "Time queries waited for a slot.", latencyBuckets)
	m.counter(mResultRows, "Rows sent to clients.", "protocol")
	m.counter(mResultBytes, "Arrow bytes of results sent to clients.", "protocol")
	m.counter(mSourceRows, "Rows read from each source.", "source")
	m.counter(mSourceBytes, "Arrow bytes read from each source.", "source")
	m.counter(mSourceErrors, "Queries failed by each source (down or query error).", "source")
	m.counter(mAuthFailures, "Refused authentications by protocol.", "protocol")
	m.counter(mPanics, "Requests that panicked (a bug), recovered and answered LT-INTERNAL, by protocol.", "protocol")
	m.gauge("lienthong_queries_running", "Queries holding a slot.", func() float64 { return float64(s.limiter.running()) })
	m.gauge("lienthong_queries_queued", "Queries waiting for a slot (queue depth).", func() float64 { return float64(s.limiter.queued()) })
	m.gauge("lienthong_catalog_version", "Catalog snapshot version (0 while starting).", func() float64 {
		if e := s.engine(); e != nil {
			return float64(e.Catalog().Version)
		}
		return 0
	})
	start := time.Now()
	m.gauge("lienthong_uptime_seconds", "Seconds since the server started.", func() float64 { return time.Since(start).Seconds() })
	s.metrics = m
}

// atomicCounter is an int64 counter.
type atomicCounter struct{ v atomic.Int64 }

func (c *atomicCounter) add(n int64) { c.v.Add(n) }
func (c *atomicCounter) load() int64 { return c.v.Load() }
