package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// cell renders one value for text output; ok is false for NULL.
func cell(col arrow.Array, i int) (string, bool) {
	if col.IsNull(i) {
		return "", false
	}
	switch a := col.(type) {
	case *array.String:
		// Value aliases the batch's buffer; the table writer keeps rows
		// after the batch is released.
		return strings.Clone(a.Value(i)), true
	case *array.LargeString:
		return strings.Clone(a.Value(i)), true
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10), true
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10), true
	case *array.Int16:
		return strconv.FormatInt(int64(a.Value(i)), 10), true
	case *array.Int8:
		return strconv.FormatInt(int64(a.Value(i)), 10), true
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'g', -1, 64), true
	case *array.Float32:
		return strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 32), true
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i)), true
	case *array.Decimal128:
		return decimalString(a.Value(i), a.DataType().(*arrow.Decimal128Type).Scale), true
	case *array.Date32:
		return a.Value(i).ToTime().Format("2006-01-02"), true
	case *array.Timestamp:
		tt := a.DataType().(*arrow.TimestampType)
		t := a.Value(i).ToTime(tt.Unit)
		s := t.Format("2006-01-02 15:04:05.999999")
		if tt.TimeZone != "" {
			s += "Z"
		}
		return s, true
	case *array.Binary:
		return fmt.Sprintf("\\x%x", a.Value(i)), true
	case *array.Null:
		return "", false
	}
	return col.ValueStr(i), true
}

