package planner

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Statements past a size limit are refused before binding, quickly, with
// LT-LIMIT naming the setting; within the limits they plan.
func TestLimits(t *testing.T) {
	cat := testCatalog()
	nest := func(n int) string {
		return "SELECT " + strings.Repeat("(", n) + "household_id" + strings.Repeat("+0)", n) + " FROM dancu.citizens"
	}
	chain := func(n int) string { return "SELECT household_id" + strings.Repeat("+1", n) + " FROM dancu.citizens" }
	in := func(n int) string {
		return "SELECT pin FROM dancu.citizens WHERE household_id IN (" + strings.Repeat("7,", n-1) + "7)"
	}
	ors := func(n int) string {
		return "SELECT pin FROM dancu.citizens WHERE household_id = 1" + strings.Repeat(" OR household_id = 2 AND sex = 'F'", n)
	}
	// Each reference to ck binds c(k-1) twice: 2^k tables.
	ctes := func(k int) string {
		q := "WITH c0 AS (SELECT pin FROM dancu.citizens)"
		for i := 1; i <= k; i++ {
			q += ", c" + string(rune('0'+i)) + " AS (SELECT a.pin FROM c" + string(rune('0'+i-1)) + " a JOIN c" + string(rune('0'+i-1)) + " b ON a.pin = b.pin)"
		}
		return q + " SELECT COUNT(*) FROM c" + string(rune('0'+k))
	}
	for _, c := range []struct {
		name, sql string
		setting   string // "" plans
	}{
		{"nested 60", nest(60), ""},
		{"nested 800", nest(800), "max_expression_depth = 64"},
		{"nested 100000", nest(100_000), "max_expression_depth = 64"},
		{"chain 800", chain(800), "max_expression_depth = 64"},
		{"long OR of ANDs", ors(500), ""},
		{"IN 10000", in(10_000), ""},
		{"IN 10001", in(10_001), "max_in_list = 10000"},
		{"CTEs 2^4 tables", ctes(4), ""},
		{"CTEs 2^7 tables", ctes(7), "max_tables = 64"},
		{"many expressions", "SELECT " + strings.Repeat("household_id + 1, ", 30_000) + "1 FROM dancu.citizens", "max_expressions = 50000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := Plan(cat, c.sql, Options{Now: fixedNow})
			d := time.Since(start)
			if c.setting == "" {
				if err != nil {
					t.Fatalf("want a plan: %v", err)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != CodeLimit || !strings.Contains(pe.Msg, c.setting) || !strings.Contains(pe.Msg, "[limits]") {
				t.Fatalf("want LT-LIMIT naming %s, got %v", c.setting, err)
			}
			if d > 2*time.Second {
				t.Errorf("refusing took %s", d)
			}
		})
	}
	// The limits are settable.
	if _, err := Plan(cat, nest(100), Options{Now: fixedNow, Limits: Limits{MaxExpressionDepth: 200}}); err != nil {
		t.Fatalf("raised limit: %v", err)
	}
}
