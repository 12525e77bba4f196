package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// \d lists the tables, one line each, counted right; \d TABLE shows the
// columns; an unknown table gets the planner's did-you-mean suggestion.
func TestBackslashD(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "births.csv"), []byte("pin,place\n1,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s := csvSession(t, src, &out)
	snap, err := s.db.Catalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printCatalog(&b, snap, false)
	if got := b.String(); !strings.Contains(got, "source f (csv): 1 table\n") || !strings.Contains(got, "f.births") || strings.Contains(got, "place") {
		t.Errorf("\\d:\n%s", got)
	}
	b.Reset()
	if err := describeTable(&b, snap, "f.births"); err != nil || !strings.Contains(b.String(), "  place ") {
		t.Errorf("\\d f.births: %v\n%s", err, b.String())
	}
	for name, want := range map[string]string{
		"f.birth":  "did you mean f.births?",
		"g.births": "did you mean f.births?",
		"birth":    "did you mean f.births?",
		"zzz.qqq":  `no table zzz.qqq; \d lists the tables`,
	} {
		if err := describeTable(&b, snap, name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("\\d %s: %v, want %q", name, err, want)
		}
	}
}
