package sqlgen

import (
	"github.com/apache/arrow-go/v18/arrow"
)

// SQLite is SQLite's dialect, with the case-sensitive LIKE the connector's
// pragma sets.
var SQLite Dialect = sqlite{}

type sqlite struct{}

func (sqlite) String() string { return "sqlite" }

// Caps: no boolean type to return; decimals, floats and timestamps compare
// by storage class (a text and a real never equal); patterns longer than
// its default SQLITE_LIMIT_LIKE_PATTERN_LENGTH fail ("LIKE or GLOB pattern
// too complex").
func (sqlite) Caps() Caps {
	return Caps{Expressions: true, FullJoin: true, StringSets: true, MaxLikePattern: 50_000}
}

func (sqlite) QuoteIdent(id string) string { return quoteDouble(id) }
func (sqlite) QuoteString(s string) string { return quoteStandard(s) }

// CastType: SQLite has no boolean, date, timestamp or decimal type to cast to.
func (sqlite) CastType(t arrow.DataType) (string, bool) {
	return castNames{integer: "INTEGER", float: "REAL", text: "TEXT"}.of(t)
}

// Literal: booleans are 1 and 0, dates and timestamps the text the
// connector stores them as, decimals bare numbers.
func (d sqlite) Literal(v any, t arrow.DataType) (string, bool) {
	switch v := v.(type) {
	case bool:
		if v {
			return "1", true
		}
		return "0", true
	case string:
		switch t.ID() {
		case arrow.DATE32, arrow.TIMESTAMP:
			return d.QuoteString(v), true
		case arrow.DECIMAL128:
			return v, true
		}
	}
	return standardLiteral(d, v, t)
}

func (sqlite) BinaryOperand() string       { return "" }
func (sqlite) CodePointCollation() string  { return "" }
func (sqlite) LikeCollation() string       { return "" }
func (sqlite) NullsOrder(desc bool) string { return nullsStandard(desc) }
func (sqlite) NoLimit() string             { return " LIMIT -1" }
func (sqlite) IntDiv() string              { return " / " }
