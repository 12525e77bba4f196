package planner

import (
	"fmt"
	"slices"
	"strings"

	"vitess.io/vitess/go/vt/sqlparser"

	"lienthong/catalog"
	"lienthong/planner/plan"
)

// rules is every step from a bound statement to its plan, in the order
// they run. Each is defined in its own file (rule_<name>.go) with the SQL
// before and after and why it is safe. docs/architecture.md lists them in
// this order (TestArchitectureListsRules keeps the two equal).
var rules = []Rule{
	{Name: "RewritePrivateAggregates", Kind: Policy, Apply: rewritePrivateAggregates},
	{Name: "FoldConstants", Kind: Optional, Apply: foldConstantsRule},
	{Name: "GuardSecuredFilters", Kind: Policy, Apply: guardSecuredFiltersRule},
	{Name: "PushQueryIntoRemote", Kind: Pushdown, Apply: pushQueryIntoRemote},
	{Name: "PushFilterIntoDerived", Kind: Pushdown, Residual: true, Apply: pushFilterIntoDerived},
	{Name: "PushFilterIntoScan", Kind: Pushdown, Residual: true, Apply: pushFilterIntoScan},
	{Name: "PruneDerivedColumns", Kind: Pushdown, Residual: true, Apply: pruneDerivedColumnsRule},
	{Name: "PruneScanColumns", Kind: Pushdown, Residual: true, Apply: pruneScanColumnsRule},
	{Name: "PushDerivedIntoRemote", Kind: Pushdown, Residual: true, Apply: pushDerivedIntoRemote},
	{Name: "CutScansIntoRemotes", Kind: Required, Residual: true, Apply: cutScansIntoRemotes},
	{Name: "ReduceScanByJoinKeys", Kind: Pushdown, Residual: true, Apply: reduceScanByJoinKeys},
	{Name: "CheckPlan", Kind: Required, Apply: checkPlanRule},
}

// Rule is one named step of planning.
type Rule struct {
	Name string
	Kind RuleKind
	// Residual: the rule works on the residual query, so it does not run
	// once one source runs the whole statement (PushQueryIntoRemote).
	Residual bool
	// Apply rewrites the statement in place and reports whether it changed
	// anything (the plan records the rules that did, EXPLAIN shows them).
	Apply func(*planning) (bool, error)
}

// RuleKind says whether a rule may be turned off.
type RuleKind int

const (
	// Pushdown rules move work to the sources: Options.NoPushdown turns
	// them all off, Options.Disable one by name.
	Pushdown RuleKind = iota
	// Optional rules rewrite without moving work: only Disable turns them off.
	Optional
	// Required steps make the plan (cutting it into remotes) or check it.
	Required
	// Policy steps enforce the access policy: nothing turns them off.
	Policy
)

// Rules are the names Options.Disable accepts, in the order they run: the
// differential test disables each in turn and expects the same answers.
var Rules = func() []string {
	var out []string
	for _, r := range rules {
		if r.Kind == Pushdown || r.Kind == Optional {
			out = append(out, r.Name)
		}
	}
	return out
}()

// planning is one statement on its way through the rules.
type planning struct {
	cat   *catalog.Snapshot
	opt   Options
	stmt  sqlparser.Statement
	b     *binder     // the binder of the statement planned (the rewrite's, after RewritePrivateAggregates)
	q     *plan.Query // the bound query: the residual, unless one source runs all of it
	names []string    // output column names
	p     *plan.Plan
}

// checkDisable refuses names Options.Disable cannot turn off.
func checkDisable(names []string) error {
	for _, d := range names {
		i := slices.IndexFunc(rules, func(r Rule) bool { return r.Name == d })
		switch {
		case i < 0:
			return fmt.Errorf("planner: no rule %q to disable (rules: %s)", d, strings.Join(Rules, ", "))
		case rules[i].Kind == Policy:
			return fmt.Errorf("planner: %s enforces the access policy and cannot be disabled", d)
		case rules[i].Kind == Required:
			return fmt.Errorf("planner: %s is a required step of planning and cannot be disabled", d)
		}
	}
	return nil
}

// runs says whether rule r applies under opt.
func (opt Options) runs(r Rule) bool {
	switch r.Kind {
	case Pushdown:
		if opt.NoPushdown {
			return false
		}
	case Required, Policy:
		return true
	}
	return !slices.Contains(opt.Disable, r.Name)
}

// apply runs the rules in order and records in the plan those that
// changed something.
func (s *planning) apply(list []Rule) error {
	for _, r := range list {
		if !s.opt.runs(r) || r.Residual && s.p.Single != nil {
			continue
		}
		changed, err := r.Apply(s)
		if err != nil {
			return err
		}
		if changed {
			s.p.Rules = append(s.p.Rules, r.Name)
		}
	}
	return nil
}
