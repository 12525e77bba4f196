// Package policy holds who may read what, for which legal purpose: principals
// (users and service accounts of an agency), roles, purposes, grants on
// sources, tables and columns, row filters, column masks, pseudonym keys,
// aggregate-only roles and verify-only grants. Default deny: no grant, no
// access. The planner enforces a policy on every query, whatever front-end
// it came through; this package only decides.
package policy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"lienthong/config"
	"lienthong/internal/defence"
)

// File is the policy file as written (see docs/security.md).
type File struct {
	Settings struct {
		// MinGroupSize is k: aggregate-only results drop groups of fewer rows.
		MinGroupSize int `toml:"min_group_size"`
		// VerifyPerMinute caps pin_verify calls per principal and minute
		// (default 60): each call answers one yes/no question, and many of
		// them recover what the check must not disclose.
		VerifyPerMinute int `toml:"verify_per_minute"`
	} `toml:"settings"`
	Purposes   []Purpose      `toml:"purposes"`
	Roles      []Role         `toml:"roles"`
	Principals []Principal    `toml:"principals"`
	Grants     []Grant        `toml:"grants"`
	Keys       []PseudonymKey `toml:"keys"`
	Verify     *Verify        `toml:"verify"`
	Privacy    Privacy        `toml:"privacy"`
	KeySharing []KeySharing   `toml:"key_sharing"`
}

// KeySharing lets a source receive join keys (PINs) read from other
// sources' rows, in the IN lists of semi-join reduction. Without an entry
// no source receives another's PINs under a policy: each agency's rows
// stay its own, at the cost of reading the other side whole.
type KeySharing struct {
	To string `toml:"to"` // the receiving source
	// From lists the sources ("dancu") or tables ("dancu.citizens") whose
	// keys it may receive; "*" for any.
	From []string `toml:"from"`
}

// Privacy is how aggregate-only tables answer: differential privacy with
// the citizen (the table's PIN) as the privacy unit (docs/security.md).
type Privacy struct {
	// EpsilonPerQuery and DeltaPerQuery are what one query spends.
	EpsilonPerQuery float64 `toml:"epsilon_per_query"`
	DeltaPerQuery   float64 `toml:"delta_per_query"`
	// EpsilonBudget and DeltaBudget are what one principal may spend per
	// Period ("day", "month", "quarter", "half-year" or "year").
	EpsilonBudget float64 `toml:"epsilon_budget"`
	DeltaBudget   float64 `toml:"delta_budget"`
	Period        string  `toml:"period"`
	// MaxGroupsPerCitizen bounds the groups one citizen adds to in one
	// query; MaxRowsPerCitizen the rows one citizen adds to one group.
	MaxGroupsPerCitizen int `toml:"max_groups_per_citizen"`
	MaxRowsPerCitizen   int `toml:"max_rows_per_citizen"`
}

// Purpose is a named legal purpose a session declares.
type Purpose struct {
	Name        string `toml:"name"`
	Description string `toml:"description"`
	// Sensitive lists the special categories this purpose may see unmasked:
	// column names, or "*" for all.
	Sensitive []string `toml:"sensitive"`
	// RequireCase makes a case/dossier id mandatory for this purpose.
	RequireCase bool `toml:"require_case"`
}

// Role groups grants; AggregateOnly roles receive only aggregates.
type Role struct {
	Name          string `toml:"name"`
	AggregateOnly bool   `toml:"aggregate_only"`
	// Operations are what the role's principals may do besides reading
	// data: see Operations below. Reading data never follows from them.
	Operations []string `toml:"operations"`
}

// The operations a role may be given (Role.Operations). Under a policy
// only principals with one of their roles granting it may do them.
const (
	// OpAudit: search and read the audit log and the sharing report,
	// verify the chain (console and API).
	OpAudit = "audit"
	// OpCluster: see the cluster's status, add and remove members.
	OpCluster = "cluster"
	// OpPolicy: show the policy in force and apply a new one.
	OpPolicy = "policy"
	// OpTokens: add and revoke principals' tokens.
	OpTokens = "tokens"
	// OpSources: show the sources in force, add, replace and remove them.
	OpSources = "sources"
)

