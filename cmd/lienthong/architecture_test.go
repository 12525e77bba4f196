package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// docs/architecture.md's package table names every package (a package is
// covered by its own row or its parent's: connectors covers
// connectors/postgres), and every row names a package that exists, so the
// map of the rooms cannot drift from the house.
func TestArchitectureListsEveryPackage(t *testing.T) {
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z0-9/]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		rows[m[1]] = true
	}
	out, err := exec.Command("go", "list", "lienthong/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		p = strings.TrimPrefix(p, "lienthong/")
		pkgs[p] = true
		covered := false
		for q := p; q != "." && !covered; q = parent(q) {
			covered = rows[q]
		}
		if !covered {
			t.Errorf("package %s has no row in docs/architecture.md's package table", p)
		}
	}
	for r := range rows {
		if !pkgs[r] {
			t.Errorf("docs/architecture.md lists %s, which is not a package", r)
		}
	}
	if len(rows) < 10 {
		t.Fatalf("found only %d rows: has the table's format changed?", len(rows))
	}
}

func parent(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[:i]
	}
	return "."
}
