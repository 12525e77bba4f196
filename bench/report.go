package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Rerender rewrites the Markdown and PNG next to an existing results JSON
// (after a change to the report's layout).
func Rerender(jsonPath string) ([]string, error) {
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", jsonPath, err)
	}
	rep.Summary = Summarise(rep.Queries)
	return WriteReport(&rep, filepath.Dir(jsonPath))
}

// WriteReport writes <date>-sf<scale>.json, .md and .png into dir and
// returns their paths.
func WriteReport(rep *Report, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-sf%s", rep.Date, scaleName(rep.Scale)))
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(base+".json", append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(base+".md", []byte(Markdown(rep, filepath.Base(base)+".png")), 0o644); err != nil {
		return nil, err
	}
	png, err := Chart(rep)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(base+".png", png, 0o644); err != nil {
		return nil, err
	}
	return []string{base + ".json", base + ".md", base + ".png"}, nil
}

// secs renders seconds for people: 3 significant digits.
func secs(s float64) string {
	switch {
	case s <= 0:
		return "–"
	case s < 0.01:
		return fmt.Sprintf("%.4f", s)
	case s < 1:
		return fmt.Sprintf("%.3f", s)
	case s < 10:
		return fmt.Sprintf("%.2f", s)
	}
	return fmt.Sprintf("%.1f", s)
}

func ratio(r float64) string {
	if r <= 0 {
		return "–"
	}
	if r < 0.1 {
		return fmt.Sprintf("%.3f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

// humanBytes renders a byte count.
func humanBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

func humanCount(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	}
	return fmt.Sprintf("%d", n)
}

// Markdown renders the results table with the ratios and geometric means.
func Markdown(rep *Report, chart string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# CitizenBench, scale %s (%s)\n\n", scaleName(rep.Scale), rep.Date)
	fmt.Fprintf(&b, "Machine: %s.  \n", rep.Machine)
	fmt.Fprintf(&b, "Versions: lienthong %s; Go %s, PostgreSQL %s, MariaDB %s, DuckDB %s.  \n",
		rep.Lienthong, rep.Versions["go"], rep.Versions["postgresql"], rep.Versions["mariadb"], rep.Versions["duckdb"])
	fmt.Fprintf(&b, "Seed %d; %d warm-up and %d counted runs per system, alternating; times are medians in seconds with min–max; peer timeout %.0f s.  \n",
		rep.Seed, rep.Warmup, rep.Runs, rep.PeerTimeoutS)
	var ps []string
	for _, k := range sortedKeys(rep.Params) {
		ps = append(ps, fmt.Sprintf("`%s` = `%s`", k, rep.Params[k]))
	}
	fmt.Fprintf(&b, "Query parameters: %s.\n\n", strings.Join(ps, ", "))
	b.WriteString("- **lienthong**: " + rep.Systems["lienthong"] + ".\n")
	b.WriteString("- **peer**: " + rep.Systems["peer"] + ".\n")
	b.WriteString("- **floor**: " + rep.Systems["floor"] + ".\n\n")

	b.WriteString("| query | rows | lienthong s | peer s | floor s (query + extract) | lienthong/peer | lienthong/floor | lienthong RSS MB | lienthong read (rows, bytes) | status |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, q := range rep.Queries {
		peer := fmt.Sprintf("%s (%s–%s)", secs(q.PeerS), secs(q.PeerMinS), secs(q.PeerMaxS))
		if q.PeerTimeout {
			peer = fmt.Sprintf("timeout (>%.0f)", rep.PeerTimeoutS)
		}
		vsPeer := ratio(q.LienthongVsPeer)
		if q.PeerTimeout && q.LienthongVsPeer > 0 {
			vsPeer = "<" + vsPeer
		}
		status := q.Status
		if q.Counted() {
			var marks []string
			if q.LienthongVsPeer > 1 {
				marks = append(marks, "slower than peer")
			}
			if q.LienthongVsFloor > 2 {
				marks = append(marks, ">2× floor")
			}
			if len(marks) > 0 {
				status += ": " + strings.Join(marks, ", ")
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %s (%s–%s) | %s | %s (%s + %s) | %s | %s | %.0f | %s, %s | %s |\n",
			q.Name, q.ResultRows,
			secs(q.LienthongS), secs(q.LienthongMinS), secs(q.LienthongMaxS),
			peer,
			secs(q.FloorS), secs(q.FloorQueryS), secs(q.FloorExtractS),
			vsPeer, ratio(q.LienthongVsFloor), q.LienthongRSSMB,
			humanCount(q.RowsRead), humanBytes(q.BytesRead), status)
	}
	s := rep.Summary
	fmt.Fprintf(&b, "| **geometric mean** (%d counted) | | | | | **%s** | **%s** | | | |\n\n", s.Counted, ratio(s.GeoMeanVsPeer), ratio(s.GeoMeanVsFloor))

	fmt.Fprintf(&b, "Geometric-mean speedup over the peer: **%.2f×** (goal ≥ 10×: %s). ", s.SpeedupVsPeer, yesNo(s.GoalSpeedup))
	if s.GeoMeanVsFloor > 0 {
		fmt.Fprintf(&b, "Geometric mean of lienthong/floor: **%.2f**.", s.GeoMeanVsFloor)
	}
	if s.GeoMeanFloorVsPeer > 0 {
		fmt.Fprintf(&b, " The floor itself is %.2f× faster than the peer in geometric mean: the speedup an engine exactly at its floor would show.", 1/s.GeoMeanFloorVsPeer)
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "- Slower than the peer (goal: none): %s\n", listOrNone(s.SlowerThanPeer))
	fmt.Fprintf(&b, "- More than 2× the floor (goal: none): %s\n", listOrNone(s.OverTwiceFloor))
	fmt.Fprintf(&b, "- Not counted (answers differ or a system failed): %s\n\n", listOrNone(s.NotCounted))
	for _, q := range rep.Queries {
		if len(q.Problems) > 0 {
			fmt.Fprintf(&b, "Problems in %s:\n", q.Name)
			for _, p := range q.Problems {
				fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(p, "\n", " "))
			}
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "![lienthong, peer and floor per query](%s)\n\n", chart)
	b.WriteString("## Queries\n\n")
	for _, q := range rep.Queries {
		fmt.Fprintf(&b, "- `%s`: %s\n", q.Name, q.Measures)
	}
	b.WriteString("\nPer-source rows and bytes, lienthong's and the peer's plans, the floor's extraction statements and every run's time are in the JSON file next to this one.\n")
	return b.String()
}

func yesNo(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
