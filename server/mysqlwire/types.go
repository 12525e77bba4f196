package mysqlwire

import (
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"vitess.io/vitess/go/sqltypes"
	querypb "vitess.io/vitess/go/vt/proto/query"
)

// MySQL character set ids of result columns.
const (
	charsetUTF8MB4 = 45 // utf8mb4_general_ci, known to MySQL and MariaDB clients
	charsetBinary  = 63
)

// varcharChars is the declared length of a text column: sources do not
// say theirs through Arrow, and this is MySQL's largest utf8mb4 VARCHAR.
const varcharChars = 16383

// column is how one Arrow type goes over the wire: the column definition
// and its name in SHOW COLUMNS.
type column struct {
	typ      querypb.Type
	length   uint32
	charset  uint32
	decimals uint32
	flags    uint32
	name     string // e.g. decimal(18,2), tinyint(1), datetime(6)
}

const (
	flagUnsigned = uint32(querypb.MySqlFlag_UNSIGNED_FLAG)
	flagBinary   = uint32(querypb.MySqlFlag_BINARY_FLAG)
	flagNum      = uint32(querypb.MySqlFlag_NUM_FLAG)
	flagNotNull  = uint32(querypb.MySqlFlag_NOT_NULL_FLAG)
)

// columnFor maps an Arrow type to its MySQL column type. Types without a
// MySQL counterpart (lists, structs, intervals) are sent as text.
func columnFor(dt arrow.DataType) column {
	num := func(t querypb.Type, length uint32, name string) column {
		return column{typ: t, length: length, charset: charsetBinary, flags: flagNum | flagBinary, name: name}
	}
	unsigned := func(c column) column { c.flags |= flagUnsigned; c.name += " unsigned"; return c }
	switch t := dt.(type) {
	case *arrow.BooleanType:
		return num(querypb.Type_INT8, 1, "tinyint(1)")
	case *arrow.Int8Type:
		return num(querypb.Type_INT8, 4, "tinyint")
	case *arrow.Int16Type:
		return num(querypb.Type_INT16, 6, "smallint")
	case *arrow.Int32Type:
		return num(querypb.Type_INT32, 11, "int")
	case *arrow.Int64Type:
		return num(querypb.Type_INT64, 20, "bigint")
	case *arrow.Uint8Type:
		return unsigned(num(querypb.Type_UINT8, 3, "tinyint"))
	case *arrow.Uint16Type:
		return unsigned(num(querypb.Type_UINT16, 5, "smallint"))
	case *arrow.Uint32Type:
		return unsigned(num(querypb.Type_UINT32, 10, "int"))
	case *arrow.Uint64Type:
		return unsigned(num(querypb.Type_UINT64, 20, "bigint"))
	case *arrow.Float16Type, *arrow.Float32Type:
		c := num(querypb.Type_FLOAT32, 12, "float")
		c.decimals = 31 // not a fixed number of decimals
		return c
	case *arrow.Float64Type:
		c := num(querypb.Type_FLOAT64, 22, "double")
		c.decimals = 31
		return c
	case arrow.DecimalType:
		p, s := uint32(t.GetPrecision()), uint32(t.GetScale())
		// MySQL's display length: the digits, a sign, and a point if any.
		length := p + 1
		if s > 0 {
			length++
		}
		c := num(querypb.Type_DECIMAL, length, fmt.Sprintf("decimal(%d,%d)", p, s))
		c.decimals = s
		return c
	case *arrow.Date32Type, *arrow.Date64Type:
		return column{typ: querypb.Type_DATE, length: 10, charset: charsetBinary, flags: flagBinary, name: "date"}
	case *arrow.TimestampType:
		d := timestampDecimals(t.Unit)
		c := column{typ: querypb.Type_DATETIME, length: 19, charset: charsetBinary, flags: flagBinary, decimals: d, name: "datetime"}
		if t.TimeZone != "" {
			// An instant: TIMESTAMP, sent in UTC (@@time_zone is +00:00).
			c.typ, c.name = querypb.Type_TIMESTAMP, "timestamp"
		}
		if d > 0 {
			c.length += 1 + d
			c.name += fmt.Sprintf("(%d)", d)
		}
		return c
	case *arrow.Time32Type, *arrow.Time64Type:
		var d uint32
		switch u := t.(arrow.TemporalWithUnit).TimeUnit(); u {
		case arrow.Millisecond:
			d = 3
		case arrow.Microsecond, arrow.Nanosecond:
			d = 6
		}
		c := column{typ: querypb.Type_TIME, length: 10, charset: charsetBinary, flags: flagBinary, decimals: d, name: "time"}
		if d > 0 {
			c.length += 1 + d
			c.name += fmt.Sprintf("(%d)", d)
		}
		return c
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.FixedSizeBinaryType, *arrow.BinaryViewType:
		return column{typ: querypb.Type_VARBINARY, length: 65535, charset: charsetBinary, flags: flagBinary, name: "varbinary(65535)"}
	case *arrow.NullType:
		return column{typ: querypb.Type_NULL_TYPE, charset: charsetBinary, flags: flagBinary, name: "null"}
	}
	return column{typ: querypb.Type_VARCHAR, length: varcharChars * 4, charset: charsetUTF8MB4, name: fmt.Sprintf("varchar(%d)", varcharChars)}
}

// timestampDecimals is the fractional digits MySQL shows for unit (at
// most 6: nanoseconds are cut to microseconds).
func timestampDecimals(u arrow.TimeUnit) uint32 {
	switch u {
	case arrow.Millisecond:
		return 3
	case arrow.Microsecond, arrow.Nanosecond:
		return 6
	}
	return 0
}

// encoder renders an Arrow result's rows as MySQL text-protocol values.
type encoder struct{ cols []column }

