package planner

import (
	"strings"
	"testing"

	"lienthong/planner/sqlgen"
)

// EXPLAIN shows the residual a reader needs: the views by name, without the
// LIMIT wrapper DuckDB needs (which the executed SQL keeps); once the engine
// has run the plan (EXPLAIN ANALYZE) it names the views as DuckDB's profile
// does.
func TestExplainResidualNames(t *testing.T) {
	cat := testCatalog()
	p, err := Plan(cat, "SELECT c.pin, r.commune_code FROM dancu.citizens c JOIN cutru.residences r ON r.pin = c.pin WHERE r.kind = 'permanent'", Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Explain(cat, p, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "9223372036854775807") || !strings.Contains(out, `FROM "_lt_remote_1" AS "c" INNER JOIN "_lt_remote_2" AS "r"`) || !strings.Contains(out, "as _lt_remote_1:") {
		t.Errorf("EXPLAIN:\n%s", out)
	}
	run, err := ResidualStatement(p, func(id int) string { return sqlgen.PrefixedViewName("_lt_q7_", id) })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(run.SQL, `(SELECT * FROM "_lt_q7_remote_1" LIMIT 9223372036854775807) AS "c"`) {
		t.Errorf("the executed residual lost its scan barrier: %s", run.SQL)
	}
	p.ViewPrefix = "_lt_q7_"
	out, err = Explain(cat, p, map[int]RemoteStats{}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "_lt_remote_") || !strings.Contains(out, `FROM "_lt_q7_remote_1" AS "c"`) || !strings.Contains(out, "as _lt_q7_remote_2:") {
		t.Errorf("EXPLAIN ANALYZE names differ from the executed ones:\n%s", out)
	}
}
