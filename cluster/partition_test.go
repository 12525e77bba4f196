package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lienthong/audit/chain"
	"lienthong/internal/testpki"
	"lienthong/policy"
)

// scale sizes the long runs: LT_CLUSTER_SCALE (make test-cluster sets
// it) multiplies the appends and durations of the fault tests.
func scale() int {
	if n, err := strconv.Atoi(os.Getenv("LT_CLUSTER_SCALE")); err == nil && n > 0 {
		return n
	}
	return 1
}

// acked is every record a proposer was told is sealed, seq to hash.
type acked struct {
	mu      sync.Mutex
	recs    map[uint64]string
	ok, bad atomic.Int64
}

func newAcked() *acked { return &acked{recs: map[uint64]string{}} }

func (a *acked) add(res any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range res.([]*chain.Record) {
		a.recs[r.Seq] = r.Hash
	}
	a.ok.Add(1)
}

// in checks every acknowledged record is in each node's file.
func (a *acked) in(t *testing.T, nodes []*tnode) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range nodes {
		recs := n.records(t)
		for seq, h := range a.recs {
			if recs[seq] != h {
				t.Fatalf("%s: record %d is %q; a proposer was told it is %q", n.cfg.ID, seq, recs[seq], h)
			}
		}
	}
}

// stream proposes appends from each node in turn (workers per node)
// until stop is closed or each worker made max; failures are counted.
func stream(nodes []*tnode, workers, max int, a *acked, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, n := range nodes {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < max; i++ {
					select {
					case <-stop:
						return
					default:
					}
					cmd, _ := bulkCmdNoT(n.cfg.ID, w*1_000_000+i, 2)
					res, err := n.Propose(context.Background(), cmd)
					if err != nil {
						a.bad.Add(1)
						time.Sleep(20 * time.Millisecond)
						continue
					}
					a.add(res)
				}
			}()
		}
	}
	return &wg
}

// partitionBound is the proposal bound of the partition tests, shorter
// than testPropose: they wait it out on the side without a majority.
const partitionBound = 1500 * time.Millisecond

func noQuorumErr(err error) bool {
	var ce *Error
	return errors.As(err, &ce) && ce.Code == CodeNoQuorum
}

