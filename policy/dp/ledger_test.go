package dp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"lienthong/state"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPeriodKey(t *testing.T) {
	utc := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 59, 59, 0, time.UTC) }
	for _, c := range []struct {
		now    time.Time
		period string
		key    string
		resets time.Time
	}{
		{utc(2026, 12, 1, 0), "day", "2026-12-01", time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)},
		{utc(2026, 12, 31, 23), "day", "2026-12-31", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{utc(2026, 12, 31, 23), "month", "2026-12", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{utc(2026, 2, 28, 23), "month", "2026-02", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{utc(2026, 1, 1, 0), "quarter", "2026-Q1", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
		{utc(2026, 9, 30, 23), "quarter", "2026-Q3", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)},
		{utc(2026, 12, 1, 0), "quarter", "2026-Q4", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{utc(2026, 6, 30, 23), "half-year", "2026-H1", time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)},
		{utc(2026, 12, 1, 0), "half-year", "2026-H2", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{utc(2026, 12, 1, 0), "year", "2026", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		// Periods are in UTC: 00:30 on 1 Jan in UTC+7 is still December.
		{time.Date(2027, 1, 1, 0, 30, 0, 0, time.FixedZone("ICT", 7*3600)), "month", "2026-12", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		key, resets, err := periodBounds(c.now, c.period)
		if err != nil {
			t.Fatal(err)
		}
		if key != c.key || !resets.Equal(c.resets) {
			t.Errorf("%v %s: key %s resets %v, want %s %v", c.now, c.period, key, resets, c.key, c.resets)
		}
		if k, _ := PeriodKey(c.now, c.period); k != key {
			t.Errorf("PeriodKey = %s, want %s", k, key)
		}
	}
	if _, err := PeriodKey(time.Now(), "week"); err == nil {
		t.Error("unknown period: no error")
	}
}

func openTestLedger(t *testing.T, path string) *Ledger {
	t.Helper()
	l, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

var dec2026 = time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)

func TestLedgerSpendsAddUpAndExhaust(t *testing.T) {
	path := filepath.Join(t.TempDir(), "budget.json")
	l := openTestLedger(t, path)
	// Ten charges of 0.1 (and of delta 1e-7) exactly fill (1.0, 1e-6).
	for i := range 10 {
		s, err := spend(l, "alice", dec2026, "month", 0.1, 1e-7, 1.0, 1e-6)
		if err != nil {
			t.Fatalf("charge %d: %v", i+1, err)
		}
		if s.Key != "2026-12" || s.Period != "month" {
			t.Errorf("charge %d: period %s %s", i+1, s.Period, s.Key)
		}
	}
	if eps, delta := l.Remaining("alice", dec2026, "month", 1.0, 1e-6); eps != 0 || delta != 0 {
		t.Errorf("remaining after 10 × 0.1: %v, %v, want 0, 0", eps, delta)
	}
	_, err := spend(l, "alice", dec2026, "month", 0.001, 0, 1.0, 1e-6)
	if !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("11th charge: err = %v, want ErrBudgetExhausted", err)
	}
	var ex *ExhaustedError
	if !errors.As(err, &ex) || ex.RemainingEpsilon != 0 || ex.Key != "2026-12" ||
		!ex.Resets.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("refusal %#v does not say what remains and when it resets", ex)
	}
	t.Log(err)
	// Delta alone can exhaust, too.
	if _, err := spend(l, "alice", dec2026, "month", 0, 1e-9, 2.0, 1e-6); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("delta over budget: err = %v", err)
	}

	// A refusal spends nothing: 0.3 left, 0.5 refused, then 0.3 fits.
	if _, err := spend(l, "bob", dec2026, "month", 0.7, 0, 1.0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := spend(l, "bob", dec2026, "month", 0.5, 0, 1.0, 0); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("0.5 of 0.3 left: err = %v", err)
	}
	if eps, _ := l.Remaining("bob", dec2026, "month", 1.0, 0); eps != 0.3 {
		t.Errorf("remaining after refusal: %v, want 0.3", eps)
	}
	s, err := spend(l, "bob", dec2026, "month", 0.3, 0, 1.0, 0)
	if err != nil {
		t.Fatalf("0.3 of 0.3 left: %v", err)
	}
	if s.TotalEpsilon != 1.0 || s.RemainingEpsilon != 0 {
		t.Errorf("bob spent %v, remaining %v, want 1, 0", s.TotalEpsilon, s.RemainingEpsilon)
	}
	// Principals are separate: carol still has her whole budget.
	if eps, delta := l.Remaining("carol", dec2026, "month", 1.0, 1e-6); eps != 1.0 || delta != 1e-6 {
		t.Errorf("carol remaining %v, %v", eps, delta)
	}
}

func TestLedgerNewPeriodResets(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "budget.json"))
	if _, err := spend(l, "alice", dec2026, "month", 1.0, 0, 1.0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := spend(l, "alice", dec2026.Add(time.Hour), "month", 0.1, 0, 1.0, 0); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("same month: err = %v", err)
	}
	jan := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if eps, _ := l.Remaining("alice", jan, "month", 1.0, 0); eps != 1.0 {
		t.Errorf("January remaining %v, want 1", eps)
	}
	if _, err := spend(l, "alice", jan, "month", 0.4, 0, 1.0, 0); err != nil {
		t.Fatalf("January: %v", err)
	}
	if eps, _ := l.Remaining("alice", dec2026, "month", 1.0, 0); eps != 0 {
		t.Errorf("December remaining %v after January spend, want 0", eps)
	}
}

func TestLedgerSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "budget.json")
	l, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := spend(l, "alice", dec2026, "quarter", 0.25, 1e-8, 1.0, 1e-6); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := spend(l, "alice", dec2026, "quarter", 0.1, 0, 1.0, 1e-6); err == nil {
		t.Error("Spend on a closed ledger: no error")
	}

	l2 := openTestLedger(t, path)
	if eps, delta := l2.Remaining("alice", dec2026, "quarter", 1.0, 1e-6); eps != 0.25 || delta != 1e-6-3e-8 {
		t.Errorf("after reopen: remaining %v, %v, want 0.25, %v", eps, delta, 1e-6-3e-8)
	}
	if _, err := spend(l2, "alice", dec2026, "quarter", 0.25, 0, 1.0, 1e-6); err != nil {
		t.Fatal(err)
	}
	if _, err := spend(l2, "alice", dec2026, "quarter", 1e-6, 0, 1.0, 1e-6); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("after reopen and fill: err = %v", err)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want the ledger and its lock file", names)
	}
}

// TestLedgerConcurrentNeverOverspends races goroutines on two Ledgers over
// one file (flock locks belong to the open file description, so the two
// exclude each other as two processes would): exactly budget/charge
// charges succeed.
func TestLedgerConcurrentNeverOverspends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "budget.json")
	ls := []*Ledger{openTestLedger(t, path), openTestLedger(t, path)}
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 5 {
				_, err := spend(ls[g%2], "alice", dec2026, "day", 0.05, 0, 1.0, 0)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrBudgetExhausted):
					refused.Add(1)
				default:
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != 20 || refused.Load() != 20 {
		t.Errorf("%d charges of 0.05 against 1.0 succeeded (%d refused), want 20 (20)", ok.Load(), refused.Load())
	}
	if eps, _ := ls[0].Remaining("alice", dec2026, "day", 1.0, 0); eps != 0 {
		t.Errorf("remaining %v, want 0", eps)
	}
}

