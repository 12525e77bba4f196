package chain

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"lienthong/state"
)

// OpAppend is the command that seals records into the chain: its body is
// the records, in order, and its time is the proposer's clock.
const OpAppend = "audit.append"

// Machine is the chain as a state.Machine: Apply seals each record of an
// append command (the next sequence number, the previous record's hash,
// the command's time but never earlier than the last record's) and writes
// the batch to the store before it returns. The same commands applied to
// the same head give the same records, byte for byte, on every node.
type Machine struct {
	store Store

	mu       sync.Mutex // the head, for readers outside Apply
	seq      uint64
	last     string    // hash of the last sealed record
	lastTime time.Time // record times never go backwards
}

// NewMachine continues the chain in store from its last record.
func NewMachine(store Store) *Machine {
	m := &Machine{store: store, last: Genesis}
	if r := store.Last(); r != nil {
		m.seq, m.last, m.lastTime = r.Seq, r.Hash, r.Time
	}
	return m
}

// NewReplicaMachine starts from the empty chain over store, for a node
// whose machines are rebuilt from a replicated log: raft restores the
// last snapshot's head (Restore) or, with none, replays every command
// from the first, and the records store already holds are recognised
// hash for hash, not written again (a file that differs is refused as
// tampered). Starting from the file's own head instead would seal the
// replayed commands after it.
func NewReplicaMachine(store Store) *Machine { return &Machine{store: store, last: Genesis} }

// Apply seals and stores the records of an OpAppend command and returns
// them sealed. A store failure leaves the head as it was.
func (m *Machine) Apply(c state.Command) (any, error) {
	if c.Op != OpAppend {
		return nil, fmt.Errorf("audit: unknown command %q", c.Op)
	}
	var recs []*Record
	if err := json.Unmarshal(c.Body, &recs); err != nil {
		return nil, fmt.Errorf("audit: reading %s: %w", c.Op, err)
	}
	m.mu.Lock()
	seq, last, t := m.seq, m.last, c.Time.UTC()
	if t.Before(m.lastTime) {
		t = m.lastTime
	}
	m.mu.Unlock()
	for _, r := range recs {
		r.Time = t
		if err := r.seal(seq+1, last); err != nil {
			return nil, err
		}
		seq, last = r.Seq, r.Hash
	}
	fresh, err := m.unstored(recs)
	if err != nil {
		return nil, err
	}
	if len(fresh) > 0 {
		if err := m.store.Append(fresh); err != nil {
			return nil, err
		}
	}
	m.mu.Lock()
	m.seq, m.last, m.lastTime = seq, last, t
	m.mu.Unlock()
	return recs, nil
}

// unstored is the part of sealed recs the store does not hold yet. A
// replicated log replays the commands after its last snapshot into a
// machine restored from that snapshot, while the store kept what they
// wrote before a restart: those records are checked to be the very same
// (hash for hash) and not written again. A stored record that differs
// means this node's log is not the one its file was written from.
func (m *Machine) unstored(recs []*Record) ([]*Record, error) {
	last := m.store.Last()
	if last == nil || len(recs) == 0 || last.Seq < recs[0].Seq {
		return recs, nil
	}
	n := 0
	err := m.store.Iterate(recs[0].Seq, func(r *Record) error {
		if n == len(recs) {
			return errStop
		}
		if r.Seq != recs[n].Seq || r.Hash != recs[n].Hash {
			return fmt.Errorf("%w: record %d in the file differs from the one the log re-applies", ErrTampered, recs[n].Seq)
		}
		n++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return recs[n:], nil
}

var errStop = errors.New("stop")

// head is what a snapshot of the chain holds. The records themselves are
// in the store; a node restored from a snapshot continues the chain after
// them and needs a copy of the log to serve searches and reports.
type head struct {
	Seq  uint64    `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time"`
}

// Snapshot is the chain's head.
func (m *Machine) Snapshot() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return json.Marshal(head{m.seq, m.last, m.lastTime})
}

// Restore continues the chain from a snapshot's head.
func (m *Machine) Restore(b []byte) error {
	var h head
	if err := json.Unmarshal(b, &h); err != nil {
		return fmt.Errorf("audit: reading snapshot: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq, m.last, m.lastTime = h.Seq, h.Hash, h.Time
	return nil
}

// Seq is the last sealed record's number.
func (m *Machine) Seq() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq
}
