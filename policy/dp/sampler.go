// Package dp holds the differential-privacy mechanisms behind aggregate-only
// access: exact discrete Laplace noise for counts and (snapped) sums, the
// threshold that decides which groups are released, the split of a query's
// (ε, δ) between its noisy outputs, and a durable per-principal budget
// ledger.
//
// The privacy unit is the citizen. The planner bounds each citizen's
// contribution (groups per citizen, rows per group, clamping bounds for sums)
// and passes the resulting sensitivities here; this package only adds noise
// and keeps the books. Its guarantees hold only for the sensitivities it is
// given.
//
// Why integer noise: a textbook floating-point Laplace sample leaks the exact
// answer through the low-order bits of the output and through the values a
// float mechanism can and cannot produce (Mironov, "On Significance of the
// Least Significant Bits for Differential Privacy", CCS 2012). Every sample
// here is an integer drawn exactly with integer arithmetic from
// cryptographic randomness (Canonne, Kamath, Steinke, "The Discrete Gaussian
// for Differential Privacy", NeurIPS 2020, Algorithms 1 and 2), and sums are
// snapped to a public power-of-two grid before noise is added, so every
// output is an exact multiple of a data-independent granularity.
package dp

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/bits"
	"sync"
)

// MaxRatPart bounds the numerator and denominator of a Rat. It keeps every
// product the sampler forms (Num·K for the loop counter K of Algorithm 1,
// Num·V for the geometric count V of Algorithm 2) inside 64 bits in all but
// astronomically unlikely draws, which fall back to big integers.
const MaxRatPart = 1 << 48

// Rat is the positive rational Num/Den, the scale of a discrete Laplace
// distribution. Build one with ScaleFor, which rounds in the safe direction.
type Rat struct {
	Num, Den int64
}

// Float returns Num/Den as a float64, for reporting and for computing
// data-independent parameters (never in the sampling path).
func (r Rat) Float() float64 { return float64(r.Num) / float64(r.Den) }

func (r Rat) String() string { return fmt.Sprintf("%d/%d", r.Num, r.Den) }

func (r Rat) valid() error {
	if r.Num < 1 || r.Den < 1 || r.Num > MaxRatPart || r.Den > MaxRatPart {
		return fmt.Errorf("dp: scale %v out of range (numerator and denominator must be in [1, 2^48])", r)
	}
	return nil
}

// ScaleFor returns the discrete Laplace scale for L1 sensitivity
// sensitivity and privacy parameter epsilon: the smallest Num/2^k (k ≤ 48,
// Num ≤ 2^48) that is >= sensitivity/epsilon, computed exactly from the two
// float64 values. Rounding up the scale means the effective epsilon
// (sensitivity/scale) is never larger than the requested one. The scale
// exceeds sensitivity/epsilon by less than 2^-47 relative or 2^-48
// absolute, whichever is larger.
func ScaleFor(sensitivity, epsilon float64) (Rat, error) {
	if !(sensitivity > 0) || math.IsInf(sensitivity, 0) {
		return Rat{}, fmt.Errorf("dp: sensitivity %v must be positive and finite", sensitivity)
	}
	if !(epsilon > 0) || math.IsInf(epsilon, 0) {
		return Rat{}, fmt.Errorf("dp: epsilon %v must be positive and finite", epsilon)
	}
	exact := new(big.Rat).Quo(new(big.Rat).SetFloat64(sensitivity), new(big.Rat).SetFloat64(epsilon))
	limit := big.NewInt(MaxRatPart)
	// num(k) = ceil(exact·2^k).
	num := func(k int) *big.Int {
		n := new(big.Int).Lsh(exact.Num(), uint(k))
		q, m := new(big.Int).QuoRem(n, exact.Denom(), new(big.Int))
		if m.Sign() != 0 {
			q.Add(q, big.NewInt(1))
		}
		return q
	}
	// Start from a float estimate of the largest k with num(k) <= 2^48 and
	// correct it exactly.
	k := 47 - math.Ilogb(sensitivity/epsilon)
	k = max(0, min(48, k))
	for k > 0 && num(k).Cmp(limit) > 0 {
		k--
	}
	for k < 48 && num(k+1).Cmp(limit) <= 0 {
		k++
	}
	n := num(k)
	if n.Cmp(limit) > 0 {
		return Rat{}, fmt.Errorf("dp: scale %v/%v is too large (above 2^48)", sensitivity, epsilon)
	}
	return Rat{Num: n.Int64(), Den: 1 << k}, nil
}

