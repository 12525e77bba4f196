package bench

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5/pgtype"
)

// A Cell is one result value in a form every system's answer can be compared
// in: NULL, a number (integers, decimals and floats alike, so a SUM that is
// DECIMAL in one system and DOUBLE in another compares equal), or text
// (strings byte for byte; dates as YYYY-MM-DD).
type Cell struct {
	Kind CellKind
	Num  float64
	Text string
}

type CellKind uint8

const (
	Null CellKind = iota
	Number
	Text
)

// Row is one result row.
type Row []Cell

// numDigits is how many significant digits numbers keep in sort keys and
// renderings; equality allows a relative error of numTolerance.
const (
	numDigits    = 9
	numTolerance = 1e-9
)

func (c Cell) String() string {
	switch c.Kind {
	case Null:
		return "NULL"
	case Number:
		return strconv.FormatFloat(c.Num, 'g', numDigits, 64)
	}
	return strconv.Quote(c.Text)
}

func (r Row) key() string {
	var b strings.Builder
	for i, c := range r {
		if i > 0 {
			b.WriteByte('\x1f')
		}
		switch c.Kind {
		case Null:
			b.WriteString("\x00")
		case Number:
			b.WriteString("n" + strconv.FormatFloat(c.Num, 'g', numDigits, 64))
		default:
			b.WriteString("s" + c.Text)
		}
	}
	return b.String()
}

func (r Row) String() string {
	parts := make([]string, len(r))
	for i, c := range r {
		parts[i] = c.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func numCell(f float64) Cell { return Cell{Kind: Number, Num: f} }
func textCell(s string) Cell { return Cell{Kind: Text, Text: s} }

// timeCell renders a date (midnight) as YYYY-MM-DD, anything else with its
// time of day in UTC.
func timeCell(t time.Time) Cell {
	t = t.UTC()
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return textCell(t.Format("2006-01-02"))
	}
	return textCell(t.Format("2006-01-02 15:04:05.999999"))
}

// ArrowRows appends the rows of one record batch.
func ArrowRows(dst []Row, rec arrow.RecordBatch) ([]Row, error) {
	n := int(rec.NumRows())
	cols := rec.Columns()
	start := len(dst)
	for i := 0; i < n; i++ {
		dst = append(dst, make(Row, len(cols)))
	}
	for j, col := range cols {
		for i := 0; i < n; i++ {
			c, err := arrowCell(col, i)
			if err != nil {
				return dst, fmt.Errorf("column %d: %w", j, err)
			}
			dst[start+i][j] = c
		}
	}
	return dst, nil
}

func arrowCell(col arrow.Array, i int) (Cell, error) {
	if col.IsNull(i) {
		return Cell{}, nil
	}
	switch a := col.(type) {
	case *array.Int8:
		return numCell(float64(a.Value(i))), nil
	case *array.Int16:
		return numCell(float64(a.Value(i))), nil
	case *array.Int32:
		return numCell(float64(a.Value(i))), nil
	case *array.Int64:
		return numCell(float64(a.Value(i))), nil
	case *array.Uint8:
		return numCell(float64(a.Value(i))), nil
	case *array.Uint16:
		return numCell(float64(a.Value(i))), nil
	case *array.Uint32:
		return numCell(float64(a.Value(i))), nil
	case *array.Uint64:
		return numCell(float64(a.Value(i))), nil
	case *array.Float32:
		return numCell(float64(a.Value(i))), nil
	case *array.Float64:
		return numCell(a.Value(i)), nil
	case *array.Decimal128:
		return numCell(a.Value(i).ToFloat64(a.DataType().(*arrow.Decimal128Type).Scale)), nil
	case *array.Decimal256:
		return numCell(a.Value(i).ToFloat64(a.DataType().(*arrow.Decimal256Type).Scale)), nil
	// Arrow strings alias the batch's buffers, which are reused once the
	// batch is released: copy them.
	case *array.String:
		return textCell(strings.Clone(a.Value(i))), nil
	case *array.LargeString:
		return textCell(strings.Clone(a.Value(i))), nil
	case *array.StringView:
		return textCell(strings.Clone(a.Value(i))), nil
	case *array.Binary:
		return textCell(string(a.Value(i))), nil
	case *array.Boolean:
		return textCell(strconv.FormatBool(a.Value(i))), nil
	case *array.Date32:
		return timeCell(a.Value(i).ToTime()), nil
	case *array.Date64:
		return timeCell(a.Value(i).ToTime()), nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return timeCell(a.Value(i).ToTime(unit)), nil
	}
	return Cell{}, fmt.Errorf("unsupported Arrow type %s", col.DataType())
}

// ValueCell converts a value decoded by pgx (or database/sql).
func ValueCell(v any) (Cell, error) {
	switch x := v.(type) {
	case nil:
		return Cell{}, nil
	case int:
		return numCell(float64(x)), nil
	case int8:
		return numCell(float64(x)), nil
	case int16:
		return numCell(float64(x)), nil
	case int32:
		return numCell(float64(x)), nil
	case int64:
		return numCell(float64(x)), nil
	case uint8:
		return numCell(float64(x)), nil
	case uint16:
		return numCell(float64(x)), nil
	case uint32:
		return numCell(float64(x)), nil
	case uint64:
		return numCell(float64(x)), nil
	case float32:
		return numCell(float64(x)), nil
	case float64:
		return numCell(x), nil
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return numCell(f), nil
	case pgtype.Numeric:
		if !x.Valid {
			return Cell{}, nil
		}
		f, err := x.Float64Value()
		if err != nil {
			return Cell{}, err
		}
		return numCell(f.Float64), nil
	case string:
		return textCell(x), nil
	case []byte:
		return textCell(string(x)), nil
	case bool:
		return textCell(strconv.FormatBool(x)), nil
	case time.Time:
		return timeCell(x), nil
	}
	return Cell{}, fmt.Errorf("unsupported value type %T", v)
}

// SortRows orders rows by their canonical key, so two answers can be compared
// whatever order each system returned them in.
func SortRows(rows []Row) {
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = r.key()
	}
	sort.Sort(byKey{rows, keys})
}

type byKey struct {
	rows []Row
	keys []string
}

func (b byKey) Len() int           { return len(b.rows) }
func (b byKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.rows[i], b.rows[j] = b.rows[j], b.rows[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}

// Compare checks two sorted answers are the same multiset of rows; numbers
// equal within a relative error of 1e-9. It returns "" or the first
// difference.
func Compare(a, b []Row) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d rows vs %d rows", len(a), len(b))
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return fmt.Sprintf("row %d: %d columns vs %d", i, len(a[i]), len(b[i]))
		}
		for j := range a[i] {
			if !cellsEqual(a[i][j], b[i][j]) {
				return fmt.Sprintf("sorted row %d column %d: %s vs %s", i, j, a[i], b[i])
			}
		}
	}
	return ""
}

func cellsEqual(x, y Cell) bool {
	if x.Kind != y.Kind {
		return false
	}
	switch x.Kind {
	case Null:
		return true
	case Number:
		if x.Num == y.Num {
			return true
		}
		d := math.Abs(x.Num - y.Num)
		return d <= numTolerance*math.Max(math.Abs(x.Num), math.Abs(y.Num)) || d < 1e-12
	}
	return x.Text == y.Text
}
