package arrowconv

import (
	"errors"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

var (
	errDate      = errors.New("not a date (want YYYY-MM-DD)")
	errTimestamp = errors.New("not a timestamp (want YYYY-MM-DD hh:mm:ss[.ffffff][±hh:mm])")
	errSubMicro  = errors.New("timestamp has sub-microsecond digits")
)

const secondsPerDay = 86400

// DateOf is the civil date of t in t's own location, as days since 1970-01-01.
func DateOf(t time.Time) arrow.Date32 {
	y, m, d := t.Date()
	return arrow.Date32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay)
}

// ParseDate reads 'YYYY-MM-DD' (a trailing ' 00:00:00' is accepted).
func ParseDate(s string) (arrow.Date32, error) {
	s = strings.TrimSpace(s)
	if len(s) > 10 {
		rest := strings.TrimLeft(s[10:], " T")
		if strings.Trim(rest, "0:.") != "" {
			return 0, errDate
		}
		s = s[:10]
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, errDate
	}
	return DateOf(t), nil
}

// Micros converts t to microseconds since the epoch (the UTC instant; for a
// zone-less source time the wall clock read as UTC), refusing nanoseconds it
// would drop.
func Micros(t time.Time) (int64, error) {
	if t.Nanosecond()%1000 != 0 {
		return 0, errSubMicro
	}
	return t.UnixMicro(), nil
}

var timestampLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04Z07:00",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseTimestamp reads the text forms SQLite, CSV and the servers produce:
// 'T' or ' ' between date and time, optional fraction, optional offset.
// A value with an offset is converted to its UTC instant.
func ParseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if len(s) > 10 && s[10] == 'T' {
		s = s[:10] + " " + s[11:]
	}
	s = strings.TrimSuffix(s, " UTC")
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errTimestamp
}
