package config

import "strings"

// Finding the line of a setting for an error message. The TOML library
// reports positions only for syntax errors, so the packages that check a
// TOML file (this one, policy) look the line up in the text; these are
// the one copy of that.

// stripComment trims a line and drops a trailing # comment (a header line
// holds no strings, so # cannot be inside quotes there).
func stripComment(l string) string {
	if i := strings.IndexByte(l, '#'); i >= 0 && strings.HasPrefix(strings.TrimSpace(l), "[") {
		l = l[:i]
	}
	return strings.TrimSpace(l)
}

// isHeader tells a table header ([x] or [[x]]) from other lines.
func isHeader(l string) bool { return strings.HasPrefix(stripComment(l), "[") }

// setsKey tells whether a line sets key (key = ..., not keyboard = ...).
func setsKey(l, key string) bool {
	rest, ok := strings.CutPrefix(strings.TrimSpace(l), key)
	if !ok {
		rest, ok = strings.CutPrefix(strings.TrimSpace(l), `"`+key+`"`)
	}
	return ok && strings.HasPrefix(strings.TrimSpace(rest), "=")
}

// TableLine finds the line that sets key in the n-th (from 0) table with
// this header ("[[sources]]", "[audit]"), or that table's header line
// when key is "" or not set there; 0 when there is no such table.
func TableLine(data []byte, header string, n int, key string) int {
	seen, at := -1, 0
	for ln, l := range strings.Split(string(data), "\n") {
		if isHeader(l) {
			if at > 0 {
				break // the n-th table ended
			}
			if stripComment(l) == header {
				seen++
				if seen == n {
					at = ln + 1
				}
			}
			continue
		}
		if at > 0 && key != "" && setsKey(l, key) {
			return ln + 1
		}
	}
	return at
}

// KeyLine finds the line that sets a dotted key such as time_zone,
// sources.paht or server.http_adr: a top-level key is looked for outside
// any table, a deeper one under a header naming its table; failing that,
// the first line setting its last part anywhere, else 0.
func KeyLine(data []byte, key string) int {
	parts := strings.Split(key, ".")
	last := parts[len(parts)-1]
	table := strings.Join(parts[:len(parts)-1], ".")
	cur := ""
	first := 0
	for ln, l := range strings.Split(string(data), "\n") {
		if isHeader(l) {
			cur = strings.Trim(stripComment(l), "[] ")
			continue
		}
		if setsKey(l, last) {
			if cur == table {
				return ln + 1
			}
			if first == 0 {
				first = ln + 1
			}
		}
	}
	return first
}
