package dp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"lienthong/state"
)

// ErrBudgetExhausted is wrapped by the error a spend returns when a charge
// would exceed the principal's budget for the period. Match it with
// errors.Is; the concrete error is an *ExhaustedError.
var ErrBudgetExhausted = errors.New("privacy budget exhausted")

// ExhaustedError says why a charge was refused: what it needed, what
// remains and when the budget resets.
type ExhaustedError struct {
	Principal        string
	Period, Key      string // e.g. "month", "2026-12"
	Epsilon, Delta   float64
	RemainingEpsilon float64
	RemainingDelta   float64
	Resets           time.Time
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("%v: principal %q needs epsilon %g, delta %g but has epsilon %g, delta %g left for %s %s; the budget resets at %s",
		ErrBudgetExhausted, e.Principal, e.Epsilon, e.Delta, e.RemainingEpsilon, e.RemainingDelta,
		e.Period, e.Key, e.Resets.Format(time.RFC3339))
}

func (e *ExhaustedError) Unwrap() error { return ErrBudgetExhausted }

// Spent reports a successful charge, or (OpBalance) an account as it
// stands, with Epsilon and Delta zero.
type Spent struct {
	Principal   string
	Period, Key string // e.g. "month", "2026-12"
	// Epsilon and Delta are what this call charged.
	Epsilon, Delta float64
	// TotalEpsilon and TotalDelta are spent in the period, this call included.
	TotalEpsilon, TotalDelta float64
	// RemainingEpsilon and RemainingDelta are what is left of the budget.
	RemainingEpsilon, RemainingDelta float64
	// Resets is when the next period (and a fresh budget) starts.
	Resets time.Time
}

// Budgets are kept in fixed point so that sums are exact: epsilon in units
// of 1e-9, delta in units of 1e-18. Ten charges of 0.1 fill a budget of 1.0
// exactly.
const (
	epsilonUnit = 1e9
	deltaUnit   = 1e18
	maxEpsilon  = 1e6 // per charge and per budget; keeps totals far from int64 overflow
	maxDelta    = 1
)

// toUnits converts x to fixed point. A value within float rounding noise
// (1e-6 units, or 1e-12 relative) of a whole number of units is that
// number; otherwise a charge rounds up and a budget rounds down, so the
// ledger never lets more be spent than asked for beyond that noise (at most
// 1e-15 epsilon or 1e-24 delta per charge).
func toUnits(x, unit float64, roundUp bool) int64 {
	v := x * unit
	r := math.Round(v)
	if math.Abs(v-r) <= max(1e-6, 1e-12*math.Abs(v)) {
		return int64(r)
	}
	if roundUp {
		return int64(math.Ceil(v))
	}
	return int64(math.Floor(v))
}

// Ledger is a durable record of the privacy budget each principal has
// spent per period, and the state.Machine that charges it (budget.spend).
// It lives in one JSON file, replaced atomically on every charge
// (temporary file, fsync, rename, fsync of the directory), so a crash
// leaves either the old or the new totals, never a torn file.
//
// Every read-modify-write (each applied command) holds a mutex and an
// exclusive flock on a sidecar lock file (path + ".lock"; the data file
// itself is replaced, so it cannot carry the lock). The file is re-read
// under the lock on every call, so several Ledgers on one path, in one
// process or several, never both spend the same budget. A file that
// cannot be parsed is an error, never an empty ledger: silently resetting
// would refund every budget.
//
// Budgets themselves are not stored: each command carries the principal's
// budget (it comes from the policy), and the ledger compares it with what
// has been spent. Spending is tracked per period kind and key ("month"
// "2026-12"), so changing a principal's period starts a new account.
type Ledger struct {
	path string
	mu   sync.Mutex
	lock *os.File
}

type ledgerFile struct {
	Version int `json:"version"`
	// Accounts maps principal, then "period:key" (e.g. "month:2026-12"),
	// to what was spent.
	Accounts map[string]map[string]*account `json:"accounts"`
}