// Sampler draws noise from Reader. The zero value (and a nil *Sampler) uses
// crypto/rand. Reader exists so unit tests can check the sampler's plumbing
// with a deterministic stream; production code must leave it nil, because
// the guarantees assume uniformly random, unpredictable bytes. A Sampler is
// safe for concurrent use when its Reader is; the default one is.
type Sampler struct {
	Reader io.Reader
}

// lockedReader serialises reads from a buffered reader. cryptoReader wraps
// crypto/rand.Reader in one, so a sample costs a few memory copies instead
// of a getrandom call per draw; the buffered bytes stay in process memory
// and each is used once.
type lockedReader struct {
	mu sync.Mutex
	r  *bufio.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return io.ReadFull(l.r, p)
}

var cryptoReader io.Reader = &lockedReader{r: bufio.NewReaderSize(rand.Reader, 4096)}

var defaultSampler = &Sampler{}

// errBrokenSource reports that a loop that ends with overwhelming
// probability under uniform randomness did not end: the randomness source
// is not uniform (a constant test stream, a failing device). We return an
// error instead of a sample whose distribution we cannot vouch for.
var errBrokenSource = errors.New("dp: randomness source looks broken (a sampling loop did not terminate)")

// loopCap bounds every sampling loop. Each loop exits with probability at
// least 1/4 per iteration (and Algorithm 1's inner loop with probability
// 1-1/K at step K), so reaching loopCap with a uniform source has
// probability below 2^-400.
const loopCap = 1000

func (s *Sampler) reader() io.Reader {
	if s == nil || s.Reader == nil {
		return cryptoReader
	}
	return s.Reader
}

