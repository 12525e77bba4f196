// Package planner turns SQL text into a plan: it parses (vitess), binds
// names and types against one catalog snapshot, applies named rewrite rules
// that push work to the sources, and cuts the plan into Remote fragments,
// one per source statement, and a residual that DuckDB runs.
package planner

import (
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
	// Limits bound the statement's size (zero fields: defaults).
	Limits Limits
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
		if strings.Contains(err.Error(), "syntax error") {
			return nil, syntaxError(sql, text, edits, err)
		}
		if strings.Contains(err.Error(), "Query was empty") {
			return nil, &Error{Code: CodeSyntax, Msg: "empty query: write a SELECT statement"}
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
	for _, s := range b.scans {
		sortColumns(s)
	}
	p := &plan.Plan{}
	for i, c := range q.Columns {
		p.Columns = append(p.Columns, plan.Column{Name: names[i], Type: c.Type})
	}
	if !opt.NoPushdown {
		if r := pushWholeQuery(cat, q, b.scans); r != nil {
			r.ID = 1
			p.Single = r
			p.Remotes = []*plan.Remote{r}
			return p, nil
		}
		pushFiltersIntoDerived(q)
		pushFiltersIntoScans(cat, q)
		pruneDerivedColumns(q)
		pruneScanColumns(q, b.scans)
	}
	p.Root = q
	var pushCat *catalog.Snapshot
	if !opt.NoPushdown {
		pushCat = cat
	}
	p.Remotes = fragment(pushCat, q)
	if !opt.NoPushdown {
		reduceScansByJoinKeys(cat, q, p.Remotes)
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

// dialectOf is the dialect of the source a scan reads.
func dialectOf(cat *catalog.Snapshot, s *plan.Scan) sqlgen.Dialect {
	src := cat.Source(s.Table.Source)
	if src == nil {
		return sqlgen.DuckDB
	}
	return sqlgen.DialectOf(src.Kind)
}
