package mysqlwire

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/sqltypes"
	querypb "vitess.io/vitess/go/vt/proto/query"
	"vitess.io/vitess/go/vt/sqlparser"

	"lienthong/catalog"
	"lienthong/server"
)

// The statements answered here are the ones clients send about the
// session and the catalog: SET, USE, SHOW, DESCRIBE, KILL, transaction
// statements (a no-op: lienthong only reads) and SELECTs of variables and
// session functions without a FROM. Sources are databases; what a
// principal sees of them is its own catalog (engine.CatalogFor), the same
// as GET /v1/catalog. Everything else goes to the engine, whose parser
// has the last word (a statement vitess cannot parse is the engine's).

// local answers sqlText if it is a session or catalog statement.
func (s *Server) local(c *mysql.Conn, ss *session, sqlText string, cb func(*sqltypes.Result) error) (bool, error) {
	stmt, err := s.env.Parser().Parse(sqlText)
	if err != nil {
		return false, nil
	}
	switch st := stmt.(type) {
	case *sqlparser.Set:
		return true, s.set(ss, st, cb)
	case *sqlparser.Use:
		return true, s.use(ss, st.DBName.String(), cb)
	case *sqlparser.Show:
		return s.show(ss, st, cb)
	case *sqlparser.ExplainTab:
		return true, s.columns(ss, st.Table, "", false, nil, cb)
	case *sqlparser.Kill:
		if err := s.kill(c, ss, st.ProcesslistID, st.Type == sqlparser.ConnectionType); err != nil {
			return true, err
		}
		return true, cb(&sqltypes.Result{})
	case *sqlparser.Begin, *sqlparser.Commit, *sqlparser.Rollback:
		return true, cb(&sqltypes.Result{})
	case *sqlparser.PrepareStmt:
		return true, s.sqlPrepare(ss, st, cb)
	case *sqlparser.ExecuteStmt:
		return true, s.sqlExecute(c, ss, st, cb)
	case *sqlparser.DeallocateStmt:
		return true, s.sqlDeallocate(ss, st, cb)
	case *sqlparser.Select:
		return s.selectVars(c, ss, st, cb)
	}
	return false, nil
}

// clientSettings are the system variables clients set on connect; SET
// accepts and ignores them: a read-only engine answering in utf8mb4 has
// nothing to change for them. Any other SET of a system variable is
// refused, so no client believes it changed a setting of the node (those
// are its config) or reached DuckDB's.
var clientSettings = map[string]bool{
	"names": true, "charset": true, "character set": true, "autocommit": true, "sql_mode": true, "time_zone": true,
	"character_set_client": true, "character_set_connection": true, "character_set_results": true,
	"collation_connection": true, "transaction_isolation": true, "tx_isolation": true,
	"transaction_read_only": true, "tx_read_only": true, "sql_select_limit": true,
	"net_write_timeout": true, "net_read_timeout": true, "wait_timeout": true, "interactive_timeout": true,
	"sql_safe_updates": true, "sql_quote_show_create": true, "sql_auto_is_null": true, "max_execution_time": true,
	"session_track_schema": true, "session_track_state_change": true, "session_track_system_variables": true,
	"session_track_transaction_info": true, "group_concat_max_len": true, "sql_big_selects": true, "sql_notes": true,
	"sql_warnings": true, "foreign_key_checks": true, "unique_checks": true, "lc_time_names": true,
	"default_week_format": true, "div_precision_increment": true,
}

// set records lienthong's session variables and user variables and
// accepts the client settings above.
func (s *Server) set(ss *session, st *sqlparser.Set, cb func(*sqltypes.Result) error) error {
	for _, e := range st.Exprs { // all or nothing
		if e.Var != nil && e.Var.Scope != sqlparser.VariableScope {
			if name := strings.ToLower(e.Var.Name.String()); !clientSettings[name] {
				return errorf("LT-UNSUPPORTED", "SET %s is not a setting of this connection; the node's settings are its config (SET @lienthong_purpose and @lienthong_case are the session's)", name)
			}
		}
	}
	for _, e := range st.Exprs {
		if e.Var == nil || e.Var.Scope != sqlparser.VariableScope {
			continue
		}
		name := strings.ToLower(e.Var.Name.String())
		val, isNull := literal(e.Expr)
		switch name {
		case "lienthong_purpose", "lienthong_case":
			if !isNull && val == "" {
				if _, ok := e.Expr.(*sqlparser.Literal); !ok {
					return errorf(server.CodeBadRequest, "@%s takes a string literal: SET @%s = '…'", name, name)
				}
			}
			if len(val) > 256 {
				return errorf(server.CodeBadRequest, "@%s is longer than 256 bytes", name)
			}
			for _, r := range val {
				if r < 0x20 || r == 0x7f {
					return errorf(server.CodeBadRequest, "@%s holds control characters", name)
				}
			}
			if name == "lienthong_purpose" {
				ss.purpose = val
			} else {
				ss.caseID = val
			}
		default:
			if isNull {
				delete(ss.vars, name)
			} else if _, ok := ss.vars[name]; (ok || len(ss.vars) < 256) && len(val) <= 4096 {
				ss.vars[name] = typedLiteral(e.Expr, val)
			}
		}
	}
	return cb(&sqltypes.Result{})
}

