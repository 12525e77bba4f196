package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// Parameters are bound as literals of their own type: a query with ? and
// its values answers exactly what the query with the literals written in
// it answers, and a value can never change what the statement says.
func TestHTTPParameters(t *testing.T) {
	ts := startServer(t, nil, nil)
	url := ts.HTTPURL() + "/v1/query"
	run := func(sql string, params ...any) httpResult {
		t.Helper()
		body, err := json.Marshal(map[string]any{"sql": sql, "params": params})
		if err != nil {
			t.Fatal(err)
		}
		return post(t, nil, url, testToken, string(body))
	}
	cases := []struct {
		sql     string
		params  []any
		literal string // the same query with the values written in
	}{
		{"SELECT n FROM d.small WHERE pin = ?", []any{"000000000005"}, "SELECT n FROM d.small WHERE pin = '000000000005'"},
		{"SELECT n FROM d.small WHERE pin = ? ORDER BY n", []any{"000000000005' OR '1'='1"}, "SELECT n FROM d.small WHERE pin = '000000000005'' OR ''1''=''1' ORDER BY n"},
		{"SELECT n FROM d.small WHERE note = ? ORDER BY n", []any{`tên "1"` + "\n\\"}, "SELECT n FROM d.small WHERE note = 'tên \"1\"\n\\\\' ORDER BY n"},
		{"SELECT n FROM d.small WHERE note LIKE ? ORDER BY n", []any{`tên "1_"%`}, "SELECT n FROM d.small WHERE note LIKE 'tên \"1_\"%' ORDER BY n"},
		{"SELECT n FROM d.small WHERE amount = ? AND ratio < ? AND even = ? ORDER BY n", []any{json.Number("0.50"), 1.5, true}, "SELECT n FROM d.small WHERE amount = 0.50 AND ratio < 1.5 AND even = true ORDER BY n"},
		{"SELECT n FROM d.small WHERE d >= ? AND n < ? ORDER BY n", []any{"2020-03-05", 10}, "SELECT n FROM d.small WHERE d >= '2020-03-05' AND n < 10 ORDER BY n"},
		{"SELECT n FROM d.small WHERE note = ?", []any{nil}, "SELECT n FROM d.small WHERE note = NULL"},
		{"SELECT COUNT(*) AS k FROM d.small s JOIN c.residence r ON r.pin = s.pin WHERE r.province = ? AND s.n < ?", []any{"P02", 300}, "SELECT COUNT(*) AS k FROM d.small s JOIN c.residence r ON r.pin = s.pin WHERE r.province = 'P02' AND s.n < 300"},
		{"SELECT n FROM d.small ORDER BY n LIMIT ?", []any{3}, "SELECT n FROM d.small ORDER BY n LIMIT 3"},
		{"SELECT n FROM d.small WHERE pin = ? -- ? in a comment is not a parameter", []any{"000000000007"}, "SELECT n FROM d.small WHERE pin = '000000000007'"},
	}
	for _, c := range cases {
		got, want := run(c.sql, c.params...), post(t, nil, url, testToken, c.literal)
		if got.status != 200 || want.status != 200 || string(got.body) != string(want.body) {
			t.Errorf("%s %v:\n%d %s\nthe literal query: %d %s", c.sql, c.params, got.status, got.body, want.status, want.body)
		}
	}
	if r := run("SELECT n FROM d.small WHERE pin = ?", "000000000005' OR '1'='1"); r.status != 200 || len(strings.TrimSpace(string(r.body))) != 0 {
		t.Errorf("an injection through a parameter returned rows: %s", r.body)
	}

	e := wantError(t, run("SELECT n FROM d.small WHERE pin = ? AND n = ?", "000000000005"), 400, "LT-SYNTAX")
	if e.Column != 45 {
		t.Errorf("a missing value: the error points at column %d, want 45 (the second ?): %+v", e.Column, e)
	}
	wantError(t, run("SELECT n FROM d.small WHERE pin = '1'", "extra"), 400, "LT-SYNTAX")
	wantError(t, post(t, nil, url, testToken, `{"sql": "SELECT n FROM d.small WHERE pin = ?", "params": [{"a": 1}]}`), 400, "LT-TYPE")
	wantError(t, post(t, nil, url, testToken, `{"sql": "SELECT n FROM d.small WHERE pin = ?"}`), 400, "LT-UNSUPPORTED")
}
