package engine_test

import (
	"fmt"
	"testing"

	"lienthong/docs/examples"
	"lienthong/engine"
)

// TestExamples runs every sample query of docs/examples on generated
// embedded data (the demo's layout); where the generator seeded a known
// number of cases, the query must find exactly that many.
func TestExamples(t *testing.T) {
	e, m, _ := genEngine(t, 0.01, 3)
	counts := map[string]int64{}
	for _, inc := range m.Inconsistencies {
		counts[inc.Name] = inc.Count
	}
	all := examples.All()
	if len(all) < 6 {
		t.Fatalf("want at least 6 examples, found %d", len(all))
	}
	for _, ex := range all {
		t.Run(ex.Name, func(t *testing.T) {
			if ex.Question == "" {
				t.Errorf("%s has no '-- Question:' line", ex.Name)
			}
			got, err := rows(t, e, ex.SQL, engine.QueryOptions{})
			if err != nil {
				t.Fatalf("%v\n%s", err, ex.SQL)
			}
			if len(got) == 0 {
				t.Errorf("%s returned no rows on generated data", ex.Name)
			}
			if ex.Manifest == "" {
				return
			}
			want, ok := counts[ex.Manifest]
			if !ok {
				t.Fatalf("%s names manifest entry %q, which the generator does not record", ex.Name, ex.Manifest)
			}
			if int64(len(got)) != want {
				t.Errorf("%s: %d rows, the manifest seeded %d", ex.Name, len(got), want)
			}
		})
	}
}

// TestManifestThroughEngine runs the generator's own check of every seeded
// inconsistency through lienthong: federated, the count must be exact.
func TestManifestThroughEngine(t *testing.T) {
	e, m, _ := genEngine(t, 0.01, 5)
	for _, inc := range m.Inconsistencies {
		t.Run(inc.Name, func(t *testing.T) {
			got, err := rows(t, e, inc.SQL, engine.QueryOptions{})
			if err != nil {
				t.Fatalf("%v\n%s", err, inc.SQL)
			}
			if len(got) != 1 || got[0] != fmt.Sprint(inc.Count) {
				t.Errorf("%s: got %v, manifest says %d", inc.Name, got, inc.Count)
			}
		})
	}
}
