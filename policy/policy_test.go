package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestExamplePolicyLoads(t *testing.T) {
	t.Setenv("LT_KEY_DEATH", "0123456789abcdef-death")
	t.Setenv("LT_KEY_STATS", "0123456789abcdef-stats")
	p, err := Load("../docs/examples/policy.toml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Resolve("an", "DEATH_FOLLOWUP", "HS-1")
	if err != nil {
		t.Fatal(err)
	}
	ta, err := a.Table("dancu", "citizens", []string{"pin", "full_name", "religion", "phone"}, map[string]bool{"religion": true})
	if err != nil {
		t.Fatal(err)
	}
	if ta.Columns["pin"].Mask != Pseudonym || ta.Columns["religion"].Mask != "NULL" || ta.Columns["full_name"].Mask != "" {
		t.Errorf("masks: %+v", ta.Columns)
	}
	if _, ok := ta.Columns["phone"]; ok {
		t.Error("phone is not granted")
	}
	if len(ta.RowFilters) != 1 || ta.RowFilters[0] != "hometown_province = '079'" {
		t.Errorf("row filter: %v", ta.RowFilters)
	}
	if _, err := a.Table("hotich", "births", nil, nil); !errors.Is(err, ErrDenied) {
		t.Errorf("births must be denied, got %v", err)
	}
	if _, err := p.Resolve("an", "DEATH_FOLLOWUP", ""); err == nil || !strings.Contains(err.Error(), "case") {
		t.Errorf("DEATH_FOLLOWUP requires a case id: %v", err)
	}
	b, _ := p.Resolve("binh", "POPULATION_STATISTICS", "")
	if b == nil || b.MinGroup != 10 || b.Privacy.MaxGroupsPerCitizen != 1 {
		t.Fatalf("binh: k=10 and the privacy defaults: %+v", b)
	}
	if ta, err := b.Table("dancu", "citizens", []string{"pin", "sex"}, nil); err != nil || !ta.AggregateOnly {
		t.Errorf("dancu.citizens must be aggregate-only for binh: %+v %v", ta, err)
	}
}

func TestAttributeQuoting(t *testing.T) {
	t.Setenv("K", "0123456789abcdef0123")
	p, err := Parse("p.toml", []byte(`
[[purposes]]
name = "P"
[[roles]]
name = "r"
[[principals]]
name = "x"
agency = "A"
roles = ["r"]
attributes = { province = "0' OR '1'='1" }
[[grants]]
role = "r"
purposes = ["P"]
source = "s"
table = "t"
row_filter = "province = ${user.province}"
`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Resolve("x", "P", "")
	if err != nil {
		t.Fatal(err)
	}
	ta, err := a.Table("s", "t", []string{"province"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The attribute stays one string literal: no injection into the filter.
	if ta.RowFilters[0] != `province = '0'' OR ''1''=''1'` {
		t.Errorf("attribute not quoted: %s", ta.RowFilters[0])
	}
}

func TestPseudonymsDifferByKey(t *testing.T) {
	a := PseudonymOf([]byte("key-one-0123456789"), "079090000001")
	b := PseudonymOf([]byte("key-two-0123456789"), "079090000001")
	if a == b || len(a) != 32 || a != PseudonymOf([]byte("key-one-0123456789"), "079090000001") {
		t.Errorf("pseudonyms: %s %s", a, b)
	}
}

func TestRoleOperations(t *testing.T) {
	const base = `
[[purposes]]
name = "p"
[[roles]]
name = "ops"
operations = ["audit", "cluster"]
[[roles]]
name = "analyst"
[[principals]]
name = "olga"
agency = "bca"
roles = ["analyst", "ops"]
[[principals]]
name = "an"
agency = "bca"
roles = ["analyst"]
`
	p, err := Parse("p.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who, op string
		may     bool
	}{{"olga", OpAudit, true}, {"olga", OpCluster, true}, {"olga", OpPolicy, false}, {"an", OpAudit, false}, {"nobody", OpAudit, false}} {
		if got := p.May(c.who, c.op); got != c.may {
			t.Errorf("May(%s, %s) = %v, want %v", c.who, c.op, got, c.may)
		}
	}
	_, err = Parse("p.toml", []byte(strings.Replace(base, `"cluster"]`, `"root"]`, 1)))
	var pe *Error
	if !errors.As(err, &pe) || pe.Line != 4 || !strings.Contains(pe.Msg, `unknown operation "root"`) {
		t.Fatalf("unknown operation: %v", err)
	}
}