// Operations lists every operation a role may be given.
var Operations = []string{OpAudit, OpCluster, OpPolicy, OpSources, OpTokens}

// Principal is a user or service account.
type Principal struct {
	Name       string            `toml:"name"`
	Agency     string            `toml:"agency"`
	Roles      []string          `toml:"roles"`
	Attributes map[string]string `toml:"attributes"`
}

// Grant allows reading a source's tables for some purposes.
type Grant struct {
	Role      string   `toml:"role"`      // or
	Principal string   `toml:"principal"` // exactly one of them
	Purposes  []string `toml:"purposes"`
	Source    string   `toml:"source"`
	Table     string   `toml:"table"`   // "*" for every table of the source
	Columns   []string `toml:"columns"` // empty: every column
	// RowFilter is a SQL predicate over the table's raw columns;
	// ${user.ATTR} stands for the principal's attribute ATTR.
	RowFilter string `toml:"row_filter"`
	// Masks maps a column to a SQL expression over the raw row (NULL, a
	// function of the column...) or to "pseudonym".
	Masks map[string]string `toml:"masks"`
	// Bounds clamp a column's values for SUM and AVG under differential
	// privacy: { amount = [0, 5000000] }. Without bounds a column cannot
	// be summed by an aggregate-only principal.
	Bounds map[string][]float64 `toml:"bounds"`
	// VerifyOnly allows pin_verify(...) over this table and nothing else.
	VerifyOnly bool `toml:"verify_only"`
	// Verify allows pin_verify(...) over this table besides what the grant
	// reads. Reading a table does not by itself allow verifying against it.
	Verify bool `toml:"verify"`
}

// PseudonymKey is one version of a purpose's pseudonym key. The secret is
// read from an environment variable or a file, never from the policy file.
type PseudonymKey struct {
	Purpose string `toml:"purpose"`
	Version int    `toml:"version"`
	Env     string `toml:"env"`
	File    string `toml:"file"`
}

// Verify names the table pin_verify checks against.
type Verify struct {
	Source   string `toml:"source"`
	Table    string `toml:"table"`
	PIN      string `toml:"pin_column"`
	Name     string `toml:"name_column"`
	Birth    string `toml:"birth_date_column"`
	Function string `toml:"-"`
}

// Policy is a checked, immutable policy.
type Policy struct {
	Path     string
	MinGroup int
	// VerifyPerMinute caps pin_verify calls per principal and minute.
	VerifyPerMinute int
	Privacy         Privacy
	purposes        map[string]*Purpose
	roles           map[string]*Role
	principals      map[string]*Principal
	grants          []Grant
	keys            map[string][]byte // purpose -> newest key
	keyVersion      map[string]int
	verify          *Verify
	keySharing      []KeySharing
}

// Error is a problem in the policy file, with its line when known. A policy
// with any error is refused as a whole.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads and checks a policy file.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return Parse(path, data)
}

