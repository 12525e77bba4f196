package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/text/unicode/norm"

	"lienthong/engine"
)

func TestDisplayWidth(t *testing.T) {
	nfd := norm.NFD.String("Nguyễn Thị Ánh")
	for _, c := range []struct {
		s    string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{norm.NFC.String("Nguyễn Thị Ánh"), 14},
		{nfd, 14}, // the same name, its marks apart: still 14 columns
		{"東京", 4},
		{"ｱｲ", 2}, // halfwidth katakana
		{"Ａ", 2},  // fullwidth A
		{"한국", 4},
		{"e\u0301", 1},
		{"a\u200db", 2}, // a zero-width joiner takes nothing
	} {
		if got := displayWidth(c.s); got != c.want {
			t.Errorf("displayWidth(%q) = %d, want %d", c.s, got, c.want)
		}
	}
	if len([]rune(nfd)) == 14 {
		t.Fatal("the NFD name should have more runes than columns")
	}
}

func TestPrintableEscapesControls(t *testing.T) {
	for in, want := range map[string]string{
		"plain Nguyễn":       "plain Nguyễn",
		"a\nb\tc":            `a\nb\tc`,
		"\x1b[31mred\x1b[0m": `\x1b[31mred\x1b[0m`,
		"bell\a":             `bell\x07`,
		"\u202eevil":         `\u202eevil`,
		"c1\u009b":           `c1\x9b`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// stringBatch is a one-batch result of string columns.
func stringBatch(t testing.TB, names []string, rows ...[]string) arrow.RecordBatch {
	t.Helper()
	var fields []arrow.Field
	var cols []arrow.Array
	for j, n := range names {
		fields = append(fields, arrow.Field{Name: n, Type: arrow.BinaryTypes.String, Nullable: true})
		b := array.NewStringBuilder(memory.DefaultAllocator)
		for _, r := range rows {
			b.Append(r[j])
		}
		cols = append(cols, b.NewArray())
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(len(rows)))
}

func render(t *testing.T, format string, o writerOptions, rec arrow.RecordBatch) string {
	t.Helper()
	var out bytes.Buffer
	w, err := newWriter(format, &out, rec.Schema(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.finish(rec.NumRows(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// Columns align by display width: a name in NFD (more runes than columns)
// and wide characters (two columns each) pad to the same edge. The
// expected table was counted by hand.
func TestTableAlignsByDisplayWidth(t *testing.T) {
	rec := stringBatch(t, []string{"name", "x"},
		[]string{norm.NFD.String("Nguyễn"), "1"},
		[]string{"東京", "2"},
		[]string{"abc", "3"},
	)
	got := render(t, "table", writerOptions{}, rec)
	want := strings.Join([]string{
		"name   | x",
		"-------+--",
		norm.NFD.String("Nguyễn") + " | 1",
		"東京   | 2",
		"abc    | 3",
		"(3 rows)",
		"",
	}, "\n")
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestMarkdownFormat(t *testing.T) {
	rec := stringBatch(t, []string{"a", "b|c"}, []string{"x|y", "line\nbreak"}, []string{`back\slash`, ""})
	got := render(t, "markdown", writerOptions{}, rec)
	want := "| a | b\\|c |\n|---|---|\n| x\\|y | line\\nbreak |\n| back\\\\slash |  |\n"
	if got != want {
		t.Errorf("markdown:\n%q\nwant\n%q", got, want)
	}
}

// \x auto: a table that fits the terminal stays a table; one wider than
// the terminal is printed expanded.
func TestExpandedAuto(t *testing.T) {
	narrow := stringBatch(t, []string{"id", "name"}, []string{"1", "An"})
	if got := render(t, "table", writerOptions{expanded: expandedAuto, termWidth: 40}, narrow); !strings.HasPrefix(got, "id | name\n") {
		t.Errorf("narrow result under \\x auto should be a table:\n%s", got)
	}
	wide := stringBatch(t, []string{"id", "address"}, []string{"1", strings.Repeat("Phường Bến Nghé ", 4)})
	got := render(t, "table", writerOptions{expanded: expandedAuto, termWidth: 40}, wide)
	if !strings.HasPrefix(got, "-[ RECORD 1 ]") || !strings.Contains(got, "\naddress | Phường") {
		t.Errorf("wide result under \\x auto should be expanded:\n%s", got)
	}
	if got := render(t, "table", writerOptions{expanded: expandedOn}, narrow); !strings.HasPrefix(got, "-[ RECORD 1 ]") {
		t.Errorf("\\x on:\n%s", got)
	}
}

func TestOneLineHistory(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1;":                                  "SELECT 1;",
		"SELECT a,\n       b\nFROM s.t;":             "SELECT a, b FROM s.t;",
		"SELECT a -- the key\nFROM s.t;":             "SELECT a /* the key */ FROM s.t;",
		"SELECT a # why */ not\nFROM s.t;":           "SELECT a /* why * / not */ FROM s.t;",
		"SELECT 'two\nlines', \"x\ny\" FROM s.t;":    `SELECT 'two\nlines', "x\ny" FROM s.t;`,
		"SELECT 'it''s -- not a comment'\nFROM s.t;": "SELECT 'it''s -- not a comment' FROM s.t;",
		"SELECT 5 --1\n;":                            "SELECT 5 --1 ;",
		"SELECT /* don't\n stop */ 1\n;":             "SELECT /* don't stop */ 1 ;",
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProgressText(t *testing.T) {
	got := progressText([]engine.SourceProgress{
		{Source: "dancu", Rows: 1234567},
		{Source: "hotich", Rows: 1, Done: true},
		{Source: "yte", Rows: 0, Hidden: true},
	}, 3250*time.Millisecond)
	want := "dancu 1,234,567 rows · hotich 1 row (done) · yte reading · 3.2 s · Ctrl-C cancels"
	if got != want {
		t.Errorf("progress line:\n%q\nwant\n%q", got, want)
	}
	if got := cutToWidth("東京東京", 5); got != "東京…" {
		t.Errorf("cutToWidth: %q", got)
	}
}

// BenchmarkTableWriter prints 10,000 rows of Vietnamese names (NFD and
// NFC) and numbers, the most a terminal shows of one result by default.
func BenchmarkTableWriter(b *testing.B) {
	names := []string{norm.NFD.String("Nguyễn Văn Ánh"), norm.NFC.String("Trần Thị Bích Ngọc"), "東京太郎"}
	var rows [][]string
	for i := range 10_000 {
		rows = append(rows, []string{names[i%3], "Phường Bến Nghé, Quận 1", fmt.Sprint(i)})
	}
	rec := stringBatch(b, []string{"full_name", "address", "n"}, rows...)
	b.ResetTimer()
	for b.Loop() {
		w, _ := newWriter("table", io.Discard, rec.Schema(), writerOptions{})
		_ = w.write(rec)
		_ = w.finish(rec.NumRows(), 0)
	}
}
