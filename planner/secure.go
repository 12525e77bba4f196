package planner

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"vitess.io/vitess/go/vt/sqlparser"

	"lienthong/catalog"
	"lienthong/internal/defence"
	"lienthong/planner/plan"
	"lienthong/policy"
)

// The policy phase. With an access policy in force every table reference is
// bound to a secured view of the table instead of the table itself:
//
//	(SELECT <visible columns, each raw or masked> FROM <table> WHERE <row filters>) AS alias
//
// so filters apply before masks, masks apply at the scan, and everything the
// user writes (predicates, joins, ORDER BY, aggregates) sees masked values
// only (Trino's semantics). The row filter is an ordinary WHERE of that
// block: PushFilterIntoScan sends it to the source whenever the source
// computes it exactly, so restricted rows never leave the source.

// CodeDenied marks refusals by the access policy.
const CodeDenied Code = "LT-DENIED"

func (b *binder) deny(word string, err error) error {
	return b.errf(word, CodeDenied, "%v", err)
}

// securedTable binds a table reference under the access policy.
func (b *binder) securedTable(tbl *catalog.Table, userName string, sc *scope) (plan.Relation, error) {
	names := make([]string, len(tbl.Columns))
	sensitive := map[string]bool{}
	for i, c := range tbl.Columns {
		names[i] = c.Name
		sensitive[c.Name] = c.Sensitive
	}
	ta, err := b.access.Table(tbl.Source, tbl.Name, names, sensitive)
	if err != nil {
		return nil, b.deny(tbl.Name, err)
	}
	if ta.VerifyOnly {
		return nil, b.deny(tbl.Name, &policy.DeniedError{Msg: fmt.Sprintf("%s may only verify against %s.%s with pin_verify(pin, full_name, birth_date), not read it", b.access.Principal.Name, tbl.Source, tbl.Name)})
	}
	scan := &plan.Scan{Alias: b.uniqueAlias(userName + "_src"), Table: tbl}
	b.scans = append(b.scans, scan)
	raw := &relBinding{name: "", source: tbl.Source, alias: scan.Alias, scan: scan}
	for _, c := range tbl.Columns {
		raw.cols = append(raw.cols, plan.Column{Name: c.Name, Type: c.Type})
	}
	// Masks and filters see the raw row and nothing else.
	inner := &scope{rels: []*relBinding{raw}}
	sel := &plan.Select{From: scan}
	var cols []plan.Column
	for _, c := range tbl.Columns {
		rule, ok := ta.Columns[strings.ToLower(c.Name)]
		if !ok {
			continue
		}
		var e plan.Expr
		switch {
		case rule.Mask == "":
			e = b.colRef(raw, plan.Column{Name: c.Name, Type: c.Type})
		case strings.EqualFold(rule.Mask, policy.Pseudonym):
			if _, ok := b.access.PseudonymKey(); !ok {
				return nil, b.deny(tbl.Name, &policy.DeniedError{Msg: fmt.Sprintf("column %s.%s.%s is pseudonymised but purpose %s has no pseudonym key in the policy", tbl.Source, tbl.Name, c.Name, b.access.Purpose.Name)})
			}
			e = &plan.Func{Name: "pseudonym", Typ: plan.String, Args: []plan.Expr{
				b.colRef(raw, plan.Column{Name: c.Name, Type: c.Type}),
				&plan.Literal{Value: b.access.Purpose.Name, Typ: plan.String},
			}}
		default:
			what := fmt.Sprintf("mask of %s.%s.%s", tbl.Source, tbl.Name, c.Name)
			e, err = b.policyExpr(rule.Mask, inner, what)
			if err != nil {
				return nil, err
			}
			if e, err = keepType(e, c.Type, what); err != nil {
				return nil, err
			}
		}
		sel.Items = append(sel.Items, plan.SelectItem{Expr: e, Alias: c.Name})
		cols = append(cols, plan.Column{Name: c.Name, Type: e.Type()})
	}
	if len(cols) == 0 {
		return nil, b.deny(tbl.Name, &policy.DeniedError{Msg: fmt.Sprintf("no column of %s.%s is granted to %s for purpose %s", tbl.Source, tbl.Name, b.access.Principal.Name, b.access.Purpose.Name)})
	}
	if ta.AggregateOnly {
		if tbl.PINColumn == "" {
			return nil, b.deny(tbl.Name, &policy.DeniedError{Msg: fmt.Sprintf("%s.%s is aggregate-only for %s but has no PIN column to count citizens by; ask the operator to set pin_column for it", tbl.Source, tbl.Name, b.access.Principal.Name)})
		}
		if b.internal {
			// The privacy unit: the citizen's raw PIN, read by the bounded
			// per-citizen block of the rewritten query and never output.
			pc := tbl.Column(tbl.PINColumn)
			sel.Items = append(sel.Items, plan.SelectItem{Expr: b.colRef(raw, plan.Column{Name: pc.Name, Type: pc.Type}), Alias: unitColumn})
			cols = append(cols, plan.Column{Name: unitColumn, Type: pc.Type})
		}
	}
	var filters []plan.Expr
	for _, f := range ta.RowFilters {
		e, err := b.policyExpr(f, inner, fmt.Sprintf("row filter of %s.%s", tbl.Source, tbl.Name))
		if err != nil {
			return nil, err
		}
		filters = append(filters, e)
	}
	// Grants add up: a row is visible when any of them lets it through.
	for i, f := range filters {
		if i == 0 {
			sel.Where = f
		} else {
			sel.Where = &plan.Binary{Op: "OR", L: sel.Where, R: f, Typ: plan.Bool}
		}
	}
	for _, rb := range sc.rels {
		if strings.EqualFold(rb.name, userName) {
			return nil, b.errf(userName, CodeAmbiguous, "the name %s is used twice in FROM; give one of them an alias", userName)
		}
	}
	d := &plan.Derived{Alias: b.uniqueAlias(userName), Query: &plan.Query{Body: sel, Columns: cols}, Secured: true}
	sc.rels = append(sc.rels, &relBinding{name: userName, source: tbl.Source, alias: d.Alias, cols: cols, table: tbl})
	ref := &securedRef{name: userName, alias: d.Alias, table: tbl, access: ta, view: d.Query, scan: scan}
	if b.secured == nil {
		b.secured = map[string]*securedRef{}
	}
	b.secured[d.Alias] = ref
	if ta.AggregateOnly {
		b.protected = append(b.protected, ref)
	}
	return d, nil
}

