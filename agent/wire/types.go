package wire

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// TypeName is an Arrow type as the wire spells it: int8 … int64, float32,
// float64, utf8, binary, bool, date32, timestamp[us], timestamp[us,UTC],
// decimal128(p,s), null. Other types are not exchanged.
func TypeName(t arrow.DataType) (string, error) {
	if t == nil {
		return "", fmt.Errorf("no type")
	}
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.FLOAT32, arrow.FLOAT64, arrow.BOOL, arrow.DATE32, arrow.NULL:
		return t.Name(), nil
	case arrow.STRING:
		return "utf8", nil
	case arrow.BINARY:
		return "binary", nil
	case arrow.TIMESTAMP:
		ts := t.(*arrow.TimestampType)
		if ts.Unit != arrow.Microsecond || ts.TimeZone != "" && ts.TimeZone != "UTC" {
			break
		}
		if ts.TimeZone == "UTC" {
			return "timestamp[us,UTC]", nil
		}
		return "timestamp[us]", nil
	case arrow.DECIMAL128:
		d := t.(*arrow.Decimal128Type)
		return fmt.Sprintf("decimal128(%d,%d)", d.Precision, d.Scale), nil
	}
	return "", fmt.Errorf("type %s is not exchanged with agents", t)
}

var named = map[string]arrow.DataType{
	"int8": arrow.PrimitiveTypes.Int8, "int16": arrow.PrimitiveTypes.Int16,
	"int32": arrow.PrimitiveTypes.Int32, "int64": arrow.PrimitiveTypes.Int64,
	"float32": arrow.PrimitiveTypes.Float32, "float64": arrow.PrimitiveTypes.Float64,
	"utf8": arrow.BinaryTypes.String, "binary": arrow.BinaryTypes.Binary,
	"bool": arrow.FixedWidthTypes.Boolean, "date32": arrow.FixedWidthTypes.Date32,
	"null":              arrow.Null,
	"timestamp[us]":     &arrow.TimestampType{Unit: arrow.Microsecond},
	"timestamp[us,UTC]": &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
}

// ParseType reads a TypeName.
func ParseType(s string) (arrow.DataType, error) {
	if t, ok := named[s]; ok {
		return t, nil
	}
	if inner, ok := strings.CutPrefix(s, "decimal128("); ok {
		if inner, ok = strings.CutSuffix(inner, ")"); ok {
			ps, ss, ok := strings.Cut(inner, ",")
			p, err1 := strconv.Atoi(ps)
			sc, err2 := strconv.Atoi(ss)
			if ok && err1 == nil && err2 == nil && p >= 1 && p <= 38 && sc >= 0 && sc <= p {
				return &arrow.Decimal128Type{Precision: int32(p), Scale: int32(sc)}, nil
			}
		}
	}
	return nil, fmt.Errorf("unknown type %q", s)
}
