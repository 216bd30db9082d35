package searchparam

import (
	"errors"
	"time"
)

// Open ends of a date range. A Period without a start covers everything
// from OpenStart; one without an end covers everything up to OpenEnd. Both
// are representable in PostgreSQL timestamptz, as Unix seconds, and as
// RFC 3339 text that sorts correctly (4-digit years). Ranges are [Start,
// End), so OpenEnd itself is never inside a range; no extracted End is
// later than OpenEnd and no Start earlier than OpenStart.
var (
	OpenStart = time.Time{}                                                 // 0001-01-01T00:00:00Z
	OpenEnd   = time.Date(9999, time.December, 31, 23, 59, 59, 0, time.UTC) // 9999-12-31T23:59:59Z
)

var errDate = errors.New("not a FHIR date, dateTime or instant")

// ParseDate parses a FHIR date, dateTime or instant ("2020", "2020-03",
// "2020-03-04", "2020-03-04T10:30Z", "2020-03-04T10:30:15+01:00",
// "2020-03-04T10:30:15.123Z") and returns the range its precision covers,
// [start, end) in UTC: a year, a month, a day, a minute, a second, or a
// millisecond when there are fractional seconds. Values without a time zone
// (dates, and dateTimes that wrongly omit it) are taken as UTC.
func ParseDate(s string) (start, end time.Time, err error) {
	n := len(s)
	if n < 4 || n > 64 {
		return time.Time{}, time.Time{}, errDate
	}
	year, ok := digits(s, 0, 4)
	if !ok || year < 1 {
		return time.Time{}, time.Time{}, errDate
	}
	month, day := 1, 1
	if n == 4 {
		t := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
		return t, clampEnd(t.AddDate(1, 0, 0)), nil
	}
	if s[4] != '-' {
		return time.Time{}, time.Time{}, errDate
	}
	if month, ok = digits(s, 5, 2); !ok || month < 1 || month > 12 {
		return time.Time{}, time.Time{}, errDate
	}
	if n == 7 {
		t := time.Date(year, time.Month(month), 1, 0, 0, 0, 0, time.UTC)
		return t, clampEnd(t.AddDate(0, 1, 0)), nil
	}
	if n < 10 || s[7] != '-' {
		return time.Time{}, time.Time{}, errDate
	}
	if day, ok = digits(s, 8, 2); !ok || day < 1 || day > daysIn(year, month) {
		return time.Time{}, time.Time{}, errDate
	}
	if n == 10 {
		t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		return t, clampEnd(t.AddDate(0, 0, 1)), nil
	}
	if s[10] != 'T' || n < 16 || s[13] != ':' {
		return time.Time{}, time.Time{}, errDate
	}
	hour, ok1 := digits(s, 11, 2)
	minute, ok2 := digits(s, 14, 2)
	if !ok1 || !ok2 || hour > 23 || minute > 59 {
		return time.Time{}, time.Time{}, errDate
	}
	i := 16
	sec, nsec := 0, 0
	step := time.Minute
	if i < n && s[i] == ':' {
		if sec, ok = digits(s, i+1, 2); !ok || sec > 60 {
			return time.Time{}, time.Time{}, errDate
		}
		if sec == 60 { // a leap second: the last second of the minute
			sec = 59
		}
		step = time.Second
		i += 3
		if i < n && s[i] == '.' {
			j := i + 1
			scale := 100_000_000
			for j < n && s[j] >= '0' && s[j] <= '9' {
				if scale > 0 {
					nsec += int(s[j]-'0') * scale
					scale /= 10
				}
				j++
			}
			if j == i+1 {
				return time.Time{}, time.Time{}, errDate
			}
			step = time.Millisecond
			i = j
		}
	}
	loc := time.UTC
	switch {
	case i == n:
	case s[i] == 'Z' && i+1 == n:
	case (s[i] == '+' || s[i] == '-') && i+6 == n && s[i+3] == ':':
		oh, ok1 := digits(s, i+1, 2)
		om, ok2 := digits(s, i+4, 2)
		if !ok1 || !ok2 || oh > 14 || om > 59 {
			return time.Time{}, time.Time{}, errDate
		}
		off := oh*3600 + om*60
		if s[i] == '-' {
			off = -off
		}
		if off != 0 {
			loc = time.FixedZone("", off)
		}
	default:
		return time.Time{}, time.Time{}, errDate
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc).UTC()
	return t, clampEnd(t.Add(step)), nil
}

func clampEnd(t time.Time) time.Time {
	if t.After(OpenEnd) {
		return OpenEnd
	}
	return t
}

func digits(s string, at, n int) (int, bool) {
	if at+n > len(s) {
		return 0, false
	}
	v := 0
	for i := at; i < at+n; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
