// Package planner turns SQL text into a plan: it parses (vitess), binds
// names and types against one catalog snapshot, applies named rewrite rules
// that push work to the sources, and cuts the plan into Remote fragments,
// one per source statement, and a residual that DuckDB runs.
package planner

import (
	"errors"
	"strings"
	"time"

	"vitess.io/vitess/go/vt/sqlparser"

	"lienthong/catalog"
	"lienthong/planner/plan"
	"lienthong/planner/sqlgen"
	"lienthong/policy"
)

// Options steer planning.
type Options struct {
	// Now is the instant NOW() and CURDATE() mean for this query (in the
	// configured time zone), fixed once so every source sees the same value.
	Now time.Time
	// NoPushdown keeps every filter, join and aggregate in the residual;
	// sources only receive plain projections. The differential test runs
	// each query both ways.
	NoPushdown bool
	// Access is the access policy's view for this session; nil when no
	// policy is in force (a trusted local user).
	Access *policy.Access
	// MinReduceProbe, when positive, replaces MinReduceProbe (50,000
	// estimated rows): the size from which ReduceScanByJoinKeys reduces a
	// scan. The differential test sets it to 1 so the rule fires on small
	// data.
	MinReduceProbe float64
	// Disable names rules not to apply (Rules lists those it accepts; any
	// other name is an error), for testing that each rule alone never
	// changes an answer.
	Disable []string
	// Limits bound the statement's size (zero fields: defaults).
	Limits Limits
	// Params are the values of the statement's parameters (?), in order;
	// nil when the front-end sends none (a ? is then an error). See
	// bindParams for the values accepted.
	Params []any
	// Database is the source unqualified table names are read in (the
	// MySQL front-end's USE source); "" when there is none, and an
	// unqualified table is then an error (LT-NO-DATABASE).
	Database string
}

var parser = func() *sqlparser.Parser {
	p, err := sqlparser.New(sqlparser.Options{MySQLServerVersion: "8.0.40"})
	if err != nil {
		panic(err)
	}
	return p
}()

// Parse parses one statement, returning a positioned error on bad syntax.
func Parse(sql string) (sqlparser.Statement, error) {
	if err := checkUTF8(sql); err != nil {
		return nil, err
	}
	text, edits := rewriteFullJoins(sql)
	stmt, err := parser.Parse(text)
	if err != nil {
		// vitess's sentinels by identity; its Parse flattens a positioned
		// syntax error into text (vterrors.New of the tokenizer's
		// PositionedErr), so that one can only be read back from the text.
		switch {
		case errors.Is(err, sqlparser.ErrEmpty):
			return nil, &Error{Code: CodeSyntax, Msg: "empty query: write a SELECT statement"}
		case errors.Is(err, sqlparser.ErrMultipleStatements):
			return nil, &Error{Code: CodeSyntax, Msg: "one statement at a time: split the script at its semicolons"}
		case strings.Contains(err.Error(), "syntax error"):
			return nil, syntaxError(sql, text, edits, err)
		}
		return nil, &Error{Code: CodeSyntax, Msg: err.Error()}
	}
	return stmt, nil
}

// SplitStatements splits a script on semicolons outside quotes and comments.
func SplitStatements(script string) ([]string, error) {
	pieces, err := parser.SplitStatementToPieces(script)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range pieces {
		if strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(p), ";")) != "" {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(p), ";"))
		}
	}
	return out, nil
}

// Plan plans one SELECT statement against a catalog snapshot: it binds the
// statement and runs the rules (rules.go) over it.
func Plan(cat *catalog.Snapshot, sql string, opt Options) (*plan.Plan, error) {
	s, err := bindPlanning(cat, sql, opt)
	if err != nil {
		return nil, err
	}
	if err := s.apply(rules); err != nil {
		return nil, err
	}
	return s.plan(), nil
}

// bindPlanning parses and binds sql: the planning the rules start from.
func bindPlanning(cat *catalog.Snapshot, sql string, opt Options) (*planning, error) {
	stmt, err := Parse(sql)
	if err != nil {
		return nil, err
	}
	if opt.Params != nil {
		if stmt, err = bindParams(sql, stmt, opt.Params); err != nil {
			return nil, err
		}
	}
	if err := notAQuery(sql, stmt); err != nil {
		return nil, err
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now().UTC()
	}
	opt.Limits = opt.Limits.WithDefaults()
	if err := checkLimits(stmt, opt.Limits); err != nil {
		return nil, err
	}
	s := &planning{cat: cat, opt: opt, stmt: stmt, p: &plan.Plan{}}
	if err := s.bind(sql, stmt, false); err != nil {
		return nil, err
	}
	if err := checkDisable(opt.Disable); err != nil {
		return nil, err
	}
	return s, nil
}

