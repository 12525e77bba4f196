package sqlgen

import (
	"strings"
	"testing"

	"lienthong/catalog"
	"lienthong/planner/plan"
)

// The residual must compute whatever a source does not: every function has
// a DuckDB rendering, and every function callable by name a sane arity.
func TestEveryFunctionRendersInDuckDB(t *testing.T) {
	if len(functions) < 40 {
		t.Fatalf("only %d functions registered", len(functions))
	}
	for name, f := range functions {
		if f.Name != name || f.render[DuckDB] == nil {
			t.Errorf("%s: registered as %q, DuckDB rendering %v", name, f.Name, f.render[DuckDB] != nil)
		}
		if f.MaxArgs > 0 && (f.MinArgs < 1 || f.MinArgs > f.MaxArgs) {
			t.Errorf("%s: arity %d..%d", name, f.MinArgs, f.MaxArgs)
		}
		if f.Typing == Fixed && f.MaxArgs > 0 && f.Result == nil {
			t.Errorf("%s: fixed typing without a result type", name)
		}
	}
	if computes(DuckDB, "pseudonym") || !computes(DuckDB, "lower") || computes(SQLite, "abs") || !computes(MySQL, "abs") {
		t.Error("computes disagrees with the registry")
	}
}

func TestUnknownKindIsAnError(t *testing.T) {
	if d, err := DialectOf("oracle"); err == nil || d != nil || !strings.Contains(err.Error(), `"oracle"`) {
		t.Fatalf("DialectOf(oracle) = %v, %v", d, err)
	}
	RegisterKind("sqlgen_test_kind", SQLite)
	if d, err := DialectOf("sqlgen_test_kind"); err != nil || d != SQLite {
		t.Fatalf("registered kind: %v, %v", d, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("a kind registered twice did not panic")
		}
	}()
	RegisterKind("sqlgen_test_kind", DuckDB)
}

// A scan-only dialect keeps its spelling and computes nothing.
func TestScanOnly(t *testing.T) {
	d := ScanOnly(MySQL)
	col := &plan.ColRef{Rel: "t", Name: "a", Typ: plan.Int64}
	if CanEval(d, col, nil) || !CanEval(MySQL, col, nil) {
		t.Fatal("ScanOnly(MySQL) computes a column reference, or MySQL does not")
	}
	tb := &catalog.Table{Name: "x", RemoteName: "x", Columns: []catalog.Column{{Name: "a", Type: plan.Int64}}}
	st, err := RenderScan(d, &plan.Scan{Table: tb, Alias: "t", Columns: []string{"a"}})
	if err != nil || st.SQL != "SELECT `t`.`a` FROM `x` AS `t`" {
		t.Fatalf("scan: %q, %v", st.SQL, err)
	}
}
