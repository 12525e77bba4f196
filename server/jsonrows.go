package server

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// rowEncoder renders record batches as JSON lines: one object per row,
// column names as keys, in column order. Integers and decimals are JSON
// numbers (decimals exact, as written by the source), floats are numbers
// (NaN and infinities as strings), dates "YYYY-MM-DD", timestamps ISO 8601
// (with "Z" for instants), binary base64. Values are never JSON objects, so
// a line {"error": {...}} can only be the stream's error.
type rowEncoder struct {
	keys [][]byte // `"name":` per column
	buf  []byte
}

func newRowEncoder(schema *arrow.Schema) *rowEncoder {
	e := &rowEncoder{}
	for i, f := range schema.Fields() {
		var k []byte
		if i == 0 {
			k = append(k, '{')
		} else {
			k = append(k, ',')
		}
		k = appendJSONString(k, f.Name)
		k = append(k, ':')
		e.keys = append(e.keys, k)
	}
	return e
}

// appendBatch renders every row of rec.
func (e *rowEncoder) appendBatch(dst []byte, rec arrow.RecordBatch) []byte {
	cols := rec.Columns()
	n := int(rec.NumRows())
	for i := 0; i < n; i++ {
		if len(cols) == 0 {
			dst = append(dst, '{')
		}
		for c, col := range cols {
			dst = append(dst, e.keys[c]...)
			dst = appendJSONValue(dst, col, i)
		}
		dst = append(dst, '}', '\n')
	}
	return dst
}

func appendJSONValue(dst []byte, col arrow.Array, i int) []byte {
	if col.IsNull(i) {
		return append(dst, "null"...)
	}
	switch a := col.(type) {
	case *array.String:
		return appendJSONString(dst, a.Value(i))
	case *array.LargeString:
		return appendJSONString(dst, a.Value(i))
	case *array.Int64:
		return strconv.AppendInt(dst, a.Value(i), 10)
	case *array.Int32:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Int16:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Int8:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Uint64:
		return strconv.AppendUint(dst, a.Value(i), 10)
	case *array.Uint32:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10)
	case *array.Uint16:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10)
	case *array.Uint8:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10)
	case *array.Float64:
		return appendFloat(dst, a.Value(i), 64)
	case *array.Float32:
		return appendFloat(dst, float64(a.Value(i)), 32)
	case *array.Boolean:
		return strconv.AppendBool(dst, a.Value(i))
	case *array.Decimal128:
		return append(dst, a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)...)
	case *array.Date32:
		dst = append(dst, '"')
		dst = a.Value(i).ToTime().AppendFormat(dst, "2006-01-02")
		return append(dst, '"')
	case *array.Date64:
		dst = append(dst, '"')
		dst = a.Value(i).ToTime().AppendFormat(dst, "2006-01-02")
		return append(dst, '"')
	case *array.Timestamp:
		tt := a.DataType().(*arrow.TimestampType)
		t := a.Value(i).ToTime(tt.Unit)
		dst = append(dst, '"')
		if tt.TimeZone != "" {
			dst = t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.999999999Z")
		} else {
			dst = t.AppendFormat(dst, "2006-01-02T15:04:05.999999999")
		}
		return append(dst, '"')
	case *array.Binary:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, a.Value(i))
		return append(dst, '"')
	case *array.Null:
		return append(dst, "null"...)
	}
	return appendJSONString(dst, col.ValueStr(i))
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return appendJSONString(dst, strconv.FormatFloat(f, 'g', -1, bits))
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