// Parse checks a policy given as bytes.
func Parse(path string, data []byte) (*Policy, error) {
	var f File
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: path, Line: pe.Position.Line, Msg: pe.Message}
		}
		return nil, &Error{File: path, Msg: err.Error()}
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, &Error{File: path, Line: lineOf(data, und[0].String(), 0), Msg: fmt.Sprintf("unknown setting %q; see docs/security.md", und[0].String())}
	}
	p := &Policy{Path: path, MinGroup: f.Settings.MinGroupSize, purposes: map[string]*Purpose{}, roles: map[string]*Role{},
		principals: map[string]*Principal{}, keys: map[string][]byte{}, keyVersion: map[string]int{}, verify: f.Verify}
	if p.MinGroup == 0 {
		p.MinGroup = 10
	}
	p.VerifyPerMinute = f.Settings.VerifyPerMinute
	if p.VerifyPerMinute == 0 {
		p.VerifyPerMinute = 60
	}
	if p.VerifyPerMinute < 0 || p.MinGroup < 0 {
		return nil, &Error{File: path, Line: lineOf(data, "[settings]", 0), Msg: "[settings] values must not be negative"}
	}
	if msg := p.setPrivacy(f.Privacy); msg != "" {
		return nil, &Error{File: path, Line: lineOf(data, "[privacy]", 0), Msg: "[privacy]: " + msg}
	}
	bad := func(section string, i int, format string, args ...any) error {
		return &Error{File: path, Line: lineOf(data, "[["+section+"]]", i), Msg: fmt.Sprintf("%s %d: ", section, i+1) + fmt.Sprintf(format, args...)}
	}
	for i := range f.Purposes {
		pu := &f.Purposes[i]
		if pu.Name == "" || p.purposes[pu.Name] != nil {
			return nil, bad("purposes", i, "missing or duplicate name %q", pu.Name)
		}
		p.purposes[pu.Name] = pu
	}
	for i := range f.Roles {
		r := &f.Roles[i]
		if r.Name == "" || p.roles[r.Name] != nil {
			return nil, bad("roles", i, "missing or duplicate name %q", r.Name)
		}
		for _, op := range r.Operations {
			if !contains(Operations, op) {
				return nil, bad("roles", i, "role %s has unknown operation %q (one of %s)", r.Name, op, strings.Join(Operations, ", "))
			}
		}
		p.roles[r.Name] = r
	}
	for i := range f.Principals {
		pr := &f.Principals[i]
		if pr.Name == "" || p.principals[pr.Name] != nil {
			return nil, bad("principals", i, "missing or duplicate name %q", pr.Name)
		}
		if pr.Agency == "" {
			return nil, bad("principals", i, "%s has no agency", pr.Name)
		}
		for _, r := range pr.Roles {
			if p.roles[r] == nil {
				return nil, bad("principals", i, "%s has unknown role %q", pr.Name, r)
			}
		}
		p.principals[pr.Name] = pr
	}
	for i, g := range f.Grants {
		if (g.Role == "") == (g.Principal == "") {
			return nil, bad("grants", i, "name exactly one of role or principal")
		}
		if g.Role != "" && p.roles[g.Role] == nil {
			return nil, bad("grants", i, "unknown role %q", g.Role)
		}
		if g.Principal != "" && p.principals[g.Principal] == nil {
			return nil, bad("grants", i, "unknown principal %q", g.Principal)
		}
		if len(g.Purposes) == 0 {
			return nil, bad("grants", i, "a grant must name the purposes it serves")
		}
		for _, pu := range g.Purposes {
			if p.purposes[pu] == nil {
				return nil, bad("grants", i, "unknown purpose %q", pu)
			}
		}
		if g.Source == "" || g.Table == "" {
			return nil, bad("grants", i, "source and table are required (table = \"*\" for all)")
		}
		for col, m := range g.Masks {
			if strings.TrimSpace(m) == "" {
				return nil, bad("grants", i, "mask of %s is empty", col)
			}
		}
		for col, b := range g.Bounds {
			if len(b) != 2 || !(b[0] <= b[1]) || math.IsInf(b[0], 0) || math.IsInf(b[1], 0) {
				return nil, bad("grants", i, "bounds of %s must be [low, high] with low <= high, e.g. [0, 5000000]", col)
			}
		}
		if strings.Contains(g.RowFilter, "${") {
			for _, ref := range attrRefs(g.RowFilter) {
				if !strings.HasPrefix(ref, "user.") {
					return nil, bad("grants", i, "row_filter refers to ${%s}; only ${user.ATTRIBUTE} is known", ref)
				}
			}
		}
		p.grants = append(p.grants, g)
	}
	for i, k := range f.KeySharing {
		if k.To == "" || len(k.From) == 0 {
			return nil, bad("key_sharing", i, "name the receiving source (to) and the sources or tables it may receive keys from (from)")
		}
	}
	p.keySharing = f.KeySharing
	dir := filepath.Dir(path)
	for i, k := range f.Keys {
		if p.purposes[k.Purpose] == nil {
			return nil, bad("keys", i, "unknown purpose %q", k.Purpose)
		}
		var secret []byte
		switch {
		case k.Env != "":
			v, ok := os.LookupEnv(k.Env)
			if !ok {
				return nil, bad("keys", i, "environment variable %s is not set", k.Env)
			}
			secret = []byte(v)
		case k.File != "":
			fp := k.File
			if !filepath.IsAbs(fp) {
				fp = filepath.Join(dir, fp)
			}
			b, err := os.ReadFile(fp)
			if err != nil {
				return nil, bad("keys", i, "reading key file: %v", err)
			}
			secret = []byte(strings.TrimSpace(string(b)))
		default:
			return nil, bad("keys", i, "a key needs env or file (secrets never live in the policy file)")
		}
		if len(secret) < 16 {
			return nil, bad("keys", i, "the key for %s is shorter than 16 bytes", k.Purpose)
		}
		if k.Version >= p.keyVersion[k.Purpose] {
			p.keyVersion[k.Purpose] = k.Version
			p.keys[k.Purpose] = secret
		}
	}
	if v := p.verify; v != nil && (v.Source == "" || v.Table == "" || v.PIN == "" || v.Name == "" || v.Birth == "") {
		return nil, &Error{File: path, Line: lineOf(data, "[verify]", 0), Msg: "[verify] needs source, table, pin_column, name_column and birth_date_column"}
	}
	return p, nil
}

