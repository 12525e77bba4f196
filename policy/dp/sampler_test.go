package dp

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"testing"
)

// Statistical tests use crypto/rand (the default sampler) and tolerances of
// zSigma standard errors derived from the sample size, so a correct sampler
// fails a single check with probability below about 1e-6.
const zSigma = 5

// dlParam returns p = exp(-1/scale) of the discrete Laplace of that scale.
func dlParam(scale float64) float64 { return math.Exp(-1 / scale) }

// dlPMF is P(Z = z) = (1-p)/(1+p)·p^|z|.
func dlPMF(p float64, z int64) float64 {
	return (1 - p) / (1 + p) * math.Pow(p, math.Abs(float64(z)))
}

// dlTail is P(|Z| >= k) = 2·p^k/(1+p) for k >= 1.
func dlTail(p float64, k int64) float64 { return 2 * math.Pow(p, float64(k)) / (1 + p) }

// dlVariance is the exact variance 2p/(1-p)^2.
func dlVariance(p float64) float64 { return 2 * p / ((1 - p) * (1 - p)) }

// dlFourth is E[Z^4], summed numerically.
func dlFourth(p float64) float64 {
	s := 0.0
	for z := int64(1); ; z++ {
		term := 2 * dlPMF(p, z) * math.Pow(float64(z), 4)
		s += term
		if term < 1e-18*s && z > 10 {
			return s
		}
	}
}

// chiSquareCritical is the Wilson–Hilferty approximation of the upper
// quantile of chi-square with df degrees of freedom at normal score z.
func chiSquareCritical(df int, z float64) float64 {
	d := float64(df)
	c := 1 - 2/(9*d) + z*math.Sqrt(2/(9*d))
	return d * c * c * c
}

// checkDiscreteLaplace returns an error when the samples are not
// consistent with the discrete Laplace of the given scale: mean, variance,
// tails and a chi-square test of the probability mass function.
func checkDiscreteLaplace(samples []int64, scale float64) error {
	n := float64(len(samples))
	p := dlParam(scale)
	variance := dlVariance(p)
	var sum, sumSq float64
	counts := map[int64]int{}
	for _, z := range samples {
		sum += float64(z)
		sumSq += float64(z) * float64(z)
		counts[z]++
	}
	mean := sum / n
	if se := math.Sqrt(variance / n); math.Abs(mean) > zSigma*se {
		return fmt.Errorf("mean %v, want 0 ± %v", mean, zSigma*se)
	}
	// E[Z^2] estimates the variance (the mean is exactly 0); its standard
	// error is sqrt((E[Z^4] - Var^2)/n).
	m2 := sumSq / n
	if se := math.Sqrt((dlFourth(p) - variance*variance) / n); math.Abs(m2-variance) > zSigma*se {
		return fmt.Errorf("variance %v, want %v ± %v", m2, variance, zSigma*se)
	}
	// Tails P(|Z| >= k) at a few k, including the far tail.
	for _, k := range []int64{1, 2, int64(math.Ceil(2 * scale)), int64(math.Ceil(5 * scale))} {
		want := dlTail(p, k)
		got := 0
		for z, c := range counts {
			if z >= k || z <= -k {
				got += c
			}
		}
		freq := float64(got) / n
		if se := math.Sqrt(want * (1 - want) / n); math.Abs(freq-want) > zSigma*se {
			return fmt.Errorf("P(|Z| >= %d) = %v, want %v ± %v", k, freq, want, zSigma*se)
		}
	}
	// Chi-square over the z whose expected count is at least 20, plus the
	// two pooled tails beyond them.
	var chi2 float64
	var bins int
	var k int64
	for ; n*dlPMF(p, k+1) >= 20; k++ {
	}
	for z := -k; z <= k; z++ {
		e := n * dlPMF(p, z)
		d := float64(counts[z]) - e
		chi2 += d * d / e
		bins++
	}
	if k+1 > 0 {
		e := n * dlTail(p, k+1) / 2
		var lo, hi int
		for z, c := range counts {
			if z > k {
				hi += c
			} else if z < -k {
				lo += c
			}
		}
		for _, o := range []int{lo, hi} {
			d := float64(o) - e
			chi2 += d * d / e
			bins++
		}
	}
	if crit := chiSquareCritical(bins-1, zSigma); chi2 > crit {
		return fmt.Errorf("chi-square %v over %d bins, critical value %v", chi2, bins, crit)
	}
	return nil
}

func drawDiscreteLaplace(t *testing.T, scale Rat, n int) []int64 {
	t.Helper()
	out := make([]int64, n)
	for i := range out {
		z, err := DiscreteLaplace(scale)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = z
	}
	return out
}