// marked counts the records in n's file whose attempt starts with p.
func marked(t *testing.T, n *tnode, p string) int {
	t.Helper()
	c := 0
	if err := n.fs.Iterate(1, func(r *chain.Record) error {
		if strings.HasPrefix(r.Attempt, p) {
			c++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// The leader cut off from the other two: it refuses appends within the
// bound (LT-NO-QUORUM), the two elect a leader and go on, and once the
// link heals every node has the same state and file, with none of the
// appends the cut-off leader refused.
func TestPartitionedLeaderRefusesTheMajorityGoesOn(t *testing.T) {
	t.Parallel() // it mostly waits out bounds and elections
	c := testpki.NewCA(t, "cluster CA")
	f := newFaults()
	nodes := cluster3f(t, c, f, partitionBound)
	a := newAcked()
	wg := stream(nodes, 1, 5, a, nil)
	wg.Wait()
	converged(t, nodes)
	old := leaderOf(nodes)
	var majority []*tnode
	var ids []string
	for _, n := range nodes {
		if n != old {
			majority = append(majority, n)
			ids = append(ids, n.cfg.ID)
		}
	}
	f.isolate(old.cfg.ID, ids...)
	cut := time.Now()

	// The minority: every append refused within the bound.
	var mwg sync.WaitGroup
	for k := range 3 {
		mwg.Add(1)
		go func() {
			defer mwg.Done()
			began := time.Now()
			cmd, _ := bulkCmdNoT("minority", k, 2)
			_, err := old.Propose(context.Background(), cmd)
			took := time.Since(began)
			if !noQuorumErr(err) {
				t.Errorf("an append on the cut-off leader: %v, want %s", err, CodeNoQuorum)
			}
			if took > partitionBound+2*time.Second {
				t.Errorf("the cut-off leader refused after %s; the bound is %s", took, partitionBound)
			}
		}()
	}
	// A policy change on the minority is refused too, and in force nowhere
	// after healing.
	mwg.Add(1)
	go func() {
		defer mwg.Done()
		set, err := policy.SetCommand(time.Now(), "policy.toml", []byte(policyV1))
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := old.Propose(context.Background(), set); !noQuorumErr(err) {
			t.Errorf("a policy change on the cut-off leader: %v, want %s", err, CodeNoQuorum)
		}
	}()
	// The majority elects a leader and commits.
	var newLeader *tnode
	eventually(t, 10*time.Second, "a leader in the majority", func() bool { newLeader = leaderOf(majority); return newLeader != nil })
	t.Logf("new leader %s %s after the cut", newLeader.cfg.ID, time.Since(cut).Round(time.Millisecond))
	before := a.ok.Load()
	stream(majority, 2, 10*scale(), a, nil).Wait()
	if got := a.ok.Load() - before; got != int64(2*2*10*scale()) {
		t.Fatalf("the majority committed %d of %d appends during the partition", got, 2*2*10*scale())
	}
	mwg.Wait()
	eventually(t, 5*time.Second, "the cut-off leader steps down", func() bool { return old.raft.State().String() != "Leader" })

	f.heal()
	level(t, nodes)
	sameEverywhere(t, nodes)
	a.in(t, nodes)
	for _, n := range nodes {
		if m := marked(t, n, "minority"); m != 0 {
			t.Errorf("%s: %d records the cut-off leader refused were applied", n.cfg.ID, m)
		}
		if n.pol.Current() != nil {
			t.Errorf("%s: the policy the cut-off leader refused is in force", n.cfg.ID)
		}
	}
}

// Every node cut from every other: no side has a majority, every append
// is refused within the bound, and after healing the cluster elects a
// leader and converges. An append refused here may still be committed by
// a leader that kept it in its log (it is refused, never lost the other
// way round), so the check is that it is on every node or on none.
func TestSymmetricPartitionRefusesEverywhereThenConverges(t *testing.T) {
	t.Parallel() // it mostly waits out bounds and elections
	c := testpki.NewCA(t, "cluster CA")
	f := newFaults()
	nodes := cluster3f(t, c, f, partitionBound)
	a := newAcked()
	stream(nodes, 1, 5, a, nil).Wait()
	converged(t, nodes)
	f.isolate("n1", "n2", "n3")
	f.isolate("n2", "n3")
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd, _ := bulkCmdNoT("split-"+n.cfg.ID, 0, 2)
			began := time.Now()
			if _, err := n.Propose(context.Background(), cmd); !noQuorumErr(err) {
				t.Errorf("%s: an append with every link cut: %v, want %s", n.cfg.ID, err, CodeNoQuorum)
			} else if took := time.Since(began); took > partitionBound+2*time.Second {
				t.Errorf("%s: refused after %s; the bound is %s", n.cfg.ID, took, partitionBound)
			}
		}()
	}
	wg.Wait()
	if l := leaderOf(nodes); l != nil {
		t.Fatalf("%s still leads with every link cut", l.cfg.ID)
	}
	f.heal()
	eventually(t, 10*time.Second, "a leader after healing", func() bool { return leaderOf(nodes) != nil })
	stream(nodes, 1, 5, a, nil).Wait()
	if a.bad.Load() != 0 {
		t.Fatalf("%d appends failed outside the partition", a.bad.Load())
	}
	level(t, nodes)
	sameEverywhere(t, nodes)
	a.in(t, nodes)
	for _, id := range []string{"n1", "n2", "n3"} {
		t.Logf("split-%s records: %d on each node", id, marked(t, nodes[0], "split-"+id))
	}
}

// The link between the leader and one follower cut and mended every
// 150 ms while every node appends: whatever a proposer was told is
// sealed is in every file, and the nodes converge.
func TestFlappingLinkConverges(t *testing.T) {
	c := testpki.NewCA(t, "cluster CA")
	f := newFaults()
	nodes := cluster3f(t, c, f, partitionBound)
	a := newAcked()
	stop := make(chan struct{})
	wg := stream(nodes, 2, 1<<30, a, stop)
	lead := leaderOf(nodes)
	other := nodes[0]
	if other == lead {
		other = nodes[1]
	}
	end := time.Now().Add(time.Duration(scale()) * time.Second)
	flaps := 0
	for time.Now().Before(end) {
		f.set(true, lead.cfg.ID, other.cfg.ID)
		time.Sleep(150 * time.Millisecond)
		f.set(false, lead.cfg.ID, other.cfg.ID)
		time.Sleep(150 * time.Millisecond)
		flaps++
	}
	close(stop)
	wg.Wait()
	t.Logf("%d flaps: %d appends sealed, %d refused", flaps, a.ok.Load(), a.bad.Load())
	if a.ok.Load() == 0 {
		t.Fatal("nothing was sealed while the link flapped")
	}
	level(t, nodes)
	sameEverywhere(t, nodes)
	a.in(t, nodes)
}

// bulkCmdNoT is bulkCmd for goroutines (no t.Fatal off the test's).
func bulkCmdNoT(node string, i, n int) (cmdT, error) {
	recs := make([]*chain.Record, n)
	for j := range recs {
		recs[j] = &chain.Record{Kind: chain.KindEnd, Node: node, Attempt: fmt.Sprintf("%s-%d-%d", node, i, j), Outcome: "succeeded"}
	}
	return newAppend(time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Millisecond), recs)
}
