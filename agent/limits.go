package agent

import (
	"sync"
	"time"
)

// nonceCache remembers the nonces of requests within the replay window.
// A request's time must be within the window of the agent's clock, so a
// nonce older than twice the window can be forgotten: its request would
// be refused as stale anyway.
type nonceCache struct {
	mu     sync.Mutex
	window time.Duration
	seen   map[string]time.Time // nonce → when it may be forgotten
	sweep  time.Time
}

// maxNonces bounds the cache; beyond it requests are refused as "rate"
// rather than letting memory grow (rate limits keep honest engines far
// below it).
const maxNonces = 1 << 20

func newNonceCache(window time.Duration) *nonceCache {
	return &nonceCache{window: window, seen: map[string]time.Time{}}
}

// check records nonce; false (replay) when it was seen.
func (c *nonceCache) check(nonce string, now time.Time) (fresh, full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.After(c.sweep) {
		for n, until := range c.seen {
			if now.After(until) {
				delete(c.seen, n)
			}
		}
		c.sweep = now.Add(c.window / 4)
	}
	if until, ok := c.seen[nonce]; ok && !now.After(until) {
		return false, false
	}
	if len(c.seen) >= maxNonces {
		return false, true
	}
	c.seen[nonce] = now.Add(2 * c.window)
	return true, false
}

// bucket is a token bucket: rate tokens a second, at most burst.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int, now time.Time) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// allow takes a token; nil (no limit) always allows.
func (b *bucket) allow(now time.Time) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
