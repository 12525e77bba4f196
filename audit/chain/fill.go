package chain

import (
	"bytes"
	"errors"
	"fmt"
)

// Copying the records a restored machine lacks. The snapshot gave it only
// the head (seq and hash); the records between its store's last one and
// the head come from a member, whose word is not taken: a record is
// written only once it is proven to lead to the head. The proof goes
// backwards, one chunk at a time: a chunk ending at a record whose hash is
// known proves the hash of the record before the chunk (its first
// record's prev). The chunks proven last (the lowest) are kept, up to
// fillKeep bytes, and written once the proof reaches the store; the
// others are fetched again, forwards, each checked to end at the hash the
// first pass proved, and written at once. So memory stays bounded however
// long the gap (a cut list of hashes, one per chunk), and a gap that fits
// in fillKeep crosses the network once.

// fillKeep is how many bytes of proven records the first pass keeps.
var fillKeep = 64 << 20

// fillRecords is how many records the first pass asks for at a time (it
// asks for fewer when a member's answer stops short at its size bound).
var fillRecords uint64 = 8192

// fillBound is the least size bound a copier gives Records (package
// cluster: 4 MB). An answer that stops short below it is not cut by the
// bound: the member lacks the records, and another is asked.
const fillBound = 1 << 20

// gap is what the store lacks before the head after a restore.
type gap struct {
	to   uint64 // the restored head: the last record missing
	hash string // its hash
	// proven are records whose hashes the backward pass proved, highest
	// first: proven[0] is the head.
	proven []checkpoint
	// done: the backward pass reached the store's last record.
	done bool
	ask  uint64 // records per backward chunk
	// kept are proven chunks still in memory, highest first, at most
	// fillKeep bytes (the highest are dropped first).
	kept      [][]*Record
	keptBytes int
	// pending are records sealed after the restore, written after the gap.
	pending []*Record
}

type checkpoint struct {
	seq  uint64
	hash string
}

func newGap(to uint64, hash string) *gap {
	return &gap{to: to, hash: hash, proven: []checkpoint{{to, hash}}, ask: fillRecords}
}

// base is the store's last record's seq and hash (0 and Genesis if none).
func (m *Machine) base() (uint64, string) {
	if r := m.store.Last(); r != nil {
		return r.Seq, r.Hash
	}
	return 0, Genesis
}

// Missing is the range of records, from..to inclusive, the machine wants
// copied next (ok false when it lacks none). A copier gives it what
// Records returns for that range on a member.
func (m *Machine) Missing() (from, to uint64, ok bool) {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	if m.gap == nil {
		return 0, 0, false
	}
	from, to = m.wanted()
	return from, to, true
}

// wanted is the next range; wmu held, gap set.
func (m *Machine) wanted() (from, to uint64) {
	g := m.gap
	b, _ := m.base()
	if !g.done {
		low := g.proven[len(g.proven)-1].seq
		from = b + 1
		if low >= g.ask && low-g.ask+1 > from {
			from = low - g.ask + 1
		}
		return from, low
	}
	for i := len(g.proven) - 1; i >= 0; i-- {
		if g.proven[i].seq > b {
			return b + 1, g.proven[i].seq
		}
	}
	return b + 1, g.to
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

// Fill takes the records a member gave for the range Missing named. Each
// must be intact (its hash is its bytes') and chain to the one before;
// the chunk must end at a record whose hash is proven (the head, at
// first). Records that do not are refused with ErrTampered, and nothing
// of them is written.
func (m *Machine) Fill(data []byte) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	g := m.gap
	if g == nil {
		return nil
	}
	from, to := m.wanted()
	recs, size, err := parseChunk(data, from)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("copied records: none from %d", from)
	}
	last := recs[len(recs)-1]
	b, bhash := m.base()
	if !g.done {
		if last.Seq < to {
			if size < fillBound {
				return fmt.Errorf("the member's records end at %d, before %d", last.Seq, to)
			}
			g.ask = uint64(len(recs)) // its size bound: ask for fewer
			return nil
		}
		if last.Seq != to || last.Hash != g.proven[len(g.proven)-1].hash {
			return fmt.Errorf("%w: copied records %d..%d do not lead to the proven hash of record %d", ErrTampered, from, last.Seq, to)
		}
		if from-1 == b {
			if recs[0].Prev != bhash {
				return fmt.Errorf("%w: the copied records do not chain to this node's last record %d: its audit file is not the cluster's", ErrTampered, b)
			}
			g.done = true
		} else {
			g.proven = append(g.proven, checkpoint{from - 1, recs[0].Prev})
		}
		g.kept = append(g.kept, recs)
		g.keptBytes += size
		for g.keptBytes > fillKeep && len(g.kept) > 1 {
			g.keptBytes -= chunkSize(g.kept[0])
			g.kept = g.kept[1:]
		}
		if !g.done {
			return nil
		}
		// The kept chunks run from the store's last record upwards.
		for i := len(g.kept) - 1; i >= 0; i-- {
			if err := m.write(g.kept[i]); err != nil {
				return err
			}
		}
		g.kept, g.keptBytes = nil, 0
		return m.closeGap()
	}
	if recs[0].Prev != bhash || last.Seq != to {
		return fmt.Errorf("%w: copied records %d..%d are not the proven chunk %d..%d", ErrTampered, from, last.Seq, from, to)
	}
	for _, c := range g.proven {
		if c.seq == to && last.Hash != c.hash {
			return fmt.Errorf("%w: copied records %d..%d do not lead to the proven hash of record %d", ErrTampered, from, to, to)
		}
	}
	if err := m.write(recs); err != nil {
		return err
	}
	return m.closeGap()
}

// closeGap writes what was sealed meanwhile once the store reaches the
// head; wmu held.
func (m *Machine) closeGap() error {
	if b, _ := m.base(); b < m.gap.to {
		return nil
	}
	if len(m.gap.pending) > 0 {
		if err := m.write(m.gap.pending); err != nil {
			return err
		}
	}
	m.gap = nil
	return nil
}

// parseChunk reads JSON-lines records that must start at seq from, each
// intact and chained to the one before.
func parseChunk(data []byte, from uint64) ([]*Record, int, error) {
	var recs []*Record
	size := len(data)
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return nil, 0, fmt.Errorf("%w: copied records end without a newline", ErrMalformed)
		}
		r, ok, err := ParseRecord(data[:i+1])
		data = data[i+1:]
		if err != nil {
			return nil, 0, fmt.Errorf("copied record after %d: %w", from+uint64(len(recs))-1, err)
		}
		want := from + uint64(len(recs))
		if !ok || r.Seq != want || (len(recs) > 0 && r.Prev != recs[len(recs)-1].Hash) {
			return nil, 0, fmt.Errorf("%w: copied record %d is not intact or does not chain to record %d", ErrTampered, want, want-1)
		}
		recs = append(recs, r)
	}
	return recs, size, nil
}

func chunkSize(recs []*Record) int {
	n := 0
	for _, r := range recs {
		n += len(r.Raw)
	}
	return n
}

// write appends to the store; a failure breaks the machine (Snapshot).
func (m *Machine) write(recs []*Record) error {
	if err := m.store.Append(recs); err != nil {
		m.broken = err
		return err
	}
	return nil
}
