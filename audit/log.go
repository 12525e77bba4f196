// Package audit turns query attempts into records: the Log is the
// attempt.Observer that writes a begin record before any source is read and
// an end record when the attempt ends, PINs only as keyed hashes. The
// records, their chain, the file they live in, verification and search are
// package audit/chain; audit/report and audit/simulate build on both.
package audit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"sync"
	"time"

	"lienthong/attempt"
	"lienthong/audit/chain"
	"lienthong/state"
)

// Options configure a Log.
type Options struct {
	// Path of the log file (JSON lines). Its sidecars FILE.head and
	// FILE.idx live beside it. Ignored when Store is set.
	Path string
	// Keys hash PINs and authenticate the head; required.
	Keys *chain.Keys
	// Node names this node in every record; default the hostname.
	Node string
	// Store replaces the file store (the caller opened it).
	Store chain.Store
	// State, with Machine, makes the chain propose its appends to the
	// node's store, whose machines hold Machine (over Store) under
	// "audit"; the node then owns Store and closes it after its store
	// stops (Close leaves it open). Unset: the log applies its appends in
	// process.
	State   state.Store
	Machine *chain.Machine
	// Now is the clock; default time.Now. Simulations set it.
	Now func() time.Time
	// NoSync skips fsync: only for simulations and tests.
	NoSync bool
	// Simulated marks the log as synthetic in its open record; reports
	// made from it say so.
	Simulated bool
	// OnEnd, if set, is called after each end record is durable (the
	// health monitor learns from it what queries prove about sources).
	// It must not block.
	OnEnd func(*chain.Record)
}

// Log is the audit log: an attempt.Observer that writes a begin record
// before any source is read and an end record when the attempt ends (only
// the end record for attempts refused before planning), each hash-chained
// to the one before and fsync'd before Begin or End returns. An error
// from Begin or End fails the query (the engine fails closed).
type Log struct {
	chain *chain.Chain
	store chain.Store
	// ownStore: Close closes store (not when a node's store applies
	// the appends: the node closes it once that store has stopped).
	ownStore bool
	keys     *chain.Keys
	node     string
	onEnd    func(*chain.Record)

	mu     sync.Mutex
	begins map[string]uint64 // attempt id -> seq of its begin record
	closed bool
}

var _ attempt.Observer = (*Log)(nil)

// Open opens (or creates) the log and appends an open record, which says
// what recovery found if the node had crashed.
func Open(opt Options) (*Log, error) {
	if opt.Keys == nil {
		return nil, errors.New("audit: a key is required (PINs are stored only as keyed hashes)")
	}
	if opt.Node == "" {
		opt.Node = defaultNode()
	}
	store := opt.Store
	note := ""
	if fs, ok := store.(*chain.FileStore); ok {
		note = fs.Recovered
	}
	if store == nil {
		if opt.Path == "" {
			return nil, errors.New("audit: no log path")
		}
		fs, err := chain.OpenFileStore(opt.Path, chain.FileOptions{Keys: opt.Keys, Node: opt.Node, NoSync: opt.NoSync})
		if err != nil {
			return nil, err
		}
		store, note = fs, fs.Recovered
	}
	ch := chain.NewChain(store, opt.Node, opt.Now)
	if opt.State != nil && opt.Machine != nil {
		ch = chain.NewChainOn(opt.State, opt.Machine, opt.Node, opt.Now)
	}
	l := &Log{chain: ch, store: store, ownStore: opt.State == nil, keys: opt.Keys, node: opt.Node, onEnd: opt.OnEnd, begins: map[string]uint64{}}
	if err := l.chain.Append(&chain.Record{Kind: chain.KindOpen, Format: chain.Format, KeyID: opt.Keys.ID, Note: note, Simulated: opt.Simulated}); err != nil {
		if l.ownStore {
			store.Close()
		}
		return nil, err
	}
	return l, nil
}

func defaultNode() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown-node"
	}
	return h
}

// Begin records a planned attempt before any source is read.
func (l *Log) Begin(_ context.Context, a *attempt.Attempt) error {
	r := l.attemptRecord(chain.KindBegin, a, true)
	if err := l.chain.Append(r); err != nil {
		return err
	}
	l.mu.Lock()
	l.begins[a.ID] = r.Seq
	l.mu.Unlock()
	return nil
}

// End records how the attempt ended.
func (l *Log) End(_ context.Context, a *attempt.Attempt) error {
	l.mu.Lock()
	begin, ok := l.begins[a.ID]
	delete(l.begins, a.ID)
	l.mu.Unlock()
	r := l.attemptRecord(chain.KindEnd, a, !ok)
	r.BeginSeq = begin
	r.Outcome, r.Code, r.FailedSource = string(a.Outcome), a.ErrorCode, a.FailedSource
	r.Rows, r.Bytes, r.DurationUS = a.Rows, a.Bytes, a.Duration.Microseconds()
	if len(a.RowsPerSource) > 0 {
		r.RowsPerSource = maps.Clone(a.RowsPerSource)
	}
	r.ResultSHA256 = a.ResultSHA256
	r.Epsilon, r.Delta = a.Epsilon, a.Delta
	if err := l.chain.Append(r); err != nil {
		return err
	}
	if l.onEnd != nil {
		l.onEnd(r)
	}
	return nil
}

// attemptRecord fills what an attempt says; full adds the SQL, tables,
// columns and PIN hashes (on a begin, or an end without a begin).
func (l *Log) attemptRecord(kind chain.Kind, a *attempt.Attempt, full bool) *chain.Record {
	r := &chain.Record{
		Kind: kind, Attempt: a.ID, Start: a.Start.UTC(),
		Principal: a.Session.Principal, Agency: a.Session.Agency, Purpose: a.Session.Purpose, CaseID: a.Session.CaseID,
		Sources: a.Sources,
	}
	if full {
		r.SQL = l.keys.ScrubSQL(a.SQL, a.FilterPINs)
		r.Tables, r.Columns = a.Tables, a.Columns
		for _, p := range a.FilterPINs {
			r.PINs = append(r.PINs, l.keys.PIN(p))
		}
	}
	return r
}

// Stats reports records and batches written and the time spent writing.
func (l *Log) Stats() chain.ChainStats { return l.chain.Stats() }

// Seq is the number of the last record.
func (l *Log) Seq() uint64 { return l.chain.Seq() }

// Close appends a close record and closes the store. Attempts still open
// keep their begin record without an end.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	open := len(l.begins)
	l.mu.Unlock()
	note := ""
	if open > 0 {
		note = fmt.Sprintf("%d attempts still running had no end", open)
	}
	err := l.chain.Append(&chain.Record{Kind: chain.KindClose, Note: note})
	l.chain.Close()
	if !l.ownStore {
		return err
	}
	return errors.Join(err, l.store.Close())
}

// Healthy is nil while the log can record attempts. After a failed write
// (a full or read-only disk) the log refuses every record until the node
// is restarted, which reopens it and repairs its tail: the node answers no
// query meanwhile (LT-AUDIT), and /readyz says so.
func (l *Log) Healthy() error { return l.chain.Err() }
