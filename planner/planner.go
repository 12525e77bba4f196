// Package planner turns SQL text into a plan: it parses (vitess), binds
// names and types against one catalog snapshot, applies named rewrite rules
// that push work to the sources, and cuts the plan into Remote fragments,
// one per source statement, and a residual that DuckDB runs.
package planner

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"vitess.io/vitess/go/vt/sqlparser"

	"lienthong/catalog"
	"lienthong/internal/defence"
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
	// Disable names rewrite rules not to apply (see Rules), for testing
	// that each rule alone never changes an answer.
	Disable []string
	// Limits bound the statement's size (zero fields: defaults).
	Limits Limits
}

// Rules are the names of the rewrite rules Options.Disable can turn off,
// in the order they run. PruneScanColumns may be disabled too: a remote
// column the residual never reads once crashed DuckDB's Arrow scan, which
// the engine's residual connections now avoid (SET disabled_optimizers =
// 'unused_columns'); TestDifferentialPerRule runs with it disabled.
var Rules = []string{
	"PushQueryIntoRemote",
	"PushFilterIntoDerived",
	"PushFilterIntoScan",
	"PruneDerivedColumns",
	"PruneScanColumns",
	"PushDerivedIntoRemote",
	"ReduceScanByJoinKeys",
}

// enabled says whether rule runs under opt.
func (opt Options) enabled(rule string) bool {
	if opt.NoPushdown {
		return false
	}
	for _, d := range opt.Disable {
		if d == rule {
			return false
		}
	}
	return true
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

// Plan plans one SELECT statement against a catalog snapshot.
func Plan(cat *catalog.Snapshot, sql string, opt Options) (*plan.Plan, error) {
	stmt, err := Parse(sql)
	if err != nil {
		return nil, err
	}
	if err := notAQuery(sql, stmt); err != nil {
		return nil, err
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now().UTC()
	}
	limits := opt.Limits.WithDefaults()
	if err := checkLimits(stmt, limits); err != nil {
		return nil, err
	}
	b := &binder{cat: cat, sql: sql, now: opt.Now, aliases: map[string]int{}, access: opt.Access, limits: limits}
	q, names, err := b.bindStatement(stmt)
	if err != nil {
		return nil, err
	}
	var priv *plan.Privacy
	if len(b.protected) > 0 && defence.On(defence.Private) {
		// Checked as the user wrote it (errors point into their SQL), then
		// planned as the bounded rewrite.
		text, pv, err := b.privateStatement(stmt, q, names)
		if err != nil {
			return nil, err
		}
		stmt2, err := Parse(text)
		if err != nil {
			return nil, fmt.Errorf("internal: the differential-privacy rewrite does not parse: %w", err)
		}
		b = &binder{cat: cat, sql: text, now: opt.Now, aliases: map[string]int{}, access: opt.Access, internal: true, limits: limits}
		if q, names, err = b.bindStatement(stmt2); err != nil {
			return nil, fmt.Errorf("internal: the differential-privacy rewrite does not bind: %w", err)
		}
		priv = pv
	}
	if opt.Access != nil {
		guardSecuredFilters(q)
	}
	for _, s := range b.scans {
		sortColumns(s)
	}
	p := &plan.Plan{Verify: b.verify, Privacy: priv, Restricted: b.restricted()}
	for i, c := range q.Columns {
		p.Columns = append(p.Columns, plan.Column{Name: names[i], Type: c.Type})
	}
	for _, d := range opt.Disable {
		if !slices.Contains(Rules, d) {
			return nil, fmt.Errorf("planner: no rule %q to disable (rules: %s)", d, strings.Join(Rules, ", "))
		}
	}
	if opt.enabled("PushQueryIntoRemote") {
		if r := pushWholeQuery(cat, q, b.scans); r != nil {
			r.ID = 1
			p.Single = r
			p.Remotes = []*plan.Remote{r}
			return p, nil
		}
	}
	if opt.enabled("PushFilterIntoDerived") {
		pushFiltersIntoDerived(q)
	}
	if opt.enabled("PushFilterIntoScan") {
		pushFiltersIntoScans(cat, q)
	}
	if opt.enabled("PruneDerivedColumns") {
		pruneDerivedColumns(q)
	}
	if opt.enabled("PruneScanColumns") {
		pruneScanColumns(q, b.scans)
	}
	p.Root = q
	var pushCat *catalog.Snapshot
	if opt.enabled("PushDerivedIntoRemote") {
		pushCat = cat
	}
	p.Remotes = fragment(pushCat, q)
	if opt.enabled("ReduceScanByJoinKeys") {
		minProbe := float64(MinReduceProbe)
		if opt.MinReduceProbe > 0 {
			minProbe = opt.MinReduceProbe
		}
		reduceScansByJoinKeys(cat, q, p.Remotes, minProbe, opt.Access)
	}
	return p, nil
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
		return errAt(sql, questionMark(sql), CodeUnsupported, "query parameters (?) are not supported by this front-end yet; write the value in the query")
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
