package dp

import (
	"fmt"
	"time"
)

// periods are the budget periods a principal's budget can be set per. They
// are calendar periods in UTC.
var periods = []string{"day", "month", "quarter", "half-year", "year"}

// PeriodKey names the period of the given kind that contains now (in UTC):
// "2026-12-01" (day), "2026-12" (month), "2026-Q4" (quarter), "2026-H2"
// (half-year), "2026" (year).
func PeriodKey(now time.Time, period string) (string, error) {
	key, _, err := periodBounds(now, period)
	return key, err
}

// periodBounds returns the key of the period containing now and the
// instant the next period starts (when the budget resets).
func periodBounds(now time.Time, period string) (string, time.Time, error) {
	now = now.UTC()
	y, m, d := now.Date()
	date := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	switch period {
	case "day":
		return fmt.Sprintf("%04d-%02d-%02d", y, m, d), date(y, m, d+1), nil
	case "month":
		return fmt.Sprintf("%04d-%02d", y, m), date(y, m+1, 1), nil
	case "quarter":
		q := (int(m)-1)/3 + 1
		return fmt.Sprintf("%04d-Q%d", y, q), date(y, time.Month(3*q+1), 1), nil
	case "half-year":
		h := (int(m)-1)/6 + 1
		return fmt.Sprintf("%04d-H%d", y, h), date(y, time.Month(6*h+1), 1), nil
	case "year":
		return fmt.Sprintf("%04d", y), date(y+1, 1, 1), nil
	}
	return "", time.Time{}, fmt.Errorf("dp: unknown budget period %q (want one of %v)", period, periods)
}
