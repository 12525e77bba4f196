package engine

import (
	"fmt"
	"sync"
	"time"

	"lienthong/planner"
)

// verifyLimiter caps pin_verify checks per principal: a token bucket of
// perMinute tokens refilled continuously. One check answers one yes/no
// question; the cap bounds how fast guesses can be tried.
type verifyLimiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (l *verifyLimiter) allow(principal string, perMinute int, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	b := l.buckets[principal]
	if b == nil {
		b = &bucket{tokens: float64(perMinute), last: now}
		l.buckets[principal] = b
	}
	b.tokens += now.Sub(b.last).Minutes() * float64(perMinute)
	if b.tokens > float64(perMinute) {
		b.tokens = float64(perMinute)
	}
	b.last = now
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) / float64(perMinute) * float64(time.Minute))
		return &planner.Error{Code: planner.CodeRateLimit, Msg: fmt.Sprintf("%s has used its %d pin_verify checks a minute (verify_per_minute in the access policy); try again in %s", principal, perMinute, wait.Round(time.Second)+time.Second)}
	}
	b.tokens--
	return nil
}
