package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"lienthong/audit/chain"
	"lienthong/internal/testpki"
)

// TestReport measures what docs/operations.md reports; it runs only with
// LT_CLUSTER_REPORT=1 (make test-cluster) and asserts nothing about
// speed: it prints figures.
func TestReport(t *testing.T) {
	if os.Getenv("LT_CLUSTER_REPORT") == "" {
		t.Skip("a measurement, not a test: LT_CLUSTER_REPORT=1 (make test-cluster) runs it")
	}
	c := testpki.NewCA(t, "cluster CA")
	t.Run("latency", func(t *testing.T) {
		// One node on its own (state.Local, the audit file fsynced), a
		// cluster of one, and three nodes with the clients spread over
		// them: the chain's group commit over each.
		local := func() []*chain.Chain {
			fs, err := chain.OpenFileStore(filepath.Join(t.TempDir(), "local.log"), chain.FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { fs.Close() })
			return []*chain.Chain{chain.NewChain(fs, "n1", nil)}
		}
		one := func() []*chain.Chain {
			n := start(t, Config{ID: "n1", Addr: "127.0.0.1:0", Dir: filepath.Join(t.TempDir(), "n1"), CA: c.Pool, Cert: c.Issue(t, "n1").TLS})
			if err := n.Bootstrap(); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "n1 leads", func() bool { return n.raft.State() == raft.Leader })
			return []*chain.Chain{chain.NewChainOn(n.Node, n.chain, "n1", nil)}
		}
		// Spread: the first client (the only one of the 1-client run) is
		// on a follower, so that run is the forwarded path.
		three := func() []*chain.Chain {
			nodes := cluster3(t, c)
			lead := leaderOf(nodes)
			var out []*chain.Chain
			for _, n := range nodes {
				if n != lead {
					out = append(out, chain.NewChainOn(n.Node, n.chain, n.cfg.ID, nil))
				}
			}
			return append(out, chain.NewChainOn(lead.Node, lead.chain, lead.cfg.ID, nil))
		}
		leader := func() []*chain.Chain {
			n := leaderOf(cluster3(t, c))
			return []*chain.Chain{chain.NewChainOn(n.Node, n.chain, n.cfg.ID, nil)}
		}
		for _, setup := range []struct {
			name string
			make func() []*chain.Chain
		}{{"1 node, no raft (audit file fsynced)", local}, {"1 node, raft", one}, {"3 nodes, raft, clients on the leader", leader}, {"3 nodes, raft, clients spread (1: a follower)", three}} {
			chains := setup.make()
			for _, clients := range []int{1, 64} {
				per := max(3000/clients, 40)
				var batches0, recs0 int64
				for _, ch := range chains {
					s := ch.Stats()
					batches0 += s.Batches
					recs0 += s.Records
				}
				lat := make([]time.Duration, 0, clients*per)
				var mu sync.Mutex
				var wg sync.WaitGroup
				began := time.Now()
				for k := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ch := chains[k%len(chains)]
						for range per {
							t0 := time.Now()
							if err := ch.Append(&chain.Record{Kind: chain.KindEnd, Attempt: "a", Outcome: "succeeded", Principal: "alice"}); err != nil {
								t.Error(err)
								return
							}
							d := time.Since(t0)
							mu.Lock()
							lat = append(lat, d)
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				took := time.Since(began)
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				batches, recs := -batches0, -recs0
				for _, ch := range chains {
					s := ch.Stats()
					batches += s.Batches
					recs += s.Records
				}
				report(t, "audit append, %-36s %2d clients: p50 %7s  p99 %7s  %6.0f appends/s  (%.1f records per batch)",
					setup.name, clients, lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)*99/100].Round(10*time.Microsecond),
					float64(len(lat))/took.Seconds(), float64(recs)/float64(max(batches, 1)))
			}
		}
	})
	t.Run("failover", func(t *testing.T) {
		for trial := range 3 {
			nodes := cluster3(t, c)
			old := leaderOf(nodes)
			var rest []*tnode
			for _, n := range nodes {
				if n != old {
					rest = append(rest, n)
				}
			}
			old.stop(t)
			stopped := time.Now()
			if _, err := rest[trial%2].Propose(context.Background(), appendCmd(t, "x", trial)); err != nil {
				t.Fatal(err)
			}
			report(t, "failover %d: leader stopped hard to the first commit (proposed at once on a follower): %s", trial+1, time.Since(stopped).Round(time.Millisecond))
		}
	})
	t.Run("catch-up", func(t *testing.T) {
		nodes := cluster3(t, c)
		ctx := context.Background()
		nodes[2].stop(t)
		const cmds, per = 200, 500 // 100,000 records
		began := time.Now()
		for i := range cmds {
			if _, err := nodes[i%2].Propose(ctx, bulkCmd(t, "n", i, per)); err != nil {
				t.Fatal(err)
			}
		}
		report(t, "sealing 100,000 records in 200 appends on 2 of 3 nodes: %s", time.Since(began).Round(time.Millisecond))
		converged(t, nodes[:2])
		for _, n := range nodes[:2] {
			compact(t, n)
		}
		snap, _ := nodes[0].ms.Snapshot()
		size := nodes[0].fs.Size()
		began = time.Now()
		back := start(t, nodes[2].cfg)
		all := []*tnode{nodes[0], nodes[1], back}
		converged(t, all)
		installed := time.Since(began)
		level(t, all)
		report(t, "catch-up of a node that missed 100,000 records (%.1f MB of audit file; the snapshot's state is %d bytes): snapshot installed in %s, level with every record in %s",
			float64(size)/1e6, len(snap), installed.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
		sameEverywhere(t, all)
	})
}

func report(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	fmt.Println("REPORT", line)
}
