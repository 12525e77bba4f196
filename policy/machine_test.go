package policy

import (
	"strings"
	"testing"
	"time"
)

// A seed (a node's policy file at start) is put in force only when no
// policy is; a broken seed is refused all the same; a set replaces.
func TestSeed(t *testing.T) {
	at := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	v1 := "[[purposes]]\nname = \"P\"\n[[roles]]\nname = \"r\"\n[[principals]]\nname = \"a\"\nagency = \"A\"\nroles = [\"r\"]\n"
	v2 := strings.Replace(v1, `name = "a"`, `name = "b"`, 1)
	apply := func(m *Machine, seed bool, text string) error {
		c, err := SetCommand(at, "p.toml", []byte(text))
		if seed {
			c, err = SeedCommand(at, "p.toml", []byte(text))
		}
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Apply(c)
		return err
	}
	var m Machine
	if err := apply(&m, true, v1); err != nil {
		t.Fatal(err)
	}
	if err := apply(&m, true, v2); err != nil {
		t.Fatal(err)
	}
	if _, text := m.File(); text != v1 {
		t.Fatalf("a later seed replaced the policy in force: %q", text)
	}
	if err := apply(&m, true, v2+"[[grants]]\nrole = \"nosuch\"\n"); err == nil {
		t.Fatal("a broken seed was accepted")
	}
	if err := apply(&m, false, v2); err != nil {
		t.Fatal(err)
	}
	if _, text := m.File(); text != v2 || m.Current() == nil {
		t.Fatal("a set is not in force")
	}
	// The snapshot carries no seed flag: a restored machine is the same.
	b, _ := m.Snapshot()
	if strings.Contains(string(b), "seed") {
		t.Fatalf("snapshot: %s", b)
	}
}
