package sqlgen

import (
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

var pgCasts = castNames{integer: "BIGINT", float: "DOUBLE PRECISION", text: "TEXT", boolean: "BOOLEAN", date: "DATE",
	timestamp: "TIMESTAMP", timestampTZ: "TIMESTAMP WITH TIME ZONE", decimal: true}

func (postgres) CastType(t arrow.DataType) (string, bool) { return pgCasts.of(t) }

func (d postgres) Literal(v any, t arrow.DataType) (string, bool) { return castFloatLiteral(d, v, t) }

func (postgres) BinaryOperand() string { return "" }

// CodePointCollation: range comparisons and ordering by code point
// whatever the column's collation.
func (postgres) CodePointCollation() string  { return ` COLLATE "C"` }
func (postgres) LikeCollation() string       { return "" }
func (postgres) NullsOrder(desc bool) string { return nullsStandard(desc) }
func (postgres) NoLimit() string             { return "" }
func (postgres) IntDiv() string              { return " / " }
