// Package arrowconv converts what source drivers return into Arrow record
// batches of a schema the planner fixed. The source only supplies values:
// every conversion is exact or an error, and errors name the source and the
// column but never the value (it may be personal data).
package arrowconv

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"

	"lienthong/connectors"
)

var (
	errUTF8     = ErrUTF8
	errRange    = errors.New("value out of range for the target type")
	errInexact  = errors.New("value not exactly representable in the target type")
	errNotInt   = errors.New("not an integer")
	errNotFloat = errors.New("not a number")
	errNotBool  = errors.New("not a boolean")
	errNotNull  = errors.New("non-NULL value for a null-typed column")
)

// Supported reports whether t is a target type the builder can fill.
func Supported(t arrow.DataType) bool {
	switch tt := t.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type,
		*arrow.Float32Type, *arrow.Float64Type, *arrow.StringType, *arrow.BooleanType,
		*arrow.Date32Type, *arrow.Decimal128Type, *arrow.BinaryType, *arrow.NullType:
		return true
	case *arrow.TimestampType:
		return tt.Unit == arrow.Microsecond
	}
	return false
}

// Builder accumulates rows of a fixed schema. Not safe for concurrent use.
type Builder struct {
	Source string
	schema *arrow.Schema
	rb     *array.RecordBuilder
	app    []func(v any) error
	rows   int
}

// NewBuilder makes a builder for schema; source names the source in errors.
func NewBuilder(mem memory.Allocator, schema *arrow.Schema, source string) (*Builder, error) {
	for _, f := range schema.Fields() {
		if !Supported(f.Type) {
			return nil, &connectors.SourceError{Source: source, Op: "convert",
				Err: fmt.Errorf("column %q: target type %s is not supported", f.Name, f.Type)}
		}
	}
	b := &Builder{Source: source, schema: schema, rb: array.NewRecordBuilder(mem, schema)}
	b.app = make([]func(any) error, len(schema.Fields()))
	for i, f := range schema.Fields() {
		b.app[i] = appender(b.rb.Field(i), f.Type)
	}
	return b, nil
}

// Schema is the target schema.
func (b *Builder) Schema() *arrow.Schema { return b.schema }

// Field gives the builder of column i, for connectors' fast paths; they must
// call RowDone once per complete row.
func (b *Builder) Field(i int) array.Builder { return b.rb.Field(i) }

// RowDone counts a row appended column by column through Field.
func (b *Builder) RowDone() { b.rows++ }

// Rows is how many rows are buffered.
func (b *Builder) Rows() int { return b.rows }

// Append converts v into column col. nil appends NULL.
func (b *Builder) Append(col int, v any) error {
	if err := b.app[col](v); err != nil {
		return b.Err(col, err)
	}
	return nil
}

// AppendRow appends one value per column and counts the row.
func (b *Builder) AppendRow(vals []any) error {
	for i, v := range vals {
		if err := b.app[i](v); err != nil {
			return b.Err(i, err)
		}
	}
	b.rows++
	return nil
}

// Err wraps a conversion error with the source and column name.
func (b *Builder) Err(col int, err error) error {
	f := b.schema.Field(col)
	return &connectors.SourceError{Source: b.Source, Op: "convert",
		Err: fmt.Errorf("column %q (%s): %w", f.Name, f.Type, err)}
}

// NewRecordBatch returns the buffered rows as a batch and resets the builder.
func (b *Builder) NewRecordBatch() arrow.RecordBatch {
	b.rows = 0
	return b.rb.NewRecordBatch()
}

// Release frees the buffers.
func (b *Builder) Release() { b.rb.Release() }

func typeErr(v any) error { return fmt.Errorf("cannot convert a %T", v) }

// converted appends conv(v) with add, or a NULL for nil.
func converted[T any](fb array.Builder, add func(T), conv func(any) (T, error)) func(any) error {
	return func(v any) error {
		if v == nil {
			fb.AppendNull()
			return nil
		}
		x, err := conv(v)
		if err != nil {
			return err
		}
		add(x)
		return nil
	}
}

