package dp

import (
	"errors"
	"fmt"
	"math"
	"math/big"
)

// NoisyCount returns exact + Z with Z drawn from the discrete Laplace
// distribution of scale ScaleFor(sensitivity, epsilon) (>= sensitivity/epsilon).
// If exact is an integer query whose value changes by at most sensitivity
// (summed over all the counts released with this epsilon) when one
// citizen's data is added or removed, the output is epsilon-differentially
// private. The noise has mean 0, so the output is unbiased.
func NoisyCount(exact, sensitivity int64, epsilon float64) (int64, error) {
	return defaultSampler.NoisyCount(exact, sensitivity, epsilon)
}

// NoisyCount is the package-level NoisyCount drawing from s.
func (s *Sampler) NoisyCount(exact, sensitivity int64, epsilon float64) (int64, error) {
	if sensitivity < 1 || sensitivity > MaxRatPart {
		return 0, fmt.Errorf("dp: count sensitivity %d must be in [1, 2^48]", sensitivity)
	}
	scale, err := ScaleFor(float64(sensitivity), epsilon)
	if err != nil {
		return 0, err
	}
	z, err := s.DiscreteLaplace(scale)
	if err != nil {
		return 0, err
	}
	if (z > 0 && exact > math.MaxInt64-z) || (z < 0 && exact < math.MinInt64-z) {
		return 0, errors.New("dp: noisy count overflows int64")
	}
	return exact + z, nil
}

// granularityShift sets the sum grid: g is 2^-granularityShift of the
// largest power of two <= sensitivity, so sensitivity/g is in [1024, 2048).
const granularityShift = 10

// Granularity returns the grid NoisySum snaps to for a given L1
// sensitivity: the power of two g with sensitivity/g in [1024, 2048). It
// depends only on the (public) sensitivity, never on the data.
func Granularity(sensitivity float64) (float64, error) {
	if !(sensitivity > 0) || math.IsInf(sensitivity, 0) {
		return 0, fmt.Errorf("dp: sum sensitivity %v must be positive and finite", sensitivity)
	}
	e := math.Ilogb(sensitivity) - granularityShift
	if e < -1000 || e > 900 {
		return 0, fmt.Errorf("dp: sum sensitivity %v out of range", sensitivity)
	}
	return math.Ldexp(1, e), nil
}

// sumParams returns NoisySum's grid g and the sensitivity in grid units of
// the snapped sum, Δg = ceil(sensitivity/g) + 1.
func sumParams(sensitivity float64) (g float64, unitSens int64, err error) {
	g, err = Granularity(sensitivity)
	if err != nil {
		return 0, 0, err
	}
	return g, int64(math.Ceil(sensitivity/g)) + 1, nil
}

// NoisySum returns a noisy sum of clamped values, an exact multiple of
// g = Granularity(sensitivity):
//
//	k0 = round(exact/g)             (snap to the grid)
//	k  = k0 + DiscreteLaplace(ScaleFor(Δg, epsilon)),  Δg = ceil(sensitivity/g) + 1
//	return k·g
//
// Why this is epsilon-differentially private: if the real sum changes by
// at most Δ = sensitivity when one citizen is added or removed, then
// |round(a/g) - round(b/g)| <= floor(|a-b|/g) + 1 <= ceil(Δ/g) + 1 = Δg, so
// k0 is an integer query of sensitivity Δg and the discrete Laplace
// mechanism of scale >= Δg/epsilon makes it epsilon-DP; k·g is
// post-processing. Because Δg uses the ceiling, the bound also absorbs
// floating-point summation error in the caller, as long as the errors of
// two neighbouring sums add up to less than g. The noise in value
// units has scale g·Δg/epsilon <= (Δ + 2g)/epsilon, under 0.2% above the
// ideal Δ/epsilon.
//
// Why snapping: a floating-point sum plus floating-point noise reveals the
// sum through which doubles can occur (Mironov 2012). Here the output set
// is the fixed grid g·Z, whatever the data, and the noise is exact.
//
// sensitivity is the L1 sensitivity of the sum in value units
// (maxGroups · maxRowsPerGroup · max(|lo|, |hi|) for values clamped to
// [lo, hi]). exact must satisfy |exact| <= 2^52·g, so that k fits a
// float64 mantissa and k·g is exact.
func NoisySum(exact, sensitivity, epsilon float64) (float64, error) {
	return defaultSampler.NoisySum(exact, sensitivity, epsilon)
}

