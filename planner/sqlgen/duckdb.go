package sqlgen

import (
	"github.com/apache/arrow-go/v18/arrow"
)

// DuckDB is DuckDB's dialect: the engine's residual, and DuckDB, Parquet and
// CSV sources (read through DuckDB).
var DuckDB Dialect = duckdb{}

type duckdb struct{}

func (duckdb) String() string { return "duckdb" }

// Caps: the residual computes everything lienthong supports; a whole query
// cast to the planned types returns the same Arrow schema wherever it ran.
func (duckdb) Caps() Caps {
	return Caps{Everything: true, Expressions: true, Booleans: true, FullJoin: true, StringSets: true,
		ExactDecimals: true, CastResults: true}
}

func (duckdb) QuoteIdent(id string) string { return quoteDouble(id) }
func (duckdb) QuoteString(s string) string { return quoteStandard(s) }

var duckCasts = castNames{integer: "BIGINT", float: "DOUBLE", text: "VARCHAR", boolean: "BOOLEAN", date: "DATE",
	timestamp: "TIMESTAMP", timestampTZ: "TIMESTAMPTZ", decimal: true, null: "INTEGER"}

func (duckdb) CastType(t arrow.DataType) (string, bool) { return duckCasts.of(t) }

func (d duckdb) Literal(v any, t arrow.DataType) (string, bool) { return castFloatLiteral(d, v, t) }

func (duckdb) BinaryOperand() string       { return "" }
func (duckdb) CodePointCollation() string  { return "" }
func (duckdb) LikeCollation() string       { return "" }
func (duckdb) NullsOrder(desc bool) string { return nullsStandard(desc) }
func (duckdb) NoLimit() string             { return "" }
func (duckdb) IntDiv() string              { return " // " }
