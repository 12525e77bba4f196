package health

import (
	"math"
	"sort"
	"time"

	"lienthong/audit/sketch"
)

// HoldFactor: a sample stands for its source's state until the next
// sample of that source, but at most HoldFactor probe intervals. Beyond
// that (the node was stopped, the prober stalled) time is unmeasured,
// not counted as up or down.
const HoldFactor = 2

// Window is a half-open time range [From, To).
type Window struct{ From, To time.Time }

// Intersect is the part of w inside o; it is empty (Duration 0) when they
// do not meet.
func (w Window) Intersect(o Window) Window {
	if o.From.After(w.From) {
		w.From = o.From
	}
	if o.To.Before(w.To) {
		w.To = o.To
	}
	return w
}

// Duration is the window's length, zero when it is empty.
func (w Window) Duration() time.Duration { return max(w.To.Sub(w.From), 0) }

// Uptime is what the history shows of one source in one window.
type Uptime struct {
	Window   Window
	Up, Down time.Duration // measured time in each state
	// Outages are down periods overlapping the window; Longest is the
	// longest one's measured down time within the window.
	Outages int
	Longest time.Duration
	// Probes and failed probes in the window; Latency of successful probes.
	Probes, ProbesDown int
	Latency            sketch.Sketch
}

// Span is the window's length.
func (u *Uptime) Span() time.Duration { return u.Window.To.Sub(u.Window.From) }

// Unmeasured is the time no sample covered.
func (u *Uptime) Unmeasured() time.Duration { return u.Span() - u.Up - u.Down }

// Percent is measured uptime: up / (up + down) × 100; NaN when nothing
// was measured.
func (u *Uptime) Percent() float64 {
	m := u.Up + u.Down
	if m <= 0 {
		return math.NaN()
	}
	return 100 * float64(u.Up) / float64(m)
}

// Coverage is the share of the window that was measured, in percent.
func (u *Uptime) Coverage() float64 {
	if u.Span() <= 0 {
		return 0
	}
	return 100 * float64(u.Up+u.Down) / float64(u.Span())
}

// Outage is one period a source was down.
type Outage struct {
	Source     string
	Start, End time.Time     // first down sample; first up sample after it (or the end of what is known)
	Down       time.Duration // measured down time within it
	Error      string        // the first failed probe's error
	Ongoing    bool          // no up sample followed
}

// Measurer turns samples (in time order) into uptime per source and
// window.
type Measurer struct {
	windows []Window
	end     time.Time // the latest window end
	per     map[string][]Uptime
	last    map[string]Sample
	open    map[string]*Outage
	outages []Outage
}

// NewMeasurer measures over the given windows (e.g. a half-year and
// its months).
func NewMeasurer(windows ...Window) *Measurer {
	m := &Measurer{windows: windows, per: map[string][]Uptime{}, last: map[string]Sample{}, open: map[string]*Outage{}}
	for _, w := range windows {
		if w.To.After(m.end) {
			m.end = w.To
		}
	}
	return m
}

func (m *Measurer) uptimes(src string) []Uptime {
	u, ok := m.per[src]
	if !ok {
		u = make([]Uptime, len(m.windows))
		for i, w := range m.windows {
			u[i].Window = w
		}
		m.per[src] = u
	}
	return u
}

// Add takes the next sample (samples must come in time order).
func (m *Measurer) Add(s Sample) {
	if s.Via == "stop" {
		// Nothing is known after the monitor stopped until it samples again.
		for src, prev := range m.last {
			m.span(src, prev, s.Time)
			delete(m.last, src)
		}
		return
	}
	us := m.uptimes(s.Source)
	if prev, ok := m.last[s.Source]; ok {
		m.span(s.Source, prev, s.Time)
	}
	for i := range us {
		w := us[i].Window
		if !s.Time.Before(w.From) && s.Time.Before(w.To) && s.Via == "probe" {
			us[i].Probes++
			if s.Up {
				us[i].Latency.Add(s.Latency)
			} else {
				us[i].ProbesDown++
			}
		}
	}
	o := m.open[s.Source]
	switch {
	case !s.Up && o == nil:
		m.open[s.Source] = &Outage{Source: s.Source, Start: s.Time, Error: s.Error}
	case s.Up && o != nil:
		o.End = s.Time
		m.outages = append(m.outages, *o)
		delete(m.open, s.Source)
	}
	m.last[s.Source] = s
}

// span credits prev's state from prev.Time until next (or the hold limit).
func (m *Measurer) span(src string, prev Sample, next time.Time) {
	hold := prev.Interval * HoldFactor
	if hold <= 0 {
		hold = DefaultInterval * HoldFactor
	}
	end := next
	if lim := prev.Time.Add(hold); lim.Before(end) {
		end = lim
	}
	if !end.After(prev.Time) {
		return
	}
	us := m.per[src]
	for i := range us {
		w := us[i].Window
		part := w.Intersect(Window{prev.Time, end})
		a, b := part.From, part.To
		if !b.After(a) {
			continue
		}
		if prev.Up {
			us[i].Up += b.Sub(a)
		} else {
			us[i].Down += b.Sub(a)
		}
	}
	if o := m.open[src]; o != nil && !prev.Up {
		o.Down += end.Sub(prev.Time)
		o.End = end
	}
}

// Finish credits each source's last sample and returns uptime per source
// (in window order) and every outage that overlaps a window.
func (m *Measurer) Finish() (map[string][]Uptime, []Outage) {
	for src, s := range m.last {
		m.span(src, s, m.end)
	}
	for _, o := range m.open {
		o.Ongoing = true
		m.outages = append(m.outages, *o)
	}
	m.open = map[string]*Outage{}
	var out []Outage
	for _, o := range m.outages {
		in := false
		for _, w := range m.windows {
			if o.Start.Before(w.To) && o.End.After(w.From) {
				in = true
			}
		}
		if in {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	for _, o := range out {
		us := m.per[o.Source]
		for i := range us {
			w := us[i].Window
			if o.Start.Before(w.To) && o.End.After(w.From) {
				us[i].Outages++
				d := w.Intersect(Window{o.Start, o.End}).Duration()
				d = min(d, o.Down)
				if d > us[i].Longest {
					us[i].Longest = d
				}
			}
		}
	}
	return m.per, out
}

// Lookback is how far before a window Measure reads, to know each
// source's state when the window starts.
const Lookback = 2 * time.Hour

// Measure reads the history at path and measures the windows.
func Measure(path string, windows ...Window) (map[string][]Uptime, []Outage, error) {
	m := NewMeasurer(windows...)
	var from, to time.Time
	for i, w := range windows {
		if i == 0 || w.From.Before(from) {
			from = w.From
		}
		if w.To.After(to) {
			to = w.To
		}
	}
	err := ReadSamples(path, from.Add(-Lookback), to, func(s Sample) error {
		m.Add(s)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	per, out := m.Finish()
	return per, out, nil
}