// Privacy defaults: a query costs ε = 0.5, the budget is 10 per month,
// δ = 1e-7 per query and 1e-5 per month, and one citizen adds one row to
// one group.
var defaultPrivacy = Privacy{EpsilonPerQuery: 0.5, DeltaPerQuery: 1e-7, EpsilonBudget: 10, DeltaBudget: 1e-5, Period: "month", MaxGroupsPerCitizen: 1, MaxRowsPerCitizen: 1}

// setPrivacy fills defaults and checks the [privacy] section; it returns
// what is wrong, or "".
func (p *Policy) setPrivacy(v Privacy) string {
	d := defaultPrivacy
	if v.EpsilonPerQuery == 0 {
		v.EpsilonPerQuery = d.EpsilonPerQuery
	}
	if v.DeltaPerQuery == 0 {
		v.DeltaPerQuery = d.DeltaPerQuery
	}
	if v.EpsilonBudget == 0 {
		v.EpsilonBudget = d.EpsilonBudget
	}
	if v.DeltaBudget == 0 {
		v.DeltaBudget = d.DeltaBudget
	}
	if v.Period == "" {
		v.Period = d.Period
	}
	if v.MaxGroupsPerCitizen == 0 {
		v.MaxGroupsPerCitizen = d.MaxGroupsPerCitizen
	}
	if v.MaxRowsPerCitizen == 0 {
		v.MaxRowsPerCitizen = d.MaxRowsPerCitizen
	}
	switch {
	case !(v.EpsilonPerQuery > 0 && v.EpsilonPerQuery <= 10):
		return "epsilon_per_query must be in (0, 10]"
	case !(v.DeltaPerQuery > 0 && v.DeltaPerQuery < 1e-3):
		return "delta_per_query must be in (0, 0.001)"
	case !(v.EpsilonBudget >= v.EpsilonPerQuery) || math.IsInf(v.EpsilonBudget, 0):
		return "epsilon_budget must be at least epsilon_per_query"
	case !(v.DeltaBudget >= v.DeltaPerQuery && v.DeltaBudget < 1):
		return "delta_budget must be at least delta_per_query and below 1"
	case v.MaxGroupsPerCitizen < 1 || v.MaxRowsPerCitizen < 1 || v.MaxGroupsPerCitizen > 1000 || v.MaxRowsPerCitizen > 1000:
		return "max_groups_per_citizen and max_rows_per_citizen must be between 1 and 1000"
	}
	switch v.Period {
	case "day", "month", "quarter", "half-year", "year":
	default:
		return fmt.Sprintf("period %q: want day, month, quarter, half-year or year", v.Period)
	}
	p.Privacy = v
	return ""
}