// NoisySum is the package-level NoisySum drawing from s.
func (s *Sampler) NoisySum(exact, sensitivity, epsilon float64) (float64, error) {
	g, unitSens, err := sumParams(sensitivity)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(exact) || math.IsInf(exact, 0) {
		return 0, fmt.Errorf("dp: sum %v is not finite", exact)
	}
	units := exact / g // exact: g is a power of two in the normal range
	const maxUnits = 1 << 52
	if math.Abs(units) > maxUnits {
		return 0, fmt.Errorf("dp: sum %v too large for sensitivity %v (limit %v)", exact, sensitivity, maxUnits*g)
	}
	k0 := int64(math.Round(units))
	scale, err := ScaleFor(float64(unitSens), epsilon)
	if err != nil {
		return 0, err
	}
	z, err := s.DiscreteLaplace(scale)
	if err != nil {
		return 0, err
	}
	k := k0 + z // |k0| <= 2^52 and |z| < 2^59: no overflow
	if k > 1<<53 || k < -(1<<53) {
		// Needs |z| > 2^52 at scale <= 2049/epsilon: probability below
		// exp(-2^52·epsilon/2049), negligible for any usable epsilon.
		return 0, errors.New("dp: noisy sum outside the exactly representable range")
	}
	return float64(k) * g, nil
}

// Threshold returns τ, the smallest integer such that a group whose exact
// distinct-citizen count is 1 passes the test
//
//	1 + DiscreteLaplace(ScaleFor(maxGroups, epsilon)) >= τ
//
// with probability at most delta/maxGroups. With b the effective scale
// (>= maxGroups/epsilon) and p = exp(-1/b):
//
//	τ = 1 + max(0, ceil(b · ln(maxGroups / (delta·(1+p)))))
//
// Proof. The discrete Laplace has P(Z = z) = (1-p)/(1+p)·p^|z|, so for
// k >= 0, P(Z >= k) = (1-p)/(1+p) · p^k/(1-p) = p^k/(1+p). A single-citizen
// group is released iff Z >= τ-1, with probability p^(τ-1)/(1+p). That is
// <= delta/maxGroups iff (τ-1)·(-1/b) <= ln(delta·(1+p)/maxGroups), i.e.
// τ-1 >= b·ln(maxGroups/(delta·(1+p))); τ is the least such integer >= 1.
//
// Why this gives (epsilon, delta)-DP for the set of released groups with
// their noisy counts (the Laplace partition selection of Google's
// differential-privacy library, with delta split evenly over maxGroups
// partitions): let D' be D without citizen c, who is in at most maxGroups
// groups. Groups present in both have counts differing by at most 1 in at
// most maxGroups places, so their noisy counts (scale >= maxGroups/epsilon)
// are epsilon-DP and the release decisions are post-processing. Groups
// present only in D have c as their only citizen; there are at most
// maxGroups of them, each released with probability <= delta/maxGroups, so
// by the union bound any of them is released with probability <= delta.
// Hence P_D(S) <= e^epsilon·P_D'(S) + delta, and symmetrically.
//
// The result is rounded up by a relative 1e-9 of slack against
// floating-point error in ln and exp (a larger τ only lowers the release
// probability). Invalid parameters (epsilon <= 0, delta outside (0, 1),
// maxGroups < 1, non-finite values) return math.MaxInt64: nothing is
// released.
func Threshold(epsilon, delta float64, maxGroups int64) int64 {
	if !(delta > 0 && delta < 1) || maxGroups < 1 || maxGroups > MaxRatPart {
		return math.MaxInt64
	}
	scale, err := ScaleFor(float64(maxGroups), epsilon)
	if err != nil {
		return math.MaxInt64
	}
	b := scale.Float()
	p := math.Exp(-1 / b)
	x := b * (math.Log(float64(maxGroups)) - math.Log(delta) - math.Log1p(p))
	if x <= 0 {
		return 1
	}
	x += 1e-9 * max(1, x)
	if x >= 1<<62 {
		return math.MaxInt64
	}
	return 1 + int64(math.Ceil(x))
}