// resultFields are the column definitions of schema and the encoder of
// its rows.
func resultFields(schema *arrow.Schema) ([]*querypb.Field, *encoder) {
	enc := &encoder{}
	var fields []*querypb.Field
	for _, f := range schema.Fields() {
		c := columnFor(f.Type)
		flags := c.flags
		if !f.Nullable {
			flags |= flagNotNull
		}
		fields = append(fields, &querypb.Field{Name: f.Name, OrgName: f.Name, Type: c.typ, ColumnLength: c.length, Charset: c.charset, Decimals: c.decimals, Flags: flags})
		enc.cols = append(enc.cols, c)
	}
	return fields, enc
}

// rows renders rows lo..hi of rec.
func (e *encoder) rows(rec arrow.RecordBatch, lo, hi int) [][]sqltypes.Value {
	out := make([][]sqltypes.Value, 0, hi-lo)
	cols := rec.Columns()
	for i := lo; i < hi; i++ {
		row := make([]sqltypes.Value, len(cols))
		for j, col := range cols {
			row[j] = e.value(j, col, i)
		}
		out = append(out, row)
	}
	return out
}

func (e *encoder) value(j int, col arrow.Array, i int) sqltypes.Value {
	if col.IsNull(i) {
		return sqltypes.NULL
	}
	c := e.cols[j]
	mk := func(b []byte) sqltypes.Value { return sqltypes.MakeTrusted(c.typ, b) }
	switch a := col.(type) {
	case *array.Boolean:
		if a.Value(i) {
			return mk([]byte{'1'})
		}
		return mk([]byte{'0'})
	case *array.Int8:
		return mk(strconv.AppendInt(nil, int64(a.Value(i)), 10))
	case *array.Int16:
		return mk(strconv.AppendInt(nil, int64(a.Value(i)), 10))
	case *array.Int32:
		return mk(strconv.AppendInt(nil, int64(a.Value(i)), 10))
	case *array.Int64:
		return mk(strconv.AppendInt(nil, a.Value(i), 10))
	case *array.Uint8:
		return mk(strconv.AppendUint(nil, uint64(a.Value(i)), 10))
	case *array.Uint16:
		return mk(strconv.AppendUint(nil, uint64(a.Value(i)), 10))
	case *array.Uint32:
		return mk(strconv.AppendUint(nil, uint64(a.Value(i)), 10))
	case *array.Uint64:
		return mk(strconv.AppendUint(nil, a.Value(i), 10))
	case *array.Float16:
		return mk(strconv.AppendFloat(nil, float64(a.Value(i).Float32()), 'g', -1, 32))
	case *array.Float32:
		return mk(strconv.AppendFloat(nil, float64(a.Value(i)), 'g', -1, 32))
	case *array.Float64:
		return mk(strconv.AppendFloat(nil, a.Value(i), 'g', -1, 64))
	case *array.Decimal128:
		return mk([]byte(a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)))
	case *array.Decimal256:
		return mk([]byte(a.Value(i).ToString(a.DataType().(*arrow.Decimal256Type).Scale)))
	case *array.Decimal64:
		return mk([]byte(a.Value(i).ToString(a.DataType().(*arrow.Decimal64Type).Scale)))
	case *array.Decimal32:
		return mk([]byte(a.Value(i).ToString(a.DataType().(*arrow.Decimal32Type).Scale)))
	case *array.Date32:
		return mk([]byte(a.Value(i).ToTime().Format(time.DateOnly)))
	case *array.Date64:
		return mk([]byte(a.Value(i).ToTime().Format(time.DateOnly)))
	case *array.Timestamp:
		tt := a.DataType().(*arrow.TimestampType)
		return mk(appendDateTime(nil, a.Value(i).ToTime(tt.Unit).UTC(), c.decimals))
	case *array.Time32:
		u := a.DataType().(*arrow.Time32Type).Unit
		return mk(appendTime(nil, time.Duration(a.Value(i))*u.Multiplier(), c.decimals))
	case *array.Time64:
		u := a.DataType().(*arrow.Time64Type).Unit
		return mk(appendTime(nil, time.Duration(a.Value(i))*u.Multiplier(), c.decimals))
	case *array.String:
		return mk([]byte(a.Value(i)))
	case *array.LargeString:
		return mk([]byte(a.Value(i)))
	case *array.StringView:
		return mk([]byte(a.Value(i)))
	case *array.Binary:
		return mk(append([]byte(nil), a.Value(i)...))
	case *array.LargeBinary:
		return mk(append([]byte(nil), a.Value(i)...))
	case *array.BinaryView:
		return mk(append([]byte(nil), a.Value(i)...))
	case *array.FixedSizeBinary:
		return mk(append([]byte(nil), a.Value(i)...))
	}
	return mk([]byte(col.ValueStr(i)))
}

// appendDateTime writes t as MySQL does: "2006-01-02 15:04:05[.ffffff]".
func appendDateTime(dst []byte, t time.Time, decimals uint32) []byte {
	dst = t.AppendFormat(dst, "2006-01-02 15:04:05")
	if decimals > 0 {
		frac := fmt.Sprintf("%09d", t.Nanosecond())
		dst = append(append(dst, '.'), frac[:decimals]...)
	}
	return dst
}

// appendTime writes a time of day as "15:04:05[.ffffff]".
func appendTime(dst []byte, d time.Duration, decimals uint32) []byte {
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	dst = fmt.Appendf(dst, "%02d:%02d:%02d", h, m, s)
	if decimals > 0 {
		frac := fmt.Sprintf("%09d", int(d%time.Second))
		dst = append(append(dst, '.'), frac[:decimals]...)
	}
	return dst
}