func attrRefs(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			return append(out, s[i+2:])
		}
		out = append(out, s[i+2:i+j])
		s = s[i+j+1:]
	}
}

// lineOf finds the line of the n-th table with this header ("[[grants]]")
// or, for a dotted key, the line that sets it (config's line finders).
func lineOf(data []byte, header string, n int) int {
	if strings.HasPrefix(header, "[") {
		return config.TableLine(data, header, n, "")
	}
	return config.KeyLine(data, header)
}

// DeniedError is a refusal: it names what is missing, never data.
type DeniedError struct{ Msg string }

func (e *DeniedError) Error() string { return e.Msg }

// ErrDenied is wrapped by every refusal.
var ErrDenied = errors.New("access denied")

func (e *DeniedError) Unwrap() error { return ErrDenied }

func denied(format string, args ...any) error {
	return &DeniedError{Msg: fmt.Sprintf(format, args...)}
}

// Access is what one principal may do for one purpose.
type Access struct {
	p         *Policy
	Principal *Principal
	Purpose   *Purpose
	CaseID    string
	grants    []Grant
	// MinGroup is k: no aggregate-only group is released with a noisy
	// citizen count below it, whatever the privacy threshold says.
	MinGroup int
	Privacy  Privacy
}

// Resolve checks a session's principal and purpose.
func (p *Policy) Resolve(principal, purpose, caseID string) (*Access, error) {
	pr := p.principals[principal]
	if principal == "" {
		return nil, denied("no principal: an access policy is in force, so every query must say who asks (--as USER, or the front-end's authentication)")
	}
	if pr == nil {
		return nil, denied("principal %q is not in the access policy", principal)
	}
	if purpose == "" {
		return nil, denied("no purpose: declare the legal purpose of this query (--purpose NAME); %s may use %s", principal, strings.Join(p.purposesOf(pr), ", "))
	}
	pu := p.purposes[purpose]
	if pu == nil {
		return nil, denied("purpose %q is not defined in the access policy", purpose)
	}
	if pu.RequireCase && caseID == "" {
		return nil, denied("purpose %s requires a case or dossier id (--case ID)", purpose)
	}
	a := &Access{p: p, Principal: pr, Purpose: pu, CaseID: caseID, MinGroup: p.MinGroup, Privacy: p.Privacy}
	for _, g := range p.grants {
		if p.applies(g, pr) && contains(g.Purposes, purpose) {
			a.grants = append(a.grants, g)
		}
	}
	if len(a.grants) == 0 {
		return nil, denied("no grant serves purpose %s for %s; purposes granted: %s", purpose, principal, strings.Join(p.purposesOf(pr), ", "))
	}
	return a, nil
}

