package mysqlwire

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/sqltypes"
	querypb "vitess.io/vitess/go/vt/proto/query"
	"vitess.io/vitess/go/vt/sqlparser"

	"lienthong/engine"
	"lienthong/planner"
	"lienthong/server"
)

// Prepared statements (COM_STMT_PREPARE / EXECUTE, the binary protocol):
// vitess keeps each statement's text and decodes the client's typed
// values; here they become the engine's parameters (Meta.Params), which
// the planner binds into the syntax tree as literals of their own type.
// A value is never written into the SQL text, so nothing a client sends
// as a parameter can change what the statement says.

// maxParams bounds a statement's parameters (the protocol's count is 16
// bits; the planner's max_in_list bounds a list anyway).
const maxParams = 1 << 15

// ComPrepare implements mysql.Handler: the statement's parameter count
// and, when it plans without its values (with each ? as NULL), its result
// columns. A statement that plans only with values gets no columns here:
// clients read them from the execution's result.
func (s *Server) ComPrepare(c *mysql.Conn, query string) ([]*querypb.Field, uint16, error) {
	ss := sess(c)
	if ss == nil {
		return nil, 0, wireError(&server.Error{Code: server.CodeAuth, Message: "the connection is not authenticated"})
	}
	stmt, err := s.env.Parser().Parse(query)
	if err != nil {
		// The engine's parser has the last word: lienthong's own
		// statements (EXPLAIN ANALYZE, REFRESH CATALOG) take their
		// parameters from the query they wrap; anything else that does not
		// parse is refused now, with the position.
		_, inner := engine.Classify(query)
		n, perr := planner.CountParams(inner)
		if perr != nil {
			return nil, 0, wireError(server.ClientError(perr))
		}
		return nil, uint16(min(n, maxParams)), nil
	}
	n := countParams(stmt)
	if n > maxParams {
		return nil, 0, errorf("LT-LIMIT", "the statement has %d parameters; at most %d are allowed", n, maxParams)
	}
	if n == 0 && isLocal(stmt) {
		return nil, 0, nil
	}
	eng := s.srv.Engine()
	if eng == nil {
		return nil, uint16(n), nil
	}
	if k, _ := engine.Classify(query); k != engine.KindQuery {
		return nil, uint16(n), nil
	}
	p, _, err := eng.Plan(query, engine.QueryOptions{Session: ss.engineSession(), Params: make([]any, n), Database: ss.db})
	if err != nil {
		return nil, uint16(n), nil
	}
	fs := make([]arrow.Field, len(p.Columns))
	for i, col := range p.Columns {
		fs[i] = arrow.Field{Name: col.Name, Type: col.Type, Nullable: true}
	}
	fields, _ := resultFields(arrow.NewSchema(fs, nil))
	return fields, uint16(n), nil
}

// ComStmtExecute implements mysql.Handler: the statement runs with the
// values vitess decoded, as a text query does (admitted, audited with its
// parameters, streamed).
func (s *Server) ComStmtExecute(c *mysql.Conn, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	ss := sess(c)
	if ss == nil {
		return wireError(&server.Error{Code: server.CodeAuth, Message: "the connection is not authenticated"})
	}
	if prepare == nil {
		return errorf(server.CodeBadRequest, "no such prepared statement")
	}
	if prepare.ParamsCount == 0 {
		if handled, err := s.local(c, ss, prepare.PrepareStmt, callback); handled {
			return err
		}
		return s.run(c, ss, prepare.PrepareStmt, nil, callback)
	}
	params := make([]any, prepare.ParamsCount)
	for i := range params {
		bv := prepare.BindVars[fmt.Sprintf("v%d", i+1)]
		if bv == nil {
			return errorf(server.CodeBadRequest, "parameter %d has no value; send one value per ?", i+1)
		}
		v, err := paramValue(bv.Type, bv.Value)
		if err != nil {
			return errorf("LT-TYPE", "parameter %d: %v", i+1, err)
		}
		params[i] = v
	}
	return s.run(c, ss, prepare.PrepareStmt, params, callback)
}

// countParams counts stmt's ? parameters (vitess names them :v1, :v2...).
func countParams(stmt sqlparser.Statement) int {
	n := 0
	_ = sqlparser.Walk(func(node sqlparser.SQLNode) (bool, error) {
		if _, ok := node.(*sqlparser.Argument); ok {
			n++
		}
		return true, nil
	}, stmt)
	return n
}

// isLocal reports the statements this package answers itself (local).
func isLocal(stmt sqlparser.Statement) bool {
	switch st := stmt.(type) {
	case *sqlparser.Set, *sqlparser.Use, *sqlparser.Show, *sqlparser.ExplainTab, *sqlparser.Kill,
		*sqlparser.Begin, *sqlparser.Commit, *sqlparser.Rollback,
		*sqlparser.PrepareStmt, *sqlparser.ExecuteStmt, *sqlparser.DeallocateStmt:
		return true
	case *sqlparser.Select:
		return len(st.From) == 0 || (len(st.From) == 1 && isDualFrom(st.From[0]))
	}
	return false
}

func isDualFrom(te sqlparser.TableExpr) bool {
	at, ok := te.(*sqlparser.AliasedTableExpr)
	if !ok {
		return false
	}
	tn, ok := at.Expr.(sqlparser.TableName)
	return ok && tn.Qualifier.IsEmpty() && strings.EqualFold(tn.Name.String(), "dual")
}

