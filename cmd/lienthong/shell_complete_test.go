package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"lienthong/engine"
	"lienthong/internal/attacks"
)

// completeAt is what Tab offers at the cursor (| in line, else its end),
// with pending the statement's earlier lines: the whole candidates.
func completeAt(c *completer, pending, line string) []string {
	c.pending.Reset()
	c.pending.WriteString(pending)
	pos := len([]rune(line))
	if i := strings.IndexByte(line, '|'); i >= 0 {
		pos = len([]rune(line[:i]))
		line = line[:i] + line[i+1:]
	}
	rs := []rune(line)
	cands, n := c.Do(rs, pos)
	word := string(rs[pos-n : pos])
	var out []string
	for _, r := range cands {
		out = append(out, strings.TrimSpace(word+string(r)))
	}
	return out
}

func TestCompletionIsContextAware(t *testing.T) {
	src := t.TempDir()
	for name, data := range map[string]string{
		"people.csv": "id,full_name,province\n1,An,079\n",
		"places.csv": "code,place_name\n079,HCM\n",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	s := csvSession(t, src, &out)
	c := &completer{s: s, pending: &strings.Builder{}}
	for _, tc := range []struct {
		pending, line string
		want          []string
	}{
		{"", "SELECT * FROM f.peo", []string{"f.people"}},
		{"", "SELECT * FROM f.p", []string{"f.people", "f.places"}},
		{"", "SELECT * FROM ", []string{"f.", "f.people", "f.places"}},
		{"", "sel", []string{"select"}},
		{"", "SEL", []string{"SELECT"}},
		{"", "SELECT p.fu", nil}, // no table p in the statement yet
		{"", "SELECT p.fu| FROM f.people p", []string{"p.full_name"}},
		{"SELECT p.id FROM f.people p\n", "WHERE p.pro", []string{"p.province"}},
		{"", "SELECT x.place_n| FROM f.places AS x", []string{"x.place_name"}},
		{"", "SELECT * FROM f.people JOIN f.places pl ON pl.", []string{"pl.code", "pl.place_name"}},
		{"", "SELECT f.people.full", []string{"f.people.full_name"}},
		{"", "SELECT province, full_| FROM f.people", []string{"full_name"}},
		{"", `\d f.pl`, []string{"f.places"}},
		{"", `\for`, []string{`\format`}},
		{"", "SELECT * FROM nope.", nil},
	} {
		if got := completeAt(c, tc.pending, tc.line); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q + %q: got %q, want %q", tc.pending, tc.line, got, tc.want)
		}
	}
	// A column of a table the statement reads (on an earlier line),
	// completed bare, beside the keyword FULL.
	if got := completeAt(c, "SELECT *\nFROM f.people\nWHERE ", "full"); !reflect.DeepEqual(got, []string{"full", "full_name"}) {
		t.Errorf("bare column: %q", got)
	}
}

// Completion offers only what the principal may read: it reads the same
// filtered catalog as \d (engine.CatalogFor), so an ungranted table or
// column is never named. Without the policy the same names are offered,
// so the test sees the difference.
func TestCompletionHidesUngrantedNames(t *testing.T) {
	f := attacks.NewFixture(t)
	offer := func(e *engine.Engine, who engine.Session, pending, line string) []string {
		c := &completer{s: &session{db: localBackend{eng: e, opt: engine.QueryOptions{Session: who}}}, pending: &strings.Builder{}}
		return completeAt(c, pending, line)
	}
	has := func(names []string, want string) bool { return slices.Contains(names, want) }
	for _, tc := range []struct{ pending, line, hidden string }{
		{"", "SELECT * FROM dancu.", "dancu.households"},
		{"", "SELECT c.| FROM dancu.citizens c", "c.phone"},
		{"", "SELECT * FROM ", "hotich.births"},
	} {
		if open := offer(f.Open, engine.Session{}, tc.pending, tc.line); !has(open, tc.hidden) {
			t.Errorf("%q: without a policy %s should be offered: %q", tc.line, tc.hidden, open)
		}
		if got := offer(f.Secured, attacks.An, tc.pending, tc.line); has(got, tc.hidden) || len(got) == 0 {
			t.Errorf("%q: an may not read %s, offered %q", tc.line, tc.hidden, got)
		}
	}
}
