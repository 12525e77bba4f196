package audit_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lienthong/audit"
	"lienthong/audit/chain"
	"lienthong/bench/gen"
	"lienthong/config"
	"lienthong/engine"
)

const crashEnv = "LIENTHONG_AUDIT_CRASH_DIR"

// TestCrashDuringBurst runs a burst of concurrent queries in a child
// process with the audit log as the engine's observer, kills it with
// SIGKILL mid-burst, then checks that the log verifies (no broken chain)
// and holds an end record for every query the child reported answered:
// success is only reported after End returned, and End returns only
// after its record is fsync'd.
func TestCrashDuringBurst(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	if _, err := gen.Generate(context.Background(), gen.Options{Scale: 0.002, Seed: 3, Out: filepath.Join(dir, "data")}); err != nil {
		t.Fatal(err)
	}
	if _, err := chain.WriteKeyFile(filepath.Join(dir, "audit.key")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringBurst$", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	answered := map[string]bool{}
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		if c, ok := strings.CutPrefix(sc.Text(), "ANSWERED "); ok {
			answered[c] = true
			if len(answered) == 60 {
				// Mid-burst: 8 clients have queries in flight.
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
	for sc.Scan() { // whatever the pipe still holds was printed before the kill
		if c, ok := strings.CutPrefix(sc.Text(), "ANSWERED "); ok {
			answered[c] = true
		}
	}
	_ = cmd.Wait()
	if len(answered) < 60 {
		t.Fatalf("the child answered only %d queries", len(answered))
	}

	keys, err := chain.LoadKey(filepath.Join(dir, "audit.key"))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "audit.log")
	check := func(when string) map[string]string {
		res, err := chain.VerifyFile(logPath, chain.VerifyOptions{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		if res.Tampered() {
			t.Fatalf("%s: the chain is broken:\n%s", when, problems(res))
		}
		ends := map[string]string{}
		rd, _ := chain.OpenReader(logPath)
		err = rd.Iterate(0, func(r *chain.Record) error {
			if r.Kind == chain.KindEnd {
				ends[r.CaseID] = r.Outcome
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for c := range answered {
			if ends[c] != "succeeded" {
				t.Fatalf("%s: query %s was answered but its end record is %q", when, c, ends[c])
			}
		}
		t.Logf("%s: %d records, %d answered queries all have their end record; %d unfinished attempts; warnings: %d",
			when, res.Records, len(answered), res.UnfinishedCount, len(res.Problems))
		return ends
	}
	check("after kill -9")
	// Reopening recovers (adopts or moves aside an unfinished write) and
	// the log still verifies.
	l, err := audit.Open(audit.Options{Path: logPath, Keys: keys, Node: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	check("after reopening")
}

// crashChild answers queries until it is killed, printing the case id of
// each query whose success was reported.
func crashChild(dir string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	cfg, err := config.Load(filepath.Join(dir, "data", "lienthong.toml"))
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	eng, err := engine.New(ctx, cfg)
	if err != nil {
		fail(err)
	}
	keys, err := chain.LoadKey(filepath.Join(dir, "audit.key"))
	if err != nil {
		fail(err)
	}
	l, err := audit.Open(audit.Options{Path: filepath.Join(dir, "audit.log"), Keys: keys, Node: "child"})
	if err != nil {
		fail(err)
	}
	eng.SetObserver(l)
	queries := []string{
		"SELECT COUNT(*) FROM dancu.citizens",
		"SELECT c.pin, c.full_name FROM dancu.citizens c WHERE c.pin = '001090000001'",
		"SELECT d.pin FROM hotich.deaths d JOIN dancu.citizens c ON c.pin = d.pin ORDER BY d.pin LIMIT 20",
		"SELECT COUNT(*) FROM bhxh.health_cards h WHERE h.valid_to >= DATE '2026-01-01'",
		"SELECT nope FROM dancu.citizens", // fails: an end record only
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				q := queries[(c+i)%len(queries)]
				caseID := fmt.Sprintf("c%d-%d", c, i)
				res, err := eng.Query(ctx, q, engine.QueryOptions{Session: engine.Session{Principal: "crash", Agency: "TEST", Purpose: "CRASH", CaseID: caseID}})
				if err != nil {
					continue
				}
				for res.Next() {
				}
				err = res.Err()
				res.Release()
				if err == nil {
					mu.Lock()
					fmt.Fprintf(os.Stdout, "ANSWERED %s\n", caseID)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
}
