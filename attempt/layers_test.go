package attempt_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The packages a cluster node's replicated state needs (the audit log, its
// reports, health, the policy, the raft cluster) must not pull in the
// engine or DuckDB: a cgo database in the consensus path would tie every
// node's build and crash domain to it.
func TestLeavesDoNotImportTheEngine(t *testing.T) {
	pkgs := []string{"lienthong/attempt", "lienthong/audit", "lienthong/audit/chain", "lienthong/audit/sketch", "lienthong/audit/report", "lienthong/audit/simulate", "lienthong/health", "lienthong/policy", "lienthong/policy/dp", "lienthong/errcode", "lienthong/state", "lienthong/tokens", "lienthong/cluster"}
	for _, dep := range deps(t, pkgs...) {
		if dep == "lienthong/engine" || strings.Contains(dep, "duckdb") || dep == "lienthong/planner" {
			t.Errorf("a leaf package depends on %s", dep)
		}
	}
}

// The chained log file is below everything that writes or reads it: the
// audit log, the health history and the reports build on audit/chain, and
// it on nothing of lienthong but state. health must not reach up into
// audit (the Log) either: the report imports health, not the other way.
func TestAuditChainIsALeaf(t *testing.T) {
	allowed := map[string][]string{
		"lienthong/audit/chain":  {"lienthong/state"},
		"lienthong/audit/sketch": nil,
		"lienthong/health":       {"lienthong/state", "lienthong/audit/chain", "lienthong/audit/sketch"},
	}
	for pkg, ok := range allowed {
		for _, dep := range deps(t, pkg) {
			if dep != pkg && strings.HasPrefix(dep, "lienthong/") && !slices.Contains(ok, dep) {
				t.Errorf("%s depends on %s (allowed: %v)", pkg, dep, ok)
			}
		}
	}
}

// deps lists pkgs and everything they import, directly or not (not their
// tests' imports).
func deps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}
