package dp

import (
	"fmt"
	"math"
	"testing"
)

func TestNoisyCountUnbiased(t *testing.T) {
	const n = 200_000
	const exact, sens, eps = 100, 2, 0.5
	scale, err := ScaleFor(sens, eps)
	if err != nil {
		t.Fatal(err)
	}
	variance := dlVariance(dlParam(scale.Float()))
	var sum, sumSq float64
	for range n {
		v, err := NoisyCount(exact, sens, eps)
		if err != nil {
			t.Fatal(err)
		}
		d := float64(v - exact)
		sum += d
		sumSq += d * d
	}
	if se := math.Sqrt(variance / n); math.Abs(sum/n) > zSigma*se {
		t.Errorf("mean noise %v, want 0 ± %v", sum/n, zSigma*se)
	}
	// The noise has the variance of scale sens/eps = 4, not of scale 1.
	p := dlParam(scale.Float())
	if se := math.Sqrt((dlFourth(p) - variance*variance) / n); math.Abs(sumSq/n-variance) > zSigma*se {
		t.Errorf("noise variance %v, want %v ± %v", sumSq/n, variance, zSigma*se)
	}

	for _, c := range []struct {
		exact, sens int64
		eps         float64
	}{{0, 0, 1}, {0, -1, 1}, {0, 1, 0}, {0, 1, math.NaN()}, {math.MaxInt64, 1, 1e-6}} {
		// The last one overflows with probability about 1/2.
		if _, err := NoisyCount(c.exact, c.sens, c.eps); err == nil && c.exact != math.MaxInt64 {
			t.Errorf("NoisyCount(%d, %d, %v): no error", c.exact, c.sens, c.eps)
		}
	}
}

func TestGranularity(t *testing.T) {
	for _, sens := range []float64{1, 100, 0.3, 12345.678, 1e-9, 1e12, 1024, 2047.9} {
		g, err := Granularity(sens)
		if err != nil {
			t.Fatal(err)
		}
		if frac, _ := math.Frexp(g); frac != 0.5 {
			t.Errorf("Granularity(%v) = %v: not a power of two", sens, g)
		}
		if r := sens / g; r < 1024 || r >= 2048 {
			t.Errorf("Granularity(%v) = %v: sensitivity/g = %v, want [1024, 2048)", sens, g, r)
		}
	}
	for _, sens := range []float64{0, -1, math.NaN(), math.Inf(1), 1e-310, 1e300} {
		if _, err := Granularity(sens); err == nil {
			t.Errorf("Granularity(%v): no error", sens)
		}
	}
}

func TestNoisySumOnGrid(t *testing.T) {
	s := &Sampler{}
	for _, sens := range []float64{1, 100, 0.3, 12345.678, 1e-6} {
		g, _ := Granularity(sens)
		for _, exact := range []float64{0, 0.1, -0.1, 3.14159, -2718.28, 1e7 + 1.0/3, sens * 1000.5} {
			if math.Abs(exact) > 0x1p52*g {
				if _, err := s.NoisySum(exact, sens, 0.7); err == nil {
					t.Errorf("NoisySum(%v, %v): beyond 2^52 grid units, no error", exact, sens)
				}
				continue
			}
			for range 200 {
				v, err := s.NoisySum(exact, sens, 0.7)
				if err != nil {
					t.Fatal(err)
				}
				k := v / g
				if k != math.Trunc(k) || float64(int64(k))*g != v {
					t.Fatalf("NoisySum(%v, %v) = %v is not a multiple of g = %v", exact, sens, v, g)
				}
			}
		}
	}
	if _, err := s.NoisySum(math.NaN(), 1, 1); err == nil {
		t.Error("NaN sum: no error")
	}
	if _, err := s.NoisySum(1e30, 1, 1); err == nil {
		t.Error("sum far beyond 2^52 grid units: no error")
	}
}

// TestSnapSensitivity checks the lemma NoisySum's privacy rests on: sums a
// and b at distance <= Δ snap to grid points at most Δg apart, including
// the worst cases where both round in opposite directions at a tie.
func TestSnapSensitivity(t *testing.T) {
	for _, sens := range []float64{1, 100, 0.3, 12345.678, 1536, 1e-6} {
		g, unitSens, err := sumParams(sens)
		if err != nil {
			t.Fatal(err)
		}
		snap := func(x float64) int64 { return int64(math.Round(x / g)) }
		try := func(a float64) {
			for _, b := range []float64{a + sens, a - sens, math.Nextafter(a+sens, a), a + sens*(1+1e-12)} {
				if d := snap(a) - snap(b); d > unitSens || -d > unitSens {
					t.Fatalf("sensitivity %v: snap(%v) - snap(%v) = %d > Δg = %d", sens, a, b, d, unitSens)
				}
			}
		}
		for k := -3.0; k <= 3; k++ {
			// Ties and near-ties at both ends.
			for _, off := range []float64{-0.5, 0.5, -0.5 + 1e-9, 0.5 - 1e-9, 0} {
				try((k + off) * g)
				try((k+off)*g - sens + math.Ceil(sens/g)*g)
			}
		}
		for i := range 10_000 {
			try((float64(i)*0.6180339887 - 3000) * g)
		}
	}
}

