package bench

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
)

var (
	colLienthong = color.RGBA{0x1f, 0x77, 0xb4, 0xff}
	colPeer      = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	colFloor     = color.RGBA{0x7f, 0x7f, 0x7f, 0xff}
	colText      = color.RGBA{0x20, 0x20, 0x20, 0xff}
	colGrid      = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	colWhite     = color.RGBA{0xff, 0xff, 0xff, 0xff}
)

// Chart draws one group of three horizontal bars per query (lienthong, the
// peer, the floor; median seconds on a log scale) as a PNG.
func Chart(rep *Report) ([]byte, error) {
	const (
		scale   = 2
		barH    = 14
		barGap  = 2
		groupGp = 16
		right   = 120
		top     = 110
		bottom  = 70
		plotW   = 900
	)
	n := len(rep.Queries)
	left := 200
	for _, q := range rep.Queries {
		left = max(left, textWidth(q.Name, scale)+24)
	}
	groupH := 3*barH + 2*barGap
	height := top + bottom + n*(groupH+groupGp)
	width := left + plotW + right
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), &image.Uniform{colWhite}, image.Point{}, draw.Src)

	// Log axis bounds over every positive time.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, q := range rep.Queries {
		for _, v := range []float64{q.LienthongS, q.PeerS, q.FloorS} {
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0.001, 1
	}
	dLo, dHi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if dHi <= dLo {
		dHi = dLo + 1
	}
	xOf := func(v float64) int {
		f := (math.Log10(v) - dLo) / (dHi - dLo)
		return left + int(f*float64(plotW))
	}

	title := fmt.Sprintf("CitizenBench sf%s %s: median seconds per query, log scale", scaleName(rep.Scale), rep.Date)
	drawText(img, 20, 16, title, scale, colText)
	s := rep.Summary
	sub := fmt.Sprintf("geomean lienthong/peer %.3f (speedup %.2fX), lienthong/floor %.2f", s.GeoMeanVsPeer, s.SpeedupVsPeer, s.GeoMeanVsFloor)
	drawText(img, 20, 40, sub, scale, colText)
	// Legend.
	lx := 20
	for _, it := range []struct {
		c    color.Color
		name string
	}{{colLienthong, "lienthong"}, {colPeer, "peer (PostgreSQL FDW)"}, {colFloor, "floor (co-located DuckDB + extract)"}} {
		fillRect(img, lx, 70, lx+20, 84, it.c)
		drawText(img, lx+28, 71, it.name, scale, colText)
		lx += 28 + textWidth(it.name, scale) + 40
	}

	plotBottom := top + n*(groupH+groupGp)
	// Grid lines and tick labels at each decade.
	for d := dLo; d <= dHi; d++ {
		x := xOf(math.Pow(10, d))
		fillRect(img, x, top-6, x+1, plotBottom, colGrid)
		label := decadeLabel(d)
		drawText(img, x-textWidth(label, scale)/2, plotBottom+10, label, scale, colText)
	}
	drawText(img, left+plotW/2-textWidth("seconds", scale)/2, plotBottom+40, "seconds", scale, colText)

	y := top
	for _, q := range rep.Queries {
		drawText(img, left-12-textWidth(q.Name, scale), y+groupH/2-7, q.Name, scale, colText)
		for i, bar := range []struct {
			v       float64
			c       color.Color
			timeout bool
		}{{q.LienthongS, colLienthong, false}, {q.PeerS, colPeer, q.PeerTimeout}, {q.FloorS, colFloor, false}} {
			by := y + i*(barH+barGap)
			if bar.v <= 0 {
				drawText(img, left+4, by, "n/a", 1, colText)
				continue
			}
			x1 := xOf(bar.v)
			if x1 < left+1 {
				x1 = left + 1
			}
			fillRect(img, left, by, x1, by+barH, bar.c)
			label := secs(bar.v)
			if bar.timeout {
				label = "timeout"
				for hx := left; hx < x1; hx += 8 { // hatch a timed-out bar
					fillRect(img, hx, by, hx+3, by+barH, colWhite)
				}
			}
			drawText(img, x1+6, by+(barH-7*scale)/2+1, label, scale, colText)
		}
		y += groupH + groupGp
	}
	fillRect(img, left, top-6, left+1, plotBottom, colText)

	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func fillRect(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	draw.Draw(img, image.Rect(x0, y0, x1, y1), &image.Uniform{c}, image.Point{}, draw.Src)
}

func decadeLabel(d float64) string {
	v := math.Pow(10, d)
	if d >= 0 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.*f", int(-d), v)
}
