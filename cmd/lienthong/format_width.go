package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// displayWidth is how many terminal columns s takes: combining marks and
// other zero-width characters take none (a Vietnamese name in NFD spells
// "ễ" as e + two marks), East Asian wide and fullwidth characters two,
// everything else one. Tables are aligned by it, not by rune count.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

func runeWidth(r rune) int {
	switch {
	case r < 0x20 || (r >= 0x7f && r < 0xa0):
		return 0 // escaped before printing (printable)
	case r < 0x300:
		return 1 // Latin, before the first combining marks: the common case, fast
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	case r >= 0x1160 && r <= 0x11ff:
		return 0 // Hangul medial vowels and final consonants join the syllable before
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// printable makes a value safe to print on a terminal: line breaks and
// tabs as \n and \t, other control characters (an escape sequence a
// hostile source stored in a name would otherwise run in the user's
// terminal) and bidirectional overrides (which reorder what is shown) as
// \xNN or \uNNNN. Everything else, combining marks included, is kept.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if escaped(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == utf8.RuneError:
			b.WriteRune(r)
		case r < 0x100 && escaped(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case escaped(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func escaped(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// padTo pads s with spaces to w display columns, on the left when right
// (numbers) and on the right otherwise.
func padTo(s string, w int, right bool) string {
	n := w - displayWidth(s)
	if n <= 0 {
		return s
	}
	if right {
		return strings.Repeat(" ", n) + s
	}
	return s + strings.Repeat(" ", n)
}
