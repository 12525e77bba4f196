package conformance

import (
	"fmt"
	"strings"
	"testing"

	"lienthong/connectors"
	"lienthong/planner/sqlgen"
)

// Predicate renderers, one spelling per dialect, as sqlgen must push them:
// MySQL compares strings with BINARY / utf8mb4_bin (its default collations
// ignore case), PostgreSQL orders strings with COLLATE "C", SQLite has no
// DATE literal (dates are ISO text).
type pred struct{ h *Harness }

func (p pred) col(c string) string { return p.h.Quote(c) }

func (p pred) str(s string) string {
	if p.h.Dialect == sqlgen.MySQL {
		s = strings.ReplaceAll(s, `\`, `\\`)
	}
	return QuoteString(s)
}

func (p pred) strCmp(c, op, s string) string {
	switch p.h.Dialect {
	case sqlgen.MySQL:
		return fmt.Sprintf("BINARY %s %s BINARY %s", p.col(c), op, p.str(s))
	case sqlgen.Postgres:
		if op != "=" && op != "<>" {
			return fmt.Sprintf("%s %s %s COLLATE \"C\"", p.col(c), op, p.str(s))
		}
	}
	return fmt.Sprintf("%s %s %s", p.col(c), op, p.str(s))
}

func (p pred) strIn(c string, vals ...string) string {
	var parts []string
	for _, v := range vals {
		if p.h.Dialect == sqlgen.MySQL {
			parts = append(parts, "BINARY "+p.str(v))
		} else {
			parts = append(parts, p.str(v))
		}
	}
	l := p.col(c)
	if p.h.Dialect == sqlgen.MySQL {
		l = "BINARY " + l
	}
	return fmt.Sprintf("%s IN (%s)", l, strings.Join(parts, ", "))
}

func (p pred) like(c, pat string) string {
	if p.h.Dialect == sqlgen.MySQL {
		return fmt.Sprintf("%s LIKE %s COLLATE utf8mb4_bin", p.col(c), p.str(pat))
	}
	return fmt.Sprintf("%s LIKE %s", p.col(c), p.str(pat))
}

func (p pred) date(s string) string {
	if p.h.Dialect == sqlgen.SQLite {
		return QuoteString(s)
	}
	return "DATE " + QuoteString(s)
}

type predCase struct {
	name, where, want string
}

func predCases(h *Harness) []predCase {
	p := pred{h}
	id, name, born, score, active := p.col("id"), "name", p.col("born"), p.col("score"), p.col("active")
	return []predCase{
		{"int =", id + " = 3", "3"},
		{"int <>", id + " <> 3", "1,2,4,5,6"},
		{"int <", id + " < 3", "1,2"},
		{"int <=", id + " <= 3", "1,2,3"},
		{"int >", id + " > 4", "5,6"},
		{"int >=", id + " >= 4", "4,5,6"},
		{"int IN", id + " IN (2, 4, 99)", "2,4"},
		{"int BETWEEN", id + " BETWEEN 2 AND 4", "2,3,4"},
		{"string = NFC", p.strCmp(name, "=", NameNFC), "1"},
		{"string = NFD", p.strCmp(name, "=", NameNFD), "3"},
		{"string = case-sensitive", p.strCmp(name, "=", NameLower), "2"},
		{"string <>", p.strCmp(name, "<>", NameNFC), "2,3,4,5"},
		{"string > (code points)", p.strCmp(name, ">", "Z"), "2"},
		{"string <", p.strCmp(name, "<", "M"), "4"},
		{"string <=", p.strCmp(name, "<=", NameLe), "4"},
		{"string >=", p.strCmp(name, ">=", "T"), "2,5"},
		{"string IN", p.strIn(name, NameNFC, NameLe, "x"), "1,4"},
		{"LIKE _ on a diacritic", p.like(name, "Nguy_n%"), "1"},
		{"LIKE % suffix", p.like(name, "%Ánh"), "1,4"},
		{"LIKE case-sensitive", p.like(name, "%ánh"), "2"},
		{"LIKE _ then space", p.like(name, "L_ %"), "4"},
		{"IS NULL", p.col(name) + " IS NULL", "6"},
		{"IS NOT NULL", p.col(name) + " IS NOT NULL", "1,2,3,4,5"},
		{"date BETWEEN", fmt.Sprintf("%s BETWEEN %s AND %s", born, p.date("1900-01-01"), p.date("1999-12-31")), "1,2,6"},
		{"date >=", fmt.Sprintf("%s >= %s", born, p.date("2000-01-01")), "3,4"},
		{"date IS NULL", born + " IS NULL", "5"},
		{"decimal IN", score + " IN (12345678901234.56, -0.01)", "1,2"},
		{"decimal <", score + " < 0", "2"},
		{"decimal =", score + " = 0.50", "3"},
		{"bool", active + " = TRUE", "1,3,6"},
		{"NOT bool", "NOT " + active, "2,4"},
		{"AND/OR/NOT", fmt.Sprintf("(%s < 3 OR %s) AND NOT %s", id, p.strCmp(name, "=", NameLe), active), "2,4"},
		{"NOT IN AND IS NOT NULL", fmt.Sprintf("NOT (%s IN (1, 2)) AND %s IS NOT NULL", id, p.col(name)), "3,4,5"},
	}
}

func testPredicates(t *testing.T, h *Harness, conn connectors.Connector, ref string) {
	for _, c := range predCases(h) {
		sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %[1]s", h.Quote("id"), ref, c.where)
		if got := ids(t, conn, sql); got != c.want {
			t.Errorf("%s: %s\n got  [%s]\n want [%s]", c.name, sql, got, c.want)
		}
	}
}
