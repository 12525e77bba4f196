package planner

import "testing"

// Planning a cross-source join with a filter on each side, and the share
// of it CheckPlan takes (it renders every statement once more).
func BenchmarkPlan(b *testing.B) {
	cat := testCatalog()
	const q = "SELECT c.pin, r.commune_code FROM dancu.citizens c JOIN cutru.residences r ON r.pin = c.pin WHERE c.permanent_commune = '00004' AND r.status = 'active'"
	b.Run("all rules", func(b *testing.B) {
		for b.Loop() {
			if _, err := Plan(cat, q, Options{Now: fixedNow}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CheckPlan alone", func(b *testing.B) {
		s, err := bindPlanning(cat, q, Options{Now: fixedNow})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.apply(rules); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := checkPlan(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
