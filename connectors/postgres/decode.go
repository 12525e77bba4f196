package postgres

import (
	"encoding/binary"
	"math"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"lienthong/connectors/arrowconv"
)

// decoder appends one wire value (nil is NULL) to its column.
type decoder func(v []byte) error

const (
	// PostgreSQL counts dates and timestamps from 2000-01-01.
	pgEpochDays   = 10957
	pgEpochMicros = 946684800000000
)

var (
	errUTF8     = arrowconv.ErrUTF8
	errInfinite = errorString("infinite date or timestamp has no Arrow value")
)

type errorString string

func (e errorString) Error() string { return string(e) }

// newDecoder picks a direct binary→builder path when the wire type is the
// target type's natural source, else decodes to a Go value for the builder's
// generic (still exact) conversion.
func newDecoder(oid uint32, format int16, b *arrowconv.Builder, col int) decoder {
	generic := func(v []byte) error {
		if v == nil {
			return b.Append(col, nil)
		}
		return b.Append(col, v)
	}
	if format != 1 {
		return generic // text format: decimal, uuid, json... parsed exactly
	}
	fb := b.Field(col)
	wrap := func(f func(v []byte) error) decoder {
		return func(v []byte) error {
			if v == nil {
				fb.AppendNull()
				return nil
			}
			if err := f(v); err != nil {
				return b.Err(col, err)
			}
			return nil
		}
	}
	viaValue := wrap(func(v []byte) error {
		x, err := binaryValue(oid, v)
		if err != nil {
			return err
		}
		return b.Append(col, x)
	})
	switch oid {
	case oidInt2, oidInt4, oidInt8:
		readInt := func(v []byte) (int64, error) {
			switch len(v) {
			case 2:
				return int64(int16(binary.BigEndian.Uint16(v))), nil
			case 4:
				return int64(int32(binary.BigEndian.Uint32(v))), nil
			case 8:
				return int64(binary.BigEndian.Uint64(v)), nil
			}
			return 0, errWire
		}
		switch bb := fb.(type) {
		case *array.Int64Builder:
			return wrap(func(v []byte) error {
				x, err := readInt(v)
				bb.Append(x)
				return err
			})
		case *array.Int32Builder:
			if oid != oidInt8 {
				return wrap(func(v []byte) error {
					x, err := readInt(v)
					bb.Append(int32(x))
					return err
				})
			}
		case *array.Int16Builder:
			if oid == oidInt2 {
				return wrap(func(v []byte) error {
					x, err := readInt(v)
					bb.Append(int16(x))
					return err
				})
			}
		}
	case oidFloat8:
		if bb, ok := fb.(*array.Float64Builder); ok {
			return wrap(func(v []byte) error {
				if len(v) != 8 {
					return errWire
				}
				bb.Append(math.Float64frombits(binary.BigEndian.Uint64(v)))
				return nil
			})
		}
	case oidFloat4:
		switch bb := fb.(type) {
		case *array.Float32Builder:
			return wrap(func(v []byte) error {
				if len(v) != 4 {
					return errWire
				}
				bb.Append(math.Float32frombits(binary.BigEndian.Uint32(v)))
				return nil
			})
		case *array.Float64Builder:
			return wrap(func(v []byte) error {
				if len(v) != 4 {
					return errWire
				}
				bb.Append(float64(math.Float32frombits(binary.BigEndian.Uint32(v))))
				return nil
			})
		}
	case oidBool:
		if bb, ok := fb.(*array.BooleanBuilder); ok {
			return wrap(func(v []byte) error {
				if len(v) != 1 {
					return errWire
				}
				bb.Append(v[0] != 0)
				return nil
			})
		}
	case oidDate:
		if bb, ok := fb.(*array.Date32Builder); ok {
			return wrap(func(v []byte) error {
				if len(v) != 4 {
					return errWire
				}
				d := int32(binary.BigEndian.Uint32(v))
				if d == math.MaxInt32 || d == math.MinInt32 {
					return errInfinite
				}
				bb.Append(arrow.Date32(d + pgEpochDays))
				return nil
			})
		}
	case oidTimestamp, oidTimestamptz:
		if bb, ok := fb.(*array.TimestampBuilder); ok {
			return wrap(func(v []byte) error {
				if len(v) != 8 {
					return errWire
				}
				us := int64(binary.BigEndian.Uint64(v))
				if us == math.MaxInt64 || us == math.MinInt64 {
					return errInfinite
				}
				bb.Append(arrow.Timestamp(us + pgEpochMicros))
				return nil
			})
		}
	case oidText, oidVarchar, oidBpchar, oidName:
		if bb, ok := fb.(*array.StringBuilder); ok {
			return wrap(func(v []byte) error {
				if !utf8.Valid(v) {
					return errUTF8
				}
				bb.BinaryBuilder.Append(v)
				return nil
			})
		}
	case oidBytea:
		if bb, ok := fb.(*array.BinaryBuilder); ok {
			return wrap(func(v []byte) error {
				bb.Append(v)
				return nil
			})
		}
	}
	return viaValue
}

// binaryValue decodes a binary-format value of one of binaryOIDs.
func binaryValue(oid uint32, v []byte) (any, error) {
	switch oid {
	case oidInt2:
		if len(v) == 2 {
			return int64(int16(binary.BigEndian.Uint16(v))), nil
		}
	case oidInt4:
		if len(v) == 4 {
			return int64(int32(binary.BigEndian.Uint32(v))), nil
		}
	case oidInt8:
		if len(v) == 8 {
			return int64(binary.BigEndian.Uint64(v)), nil
		}
	case oidFloat4:
		if len(v) == 4 {
			return float64(math.Float32frombits(binary.BigEndian.Uint32(v))), nil
		}
	case oidFloat8:
		if len(v) == 8 {
			return math.Float64frombits(binary.BigEndian.Uint64(v)), nil
		}
	case oidBool:
		if len(v) == 1 {
			return v[0] != 0, nil
		}
	case oidDate:
		if len(v) == 4 {
			d := int32(binary.BigEndian.Uint32(v))
			if d == math.MaxInt32 || d == math.MinInt32 {
				return nil, errInfinite
			}
			return time.Unix(int64(d+pgEpochDays)*86400, 0).UTC(), nil
		}
	case oidTimestamp, oidTimestamptz:
		if len(v) == 8 {
			us := int64(binary.BigEndian.Uint64(v))
			if us == math.MaxInt64 || us == math.MinInt64 {
				return nil, errInfinite
			}
			return time.UnixMicro(us + pgEpochMicros).UTC(), nil
		}
	case oidText, oidVarchar, oidBpchar, oidName:
		if !utf8.Valid(v) {
			return nil, errUTF8
		}
		return string(v), nil
	case oidBytea:
		return append([]byte(nil), v...), nil
	}
	return nil, errWire
}
