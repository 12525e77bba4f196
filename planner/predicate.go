package planner

import (
	"fmt"
	"time"

	"lienthong/catalog"
	"lienthong/planner/plan"
)

// BindPredicate binds a boolean SQL expression over the columns of one
// table, read under alias, the way the access policy's row filters are
// bound (policyExpr): for a rule written by an operator, here the row
// filter an agency imposes on every request to its agent. Columns are
// referred to unqualified or by the table's name; NOW() and CURDATE() are
// fixed at now. Subqueries reach nothing but the table itself; the caller
// decides (sqlgen.CanEval) whether its database computes the result.
func BindPredicate(tbl *catalog.Table, alias, text string, now time.Time) (plan.Expr, error) {
	ast, err := parser.ParseExpr(text)
	if err != nil {
		return nil, fmt.Errorf("does not parse: %v", err)
	}
	snap := &catalog.Snapshot{Sources: []*catalog.Source{{Name: tbl.Source, Tables: []*catalog.Table{tbl}}}}
	if now.IsZero() {
		now = time.Now().UTC()
	}
	b := &binder{cat: snap, now: now, aliases: map[string]int{alias: 1}, limits: Limits{}.WithDefaults(), database: tbl.Source}
	rb := &relBinding{name: tbl.Name, source: tbl.Source, alias: alias, table: tbl}
	for _, c := range tbl.Columns {
		rb.cols = append(rb.cols, plan.Column{Name: c.Name, Type: c.Type})
	}
	e, err := b.bindExpr(ast, &scope{rels: []*relBinding{rb}})
	if err != nil {
		return nil, err
	}
	if t := e.Type(); t == nil || t.ID() != plan.Bool.ID() {
		return nil, fmt.Errorf("is not a condition (want e.g. deceased = FALSE)")
	}
	return e, nil
}

// Leakproof reports whether e cannot fail or signal on any row (the
// security barrier's test, GuardSecuredFilters): an expression that may
// fail must not run on rows a row filter hides, since error or no error
// is one bit about such a row.
func Leakproof(e plan.Expr) bool { return leakproof(e) }
