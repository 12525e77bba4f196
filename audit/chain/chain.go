// Package chain owns the hash-chained log file and everything about it as
// a file: the record format and its hashing (record.go), the Chain that
// group-commits appends by proposing them to a state.Store, the Machine
// that seals them inside Apply (machine.go), the FileStore with its
// authenticated head, sparse index, lock and crash recovery (store.go),
// the audit keys (keys.go), verification (verify.go) and reading records
// back as attempts (search.go). The audit log and the health history are
// both such chains. It is a leaf: it imports nothing of lienthong but
// state, so a cluster node, a verifier and the reports build without the
// engine.
package chain

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"lienthong/state"
)

// Chain appends records: it proposes them to the state store as one
// append command per batch, which the chain's Machine seals (numbers them,
// links each to the previous one's hash, stamps the time) and makes
// durable. Callers that arrive while a batch is being written wait
// together and are written with one command (one fsync) by whichever of
// them goes first; nobody waits for a timer, so a lone writer pays one
// fsync and 64 concurrent writers share them.
type Chain struct {
	state   state.Store
	machine *Machine
	node    string
	now     func() time.Time

	mu       sync.Mutex
	cond     *sync.Cond
	pending  []*Record
	filling  uint64 // id of the batch pending records join
	done     uint64 // batches up to this id are durable
	flushing bool
	err      error // sticky: after a failed append nothing more is written

	stats ChainStats
}

// ChainStats count what the chain wrote.
type ChainStats struct {
	Records, Batches int64
	// AppendTime is the total time spent applying batches (sealing,
	// writes and fsyncs), the cost group commit shares out.
	AppendTime time.Duration
}

// NewChain continues the chain in store from its last record, applying
// its append commands in process (a state.Local of its own).
func NewChain(store Store, node string, now func() time.Time) *Chain {
	m := NewMachine(store)
	local := state.NewLocal()
	local.Register("audit", m)
	return NewChainOn(local, m, node, now)
}

// NewChainOn proposes the chain's appends to st, whose machines hold m
// under "audit" (the node's store: a cluster replicates the appends and
// every node's m seals them alike).
func NewChainOn(st state.Store, m *Machine, node string, now func() time.Time) *Chain {
	if now == nil {
		now = time.Now
	}
	c := &Chain{state: st, machine: m, node: node, now: now, filling: 1}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// ErrClosed is returned for appends to a closed log.
var ErrClosed = errors.New("audit log closed")

// Append chains recs (setting Seq, Prev, Time, Node, Hash and Raw) and
// returns when they are durable, or with the error that stopped them.
// Records appended together stay adjacent.
func (c *Chain) Append(recs ...*Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	for _, r := range recs {
		if r.Node == "" {
			r.Node = c.node
		}
	}
	c.pending = append(c.pending, recs...)
	mine := c.filling
	for c.done < mine && c.err == nil {
		if c.flushing {
			c.cond.Wait()
			continue
		}
		// Lead: take every pending record as one batch.
		batch, id := c.pending, c.filling
		c.pending, c.filling, c.flushing = nil, c.filling+1, true
		c.mu.Unlock()
		start := time.Now()
		err := c.apply(batch)
		elapsed := time.Since(start)
		c.mu.Lock()
		c.flushing = false
		c.stats.Batches++
		c.stats.Records += int64(len(batch))
		c.stats.AppendTime += elapsed
		if err != nil {
			c.err = err // records already sealed would leave a gap: stop
		} else {
			c.done = id
		}
		c.cond.Broadcast()
	}
	if c.done >= mine {
		return nil
	}
	return c.err
}

// apply proposes batch as one append command and gives each record what
// sealing set.
func (c *Chain) apply(batch []*Record) error {
	cmd, err := state.New(OpAppend, c.now(), batch)
	if err != nil {
		return err
	}
	res, err := c.state.Propose(context.Background(), cmd)
	if err != nil {
		return err
	}
	sealed, ok := res.([]*Record)
	if !ok || len(sealed) != len(batch) {
		return fmt.Errorf("audit: append sealed %d records of %d", len(sealed), len(batch))
	}
	for i, r := range batch {
		r.Seq, r.Prev, r.Time, r.Hash, r.Raw = sealed[i].Seq, sealed[i].Prev, sealed[i].Time, sealed[i].Hash, sealed[i].Raw
	}
	return nil
}

// Stats reports what was written so far.
func (c *Chain) Stats() ChainStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Seq is the last chained record's number.
func (c *Chain) Seq() uint64 { return c.machine.Seq() }

// Close stops further appends after waiting for any batch in flight; it
// leaves the store open (its owner closes it).
func (c *Chain) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.flushing {
		c.cond.Wait()
	}
	if c.err == nil {
		c.err = ErrClosed
	}
}

// Err is the failure that stopped the chain, or nil while it writes.
func (c *Chain) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
