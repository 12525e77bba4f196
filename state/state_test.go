package state_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lienthong/audit/chain"
	"lienthong/policy"
	"lienthong/state"
)

const policyV1 = `
[[purposes]]
name = "P"
[[roles]]
name = "r"
[[principals]]
name = "alice"
agency = "A"
roles = ["r"]
[[grants]]
role = "r"
purposes = ["P"]
source = "s"
table = "t"
`

// node is one node's state: the audit chain and the policy behind one
// local store.
type node struct {
	store  *state.Local
	chain  *chain.Machine
	policy *policy.Machine
}

func newNode(t *testing.T) *node {
	t.Helper()
	fs, err := chain.OpenFileStore(filepath.Join(t.TempDir(), "audit.log"), chain.FileOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	n := &node{store: state.NewLocal(), chain: chain.NewMachine(fs), policy: &policy.Machine{}}
	n.store.Register("audit", n.chain)
	n.store.Register("policy", n.policy)
	return n
}

func (n *node) apply(t *testing.T, c state.Command) {
	t.Helper()
	if _, err := n.store.Propose(context.Background(), c); err != nil {
		t.Fatalf("%s: %v", c.Op, err)
	}
}

func TestCommandsSnapshotsAndRefusals(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a := newNode(t)
	set, err := policy.SetCommand(at, "policy.toml", []byte(policyV1))
	if err != nil {
		t.Fatal(err)
	}
	a.apply(t, set)
	rec, err := state.New(chain.OpAppend, at, []*chain.Record{{Kind: chain.KindOpen, Node: "n1"}})
	if err != nil {
		t.Fatal(err)
	}
	a.apply(t, rec)
	if _, err := a.policy.Current().Resolve("alice", "P", ""); err != nil {
		t.Fatalf("the applied policy does not grant alice: %v", err)
	}

	// An invalid policy is refused whole, with its line; the one in force stays.
	bad, _ := policy.SetCommand(at, "policy.toml", []byte(policyV1+"\n[[grants]]\nrole = \"nobody\"\nbogus = 1\n"))
	_, err = a.store.Propose(context.Background(), bad)
	var pe *policy.Error
	if !errors.As(err, &pe) || pe.Line == 0 {
		t.Fatalf("invalid policy: %v, want a policy error with its line", err)
	}
	if _, err := a.policy.Current().Resolve("alice", "P", ""); err != nil {
		t.Fatalf("a refused policy replaced the one in force: %v", err)
	}
	if _, err := a.store.Propose(context.Background(), state.Command{Op: "tokens.add"}); err == nil || !strings.Contains(err.Error(), "no machine") {
		t.Fatalf("a command no machine owns: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.store.Propose(ctx, rec); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled proposal: %v", err)
	}

	// A node restored from a's snapshot has its policy and head, and the
	// next command gives both the same record.
	snap, err := a.store.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := newNode(t)
	if err := b.store.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if _, err := b.policy.Current().Resolve("alice", "P", ""); err != nil {
		t.Fatalf("restored policy: %v", err)
	}
	next, _ := state.New(chain.OpAppend, at.Add(time.Minute), []*chain.Record{{Kind: chain.KindClose, Node: "n1"}})
	ra, err := a.store.Propose(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.store.Propose(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	if x, y := ra.([]*chain.Record)[0], rb.([]*chain.Record)[0]; x.Seq != 2 || string(x.Raw) != string(y.Raw) {
		t.Fatalf("after restore the nodes diverge:\n%s%s", x.Raw, y.Raw)
	}
	if err := b.store.Restore([]byte(`{"tokens":{}}`)); err == nil {
		t.Fatal("a snapshot part no machine owns was accepted")
	}
	// A snapshot with such a part restores nothing, not the parts before it.
	if err := b.store.Restore([]byte(`{"policy":{},"tokens":{}}`)); err == nil || b.policy.Current() == nil {
		t.Fatalf("a snapshot with a part no machine owns: %v; policy in force %v", err, b.policy.Current() != nil)
	}
}