func (s *Sampler) uint64() (uint64, error) {
	var b [8]byte
	if _, err := io.ReadFull(s.reader(), b[:]); err != nil {
		return 0, fmt.Errorf("dp: reading randomness: %w", err)
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// uniform returns a uniform integer in [0, n), n >= 1, by rejection: draw
// the bits of n-1's width and retry when the draw is >= n (probability
// < 1/2 per try). No modulo, so no bias.
func (s *Sampler) uniform(n uint64) (uint64, error) {
	if n == 1 {
		return 0, nil
	}
	mask := uint64(math.MaxUint64) >> bits.LeadingZeros64(n-1)
	for range loopCap {
		v, err := s.uint64()
		if err != nil {
			return 0, err
		}
		if v &= mask; v < n {
			return v, nil
		}
	}
	return 0, errBrokenSource
}

// bernoulli returns true with probability num/den exactly, for
// 0 <= num <= den, den >= 1.
func (s *Sampler) bernoulli(num, den uint64) (bool, error) {
	u, err := s.uniform(den)
	return u < num, err
}

// bernoulliBig is bernoulli for a denominator that does not fit 64 bits.
func (s *Sampler) bernoulliBig(num uint64, den *big.Int) (bool, error) {
	u, err := rand.Int(s.reader(), den)
	if err != nil {
		return false, fmt.Errorf("dp: reading randomness: %w", err)
	}
	return u.Cmp(new(big.Int).SetUint64(num)) < 0, nil
}

// bernoulliExpUnit returns true with probability exp(-num/den) exactly, for
// 0 <= num <= den (so the exponent is in [0, 1]).
//
// CKS 2020 Algorithm 1, case γ ∈ [0,1]: draw A_1 ~ Bernoulli(γ/1),
// A_2 ~ Bernoulli(γ/2), ... and stop at the first K with A_K = 0. Then
// P(K > k) = γ^k/k!, so P(K odd) = Σ_k (-γ)^k/k! = exp(-γ); return
// whether K is odd.
func (s *Sampler) bernoulliExpUnit(num, den uint64) (bool, error) {
	for k := uint64(1); k <= loopCap; k++ {
		var a bool
		var err error
		if hi, lo := bits.Mul64(den, k); hi == 0 {
			a, err = s.bernoulli(num, lo)
		} else {
			d := new(big.Int).Mul(new(big.Int).SetUint64(den), new(big.Int).SetUint64(k))
			a, err = s.bernoulliBig(num, d)
		}
		if err != nil {
			return false, err
		}
		if !a {
			return k%2 == 1, nil
		}
	}
	return false, errBrokenSource
}

// bernoulliExp returns true with probability exp(-num/den) exactly, for
// num >= 0 and den >= 1 (CKS 2020 Algorithm 1): exp(-γ) is
// exp(-1)^floor(γ) · exp(-(γ-floor(γ))), a product of independent
// Bernoulli trials with exponents in [0, 1].
func (s *Sampler) bernoulliExp(num, den uint64) (bool, error) {
	if den == 0 {
		return false, errors.New("dp: bernoulliExp with zero denominator")
	}
	whole, frac := num/den, num%den
	// exp(-1)^whole: stop at the first failure. For huge exponents the
	// answer is false with overwhelming probability after a few trials,
	// but the loop stays exact because it stops at the first false.
	for i := uint64(0); i < whole; i++ {
		b, err := s.bernoulliExpUnit(1, 1)
		if err != nil || !b {
			return false, err
		}
		if i >= loopCap {
			// exp(-1)^loopCap is below 2^-1400: no uniform source gets here.
			return false, errBrokenSource
		}
	}
	return s.bernoulliExpUnit(frac, den)
}

// DiscreteLaplace returns Z with P(Z = z) = (1-p)/(1+p) · p^|z|, where
// p = exp(-1/scale) (so P(Z = z) ∝ exp(-|z|/scale)), drawn exactly.
//
// CKS 2020 Algorithm 2 with scale = t/s (t = scale.Num, s = scale.Den):
//
//  1. U uniform in {0, …, t-1}; accept with probability exp(-U/t), else
//     restart. V counts the successes of Bernoulli(exp(-1)) before the
//     first failure. X = U + t·V is then geometric: P(X = x) ∝ exp(-x/t).
//  2. Y = floor(X/s) is geometric with P(Y = y) ∝ exp(-y·s/t).
//  3. A fair sign bit B; if B is negative and Y = 0, restart (otherwise
//     zero would be counted twice); return ±Y.
//
// Only integer comparisons of uniform draws are used; there is no
// floating-point exp or log, so the distribution is exactly the discrete
// Laplace, not an approximation of it, and its outputs carry no
// floating-point artefacts. Adding Z to an integer query of L1 sensitivity
// Δ is (Δ/scale)-differentially private, because
// P(Z = z)/P(Z = z') = exp((|z'|-|z|)/scale) <= exp(|z-z'|/scale).
//
// The running time depends only on the random draws and the scale, never
// on the value the noise is added to.
func DiscreteLaplace(scale Rat) (int64, error) { return defaultSampler.DiscreteLaplace(scale) }

// DiscreteLaplace is the package-level DiscreteLaplace drawing from s.
func (s *Sampler) DiscreteLaplace(scale Rat) (int64, error) {
	if err := scale.valid(); err != nil {
		return 0, err
	}
	t, den := uint64(scale.Num), uint64(scale.Den)
	for range loopCap {
		u, err := s.uniform(t)
		if err != nil {
			return 0, err
		}
		d, err := s.bernoulliExpUnit(u, t)
		if err != nil {
			return 0, err
		}
		if !d {
			continue
		}
		v := uint64(0)
		for {
			a, err := s.bernoulliExpUnit(1, 1)
			if err != nil {
				return 0, err
			}
			if !a {
				break
			}
			if v++; v > loopCap {
				return 0, errBrokenSource
			}
		}
		// X = U + t·V; t <= 2^48 and V <= loopCap, so no overflow.
		x := u + t*v
		y := x / den
		sign, err := s.uint64()
		if err != nil {
			return 0, err
		}
		if sign&1 == 1 {
			if y == 0 {
				continue
			}
			return -int64(y), nil
		}
		return int64(y), nil
	}
	return 0, errBrokenSource
}