type account struct {
	EpsilonNano int64 `json:"epsilon_nano"` // epsilon spent, in units of 1e-9
	DeltaAtto   int64 `json:"delta_atto"`   // delta spent, in units of 1e-18
	Charges     int64 `json:"charges"`
}

const ledgerVersion = 1

// OpenLedger opens the ledger at path, creating it on the first charge if
// it does not exist. An existing file must parse; a corrupted one is an
// error. Close releases the lock file.
func OpenLedger(path string) (*Ledger, error) {
	if !haveFlock {
		return nil, errors.New("dp: the budget ledger needs flock, which this platform lacks")
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dp: opening ledger lock: %w", err)
	}
	l := &Ledger{path: path, lock: lock}
	if err := l.withLock(false, func() error { _, err := l.load(); return err }); err != nil {
		lock.Close()
		return nil, err
	}
	return l, nil
}

// Close releases the ledger's lock file. The Ledger must not be used after.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lock == nil {
		return nil
	}
	err := l.lock.Close()
	l.lock = nil
	return err
}

func (l *Ledger) withLock(exclusive bool, fn func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lock == nil {
		return errors.New("dp: ledger is closed")
	}
	if err := flock(l.lock, exclusive); err != nil {
		return fmt.Errorf("dp: locking ledger: %w", err)
	}
	defer funlock(l.lock)
	return fn()
}

