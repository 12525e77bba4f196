package tokens

import (
	"testing"
	"time"
)

// A seed (a node's tokens file at start) is put in force only on a
// machine that never had a set; a broken seed is refused all the same.
func TestSeed(t *testing.T) {
	at := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	fileA := []byte("[[principals]]\nname = \"a\"\nagency = \"x\"\ntoken_hash = \"" + hashA + "\"\n")
	fileB := []byte("[[principals]]\nname = \"b\"\nagency = \"x\"\ntoken_hash = \"" + hashB + "\"\n")
	var m Machine
	if _, err := m.Apply(cmd(SeedCommand(at, "t.toml", fileA))); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Current().byName["a"]; !ok {
		t.Fatal("the first seed is not in force")
	}
	if _, err := m.Apply(cmd(SeedCommand(at, "t.toml", fileB))); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Current().byName["b"]; ok {
		t.Fatal("a later seed replaced the set in force")
	}
	if _, err := m.Apply(cmd(SeedCommand(at, "t.toml", []byte("[[principals]]\nname = 1\n")))); err == nil {
		t.Fatal("a broken seed was accepted")
	}
	if _, err := m.Apply(cmd(SetCommand(at, "t.toml", fileB))); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Current().byName["b"]; !ok {
		t.Fatal("a set (SIGHUP, the API) is not in force")
	}
}
