package bench

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

//go:embed queries/*.sql
var queryFiles embed.FS

// Query is one benchmark query: the same SQL text runs on lienthong, the peer
// and the floor.
type Query struct {
	Name     string // file name without .sql
	Measures string // what the query measures (the "-- Measures:" header)
	Shape    string // why it is hard or easy (the "-- Shape:" header)
	SQL      string // with {{params}} substituted once Bind ran
	// FloorExtract, when set, replaces the extraction statements derived
	// from lienthong's EXPLAIN: the rows and columns each source must
	// deliver under filters derivable from the query text alone.
	FloorExtract []Extract
}

// Extract is one statement the floor runs against a source, in the
// source's dialect, to time moving the rows a query needs.
type Extract struct {
	Source string `json:"source"`
	SQL    string `json:"sql"`
}

// Queries returns the embedded queries in file-name order, templates not
// yet bound.
func Queries() ([]Query, error) {
	entries, err := queryFiles.ReadDir("queries")
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		b, err := queryFiles.ReadFile("queries/" + e.Name())
		if err != nil {
			return nil, err
		}
		q, err := parseQuery(strings.TrimSuffix(e.Name(), ".sql"), string(b))
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func parseQuery(name, text string) (Query, error) {
	q := Query{Name: name}
	var body []string
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, "--") {
			body = append(body, line)
			continue
		}
		t = strings.TrimSpace(strings.TrimPrefix(t, "--"))
		key, val, ok := strings.Cut(t, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "measures":
			q.Measures = val
		case "shape":
			q.Shape = val
		case "floor-extract":
			src, st, ok := strings.Cut(val, ":")
			if !ok {
				return q, fmt.Errorf("%s: floor-extract wants \"source: SQL\"", name)
			}
			q.FloorExtract = append(q.FloorExtract, Extract{Source: strings.TrimSpace(src), SQL: strings.TrimSpace(st)})
		}
	}
	q.SQL = strings.TrimSuffix(strings.TrimSpace(strings.Join(body, "\n")), ";")
	if q.SQL == "" {
		return q, fmt.Errorf("%s: no SQL", name)
	}
	if q.Measures == "" {
		return q, fmt.Errorf("%s: no \"-- Measures:\" header", name)
	}
	return q, nil
}

var placeholder = regexp.MustCompile(`\{\{(\w+)\}\}`)

// Bind substitutes {{name}} placeholders in the query and its extraction
// statements. Values are quoted by the query text itself ('{{pin}}') and
// must not contain quotes.
func (q Query) Bind(params map[string]string) (Query, error) {
	var missing []string
	sub := func(s string) string {
		return placeholder.ReplaceAllStringFunc(s, func(m string) string {
			k := placeholder.FindStringSubmatch(m)[1]
			v, ok := params[k]
			if !ok {
				missing = append(missing, k)
				return m
			}
			return v
		})
	}
	for _, v := range params {
		if strings.ContainsAny(v, `'"\`) {
			return q, fmt.Errorf("parameter value %q holds a quote", v)
		}
	}
	out := q
	out.SQL = sub(q.SQL)
	out.FloorExtract = nil
	for _, x := range q.FloorExtract {
		out.FloorExtract = append(out.FloorExtract, Extract{Source: x.Source, SQL: sub(x.SQL)})
	}
	if len(missing) > 0 {
		return q, fmt.Errorf("%s: no value for {{%s}}", q.Name, strings.Join(missing, "}}, {{"))
	}
	return out, nil
}

// paramSQL picks the template parameters from the data (on the oracle), so
// the queries fit any scale and seed:
//   - pin: a deceased citizen with a death registration, a funeral allowance,
//     health visits and vaccinations, so the 360° lookup finds rows in every
//     source;
//   - commune: the commune with the most living residents.
var paramSQL = map[string]string{
	"pin": `SELECT COALESCE(
	  (SELECT MIN(d.pin) FROM hotich.deaths d JOIN bhxh.funeral_allowances f ON f.pin = d.pin
	   WHERE EXISTS (SELECT 1 FROM yte.visits v WHERE v.pin = d.pin)
	     AND EXISTS (SELECT 1 FROM yte.vaccinations x WHERE x.pin = d.pin)),
	  (SELECT MIN(pin) FROM hotich.deaths))`,
	"commune": `SELECT current_commune FROM dancu.citizens WHERE death_date IS NULL
	  GROUP BY current_commune ORDER BY COUNT(*) DESC, current_commune LIMIT 1`,
}

// Params computes the template parameters on the oracle database.
func Params(ctx context.Context, oracle *sql.DB) (map[string]string, error) {
	out := map[string]string{}
	for k, q := range paramSQL {
		var v string
		if err := oracle.QueryRowContext(ctx, q).Scan(&v); err != nil {
			return nil, fmt.Errorf("parameter %s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// Select keeps the queries named in list (comma-separated names or name
// prefixes such as q01); an empty list keeps all.
func Select(qs []Query, list string) ([]Query, error) {
	if strings.TrimSpace(list) == "" {
		return qs, nil
	}
	var out []Query
	for _, want := range strings.Split(list, ",") {
		want = strings.TrimSpace(want)
		if want == "" {
			continue
		}
		found := false
		for _, q := range qs {
			if q.Name == want || strings.HasPrefix(q.Name, want+"_") {
				out = append(out, q)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("no query %q", want)
		}
	}
	return out, nil
}
