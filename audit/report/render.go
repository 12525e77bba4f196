package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// cell is a table cell: what is shown, what goes into the CSV, and the
// raw value's unit (named in the CSV header).
type cell struct{ text, raw, unit string }

func txt(s string) cell { return cell{s, s, ""} }

func num(n int64) cell { return cell{thousands(n), strconv.FormatInt(n, 10), ""} }

func pctCell(v float64) cell {
	if math.IsNaN(v) {
		return cell{"n/a", "", "%"}
	}
	return cell{fmt.Sprintf("%.2f%%", v), strconv.FormatFloat(v, 'f', 4, 64), "%"}
}

func msCell(d time.Duration, have bool) cell {
	if !have {
		return cell{"n/a", "", "ms"}
	}
	ms := float64(d) / float64(time.Millisecond)
	return cell{fmtMS(ms), strconv.FormatFloat(ms, 'f', 1, 64), "ms"}
}

func durCell(d time.Duration) cell {
	return cell{fmtDur(d), strconv.FormatFloat(d.Hours(), 'f', 3, 64), "h"}
}

func fmtMS(ms float64) string {
	switch {
	case ms >= 10000:
		return fmt.Sprintf("%.1f s", ms/1000)
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.1f d", d.Hours()/24)
	case d >= time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	}
	return fmt.Sprintf("%.0f min", d.Minutes())
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// table is one table of the report, rendered to Markdown, HTML and CSV.
type table struct {
	Name   string // CSV file name without .csv
	Title  string
	Note   string
	Header []string
	Rows   [][]cell
}

func failuresText(m map[string]int64) string {
	type kv struct {
		k string
		v int64
	}
	var kvs []kv
	for k, v := range m {
		kvs = append(kvs, kv{k, v})
	}
	sort.Slice(kvs, func(i, j int) bool {
		if kvs[i].v != kvs[j].v {
			return kvs[i].v > kvs[j].v
		}
		return kvs[i].k < kvs[j].k
	})
	var parts []string
	for _, x := range kvs {
		parts = append(parts, fmt.Sprintf("%s %s", x.k, thousands(x.v)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (r *Report) monthLabel(m time.Time) string { return m.Format("2006-01") }

// Tables builds every table of the report.
func (r *Report) tables() []table {
	var ts []table
	t := r.Total
	ts = append(ts, table{Name: "summary", Title: "Key figures", Header: []string{"Figure", "Value"}, Rows: [][]cell{
		{txt("Query attempts"), num(t.Attempts)},
		{txt("Answered (succeeded)"), num(t.Succeeded)},
		{txt("Denied by access policy"), num(t.Denied)},
		{txt("Failed"), num(t.Failed)},
		{txt("Cancelled by the client"), num(t.Cancelled)},
		{txt("Unfinished (node stopped)"), num(t.Unfinished)},
		{txt("Rows delivered to requesting agencies"), num(t.RowsDelivered)},
		{txt("Rows read from agency databases"), num(t.RowsShared)},
		{txt("Requesting agencies"), num(int64(t.Agencies()))},
		{txt("Users (principals)"), num(int64(t.Principals()))},
		{txt("Declared purposes"), num(int64(t.Purposes()))},
		{txt("Agency databases queried"), num(int64(t.Sources()))},
		{txt("Latency p50 of answered queries (ms)"), msCell(t.Latency.Quantile(0.5), t.Latency.Count() > 0)},
		{txt("Latency p95 of answered queries (ms)"), msCell(t.Latency.Quantile(0.95), t.Latency.Count() > 0)},
	}})

	src := table{Name: "sources", Title: "Connected agency databases",
		Note:   "Uptime is measured from probes and queries (see Definitions); \"measured\" is the share of the period the measurements cover. Queries served are answered attempts that read the database; rows shared are rows it returned to lienthong. The row \"(no source)\" counts attempts refused before any database was named (SQL errors).",
		Header: []string{"Database", "Uptime", "Measured", "Outages", "Longest outage", "Queries served", "Attempts", "Rows shared", "Requesting agencies", "Purposes", "Denials", "Failures", "p50", "p95", "Probe p50"}}
	for _, s := range r.Sources {
		u := s.Uptime
		row := []cell{txt(s.Source), pctCell(u.Percent()), pctCell(u.Coverage()), num(int64(u.Outages)), durCell(u.Longest),
			num(s.Succeeded), num(s.Attempts), num(s.RowsShared), num(int64(s.Agencies())), num(int64(s.Purposes())), num(s.Denied), num(s.FailuresTotal()),
			msCell(s.Latency.Quantile(0.5), s.Latency.Count() > 0), msCell(s.Latency.Quantile(0.95), s.Latency.Count() > 0),
			msCell(u.Latency.Quantile(0.5), u.Latency.Count() > 0)}
		if s.Source == NoSource {
			for i := 1; i <= 4; i++ {
				row[i] = cell{unit: row[i].unit}
			}
			row[14] = cell{unit: row[14].unit}
		}
		src.Rows = append(src.Rows, row)
	}
	ts = append(ts, src)

	fbs := table{Name: "source_failures", Title: "Failures by database and cause", Header: []string{"Database", "Failures by cause"}}
	for _, s := range r.Sources {
		if s.FailuresTotal() > 0 {
			fbs.Rows = append(fbs.Rows, []cell{txt(s.Source), txt(failuresText(s.FailuresByCode))})
		}
	}
	ts = append(ts, fbs)

	ag := table{Name: "agencies", Title: "Requesting agencies",
		Header: []string{"Agency", "Attempts", "Answered", "Rows received", "Rows read from sources", "Databases used", "Purposes", "Users", "Denials", "Failures", "p50", "p95", "Failures by cause"}}
	for _, a := range r.Agencies {
		ag.Rows = append(ag.Rows, []cell{txt(a.Agency), num(a.Attempts), num(a.Succeeded), num(a.RowsDelivered), num(a.RowsShared),
			txt(strings.Join(a.SourceList(), " ")), num(int64(a.Purposes())), num(int64(a.Principals())), num(a.Denied), num(a.FailuresTotal()),
			msCell(a.Latency.Quantile(0.5), a.Latency.Count() > 0), msCell(a.Latency.Quantile(0.95), a.Latency.Count() > 0), txt(failuresText(a.FailuresByCode))})
	}
	ts = append(ts, ag)

	// Who asked which database.
	var srcNames []string
	for _, s := range r.Sources {
		srcNames = append(srcNames, s.Source)
	}
	mx := table{Name: "agency_sources", Title: "Attempts by requesting agency and database", Header: append([]string{"Agency"}, srcNames...)}
	for _, a := range r.Agencies {
		row := []cell{txt(a.Agency)}
		for _, s := range srcNames {
			row = append(row, num(r.pair(a.Agency, s)))
		}
		mx.Rows = append(mx.Rows, row)
	}
	ts = append(ts, mx)

	pu := table{Name: "purposes", Title: "Declared purposes", Header: []string{"Purpose", "Attempts", "Answered", "Agencies", "Databases", "Rows received", "Denials", "Failures"}}
	for _, p := range r.Purposes {
		pu.Rows = append(pu.Rows, []cell{txt(p.Purpose), num(p.Attempts), num(p.Succeeded), num(int64(p.Agencies())), txt(strings.Join(p.SourceList(), " ")), num(p.RowsDelivered), num(p.Denied), num(p.FailuresTotal())})
	}
	ts = append(ts, pu)

	fl := table{Name: "failures", Title: "Failures by cause", Note: "Failed, cancelled and unfinished attempts. An attempt that read two databases counts under both in the per-database column.",
		Header: []string{"Code", "Category", "Meaning", "Attempts", "By database"}}
	for _, f := range r.Failures {
		fl.Rows = append(fl.Rows, []cell{txt(f.Code), txt(f.Category), txt(f.Meaning), num(f.Count), txt(failuresText(f.BySource))})
	}
	ts = append(ts, fl)

	mo := table{Name: "months", Title: "Monthly trends", Header: []string{"Month", "Attempts", "Answered", "Denied", "Failed", "Cancelled", "Rows received", "Rows shared", "Agencies", "p50", "p95", "Lowest database uptime"}}
	for _, m := range r.Months {
		c := m.Counts
		low, lowName := math.NaN(), ""
		for name, u := range m.Uptime {
			if p := u.Percent(); !math.IsNaN(p) && (math.IsNaN(low) || p < low) {
				low, lowName = p, name
			}
		}
		lowCell := pctCell(low)
		if lowName != "" {
			lowCell.text += " (" + lowName + ")"
		}
		mo.Rows = append(mo.Rows, []cell{txt(r.monthLabel(m.Month)), num(c.Attempts), num(c.Succeeded), num(c.Denied), num(c.Failed), num(c.Cancelled),
			num(c.RowsDelivered), num(c.RowsShared), num(int64(c.Agencies())),
			msCell(c.Latency.Quantile(0.5), c.Latency.Count() > 0), msCell(c.Latency.Quantile(0.95), c.Latency.Count() > 0), lowCell})
	}
	ts = append(ts, mo)

	um := table{Name: "uptime_by_month", Title: "Uptime by database and month", Header: []string{"Database"}}
	for _, m := range r.Months {
		um.Header = append(um.Header, r.monthLabel(m.Month))
	}
	for _, s := range r.Sources {
		if s.Source == NoSource {
			continue
		}
		row := []cell{txt(s.Source)}
		for _, m := range r.Months {
			u, ok := m.Uptime[s.Source]
			if !ok {
				row = append(row, cell{"n/a", "", "%"})
				continue
			}
			row = append(row, pctCell(u.Percent()))
		}
		um.Rows = append(um.Rows, row)
	}
	ts = append(ts, um)

	ot := table{Name: "outages", Title: "Outages", Note: "A down period runs from the first failed observation to the first successful one after it; its duration is the measured down time.",
		Header: []string{"Database", "From", "To", "Down", "First error"}}
	for _, o := range r.Outages {
		to := o.End.In(r.Loc).Format("2006-01-02 15:04")
		if o.Ongoing {
			to += " (ongoing)"
		}
		ot.Rows = append(ot.Rows, []cell{txt(o.Source), txt(o.Start.In(r.Loc).Format("2006-01-02 15:04")), txt(to), durCell(o.Down), txt(o.Error)})
	}
	ts = append(ts, ot)
	return ts
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// pair counts an agency's attempts on a source.
func (r *Report) pair(agency, source string) int64 {
	if r.pairs == nil {
		return 0
	}
	return r.pairs[agency+"\x00"+source]
}

// Charts returns the SVG charts by file name.
func (r *Report) Charts() map[string]string {
	out := map[string]string{}
	var months []string
	for _, m := range r.Months {
		months = append(months, r.monthLabel(m.Month))
	}
	outcomes := []string{"succeeded", "denied", "failed", "cancelled", "unfinished"}
	var ss []Series
	for _, o := range outcomes {
		s := Series{Name: o, Color: outcomeColors[o]}
		any := false
		for _, m := range r.Months {
			v := outcomeCount(&m.Counts, o)
			any = any || v > 0
			s.Values = append(s.Values, float64(v))
		}
		if any || o == "succeeded" {
			ss = append(ss, s)
		}
	}
	out["chart-queries-by-month.svg"] = StackedBars("Query attempts per month, by outcome", months, ss, fmtCount)

	var us []Series
	lo := 100.0
	i := 0
	for _, s := range r.Sources {
		if s.Source == NoSource {
			continue
		}
		se := Series{Name: s.Source, Color: palette[i%len(palette)]}
		i++
		for _, m := range r.Months {
			u, ok := m.Uptime[s.Source]
			p := math.NaN()
			if ok {
				p = u.Percent()
			}
			if !math.IsNaN(p) {
				lo = math.Min(lo, p)
			}
			se.Values = append(se.Values, p)
		}
		us = append(us, se)
	}
	yMin := math.Max(0, math.Floor(lo)-0.5)
	out["chart-uptime-by-month.svg"] = Lines("Measured uptime per database and month (%)", months, us, yMin, 100, func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "%" })

	var rs []Series
	i = 0
	for _, s := range r.Sources {
		if s.Source == NoSource {
			continue
		}
		se := Series{Name: s.Source, Color: palette[i%len(palette)]}
		i++
		for _, m := range months {
			se.Values = append(se.Values, float64(r.monthSource[m+"\x00"+s.Source]))
		}
		rs = append(rs, se)
	}
	out["chart-rows-shared-by-month.svg"] = StackedBars("Rows read from each agency database per month", months, rs, fmtCount)

	var names []string
	var as []Series
	for _, o := range outcomes {
		as = append(as, Series{Name: o, Color: outcomeColors[o]})
	}
	for _, a := range r.Agencies {
		names = append(names, a.Agency)
		for k, o := range outcomes {
			as[k].Values = append(as[k].Values, float64(outcomeCount(&a.Counts, o)))
		}
	}
	var keep []Series
	for _, s := range as {
		sum := 0.0
		for _, v := range s.Values {
			sum += v
		}
		if sum > 0 {
			keep = append(keep, s)
		}
	}
	out["chart-agencies.svg"] = HBars("Query attempts by requesting agency, by outcome", names, keep, fmtCount)

	p50 := Series{Name: "p50", Color: palette[0]}
	p95 := Series{Name: "p95", Color: palette[3]}
	hi := 1.0
	for _, m := range r.Months {
		a, b := math.NaN(), math.NaN()
		if m.Counts.Latency.Count() > 0 {
			a, b = ms(m.Counts.Latency.Quantile(0.5)), ms(m.Counts.Latency.Quantile(0.95))
			hi = math.Max(hi, b)
		}
		p50.Values = append(p50.Values, a)
		p95.Values = append(p95.Values, b)
	}
	out["chart-latency-by-month.svg"] = Lines("Latency of answered queries per month (ms)", months, []Series{p50, p95}, 0, hi, func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) })
	return out
}

func outcomeCount(c *Counts, o string) int64 {
	switch o {
	case "succeeded":
		return c.Succeeded
	case "denied":
		return c.Denied
	case "failed":
		return c.Failed
	case "cancelled":
		return c.Cancelled
	}
	return c.Unfinished
}

func fmtCount(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return thousands(int64(v))
}

func (r *Report) title() string {
	return fmt.Sprintf("Connection and sharing report %s", r.Label)
}

func (r *Report) periodText() string {
	last := r.To.Add(-time.Nanosecond).In(r.Loc)
	return fmt.Sprintf("%s to %s (%s)", r.From.In(r.Loc).Format("2 January 2006"), last.Format("2 January 2006"), r.Loc)
}

func (r *Report) simulatedNotice() string {
	return "SIMULATED DATA: this report was made from a synthetic audit history (lienthong audit simulate) over the demo agency databases. No real query, agency or outage is described; the figures only show what the report contains."
}

func (r *Report) integrity() []string {
	var out []string
	for _, l := range []struct {
		name string
		s    LogStatus
	}{{"Audit log", r.Audit}, {"Health history", r.Health}} {
		s := l.s
		state := "verified: every record intact, numbered and chained"
		if s.Tampered {
			state = "TAMPERING DETECTED (run lienthong audit verify)"
		} else if s.Records == 0 {
			state = "not available"
		}
		line := fmt.Sprintf("%s `%s`: %s; %s records, last record %d with hash `%s`", l.name, filepath.Base(s.Path), state, thousands(int64(s.Records)), s.LastSeq, s.LastHash)
		if s.Head != nil {
			auth := "not authenticated (no key given)"
			if s.Authed {
				auth = "authenticated with the audit key " + s.Head.KeyID
			}
			line += fmt.Sprintf("; head %s", auth)
		}
		out = append(out, line+".")
		for _, p := range s.Problems {
			out = append(out, "  - "+p.String())
		}
	}
	return out
}

func definitions() []string {
	return []string{
		"**Attempt**: one query a requesting agency's user sent, whatever its outcome; taken into the period by its start time.",
		"**Answered / queries served**: attempts that delivered every row (outcome succeeded). A database serves an attempt when the attempt read it.",
		"**Rows shared**: rows a database returned to lienthong (for any outcome); **rows received**: rows delivered to the requesting agency's user.",
		"**Denied**: refused by the access policy (no grant for the user, purpose or case).",
		"**Failures**: failed, cancelled and unfinished attempts, by the stable error code the engine gave (table *Failures by cause*).",
		"**Uptime**: measured, not estimated. Each database is probed every interval (30 s by default) and whenever a query touching it fails; every answered query also proves its databases up. Each observation stands for the database's state until the next one, for at most two probe intervals; time no observation covers (the node itself was stopped) is *unmeasured* and counts neither way. Uptime = up / (up + down); *measured* = (up + down) / period.",
		"**Latency**: time from receiving the query to its last row, for answered attempts; p50 and p95 by nearest rank, computed with a sketch accurate to 1%.",
		fmt.Sprintf("**Integrity**: the figures come from the hash-chained audit log and health history, verified before the report was made; their last records' hashes are printed above so anyone holding the logs can later prove they are the ones this report was made from (`lienthong audit verify --log FILE --anchor SEQ:HASH`). PINs appear in the logs only as keyed hashes (HMAC-SHA-256)."),
	}
}

// WriteMarkdown writes the report as Markdown; charts are linked as the
// SVG files Write puts beside it.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.title())
	if r.Simulated {
		fmt.Fprintf(&b, "> **%s**\n\n", r.simulatedNotice())
	}
	fmt.Fprintf(&b, "Report on the connection and sharing of citizen data under Decision 1911/QĐ-TTg (Art. 3.1.đ, 3.4.đ).\n\n")
	fmt.Fprintf(&b, "- Period: %s\n", r.periodText())
	fmt.Fprintf(&b, "- Generated: %s by lienthong from node(s) %s\n", r.Generated.In(r.Loc).Format("2006-01-02 15:04 MST"), strings.Join(r.Nodes, ", "))
	fmt.Fprintf(&b, "- Connected agency databases: %d; requesting agencies: %d\n\n", r.connectedCount(), len(r.Agencies))
	fmt.Fprintf(&b, "## Integrity of the records\n\n")
	for _, l := range r.integrity() {
		if strings.HasPrefix(l, "  - ") {
			fmt.Fprintf(&b, "%s\n", l)
		} else {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	b.WriteString("\n")
	ts := r.tables()
	charts := map[string]string{
		"summary": "", "sources": "chart-uptime-by-month.svg", "agencies": "chart-agencies.svg", "months": "chart-queries-by-month.svg",
	}
	for _, t := range ts {
		fmt.Fprintf(&b, "## %s\n\n", t.Title)
		if t.Note != "" {
			fmt.Fprintf(&b, "%s\n\n", t.Note)
		}
		if len(t.Rows) == 0 {
			b.WriteString("None in this period.\n\n")
			continue
		}
		mdTable(&b, t)
		if c := charts[t.Name]; c != "" {
			fmt.Fprintf(&b, "\n![%s](%s)\n", c, c)
		}
		if t.Name == "months" {
			b.WriteString("\n![Rows read from each database per month](chart-rows-shared-by-month.svg)\n")
			b.WriteString("\n![Latency per month](chart-latency-by-month.svg)\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("## Definitions\n\n")
	for _, d := range definitions() {
		fmt.Fprintf(&b, "- %s\n", d)
	}
	b.WriteString("\nEvery table is also in CSV beside this file (`<table>.csv`).\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) connectedCount() int {
	n := 0
	for _, s := range r.Sources {
		if s.Source != NoSource {
			n++
		}
	}
	return n
}

// numericCols marks the columns whose every value is a number (or empty):
// they are right-aligned.
func numericCols(t table) []bool {
	out := make([]bool, len(t.Header))
	for i := range out {
		out[i] = i > 0
		for _, row := range t.Rows {
			if i < len(row) && row[i].raw != "" {
				if _, err := strconv.ParseFloat(row[i].raw, 64); err != nil {
					out[i] = false
				}
			}
		}
	}
	return out
}

func mdTable(b *strings.Builder, t table) {
	b.WriteString("| " + strings.Join(t.Header, " | ") + " |\n|")
	for _, num := range numericCols(t) {
		if num {
			b.WriteString("--:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, row := range t.Rows {
		var cells []string
		for _, c := range row {
			cells = append(cells, strings.ReplaceAll(c.text, "|", "\\|"))
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
}

// WriteHTML writes a self-contained HTML page with the charts inline.
func (r *Report) WriteHTML(w io.Writer) error {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n", esc(r.title()))
	b.WriteString(`<style>
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f0f0f0}td.t,th:first-child{text-align:left}
.sim{background:#fff3cd;border:2px solid #d39e00;padding:.7em 1em;font-weight:bold}
.bad{color:#b00020;font-weight:bold}code{font-size:12px;word-break:break-all}
figure{margin:1em 0}
</style></head><body>
`)
	fmt.Fprintf(&b, "<h1>%s</h1>\n", esc(r.title()))
	if r.Simulated {
		fmt.Fprintf(&b, "<p class=\"sim\">%s</p>\n", esc(r.simulatedNotice()))
	}
	fmt.Fprintf(&b, "<p>Report on the connection and sharing of citizen data under Decision 1911/QĐ-TTg (Art. 3.1.đ, 3.4.đ).</p>\n<ul>\n")
	fmt.Fprintf(&b, "<li>Period: %s</li>\n", esc(r.periodText()))
	fmt.Fprintf(&b, "<li>Generated: %s by lienthong from node(s) %s</li>\n", esc(r.Generated.In(r.Loc).Format("2006-01-02 15:04 MST")), esc(strings.Join(r.Nodes, ", ")))
	fmt.Fprintf(&b, "<li>Connected agency databases: %d; requesting agencies: %d</li>\n</ul>\n", r.connectedCount(), len(r.Agencies))
	b.WriteString("<h2>Integrity of the records</h2>\n<ul>\n")
	for _, l := range r.integrity() {
		cls := ""
		if strings.Contains(l, "TAMPER") {
			cls = ` class="bad"`
		}
		fmt.Fprintf(&b, "<li%s>%s</li>\n", cls, mdCode(esc(strings.TrimPrefix(l, "  - "))))
	}
	b.WriteString("</ul>\n")
	charts := r.Charts()
	figure := func(name string) {
		svg := charts[name]
		fmt.Fprintf(&b, "<figure>%s</figure>\n", svg)
	}
	for _, t := range r.tables() {
		fmt.Fprintf(&b, "<h2>%s</h2>\n", esc(t.Title))
		if t.Note != "" {
			fmt.Fprintf(&b, "<p>%s</p>\n", esc(t.Note))
		}
		if len(t.Rows) == 0 {
			b.WriteString("<p>None in this period.</p>\n")
			continue
		}
		nums := numericCols(t)
		b.WriteString("<table><tr>")
		for _, h := range t.Header {
			fmt.Fprintf(&b, "<th>%s</th>", esc(h))
		}
		b.WriteString("</tr>\n")
		for _, row := range t.Rows {
			b.WriteString("<tr>")
			for i, c := range row {
				if i < len(nums) && nums[i] {
					fmt.Fprintf(&b, "<td>%s</td>", esc(c.text))
				} else {
					fmt.Fprintf(&b, "<td class=\"t\">%s</td>", esc(c.text))
				}
			}
			b.WriteString("</tr>\n")
		}
		b.WriteString("</table>\n")
		switch t.Name {
		case "sources":
			figure("chart-uptime-by-month.svg")
		case "agencies":
			figure("chart-agencies.svg")
		case "months":
			figure("chart-queries-by-month.svg")
			figure("chart-rows-shared-by-month.svg")
			figure("chart-latency-by-month.svg")
		}
	}
	b.WriteString("<h2>Definitions</h2>\n<ul>\n")
	for _, d := range definitions() {
		fmt.Fprintf(&b, "<li>%s</li>\n", mdBold(mdCode(esc(d))))
	}
	b.WriteString("</ul>\n</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// mdCode and mdBold turn the little Markdown the shared texts use into HTML.
func mdCode(s string) string { return mdPairs(s, "`", "<code>", "</code>") }
func mdBold(s string) string {
	return mdPairs(mdPairs(s, "**", "<b>", "</b>"), "*", "<i>", "</i>")
}

func mdPairs(s, mark, open, close string) string {
	parts := strings.Split(s, mark)
	if len(parts) < 3 {
		return s
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			if i%2 == 1 {
				b.WriteString(open)
			} else {
				b.WriteString(close)
			}
		}
		b.WriteString(p)
	}
	return b.String()
}

// WriteCSV writes every table as dir/<name>.csv.
func (r *Report) WriteCSV(dir string) error {
	for _, t := range r.tables() {
		f, err := os.Create(filepath.Join(dir, t.Name+".csv"))
		if err != nil {
			return err
		}
		w := csv.NewWriter(f)
		header := append([]string(nil), t.Header...)
		for i := range header {
			// Name a unit the whole column shares.
			unit := ""
			for k, row := range t.Rows {
				if i >= len(row) || (k > 0 && row[i].unit != unit) {
					unit = ""
					break
				}
				unit = row[i].unit
			}
			if unit != "" {
				header[i] += " (" + unit + ")"
			}
		}
		_ = w.Write(header)
		for _, row := range t.Rows {
			rec := make([]string, len(row))
			for i, c := range row {
				rec[i] = c.raw
			}
			_ = w.Write(rec)
		}
		w.Flush()
		if err := errorsJoin(w.Error(), f.Close()); err != nil {
			return err
		}
	}
	return nil
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Write writes report.md, report.html, the charts (SVG) and every table
// as CSV into dir (created if needed).
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, svg := range r.Charts() {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(svg), 0o644); err != nil {
			return err
		}
	}
	var md, html strings.Builder
	if err := r.WriteMarkdown(&md); err != nil {
		return err
	}
	if err := r.WriteHTML(&html); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.html"), []byte(html.String()), 0o644); err != nil {
		return err
	}
	return r.WriteCSV(dir)
}