// Accesses is what principal may see for purpose, or for each of its
// purposes when purpose is "": what catalog listings show (they read no
// data, so a purpose's case requirement does not apply).
func (p *Policy) Accesses(principal, purpose string) ([]*Access, error) {
	pr := p.principals[principal]
	if pr == nil {
		return nil, denied("principal %q is not in the access policy", principal)
	}
	var out []*Access
	for _, pu := range p.purposesOf(pr) {
		if purpose != "" && !strings.EqualFold(pu, purpose) || p.purposes[pu] == nil {
			continue
		}
		a, err := p.Resolve(principal, pu, "case not needed to list the catalog")
		if err == nil {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, denied("no grant serves purpose %s for %s", purpose, principal)
	}
	return out, nil
}

func (p *Policy) applies(g Grant, pr *Principal) bool {
	return g.Principal == pr.Name || g.Role != "" && contains(pr.Roles, g.Role)
}

func (p *Policy) purposesOf(pr *Principal) []string {
	set := map[string]bool{}
	for _, g := range p.grants {
		if p.applies(g, pr) {
			for _, pu := range g.Purposes {
				set[pu] = true
			}
		}
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return []string{"(none)"}
	}
	return out
}

// May reports whether principal may do operation op (one of Operations):
// one of its roles lists it. An unknown principal may do nothing.
func (p *Policy) May(principal, op string) bool {
	pr := p.principals[principal]
	if pr == nil {
		return false
	}
	for _, r := range pr.Roles {
		if contains(p.roles[r].Operations, op) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// ColumnRule says how one visible column reaches queries.
type ColumnRule struct {
	// Mask is a SQL expression over the raw row replacing the column;
	// empty for the raw value. "pseudonym" replaces it with a keyed hash.
	Mask string
}

// Pseudonym is the mask keyword for a keyed-hash PIN.
const Pseudonym = "pseudonym"

// TableAccess is what a query may read of one table.
type TableAccess struct {
	Columns map[string]ColumnRule // visible columns (lower-case names)
	// RowFilters are SQL predicates over the raw row, attributes already
	// rendered as quoted literals; a row is visible when any grant's
	// filter holds (grants add up).
	RowFilters []string
	// Unfiltered is true when some grant has no row filter.
	Unfiltered bool
	VerifyOnly bool
	// AggregateOnly: every grant that reads the table comes through an
	// aggregate-only role, so the table answers only differentially
	// private aggregates, in every query, whatever else the principal may
	// read.
	AggregateOnly bool
	// Bounds are the clamping bounds of columns (lower-case names) for
	// SUM and AVG.
	Bounds map[string][2]float64
}

// SensitiveAllowed reports whether the purpose may see column unmasked.
func (a *Access) SensitiveAllowed(column string) bool {
	return contains(a.Purpose.Sensitive, "*") || contains(a.Purpose.Sensitive, column)
}

// Table returns what a may read of source.table with the given columns
// (sensitive ones flagged), or a denial naming the missing grant.
func (a *Access) Table(source, table string, columns []string, sensitive map[string]bool) (*TableAccess, error) {
	ta := &TableAccess{Columns: map[string]ColumnRule{}, AggregateOnly: true, Bounds: map[string][2]float64{}}
	found, verifyOnly := false, true
	for _, g := range a.grants {
		if !strings.EqualFold(g.Source, source) || g.Table != "*" && !strings.EqualFold(g.Table, table) {
			continue
		}
		found = true
		if g.VerifyOnly {
			continue
		}
		verifyOnly = false
		if !(g.Role != "" && a.p.roles[g.Role].AggregateOnly) {
			ta.AggregateOnly = false
		}
		for col, b := range g.Bounds {
			ta.Bounds[strings.ToLower(col)] = [2]float64{b[0], b[1]}
		}
		for _, c := range columns {
			if len(g.Columns) > 0 && !contains(g.Columns, c) {
				continue
			}
			rule := ColumnRule{}
			for mc, m := range g.Masks {
				if strings.EqualFold(mc, c) {
					rule.Mask = strings.TrimSpace(m)
				}
			}
			if sensitive[c] && !a.SensitiveAllowed(c) && defence.On(defence.Sensitive) {
				// Special categories stay hidden unless the purpose allows
				// them, masked or not: a mask such as religion = "religion"
				// or LEFT(religion, 3) would otherwise lift the rule.
				rule.Mask = "NULL"
			}
			key := strings.ToLower(c)
			if prev, ok := ta.Columns[key]; ok && prev.Mask == "" {
				continue // an unmasked grant of the column wins
			}
			ta.Columns[key] = rule
		}
		if g.RowFilter == "" {
			ta.Unfiltered = true
		} else {
			f, err := a.expand(g.RowFilter)
			if err != nil {
				return nil, err
			}
			ta.RowFilters = append(ta.RowFilters, f)
		}
	}
	if !found {
		return nil, denied("%s has no grant on %s.%s for purpose %s", a.Principal.Name, source, table, a.Purpose.Name)
	}
	if verifyOnly {
		ta.VerifyOnly = true
		ta.AggregateOnly = false
	}
	if ta.Unfiltered {
		ta.RowFilters = nil
	}
	return ta, nil
}

// VerifyFilters returns the row filters of the grants that allow pin_verify
// against source.table (nil: every row), or a denial when none does. A
// verify grant's row filter limits whom the principal may verify, as it
// limits whom a reading grant shows.
func (a *Access) VerifyFilters(source, table string) ([]string, error) {
	var filters []string
	found, unfiltered := false, false
	for _, g := range a.grants {
		if !(g.VerifyOnly || g.Verify) || !strings.EqualFold(g.Source, source) || g.Table != "*" && !strings.EqualFold(g.Table, table) {
			continue
		}
		found = true
		if g.RowFilter == "" {
			unfiltered = true
			continue
		}
		f, err := a.expand(g.RowFilter)
		if err != nil {
			return nil, err
		}
		filters = append(filters, f)
	}
	if !found {
		return nil, denied("%s has no verify grant (verify_only or verify = true) on %s.%s for purpose %s", a.Principal.Name, source, table, a.Purpose.Name)
	}
	if unfiltered {
		return nil, nil
	}
	return filters, nil
}

// expand substitutes ${user.ATTR} with the attribute as a SQL string literal.
func (a *Access) expand(filter string) (string, error) {
	var err error
	out := filter
	for _, ref := range attrRefs(filter) {
		name := strings.TrimPrefix(ref, "user.")
		v, ok := a.Principal.Attributes[name]
		if !ok {
			// Without the attribute the filter cannot hold: deny rather than
			// widen.
			err = denied("row filter needs attribute %q, which principal %s does not have", name, a.Principal.Name)
			continue
		}
		out = strings.ReplaceAll(out, "${"+ref+"}", "'"+strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), "'", "''")+"'")
	}
	return out, err
}

// MayShareKeys reports whether PINs read from fromTables of source from may
// be written into SQL sent to source to (semi-join reduction). Within one
// source they never leave it.
func (a *Access) MayShareKeys(from string, fromTables []string, to string) bool {
	if strings.EqualFold(from, to) {
		return true
	}
	for _, k := range a.p.keySharing {
		if !strings.EqualFold(k.To, to) {
			continue
		}
		all := true
		for _, t := range fromTables {
			ok := false
			for _, f := range k.From {
				if f == "*" || strings.EqualFold(f, from) || strings.EqualFold(f, from+"."+t) {
					ok = true
				}
			}
			all = all && ok
		}
		if all {
			return true
		}
	}
	return false
}

// PseudonymKey returns the key pseudonyms are made with for this purpose.
func (a *Access) PseudonymKey() ([]byte, bool) {
	k, ok := a.p.keys[a.Purpose.Name]
	return k, ok
}

// Key returns the newest pseudonym key of a purpose.
func (p *Policy) Key(purpose string) ([]byte, bool) {
	k, ok := p.keys[purpose]
	return k, ok
}

// Verify is the pin_verify configuration, or nil.
func (a *Access) Verify() *Verify { return a.p.verify }

// PseudonymOf computes the pseudonym of a value under key: the first 16
// bytes of HMAC-SHA-256, hex. The same PIN gives the same pseudonym in every
// source within a purpose; different purposes have different keys.
func PseudonymOf(key []byte, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