// literal is a SET value: a string or number literal, or NULL.
func literal(e sqlparser.Expr) (val string, isNull bool) {
	switch x := e.(type) {
	case *sqlparser.Literal:
		return x.Val, false
	case *sqlparser.NullVal:
		return "", true
	case *sqlparser.ColName: // SET @x = word
		return x.Name.String(), false
	case sqlparser.BoolVal:
		if x {
			return "1", false
		}
		return "0", false
	}
	return "", false
}

// typedLiteral is a SET @x value as the parameter it is bound as by
// EXECUTE … USING @x: a number stays a number, anything else is a string.
func typedLiteral(e sqlparser.Expr, val string) any {
	switch x := e.(type) {
	case *sqlparser.Literal:
		switch x.Type {
		case sqlparser.IntVal:
			if n, err := strconv.ParseInt(x.Val, 10, 64); err == nil {
				return n
			}
			return json.Number(x.Val)
		case sqlparser.DecimalVal:
			return json.Number(x.Val)
		case sqlparser.FloatVal:
			if f, err := strconv.ParseFloat(x.Val, 64); err == nil {
				return f
			}
		}
	case sqlparser.BoolVal:
		return bool(x)
	}
	return val
}

// snapshot is the principal's catalog.
func (s *Server) snapshot(ss *session) (*catalog.Snapshot, error) {
	eng := s.srv.Engine()
	if eng == nil {
		return nil, errorf(server.CodeNotReady, "the node is starting (connecting sources); retry in a moment")
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.QueryTimeout.Duration)
	defer cancel()
	snap, err := eng.CatalogFor(ctx, ss.engineSession())
	if err != nil {
		return nil, wireError(server.ClientError(err))
	}
	return snap, nil
}

func (s *Server) use(ss *session, db string, cb func(*sqltypes.Result) error) error {
	snap, err := s.snapshot(ss)
	if err != nil {
		return err
	}
	src := snap.Source(db)
	if src == nil {
		return errorf("LT-UNKNOWN", "unknown source %q (SHOW DATABASES lists yours)", db)
	}
	ss.db = src.Name
	return cb(&sqltypes.Result{})
}

// variables are the system variables clients read on connect.
var variables = map[string]string{
	"version":                  ServerVersion,
	"version_comment":          "lienthong federated SQL (read-only)",
	"version_compile_os":       "Linux",
	"version_compile_machine":  "x86_64",
	"max_allowed_packet":       "67108864",
	"net_buffer_length":        "16384",
	"autocommit":               "1",
	"character_set_client":     "utf8mb4",
	"character_set_connection": "utf8mb4",
	"character_set_results":    "utf8mb4",
	"character_set_server":     "utf8mb4",
	"character_set_database":   "utf8mb4",
	"collation_connection":     "utf8mb4_general_ci",
	"collation_server":         "utf8mb4_general_ci",
	"collation_database":       "utf8mb4_general_ci",
	// No ANSI_QUOTES: "x" is a string, as the parser reads it (a client
	// told otherwise, SQLAlchemy, would quote names with ").
	"sql_mode":                 "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION",
	"time_zone":                "+00:00",
	"system_time_zone":         "UTC",
	"transaction_isolation":    "REPEATABLE-READ",
	"tx_isolation":             "REPEATABLE-READ",
	"transaction_read_only":    "1",
	"tx_read_only":             "1",
	"read_only":                "1",
	"lower_case_table_names":   "2",
	"interactive_timeout":      "28800",
	"wait_timeout":             "28800",
	"net_write_timeout":        "60",
	"net_read_timeout":         "30",
	"sql_select_limit":         "18446744073709551615",
	"auto_increment_increment": "1",
	"init_connect":             "",
	"license":                  "GPL",
	"performance_schema":       "0",
	"query_cache_size":         "0",
	"query_cache_type":         "OFF",
	"sql_auto_is_null":         "0",
	"div_precision_increment":  "4",
	"default_storage_engine":   "InnoDB",
	"have_ssl":                 "",
	"protocol_version":         "10",
}

func variableNames() []string {
	names := make([]string, 0, len(variables))
	for n := range variables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// variable is the value of a system variable (ok false: unknown).
func (s *Server) variable(ss *session, name string) (string, bool) {
	name = strings.ToLower(name)
	switch name {
	case "have_ssl":
		if s.srv.TLSConfig() != nil {
			return "YES", true
		}
		return "DISABLED", true
	case "hostname":
		return "lienthong", true
	case "port":
		if _, p, err := splitPort(s.Addr()); err == nil {
			return p, true
		}
	}
	v, ok := variables[name]
	return v, ok
}

func splitPort(addr string) (string, string, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", "", strconv.ErrSyntax
	}
	return addr[:i], addr[i+1:], nil
}