func appender(fb array.Builder, t arrow.DataType) func(any) error {
	switch tt := t.(type) {
	case *arrow.Int8Type:
		bb := fb.(*array.Int8Builder)
		return intAppender(fb, math.MinInt8, math.MaxInt8, func(x int64) { bb.Append(int8(x)) })
	case *arrow.Int16Type:
		bb := fb.(*array.Int16Builder)
		return intAppender(fb, math.MinInt16, math.MaxInt16, func(x int64) { bb.Append(int16(x)) })
	case *arrow.Int32Type:
		bb := fb.(*array.Int32Builder)
		return intAppender(fb, math.MinInt32, math.MaxInt32, func(x int64) { bb.Append(int32(x)) })
	case *arrow.Int64Type:
		bb := fb.(*array.Int64Builder)
		return intAppender(fb, math.MinInt64, math.MaxInt64, bb.Append)
	case *arrow.Float32Type:
		return converted(fb, fb.(*array.Float32Builder).Append, func(v any) (float32, error) {
			f, err := ToFloat64(v)
			if err == nil && float64(float32(f)) != f && !math.IsNaN(f) {
				err = errInexact
			}
			return float32(f), err
		})
	case *arrow.Float64Type:
		return converted(fb, fb.(*array.Float64Builder).Append, ToFloat64)
	case *arrow.StringType:
		bb := fb.(*array.StringBuilder)
		return func(v any) error {
			switch x := v.(type) {
			case nil:
				bb.AppendNull()
			case string:
				if !utf8.ValidString(x) {
					return errUTF8
				}
				bb.Append(x)
			case []byte:
				if !utf8.Valid(x) {
					return errUTF8
				}
				bb.BinaryBuilder.Append(x)
			default:
				s, err := ToText(v)
				if err != nil {
					return err
				}
				bb.Append(s)
			}
			return nil
		}
	case *arrow.BooleanType:
		return converted(fb, fb.(*array.BooleanBuilder).Append, ToBool)
	case *arrow.Date32Type:
		bb := fb.(*array.Date32Builder)
		return func(v any) error {
			switch x := v.(type) {
			case nil:
				bb.AppendNull()
			case time.Time:
				bb.Append(DateOf(x))
			case string, []byte:
				d, err := ParseDate(asString(x))
				if err != nil {
					return err
				}
				bb.Append(d)
			case pgtype.Date:
				if !x.Valid {
					bb.AppendNull()
					return nil
				}
				if x.InfinityModifier != pgtype.Finite {
					return errRange
				}
				bb.Append(DateOf(x.Time))
			default:
				return typeErr(v)
			}
			return nil
		}
	case *arrow.TimestampType:
		bb := fb.(*array.TimestampBuilder)
		return func(v any) error {
			var t time.Time
			switch x := v.(type) {
			case nil:
				bb.AppendNull()
				return nil
			case time.Time:
				t = x
			case string, []byte:
				var err error
				if t, err = ParseTimestamp(asString(x)); err != nil {
					return err
				}
			default:
				return typeErr(v)
			}
			us, err := Micros(t)
			if err != nil {
				return err
			}
			bb.Append(arrow.Timestamp(us))
			return nil
		}
	case *arrow.Decimal128Type:
		bb := fb.(*array.Decimal128Builder)
		return func(v any) error {
			if v == nil {
				bb.AppendNull()
				return nil
			}
			n, null, err := ToDecimal(v, tt.Precision, tt.Scale)
			if err != nil {
				return err
			}
			if null {
				bb.AppendNull()
				return nil
			}
			bb.Append(n)
			return nil
		}
	case *arrow.BinaryType:
		bb := fb.(*array.BinaryBuilder)
		return func(v any) error {
			switch x := v.(type) {
			case nil:
				bb.AppendNull()
			case []byte:
				bb.Append(x)
			case string:
				bb.AppendString(x)
			default:
				return typeErr(v)
			}
			return nil
		}
	case *arrow.NullType:
		return func(v any) error {
			if v != nil {
				return errNotNull
			}
			fb.AppendNull()
			return nil
		}
	}
	panic("arrowconv: unsupported type " + t.String()) // NewBuilder checked
}

func asString(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v.(string)
}

func intAppender(fb array.Builder, lo, hi int64, app func(int64)) func(any) error {
	return func(v any) error {
		if v == nil {
			fb.AppendNull()
			return nil
		}
		x, err := ToInt64(v)
		if err != nil {
			return err
		}
		if x < lo || x > hi {
			return errRange
		}
		app(x)
		return nil
	}
}

