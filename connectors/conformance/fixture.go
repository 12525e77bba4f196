// Package conformance is the one test suite every connector passes: each
// connector's package test builds the fixture with its source's own SQL
// (through a Harness) and calls Run.
package conformance

import (
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// ColType is a logical fixture column type; each harness names the source
// type for it and the Arrow type Tables() should report.
type ColType int

const (
	I16 ColType = iota
	I32
	I64
	F64
	Dec // decimal(16,2)
	Text
	Date
	TS   // timestamp without time zone
	TSTZ // timestamp with time zone (literals carry an offset)
	Bool
	Bin
)

func (c ColType) String() string {
	return [...]string{"i16", "i32", "i64", "f64", "dec", "text", "date", "ts", "tstz", "bool", "bin"}[c]
}

// Column of a fixture table.
type Column struct {
	Name    string
	Type    ColType
	NotNull bool
}

// Cell is one fixture value: In is the literal's text (a harness renders it
// in its SQL), Want the canonical text read back; nil is NULL.
type Cell struct{ In, Want string }

// Table is a fixture table.
type Table struct {
	Name    string
	Columns []Column
	Rows    [][]*Cell
}

func c(in string) *Cell        { return &Cell{In: in, Want: in} }
func cw(in, want string) *Cell { return &Cell{In: in, Want: want} }

// Vietnamese names: the same name in NFC and NFD must come back byte-exact
// and compare as different strings (code-point comparison).
var (
	NameNFC   = norm.NFC.String("Nguyễn Thị Ánh")
	NameNFD   = norm.NFD.String("Nguyễn Thị Ánh")
	NameLower = norm.NFC.String("nguyễn thị ánh")
	NameLe    = norm.NFC.String("Lê Ánh")
	NameTran  = norm.NFC.String("Trần Văn Bình")
)

// KindsTable round-trips every type, NULLs included.
func KindsTable() Table {
	cols := []Column{{"id", I64, true}}
	for t := I16; t <= Bin; t++ {
		cols = append(cols, Column{Name: "c_" + t.String(), Type: t})
	}
	row := func(id string, cells ...*Cell) []*Cell { return append([]*Cell{c(id)}, cells...) }
	nulls := make([]*Cell, Bin+1)
	return Table{Name: "kinds", Columns: cols, Rows: [][]*Cell{
		row("1", c("123"), c("-2147483648"), c("9007199254740993"), c("1.5"), c("12345678901234.56"),
			c(NameNFC), c("1900-01-01"), c("2024-02-29 13:45:56.123456"),
			cw("2024-01-01 07:00:00+07:00", "2024-01-01 00:00:00"), c("true"), c("00ff10")),
		row("2", c("-5"), c("7"), c("-9223372036854775807"), c("-0.25"), c("-0.01"),
			c(NameNFD), c("2099-12-31"), c("1900-01-01 00:00:00"),
			cw("2038-01-19 03:14:07+00:00", "2038-01-19 03:14:07"), c("false"), c("4c54")),
		row("3", nulls...),
	}}
}

// PeopleTable is what the predicate cases filter.
func PeopleTable() Table {
	cols := []Column{{"id", I64, true}, {"name", Text, false}, {"born", Date, false}, {"score", Dec, false}, {"active", Bool, false}}
	return Table{Name: "people", Columns: cols, Rows: [][]*Cell{
		{c("1"), c(NameNFC), c("1900-01-01"), c("12345678901234.56"), c("true")},
		{c("2"), c(NameLower), c("1985-06-15"), c("-0.01"), c("false")},
		{c("3"), c(NameNFD), c("2000-01-01"), c("0.5"), c("true")},
		{c("4"), c(NameLe), c("2099-12-31"), c("100"), c("false")},
		{c("5"), c(NameTran), nil, nil, nil},
		{c("6"), nil, c("1970-01-01"), c("3.14"), c("true")},
	}}
}

// BigRows is the size of the streaming table "big" (id 1..BigRows, txt).
const BigRows = 50000

// CreateSQL renders CREATE TABLE and a multi-row INSERT for a harness.
func CreateSQL(h *Harness, t Table) []string {
	var cols []string
	for _, col := range t.Columns {
		typ := h.TypeName(col.Type)
		if typ == "" {
			continue
		}
		s := h.Quote(col.Name) + " " + typ
		if col.NotNull {
			s += " NOT NULL"
		}
		cols = append(cols, s)
	}
	out := []string{fmt.Sprintf("CREATE TABLE %s (%s)", h.Quote(t.Name), strings.Join(cols, ", "))}
	var rows []string
	for _, r := range t.Rows {
		var vals []string
		for i, col := range t.Columns {
			if h.TypeName(col.Type) == "" {
				continue
			}
			if r[i] == nil {
				vals = append(vals, "NULL")
			} else {
				vals = append(vals, h.Literal(col.Type, r[i].In))
			}
		}
		rows = append(rows, "("+strings.Join(vals, ", ")+")")
	}
	out = append(out, fmt.Sprintf("INSERT INTO %s VALUES %s", h.Quote(t.Name), strings.Join(rows, ", ")))
	return out
}

// QuoteString is a plain SQL string literal, quotes doubled. MySQL also needs
// backslashes doubled; the harness does that.
func QuoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
