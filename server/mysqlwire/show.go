package mysqlwire

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"vitess.io/vitess/go/sqltypes"
	querypb "vitess.io/vitess/go/vt/proto/query"
	"vitess.io/vitess/go/vt/sqlparser"

	"lienthong/catalog"
)

// SHOW statements, answered from the principal's own catalog (the same
// as information_schema and GET /v1/catalog) and the node's variables.
// LIKE matches the first column; WHERE is evaluated over the result's
// columns (comparisons, LIKE, IN, IS NULL, AND, OR, NOT), as MySQL does:
// case-insensitively.

// sqlNull marks a NULL in a text result's rows.
const sqlNull = "\x00NULL\x00"

// result sends a small in-memory result of text columns.
func result(cb func(*sqltypes.Result) error, names []string, rows [][]string) error {
	fields := make([]*querypb.Field, len(names))
	for i, n := range names {
		fields[i] = &querypb.Field{Name: n, Type: querypb.Type_VARCHAR, ColumnLength: 256 * 4, Charset: charsetUTF8MB4}
	}
	out := make([][]sqltypes.Value, len(rows))
	for i, r := range rows {
		out[i] = make([]sqltypes.Value, len(r))
		for j, v := range r {
			if v == sqlNull {
				out[i][j] = sqltypes.NULL
			} else {
				out[i][j] = sqltypes.NewVarChar(v)
			}
		}
	}
	return cb(&sqltypes.Result{Fields: fields, Rows: out})
}

// filtered sends the rows f keeps.
func filtered(cb func(*sqltypes.Result) error, f *sqlparser.ShowFilter, names []string, rows [][]string) error {
	rows, err := filterRows(f, names, rows)
	if err != nil {
		return err
	}
	return result(cb, names, rows)
}

