package bench

import (
	"math"
	"sort"
)

// Summary is the median and range of one system's counted runs, in seconds.
type Summary struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

// Summarize returns the median, minimum and maximum of runs (seconds); the
// median of an even count is the mean of the middle two.
func Summarize(runs []float64) Summary {
	s := Summary{Runs: append([]float64(nil), runs...)}
	if len(runs) == 0 {
		return s
	}
	sorted := append([]float64(nil), runs...)
	sort.Float64s(sorted)
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	m := len(sorted) / 2
	if len(sorted)%2 == 1 {
		s.Median = sorted[m]
	} else {
		s.Median = (sorted[m-1] + sorted[m]) / 2
	}
	return s
}

// Ratio is a/b, or 0 when either is missing (not positive).
func Ratio(a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return a / b
}

// GeoMean is the geometric mean of the positive values (others are skipped);
// 0 when there are none.
func GeoMean(xs []float64) float64 {
	var sum float64
	n := 0
	for _, x := range xs {
		if x > 0 && !math.IsInf(x, 0) && !math.IsNaN(x) {
			sum += math.Log(x)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return math.Exp(sum / float64(n))
}
