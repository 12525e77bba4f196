// Package like is lienthong's LIKE as a Go function, for the places that
// match a pattern outside SQL: the connector conformance suite's oracle
// and Flight SQL's metadata filters. % matches any run of characters, _
// one character, \ makes the next character literal (a pattern ending in a
// lone \ matches nothing); comparison is by code point, case-sensitive.
package like

// Match reports whether s matches pattern.
func Match(pattern, s string) bool {
	p, v := []rune(pattern), []rune(s)
	var m func(i, j int) bool
	m = func(i, j int) bool {
		for i < len(p) {
			switch p[i] {
			case '%':
				for k := j; k <= len(v); k++ {
					if m(i+1, k) {
						return true
					}
				}
				return false
			case '_':
				if j >= len(v) {
					return false
				}
			case '\\':
				i++
				if i >= len(p) || j >= len(v) || v[j] != p[i] {
					return false
				}
			default:
				if j >= len(v) || v[j] != p[i] {
					return false
				}
			}
			i++
			j++
		}
		return j == len(v)
	}
	return m(0, 0)
}