// SelectGroup decides whether a group is released: it returns the noisy
// distinct-citizen count exact + DiscreteLaplace(ScaleFor(maxGroups,
// epsilon)) and whether it is >= Threshold(epsilon, delta, maxGroups). The
// guarantee is Threshold's: (epsilon, delta)-DP for the set of released
// groups and their noisy counts, when each citizen is in at most maxGroups
// groups. The noisy count may be released with the group; the exact count
// must not be.
func SelectGroup(exactCitizens int64, epsilon, delta float64, maxGroups int64) (noisy int64, release bool, err error) {
	return defaultSampler.SelectGroup(exactCitizens, epsilon, delta, maxGroups)
}

// SelectGroup is the package-level SelectGroup drawing from s.
func (s *Sampler) SelectGroup(exactCitizens int64, epsilon, delta float64, maxGroups int64) (int64, bool, error) {
	tau := Threshold(epsilon, delta, maxGroups)
	if tau == math.MaxInt64 {
		return 0, false, fmt.Errorf("dp: invalid thresholding parameters epsilon=%v delta=%v maxGroups=%d", epsilon, delta, maxGroups)
	}
	noisy, err := s.NoisyCount(exactCitizens, maxGroups, epsilon)
	if err != nil {
		return 0, false, err
	}
	return noisy, noisy >= tau, nil
}

// Allocation is a query's (epsilon, delta) divided between its outputs.
type Allocation struct {
	// Aggregate is the epsilon for each of the query's k noisy aggregates
	// (each computed over all groups, with its own sensitivity).
	Aggregate float64
	// Selection is the epsilon for the noisy distinct-citizen count that
	// thresholds the groups (SelectGroup).
	Selection float64
	// Delta is all of the query's delta; it goes to thresholding, the only
	// step that is not pure epsilon-DP.
	Delta float64
}

// Split divides a query's (epsilon, delta) between its k >= 0 noisy
// aggregates and the thresholded distinct-citizen count, in equal epsilon
// shares epsilon/(k+1).
//
// Basic sequential composition: releasing the outputs of mechanisms that
// are (ε_i, δ_i)-DP on the same data is (Σε_i, Σδ_i)-DP. Here
// k·Aggregate + Selection <= epsilon holds exactly (the share is rounded
// down to make it so) and the only delta is Delta = delta, so the whole
// query is (epsilon, delta)-DP and the ledger charges exactly that.
func Split(epsilon, delta float64, k int) (Allocation, error) {
	if !(epsilon > 0) || math.IsInf(epsilon, 0) {
		return Allocation{}, fmt.Errorf("dp: epsilon %v must be positive and finite", epsilon)
	}
	if !(delta > 0 && delta < 1) {
		return Allocation{}, fmt.Errorf("dp: delta %v must be in (0, 1)", delta)
	}
	if k < 0 || k > 1<<20 {
		return Allocation{}, fmt.Errorf("dp: %d aggregates out of range", k)
	}
	parts := float64(k + 1)
	share := epsilon / parts
	total := new(big.Rat).SetFloat64(epsilon)
	for {
		sum := new(big.Rat).Mul(new(big.Rat).SetFloat64(share), new(big.Rat).SetFloat64(parts))
		if sum.Cmp(total) <= 0 {
			break
		}
		share = math.Nextafter(share, 0)
	}
	return Allocation{Aggregate: share, Selection: share, Delta: delta}, nil
}