// TestLedgerTwoProcesses runs this test binary twice as child processes
// spending from one file at the same time.
func TestLedgerTwoProcesses(t *testing.T) {
	if path := os.Getenv("DP_LEDGER_CHILD"); path != "" {
		l, err := OpenLedger(path)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		n := 0
		for range 15 {
			if _, err := spend(l, "alice", dec2026, "year", 0.1, 0, 2.0, 0); err == nil {
				n++
			} else if !errors.Is(err, ErrBudgetExhausted) {
				fmt.Println("error", err)
				os.Exit(2)
			}
		}
		fmt.Println(n)
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "budget.json")
	var cmds []*exec.Cmd
	var outs []*[]byte
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLedgerTwoProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), "DP_LEDGER_CHILD="+path)
		out := new([]byte)
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Go(func() {
			b, err := cmd.Output()
			if err != nil {
				t.Errorf("child %d: %v: %s", i, err, b)
			}
			*outs[i] = b
		})
	}
	wg.Wait()
	total := 0
	for i, out := range outs {
		n, err := strconv.Atoi(string(trimSpace(*out)))
		if err != nil {
			t.Fatalf("child %d printed %q", i, *out)
		}
		total += n
	}
	if total != 20 {
		t.Errorf("two processes made %d charges of 0.1 against 2.0, want 20", total)
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

func TestLedgerCorruptedFileIsAnError(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":       "not json",
		"empty":         "",
		"truncated":     `{"version": 1, "accounts": {"alice": {"month:2026-12": {"epsilon_nano": 5`,
		"trailing":      `{"version": 1, "accounts": {}} {}`,
		"wrong version": `{"version": 7, "accounts": {}}`,
		"unknown field": `{"version": 1, "accounts": {}, "refund": true}`,
		"negative":      `{"version": 1, "accounts": {"alice": {"month:2026-12": {"epsilon_nano": -5, "delta_atto": 0, "charges": 1}}}}`,
		"null account":  `{"version": 1, "accounts": {"alice": {"month:2026-12": null}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "budget.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if l, err := OpenLedger(path); err == nil {
				l.Close()
				t.Fatal("OpenLedger on a corrupted file: no error")
			}
		})
	}

	// Corruption after opening: Spend fails and leaves the file alone,
	// Remaining reports nothing left.
	path := filepath.Join(t.TempDir(), "budget.json")
	l := openTestLedger(t, path)
	if _, err := spend(l, "alice", dec2026, "month", 0.5, 0, 1.0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{oops"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := spend(l, "alice", dec2026, "month", 0.1, 0, 1.0, 0); err == nil || errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("Spend on a corrupted file: err = %v, want a corruption error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{oops" {
		t.Errorf("corrupted file was rewritten: %q", b)
	}
	if eps, delta := l.Remaining("alice", dec2026, "month", 1.0, 0); eps != 0 || delta != 0 {
		t.Errorf("Remaining on a corrupted file: %v, %v, want 0, 0", eps, delta)
	}
}

func TestLedgerRejectsBadArguments(t *testing.T) {
	l := openTestLedger(t, filepath.Join(t.TempDir(), "budget.json"))
	nan := func() float64 { var z float64; return z / z }()
	for _, c := range []struct {
		principal, period        string
		eps, delta, epsB, deltaB float64
	}{
		{"", "month", 0.1, 0, 1, 0},
		{"alice", "week", 0.1, 0, 1, 0},
		{"alice", "month", -0.1, 0, 1, 0},
		{"alice", "month", nan, 0, 1, 0},
		{"alice", "month", 0.1, -1e-9, 1, 1e-6},
		{"alice", "month", 0.1, 2, 1, 1e-6},
		{"alice", "month", 0.1, 0, nan, 0},
		{"alice", "month", 0.1, 0, 1, -1},
	} {
		if _, err := spend(l, c.principal, dec2026, c.period, c.eps, c.delta, c.epsB, c.deltaB); err == nil || errors.Is(err, ErrBudgetExhausted) {
			t.Errorf("Spend(%+v): err = %v, want an argument error", c, err)
		}
	}
	if eps, _ := l.Remaining("alice", dec2026, "month", 1, 0); eps != 1 {
		t.Errorf("bad arguments spent something: remaining %v", eps)
	}
}

// spend charges through a budget.spend command, as the engine does.
func spend(l *Ledger, principal string, now time.Time, period string, eps, delta, epsBudget, deltaBudget float64) (Spent, error) {
	c, err := SpendCommand(now, principal, period, eps, delta, epsBudget, deltaBudget)
	if err != nil {
		return Spent{}, err
	}
	r, err := l.Apply(c)
	if err != nil {
		return Spent{}, err
	}
	return r.(Spent), nil
}

// TestLedgerMachine: budget.spend commands are applied deterministically
// (the same commands give the same snapshot, byte for byte, on two
// ledgers in two files), the command's time and not a clock picks the
// period, a refused command changes nothing, and a snapshot restores the
// whole ledger on a fresh one, which then goes on identically.
func TestLedgerMachine(t *testing.T) {
	dir := t.TempDir()
	a, b := openTestLedger(t, filepath.Join(dir, "a.json")), openTestLedger(t, filepath.Join(dir, "b.json"))
	snap := func(l *Ledger) []byte {
		t.Helper()
		s, err := l.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	must := func(c state.Command, err error) state.Command {
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	jan := time.Date(2027, 1, 3, 9, 0, 0, 0, time.UTC)
	good := []state.Command{
		must(SpendCommand(dec2026, "alice", "month", 0.6, 1e-7, 1.0, 1e-6)),
		must(SpendCommand(dec2026, "bob", "year", 0.25, 0, 1.0, 0)),
		must(SpendCommand(dec2026, "alice", "month", 0.4, 0, 1.0, 1e-6)),
		must(SpendCommand(jan, "alice", "month", 0.5, 0, 1.0, 1e-6)), // a new month: a fresh budget
	}
	refused := []state.Command{
		must(SpendCommand(dec2026, "alice", "month", 0.1, 0, 1.0, 1e-6)), // December is spent
		must(SpendCommand(jan, "alice", "month", 0.6, 0, 1.0, 1e-6)),     // 0.5 left
		must(SpendCommand(dec2026, "", "month", 0.1, 0, 1.0, 0)),
		must(SpendCommand(dec2026, "alice", "week", 0.1, 0, 1.0, 0)),
		{Op: "budget.refund", Time: dec2026},
		{Op: OpSpend, Time: dec2026, Body: json.RawMessage(`{"epsilon": "lots"}`)},
	}
	for _, c := range good {
		for _, l := range []*Ledger{a, b} {
			if _, err := l.Apply(c); err != nil {
				t.Fatalf("%s: %v", c.Body, err)
			}
		}
	}
	before := snap(a)
	for _, c := range refused {
		if _, err := a.Apply(c); err == nil {
			t.Errorf("%s %s: accepted", c.Op, c.Body)
		}
	}
	if after := snap(a); !bytes.Equal(before, after) {
		t.Fatalf("refused commands changed the ledger:\n%s\n%s", before, after)
	}
	if sb := snap(b); !bytes.Equal(before, sb) {
		t.Fatalf("same commands, different snapshots:\n%s\n%s", before, sb)
	}
	// The refusal's reset time comes from the command's time too.
	_, err := a.Apply(refused[1])
	var ex *ExhaustedError
	if !errors.As(err, &ex) || ex.Key != "2027-01" || !ex.Resets.Equal(time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)) || ex.RemainingEpsilon != 0.5 {
		t.Errorf("January refusal: %v", err)
	}

	fresh := openTestLedger(t, filepath.Join(dir, "fresh.json"))
	if err := fresh.Restore(before); err != nil {
		t.Fatal(err)
	}
	if got := snap(fresh); !bytes.Equal(got, before) {
		t.Fatalf("restored snapshot differs:\n%s\n%s", got, before)
	}
	next := must(SpendCommand(jan, "alice", "month", 0.5, 0, 1.0, 1e-6))
	for _, l := range []*Ledger{a, fresh} {
		if _, err := l.Apply(next); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Apply(next); !errors.Is(err, ErrBudgetExhausted) {
			t.Fatalf("past the restored budget: %v", err)
		}
	}
	if !bytes.Equal(snap(a), snap(fresh)) {
		t.Fatal("a restored ledger went on differently")
	}
	// The restore is durable: a reopened ledger has it.
	if eps, _ := openTestLedger(t, filepath.Join(dir, "fresh.json")).Remaining("bob", dec2026, "year", 1.0, 0); eps != 0.75 {
		t.Errorf("bob after restore and reopen: %v left, want 0.75", eps)
	}
	if err := fresh.Restore([]byte(`{"version": 1, "accounts": {"alice": {"month:2026-12": {"epsilon_nano": -1}}}}`)); err == nil {
		t.Error("a snapshot with a negative account: restored")
	}
	if !bytes.Equal(snap(a), snap(fresh)) {
		t.Error("a refused snapshot changed the ledger")
	}
}

// A balance command reads the account as it stands through Apply (so, on
// a cluster, in log order) and changes nothing: the file is the same
// after it, and the next charge is decided as without it.
func TestLedgerBalanceCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "budget.json")
	l := openTestLedger(t, path)
	if _, err := spend(l, "bob", dec2026, "month", 0.7, 1e-7, 1.0, 1e-6); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := BalanceCommand(dec2026, "bob", "month", 1.0, 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	v, err := l.Apply(cmd)
	if err != nil {
		t.Fatal(err)
	}
	s := v.(Spent)
	if s.Key != "2026-12" || s.TotalEpsilon != 0.7 || s.RemainingEpsilon != 0.3 || s.TotalDelta != 1e-7 || s.RemainingDelta != 1e-6-1e-7 ||
		!s.Resets.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) || s.Epsilon != 0 {
		t.Fatalf("balance: %+v", s)
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(before) {
		t.Fatal("a balance changed the ledger file")
	}
	if _, err := spend(l, "bob", dec2026, "month", 0.3, 0, 1.0, 1e-6); err != nil {
		t.Fatalf("0.3 of 0.3 left after a balance: %v", err)
	}
	cmd, _ = BalanceCommand(dec2026, "nobody", "fortnight", 1.0, 0)
	if _, err := l.Apply(cmd); err == nil || !strings.Contains(err.Error(), "fortnight") {
		t.Fatalf("a balance for an unknown period: %v", err)
	}
}