// likeRe is a SHOW ... LIKE pattern as a regexp (case-insensitive, as
// MySQL's default collation compares).
func likeRe(pat string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?is)^")
	esc := false
	for _, r := range pat {
		switch {
		case esc:
			b.WriteString(regexp.QuoteMeta(string(r)))
			esc = false
		case r == '\\':
			esc = true
		case r == '%':
			b.WriteString(".*")
		case r == '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// filterRows keeps the rows whose first column matches f's LIKE, or for
// which f's WHERE is true.
func filterRows(f *sqlparser.ShowFilter, names []string, rows [][]string) ([][]string, error) {
	if f == nil || (f.Like == "" && f.Filter == nil) {
		return rows, nil
	}
	var out [][]string
	if f.Filter == nil {
		re := likeRe(f.Like)
		for _, r := range rows {
			if re.MatchString(r[0]) {
				out = append(out, r)
			}
		}
		return out, nil
	}
	for _, r := range rows {
		ok, err := showCond(f.Filter, names, r)
		if err != nil {
			return nil, err
		}
		if ok == yes {
			out = append(out, r)
		}
	}
	return out, nil
}

// tri is SQL's three-valued logic.
type tri int8

const (
	no tri = iota
	yes
	unknown
)

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

var errShowWhere = errorf("LT-UNSUPPORTED", "SHOW … WHERE takes comparisons of the result's columns with literals (=, <>, <, >, LIKE, IN, IS NULL) joined by AND, OR, NOT")

// showCond evaluates a SHOW ... WHERE condition over one row.
func showCond(e sqlparser.Expr, names []string, row []string) (tri, error) {
	switch x := e.(type) {
	case *sqlparser.AndExpr:
		l, err := showCond(x.Left, names, row)
		if err != nil {
			return no, err
		}
		r, err := showCond(x.Right, names, row)
		if err != nil {
			return no, err
		}
		switch {
		case l == no || r == no:
			return no, nil
		case l == yes && r == yes:
			return yes, nil
		}
		return unknown, nil
	case *sqlparser.OrExpr:
		l, err := showCond(x.Left, names, row)
		if err != nil {
			return no, err
		}
		r, err := showCond(x.Right, names, row)
		if err != nil {
			return no, err
		}
		switch {
		case l == yes || r == yes:
			return yes, nil
		case l == no && r == no:
			return no, nil
		}
		return unknown, nil
	case *sqlparser.NotExpr:
		v, err := showCond(x.Expr, names, row)
		if err != nil || v == unknown {
			return v, err
		}
		return triOf(v == no), nil
	case *sqlparser.IsExpr:
		v, err := showValue(x.Left, names, row)
		if err != nil {
			return no, err
		}
		switch x.Right {
		case sqlparser.IsNullOp:
			return triOf(v == nil), nil
		case sqlparser.IsNotNullOp:
			return triOf(v != nil), nil
		}
		return no, errShowWhere
	case *sqlparser.ComparisonExpr:
		l, err := showValue(x.Left, names, row)
		if err != nil {
			return no, err
		}
		if x.Operator == sqlparser.InOp || x.Operator == sqlparser.NotInOp {
			tuple, ok := x.Right.(sqlparser.ValTuple)
			if !ok {
				return no, errShowWhere
			}
			if l == nil {
				return unknown, nil
			}
			found := false
			for _, it := range tuple {
				v, err := showValue(it, names, row)
				if err != nil {
					return no, err
				}
				if v != nil && compare(*l, *v) == 0 {
					found = true
				}
			}
			return triOf(found == (x.Operator == sqlparser.InOp)), nil
		}
		r, err := showValue(x.Right, names, row)
		if err != nil {
			return no, err
		}
		if l == nil || r == nil {
			return unknown, nil
		}
		c := compare(*l, *r)
		switch x.Operator {
		case sqlparser.EqualOp:
			return triOf(c == 0), nil
		case sqlparser.NotEqualOp:
			return triOf(c != 0), nil
		case sqlparser.LessThanOp:
			return triOf(c < 0), nil
		case sqlparser.LessEqualOp:
			return triOf(c <= 0), nil
		case sqlparser.GreaterThanOp:
			return triOf(c > 0), nil
		case sqlparser.GreaterEqualOp:
			return triOf(c >= 0), nil
		case sqlparser.LikeOp:
			return triOf(likeRe(*r).MatchString(*l)), nil
		case sqlparser.NotLikeOp:
			return triOf(!likeRe(*r).MatchString(*l)), nil
		}
	}
	return no, errShowWhere
}

// showValue is a column of the row or a literal (nil: NULL).
func showValue(e sqlparser.Expr, names []string, row []string) (*string, error) {
	switch x := e.(type) {
	case *sqlparser.ColName:
		if x.Qualifier.IsEmpty() {
			for i, n := range names {
				if strings.EqualFold(n, x.Name.String()) {
					if row[i] == sqlNull {
						return nil, nil
					}
					return &row[i], nil
				}
			}
		}
		return nil, errorf("LT-UNKNOWN", "unknown column %s in SHOW … WHERE; the columns are %s", sqlparser.String(x), strings.Join(names, ", "))
	case *sqlparser.Literal:
		v := x.Val
		return &v, nil
	case *sqlparser.NullVal:
		return nil, nil
	case sqlparser.BoolVal:
		v := "0"
		if x {
			v = "1"
		}
		return &v, nil
	}
	return nil, errShowWhere
}

// compare orders two values: as numbers when both are, otherwise as
// text, case-insensitively.
func compare(a, b string) int {
	if fa, err := strconv.ParseFloat(a, 64); err == nil {
		if fb, err := strconv.ParseFloat(b, 64); err == nil {
			switch {
			case fa < fb:
				return -1
			case fa > fb:
				return 1
			}
			return 0
		}
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

func (s *Server) show(ss *session, st *sqlparser.Show, cb func(*sqltypes.Result) error) (bool, error) {
	if sc, ok := st.Internal.(*sqlparser.ShowCreate); ok {
		return true, s.showCreate(ss, sc, cb)
	}
	sb, ok := st.Internal.(*sqlparser.ShowBasic)
	if !ok {
		return true, errorf("LT-UNSUPPORTED", "this SHOW statement is not supported; SHOW DATABASES, TABLES, TABLE STATUS, COLUMNS, CREATE TABLE, VARIABLES, STATUS, WARNINGS are")
	}
	switch sb.Command {
	case sqlparser.Database:
		snap, err := s.snapshot(ss)
		if err != nil {
			return true, err
		}
		var rows [][]string
		for _, src := range snap.Sources {
			rows = append(rows, []string{src.Name})
		}
		return true, filtered(cb, sb.Filter, []string{"Database"}, rows)
	case sqlparser.Table, sqlparser.TableStatus:
		src, err := s.showSource(ss, sb.DbName.String())
		if err != nil {
			return true, err
		}
		var rows [][]string
		for _, t := range src.Tables {
			switch {
			case sb.Command == sqlparser.TableStatus:
				rows = append(rows, []string{t.Name, "InnoDB", "10", "Dynamic", sqlNull, sqlNull, sqlNull, sqlNull, sqlNull, sqlNull, sqlNull,
					sqlNull, sqlNull, sqlNull, "utf8mb4_general_ci", sqlNull, "", ""})
			case sb.Full:
				rows = append(rows, []string{t.Name, "BASE TABLE"})
			default:
				rows = append(rows, []string{t.Name})
			}
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
		names := []string{"Tables_in_" + src.Name}
		switch {
		case sb.Command == sqlparser.TableStatus:
			names = []string{"Name", "Engine", "Version", "Row_format", "Rows", "Avg_row_length", "Data_length", "Max_data_length", "Index_length",
				"Data_free", "Auto_increment", "Create_time", "Update_time", "Check_time", "Collation", "Checksum", "Create_options", "Comment"}
		case sb.Full:
			names = append(names, "Table_type")
		}
		return true, filtered(cb, sb.Filter, names, rows)
	case sqlparser.Column:
		return true, s.columns(ss, sb.Tbl, sb.DbName.String(), sb.Full, sb.Filter, cb)
	case sqlparser.VariableGlobal, sqlparser.VariableSession:
		var rows [][]string
		for _, name := range variableNames() {
			v, _ := s.variable(ss, name)
			rows = append(rows, []string{name, v})
		}
		return true, filtered(cb, sb.Filter, []string{"Variable_name", "Value"}, rows)
	case sqlparser.StatusGlobal, sqlparser.StatusSession:
		return true, filtered(cb, sb.Filter, []string{"Variable_name", "Value"}, nil)
	case sqlparser.Warnings, sqlparser.Errors:
		return true, result(cb, []string{"Level", "Code", "Message"}, nil)
	case sqlparser.Charset:
		return true, filtered(cb, sb.Filter, []string{"Charset", "Description", "Default collation", "Maxlen"}, [][]string{{"utf8mb4", "UTF-8 Unicode", "utf8mb4_general_ci", "4"}})
	case sqlparser.Collation:
		return true, filtered(cb, sb.Filter, []string{"Collation", "Charset", "Id", "Default", "Compiled", "Sortlen"}, [][]string{{"utf8mb4_general_ci", "utf8mb4", "45", "Yes", "Yes", "1"}})
	case sqlparser.Engines:
		return true, filtered(cb, sb.Filter, []string{"Engine", "Support", "Comment", "Transactions", "XA", "Savepoints"},
			[][]string{{"InnoDB", "DEFAULT", "lienthong: read-only federated sources", "NO", "NO", "NO"}})
	case sqlparser.Plugins, sqlparser.Index, sqlparser.Trigger, sqlparser.Function, sqlparser.Procedure, sqlparser.Events:
		// Nothing of these exists here: an empty answer, as from a
		// database without any.
		return true, result(cb, map[sqlparser.ShowCommandType][]string{
			sqlparser.Plugins:   {"Name", "Status", "Type", "Library", "License"},
			sqlparser.Index:     {"Table", "Non_unique", "Key_name", "Seq_in_index", "Column_name", "Collation", "Cardinality", "Sub_part", "Packed", "Null", "Index_type", "Comment", "Index_comment", "Visible", "Expression"},
			sqlparser.Trigger:   {"Trigger", "Event", "Table", "Statement", "Timing", "Created", "sql_mode", "Definer", "character_set_client", "collation_connection", "Database Collation"},
			sqlparser.Function:  {"Db", "Name", "Type", "Definer", "Modified", "Created", "Security_type", "Comment", "character_set_client", "collation_connection", "Database Collation"},
			sqlparser.Procedure: {"Db", "Name", "Type", "Definer", "Modified", "Created", "Security_type", "Comment", "character_set_client", "collation_connection", "Database Collation"},
			sqlparser.Events:    {"Db", "Name", "Definer", "Time zone", "Type", "Execute at", "Interval value", "Interval field", "Starts", "Ends", "Status", "Originator", "character_set_client", "collation_connection", "Database Collation"},
		}[sb.Command], nil)
	case sqlparser.ProcessList:
		// The principal's own connections (KILL QUERY takes their ids).
		var rows [][]string
		s.mu.Lock()
		for id, c := range s.conns {
			if ts, ok := c.ClientData.(*session); ok && ts.p == ss.p {
				db := ts.db
				if db == "" {
					db = sqlNull
				}
				rows = append(rows, []string{strconv.FormatUint(uint64(id), 10), ss.p.Name, c.RemoteAddr().String(), db, "Query", "0", "", sqlNull})
			}
		}
		s.mu.Unlock()
		sort.Slice(rows, func(i, j int) bool { return mustInt(rows[i][0]) < mustInt(rows[j][0]) })
		return true, result(cb, []string{"Id", "User", "Host", "db", "Command", "Time", "State", "Info"}, rows)
	}
	return true, errorf("LT-UNSUPPORTED", "this SHOW statement is not supported; SHOW DATABASES, TABLES, TABLE STATUS, COLUMNS, CREATE TABLE, VARIABLES, STATUS, WARNINGS are")
}

// showSource is the source a SHOW names, or the USE one.
func (s *Server) showSource(ss *session, db string) (*catalog.Source, error) {
	if db == "" {
		db = ss.db
	}
	if db == "" {
		return nil, errorf("LT-NO-DATABASE", "no database selected: USE a source first, or SHOW TABLES FROM source")
	}
	snap, err := s.snapshot(ss)
	if err != nil {
		return nil, err
	}
	src := snap.Source(db)
	if src == nil {
		return nil, errorf("LT-UNKNOWN", "unknown source %q (SHOW DATABASES lists yours)", db)
	}
	return src, nil
}

// table is the table tn names (source.table, or table after USE).
func (s *Server) table(ss *session, tn sqlparser.TableName, db string) (*catalog.Table, error) {
	if db == "" {
		db = tn.Qualifier.String()
	}
	if db == "" {
		db = ss.db
	}
	if db == "" {
		return nil, errorf("LT-NO-DATABASE", "no database selected: name the table as source.table, or USE a source first")
	}
	snap, err := s.snapshot(ss)
	if err != nil {
		return nil, err
	}
	var t *catalog.Table
	if src := snap.Source(db); src != nil {
		t = src.Table(tn.Name.String())
	}
	if t == nil {
		return nil, errorf("LT-UNKNOWN", "unknown table %s.%s (SHOW TABLES FROM %s lists yours)", db, tn.Name.String(), db)
	}
	return t, nil
}

// columns answers SHOW [FULL] COLUMNS FROM t [FROM db] and DESCRIBE t:
// the table may be source.table or, after USE, table.
func (s *Server) columns(ss *session, tn sqlparser.TableName, db string, full bool, f *sqlparser.ShowFilter, cb func(*sqltypes.Result) error) error {
	t, err := s.table(ss, tn, db)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, col := range t.Columns {
		null := "YES"
		if !col.Nullable {
			null = "NO"
		}
		key := ""
		if strings.EqualFold(col.Name, t.PINColumn) {
			key = "MUL"
		}
		typ := columnFor(col.Type).name
		if full {
			coll := sqlNull
			if columnFor(col.Type).charset == charsetUTF8MB4 {
				coll = "utf8mb4_general_ci"
			}
			comment := ""
			if col.Sensitive {
				comment = "sensitive"
			}
			rows = append(rows, []string{col.Name, typ, coll, null, key, sqlNull, "", "select", comment})
		} else {
			rows = append(rows, []string{col.Name, typ, null, key, sqlNull, ""})
		}
	}
	names := []string{"Field", "Type", "Null", "Key", "Default", "Extra"}
	if full {
		names = []string{"Field", "Type", "Collation", "Null", "Key", "Default", "Extra", "Privileges", "Comment"}
	}
	return filtered(cb, f, names, rows)
}

// showCreate answers SHOW CREATE TABLE (what SQLAlchemy reflects columns
// from) and SHOW CREATE DATABASE with DDL describing what the principal
// sees: the columns it may read, in MySQL's types. Nothing is created
// from it; it describes.
func (s *Server) showCreate(ss *session, sc *sqlparser.ShowCreate, cb func(*sqltypes.Result) error) error {
	quote := func(n string) string { return "`" + strings.ReplaceAll(n, "`", "``") + "`" }
	switch sc.Command {
	case sqlparser.CreateTbl:
		t, err := s.table(ss, sc.Op, "")
		if err != nil {
			return err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "CREATE TABLE %s (\n", quote(t.Name))
		for i, col := range t.Columns {
			c := columnFor(col.Type)
			fmt.Fprintf(&b, "  %s %s", quote(col.Name), c.name)
			if !col.Nullable {
				b.WriteString(" NOT NULL")
			} else {
				b.WriteString(" DEFAULT NULL")
			}
			if col.Sensitive {
				b.WriteString(" COMMENT 'sensitive'")
			}
			if i < len(t.Columns)-1 || t.PINColumn != "" {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		if t.PINColumn != "" {
			fmt.Fprintf(&b, "  KEY %s (%s)\n", quote(t.PINColumn), quote(t.PINColumn))
		}
		b.WriteString(") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci")
		return result(cb, []string{"Table", "Create Table"}, [][]string{{t.Name, b.String()}})
	case sqlparser.CreateDb:
		src, err := s.showSource(ss, sc.Op.Name.String())
		if err != nil {
			return err
		}
		return result(cb, []string{"Database", "Create Database"}, [][]string{{src.Name, "CREATE DATABASE " + quote(src.Name) + " /*!40100 DEFAULT CHARACTER SET utf8mb4 */"}})
	}
	return errorf("LT-UNSUPPORTED", "only SHOW CREATE TABLE and SHOW CREATE DATABASE are supported: there are no views, procedures or triggers")
}
