package planner

import (
	"errors"
	"strings"
	"testing"
)

// DESCRIBE and ? parse but are not queries: the error says what to do.
func TestNotAQuery(t *testing.T) {
	cat := testCatalog()
	for _, c := range []struct {
		sql       string
		line, col int
		want      string
	}{
		{"DESCRIBE dancu.citizens", 1, 1, `\d dancu.citizens`},
		{"DESC dancu.citizens", 1, 1, `\d dancu.citizens`},
		{"SELECT pin FROM dancu.citizens\nWHERE pin = ?", 2, 13, "query parameters (?) need their values"},
		{"SELECT '?' AS q, pin /* ? */ FROM dancu.citizens WHERE pin IN (?, ?)", 1, 64, "parameters (?)"},
		{"SELECT pin FROM dancu.citizens LIMIT ?", 1, 38, "parameters (?)"},
	} {
		_, err := Plan(cat, c.sql, Options{Now: fixedNow})
		e := &Error{}
		if !errors.As(err, &e) || e.Code != CodeUnsupported || !strings.Contains(e.Msg, c.want) || e.Line != c.line || e.Col != c.col {
			t.Errorf("%s: got %v (at %d:%d), want %q at %d:%d", c.sql, err, e.Line, e.Col, c.want, c.line, c.col)
		}
	}
}