// decimalString renders a decimal exactly, with its scale's digits.
func decimalString(v decimal128.Num, scale int32) string {
	bi := v.BigInt()
	neg := bi.Sign() < 0
	s := new(big.Int).Abs(bi).String()
	if scale > 0 {
		for len(s) <= int(scale) {
			s = "0" + s
		}
		s = s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// jsonValue renders one value for JSON output: numbers as numbers (decimals
// exactly, as JSON number text), dates and timestamps as ISO strings.
func jsonValue(col arrow.Array, i int) any {
	s, ok := cell(col, i)
	if !ok {
		return nil
	}
	switch col.DataType().ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.DECIMAL128:
		return json.Number(s)
	case arrow.FLOAT32, arrow.FLOAT64:
		if f, err := strconv.ParseFloat(s, 64); err == nil && !isInfOrNaN(f) {
			return json.Number(s)
		}
		return s
	case arrow.BOOL:
		return s == "true"
	case arrow.TIMESTAMP:
		return strings.Replace(s, " ", "T", 1)
	}
	return s
}

func isInfOrNaN(f float64) bool { return f != f || f > 1e308 || f < -1e308 }

// writer prints a result in one output format.
type writer interface {
	write(rec arrow.RecordBatch) error
	finish(rows int64, elapsed time.Duration) error
}

// Expanded output (\x): one "column | value" line per column and a
// header per record, instead of a table.
const (
	expandedOff  = "off"
	expandedOn   = "on"
	expandedAuto = "auto" // expanded when the table would be wider than the terminal
)

// writerOptions shape a result's text: expanded is expandedOff/On/Auto
// (table only), termWidth the terminal's columns for auto (0: unknown,
// never expanded), null the CSV NULL marker (--null).
type writerOptions struct {
	expanded  string
	termWidth int
	timing    bool
	null      string
}

// newWriter makes the writer for format.
func newWriter(format string, out io.Writer, schema *arrow.Schema, o writerOptions) (writer, error) {
	switch format {
	case "table", "":
		return &tableWriter{out: out, schema: schema, expanded: o.expanded == expandedOn, auto: o.expanded == expandedAuto, termWidth: o.termWidth, timing: o.timing}, nil
	case "csv":
		w := newCSVWriter(out, schema.NumFields(), o.null)
		var head []string
		for _, f := range schema.Fields() {
			head = append(head, f.Name)
		}
		w.line(head, nil)
		return w, w.err
	case "json":
		return &jsonWriter{out: out, schema: schema}, nil
	case "markdown":
		return newMarkdownWriter(out, schema)
	case "arrow":
		return &arrowWriter{w: ipc.NewWriter(out, ipc.WithSchema(schema))}, nil
	}
	return nil, fmt.Errorf("unknown --format %q: use table, csv, json, markdown or arrow", format)
}

// csvWriter writes RFC 4180 CSV that keeps NULL and the empty string apart:
//   - a non-NULL string is quoted when it is empty (""), equals the NULL
//     marker or \N, or holds a comma, quote, CR, LF or leading/trailing space;
//   - NULL is the NULL marker unquoted: empty by default (PostgreSQL's and
//     DuckDB's CSV convention), or --null STRING.
//
// A one-column NULL with the empty marker would be an empty line, which
// CSV readers skip (pandas, Python's csv.DictReader): there NULL is
// written \N (the NULL marker of PostgreSQL's and MySQL's text formats)
// instead, so every row is a line readers keep.
type csvWriter struct {
	out  *bufio.Writer
	null string
	err  error
	buf  []byte
}

func newCSVWriter(out io.Writer, cols int, null string) *csvWriter {
	if null == "" && cols == 1 {
		null = `\N`
	}
	return &csvWriter{out: bufio.NewWriter(out), null: null}
}

// line writes one record; isNull[i] marks NULLs (nil: none).
func (c *csvWriter) line(fields []string, isNull []bool) {
	c.buf = c.buf[:0]
	for i, f := range fields {
		if i > 0 {
			c.buf = append(c.buf, ',')
		}
		if isNull != nil && isNull[i] {
			c.buf = append(c.buf, c.null...)
			continue
		}
		if !c.needsQuotes(f) {
			c.buf = append(c.buf, f...)
			continue
		}
		c.buf = append(c.buf, '"')
		c.buf = append(c.buf, strings.ReplaceAll(f, `"`, `""`)...)
		c.buf = append(c.buf, '"')
	}
	c.buf = append(c.buf, '\n')
	if c.err == nil {
		_, c.err = c.out.Write(c.buf)
	}
}

func (c *csvWriter) needsQuotes(f string) bool {
	// \N is quoted even where it is not the marker: CSV sources read an
	// unquoted \N as NULL.
	if f == "" || f == c.null || f == `\N` || f == `\.` {
		return true
	}
	if strings.ContainsAny(f, ",\"\r\n") {
		return true
	}
	r, _ := utf8.DecodeRuneInString(f)
	l, _ := utf8.DecodeLastRuneInString(f)
	return r == ' ' || r == '\t' || l == ' ' || l == '\t'
}

func (c *csvWriter) write(rec arrow.RecordBatch) error {
	row := make([]string, rec.NumCols())
	isNull := make([]bool, rec.NumCols())
	for i := 0; i < int(rec.NumRows()); i++ {
		for j := range row {
			var ok bool
			row[j], ok = cell(rec.Column(j), i)
			isNull[j] = !ok
		}
		c.line(row, isNull)
		if c.err != nil {
			return c.err
		}
	}
	return nil
}

func (c *csvWriter) finish(int64, time.Duration) error {
	if c.err != nil {
		return c.err
	}
	return c.out.Flush()
}

type jsonWriter struct {
	out    io.Writer
	schema *arrow.Schema
}

func (j *jsonWriter) write(rec arrow.RecordBatch) error {
	var b strings.Builder
	for i := 0; i < int(rec.NumRows()); i++ {
		b.Reset()
		b.WriteByte('{')
		for c := 0; c < int(rec.NumCols()); c++ {
			if c > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(j.schema.Field(c).Name)
			v, err := json.Marshal(jsonValue(rec.Column(c), i))
			if err != nil {
				return err
			}
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteString("}\n")
		if _, err := io.WriteString(j.out, b.String()); err != nil {
			return err
		}
	}
	return nil
}

func (j *jsonWriter) finish(int64, time.Duration) error { return nil }

type arrowWriter struct{ w *ipc.Writer }

func (a *arrowWriter) write(rec arrow.RecordBatch) error { return a.w.Write(rec) }
func (a *arrowWriter) finish(int64, time.Duration) error { return a.w.Close() }

// tableWriter prints aligned columns. It keeps at most tableBuffer rows to
// size the columns, then streams on with those widths, so a huge result
// never sits in memory. Widths are display widths (displayWidth): names
// in NFD and wide characters line up.
type tableWriter struct {
	out       io.Writer
	schema    *arrow.Schema
	expanded  bool
	auto      bool // decide expanded at the first flush, from the widths
	termWidth int
	timing    bool
	pending   [][]string
	widths    []int
	flushed   bool
	rowNum    int64
}

const tableBuffer = 1000

// textRow renders row i of rec for the terminal.
func textRow(rec arrow.RecordBatch, i int) []string {
	row := make([]string, rec.NumCols())
	for j := range row {
		s, ok := cell(rec.Column(j), i)
		if !ok {
			s = "NULL"
		}
		row[j] = printable(s)
	}
	return row
}

func (t *tableWriter) write(rec arrow.RecordBatch) error {
	for i := 0; i < int(rec.NumRows()); i++ {
		row := textRow(rec, i)
		if t.expanded {
			if err := t.expandedRow(row); err != nil {
				return err
			}
			continue
		}
		t.pending = append(t.pending, row)
		if len(t.pending) >= tableBuffer {
			if err := t.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *tableWriter) expandedRow(row []string) error {
	t.rowNum++
	w := 0
	for _, f := range t.schema.Fields() {
		w = max(w, displayWidth(printable(f.Name)))
	}
	fmt.Fprintf(t.out, "-[ RECORD %d ]%s\n", t.rowNum, strings.Repeat("-", max(0, w-8)))
	for j, f := range t.schema.Fields() {
		if _, err := fmt.Fprintf(t.out, "%s | %s\n", padTo(printable(f.Name), w, false), row[j]); err != nil {
			return err
		}
	}
	return nil
}

func (t *tableWriter) numeric(j int) bool {
	switch t.schema.Field(j).Type.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128:
		return true
	}
	return false
}

func (t *tableWriter) flush() error {
	if !t.flushed {
		t.flushed = true
		t.widths = make([]int, t.schema.NumFields())
		for j, f := range t.schema.Fields() {
			t.widths[j] = displayWidth(printable(f.Name))
		}
		for _, row := range t.pending {
			for j, s := range row {
				t.widths[j] = max(t.widths[j], displayWidth(s))
			}
		}
		if t.auto && t.termWidth > 0 && t.tableWidth() > t.termWidth {
			// Too wide for the terminal: these rows and the rest expanded.
			t.expanded = true
			for _, row := range t.pending {
				if err := t.expandedRow(row); err != nil {
					return err
				}
			}
			t.pending = t.pending[:0]
			return nil
		}
		var head, sep []string
		for j, f := range t.schema.Fields() {
			head = append(head, t.padCell(printable(f.Name), j, false))
			sep = append(sep, strings.Repeat("-", t.widths[j]))
		}
		fmt.Fprintln(t.out, strings.Join(head, " | "))
		fmt.Fprintln(t.out, strings.Join(sep, "-+-"))
	}
	var b strings.Builder
	for _, row := range t.pending {
		b.Reset()
		for j, s := range row {
			if j > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(t.padCell(s, j, t.numeric(j)))
		}
		b.WriteByte('\n')
		if _, err := io.WriteString(t.out, b.String()); err != nil {
			return err
		}
	}
	t.pending = t.pending[:0]
	return nil
}

// padCell pads a cell of column j to its width; the last column is not
// padded on the right (no trailing blanks).
func (t *tableWriter) padCell(s string, j int, right bool) string {
	if !right && j == len(t.widths)-1 {
		return s
	}
	return padTo(s, t.widths[j], right)
}

// tableWidth is the width of a table line: the columns and " | " between.
func (t *tableWriter) tableWidth() int {
	n := 3 * max(0, len(t.widths)-1)
	for _, w := range t.widths {
		n += w
	}
	return n
}

func (t *tableWriter) finish(rows int64, elapsed time.Duration) error {
	if !t.expanded {
		if err := t.flush(); err != nil {
			return err
		}
	}
	word := "rows"
	if rows == 1 {
		word = "row"
	}
	if t.timing {
		_, err := fmt.Fprintf(t.out, "(%d %s, %s)\n", rows, word, elapsed.Round(time.Microsecond*100))
		return err
	}
	_, err := fmt.Fprintf(t.out, "(%d %s)\n", rows, word)
	return err
}

// markdownWriter prints a GitHub-flavoured Markdown table: numbers
// right-aligned, | and line breaks escaped, NULL as NULL.
type markdownWriter struct {
	out    io.Writer
	schema *arrow.Schema
}

func newMarkdownWriter(out io.Writer, schema *arrow.Schema) (*markdownWriter, error) {
	m := &markdownWriter{out: out, schema: schema}
	var head, sep []string
	for j, f := range schema.Fields() {
		head = append(head, markdownCell(f.Name))
		if (&tableWriter{schema: schema}).numeric(j) {
			sep = append(sep, "---:")
		} else {
			sep = append(sep, "---")
		}
	}
	_, err := fmt.Fprintf(out, "| %s |\n|%s|\n", strings.Join(head, " | "), strings.Join(sep, "|"))
	return m, err
}

func markdownCell(s string) string {
	// Backslashes first: printable's escapes (\n) are then shown as typed.
	return printable(strings.NewReplacer(`\`, `\\`, "|", `\|`).Replace(s))
}

func (m *markdownWriter) write(rec arrow.RecordBatch) error {
	var b strings.Builder
	for i := 0; i < int(rec.NumRows()); i++ {
		b.Reset()
		b.WriteString("|")
		for j := 0; j < int(rec.NumCols()); j++ {
			s, ok := cell(rec.Column(j), i)
			if !ok {
				s = "NULL"
			}
			b.WriteString(" " + markdownCell(s) + " |")
		}
		b.WriteByte('\n')
		if _, err := io.WriteString(m.out, b.String()); err != nil {
			return err
		}
	}
	return nil
}

func (m *markdownWriter) finish(int64, time.Duration) error { return nil }
