package sqlgen

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// standardLiteral writes a non-NULL literal in the form most dialects read
// (the built-in dialects' Literal override only their differences): typed
// strings as DATE '...' or CAST('...' AS type), so a string is never
// mistaken for the value it spells.
func standardLiteral(d Dialect, v any, t arrow.DataType) (string, bool) {
	switch v := v.(type) {
	case bool:
		if v {
			return "TRUE", true
		}
		return "FALSE", true
	case int64:
		return strconv.FormatInt(v, 10), true
	case float64:
		return floatText(v), true
	case string:
		switch t.ID() {
		case arrow.DATE32:
			return "DATE " + d.QuoteString(v), true
		case arrow.TIMESTAMP, arrow.DECIMAL128:
			name, _ := d.CastType(t)
			return "CAST(" + d.QuoteString(v) + " AS " + name + ")", true
		}
		return d.QuoteString(v), true
	}
	return "", false
}

// floatText spells a float so that it reads back as a float (1 → 1.0).
func floatText(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

// castFloatLiteral is the Literal of a dialect where a bare 1.5 is DECIMAL
// (PostgreSQL, DuckDB) while lienthong typed it DOUBLE.
func castFloatLiteral(d Dialect, v any, t arrow.DataType) (string, bool) {
	if f, ok := v.(float64); ok {
		name, _ := d.CastType(arrow.PrimitiveTypes.Float64)
		return "CAST(" + floatText(f) + " AS " + name + ")", true
	}
	return standardLiteral(d, v, t)
}

// castNames are a dialect's CAST targets by kind of Arrow type; "" (false
// for decimal) where it has none.
type castNames struct {
	integer, float, text, boolean, date, timestamp, timestampTZ, null string
	decimal                                                           bool
}

func (n castNames) of(t arrow.DataType) (string, bool) {
	name := ""
	switch tt := t.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type:
		name = n.integer
	case *arrow.Float32Type, *arrow.Float64Type:
		name = n.float
	case *arrow.StringType, *arrow.LargeStringType:
		name = n.text
	case *arrow.BooleanType:
		name = n.boolean
	case *arrow.Date32Type:
		name = n.date
	case *arrow.TimestampType:
		name = n.timestamp
		if tt.TimeZone != "" {
			name = n.timestampTZ
		}
	case *arrow.Decimal128Type:
		if n.decimal {
			name = fmt.Sprintf("DECIMAL(%d,%d)", tt.Precision, tt.Scale)
		}
	case *arrow.NullType:
		name = n.null
	}
	return name, name != ""
}

// quoteStandard is the SQL standard's string literal: quotes doubled.
func quoteStandard(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// quoteDouble is the SQL standard's quoted identifier.
func quoteDouble(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }

func nullsStandard(desc bool) string {
	if desc {
		return " NULLS LAST"
	}
	return " NULLS FIRST"
}
