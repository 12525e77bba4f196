// Package examples holds the sample cross-agency queries: each .sql file
// states the question it answers and, where the generator seeds a known
// number of cases, the manifest entry its row count must equal. The demo
// shows them and a test runs every one on generated data.
package examples

import (
	"embed"
	"sort"
	"strings"
)

//go:embed *.sql
var files embed.FS

// Example is one sample query.
type Example struct {
	Name     string // file name without .sql
	Question string
	// Manifest names the generator's inconsistency whose count equals the
	// number of rows the query returns; empty when there is none.
	Manifest string
	SQL      string // the query, without its header comments
}

// All returns every example, in file-name order.
func All() []Example {
	entries, _ := files.ReadDir(".")
	var out []Example
	for _, e := range entries {
		b, _ := files.ReadFile(e.Name())
		ex := Example{Name: strings.TrimSuffix(e.Name(), ".sql")}
		var body []string
		for _, line := range strings.Split(string(b), "\n") {
			switch {
			case strings.HasPrefix(line, "-- Question:"):
				ex.Question = strings.TrimSpace(strings.TrimPrefix(line, "-- Question:"))
			case strings.HasPrefix(line, "-- Manifest:"):
				ex.Manifest = strings.TrimSpace(strings.TrimPrefix(line, "-- Manifest:"))
			case strings.HasPrefix(line, "--"):
			default:
				body = append(body, line)
			}
		}
		ex.SQL = strings.TrimSuffix(strings.TrimSpace(strings.Join(body, "\n")), ";")
		out = append(out, ex)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
