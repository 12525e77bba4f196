// Package sketch estimates quantiles of durations in bounded memory: the
// latencies the reports over the audit and health logs give per agency and
// source. It is a leaf (the standard library only).
package sketch

import (
	"math"
	"sort"
	"time"
)

// Sketch estimates quantiles of durations in bounded memory, with a
// relative error of at most Accuracy (a DDSketch: logarithmic
// buckets). A report over six months of a busy node sees millions of
// attempts; sorting them all per agency and source is not needed to say
// that p95 is 840 ms to within 1%.
type Sketch struct {
	buckets map[int32]int64
	zero    int64 // durations under a microsecond
	n       int64
	min     time.Duration
	max     time.Duration
}

// Accuracy is the sketch's relative error bound.
const Accuracy = 0.01

var (
	gamma   = (1 + Accuracy) / (1 - Accuracy)
	lnGamma = math.Log(gamma)
)

// Add counts one duration.
func (s *Sketch) Add(d time.Duration) {
	if s.buckets == nil {
		s.buckets = map[int32]int64{}
	}
	if s.n == 0 || d < s.min {
		s.min = d
	}
	if s.n == 0 || d > s.max {
		s.max = d
	}
	s.n++
	us := float64(d) / float64(time.Microsecond)
	if us < 1 {
		s.zero++
		return
	}
	s.buckets[int32(math.Ceil(math.Log(us)/lnGamma))]++
}

// Merge adds another sketch's counts.
func (s *Sketch) Merge(o *Sketch) {
	if o.n == 0 {
		return
	}
	if s.buckets == nil {
		s.buckets = map[int32]int64{}
	}
	if s.n == 0 || o.min < s.min {
		s.min = o.min
	}
	if s.n == 0 || o.max > s.max {
		s.max = o.max
	}
	for k, v := range o.buckets {
		s.buckets[k] += v
	}
	s.zero += o.zero
	s.n += o.n
}

// Count is how many durations were added.
func (s *Sketch) Count() int64 { return s.n }

// Quantile returns the q-quantile (0 < q <= 1) by nearest rank: the
// smallest duration with at least q·n durations at or below it, within
// Accuracy. It is 0 for an empty sketch.
func (s *Sketch) Quantile(q float64) time.Duration {
	if s.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(s.n)))
	if rank < 1 {
		rank = 1
	}
	if rank >= s.n {
		return s.max
	}
	if rank <= s.zero {
		return s.min
	}
	keys := make([]int32, 0, len(s.buckets))
	for k := range s.buckets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	seen := s.zero
	for _, k := range keys {
		seen += s.buckets[k]
		if seen >= rank {
			// The bucket (γ^(k-1), γ^k] is represented by the value whose
			// relative distance to both ends is at most the accuracy.
			v := 2 * math.Pow(gamma, float64(k)) / (gamma + 1)
			d := time.Duration(v * float64(time.Microsecond))
			return min(max(d, s.min), s.max)
		}
	}
	return s.max
}
