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
//
// On its own (state.Local) its head is its file's last record. Under a
// replicated log (Rewind) its state is the commands applied to it from
// the genesis head, or from a restored snapshot's head, and the store is
// their durable copy: the log replays its commands after a restart, and
// the records the store already holds are recognised, not written twice.
// A snapshot is only the head: a node restored from one whose store ends
// before that head lacks the records in between until they are copied
// from a member (fill.go); the records it seals meanwhile wait in memory,
// so the file never has a hole.
type Machine struct {
	store Store

	wmu sync.Mutex // store writes and the gap: Apply and Fill
	gap *gap
	// broken is a failed store write (a full disk): the head no longer
	// advances as on the other nodes, so no snapshot is taken of it; the
	// node is restarted once the disk is fixed, and its log's replay
	// writes what it missed.
	broken error

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

// Rewind puts the head back at genesis, the state before any command,
// keeping the store: a replicated log is about to apply its commands from
// the start (or restore a snapshot and apply those after it), and the
// records the store holds are recognised as they are applied again.
// Package cluster calls it when a node opens.
func (m *Machine) Rewind() error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq, m.last, m.lastTime, m.gap, m.broken = 0, Genesis, time.Time{}, nil, nil
	return nil
}

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
	m.wmu.Lock()
	defer m.wmu.Unlock()
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
	if m.gap != nil {
		m.gap.pending = append(m.gap.pending, recs...)
	} else {
		fresh, err := m.unstored(recs)
		if err != nil {
			return nil, err
		}
		if len(fresh) > 0 {
			if err := m.write(fresh); err != nil {
				return nil, err
			}
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

// head is what a snapshot of the chain holds: the records themselves are
// in the store, so a snapshot stays small however long the chain.
type head struct {
	Seq  uint64    `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time"`
}

// Snapshot is the chain's head; refused after a failed store write.
func (m *Machine) Snapshot() ([]byte, error) {
	m.wmu.Lock()
	broken := m.broken
	m.wmu.Unlock()
	if broken != nil {
		return nil, fmt.Errorf("audit: no snapshot of a chain whose file stopped at a failed write (%v): restart the node once the disk is fixed", broken)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return json.Marshal(head{m.seq, m.last, m.lastTime})
}

// Restore continues the chain from a snapshot's head. When the store ends
// before that head, the records in between are Missing until Fill.
func (m *Machine) Restore(b []byte) error {
	var h head
	if err := json.Unmarshal(b, &h); err != nil {
		return fmt.Errorf("audit: reading snapshot: %w", err)
	}
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.mu.Lock()
	m.seq, m.last, m.lastTime = h.Seq, h.Hash, h.Time
	m.mu.Unlock()
	m.gap = nil
	if stored := m.store.Last(); h.Seq > 0 && (stored == nil || stored.Seq < h.Seq) {
		m.gap = newGap(h.Seq, h.Hash)
	}
	return nil
}

// Seq is the last sealed record's number.
func (m *Machine) Seq() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq
}
