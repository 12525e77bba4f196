package planner

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// A statement that is not valid UTF-8 is refused at the first bad byte,
// whatever the byte and wherever it is, and the error does not echo it.
func TestInvalidUTF8(t *testing.T) {
	cat := testCatalog()
	for _, c := range []struct {
		sql  string
		off  int
		line int
	}{
		{"SELECT pin FROM dancu.citizens WHERE full_name = 'Nguy\xff'", 54, 1},
		{"SELECT pin FROM dancu.citizens\nWHERE full_name = 'Trần \xc3'", 57, 2},              // truncated sequence
		{"SELECT pin FROM dancu.citizens WHERE full_name = '\xed\xa0\x80'", 50, 1},            // a surrogate
		{"SELECT pin FROM dancu.citizens WHERE full_name = '\xc0\xaf'", 50, 1},                // overlong '/'
		{"SELECT pin FROM dancu.citizens WHERE full_name = 'ok' -- \x80", 57, 1},              // in a comment
		{"SELECT `\xfe` FROM dancu.citizens", 8, 1},                                           // in a name
		{"SELECT pin FROM dancu.citizens WHERE full_name = '\uFFFD' AND pin = '\x9f'", 66, 1}, // U+FFFD itself is valid
	} {
		_, err := Plan(cat, c.sql, Options{Now: fixedNow})
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != CodeSyntax || !strings.Contains(pe.Msg, "not valid UTF-8") || pe.Line != c.line {
			t.Errorf("%q: want LT-SYNTAX on line %d, got %v", c.sql, c.line, err)
			continue
		}
		if want := "byte offset " + itoa(c.off); !strings.Contains(pe.Msg, want) {
			t.Errorf("%q: %s lacks %q", c.sql, pe.Msg, want)
		}
		if !utf8.ValidString(pe.Error()) {
			t.Errorf("%q: the error echoes the bad bytes: %q", c.sql, pe.Error())
		}
	}
}

func itoa(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		n /= 10
		if n == 0 {
			return s
		}
	}
}
