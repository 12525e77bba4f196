package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"lienthong/audit/chain"
	"lienthong/internal/testpki"
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

// tnode is one node with the machines a node replicates today: the policy
// and the audit chain over its own file.
type tnode struct {
	*Node
	cfg   Config
	ms    *state.Machines
	pol   *policy.Machine
	chain *chain.Machine
	fs    *chain.FileStore
	down  bool
}

const testPropose = 3 * time.Second

func start(t testing.TB, cfg Config) *tnode {
	t.Helper()
	if cfg.ProposeTimeout == 0 {
		cfg.ProposeTimeout = testPropose
	}
	cfg.ElectionTimeout = 500 * time.Millisecond
	cfg.Log = io.Discard
	if testing.Verbose() {
		cfg.Log = os.Stderr
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fs, err := chain.OpenFileStore(filepath.Join(cfg.Dir, "chain.log"), chain.FileOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	tn := &tnode{cfg: cfg, ms: state.NewMachines(), pol: &policy.Machine{}, chain: chain.NewMachine(fs), fs: fs}
	tn.ms.Register("policy", tn.pol)
	tn.ms.Register("audit", tn.chain)
	if tn.Node, err = Open(cfg, tn.ms); err != nil {
		fs.Close()
		t.Fatal(err)
	}
	tn.cfg.Addr = tn.Addr()
	t.Cleanup(func() { tn.stop(t) })
	return tn
}

// stop shuts the node down hard: it does not leave the membership.
func (tn *tnode) stop(t testing.TB) {
	if tn.down {
		return
	}
	tn.down = true
	if err := tn.Shutdown(); err != nil {
		t.Errorf("%s: shutdown: %v", tn.cfg.ID, err)
	}
	tn.fs.Close()
}

func (tn *tnode) hash(t *testing.T) string {
	t.Helper()
	b, err := tn.ms.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

func (tn *tnode) auditFile(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tn.cfg.Dir, "chain.log"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// records is the chain in the node's file, seq to hash.
func (tn *tnode) records(t *testing.T) map[uint64]string {
	t.Helper()
	out := map[uint64]string{}
	if err := tn.fs.Iterate(1, func(r *chain.Record) error { out[r.Seq] = r.Hash; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// eventually polls cond for up to d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cluster3 starts three nodes: n1 bootstraps, n2 and n3 join (n3 through
// n2, so the join is forwarded to the leader).
func cluster3(t testing.TB, c *testpki.CA) []*tnode { return cluster3f(t, c, nil, 0) }

// cluster3f is cluster3 with the nodes' links passing through f and
// proposals bounded by bound (0: testPropose).
func cluster3f(t testing.TB, c *testpki.CA, f *faults, bound time.Duration) []*tnode {
	t.Helper()
	var nodes []*tnode
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("n%d", i)
		n := start(t, Config{ID: id, Addr: "127.0.0.1:0", Dir: filepath.Join(t.TempDir(), id), CA: c.Pool, Cert: c.Issue(t, id).TLS, ProposeTimeout: bound})
		if f != nil {
			f.attach(n)
		}
		nodes = append(nodes, n)
	}
	if err := nodes[0].Bootstrap(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "n1 leads", func() bool { return nodes[0].raft.State() == raft.Leader })
	ctx := context.Background()
	if err := nodes[0].Join(ctx, nodes[1].Addr()); err != nil {
		t.Fatalf("n2 joins: %v", err)
	}
	if err := nodes[1].Join(ctx, nodes[2].Addr()); err != nil {
		t.Fatalf("n3 joins through n2: %v", err)
	}
	return nodes
}

func appendCmd(t testing.TB, node string, i int) state.Command {
	t.Helper()
	c, err := state.New(chain.OpAppend, time.Date(2026, 12, 2, 0, 0, i, 0, time.UTC), []*chain.Record{
		{Kind: chain.KindOpen, Node: node, Principal: fmt.Sprintf("p%d", i)},
		{Kind: chain.KindClose, Node: node, Principal: fmt.Sprintf("p%d", i)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// converged waits until every node has committed the same log and its
// machines have applied the last command in it (raft's AppliedIndex only
// says the entries were handed to the FSM).
func converged(t *testing.T, nodes []*tnode) {
	t.Helper()
	eventually(t, 15*time.Second, "every node applies the same commands", func() bool {
		want := nodes[0].raft.CommitIndex()
		for _, n := range nodes {
			if n.raft.AppliedIndex() != want || n.raft.CommitIndex() != want {
				return false
			}
		}
		last := lastCommand(t, nodes[0], want)
		for _, n := range nodes {
			if n.fsm.applied.Load() != last {
				return false
			}
		}
		return true
	})
}

// lastCommand is the index of the last command entry at or below idx in
// n's log (or, when the log was compacted, the FSM's own).
func lastCommand(t *testing.T, n *tnode, idx uint64) uint64 {
	first, err := n.store.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	for i := idx; i >= first && i > 0; i-- {
		var l raft.Log
		if err := n.store.GetLog(i, &l); err != nil {
			break
		}
		if l.Type == raft.LogCommand {
			return i
		}
	}
	return n.fsm.applied.Load()
}

func TestThreeNodesReplicatePolicyAndAudit(t *testing.T) {
	c := testpki.NewCA(t, "cluster CA")
	nodes := cluster3(t, c)
	ctx := context.Background()

	// A policy set from a follower is in force everywhere; the proposer
	// gets its own machine's answer.
	set, err := policy.SetCommand(time.Now(), "policy.toml", []byte(policyV1))
	if err != nil {
		t.Fatal(err)
	}
	got, err := nodes[2].Propose(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := got.(*policy.Policy); !ok || p != nodes[2].pol.Current() {
		t.Fatalf("the proposer got %T, not its own machine's policy", got)
	}
	// An invalid one is refused on the proposer with the machine's error.
	bad, _ := policy.SetCommand(time.Now(), "policy.toml", []byte(policyV1+"\n[[grants]]\nrole = \"nobody\"\nbogus = 1\n"))
	var pe *policy.Error
	if _, err := nodes[1].Propose(ctx, bad); !errors.As(err, &pe) || pe.Line == 0 {
		t.Fatalf("invalid policy from a follower: %v, want its policy error with the line", err)
	}

	// Audit appends from every node at once: each proposer gets its
	// records sealed, and no two share a sequence number.
	const per = 15
	var mu sync.Mutex
	seen := map[uint64]string{}
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				r, err := n.Propose(ctx, appendCmd(t, n.cfg.ID, i))
				if err != nil {
					t.Errorf("%s: append %d: %v", n.cfg.ID, i, err)
					return
				}
				mu.Lock()
				for _, rec := range r.([]*chain.Record) {
					if rec.Seq == 0 || seen[rec.Seq] != "" {
						t.Errorf("%s: record seq %d sealed twice or not at all", n.cfg.ID, rec.Seq)
					}
					seen[rec.Seq] = rec.Hash
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if len(seen) != 3*per*2 {
		t.Fatalf("%d records sealed, want %d", len(seen), 3*per*2)
	}
	converged(t, nodes)
	h, file := nodes[0].hash(t), nodes[0].auditFile(t)
	for _, n := range nodes {
		if _, err := n.pol.Current().Resolve("alice", "P", ""); err != nil {
			t.Errorf("%s: the replicated policy does not grant alice: %v", n.cfg.ID, err)
		}
		if n.hash(t) != h {
			t.Errorf("%s: state hash differs from n1's", n.cfg.ID)
		}
		if !bytes.Equal(n.auditFile(t), file) {
			t.Errorf("%s: audit file differs from n1's", n.cfg.ID)
		}
		recs := n.records(t)
		for seq, hash := range seen {
			if recs[seq] != hash {
				t.Errorf("%s: record %d is %q, the proposer was given %q", n.cfg.ID, seq, recs[seq], hash)
			}
		}
	}

	st, err := nodes[1].Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != "n1" || len(st.Members) != 3 || st.Commit == 0 || st.Term == 0 {
		t.Fatalf("status from n2: %+v", st)
	}
	for _, m := range st.Members {
		if !m.Voter || !m.Reachable || m.Lag != 0 || m.Applied != st.Commit {
			t.Errorf("status member %+v (commit %d)", m, st.Commit)
		}
	}

	// Removal, forwarded from a follower.
	if err := nodes[2].Remove(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "n2 out of the membership", func() bool {
		st, err := nodes[0].Status(ctx)
		return err == nil && len(st.Members) == 2
	})
}

func leaderOf(nodes []*tnode) *tnode {
	for _, n := range nodes {
		if !n.down && n.raft.State() == raft.Leader {
			return n
		}
	}
	return nil
}

func TestLeaderLossAndCatchUpBySnapshot(t *testing.T) {
	c := testpki.NewCA(t, "cluster CA")
	nodes := cluster3(t, c)
	ctx := context.Background()
	old := leaderOf(nodes)
	var survivors []*tnode
	for _, n := range nodes {
		if n != old {
			survivors = append(survivors, n)
		}
	}

	// A stream of appends from both followers; the leader is stopped hard
	// in the middle of it.
	var mu sync.Mutex
	ok := map[uint64]string{} // every record a proposer was told is sealed
	okCount, failed := 0, 0
	stopStream := make(chan struct{})
	var wg sync.WaitGroup
	for _, n := range survivors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopStream:
					return
				default:
				}
				r, err := n.Propose(ctx, appendCmd(t, n.cfg.ID, i))
				mu.Lock()
				if err != nil {
					failed++
				} else {
					okCount++
					for _, rec := range r.([]*chain.Record) {
						ok[rec.Seq] = rec.Hash
					}
				}
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return okCount }
	eventually(t, 20*time.Second, "30 appends before the leader stops", func() bool { return count() >= 30 })
	killed := time.Now()
	old.stop(t)
	var newLeader *tnode
	eventually(t, 10*time.Second, "a new leader", func() bool { newLeader = leaderOf(survivors); return newLeader != nil })
	t.Logf("new leader %s after %s", newLeader.cfg.ID, time.Since(killed).Round(time.Millisecond))
	before := count()
	eventually(t, 20*time.Second, "30 appends after the new leader", func() bool { return count() >= before+30 })
	close(stopStream)
	wg.Wait()
	t.Logf("%d appends succeeded, %d failed", okCount, failed)

	converged(t, survivors)
	for _, n := range survivors {
		recs := n.records(t)
		for seq, hash := range ok {
			if recs[seq] != hash {
				t.Fatalf("%s: record %d is %q; a proposer was told it is %q", n.cfg.ID, seq, recs[seq], hash)
			}
		}
	}
	if !bytes.Equal(survivors[0].auditFile(t), survivors[1].auditFile(t)) {
		t.Fatal("the survivors' audit files differ")
	}

	// The survivors snapshot and drop their logs, so the stopped node can
	// only catch up by installing a snapshot.
	for _, n := range survivors {
		rc := n.raft.ReloadableConfig()
		rc.TrailingLogs = 1
		if err := n.raft.ReloadConfig(rc); err != nil {
			t.Fatal(err)
		}
		if err := n.raft.Snapshot().Error(); err != nil {
			t.Fatalf("%s: snapshot: %v", n.cfg.ID, err)
		}
	}
	if _, err := newLeader.Propose(ctx, appendCmd(t, "after", 0)); err != nil {
		t.Fatal(err)
	}
	back := start(t, old.cfg)
	restarted := time.Now()
	all := append(survivors, back)
	converged(t, all)
	t.Logf("the restarted node caught up in %s", time.Since(restarted).Round(time.Millisecond))
	st, err := back.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Snapshot == 0 {
		t.Fatal("the restarted node caught up without installing a snapshot")
	}
	if h := survivors[0].hash(t); back.hash(t) != h || survivors[1].hash(t) != h {
		t.Fatal("after catching up the state hashes differ")
	}
	// And it takes part again: its own proposal is applied everywhere.
	if _, err := back.Propose(ctx, appendCmd(t, back.cfg.ID, 0)); err != nil {
		t.Fatal(err)
	}
	converged(t, all)
	if h := survivors[0].hash(t); back.hash(t) != h {
		t.Fatal("the restarted node diverged after catching up")
	}
}

func TestNoQuorumFailsWithinTheBoundAndChangesNothing(t *testing.T) {
	t.Parallel() // it mostly waits out bounds and elections
	c := testpki.NewCA(t, "cluster CA")
	nodes := cluster3(t, c)
	ctx := context.Background()
	if _, err := nodes[0].Propose(ctx, appendCmd(t, "n1", 0)); err != nil {
		t.Fatal(err)
	}
	converged(t, nodes)
	lone := leaderOf(nodes)
	for _, n := range nodes {
		if n != lone {
			n.stop(t)
		}
	}
	h := lone.hash(t)
	applied := lone.raft.AppliedIndex()
	// Twice: first the leader that has not yet noticed it is alone, then a
	// follower with no leader to forward to.
	for range 2 {
		began := time.Now()
		_, err := lone.Propose(ctx, appendCmd(t, "n1", 1))
		took := time.Since(began)
		var ce *Error
		if !errors.As(err, &ce) || ce.Code != CodeNoQuorum {
			t.Fatalf("propose without a quorum: %v, want %s", err, CodeNoQuorum)
		}
		if took > testPropose+2*time.Second {
			t.Fatalf("propose without a quorum took %s, the bound is %s", took, testPropose)
		}
		t.Logf("refused in %s (%s): %v", took.Round(time.Millisecond), lone.raft.State(), err)
	}
	if lone.hash(t) != h || lone.raft.AppliedIndex() != applied || lone.chain.Seq() != 2 {
		t.Fatal("a command without a quorum changed the state")
	}
	// A caller's own cancellation is its own error, not no quorum.
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := lone.Propose(cctx, appendCmd(t, "n1", 2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a cancelled proposal: %v", err)
	}
}

func TestNodeOfAnotherCACannotJoinOrReadTheLog(t *testing.T) {
	c, other := testpki.NewCA(t, "cluster CA"), testpki.NewCA(t, "another CA")
	n1 := start(t, Config{ID: "n1", Addr: "127.0.0.1:0", Dir: filepath.Join(t.TempDir(), "n1"), CA: c.Pool, Cert: c.Issue(t, "n1").TLS})
	if err := n1.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := n1.Propose(ctx, appendCmd(t, "n1", 0)); err != nil {
		t.Fatal(err)
	}
	h := n1.hash(t)
	// The intruder knows the cluster CA's certificate (it is public) but
	// its own certificate is from another CA.
	bad := start(t, Config{ID: "bad", Addr: "127.0.0.1:0", Dir: filepath.Join(t.TempDir(), "bad"), CA: c.Pool, Cert: other.Issue(t, "bad").TLS})
	if err := n1.Join(ctx, bad.Addr()); err == nil {
		t.Fatal("a node with another CA's certificate joined")
	}
	st, err := n1.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Members) != 1 {
		t.Fatalf("membership after the refused join: %+v", st.Members)
	}
	// It can neither ask to be added, nor propose, nor open a raft stream.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for _, req := range []request{{Op: "join", Addr: bad.Addr()}, {Op: "propose", Entry: []byte(`{}`)}, {Op: "status"}} {
		if r, err := bad.mux.call(cctx, n1.Addr(), req); err == nil {
			t.Fatalf("%s from another CA's node was answered: %+v", req.Op, r)
		}
	}
	conn, err := streamLayer{bad.mux}.Dial(raft.ServerAddress(n1.Addr()), 2*time.Second)
	if err == nil {
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("another CA's node opened a raft stream")
	}
	if n1.hash(t) != h || bad.chain.Seq() != 0 {
		t.Fatal("the intruder changed or read the state")
	}
	// A cluster certificate is good for its own node id only.
	if _, err := Open(Config{ID: "n9", Addr: "127.0.0.1:0", Dir: filepath.Join(t.TempDir(), "n9"), CA: c.Pool, Cert: c.Issue(t, "n1").TLS}, state.NewMachines()); err == nil || !strings.Contains(err.Error(), "names") {
		t.Fatalf("a node opened with another node's certificate: %v", err)
	}
}

// BenchmarkPropose3 is one audit append at a time on a 3-node cluster on
// loopback, proposed on the leader and on a follower (forwarded): the
// commit latency a query's audit batch would see, raft's bolt log fsync
// included (the audit files do not sync here).
func BenchmarkPropose3(b *testing.B) {
	c := testpki.NewCA(b, "cluster CA")
	nodes := cluster3(b, c)
	ctx := context.Background()
	lead := leaderOf(nodes)
	var follower *tnode
	for _, n := range nodes {
		if n != lead {
			follower = n
		}
	}
	for _, bc := range []struct {
		name string
		n    *tnode
	}{{"leader", lead}, {"follower", follower}} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := bc.n.Propose(ctx, appendCmd(b, bc.n.cfg.ID, i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