// TestNoisySumDistribution checks the noise is centred on the snapped sum
// with the variance of scale (ceil(Δ/g)+1)·g/epsilon.
func TestNoisySumDistribution(t *testing.T) {
	const n = 100_000
	const exact, sens, eps = 3.14159, 10.0, 1.0
	g, _ := Granularity(sens)
	snapped := math.Round(exact/g) * g
	scale, _ := ScaleFor(math.Ceil(sens/g)+1, eps)
	p := dlParam(scale.Float())
	variance := dlVariance(p) * g * g // in value units
	var sum, sumSq float64
	for range n {
		v, err := NoisySum(exact, sens, eps)
		if err != nil {
			t.Fatal(err)
		}
		d := v - snapped
		sum += d
		sumSq += d * d
	}
	if se := math.Sqrt(variance / n); math.Abs(sum/n) > zSigma*se {
		t.Errorf("mean noise %v, want 0 ± %v", sum/n, zSigma*se)
	}
	if se := math.Sqrt((dlFourth(p)*g*g*g*g - variance*variance) / n); math.Abs(sumSq/n-variance) > zSigma*se {
		t.Errorf("noise variance %v, want %v ± %v", sumSq/n, variance, zSigma*se)
	}
	// The noise scale in value units is within 0.2% of the ideal Δ/ε.
	if ratio := scale.Float() * g / (sens / eps); ratio < 1 || ratio > 1.002 {
		t.Errorf("noise scale / (Δ/ε) = %v, want [1, 1.002]", ratio)
	}
}

func TestThresholdFormula(t *testing.T) {
	for _, c := range []struct {
		eps, delta float64
		m          int64
	}{{1, 0.05, 1}, {1, 0.05, 4}, {0.1, 1e-6, 1}, {0.5, 1e-9, 10}, {2, 1e-5, 3}, {1e-3, 1e-12, 100}} {
		tau := Threshold(c.eps, c.delta, c.m)
		scale, _ := ScaleFor(float64(c.m), c.eps)
		p := dlParam(scale.Float())
		release := func(tau int64) float64 { return math.Pow(p, float64(tau-1)) / (1 + p) }
		bound := c.delta / float64(c.m)
		if tau < 1 || release(tau) > bound {
			t.Errorf("Threshold(%v, %v, %d) = %d releases a single citizen with probability %v > %v", c.eps, c.delta, c.m, tau, release(tau), bound)
		}
		if tau > 1 && release(tau-1) <= bound {
			t.Errorf("Threshold(%v, %v, %d) = %d is not the least safe threshold", c.eps, c.delta, c.m, tau)
		}
	}
	// delta/maxGroups at least 1/(1+p): any group may be released, τ = 1.
	if tau := Threshold(1, 0.99, 1); tau != 1 {
		t.Errorf("Threshold(1, 0.99, 1) = %d, want 1", tau)
	}
	for _, c := range []struct {
		eps, delta float64
		m          int64
	}{{0, 0.1, 1}, {1, 0, 1}, {1, 1, 1}, {1, -0.1, 1}, {1, 0.1, 0}, {math.NaN(), 0.1, 1}, {1, math.NaN(), 1}} {
		if tau := Threshold(c.eps, c.delta, c.m); tau != math.MaxInt64 {
			t.Errorf("Threshold(%v, %v, %d) = %d, want MaxInt64 (release nothing)", c.eps, c.delta, c.m, tau)
		}
	}
}

// TestThresholdSimulation releases a single-citizen group many times: the
// release frequency must match p^(τ-1)/(1+p) and stay below delta/maxGroups.
func TestThresholdSimulation(t *testing.T) {
	const n = 200_000
	for _, c := range []struct {
		eps, delta float64
		m          int64
	}{{1, 0.05, 1}, {1, 0.05, 4}} {
		t.Run(fmt.Sprintf("eps=%v,delta=%v,m=%d", c.eps, c.delta, c.m), func(t *testing.T) {
			tau := Threshold(c.eps, c.delta, c.m)
			scale, _ := ScaleFor(float64(c.m), c.eps)
			p := dlParam(scale.Float())
			want := math.Pow(p, float64(tau-1)) / (1 + p)
			released := 0
			for range n {
				_, ok, err := SelectGroup(1, c.eps, c.delta, c.m)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					released++
				}
			}
			freq := float64(released) / n
			se := math.Sqrt(want * (1 - want) / n)
			if math.Abs(freq-want) > zSigma*se {
				t.Errorf("τ = %d: release frequency %v, want %v ± %v", tau, freq, want, zSigma*se)
			}
			if bound := c.delta / float64(c.m); freq > bound+zSigma*se {
				t.Errorf("τ = %d: release frequency %v above delta/maxGroups = %v", tau, freq, bound)
			}
			// A group of many citizens is released essentially always.
			big := 0
			for range 1000 {
				if _, ok, _ := SelectGroup(int64(tau)+20*c.m, c.eps, c.delta, c.m); ok {
					big++
				}
			}
			if big < 990 {
				t.Errorf("a group of τ+%d citizens released %d/1000 times", 20*c.m, big)
			}
		})
	}
	if _, _, err := SelectGroup(5, 1, 0, 1); err == nil {
		t.Error("SelectGroup with delta 0: no error")
	}
}

