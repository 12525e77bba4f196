package planner

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Code is a stable error code users and scripts can match on.
type Code string

const (
	CodeSyntax      Code = "LT-SYNTAX"      // the SQL does not parse
	CodeUnknown     Code = "LT-UNKNOWN"     // unknown source, table or column
	CodeNoDatabase  Code = "LT-NO-DATABASE" // an unqualified table and no default source
	CodeAmbiguous   Code = "LT-AMBIGUOUS"   // a column name matches several tables
	CodeReadOnly    Code = "LT-READONLY"    // anything but a query
	CodeUnsupported Code = "LT-UNSUPPORTED" // valid SQL lienthong does not run yet
	CodeType        Code = "LT-TYPE"        // operands of the wrong type
	CodeUnavailable Code = "LT-SOURCE-DOWN" // a source the query needs is not connected
	CodeRateLimit   Code = "LT-RATE-LIMIT"  // too many calls of a rate-limited kind (pin_verify)
	CodeBudget      Code = "LT-BUDGET"      // the principal's privacy budget for the period is spent
)

// ErrQuery is wrapped by every error about the user's SQL (as opposed to a
// source failure or an internal bug); match it with errors.Is.
var ErrQuery = errors.New("query error")

// Error is a problem with the user's SQL, with its position when known.
type Error struct {
	Code Code
	Msg  string
	// Line and Col are 1-based; 0 when the problem has no single position.
	Line, Col int
	// Excerpt is the offending line with a caret under the position.
	Excerpt string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Code, e.Msg)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d, column %d)", e.Line, e.Col)
	}
	if e.Excerpt != "" {
		b.WriteString("\n")
		b.WriteString(e.Excerpt)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return ErrQuery }

// errAt builds an Error positioned at byte offset off of sql (-1: none).
func errAt(sql string, off int, code Code, format string, args ...any) *Error {
	e := &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
	if off < 0 || off > len(sql) {
		return e
	}
	line, col, start := 1, 1, 0
	for i, r := range sql[:off] {
		if r == '\n' {
			line++
			col = 1
			start = i + 1
		} else {
			col++
		}
	}
	end := strings.IndexByte(sql[start:], '\n')
	text := sql[start:]
	if end >= 0 {
		text = sql[start : start+end]
	}
	e.Line, e.Col = line, col
	pad := strings.Repeat(" ", utf8.RuneCountInString(sql[start:off]))
	e.Excerpt = "  " + text + "\n  " + pad + "^"
	return e
}

// findWord locates the first occurrence of an identifier in sql, outside
// string literals, for positioning name errors (the parser keeps no
// positions for names). -1 when not found.
func findWord(sql, word string) int {
	if word == "" {
		return -1
	}
	lw := strings.ToLower(word)
	ls := strings.ToLower(sql)
	inStr := byte(0)
	for i := 0; i < len(ls); i++ {
		c := ls[i]
		if inStr != 0 {
			if c == inStr {
				inStr = 0
			}
			continue
		}
		if c == '\'' || c == '"' {
			inStr = c
			continue
		}
		if strings.HasPrefix(ls[i:], lw) {
			before := i == 0 || !isIdentByte(ls[i-1])
			after := i+len(lw) >= len(ls) || !isIdentByte(ls[i+len(lw)])
			if before && after {
				return i
			}
		}
	}
	// Not outside literals: it may be a literal's own text.
	return strings.Index(ls, lw)
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 0x80
}

var syntaxPos = regexp.MustCompile(`syntax error at position (\d+)(?: near '(.*)')?`)

// syntaxError turns the parser's message about text (sql after
// rewriteFullJoins) into an Error positioned in sql.
func syntaxError(sql, text string, edits []edit, err error) *Error {
	m := syntaxPos.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{Code: CodeSyntax, Msg: err.Error()}
	}
	pos, _ := strconv.Atoi(m[1])
	near := m[2]
	// The parser reports the offset just past the token it choked on.
	off := pos - 1
	for _, start := range []int{pos - 1 - len(near), pos - len(near)} {
		if near != "" && start >= 0 && start+len(near) <= len(text) && strings.EqualFold(text[start:start+len(near)], near) {
			off = start
			break
		}
	}
	off = originalOffset(off, edits)
	if off > len(sql) {
		off = len(sql)
	}
	if off < 0 {
		off = 0
	}
	msg := "syntax error"
	if near != "" {
		msg += fmt.Sprintf(" near %q", near)
	} else {
		msg += " at end of input"
	}
	return errAt(sql, off, CodeSyntax, "%s", msg)
}

// checkUTF8 refuses a statement that is not valid UTF-8, at the first bad
// byte: sources disagree on such literals (PostgreSQL refuses them,
// MariaDB and DuckDB differ), so none is sent anywhere. The excerpt shows
// the bad bytes as U+FFFD.
func checkUTF8(sql string) error {
	if utf8.ValidString(sql) {
		return nil
	}
	off := 0
	for off < len(sql) {
		r, n := utf8.DecodeRuneInString(sql[off:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		off += n
	}
	e := errAt(sql, off, CodeSyntax, "the statement is not valid UTF-8: byte 0x%02x at byte offset %d; send text as UTF-8", sql[off], off)
	e.Excerpt = strings.ToValidUTF8(e.Excerpt, "\uFFFD")
	return e
}
