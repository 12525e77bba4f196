package gen

import "time"

// Dates are days since 1970-01-01 (negative before). The civil conversions
// are Howard Hinnant's algorithms: cheaper than time.Time on millions of rows.

func daysFromCivil(y, m, d int) int32 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int32(era*146097 + doe - 719468)
}

func civilFromDays(z32 int32) (y, m, d int) {
	z := int(z32) + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func yearOf(d int32) int {
	y, _, _ := civilFromDays(d)
	return y
}

// addYears moves a date by whole years; 29 February becomes 1 March.
func addYears(d int32, n int) int32 {
	y, m, dd := civilFromDays(d)
	if m == 2 && dd == 29 {
		return daysFromCivil(y+n, 3, 1)
	}
	return daysFromCivil(y+n, m, dd)
}

func appendDate(b []byte, d int32) []byte {
	y, m, dd := civilFromDays(d)
	return append(b,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-',
		byte('0'+dd/10), byte('0'+dd%10))
}

func dateString(d int32) string { return string(appendDate(make([]byte, 0, 10), d)) }

func dateTime(d int32) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// refDate is the fixed "today" of the data set: ages, validity and the
// imperfection definitions are relative to it, never to the wall clock.
var (
	refDate      = daysFromCivil(2026, 11, 30)
	under6Cutoff = addYears(refDate, -6) // born after this: under 6 on refDate
)
