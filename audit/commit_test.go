package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lienthong/audit"
	"lienthong/audit/chain"
	"lienthong/bench/gen"
	"lienthong/config"
	"lienthong/engine"
)

// run64 has clients goroutines each log perClient attempts (begin and
// end, fsync'd) and returns the log's stats and the wall time.
func runConcurrent(t testing.TB, clients, perClient int) (chain.ChainStats, time.Duration) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(audit.Options{Path: path, Keys: testKeys(t), Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	before := l.Stats()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				a := attempt(c*perClient + i)
				a.ID = fmt.Sprintf("c%d-%d", c, i)
				if err := l.Begin(context.Background(), a); err != nil {
					t.Error(err)
					return
				}
				a.Outcome = engine.Succeeded
				if err := l.End(context.Background(), a); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	st := l.Stats()
	st.Records -= before.Records
	st.Batches -= before.Batches
	st.AppendTime -= before.AppendTime
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	res := verify(t, path)
	if len(res.Problems) > 0 || res.LastSeq != uint64(2*clients*perClient+2) {
		t.Fatalf("after concurrent appends: last %d, problems:\n%s", res.LastSeq, problems(res))
	}
	return st, wall
}

// TestGroupCommit: 64 concurrent clients share fsyncs; every record is
// durable before Begin/End return (fsync per batch), and the chain holds.
func TestGroupCommit(t *testing.T) {
	st1, wall1 := runConcurrent(t, 1, 100)
	st64, wall64 := runConcurrent(t, 64, 10)
	t.Logf("1 client:   %d records in %d batches, %.0f µs per record (write+fsync log+head), wall %v",
		st1.Records, st1.Batches, float64(wall1.Microseconds())/float64(st1.Records), wall1)
	t.Logf("64 clients: %d records in %d batches (%.1f per batch), %.0f µs of wall time per record, wall %v",
		st64.Records, st64.Batches, float64(st64.Records)/float64(st64.Batches), float64(wall64.Microseconds())/float64(st64.Records), wall64)
	if st64.Batches >= st64.Records {
		t.Errorf("no group commit: %d batches for %d records", st64.Batches, st64.Records)
	}
}

func BenchmarkAppendSerial(b *testing.B) {
	path := filepath.Join(b.TempDir(), "audit.log")
	l, err := audit.Open(audit.Options{Path: path, Keys: testKeys(b), Node: "n1"})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	a := attempt(1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.ID = fmt.Sprint(i)
		if err := l.Begin(context.Background(), a); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend64(b *testing.B) {
	path := filepath.Join(b.TempDir(), "audit.log")
	l, err := audit.Open(audit.Options{Path: path, Keys: testKeys(b), Node: "n1"})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetParallelism(32) // 2 cores x 32 = 64 goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		a := attempt(1)
		i := 0
		for pb.Next() {
			i++
			a.ID = fmt.Sprint(i)
			if err := l.Begin(context.Background(), a); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkQuery compares a small query with and without the audit log
// (two fsync'd records per query), serially and with 64 clients.
func BenchmarkQuery(b *testing.B) {
	dir := b.TempDir()
	if _, err := gen.Generate(context.Background(), gen.Options{Scale: 0.002, Seed: 3, Out: dir}); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "lienthong.toml"))
	if err != nil {
		b.Fatal(err)
	}
	eng, err := engine.New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	q := "SELECT c.full_name FROM dancu.citizens c WHERE c.pin = '001090000001'"
	run := func(b *testing.B) {
		res, err := eng.Query(context.Background(), q, engine.QueryOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for res.Next() {
		}
		if err := res.Err(); err != nil {
			b.Fatal(err)
		}
		res.Release()
	}
	b.Run("unaudited", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			run(b)
		}
	})
	l, err := audit.Open(audit.Options{Path: filepath.Join(dir, "audit.log"), Keys: testKeys(b), Node: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	eng.SetObserver(l)
	b.Run("audited", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			run(b)
		}
	})
	b.Run("audited-64-clients", func(b *testing.B) {
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				run(b)
			}
		})
	})
	eng.SetObserver(nil)
	b.Run("unaudited-64-clients", func(b *testing.B) {
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				run(b)
			}
		})
	})
}
