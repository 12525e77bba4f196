package report

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Series is one named, coloured row of values, one per category.
type Series struct {
	Name   string
	Color  string
	Values []float64
}

// Colours (Okabe-Ito: distinguishable with colour-blindness).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000", "#999999"}

var outcomeColors = map[string]string{
	"succeeded": "#009E73", "denied": "#CC79A7", "failed": "#D55E00", "cancelled": "#E69F00", "unfinished": "#999999",
}

const (
	chartW     = 760
	fontFamily = `font-family="DejaVu Sans, Arial, sans-serif"`
)

func esc(s string) string { return html.EscapeString(s) }

type svgDoc struct {
	b    strings.Builder
	w, h int
}

func newSVG(w, h int, title string) *svgDoc {
	d := &svgDoc{w: w, h: h}
	fmt.Fprintf(&d.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s font-size="12">`+"\n", w, h, w, h, fontFamily)
	fmt.Fprintf(&d.b, `<title>%s</title>`+"\n", esc(title))
	fmt.Fprintf(&d.b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", w, h)
	fmt.Fprintf(&d.b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", 12, esc(title))
	return d
}

func (d *svgDoc) text(x, y float64, anchor, s string, extra string) {
	fmt.Fprintf(&d.b, `<text x="%.1f" y="%.1f" text-anchor="%s"%s>%s</text>`+"\n", x, y, anchor, extra, esc(s))
}

func (d *svgDoc) rect(x, y, w, h float64, fill, tip string) {
	if w <= 0 || h <= 0 {
		return
	}
	fmt.Fprintf(&d.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`+"\n", x, y, w, h, fill, esc(tip))
}

func (d *svgDoc) line(x1, y1, x2, y2 float64, stroke string, width float64) {
	fmt.Fprintf(&d.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.1f"/>`+"\n", x1, y1, x2, y2, stroke, width)
}

// legend draws series names in a row under the title.
func (d *svgDoc) legend(x, y float64, ss []Series) {
	for _, s := range ss {
		d.rect(x, y-10, 12, 12, s.Color, s.Name)
		d.text(x+16, y, "start", s.Name, "")
		x += 16 + float64(textWidth(s.Name)) + 18
	}
}

func (d *svgDoc) String() string { return d.b.String() + "</svg>\n" }

// textWidth estimates a label's width in pixels at 12px.
func textWidth(s string) int { return int(float64(len([]rune(s))) * 6.8) }

// niceTicks returns tick values from lo to at least hi.
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Floor(lo/step) * step; v <= hi+step*0.999; v += step {
		out = append(out, v)
		if v >= hi {
			break
		}
	}
	return out
}

// StackedBars draws one vertical bar per category, stacked by series.
func StackedBars(title string, cats []string, ss []Series, fmtY func(float64) string) string {
	const top, bottom, left, right = 56, 40, 70, 16
	h := 320
	d := newSVG(chartW, h, title)
	d.legend(left, 42, ss)
	maxV := 0.0
	for i := range cats {
		sum := 0.0
		for _, s := range ss {
			sum += s.Values[i]
		}
		maxV = math.Max(maxV, sum)
	}
	ticks := niceTicks(0, maxV, 5)
	yMax := ticks[len(ticks)-1]
	plotH := float64(h - top - bottom)
	plotW := float64(chartW - left - right)
	y := func(v float64) float64 { return float64(top) + plotH - v/yMax*plotH }
	for _, t := range ticks {
		d.line(left, y(t), float64(chartW-right), y(t), "#dddddd", 1)
		d.text(left-6, y(t)+4, "end", fmtY(t), "")
	}
	slot := plotW / float64(max(1, len(cats)))
	bw := slot * 0.6
	for i, c := range cats {
		x := float64(left) + slot*float64(i) + (slot-bw)/2
		base := 0.0
		for _, s := range ss {
			v := s.Values[i]
			d.rect(x, y(base+v), bw, y(base)-y(base+v), s.Color, fmt.Sprintf("%s, %s: %s", c, s.Name, fmtY(v)))
			base += v
		}
		d.text(x+bw/2, float64(h-bottom)+16, "middle", c, "")
	}
	d.line(left, y(0), float64(chartW-right), y(0), "#333333", 1)
	return d.String()
}

// HBars draws one horizontal bar per category, stacked by series.
func HBars(title string, cats []string, ss []Series, fmtX func(float64) string) string {
	left := 120
	for _, c := range cats {
		left = max(left, textWidth(c)+16)
	}
	const top, right, barH, gap = 60, 60, 18, 8
	h := top + len(cats)*(barH+gap) + 30
	d := newSVG(chartW, h, title)
	d.legend(12, 42, ss)
	maxV := 0.0
	for i := range cats {
		sum := 0.0
		for _, s := range ss {
			sum += s.Values[i]
		}
		maxV = math.Max(maxV, sum)
	}
	ticks := niceTicks(0, maxV, 4)
	xMax := ticks[len(ticks)-1]
	plotW := float64(chartW - left - right)
	x := func(v float64) float64 { return float64(left) + v/xMax*plotW }
	bottomY := float64(top + len(cats)*(barH+gap))
	for _, t := range ticks {
		d.line(x(t), top-4, x(t), bottomY, "#dddddd", 1)
		d.text(x(t), bottomY+16, "middle", fmtX(t), "")
	}
	for i, c := range cats {
		yy := float64(top + i*(barH+gap))
		d.text(float64(left-6), yy+barH-4, "end", c, "")
		base, total := 0.0, 0.0
		for _, s := range ss {
			v := s.Values[i]
			d.rect(x(base), yy, x(base+v)-x(base), barH, s.Color, fmt.Sprintf("%s, %s: %s", c, s.Name, fmtX(v)))
			base += v
			total += v
		}
		d.text(x(total)+4, yy+barH-4, "start", fmtX(total), ` fill="#333333"`)
	}
	return d.String()
}

// Lines draws one line per series over the categories, with the y axis
// from yMin to yMax (NaN values leave a gap).
func Lines(title string, cats []string, ss []Series, yMin, yMax float64, fmtY func(float64) string) string {
	const top, bottom, left, right = 56, 40, 70, 16
	h := 320
	d := newSVG(chartW, h, title)
	d.legend(left, 42, ss)
	ticks := niceTicks(yMin, yMax, 5)
	lo, hi := ticks[0], ticks[len(ticks)-1]
	plotH := float64(h - top - bottom)
	plotW := float64(chartW - left - right)
	y := func(v float64) float64 { return float64(top) + plotH - (v-lo)/(hi-lo)*plotH }
	for _, t := range ticks {
		d.line(left, y(t), float64(chartW-right), y(t), "#dddddd", 1)
		d.text(left-6, y(t)+4, "end", fmtY(t), "")
	}
	slot := plotW / float64(max(1, len(cats)))
	xc := func(i int) float64 { return float64(left) + slot*float64(i) + slot/2 }
	for i, c := range cats {
		d.text(xc(i), float64(h-bottom)+16, "middle", c, "")
	}
	for _, s := range ss {
		var pts []string
		flush := func() {
			if len(pts) > 1 {
				fmt.Fprintf(&d.b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.Color, strings.Join(pts, " "))
			}
			pts = nil
		}
		for i, v := range s.Values {
			if math.IsNaN(v) {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xc(i), y(v)))
			fmt.Fprintf(&d.b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s</title></circle>`+"\n", xc(i), y(v), s.Color, esc(fmt.Sprintf("%s, %s: %s", cats[i], s.Name, fmtY(v))))
		}
		flush()
	}
	return d.String()
}