func (l *Ledger) load() (*ledgerFile, error) {
	data, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return &ledgerFile{Version: ledgerVersion, Accounts: map[string]map[string]*account{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dp: reading ledger: %w", err)
	}
	f, err := parseLedger(data)
	if err != nil {
		return nil, fmt.Errorf("dp: ledger %s is corrupted: %w", l.path, err)
	}
	return f, nil
}

// parseLedger reads a ledger file or snapshot.
func parseLedger(data []byte) (*ledgerFile, error) {
	var f ledgerFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	if f.Version != ledgerVersion {
		return nil, fmt.Errorf("version %d, want %d (written by a newer lienthong?)", f.Version, ledgerVersion)
	}
	if f.Accounts == nil {
		f.Accounts = map[string]map[string]*account{}
	}
	for p, accts := range f.Accounts {
		for k, a := range accts {
			if a == nil || a.EpsilonNano < 0 || a.DeltaAtto < 0 || a.Charges < 0 {
				return nil, fmt.Errorf("bad account %q %q", p, k)
			}
		}
	}
	return &f, nil
}

func (l *Ledger) save(f *ledgerFile) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	dir := filepath.Dir(l.path)
	tmp, err := os.CreateTemp(dir, filepath.Base(l.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("dp: writing ledger: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("dp: writing ledger: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("dp: writing ledger: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("dp: writing ledger: %w", err)
	}
	if err := os.Rename(tmp.Name(), l.path); err != nil {
		return fmt.Errorf("dp: writing ledger: %w", err)
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("dp: syncing ledger directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("dp: syncing ledger directory: %w", err)
	}
	return nil
}

func checkAmount(what string, x, limit float64) error {
	if math.IsNaN(x) || x < 0 || x > limit {
		return fmt.Errorf("dp: %s %v must be in [0, %v]", what, x, limit)
	}
	return nil
}

// OpSpend charges a principal's budget: its body is a SpendBody, its time
// picks the period (and so the account and when it resets).
const OpSpend = "budget.spend"

// SpendBody is what an OpSpend command charges, and the budget it is
// checked against (the budget comes from the policy in force; the ledger
// stores only what was spent).
type SpendBody struct {
	Principal     string  `json:"principal"`
	Period        string  `json:"period"` // "month", ...: the kind; the key comes from the command's time
	Epsilon       float64 `json:"epsilon"`
	Delta         float64 `json:"delta"`
	EpsilonBudget float64 `json:"epsilon_budget"`
	DeltaBudget   float64 `json:"delta_budget"`
}

// OpBalance reads a principal's account through the log, changing
// nothing: applied in log order, it sees every charge committed before it
// on whichever node proposed it (a linearizable read, where a follower's
// own copy may lag). Its body is a SpendBody without epsilon and delta.
const OpBalance = "budget.balance"

// BalanceCommand reads principal's account for the period containing at,
// against (epsBudget, deltaBudget).
func BalanceCommand(at time.Time, principal, period string, epsBudget, deltaBudget float64) (state.Command, error) {
	return state.New(OpBalance, at, SpendBody{Principal: principal, Period: period, EpsilonBudget: epsBudget, DeltaBudget: deltaBudget})
}

// SpendCommand charges (eps, delta) to principal's account for the period
// containing at, within (epsBudget, deltaBudget). Charge before releasing
// any noisy result.
func SpendCommand(at time.Time, principal, period string, eps, delta, epsBudget, deltaBudget float64) (state.Command, error) {
	return state.New(OpSpend, at, SpendBody{principal, period, eps, delta, epsBudget, deltaBudget})
}

// Apply makes the Ledger a state.Machine: an OpSpend command is charged
// (see spend) and Apply returns its Spent. Apply reads only the command
// and the ledger file (re-read under the lock, so that a CLI and a server
// sharing one file never both spend the same budget); the command's time,
// not a clock, picks the period.
func (l *Ledger) Apply(c state.Command) (any, error) {
	if c.Op != OpSpend && c.Op != OpBalance {
		return nil, fmt.Errorf("dp: unknown command %q", c.Op)
	}
	var b SpendBody
	if err := json.Unmarshal(c.Body, &b); err != nil {
		return nil, fmt.Errorf("dp: reading %s: %w", c.Op, err)
	}
	if c.Op == OpBalance {
		return l.balance(b.Principal, c.Time, b.Period, b.EpsilonBudget, b.DeltaBudget)
	}
	s, err := l.spend(b.Principal, c.Time, b.Period, b.Epsilon, b.Delta, b.EpsilonBudget, b.DeltaBudget)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Snapshot is the whole ledger: every principal's spending per period.
func (l *Ledger) Snapshot() ([]byte, error) {
	var out []byte
	err := l.withLock(false, func() error {
		f, err := l.load()
		if err == nil {
			out, err = json.Marshal(f)
		}
		return err
	})
	return out, err
}

// Restore replaces the whole ledger with a snapshot, durably.
func (l *Ledger) Restore(b []byte) error {
	f, err := parseLedger(b)
	if err != nil {
		return fmt.Errorf("dp: ledger snapshot is corrupted: %w", err)
	}
	return l.withLock(true, func() error { return l.save(f) })
}

// Rewind empties the ledger, durably. A cluster node does it as it opens
// (package cluster calls it): its file is then rebuilt from the replicated
// state (the last snapshot, then the commands after it), which re-applies
// every charge the file already held; keeping them would count them twice.
func (l *Ledger) Rewind() error {
	return l.withLock(true, func() error {
		return l.save(&ledgerFile{Version: ledgerVersion, Accounts: map[string]map[string]*account{}})
	})
}

// spend charges (eps, delta) to principal's account for the period
// containing now, if the account's totals stay within (epsBudget,
// deltaBudget). Otherwise it spends nothing and returns an error wrapping
// ErrBudgetExhausted (an *ExhaustedError saying what remains and when the
// period resets). The charge is on disk before spend returns, so a
// restart cannot refund it.
func (l *Ledger) spend(principal string, now time.Time, period string, eps, delta, epsBudget, deltaBudget float64) (Spent, error) {
	if principal == "" {
		return Spent{}, errors.New("dp: empty principal")
	}
	for _, c := range []struct {
		what     string
		x, limit float64
	}{{"epsilon", eps, maxEpsilon}, {"delta", delta, maxDelta}, {"epsilon budget", epsBudget, maxEpsilon}, {"delta budget", deltaBudget, maxDelta}} {
		if err := checkAmount(c.what, c.x, c.limit); err != nil {
			return Spent{}, err
		}
	}
	key, resets, err := periodBounds(now, period)
	if err != nil {
		return Spent{}, err
	}
	ce, cd := toUnits(eps, epsilonUnit, true), toUnits(delta, deltaUnit, true)
	be, bd := toUnits(epsBudget, epsilonUnit, false), toUnits(deltaBudget, deltaUnit, false)
	var out Spent
	err = l.withLock(true, func() error {
		f, err := l.load()
		if err != nil {
			return err
		}
		accts := f.Accounts[principal]
		if accts == nil {
			accts = map[string]*account{}
			f.Accounts[principal] = accts
		}
		a := accts[period+":"+key]
		if a == nil {
			a = &account{}
		}
		if a.EpsilonNano+ce > be || a.DeltaAtto+cd > bd {
			return &ExhaustedError{
				Principal: principal, Period: period, Key: key,
				Epsilon: eps, Delta: delta,
				RemainingEpsilon: float64(max(0, be-a.EpsilonNano)) / epsilonUnit,
				RemainingDelta:   float64(max(0, bd-a.DeltaAtto)) / deltaUnit,
				Resets:           resets,
			}
		}
		next := &account{EpsilonNano: a.EpsilonNano + ce, DeltaAtto: a.DeltaAtto + cd, Charges: a.Charges + 1}
		accts[period+":"+key] = next
		if err := l.save(f); err != nil {
			return err
		}
		out = Spent{
			Principal: principal, Period: period, Key: key,
			Epsilon: eps, Delta: delta,
			TotalEpsilon:     float64(next.EpsilonNano) / epsilonUnit,
			TotalDelta:       float64(next.DeltaAtto) / deltaUnit,
			RemainingEpsilon: float64(be-next.EpsilonNano) / epsilonUnit,
			RemainingDelta:   float64(bd-next.DeltaAtto) / deltaUnit,
			Resets:           resets,
		}
		return nil
	})
	if err != nil {
		return Spent{}, err
	}
	return out, nil
}

// Remaining returns what is left of (epsBudget, deltaBudget) for principal
// in the period containing now (never negative), from this node's copy.
// If the ledger cannot be read or the arguments are invalid it returns
// 0, 0: a caller that checks before spending then refuses rather than
// overspends.
func (l *Ledger) Remaining(principal string, now time.Time, period string, epsBudget, deltaBudget float64) (eps, delta float64) {
	s, err := l.balance(principal, now, period, epsBudget, deltaBudget)
	if err != nil {
		return 0, 0
	}
	return s.RemainingEpsilon, s.RemainingDelta
}

// balance is principal's account for the period containing now: spent,
// left of (epsBudget, deltaBudget) (never negative), when it resets.
func (l *Ledger) balance(principal string, now time.Time, period string, epsBudget, deltaBudget float64) (Spent, error) {
	for _, c := range []struct {
		what     string
		x, limit float64
	}{{"epsilon budget", epsBudget, maxEpsilon}, {"delta budget", deltaBudget, maxDelta}} {
		if err := checkAmount(c.what, c.x, c.limit); err != nil {
			return Spent{}, err
		}
	}
	key, resets, err := periodBounds(now, period)
	if err != nil {
		return Spent{}, err
	}
	be, bd := toUnits(epsBudget, epsilonUnit, false), toUnits(deltaBudget, deltaUnit, false)
	var a account
	err = l.withLock(false, func() error {
		f, err := l.load()
		if err != nil {
			return err
		}
		if p := f.Accounts[principal][period+":"+key]; p != nil {
			a = *p
		}
		return nil
	})
	if err != nil {
		return Spent{}, err
	}
	return Spent{Principal: principal, Period: period, Key: key,
		TotalEpsilon: float64(a.EpsilonNano) / epsilonUnit, TotalDelta: float64(a.DeltaAtto) / deltaUnit,
		RemainingEpsilon: float64(max(0, be-a.EpsilonNano)) / epsilonUnit, RemainingDelta: float64(max(0, bd-a.DeltaAtto)) / deltaUnit,
		Resets: resets}, nil
}
