package sqlgen

import (
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"lienthong/planner/plan"
)

// MySQL is MariaDB's (and MySQL's) dialect, in the session mode the
// connector pins (no ANSI_QUOTES, backslash escapes on).
var MySQL Dialect = mysql{}

type mysql struct{}

func (mysql) String() string { return "mysql" }

// Caps: no boolean type to return, no FULL OUTER JOIN, and its default
// collations group case variants of a string together.
func (mysql) Caps() Caps { return Caps{Expressions: true, ExactDecimals: true} }

func (mysql) QuoteIdent(id string) string { return "`" + strings.ReplaceAll(id, "`", "``") + "`" }

// QuoteString: MariaDB treats backslash as an escape in string literals
// unless NO_BACKSLASH_ESCAPES is set; escaping both quote and backslash is
// right in the default mode the connector enforces.
func (mysql) QuoteString(s string) string { return quoteStandard(strings.ReplaceAll(s, `\`, `\\`)) }

var mysqlCasts = castNames{integer: "SIGNED", float: "DOUBLE", text: "CHAR", date: "DATE",
	timestamp: "DATETIME(6)", timestampTZ: "DATETIME(6)", decimal: true}

func (mysql) CastType(t arrow.DataType) (string, bool) { return mysqlCasts.of(t) }

func (d mysql) Literal(v any, t arrow.DataType) (string, bool) {
	if s, ok := v.(string); ok && t.ID() == arrow.TIMESTAMP {
		return "TIMESTAMP " + d.QuoteString(s), true
	}
	return standardLiteral(d, v, t)
}

// BinaryOperand: MariaDB's default collations are case-insensitive and pad
// spaces, so string operands compare as bytes (UTF-8 byte order is
// code-point order).
func (mysql) BinaryOperand() string      { return "BINARY " }
func (mysql) CodePointCollation() string { return "" }

// LikeCollation: utf8mb4_bin LIKE is case-sensitive and matches '_' per
// character.
func (mysql) LikeCollation() string { return " COLLATE utf8mb4_bin" }

// NullsOrder: MySQL's own placement is lienthong's.
func (mysql) NullsOrder(bool) string { return "" }
func (mysql) NoLimit() string        { return " LIMIT 18446744073709551615" }
func (mysql) IntDiv() string         { return " DIV " }

// renderAgg: MySQL's AVG is DECIMAL with 4 digits; lienthong's is DOUBLE.
func (mysql) renderAgg(r *renderer, a *plan.Agg) bool {
	if a.Name != "avg" {
		return false
	}
	distinct := ""
	if a.Distinct {
		distinct = "DISTINCT "
	}
	r.w("(CAST(SUM(", distinct)
	r.expr(a.Arg)
	r.w(") AS DOUBLE) / COUNT(", distinct)
	r.expr(a.Arg)
	r.w("))")
	return true
}