// ToInt64 converts an integral driver value exactly.
func ToInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, errRange
		}
		return int64(x), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, errRange
		}
		return int64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case float64:
		if x != math.Trunc(x) || x < -(1<<63) || x >= 1<<63 {
			return 0, errInexact
		}
		return int64(x), nil
	case float32:
		return ToInt64(float64(x))
	case string, []byte:
		s := asString(x)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		// Integral decimal text such as SUM() results ("12.00").
		d, err := ParseDecimal(s, 38, 0)
		if err != nil {
			return 0, errNotInt
		}
		if !d.FitsInPrecision(18) && (d.Greater(decimal128.FromI64(math.MaxInt64)) || d.Less(decimal128.FromI64(math.MinInt64))) {
			return 0, errRange
		}
		return int64(d.LowBits()), nil
	case pgtype.Numeric, ScaledDecimal:
		n, _, err := ToDecimal(x, 19, 0)
		if err != nil {
			return 0, errNotInt
		}
		if n.Greater(decimal128.FromI64(math.MaxInt64)) || n.Less(decimal128.FromI64(math.MinInt64)) {
			return 0, errRange
		}
		return int64(n.LowBits()), nil
	}
	return 0, typeErr(v)
}

// ToFloat64 converts a numeric driver value; integers must be exact in a double.
func ToFloat64(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case string, []byte:
		f, err := strconv.ParseFloat(asString(x), 64)
		if err != nil {
			return 0, errNotFloat
		}
		return f, nil
	case pgtype.Numeric:
		f, err := x.Float64Value()
		if err != nil || !f.Valid {
			return 0, errNotFloat
		}
		return f.Float64, nil
	}
	n, err := ToInt64(v)
	if err != nil {
		return 0, err
	}
	if n > 1<<53 || n < -(1<<53) {
		return 0, errInexact
	}
	return float64(n), nil
}

// ToBool accepts booleans, 0/1 integers and the usual boolean spellings.
func ToBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string, []byte:
		switch asString(x) {
		case "1", "t", "true", "TRUE", "True", "y", "yes", "on":
			return true, nil
		case "0", "f", "false", "FALSE", "False", "n", "no", "off":
			return false, nil
		}
		return false, errNotBool
	}
	n, err := ToInt64(v)
	if err != nil || n < 0 || n > 1 {
		return false, errNotBool
	}
	return n == 1, nil
}

// ToText renders numbers and times as text for a utf8 target, exactly.
func ToText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case time.Time:
		if x.Location() == time.UTC {
			return x.Format("2006-01-02 15:04:05.999999"), nil
		}
		return x.Format("2006-01-02 15:04:05.999999-07:00"), nil
	case ScaledDecimal:
		return FormatDecimal(x.N, x.Scale), nil
	case pgtype.Numeric:
		dv, err := x.Value()
		if err != nil || dv == nil {
			return "", errNotFloat
		}
		return dv.(string), nil
	}
	if n, err := ToInt64(v); err == nil {
		return strconv.FormatInt(n, 10), nil
	}
	return "", typeErr(v)
}

// ToDecimal converts to an unscaled decimal of (prec, scale) exactly. Floats
// go through their decimal text at the target scale (SQLite stores DECIMAL
// columns as REAL). null reports a pgtype.Numeric that is NULL.
func ToDecimal(v any, prec, scale int32) (n decimal128.Num, null bool, err error) {
	switch x := v.(type) {
	case string, []byte:
		n, err = ParseDecimal(asString(x), prec, scale)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return n, false, errRange
		}
		n, err = ParseDecimal(strconv.FormatFloat(x, 'f', int(max(scale, 0)), 64), prec, scale)
	case float32:
		return ToDecimal(float64(x), prec, scale)
	case pgtype.Numeric:
		if !x.Valid {
			return n, true, nil
		}
		if x.NaN || x.InfinityModifier != pgtype.Finite || x.Int == nil {
			return n, false, errRange
		}
		n, err = DecimalFromBig(x.Int, x.Exp, prec, scale)
	case ScaledDecimal:
		n, err = DecimalFromBig(x.N.BigInt(), -x.Scale, prec, scale)
	case uint64:
		n, err = DecimalFromBig(new(big.Int).SetUint64(x), 0, prec, scale)
	default:
		var i int64
		if i, err = ToInt64(v); err != nil {
			return n, false, err
		}
		n, err = DecimalFromBig(big.NewInt(i), 0, prec, scale)
	}
	return n, false, err
}

// ErrUTF8 reports text that is not valid UTF-8 (the value is not quoted).
var ErrUTF8 = errors.New("text is not valid UTF-8")
