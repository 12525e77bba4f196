package sqlgen

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Postgres is PostgreSQL's dialect.
var Postgres Dialect = postgres{}

type postgres struct{}

func (postgres) String() string { return "postgres" }

func (postgres) Caps() Caps {
	return Caps{Expressions: true, Booleans: true, FullJoin: true, StringSets: true, ExactDecimals: true}
}

func (postgres) QuoteIdent(id string) string { return quoteDouble(id) }

func (postgres) QuoteString(s string) string {
	if strings.Contains(s, `\`) {
		// A plain '...' with a backslash means something else under
		// standard_conforming_strings = off (the backslash escapes, and
		// \' ends nothing): the escape-string form with backslashes and
		// quotes both escaped reads the same under any setting. Strings
		// without a backslash read the same either way.
		return "E'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
	}
	return quoteStandard(s)
}

func (postgres) CastType(t arrow.DataType) (string, bool) {
	switch tt := t.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type:
		return "BIGINT", true
	case *arrow.Float32Type, *arrow.Float64Type:
		return "DOUBLE PRECISION", true
	case *arrow.StringType, *arrow.LargeStringType:
		return "TEXT", true
	case *arrow.BooleanType:
		return "BOOLEAN", true
	case *arrow.Date32Type:
		return "DATE", true
	case *arrow.TimestampType:
		if tt.TimeZone != "" {
			return "TIMESTAMP WITH TIME ZONE", true
		}
		return "TIMESTAMP", true
	case *arrow.Decimal128Type:
		return fmt.Sprintf("DECIMAL(%d,%d)", tt.Precision, tt.Scale), true
	}
	return "", false
}

func (d postgres) Literal(v any, t arrow.DataType) (string, bool) { return castFloatLiteral(d, v, t) }

func (postgres) BinaryOperand() string { return "" }

// CodePointCollation: range comparisons and ordering by code point
// whatever the column's collation.
func (postgres) CodePointCollation() string  { return ` COLLATE "C"` }
func (postgres) LikeCollation() string       { return "" }
func (postgres) NullsOrder(desc bool) string { return nullsStandard(desc) }
func (postgres) NoLimit() string             { return "" }
func (postgres) IntDiv() string              { return " / " }