// paramValue is a decoded binary-protocol value as an engine parameter
// (planner.Options.Params): integers as int64 (unsigned ones past int64
// as an exact decimal), floats as float64, DECIMAL as an exact decimal,
// dates and datetimes as their canonical text (compared with a date
// column, a string is read as a date), text and blobs as strings.
func paramValue(t querypb.Type, raw []byte) (any, error) {
	text := string(raw)
	switch {
	case t == sqltypes.Null:
		return nil, nil
	case sqltypes.IsSigned(t):
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("not an integer")
		}
		return n, nil
	case sqltypes.IsUnsigned(t):
		n, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("not an integer")
		}
		if n > math.MaxInt64 {
			return json.Number(text), nil
		}
		return int64(n), nil
	case sqltypes.IsFloat(t):
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("not a number")
		}
		return f, nil
	case t == sqltypes.Decimal:
		if _, err := strconv.ParseFloat(text, 64); err != nil || strings.ContainsAny(text, "eEnNiI") {
			return nil, fmt.Errorf("not a decimal number")
		}
		return json.Number(text), nil
	case t == sqltypes.Date || t == sqltypes.Datetime || t == sqltypes.Timestamp:
		return canonicalDateTime(text, t == sqltypes.Date)
	case t == sqltypes.Time, t == sqltypes.Year:
		return text, nil
	case sqltypes.IsText(t), sqltypes.IsBinary(t), t == sqltypes.TypeJSON, t == sqltypes.Enum, t == sqltypes.Set:
		return text, nil
	}
	return nil, fmt.Errorf("a MySQL %s value cannot be a parameter; send a string, number, date or NULL", strings.ToLower(t.String()))
}

// canonicalDateTime rewrites vitess's decoding of a binary DATE or
// DATETIME ("2026-3-1 8:30:0.000000") as "2026-03-01 08:30:00[.ffffff]".
func canonicalDateTime(s string, dateOnly bool) (string, error) {
	var y, mo, d, h, mi, sec, us int
	date, clock, _ := strings.Cut(s, " ")
	if _, err := fmt.Sscanf(date, "%d-%d-%d", &y, &mo, &d); err != nil {
		return "", fmt.Errorf("not a date")
	}
	out := fmt.Sprintf("%04d-%02d-%02d", y, mo, d)
	if dateOnly || clock == "" {
		return out, nil
	}
	hms, frac, _ := strings.Cut(clock, ".")
	if _, err := fmt.Sscanf(hms, "%d:%d:%d", &h, &mi, &sec); err != nil {
		return "", fmt.Errorf("not a datetime")
	}
	out += fmt.Sprintf(" %02d:%02d:%02d", h, mi, sec)
	if frac != "" {
		if _, err := fmt.Sscanf(frac, "%d", &us); err != nil {
			return "", fmt.Errorf("not a datetime")
		}
		if us != 0 {
			out += fmt.Sprintf(".%06d", us)
		}
	}
	return out, nil
}

// sqlPrepare handles SQL-level PREPARE name FROM '...' / EXECUTE name
// USING @a, ... / DEALLOCATE PREPARE name (what the mysql command-line
// client can send): the text is kept per connection and EXECUTE binds the
// user variables' values as parameters, exactly as the binary protocol's.
const maxNamedStatements = 256

func (s *Server) sqlPrepare(ss *session, st *sqlparser.PrepareStmt, cb func(*sqltypes.Result) error) error {
	var text string
	switch x := st.Statement.(type) {
	case *sqlparser.Literal:
		if x.Type != sqlparser.StrVal {
			return errorf("LT-SYNTAX", "PREPARE takes the statement as a string: PREPARE %s FROM '…'", st.Name.String())
		}
		text = x.Val
	case *sqlparser.Variable:
		v, ok := ss.vars[strings.ToLower(x.Name.String())]
		if !ok || x.Scope != sqlparser.VariableScope {
			return errorf(server.CodeBadRequest, "PREPARE FROM @%s: the variable is not set", x.Name.String())
		}
		text = fmt.Sprint(v)
	default:
		return errorf("LT-SYNTAX", "PREPARE takes the statement as a string: PREPARE %s FROM '…'", st.Name.String())
	}
	name := st.Name.Lowered()
	if _, ok := ss.named[name]; !ok && len(ss.named) >= maxNamedStatements {
		return errorf("LT-LIMIT", "at most %d named prepared statements per connection; DEALLOCATE PREPARE the ones you no longer use", maxNamedStatements)
	}
	if ss.named == nil {
		ss.named = map[string]string{}
	}
	ss.named[name] = text
	return cb(&sqltypes.Result{})
}

func (s *Server) sqlExecute(c *mysql.Conn, ss *session, st *sqlparser.ExecuteStmt, cb func(*sqltypes.Result) error) error {
	text, ok := ss.named[st.Name.Lowered()]
	if !ok {
		return errorf("LT-UNKNOWN", "unknown prepared statement %s: PREPARE it first", st.Name.String())
	}
	var params []any
	for _, v := range st.Arguments {
		val, ok := ss.vars[strings.ToLower(v.Name.String())]
		if !ok {
			val = nil // an unset user variable is NULL, as in MySQL
		}
		params = append(params, val)
	}
	if params == nil {
		if handled, err := s.local(c, ss, text, cb); handled {
			return err
		}
		params = []any{} // a ? without USING names its position
	}
	return s.run(c, ss, text, params, cb)
}

func (s *Server) sqlDeallocate(ss *session, st *sqlparser.DeallocateStmt, cb func(*sqltypes.Result) error) error {
	if _, ok := ss.named[st.Name.Lowered()]; !ok {
		return errorf("LT-UNKNOWN", "unknown prepared statement %s", st.Name.String())
	}
	delete(ss.named, st.Name.Lowered())
	return cb(&sqltypes.Result{})
}