func TestDiscreteLaplaceDistribution(t *testing.T) {
	const n = 200_000
	for _, scale := range []Rat{{1, 2}, {1, 1}, {37, 10}, {20, 1}, {3 << 40, 1 << 40}} {
		t.Run(scale.String(), func(t *testing.T) {
			if err := checkDiscreteLaplace(drawDiscreteLaplace(t, scale, n), scale.Float()); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestDiscreteLaplaceChecksHavePower shows the distribution checks can
// fail: samples drawn at scale 2 are rejected when checked against a scale
// 5% off, in either direction.
func TestDiscreteLaplaceChecksHavePower(t *testing.T) {
	samples := drawDiscreteLaplace(t, Rat{2, 1}, 200_000)
	for _, wrong := range []float64{1.9, 2.1} {
		if err := checkDiscreteLaplace(samples, wrong); err == nil {
			t.Errorf("samples of scale 2 pass as scale %v", wrong)
		}
	}
}

func TestBernoulliExp(t *testing.T) {
	const n = 100_000
	s := &Sampler{}
	for _, g := range [][2]uint64{{0, 1}, {1, 3}, {1, 1}, {5, 2}, {7, 1}, {1 << 47, 1 << 48}} {
		want := math.Exp(-float64(g[0]) / float64(g[1]))
		hits := 0
		for range n {
			b, err := s.bernoulliExp(g[0], g[1])
			if err != nil {
				t.Fatal(err)
			}
			if b {
				hits++
			}
		}
		freq := float64(hits) / n
		se := math.Sqrt(want * (1 - want) / n)
		if math.Abs(freq-want) > zSigma*se+1e-12 {
			t.Errorf("Bernoulli(exp(-%d/%d)): frequency %v, want %v ± %v", g[0], g[1], freq, want, zSigma*se)
		}
	}
}

func TestScaleFor(t *testing.T) {
	for _, c := range []struct{ sens, eps float64 }{
		{1, 1}, {1, 0.1}, {3, 0.7}, {1, 1e-9}, {1e6, 1e-3}, {1, 1e9}, {1, 1e20}, {2049, 0.3},
	} {
		r, err := ScaleFor(c.sens, c.eps)
		if err != nil {
			t.Fatalf("ScaleFor(%v, %v): %v", c.sens, c.eps, err)
		}
		if r.valid() != nil || r.Den&(r.Den-1) != 0 {
			t.Fatalf("ScaleFor(%v, %v) = %v: not a valid Num/2^k", c.sens, c.eps, r)
		}
		// Effective scale >= requested, exactly: Num·eps >= sens·Den.
		got := new(big.Rat).SetFrac64(r.Num, r.Den)
		if got.Cmp(new(big.Rat).Quo(new(big.Rat).SetFloat64(c.sens), new(big.Rat).SetFloat64(c.eps))) < 0 {
			t.Errorf("ScaleFor(%v, %v) = %v is below the requested scale", c.sens, c.eps, r)
		}
		want := c.sens / c.eps
		if excess := r.Float() - want; excess > max(want*0x1p-47, 0x1p-48)*(1+1e-9) {
			t.Errorf("ScaleFor(%v, %v) = %v = %v, want about %v", c.sens, c.eps, r, r.Float(), want)
		}
	}
	for _, c := range []struct{ sens, eps float64 }{
		{0, 1}, {-1, 1}, {1, 0}, {1, -1}, {math.NaN(), 1}, {1, math.NaN()}, {math.Inf(1), 1}, {1, math.Inf(1)}, {1, 1e-300},
	} {
		if _, err := ScaleFor(c.sens, c.eps); err == nil {
			t.Errorf("ScaleFor(%v, %v): no error", c.sens, c.eps)
		}
	}
}

// streamReader is a deterministic byte stream (SHA-256 in counter mode) for
// plumbing tests only.
type streamReader struct {
	seed    uint64
	counter uint64
	buf     []byte
}

func (r *streamReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			var in [16]byte
			binary.LittleEndian.PutUint64(in[:8], r.seed)
			binary.LittleEndian.PutUint64(in[8:], r.counter)
			r.counter++
			h := sha256.Sum256(in[:])
			r.buf = h[:]
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}

type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

func TestSamplerPlumbing(t *testing.T) {
	draw := func(seed uint64) []int64 {
		s := &Sampler{Reader: &streamReader{seed: seed}}
		var out []int64
		for range 50 {
			z, err := s.DiscreteLaplace(Rat{5, 2})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, z)
		}
		return out
	}
	a, b, c := draw(1), draw(1), draw(2)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same stream, different samples:\n%v\n%v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Errorf("different streams, same samples: %v", a)
	}

	// A degenerate source must produce an error, not hang or return a
	// sample of unknown distribution.
	for _, r := range []io.Reader{constReader(0), constReader(0xff)} {
		s := &Sampler{Reader: r}
		if _, err := s.DiscreteLaplace(Rat{3, 1}); !errors.Is(err, errBrokenSource) {
			t.Errorf("constant reader %v: err = %v, want errBrokenSource", r, err)
		}
	}
	// Read errors are reported.
	s := &Sampler{Reader: io.LimitReader(&streamReader{}, 3)}
	if _, err := s.DiscreteLaplace(Rat{3, 1}); err == nil {
		t.Error("short reader: no error")
	}
	// Invalid scales are refused.
	for _, r := range []Rat{{0, 1}, {1, 0}, {-1, 1}, {MaxRatPart + 1, 1}} {
		if _, err := DiscreteLaplace(r); err == nil {
			t.Errorf("DiscreteLaplace(%v): no error", r)
		}
	}
}