// restricted lists the tables some of whose rows a row filter hides.
func (b *binder) restricted() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range b.secured {
		id := r.table.Source + "." + r.table.Name
		if len(r.access.RowFilters) > 0 && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// keepType makes a mask's value have its column's type, so a query written
// against the catalog (WHERE birth_date = '1990-05-01') means the same
// under the mask: a NULL mask becomes a typed NULL, a year mask of a date
// becomes the first day of that year (DATE 'YYYY-01-01'), a number another
// number type, anything a string column's text. Other changes of type are
// the policy's error.
func keepType(e plan.Expr, to arrow.DataType, what string) (plan.Expr, error) {
	from := e.Type()
	switch {
	case arrow.TypeEqual(from, to):
		return e, nil
	case from.ID() == arrow.NULL:
		return &plan.Cast{X: e, To: to}, nil
	case to.ID() == arrow.DATE32 && isYear(e):
		text := &plan.Func{Name: "concat", Args: []plan.Expr{&plan.Cast{X: e, To: plan.String}, &plan.Literal{Value: "-01-01", Typ: plan.String}}, Typ: plan.String}
		return &plan.Cast{X: text, To: to}, nil
	case isNumeric(from) && isNumeric(to), to.ID() == arrow.STRING:
		return &plan.Cast{X: e, To: to}, nil
	}
	return nil, &Error{Code: CodeDenied, Msg: fmt.Sprintf("the access policy's %s has type %s but the column is %s; a mask must keep the column's type (for a date's year write YEAR(col), which becomes DATE 'YYYY-01-01'); ask the policy administrator",
		what, catalog.TypeName(from), catalog.TypeName(to))}
}

// isYear reports a YEAR(...) expression (possibly cast).
func isYear(e plan.Expr) bool {
	for {
		switch x := e.(type) {
		case *plan.Cast:
			e = x.X
		case *plan.Func:
			return x.Name == "year"
		default:
			return false
		}
	}
}

func isNumeric(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.DECIMAL256:
		return true
	}
	return isInteger(t)
}

