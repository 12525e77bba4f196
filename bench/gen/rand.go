package gen

import (
	"math"
	"math/bits"
	"sort"
)

// Every random decision is drawn from a stream keyed by (seed, purpose,
// index), so a value never depends on the order tables are generated in or on
// how many draws another decision made. That keeps tables mutually consistent
// while they are written concurrently.

// Stream purposes. Changing one changes the data of that purpose only.
const (
	sHousehold uint64 = iota + 1
	sPerson
	sPINKey
	sBirthReg
	sDeath
	sResidence
	sCard
	sAllowance
	sVaccine
	sVisit
	sMarriage
	sAddress
	sPhone
	sCommuneWeight
)

func mix64(x uint64) uint64 { // splitmix64 finaliser
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

type rng struct{ s uint64 }

func newRng(seed int64, purpose, i uint64) rng {
	return rng{mix64(uint64(seed) ^ mix64(purpose*0x9e3779b97f4a7c15^mix64(i+0x632be59bd9b4e019)))}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// intn returns a value in [0, n); the multiply-high bias is below 2^-32.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// between returns a value in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

func (r *rng) chance(p float64) bool { return r.float() < p }

// normal is a Box-Muller standard normal draw.
func (r *rng) normal() float64 {
	u := r.float()
	if u < 1e-300 {
		u = 1e-300
	}
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*r.float())
}

// poisson draws a small-mean Poisson count (Knuth).
func (r *rng) poisson(mean float64) int {
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.float()
		if p <= l {
			return k
		}
		k++
	}
}

// weighted picks indices with fixed relative weights.
type weighted struct{ cum []float64 }

func newWeighted(w []float64) weighted {
	cum := make([]float64, len(w))
	s := 0.0
	for i, x := range w {
		s += x
		cum[i] = s
	}
	for i := range cum {
		cum[i] /= s
	}
	return weighted{cum}
}

func (w weighted) pick(r *rng) int {
	u := r.float()
	i := sort.SearchFloat64s(w.cum, u)
	if i >= len(w.cum) {
		i = len(w.cum) - 1
	}
	return i
}

// feistel is a keyed permutation of [0, n): a balanced Feistel network on the
// smallest even bit width covering n, with cycle walking back into range. It
// turns a counter into unique random-looking digits (the NNNNNN of a PIN)
// without a set of issued values, and it can be inverted to test membership.
type feistel struct {
	n    uint64
	half uint
	key  [4]uint64
}

func newFeistel(n uint64, k0, k1 uint64) feistel {
	w := uint(bits.Len64(n - 1))
	if w < 2 {
		w = 2
	}
	f := feistel{n: n, half: (w + 1) / 2}
	for i := range f.key {
		f.key[i] = mix64(k0 ^ mix64(k1+uint64(i)*0x9e3779b97f4a7c15))
	}
	return f
}

func (f feistel) round(x uint64) uint64 {
	m := uint64(1)<<f.half - 1
	l, r := x>>f.half, x&m
	for _, k := range f.key {
		l, r = r, l^(mix64(r^k)&m)
	}
	return l<<f.half | r
}

func (f feistel) unround(x uint64) uint64 {
	m := uint64(1)<<f.half - 1
	l, r := x>>f.half, x&m
	for i := len(f.key) - 1; i >= 0; i-- {
		l, r = r^(mix64(l^f.key[i])&m), l
	}
	return l<<f.half | r
}

func (f feistel) apply(x uint64) uint64 {
	for {
		x = f.round(x)
		if x < f.n {
			return x
		}
	}
}

func (f feistel) invert(y uint64) uint64 {
	for {
		y = f.unround(y)
		if y < f.n {
			return y
		}
	}
}
