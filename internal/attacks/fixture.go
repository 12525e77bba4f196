// Package attacks is the access policy's attack suite, shared by every
// front-end's tests: a fixture (generated agency data, an engine with and
// one without engine/testdata/policy.toml), a corpus of attempts organised
// by technique, and the check of what each attempt may return. The engine
// runs it in process (as the CLI does); the server runs it over HTTP and
// Flight SQL; the mutation check switches each defence off
// (internal/defence) and expects the suite to notice.
package attacks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"lienthong/bench/gen"
	"lienthong/config"
	"lienthong/engine"
	"lienthong/policy"
)

// The pseudonym keys of the test policy's purposes.
const (
	KeyDeath = "death-followup-test-key-0123456789"
	KeyStats = "population-stats-test-key-9876543210"
)

// The test policy's principals.
var (
	An    = engine.Session{Principal: "an", Agency: "BHXH", Purpose: "DEATH_FOLLOWUP", CaseID: "HS-2026-001"}
	Binh  = engine.Session{Principal: "binh", Agency: "SO_Y_TE", Purpose: "POPULATION_STATISTICS"}
	Cuong = engine.Session{Principal: "cuong", Agency: "UBND_XA", Purpose: "IDENTITY_CHECK"}
	Dung  = engine.Session{Principal: "dung", Agency: "UBND_XA", Purpose: "IDENTITY_CHECK"}
	Em    = engine.Session{Principal: "em", Agency: "SO_Y_TE", Purpose: "POPULATION_STATISTICS"}
)

// Fixture is the data, the engines and what must never reach a client.
type Fixture struct {
	Dir             string
	Open, Secured   *engine.Engine // without and with the access policy
	PINs            []string       // every raw PIN in the data
	Forbidden       []string       // values no principal of the policy may see
	Citizen         [3]string      // one citizen outside province 079: pin, full_name, birth_date
	PolicyPath      string         // a copy of the policy, to rewrite and reload
	SecuredConfig   string         // the secured engine's config file
	HiddenCatalog   []string       // catalog entries "an" must not see listed
	forbiddenLookup map[string]bool
}