// securedRef is one table reference bound to its secured view.
type securedRef struct {
	name   string // as the query names it (alias or table name)
	alias  string // the secured view's alias in the IR
	table  *catalog.Table
	access *policy.TableAccess
	view   *plan.Query // the view's block, reading scan
	scan   *plan.Scan
}

// policyExpr binds a mask or row filter written in the policy file. Its
// errors are the policy's, not the user's: they never quote the query.
func (b *binder) policyExpr(text string, sc *scope, what string) (plan.Expr, error) {
	ast, err := parser.ParseExpr(text)
	if err != nil {
		return nil, &Error{Code: CodeDenied, Msg: fmt.Sprintf("the access policy's %s does not parse (%v); ask the policy administrator", what, err)}
	}
	saved := b.sql
	b.sql = "" // positions would point into the policy, not the query
	defer func() { b.sql = saved }()
	e, err := b.bindExpr(ast, sc)
	if err != nil {
		return nil, &Error{Code: CodeDenied, Msg: fmt.Sprintf("the access policy's %s is invalid for this table: %v", what, err)}
	}
	return e, nil
}

// checkVerifyStatement allows pin_verify only in its one safe form: the
// whole select list of a query without FROM, with literal arguments, one
// check per query. Anywhere else (WHERE, joins, derived tables, over
// generated candidates) a yes/no function is an oracle that recovers a PIN
// from a name and birth date, or a birth date from a PIN, in one query.
func (b *binder) checkVerifyStatement(stmt sqlparser.Statement) error {
	calls := 0
	if !defence.On(defence.VerifyForm) {
		b.verify = true
		return nil
	}
	_ = sqlparser.Walk(func(n sqlparser.SQLNode) (bool, error) {
		if f, ok := n.(*sqlparser.FuncExpr); ok && f.Name.Lowered() == "pin_verify" {
			calls++
		}
		return true, nil
	}, stmt)
	if calls == 0 {
		return nil
	}
	refuse := func(why string) error {
		return b.deny("pin_verify", &policy.DeniedError{Msg: "pin_verify " + why + "; write exactly SELECT pin_verify('<12-digit PIN>', '<full name>', DATE 'YYYY-MM-DD'), one check per query"})
	}
	s, ok := stmt.(*sqlparser.Select)
	if !ok || calls > 1 {
		return refuse("answers one check per query")
	}
	if s.With != nil || len(s.From) > 1 || len(s.From) == 1 && !isDual(s.From[0]) || s.Where != nil || s.GroupBy != nil ||
		s.Having != nil || len(s.OrderBy) > 0 || s.Limit != nil || s.Distinct || len(s.Windows) > 0 {
		return refuse("is allowed only as the whole select list of a query without FROM, WHERE, GROUP BY, ORDER BY or LIMIT")
	}
	if s.SelectExprs == nil || len(s.SelectExprs.Exprs) != 1 {
		return refuse("must be the only output column")
	}
	ae, ok := s.SelectExprs.Exprs[0].(*sqlparser.AliasedExpr)
	f, isFunc := sqlparser.Expr(nil), false
	if ok {
		f = ae.Expr
		_, isFunc = f.(*sqlparser.FuncExpr)
	}
	if !isFunc {
		return refuse("must be the output column itself, not part of an expression")
	}
	for _, a := range f.(*sqlparser.FuncExpr).Exprs {
		if lit, ok := a.(*sqlparser.Literal); !ok || lit.Type != sqlparser.StrVal && lit.Type != sqlparser.DateVal {
			return refuse("takes literal arguments only (a string PIN, a string name, a DATE literal)")
		}
	}
	b.verify = true
	return nil
}

