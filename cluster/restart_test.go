package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"lienthong/audit/chain"
	"lienthong/internal/testpki"
	"lienthong/policy"
	"lienthong/state"
)

// Every node stopped and started again on its directory: the log is
// replayed into machines that start from the genesis head, the records
// the files hold are recognised rather than written twice, and the state
// hashes and files are what they were. A snapshot taken on one node
// restores on fresh machines (a new directory) to that node's hash, and
// a new node joining the compacted cluster installs it and copies the
// audit file.
func TestRestartOfAllNodesAndASnapshotOnAFreshNode(t *testing.T) {
	t.Parallel() // it mostly waits out bounds and elections
	c := testpki.NewCA(t, "cluster CA")
	nodes := cluster3(t, c)
	ctx := context.Background()
	set, err := policy.SetCommand(time.Now(), "policy.toml", []byte(policyV1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].Propose(ctx, set); err != nil {
		t.Fatal(err)
	}
	a := newAcked()
	stream(nodes, 2, 10, a, nil).Wait()
	converged(t, nodes)
	h, file, seq := nodes[0].hash(t), nodes[0].auditFile(t), nodes[0].chain.Seq()

	for _, n := range nodes {
		n.stop(t)
	}
	var again []*tnode
	for _, n := range nodes {
		again = append(again, start(t, n.cfg))
	}
	eventually(t, 10*time.Second, "a leader after the restart", func() bool { return leaderOf(again) != nil })
	// Until the new leader commits in its term, a node has applied
	// nothing of its log yet.
	eventually(t, 10*time.Second, "the log replayed on every node", func() bool {
		for _, n := range again {
			if n.chain.Seq() < seq {
				return false
			}
		}
		return true
	})
	converged(t, again)
	for _, n := range again {
		if n.hash(t) != h || !bytes.Equal(n.auditFile(t), file) {
			t.Fatalf("%s: after the restart the state hash (%v) or the audit file (%v) is not what it was: head %d, was %d", n.cfg.ID, n.hash(t) == h, bytes.Equal(n.auditFile(t), file), n.chain.Seq(), seq)
		}
	}
	// The replay is done when a new command has been applied after it.
	if _, err := again[2].Propose(ctx, appendCmd(t, "n3", 99)); err != nil {
		t.Fatal(err)
	}
	level(t, again)
	for _, n := range again {
		if n.chain.Seq() != seq+2 {
			t.Fatalf("%s: head %d after the restart, want %d", n.cfg.ID, n.chain.Seq(), seq+2)
		}
		if f := n.auditFile(t); !bytes.HasPrefix(f, file) || len(f) <= len(file) {
			t.Fatalf("%s: the restart changed the audit file's first %d bytes (or added nothing)", n.cfg.ID, len(file))
		}
		if _, err := n.pol.Current().Resolve("alice", "P", ""); err != nil {
			t.Fatalf("%s: the policy did not survive the restart: %v", n.cfg.ID, err)
		}
	}
	sameEverywhere(t, again)

	// A snapshot taken on n2, read from its directory into fresh machines.
	n2 := again[1]
	if err := n2.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	want := n2.hash(t)
	snaps, err := raft.NewFileSnapshotStore(n2.cfg.Dir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	metas, err := snaps.List()
	if err != nil || len(metas) == 0 {
		t.Fatalf("n2's snapshots: %v (%d)", err, len(metas))
	}
	_, rc, err := snaps.Open(metas[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := chain.OpenFileStore(filepath.Join(t.TempDir(), "chain.log"), chain.FileOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	ms := state.NewMachines()
	ms.Register("policy", &policy.Machine{})
	ms.Register("audit", chain.NewMachine(fs))
	if err := newFSM(ms).Restore(rc); err != nil {
		t.Fatal(err)
	}
	b, err := ms.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%x", sha256.Sum256(b)); got != want {
		t.Fatalf("n2's snapshot restored on fresh machines hashes %s, n2 %s", got, want)
	}

	// A new node, on a new directory, joins the compacted cluster.
	for _, n := range again {
		compact(t, n)
	}
	n4 := start(t, Config{ID: "n4", Addr: "127.0.0.1:0", Dir: filepath.Join(t.TempDir(), "n4"), CA: c.Pool, Cert: c.Issue(t, "n4").TLS})
	if err := again[0].Join(ctx, n4.Addr()); err != nil {
		t.Fatal(err)
	}
	all := append(again, n4)
	level(t, all)
	if st, err := n4.Status(ctx); err != nil || st.Snapshot == 0 {
		t.Fatalf("the new node did not install a snapshot: %+v %v", st, err)
	}
	sameEverywhere(t, all)
}

// Two of three nodes lost for good: the survivor, recovered as the only
// member, keeps its state and leads alone; a new node joins it.
func TestRecoverAfterLosingTheMajority(t *testing.T) {
	t.Parallel() // it mostly waits out bounds and elections
	c := testpki.NewCA(t, "cluster CA")
	nodes := cluster3(t, c)
	a := newAcked()
	stream(nodes, 1, 5, a, nil).Wait()
	converged(t, nodes)
	h := nodes[1].hash(t)
	for _, n := range nodes {
		n.stop(t)
	}
	fs, err := chain.OpenFileStore(filepath.Join(nodes[1].cfg.Dir, "chain.log"), chain.FileOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ms := state.NewMachines()
	ms.Register("policy", &policy.Machine{})
	ms.Register("audit", chain.NewMachine(fs))
	cfg := nodes[1].cfg
	cfg.Log = io.Discard
	err = Recover(cfg, ms)
	fs.Close()
	if err != nil {
		t.Fatal(err)
	}
	lone := start(t, nodes[1].cfg)
	eventually(t, 10*time.Second, "the recovered node leads alone", func() bool { return lone.raft.State() == raft.Leader })
	converged(t, []*tnode{lone})
	if lone.hash(t) != h {
		t.Fatal("the recovered node's state is not what it was")
	}
	a.in(t, []*tnode{lone})
	n4 := start(t, Config{ID: "n4", Addr: "127.0.0.1:0", Dir: filepath.Join(t.TempDir(), "n4"), CA: c.Pool, Cert: c.Issue(t, "n4").TLS})
	if err := lone.Join(context.Background(), n4.Addr()); err != nil {
		t.Fatal(err)
	}
	if _, err := n4.Propose(context.Background(), appendCmd(t, "n4", 0)); err != nil {
		t.Fatal(err)
	}
	level(t, []*tnode{lone, n4})
	sameEverywhere(t, []*tnode{lone, n4})
}
