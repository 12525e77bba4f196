package arrowconv

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// ScaledDecimal is a decimal value with its scale, as read from an Arrow
// decimal array.
type ScaledDecimal struct {
	N     decimal128.Num
	Scale int32
}

// AddRows counts n rows appended column by column (AppendArray).
func (b *Builder) AddRows(n int) { b.rows += n }

// AppendArray appends every value of src to column col, converting to the
// target type with the same exactness rules as Append. Identical types are
// copied without boxing.
func (b *Builder) AppendArray(col int, src arrow.Array) error {
	fb := b.rb.Field(col)
	n := src.Len()
	if arrow.TypeEqual(src.DataType(), b.schema.Field(col).Type) {
		if fast(fb, src) {
			return nil
		}
	}
	if src.DataType().ID() == arrow.NULL {
		fb.AppendNulls(n)
		return nil
	}
	for i := range n {
		var v any
		if !src.IsNull(i) {
			v = ValueAt(src, i)
		}
		if err := b.app[col](v); err != nil {
			return b.Err(col, err)
		}
	}
	return nil
}

func validity(src arrow.Array) []bool {
	if src.NullN() == 0 {
		return nil
	}
	v := make([]bool, src.Len())
	for i := range v {
		v[i] = src.IsValid(i)
	}
	return v
}

// fast copies arrays whose type already equals the target type.
func fast(fb array.Builder, src arrow.Array) bool {
	switch a := src.(type) {
	case *array.Int8:
		fb.(*array.Int8Builder).AppendValues(a.Int8Values(), validity(src))
	case *array.Int16:
		fb.(*array.Int16Builder).AppendValues(a.Int16Values(), validity(src))
	case *array.Int32:
		fb.(*array.Int32Builder).AppendValues(a.Int32Values(), validity(src))
	case *array.Int64:
		fb.(*array.Int64Builder).AppendValues(a.Int64Values(), validity(src))
	case *array.Float32:
		fb.(*array.Float32Builder).AppendValues(a.Float32Values(), validity(src))
	case *array.Float64:
		fb.(*array.Float64Builder).AppendValues(a.Float64Values(), validity(src))
	case *array.Date32:
		fb.(*array.Date32Builder).AppendValues(a.Date32Values(), validity(src))
	case *array.Timestamp:
		fb.(*array.TimestampBuilder).AppendValues(a.TimestampValues(), validity(src))
	case *array.Decimal128:
		bb := fb.(*array.Decimal128Builder)
		for i := range a.Len() {
			if a.IsNull(i) {
				bb.AppendNull()
			} else {
				bb.Append(a.Value(i))
			}
		}
	case *array.Boolean:
		bb := fb.(*array.BooleanBuilder)
		for i := range a.Len() {
			if a.IsNull(i) {
				bb.AppendNull()
			} else {
				bb.Append(a.Value(i))
			}
		}
	case *array.Binary:
		bb := fb.(*array.BinaryBuilder)
		for i := range a.Len() {
			if a.IsNull(i) {
				bb.AppendNull()
			} else {
				bb.Append(a.Value(i))
			}
		}
	default:
		// Strings are re-validated as UTF-8 through the generic path.
		return false
	}
	return true
}

// ValueAt boxes the non-null value i of an Arrow array as the Go value a
// driver would return. Types without a natural Go value give their text.
func ValueAt(src arrow.Array, i int) any {
	switch a := src.(type) {
	case *array.Int8:
		return int64(a.Value(i))
	case *array.Int16:
		return int64(a.Value(i))
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Int64:
		return a.Value(i)
	case *array.Uint8:
		return uint64(a.Value(i))
	case *array.Uint16:
		return uint64(a.Value(i))
	case *array.Uint32:
		return uint64(a.Value(i))
	case *array.Uint64:
		return a.Value(i)
	case *array.Float32:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.StringView:
		return a.Value(i)
	case *array.Binary:
		return a.Value(i)
	case *array.LargeBinary:
		return a.Value(i)
	case *array.BinaryView:
		return a.Value(i)
	case *array.FixedSizeBinary:
		return a.Value(i)
	case *array.Decimal128:
		return ScaledDecimal{N: a.Value(i), Scale: a.DataType().(*arrow.Decimal128Type).Scale}
	case *array.Date32:
		return time.Unix(int64(a.Value(i))*secondsPerDay, 0).UTC()
	case *array.Date64:
		return time.UnixMilli(int64(a.Value(i))).UTC()
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit)
	}
	return src.ValueStr(i)
}