// pinDigits is the form of a PIN: 12 ASCII digits, nothing around them.
var pinDigits = regexp.MustCompile(`^[0-9]{12}$`)

// pinVerify binds pin_verify(pin, full_name, birth_date): true when the
// population table holds exactly that person among the rows the
// principal's verify grants cover, and never any of its data. A PIN that
// is not exactly 12 digits (trailing spaces, another length) is false
// without asking any source: sources compare CHAR values blank-padded.
func (b *binder) pinVerify(args []sqlparser.Expr, sc *scope) (plan.Expr, error) {
	var v *policy.Verify
	if b.access != nil {
		v = b.access.Verify()
	}
	if v == nil {
		return nil, b.errf("pin_verify", CodeUnsupported, "pin_verify needs an access policy with a [verify] section naming the population table")
	}
	if !b.verify {
		return nil, b.deny("pin_verify", &policy.DeniedError{Msg: "pin_verify is allowed only as the whole select list of a query without FROM"})
	}
	if len(args) != 3 {
		return nil, b.errf("pin_verify", CodeType, "pin_verify takes (pin, full_name, birth_date)")
	}
	tbl, err := b.cat.LookupTable(v.Source, v.Table)
	if err != nil {
		return nil, b.errf("pin_verify", CodeUnknown, "pin_verify: %v", err)
	}
	filters, err := b.access.VerifyFilters(tbl.Source, tbl.Name)
	if err != nil {
		return nil, b.deny("pin_verify", err)
	}
	vals, err := b.bindExprs(args, sc)
	if err != nil {
		return nil, err
	}
	if pin, ok := vals[0].(*plan.Literal); !ok || !pinDigits.MatchString(fmt.Sprint(pin.Value)) {
		return &plan.Literal{Value: false, Typ: plan.Bool}, nil
	}
	scan := &plan.Scan{Alias: b.uniqueAlias("verify"), Table: tbl}
	b.scans = append(b.scans, scan)
	b.verifyScans = append(b.verifyScans, scan)
	rb := &relBinding{alias: scan.Alias, scan: scan}
	for _, c := range tbl.Columns {
		rb.cols = append(rb.cols, plan.Column{Name: c.Name, Type: c.Type})
	}
	var terms []plan.Expr
	for i, name := range []string{v.PIN, v.Name, v.Birth} {
		c := tbl.Column(name)
		if c == nil {
			return nil, b.errf("pin_verify", CodeUnknown, "pin_verify: %s.%s has no column %s", tbl.Source, tbl.Name, name)
		}
		ref := b.colRef(rb, plan.Column{Name: c.Name, Type: c.Type})
		l, r, err := b.comparable("pin_verify", ref, vals[i])
		if err != nil {
			return nil, err
		}
		terms = append(terms, &plan.Binary{Op: "=", L: l, R: r, Typ: plan.Bool})
	}
	var visible plan.Expr
	for _, f := range filters {
		e, err := b.policyExpr(f, &scope{rels: []*relBinding{rb}}, fmt.Sprintf("row filter of %s.%s", tbl.Source, tbl.Name))
		if err != nil {
			return nil, err
		}
		if visible == nil {
			visible = e
		} else {
			visible = &plan.Binary{Op: "OR", L: visible, R: e, Typ: plan.Bool}
		}
	}
	if visible != nil {
		terms = append(terms, visible)
	}
	q := &plan.Query{Body: &plan.Select{Items: []plan.SelectItem{{Expr: &plan.Literal{Value: int64(1), Typ: plan.Int64}}}, From: scan, Where: plan.And(terms)},
		Columns: []plan.Column{{Name: "one", Type: plan.Int64}}}
	return &plan.Exists{Query: q}, nil
}
