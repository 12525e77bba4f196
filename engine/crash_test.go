package engine_test

import (
	"strings"
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

// No error a client sees carries data, whatever the source or DuckDB said:
// a value that fails a cast is a PIN or a name here.
func TestErrorsCarryNoData(t *testing.T) {
	f := newPolicyFixture(t)
	name := f.citizen[1]
	for _, c := range []struct {
		sql string
		opt engine.QueryOptions
	}{
		{"SELECT COUNT(*) FROM dancu.citizens WHERE CAST(pin AS DATE) = DATE '2020-01-01'", engine.QueryOptions{}},
		{"SELECT COUNT(*) FROM dancu.citizens WHERE CAST(pin AS DATE) = DATE '2020-01-01'", engine.QueryOptions{NoPushdown: true}},
		{"SELECT CAST(full_name AS SIGNED) FROM dancu.citizens", engine.QueryOptions{}},
		{"SELECT CAST(CASE WHEN pin = '" + f.citizen[0] + "' THEN full_name ELSE '1' END AS SIGNED) FROM dancu.citizens", engine.QueryOptions{NoPushdown: true}},
		{"SELECT CAST(d.pin AS DATE) FROM hotich.deaths d JOIN dancu.citizens c ON c.pin = d.pin", engine.QueryOptions{}},
		{"SELECT COUNT(*) FROM dancu.citizens WHERE CAST(full_name AS DECIMAL(5,2)) > 1", engine.QueryOptions{}},
	} {
		_, err := rows(t, f.open, c.sql, c.opt)
		if err == nil {
			t.Errorf("%s: want a cast error", c.sql)
			continue
		}
		msg := err.Error()
		if engine.ErrorCode(err) != "LT-TYPE" {
			t.Errorf("%s: a bad value is the user's error (LT-TYPE), got %s", c.sql, msg)
		}
		for _, v := range append([]string{name}, f.pins...) {
			if strings.Contains(msg, v) {
				t.Fatalf("%s: the error carries %q: %s", c.sql, v, msg)
			}
		}
		if strings.Contains(msg, "Nguyễn") || strings.Contains(msg, "Trần") || strings.Contains(msg, "Conversion Error") {
			t.Errorf("%s: the error carries the source's words: %s", c.sql, msg)
		}
	}
}
