package engine_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"lienthong/engine"
)

// TestPolicyFuzz: random grants (columns, masks, pseudonyms, row filters,
// aggregate-only) times random SQL over them. Whatever the combination, no
// query may crash the process (a DuckDB SIGSEGV ends the test binary), and
// every refusal or failure is a user-class error with a stable code, never
// an internal one. Bounded by time; the seed is logged to replay.
func TestPolicyFuzz(t *testing.T) {
	f := newPolicyFixture(t)
	base, err := os.ReadFile(f.policyPath)
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LT_FUZZ_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (LT_FUZZ_SEED=%d replays it)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 7))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	userCodes := map[string]bool{"LT-DENIED": true, "LT-UNKNOWN": true, "LT-TYPE": true, "LT-UNSUPPORTED": true, "LT-SYNTAX": true,
		"LT-AMBIGUOUS": true, "LT-BUDGET": true, "LT-RATE-LIMIT": true, "LT-LIMIT": true, "LT-READONLY": true}
	tables := map[string][]string{
		"dancu.citizens": {"pin", "full_name", "birth_date", "sex", "religion", "hometown_province", "permanent_commune", "death_date", "household_id"},
		"hotich.deaths":  {"pin", "death_date", "registration_id"},
		"yte.visits":     {"pin", "visit_date", "diagnosis_code", "cost"},
	}
	masks := map[string][]string{
		"pin":        {"pseudonym", "NULL", "LEFT(pin, 3)"},
		"full_name":  {"NULL", "LEFT(full_name, 1)", "UPPER(full_name)"},
		"birth_date": {"YEAR(birth_date)", "NULL"},
		"religion":   {"religion", "NULL"},
		"cost":       {"ROUND(cost, -3)", "NULL"},
	}
	filters := []string{"", "hometown_province = ${user.province}", "sex = 'F'", "death_date IS NULL", "pin LIKE '0%'"}
	// A fixed amount of work (about 8 s on an idle 2-core machine), capped
	// in time so a loaded machine still finishes: the floor below fails a
	// run too short to mean anything.
	deadline := time.Now().Add(90 * time.Second)
	policies, queries := 0, 0
	for policies < 12 && time.Now().Before(deadline) {
		var g strings.Builder
		names := []string{}
		for tbl, cols := range tables {
			if r.IntN(4) == 0 {
				continue
			}
			names = append(names, tbl)
			src, name, _ := strings.Cut(tbl, ".")
			role := pick("fuzz", "fuzzagg")
			fmt.Fprintf(&g, "\n[[grants]]\nrole = %q\npurposes = [\"DEATH_FOLLOWUP\"]\nsource = %q\ntable = %q\n", role, src, name)
			var granted, ms []string
			for _, c := range cols {
				if c == "pin" || r.IntN(3) > 0 {
					granted = append(granted, fmt.Sprintf("%q", c))
					if m := masks[c]; m != nil && r.IntN(2) == 0 {
						ms = append(ms, fmt.Sprintf("%s = %q", c, m[r.IntN(len(m))]))
					}
				}
			}
			fmt.Fprintf(&g, "columns = [%s]\n", strings.Join(granted, ", "))
			if len(ms) > 0 {
				fmt.Fprintf(&g, "masks = { %s }\n", strings.Join(ms, ", "))
			}
			if fl := filters[r.IntN(len(filters))]; fl != "" && (src == "dancu" || !strings.Contains(fl, "province") && !strings.Contains(fl, "sex")) {
				fmt.Fprintf(&g, "row_filter = %q\n", fl)
			}
			if src == "yte" {
				g.WriteString("bounds = { cost = [0, 1000000] }\n")
			}
		}
		pol := string(base) + "\n[[roles]]\nname = \"fuzz\"\n\n[[roles]]\nname = \"fuzzagg\"\naggregate_only = true\n\n[[principals]]\nname = \"fz\"\nagency = \"X\"\nroles = [\"fuzz\", \"fuzzagg\"]\nattributes = { province = \"079\" }\n" + g.String()
		if err := os.WriteFile(f.policyPath, []byte(pol), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := f.secured.ReloadPolicy(); err != nil {
			continue // a grant set the policy refuses (e.g. none at all) is fine
		}
		policies++
		who := engine.Session{Principal: "fz", Agency: "X", Purpose: "DEATH_FOLLOWUP", CaseID: "F-1"}
		for i := 0; i < 20 && len(names) > 0; i++ {
			tbl := names[r.IntN(len(names))]
			cols := tables[tbl]
			col := func() string { return cols[r.IntN(len(cols))] }
			lit := pick("'"+f.citizen[0]+"'", "'079'", "'F'", "1", "0", "'1990-05-01'", "DATE '1990-01-01'", "NULL", "'x''y'", `'\\'`)
			where := pick("", " WHERE "+col()+" = "+lit, " WHERE "+col()+" IS NOT NULL", " WHERE CAST("+col()+" AS SIGNED) = "+lit,
				" WHERE "+col()+" LIKE '0%'", " WHERE "+col()+" IN ("+lit+", "+lit+")", " WHERE 1 / 0 = "+col())
			q := pick(
				"SELECT "+col()+" FROM "+tbl+where,
				"SELECT COUNT(*) FROM "+tbl+where,
				"SELECT "+col()+", COUNT(*) FROM "+tbl+where+" GROUP BY "+col(),
				"SELECT COUNT(DISTINCT pin) FROM "+tbl+where,
				"SELECT SUM("+col()+") FROM "+tbl+where,
				"SELECT * FROM "+tbl+where+" ORDER BY 1 LIMIT 3",
				"SELECT a."+col()+" FROM "+tbl+" a JOIN "+names[r.IntN(len(names))]+" b ON b.pin = a.pin"+strings.ReplaceAll(where, " WHERE ", " WHERE a."),
				"SELECT COUNT(*) FROM "+tbl+" WHERE pin IN (SELECT pin FROM "+names[r.IntN(len(names))]+")",
				"SELECT (SELECT COUNT(*) FROM "+tbl+") AS n",
				"WITH x AS (SELECT * FROM "+tbl+") SELECT COUNT(*) FROM x"+where,
				"SELECT "+col()+", ROW_NUMBER() OVER (ORDER BY "+col()+") FROM "+tbl+" LIMIT 5",
			)
			queries++
			_, err := rows(t, f.secured, q, engine.QueryOptions{Session: who})
			if err == nil {
				continue
			}
			if code := engine.ErrorCode(err); !userCodes[code] {
				t.Errorf("policy:\n%s\nquery %s\ngave %s: %v", g.String(), q, code, err)
			}
		}
	}
	t.Logf("%d policies, %d queries", policies, queries)
	if policies < 5 || queries < 50 {
		t.Errorf("the fuzz ran too little to mean anything: %d policies, %d queries", policies, queries)
	}
}
