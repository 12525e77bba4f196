package engine_test

import (
	"strings"
	"testing"

	"lienthong/engine"
)

// Dividing by zero gives NULL wherever it is computed (MySQL's rule):
// not +Inf (DuckDB's DOUBLE division) nor an error (PostgreSQL).
func TestDivisionByZeroIsNull(t *testing.T) {
	f := setup(t)
	for _, q := range []string{
		"SELECT 1/0, -1/0, 0/0, 7 DIV 0, 7 % 0, MOD(7, 0), 1.5/0",
		"SELECT household_id / 0, household_id DIV 0, household_id % 0, MOD(household_id, 0), household_id / (household_id - household_id) FROM dancu.citizens WHERE household_id = 3",
		"SELECT SUM(amount) / 0, COUNT(*) % 0 FROM bhxh.funeral_allowances",
	} {
		for name, e := range map[string]*engine.Engine{"oracle": f.oracle, "servers": f.servers, "embedded": f.embedded} {
			for _, opt := range []engine.QueryOptions{{}, {NoPushdown: true}} {
				got, err := rows(t, e, q, opt)
				if err != nil || len(got) == 0 {
					t.Errorf("%s %s: %v %v", name, q, got, err)
					continue
				}
				for _, row := range got {
					for _, v := range strings.Split(row, " | ") {
						if v != "NULL" {
							t.Errorf("%s (pushdown %v) %s: got %s, want NULLs", name, !opt.NoPushdown, q, row)
						}
					}
				}
			}
		}
	}
}
