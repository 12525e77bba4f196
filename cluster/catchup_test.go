package cluster

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lienthong/audit/chain"
	"lienthong/internal/testpki"
	"lienthong/state"
)

// bulkCmd is one append command of n records.
func bulkCmd(t testing.TB, node string, i, n int) state.Command {
	t.Helper()
	recs := make([]*chain.Record, n)
	for j := range recs {
		recs[j] = &chain.Record{Kind: chain.KindEnd, Node: node, Attempt: fmt.Sprintf("%s-%d-%d", node, i, j), Outcome: "succeeded", Principal: "alice", SQL: "SELECT ho_ten FROM dan_cu WHERE so_dinh_danh = 'pin:0123456789abcdef'"}
	}
	c, err := state.New(chain.OpAppend, time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Millisecond), recs)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// compact makes n snapshot and keep one entry of its log, so a node behind
// it can only catch up by installing the snapshot.
func compact(t testing.TB, n *tnode) {
	t.Helper()
	rc := n.raft.ReloadableConfig()
	rc.TrailingLogs = 1
	if err := n.raft.ReloadConfig(rc); err != nil {
		t.Fatal(err)
	}
	if err := n.raft.Snapshot().Error(); err != nil {
		t.Fatalf("%s: snapshot: %v", n.cfg.ID, err)
	}
}

// level waits until every node has applied the same commands and none
// lacks records.
func level(t *testing.T, nodes []*tnode) {
	t.Helper()
	converged(t, nodes)
	eventually(t, 60*time.Second, "every node holds every record", func() bool {
		for _, n := range nodes {
			if n.Missing() != 0 {
				return false
			}
		}
		return true
	})
}

// sameEverywhere checks the state hash, the audit file (byte for byte)
// and what audit verify says of it are the same on every node.
func sameEverywhere(t *testing.T, nodes []*tnode) {
	t.Helper()
	h, file := nodes[0].hash(t), nodes[0].auditFile(t)
	var head string
	for _, n := range nodes {
		if n.hash(t) != h {
			t.Errorf("%s: state hash differs from %s's", n.cfg.ID, nodes[0].cfg.ID)
		}
		if f := n.auditFile(t); !bytes.Equal(f, file) {
			t.Errorf("%s: audit file (%d bytes) differs from %s's (%d bytes)", n.cfg.ID, len(f), nodes[0].cfg.ID, len(file))
		}
		res, err := chain.VerifyFile(filepath.Join(n.cfg.Dir, "chain.log"), chain.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Tampered() || res.LastSeq != n.chain.Seq() {
			t.Errorf("%s: audit verify: last %d (head %d), problems %v", n.cfg.ID, res.LastSeq, n.chain.Seq(), res.Problems)
		}
		if got := fmt.Sprintf("%d:%s", res.LastSeq, res.LastHash); head == "" {
			head = got
		} else if got != head {
			t.Errorf("%s: audit verify gives head %s, %s gave %s", n.cfg.ID, got, nodes[0].cfg.ID, head)
		}
	}
}

// A node down while thousands of records are sealed comes back, installs
// the snapshot (which holds only the chain's head), copies the records it
// lacks from a member, checked against that head, and ends with the
// leader's audit file byte for byte.
func TestCatchUpBySnapshotCopiesTheAuditRecords(t *testing.T) {
	c := testpki.NewCA(t, "cluster CA")
	nodes := cluster3(t, c)
	ctx := context.Background()
	if _, err := nodes[2].Propose(ctx, appendCmd(t, "n3", 0)); err != nil {
		t.Fatal(err)
	}
	converged(t, nodes)
	nodes[2].stop(t)

	const cmds, per = 22, 250 // 5,500 records
	var wg sync.WaitGroup
	for k, n := range nodes[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < cmds; i += 2 {
				if _, err := n.Propose(ctx, bulkCmd(t, n.cfg.ID, i, per)); err != nil {
					t.Errorf("%s: %v", n.cfg.ID, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	converged(t, nodes[:2])
	for _, n := range nodes[:2] {
		compact(t, n)
	}
	began := time.Now()
	back := start(t, nodes[2].cfg)
	all := []*tnode{nodes[0], nodes[1], back}
	level(t, all)
	t.Logf("%d records copied in %s", cmds*per, time.Since(began).Round(time.Millisecond))
	st, err := back.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Snapshot == 0 {
		t.Fatal("the node caught up without installing a snapshot")
	}
	if back.chain.Seq() != 2+cmds*per {
		t.Fatalf("head %d, want %d", back.chain.Seq(), 2+cmds*per)
	}
	sameEverywhere(t, all)
	// It goes on as a member: its own append is in every file.
	if _, err := back.Propose(ctx, appendCmd(t, "n3", 1)); err != nil {
		t.Fatal(err)
	}
	level(t, all)
	sameEverywhere(t, all)
}

type cmdT = state.Command

func newAppend(at time.Time, recs []*chain.Record) (state.Command, error) {
	return state.New(chain.OpAppend, at, recs)
}