// bind binds stmt (the user's, or with internal lienthong's rewrite of it)
// as the statement planned.
func (s *planning) bind(sql string, stmt sqlparser.Statement, internal bool) error {
	b := &binder{cat: s.cat, sql: sql, now: s.opt.Now, aliases: map[string]int{}, access: s.opt.Access, internal: internal, limits: s.opt.Limits, database: s.opt.Database}
	q, names, err := b.bindStatement(stmt)
	if err != nil {
		return err
	}
	for _, sc := range b.scans {
		sortColumns(sc)
	}
	s.b, s.q, s.names = b, q, names
	return nil
}

// plan is the finished plan.
func (s *planning) plan() *plan.Plan {
	p := s.p
	p.Verify, p.Restricted = s.b.verify, s.b.restricted()
	for i, c := range s.q.Columns {
		p.Columns = append(p.Columns, plan.Column{Name: s.names[i], Type: c.Type})
	}
	if p.Single == nil {
		p.Root = s.q
	}
	return p
}

// sortColumns puts a scan's columns in table order, so rendered SQL does not
// depend on the order the query mentioned them.
func sortColumns(s *plan.Scan) {
	need := map[string]bool{}
	for _, c := range s.Columns {
		need[c] = true
	}
	s.Columns = s.Columns[:0]
	for _, c := range s.Table.Columns {
		if need[c.Name] {
			s.Columns = append(s.Columns, c.Name)
		}
	}
}

// dialectOf is the dialect of the source a scan reads. A source of no
// registered kind computes nothing here; rendering its statement reports
// the kind.
func dialectOf(cat *catalog.Snapshot, s *plan.Scan) sqlgen.Dialect {
	if src := cat.Source(s.Table.Source); src != nil {
		if d, err := sqlgen.DialectOf(src.Kind); err == nil {
			return d
		}
	}
	return sqlgen.ScanOnly(sqlgen.DuckDB)
}

// notAQuery refuses, with a message saying what to do instead, statements
// that parse but that no front-end runs as a query: DESCRIBE (the shell's
// \d and the catalog list tables) and query parameters (?) outside a
// prepared statement.
func notAQuery(sql string, stmt sqlparser.Statement) error {
	switch st := stmt.(type) {
	case *sqlparser.ExplainTab:
		name := sqlparser.String(st.Table)
		return errAt(sql, 0, CodeUnsupported, "DESCRIBE is not a query: in the shell, \\d %s lists its columns; `lienthong catalog` and GET /v1/catalog list every table", name)
	case *sqlparser.ExplainStmt:
		return errAt(sql, 0, CodeUnsupported, "write EXPLAIN SELECT ... (or EXPLAIN ANALYZE SELECT ...)")
	}
	hasArg := false
	_ = sqlparser.Walk(func(n sqlparser.SQLNode) (bool, error) {
		switch n.(type) {
		case *sqlparser.Argument, sqlparser.ListArg:
			hasArg = true
		}
		return !hasArg, nil
	}, stmt)
	if hasArg {
		return errAt(sql, questionMark(sql), CodeUnsupported, "query parameters (?) need their values: send them beside the query (HTTP: \"params\": [...]), or write the value in the query")
	}
	return nil
}

// questionMark is the offset of the first ? outside literals, quoted
// names and comments; -1 when there is none.
func questionMark(sql string) int {
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; {
		case c == '\'' || c == '"' || c == '`':
			for i++; i < len(sql); i++ {
				if sql[i] == '\\' && c != '`' {
					i++
				} else if sql[i] == c {
					if i+1 < len(sql) && sql[i+1] == c {
						i++
						continue
					}
					break
				}
			}
		case c == '#' || c == '-' && strings.HasPrefix(sql[i:], "-- "):
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return -1
			}
			i += end + 3
		case c == '?':
			return i
		}
	}
	return -1
}