// NewFixture generates the data into a temporary directory and opens the
// engines (closed when t ends).
func NewFixture(t testing.TB) *Fixture {
	t.Helper()
	t.Setenv("LT_TEST_KEY_DEATH", KeyDeath)
	t.Setenv("LT_TEST_KEY_STATS", KeyStats)
	dir := t.TempDir()
	f := &Fixture{Dir: dir}
	if _, err := gen.Generate(context.Background(), gen.Options{Scale: 0.003, Seed: 11, Out: dir}); err != nil {
		t.Fatal(err)
	}
	_, here, _, _ := runtime.Caller(0)
	polText, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "engine", "testdata", "policy.toml"))
	if err != nil {
		t.Fatal(err)
	}
	f.PolicyPath = filepath.Join(dir, "policy.toml")
	if err := os.WriteFile(f.PolicyPath, polText, 0o644); err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(filepath.Join(dir, "lienthong.toml"))
	if err != nil {
		t.Fatal(err)
	}
	f.SecuredConfig = filepath.Join(dir, "secured.toml")
	if err := os.WriteFile(f.SecuredConfig, []byte(fmt.Sprintf("policy = %q\n", f.PolicyPath)+string(base)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		path string
		dst  **engine.Engine
	}{{filepath.Join(dir, "lienthong.toml"), &f.Open}, {f.SecuredConfig, &f.Secured}} {
		cfg, err := config.Load(x.path)
		if err != nil {
			t.Fatal(err)
		}
		e, err := engine.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.WaitCatalog(context.Background())
		t.Cleanup(func() { e.Close() })
		*x.dst = e
	}
	all := func(sql string) []string {
		out, err := Rows(f.Open, sql, engine.QueryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	f.PINs = all("SELECT pin FROM dancu.citizens UNION SELECT pin FROM hotich.deaths UNION SELECT pin FROM bhxh.funeral_allowances")
	// What the policy's principals must never see: raw PINs, special
	// categories, full birth dates, and the names of people outside
	// province 079 (which only the filtered citizens table could reveal).
	f.Forbidden = append(f.Forbidden, f.PINs...)
	f.Forbidden = append(f.Forbidden, all("SELECT DISTINCT religion FROM dancu.citizens WHERE religion IS NOT NULL")...)
	// (1 January is what the year mask shows, so it cannot tell.)
	f.Forbidden = append(f.Forbidden, all("SELECT DISTINCT CAST(birth_date AS CHAR) FROM dancu.citizens WHERE NOT (MONTH(birth_date) = 1 AND DAY(birth_date) = 1) AND birth_date NOT IN (SELECT death_date FROM hotich.deaths) AND birth_date NOT IN (SELECT paid_on FROM bhxh.funeral_allowances) AND birth_date NOT IN (SELECT valid_from FROM bhxh.health_cards) AND birth_date NOT IN (SELECT valid_to FROM bhxh.health_cards) AND birth_date NOT IN (SELECT registered_on FROM hotich.deaths) AND (death_date IS NULL OR birth_date NOT IN (SELECT death_date FROM dancu.citizens WHERE death_date IS NOT NULL))")...)
	f.Forbidden = append(f.Forbidden, all("SELECT DISTINCT full_name FROM dancu.citizens WHERE hometown_province <> '079' AND full_name NOT IN (SELECT full_name FROM dancu.citizens WHERE hometown_province = '079')")...)
	// Pseudonyms under another purpose's key must not appear either.
	for _, p := range f.PINs {
		f.Forbidden = append(f.Forbidden, policy.PseudonymOf([]byte(KeyStats), p))
	}
	c := all("SELECT CONCAT(pin, '|', full_name, '|', CAST(birth_date AS CHAR)) FROM dancu.citizens WHERE hometown_province <> '079' ORDER BY pin LIMIT 1")
	copy(f.Citizen[:], strings.Split(c[0], "|"))
	if len(f.Forbidden) < 100 {
		t.Fatalf("the fixture is too small to test anything: %d forbidden values", len(f.Forbidden))
	}
	f.HiddenCatalog = []string{"hotich.births", "dancu.households", "yte.visits", "dancu.citizens.phone", "dancu.citizens.father_pin"}
	return f
}

// Rows runs sql and renders each row canonically ("a | b | c").
func Rows(e *engine.Engine, sql string, opt engine.QueryOptions) ([]string, error) {
	res, err := e.Query(context.Background(), sql, opt)
	if err != nil {
		return nil, err
	}
	defer res.Release()
	var out []string
	for res.Next() {
		out = append(out, Lines(res.RecordBatch())...)
	}
	return out, res.Err()
}

// Lines renders a batch's rows canonically.
func Lines(rec arrow.RecordBatch) []string {
	var out []string
	for i := 0; i < int(rec.NumRows()); i++ {
		var b strings.Builder
		for c := 0; c < int(rec.NumCols()); c++ {
			if c > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(Canon(rec.Column(c), i))
		}
		out = append(out, b.String())
	}
	return out
}

// Canon renders one cell the same way whatever the source's types.
func Canon(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return "NULL"
	}
	switch a := col.(type) {
	case *array.Float64:
		// Sums of doubles differ in the last bits with summation order.
		return strconv.FormatFloat(a.Value(i), 'g', 9, 64)
	case *array.Date32:
		return a.Value(i).ToTime().Format("2006-01-02")
	case *array.Timestamp:
		return a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit).UTC().Format("2006-01-02 15:04:05.999999")
	case *array.String:
		return strings.Clone(a.Value(i))
	}
	return col.ValueStr(i)
}

// Leak returns the first forbidden value in what a client received, other
// than those the attacker wrote into the query (EXPLAIN echoes them): any
// cell equal to one, or any PIN or pseudonym inside messages and plans.
func (f *Fixture) Leak(cells []string, text, query string) string {
	for _, row := range cells {
		for _, c := range strings.Split(row, " | ") {
			if f.forbidden(c) && !strings.Contains(query, c) {
				return c
			}
		}
	}
	for _, v := range f.Forbidden {
		if (len(v) == 12 || len(v) == 32) && strings.Contains(text, v) && !strings.Contains(query, v) {
			return v
		}
	}
	return ""
}

// statsPseudonym reports a pseudonym under POPULATION_STATISTICS's key:
// forbidden to other purposes, the own view of that purpose's principals.
func (f *Fixture) statsPseudonym(v string) bool {
	for _, p := range f.PINs {
		if policy.PseudonymOf([]byte(KeyStats), p) == v {
			return true
		}
	}
	return false
}

func (f *Fixture) forbidden(v string) bool {
	if f.forbiddenLookup == nil {
		f.forbiddenLookup = map[string]bool{}
		for _, x := range f.Forbidden {
			f.forbiddenLookup[x] = true
		}
	}
	return f.forbiddenLookup[v]
}