// logRatioExcess compares the output distributions of a mechanism on two
// neighbouring inputs. For every output v both see with frequency >= 0.5%
// it checks |ln(P_a(v)/P_b(v))| <= eps + zSigma standard errors (the
// delta-method error of a log frequency is sqrt((1-f)/(n·f))). It returns
// an error naming the worst violation, and the number of outputs checked.
func logRatioExcess(a, b []int64, eps float64) (int, error) {
	ca, cb := map[int64]int{}, map[int64]int{}
	for _, v := range a {
		ca[v]++
	}
	for _, v := range b {
		cb[v]++
	}
	na, nb := float64(len(a)), float64(len(b))
	checked := 0
	var worst error
	worstZ := 0.0
	for v, x := range ca {
		y := cb[v]
		fa, fb := float64(x)/na, float64(y)/nb
		if fa < 0.005 || fb < 0.005 {
			continue
		}
		checked++
		lr := math.Abs(math.Log(fa / fb))
		se := math.Sqrt((1-fa)/(na*fa) + (1-fb)/(nb*fb))
		if z := (lr - eps) / se; z > zSigma && z > worstZ {
			worstZ = z
			worst = fmt.Errorf("output %d: ln(P_a/P_b) = ±%.4f > epsilon %v by %.1f standard errors", v, lr, eps, z)
		}
	}
	return checked, worst
}

// TestDifferencingPair is the end-to-end check: the same query on two
// neighbouring datasets (counts n and n+1) gives output distributions whose
// ratio stays within e^epsilon, so the difference of two answers does not
// reveal the one citizen.
func TestDifferencingPair(t *testing.T) {
	const samples = 400_000
	const eps = 1.0
	run := func(exact int64, eps float64, n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			v, err := NoisyCount(exact, 1, eps)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = v
		}
		return out
	}
	a, b := run(10, eps, samples), run(11, eps, samples)
	checked, err := logRatioExcess(a, b, eps)
	if err != nil {
		t.Error(err)
	}
	if checked < 8 {
		t.Errorf("only %d central outputs compared", checked)
	}
	// The check has power: noise for epsilon 1.5 violates the epsilon-1 bound.
	a, b = run(10, 1.5, samples/4), run(11, 1.5, samples/4)
	if _, err := logRatioExcess(a, b, eps); err == nil {
		t.Error("noise for epsilon 1.5 passes as epsilon 1")
	}
}

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		eps, delta float64
		k          int
	}{{1, 1e-6, 0}, {1, 1e-6, 2}, {0.3, 1e-5, 3}, {1, 1e-9, 6}, {0.1, 1e-7, 9}} {
		a, err := Split(c.eps, c.delta, c.k)
		if err != nil {
			t.Fatal(err)
		}
		// Sequential composition: the parts add up to at most the whole.
		total := float64(c.k)*a.Aggregate + a.Selection
		if total > c.eps {
			t.Errorf("Split(%v, %v, %d): parts sum to %v > %v", c.eps, c.delta, c.k, total, c.eps)
		}
		if want := c.eps / float64(c.k+1); a.Aggregate != a.Selection || math.Abs(a.Aggregate-want) > 1e-15*want {
			t.Errorf("Split(%v, %v, %d) = %+v, want equal shares %v", c.eps, c.delta, c.k, a, want)
		}
		if a.Delta != c.delta {
			t.Errorf("Split(%v, %v, %d): delta %v, want all of it for thresholding", c.eps, c.delta, c.k, a.Delta)
		}
	}
	for _, c := range []struct {
		eps, delta float64
		k          int
	}{{0, 1e-6, 1}, {1, 0, 1}, {1, 1, 1}, {1, 1e-6, -1}, {math.Inf(1), 1e-6, 1}} {
		if _, err := Split(c.eps, c.delta, c.k); err == nil {
			t.Errorf("Split(%v, %v, %d): no error", c.eps, c.delta, c.k)
		}
	}
}
