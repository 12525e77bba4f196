package planner

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docs/architecture.md lists the rules as the registry runs them.
func TestArchitectureListsRules(t *testing.T) {
	text, err := os.ReadFile("../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(text), "\n## Rewrite rules\n")
	if !ok {
		t.Fatal("docs/architecture.md has no section Rewrite rules")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var listed []string
	for _, m := range regexp.MustCompile("(?m)^[0-9]+\\. `([A-Za-z]+)`").FindAllStringSubmatch(section, -1) {
		listed = append(listed, m[1])
	}
	var names []string
	for _, r := range rules {
		names = append(names, r.Name)
	}
	if !slices.Equal(listed, names) {
		t.Errorf("docs/architecture.md lists the rules\n  %v\nthe registry (planner/rules.go) runs\n  %v", listed, names)
	}
	// Each rule is defined in its own file.
	for _, n := range names {
		file := "rule_" + regexp.MustCompile("([a-z])([A-Z])").ReplaceAllString(n, "${1}_${2}") + ".go"
		if _, err := os.Stat(strings.ToLower(file)); err != nil {
			t.Errorf("rule %s: no file %s", n, strings.ToLower(file))
		}
	}
}
