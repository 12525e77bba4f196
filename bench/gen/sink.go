package gen

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// sink is one destination database (or directory of files) receiving the
// tables of one agency, one table at a time.
type sink interface {
	begin(ctx context.Context, t *table) error
	// write receives a row that is reused after the call returns.
	write(row []val) error
	end(ctx context.Context) error
	close() error
}

// appendCSV renders a row the way the CSV outputs hold it; the same bytes
// feed the table digests, so a digest is the SHA-256 of the table as CSV.
func appendCSV(b []byte, cols []column, row []val) []byte {
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		v := row[i]
		if v.null {
			continue
		}
		switch c.typ {
		case cText:
			b = appendCSVText(b, v.s)
		case cBigint, cInt:
			b = strconv.AppendInt(b, v.i, 10)
		case cDate:
			b = appendDate(b, int32(v.i))
		case cDecimal:
			b = appendDecimal(b, v.i)
		}
	}
	return append(b, '\n')
}

func appendCSVText(b []byte, s string) []byte {
	if !needsQuote(s) {
		return append(b, s...)
	}
	b = append(b, '"')
	b = append(b, strings.ReplaceAll(s, `"`, `""`)...)
	return append(b, '"')
}

// needsQuote follows encoding/csv (plus a trailing space), byte-wise: every
// special character is ASCII.
func needsQuote(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	return false
}

// appendDecimal writes hundredths as a plain decimal with two places.
func appendDecimal(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	return append(b, '.', byte('0'+v/10%10), byte('0'+v%10))
}

func decimalString(v int64) string { return string(appendDecimal(nil, v)) }

func csvHeader(cols []column) []byte {
	var b []byte
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c.name...)
	}
	return append(b, '\n')
}

// csvSink writes DIR/<table>.csv with a header line.
type csvSink struct {
	dir string
	f   *os.File
	w   *bufio.Writer
	t   *table
	buf []byte
}

func (s *csvSink) begin(_ context.Context, t *table) error {
	f, err := os.Create(filepath.Join(s.dir, t.name+".csv"))
	if err != nil {
		return err
	}
	s.f, s.t = f, t
	s.w = bufio.NewWriterSize(f, 1<<20)
	_, err = s.w.Write(csvHeader(t.cols))
	return err
}

func (s *csvSink) write(row []val) error {
	s.buf = appendCSV(s.buf[:0], s.t.cols, row)
	_, err := s.w.Write(s.buf)
	return err
}

func (s *csvSink) end(context.Context) error {
	err := s.w.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

func (s *csvSink) close() error {
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}

// sqlType renders a column type for a kind of database.
func sqlType(kind string, c column, key bool) string {
	var t string
	switch c.typ {
	case cText:
		switch kind {
		case "sqlite", "duckdb":
			t = "TEXT"
			if kind == "duckdb" {
				t = "VARCHAR"
			}
		default:
			t = fmt.Sprintf("VARCHAR(%d)", c.size)
		}
	case cBigint:
		t = "BIGINT"
		if kind == "sqlite" && key {
			t = "INTEGER" // only INTEGER PRIMARY KEY is the 64-bit rowid
		}
	case cInt:
		t = "INTEGER"
	case cDate:
		t = "DATE"
	case cDecimal:
		t = fmt.Sprintf("DECIMAL(%d,2)", c.size)
		if kind == "postgres" {
			t = fmt.Sprintf("NUMERIC(%d,2)", c.size)
		}
	}
	if !c.nullable {
		t += " NOT NULL"
	}
	return t
}

// createTable is the CREATE TABLE statement for a kind; keyInline puts the
// primary key in it (SQLite and MariaDB, whose tables are clustered on it).
func createTable(kind, qualified string, t *table, keyInline bool, quote func(string) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (", qualified)
	for i, c := range t.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		key := keyInline && c.name == t.key
		b.WriteString(quote(c.name) + " " + sqlType(kind, c, key))
		if key {
			b.WriteString(" PRIMARY KEY")
		}
	}
	b.WriteString(")")
	if kind == "mysql" {
		b.WriteString(" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
	}
	return b.String()
}

func dquote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func bquote(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
func squote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// tableDigest is an order-independent digest of a table: the lane-wise sum
// (mod 2^64) of the SHA-256 of the CSV header and of every CSV-rendered row.
// Any database's copy of a table digests the same in whatever order it
// returns the rows, and memory stays constant.
type tableDigest [4]uint64

func (d *tableDigest) add(line []byte) {
	h := sha256.Sum256(line)
	for i := range d {
		d[i] += binary.BigEndian.Uint64(h[8*i:])
	}
}

func (d *tableDigest) String() string {
	var b [32]byte
	for i, x := range d {
		binary.BigEndian.PutUint64(b[8*i:], x)
	}
	return "sha256sum:" + hex.EncodeToString(b[:])
}