// selectVars answers a SELECT without FROM of variables, session
// functions and literals (SELECT @@version_comment LIMIT 1, SELECT
// DATABASE(), SELECT @lienthong_purpose); any other SELECT is the engine's.
func (s *Server) selectVars(c *mysql.Conn, ss *session, st *sqlparser.Select, cb func(*sqltypes.Result) error) (bool, error) {
	for _, f := range st.From {
		if at, ok := f.(*sqlparser.AliasedTableExpr); ok {
			if tn, ok := at.Expr.(sqlparser.TableName); ok && strings.EqualFold(tn.Name.String(), "dual") && tn.Qualifier.IsEmpty() {
				continue
			}
		}
		return false, nil
	}
	if st.Where != nil || st.GroupBy != nil || st.Having != nil || st.SelectExprs == nil {
		return false, nil
	}
	var fields []*querypb.Field
	var row []sqltypes.Value
	for _, se := range st.SelectExprs.Exprs {
		ae, ok := se.(*sqlparser.AliasedExpr)
		if !ok {
			return false, nil
		}
		v, ok := s.sessionValue(c, ss, ae.Expr)
		if !ok {
			return false, nil
		}
		name := ae.As.String()
		if name == "" {
			name = sqlparser.String(ae.Expr)
			if vr, ok := ae.Expr.(*sqlparser.Variable); ok && vr.Scope == sqlparser.SessionScope {
				// As the client wrote it, as MySQL names the column.
				name = "@@" + vr.Name.String()
			}
		}
		f := &querypb.Field{Name: name, Type: querypb.Type_VARCHAR, ColumnLength: 256 * 4, Charset: charsetUTF8MB4}
		if v.IsIntegral() {
			f = &querypb.Field{Name: name, Type: querypb.Type_INT64, ColumnLength: 20, Charset: charsetBinary, Flags: flagNum | flagBinary}
		}
		fields = append(fields, f)
		row = append(row, v)
	}
	return true, cb(&sqltypes.Result{Fields: fields, Rows: [][]sqltypes.Value{row}})
}

// sessionValue evaluates one expression of a FROM-less SELECT, if it is
// a variable, a session function or a literal.
func (s *Server) sessionValue(c *mysql.Conn, ss *session, e sqlparser.Expr) (sqltypes.Value, bool) {
	text := func(v string) sqltypes.Value { return sqltypes.NewVarChar(v) }
	switch x := e.(type) {
	case *sqlparser.Variable:
		name := strings.ToLower(x.Name.String())
		if x.Scope == sqlparser.VariableScope {
			switch name {
			case "lienthong_purpose":
				return nullable(ss.purpose), true
			case "lienthong_case":
				return nullable(ss.caseID), true
			}
			switch v := ss.vars[name].(type) {
			case string:
				return text(v), true
			case int64:
				return sqltypes.NewInt64(v), true
			case bool:
				if v {
					return sqltypes.NewInt64(1), true
				}
				return sqltypes.NewInt64(0), true
			case nil:
			default:
				return text(fmt.Sprint(v)), true
			}
			return sqltypes.NULL, true
		}
		v, ok := s.variable(ss, name)
		if !ok {
			// Unknown system variables read as NULL rather than failing a
			// client's start-up sequence.
			return sqltypes.NULL, true
		}
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return sqltypes.NewInt64(mustInt(v)), true
		}
		return text(v), true
	case *sqlparser.FuncExpr:
		if !x.Qualifier.IsEmpty() {
			return sqltypes.Value{}, false
		}
		switch x.Name.Lowered() {
		case "database", "schema":
			return nullable(ss.db), true
		case "user", "current_user", "session_user", "system_user":
			return text(ss.p.Name + "@%"), true
		case "connection_id":
			return sqltypes.NewInt64(int64(c.ConnectionID)), true
		case "version":
			return text(ServerVersion), true
		}
	case *sqlparser.CurTimeFuncExpr, *sqlparser.Literal, *sqlparser.NullVal:
		return sqltypes.Value{}, false // the engine evaluates these
	}
	if readsSystemVariable(e) {
		// An expression over the node's variables (Metabase's
		// time_format(timediff(now(), convert_tz(now(), @@GLOBAL.time_zone,
		// '+00:00')), '%H:%i')): the engine has no variables to compute
		// it with; NULL, so the client's start-up goes on (it reads
		// @@time_zone itself first).
		return sqltypes.NULL, true
	}
	return sqltypes.Value{}, false
}

// readsSystemVariable reports whether e reads an @@variable.
func readsSystemVariable(e sqlparser.Expr) bool {
	found := false
	_ = sqlparser.Walk(func(n sqlparser.SQLNode) (bool, error) {
		if v, ok := n.(*sqlparser.Variable); ok && v.Scope != sqlparser.VariableScope {
			found = true
		}
		return !found, nil
	}, e)
	return found
}

func nullable(v string) sqltypes.Value {
	if v == "" {
		return sqltypes.NULL
	}
	return sqltypes.NewVarChar(v)
}

func mustInt(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}
