package attempt_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The packages a cluster node's replicated state needs (the audit log, its
// reports, health, the policy, the raft cluster) must not pull in the
// engine or DuckDB: a cgo database in the consensus path would tie every
// node's build and crash domain to it.
func TestLeavesDoNotImportTheEngine(t *testing.T) {
	pkgs := []string{"lienthong/attempt", "lienthong/audit", "lienthong/audit/report", "lienthong/audit/simulate", "lienthong/health", "lienthong/policy", "lienthong/policy/dp", "lienthong/errcode", "lienthong/state", "lienthong/cluster"}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "lienthong/engine" || strings.Contains(dep, "duckdb") || dep == "lienthong/planner" {
			t.Errorf("a leaf package depends on %s", dep)
		}
	}
}
