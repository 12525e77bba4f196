package audit

import (
	"errors"
	"sync"
	"time"
)

// Chain appends records to a Store: it numbers them, links each to the
// previous one's hash and makes them durable with group commit. Callers
// that arrive while a batch is being written wait together and are
// written with one fsync by whichever of them goes first; nobody waits
// for a timer, so a lone writer pays one fsync and 64 concurrent writers
// share them.
type Chain struct {
	store Store
	node  string
	now   func() time.Time

	mu       sync.Mutex
	cond     *sync.Cond
	seq      uint64
	last     string    // hash of the last chained record
	lastTime time.Time // record times never go backwards
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
	// AppendTime is the total time spent in Store.Append (writes and
	// fsyncs), the cost group commit shares out.
	AppendTime time.Duration
}

// NewChain continues the chain in store from its last record.
func NewChain(store Store, node string, now func() time.Time) *Chain {
	if now == nil {
		now = time.Now
	}
	c := &Chain{store: store, node: node, now: now, last: Genesis, filling: 1}
	c.cond = sync.NewCond(&c.mu)
	if r := store.Last(); r != nil {
		c.seq, c.last, c.lastTime = r.Seq, r.Hash, r.Time
	}
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
		t := c.now().UTC()
		if t.Before(c.lastTime) {
			t = c.lastTime
		}
		r.Time, c.lastTime = t, t
		if r.Node == "" {
			r.Node = c.node
		}
		if err := r.seal(c.seq+1, c.last); err != nil {
			c.err = err // records already chained would leave a gap: stop
			return err
		}
		c.seq, c.last = r.Seq, r.Hash
		c.pending = append(c.pending, r)
	}
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
		err := c.store.Append(batch)
		elapsed := time.Since(start)
		c.mu.Lock()
		c.flushing = false
		c.stats.Batches++
		c.stats.Records += int64(len(batch))
		c.stats.AppendTime += elapsed
		if err != nil {
			c.err = err
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

// Stats reports what was written so far.
func (c *Chain) Stats() ChainStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Seq is the last chained record's number.
func (c *Chain) Seq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq
}

// close stops further appends after waiting for any batch in flight.
func (c *Chain) close() {
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
