package tokens

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"lienthong/state"
)

// hashes are made once: argon2id is deliberately slow.
var hashA, hashB = mustHash("lt_token-a-0123456789abcdef"), mustHash("lt_token-b-0123456789abcdef")

func mustHash(tok string) string {
	h, err := Hash(tok)
	if err != nil {
		panic(err)
	}
	return h
}

func cmd(c state.Command, err error) state.Command {
	if err != nil {
		panic(err)
	}
	return c
}

func snapshot(t *testing.T, m *Machine) []byte {
	t.Helper()
	b, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMachineDeterministic: the same commands give the same principals,
// byte for byte, on two machines; a refused command changes nothing; a
// snapshot restores on a fresh machine, which then goes on identically.
func TestMachineDeterministic(t *testing.T) {
	at := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	file := "[[principals]]\nname = \"a\"\nagency = \"bhxh\"\ntoken_hash = \"" + hashA + "\"\n\n[[principals]]\nname = \"svc\"\nagency = \"yte\"\ncert_cn = \"svc.yte.gov.vn\"\n"
	good := []state.Command{
		cmd(SetCommand(at, "tokens.toml", []byte(file))),
		cmd(PutCommand(at, Entry{Name: "b", Agency: "cutru", TokenHash: hashB})),
		cmd(PutCommand(at, Entry{Name: "a", Agency: "bhxh-hn", TokenHash: hashA})), // replaces in place
		cmd(RevokeCommand(at, "svc")),
	}
	refused := []state.Command{
		cmd(SetCommand(at, "tokens.toml", []byte("[[principals]]\nname = \"a\"\n"))),
		cmd(PutCommand(at, Entry{Name: "c", Agency: "x", TokenHash: "plain"})),
		cmd(PutCommand(at, Entry{Name: "c", Agency: "x", CertCN: "a"})), // a's CN
		cmd(PutCommand(at, Entry{Agency: "x"})),
		cmd(RevokeCommand(at, "nobody")),
		{Op: "tokens.grant", Time: at},
		{Op: OpPut, Time: at, Body: json.RawMessage(`{"name": 5}`)},
	}
	var m1, m2 Machine
	for _, c := range good {
		for _, m := range []*Machine{&m1, &m2} {
			if _, err := m.Apply(c); err != nil {
				t.Fatalf("%s: %v", c.Op, err)
			}
		}
		// Refusals between the good commands leave the state as it was.
		before := snapshot(t, &m1)
		for _, r := range refused {
			if _, err := m1.Apply(r); err == nil {
				t.Errorf("%s %s: accepted", r.Op, r.Body)
			}
		}
		if after := snapshot(t, &m1); !bytes.Equal(before, after) {
			t.Fatalf("refused commands changed the state:\n%s\n%s", before, after)
		}
	}
	s1, s2 := snapshot(t, &m1), snapshot(t, &m2)
	if !bytes.Equal(s1, s2) {
		t.Fatalf("same commands, different snapshots:\n%s\n%s", s1, s2)
	}
	if bytes.Contains(s1, []byte("lt_token")) {
		t.Fatal("a token in the snapshot")
	}
	set := m1.Current()
	if got := len(set.Entries()); got != 2 {
		t.Fatalf("%d principals, want a and b: %s", got, s1)
	}
	if e, ok := set.Lookup("a"); !ok || e.Agency != "bhxh-hn" {
		t.Errorf("a after put: %+v %v", e, ok)
	}
	if _, ok := set.ByCN("svc.yte.gov.vn"); ok {
		t.Error("revoked svc's certificate still names it")
	}
	if e, ok, runs := set.Verify("lt_token-b-0123456789abcdef"); !ok || e.Name != "b" || runs != 2 {
		t.Errorf("b's token: %+v %v after %d runs", e, ok, runs)
	}
	if _, ok, _ := set.Verify("lt_token-c-0123456789abcdef"); ok {
		t.Error("a wrong token verified")
	}

	var fresh Machine
	if err := fresh.Restore(s1); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, &fresh); !bytes.Equal(got, s1) {
		t.Fatalf("restored snapshot differs:\n%s\n%s", got, s1)
	}
	next := cmd(RevokeCommand(at, "a"))
	for _, m := range []*Machine{&m1, &fresh} {
		if _, err := m.Apply(next); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(snapshot(t, &m1), snapshot(t, &fresh)) {
		t.Fatal("a restored machine went on differently")
	}
	// A snapshot that does not hold together is refused.
	if err := fresh.Restore([]byte(`[{"name": "a", "agency": "x"}, {"name": "a", "agency": "y"}]`)); err == nil {
		t.Fatal("snapshot with a duplicate: no error")
	}
	if err := fresh.Restore([]byte(`[]`)); err != nil || len(fresh.Current().Entries()) != 0 {
		t.Fatalf("empty snapshot: %v, %d principals", err, len(fresh.Current().Entries()))
	}
}

func TestParseNamesTheLine(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"[[principals]]\nname = \"a\"\nagency = \"x\"\n\n[[principals]]\nagency = \"y\"\n", "t.toml:5: principal 2: missing name"},
		{"[[principals]]\nname = \"a\"\nagency = \"x\"\n[[principals]]\nname = \"b\"\nagency = \"y\"\ncert_cn = \"a\"\n", "t.toml:7: principal \"b\": certificate CN \"a\" already names another principal"},
		{"[[principals]]\nname = \"a\"\nagency = \"x\"\ntoken_hash = \"$argon2id$v=18$m=19456,t=2,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA\"\n", "t.toml:4: principal \"a\": token_hash: argon2id version"},
		{"[[principals]\nname = \"a\"\n", "t.toml:2: expected end of table array name"},
		{"[principals]\nname = \"a\"\n", "t.toml: "},
	} {
		_, err := Parse("t.toml", []byte(c.text))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q...", c.text, err, c.want)
		}
	}
}
