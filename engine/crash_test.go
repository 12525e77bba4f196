package engine_test

import (
	"testing"

	"lienthong/engine"
)

// A filter evaluated in the residual on a column nothing above it reads
// made DuckDB's arrow scan dereference a dropped column (SIGSEGV, the whole
// process). Reached through any front-end, e.g. a pseudonymised pin
// compared with a literal under COUNT(*).
func TestResidualFilterOnUnprojectedColumn(t *testing.T) {
	f := newPolicyFixture(t)
	for _, c := range []struct {
		e   *engine.Engine
		opt engine.QueryOptions
		sql string
	}{
		{f.secured, engine.QueryOptions{Session: an}, "SELECT COUNT(*) FROM hotich.deaths WHERE pin = '" + f.citizen[0] + "'"},
		{f.open, engine.QueryOptions{NoPushdown: true}, "SELECT COUNT(*) FROM (SELECT registration_id FROM hotich.deaths WHERE UPPER(pin) = 'X') t"},
		{f.open, engine.QueryOptions{NoPushdown: true}, "SELECT COUNT(*) FROM dancu.citizens WHERE LOWER(full_name) = 'x' AND sex = 'F'"},
	} {
		got, err := rows(t, c.e, c.sql, c.opt)
		if err != nil || len(got) != 1 || got[0] != "0" {
			t.Errorf("%s: got %v %v, want one row 0", c.sql, got, err)
		}
	}
}
