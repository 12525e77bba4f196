package simulate

import (
	"context"
	"testing"
	"time"

	"lienthong/audit/chain"
	"lienthong/engine"
	"lienthong/planner"
)

// The simulated history uses only codes the engine emits, so that
// `audit search --code` and the report read it as they read a real log.
func TestSimulatedCodesAreEngineCodes(t *testing.T) {
	keys, err := chain.NewKeys(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	truth, err := Run(context.Background(), Options{Dir: t.TempDir(), From: from, To: from.AddDate(0, 1, 0), Seed: 1, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{engine.CodeCancelled: true, engine.CodeTimeout: true, engine.CodeAudit: true, engine.CodeSourceError: true, engine.CodeInternal: true}
	for _, c := range []planner.Code{planner.CodeSyntax, planner.CodeUnknown, planner.CodeAmbiguous, planner.CodeReadOnly, planner.CodeUnsupported,
		planner.CodeType, planner.CodeUnavailable, planner.CodeRateLimit, planner.CodeBudget, planner.CodeDenied} {
		known[string(c)] = true
	}
	if len(truth.Total.FailuresByCode) == 0 {
		t.Fatal("no failures simulated")
	}
	for code, n := range truth.Total.FailuresByCode {
		if !known[code] {
			t.Errorf("%d attempts with %s, which the engine never emits", n, code)
		}
	}
}
