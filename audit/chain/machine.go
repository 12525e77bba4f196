package chain

import (
	"bytes"
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
// the records the store already holds are recognised, not written twice. A snapshot is only the head: a node restored from one whose
// store ends before that head lacks the records in between (Missing)
// until they are copied from a member (Records there, Fill here); the
// records it seals meanwhile wait in memory, so the file never has a hole.
type Machine struct {
	store Store

	wmu sync.Mutex // store writes and the gap: Apply and Fill
	gap *gap

	mu       sync.Mutex // the head, for readers outside Apply
	seq      uint64
	last     string    // hash of the last sealed record
	lastTime time.Time // record times never go backwards
}

// gap is what the store lacks before the head after a restore.
type gap struct {
	to   uint64 // the restored head: the last record missing
	hash string // its hash, which the copied records must lead to
	// staged are copied records that chain from the store's last one,
	// written only once they reach the head (a member that sent records
	// leading elsewhere leaves nothing in the file).
	staged []*Record
	// pending are records sealed after the restore, written after the gap.
	pending []*Record
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
func (m *Machine) Rewind() {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq, m.last, m.lastTime, m.gap = 0, Genesis, time.Time{}, nil
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
			if err := m.store.Append(fresh); err != nil {
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

// Snapshot is the chain's head.
func (m *Machine) Snapshot() ([]byte, error) {
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
		m.gap = &gap{to: h.Seq, hash: h.Hash}
	}
	return nil
}

// Seq is the last sealed record's number.
func (m *Machine) Seq() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq
}

// Missing is the range of records, from..to inclusive, that the store
// lacks before the head (ok false when it lacks none).
func (m *Machine) Missing() (from, to uint64, ok bool) {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	if m.gap == nil {
		return 0, 0, false
	}
	return m.nextWanted(), m.gap.to, true
}

// nextWanted is the seq Fill expects next; wmu held.
func (m *Machine) nextWanted() uint64 {
	if n := len(m.gap.staged); n > 0 {
		return m.gap.staged[n-1].Seq + 1
	}
	if r := m.store.Last(); r != nil {
		return r.Seq + 1
	}
	return 1
}

// Records is the stored records from seq from through to, as the file
// holds them (JSON lines), stopping after about maxBytes. It returns what
// the store has, which may end before to or be empty.
func (m *Machine) Records(from, to uint64, maxBytes int) ([]byte, error) {
	var buf bytes.Buffer
	next := from
	err := m.store.Iterate(from, func(r *Record) error {
		if r.Seq > to || r.Seq != next || buf.Len() >= maxBytes {
			return errStop
		}
		buf.Write(r.Raw)
		next++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Fill takes records copied from a member (Records' format) for the gap
// Missing reports. Each must be intact (its hash is its bytes') and chain
// to the one before it, starting from the store's last record; once they
// reach the head, the last one must be the head the snapshot named, and
// only then are they written, with the records sealed meanwhile after
// them. Records that do not chain are refused with ErrTampered and
// nothing is kept of them.
func (m *Machine) Fill(data []byte) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	g := m.gap
	if g == nil {
		return nil
	}
	want := m.nextWanted()
	prev := Genesis
	if n := len(g.staged); n > 0 {
		prev = g.staged[n-1].Hash
	} else if r := m.store.Last(); r != nil {
		prev = r.Hash
	}
	var got []*Record
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return fmt.Errorf("%w: copied records end without a newline", ErrMalformed)
		}
		line := data[:i+1]
		data = data[i+1:]
		r, ok, err := ParseRecord(line)
		if err != nil {
			return fmt.Errorf("copied record %d: %w", want, err)
		}
		if r.Seq < want {
			continue // already have it
		}
		if !ok || r.Seq != want || r.Prev != prev {
			return fmt.Errorf("%w: copied record %d does not chain to record %d", ErrTampered, r.Seq, want-1)
		}
		got = append(got, r)
		want, prev = r.Seq+1, r.Hash
		if r.Seq == g.to {
			break
		}
	}
	if len(got) == 0 {
		return nil
	}
	if last := got[len(got)-1]; last.Seq == g.to && last.Hash != g.hash {
		g.staged = nil
		return fmt.Errorf("%w: copied records lead to record %d with hash %s, but the snapshot's head is %s", ErrTampered, g.to, last.Hash, g.hash)
	}
	g.staged = append(g.staged, got...)
	if want <= g.to {
		return nil
	}
	for recs := g.staged; len(recs) > 0; {
		n := min(len(recs), 4096)
		if err := m.store.Append(recs[:n]); err != nil {
			return err
		}
		recs = recs[n:]
	}
	if len(g.pending) > 0 {
		if err := m.store.Append(g.pending); err != nil {
			return err
		}
	}
	m.gap = nil
	return nil
}
