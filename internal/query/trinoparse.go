package query

import (
	"fmt"
	"strings"
	"time"
)

// strptime parses s by a strftime pattern of the kind mysqlToStrftime and
// jodaToStrptime produce, as Trino's date_parse and parse_datetime do:
// numeric fields take up to their width in digits, names are English and
// case-insensitive, fields left out default to 1970-01-01 00:00:00, and
// the whole of s must match. The result is UTC.
func strptime(s, pattern string) (time.Time, error) {
	var (
		year, month, day       = 1970, 1, 1
		hour, minute, sec, ns  int
		yday, isoYear, isoWeek int
		isoDay                 = -1
		pm, hour12             = false, false
		offset                 int
		haveISO                bool
	)
	in := s
	fail := func(what string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("invalid format: %q is malformed at %q (%s)", s, in, what)
	}
	num := func(minDigits, maxDigits int) (int, bool) {
		n, v := 0, 0
		for n < maxDigits && n < len(in) && in[n] >= '0' && in[n] <= '9' {
			v = v*10 + int(in[n]-'0')
			n++
		}
		if n < minDigits {
			return 0, false
		}
		in = in[n:]
		return v, true
	}
	name := func(names []string, abbrev bool) (int, bool) {
		for i, full := range names {
			n := full
			if abbrev {
				n = full[:3]
			}
			if len(in) >= len(n) && strings.EqualFold(in[:len(n)], n) {
				in = in[len(n):]
				return i, true
			}
		}
		return 0, false
	}
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' {
			if len(in) == 0 || in[0] != c {
				return fail(fmt.Sprintf("expected %q", c))
			}
			in = in[1:]
			continue
		}
		i++
		if i == len(pattern) {
			return fail("pattern ends with %")
		}
		spec := pattern[i]
		if spec == '-' && i+1 < len(pattern) {
			i++
			spec = pattern[i]
		}
		var ok bool
		switch spec {
		case 'Y':
			year, ok = num(1, 4)
		case 'y':
			year, ok = num(2, 2)
			if year < 70 {
				year += 2000
			} else {
				year += 1900
			}
		case 'G':
			isoYear, ok = num(1, 4)
			haveISO = true
		case 'm':
			month, ok = num(1, 2)
		case 'd':
			day, ok = num(1, 2)
		case 'j':
			yday, ok = num(1, 3)
			ok = ok && yday >= 1 && yday <= 366
		case 'V':
			isoWeek, ok = num(1, 2)
			haveISO = true
		case 'u':
			isoDay, ok = num(1, 1)
			ok = ok && isoDay >= 1 && isoDay <= 7
		case 'H':
			hour, ok = num(1, 2)
		case 'I':
			hour, ok = num(1, 2)
			hour12 = true
			ok = ok && hour >= 1 && hour <= 12
		case 'M':
			minute, ok = num(1, 2)
		case 'S':
			sec, ok = num(1, 2)
		case 'f', 'g':
			n := 0
			for n < 9 && n < len(in) && in[n] >= '0' && in[n] <= '9' {
				n++
			}
			if ok = n > 0; ok {
				frac := in[:n] + strings.Repeat("0", 9-n)
				ns = 0
				for _, d := range frac {
					ns = ns*10 + int(d-'0')
				}
				in = in[n:]
			}
		case 'p':
			var v int
			v, ok = name([]string{"AM", "PM"}, false)
			pm = v == 1
		case 'b':
			month, ok = name(monthNames, true)
			month++
		case 'B':
			month, ok = name(monthNames, false)
			month++
		case 'a':
			_, ok = name(dayNames, true)
		case 'A':
			_, ok = name(dayNames, false)
		case 'z':
			offset, ok = parseOffset(&in)
		case 'Z':
			for _, z := range []string{"UTC", "GMT", "Z"} {
				if strings.HasPrefix(strings.ToUpper(in), z) {
					in, ok = in[len(z):], true
					break
				}
			}
		case '%':
			ok = strings.HasPrefix(in, "%")
			if ok {
				in = in[1:]
			}
		default:
			return fail(fmt.Sprintf("%%%c cannot be parsed", spec))
		}
		if !ok {
			return fail(fmt.Sprintf("%%%c", spec))
		}
	}
	if in != "" {
		return fail("text left over")
	}
	if hour12 {
		hour %= 12
		if pm {
			hour += 12
		}
	} else if pm && hour < 12 {
		hour += 12
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return fail("a field is out of range")
	}
	var t time.Time
	switch {
	case haveISO:
		if isoDay < 0 {
			isoDay = 1
		}
		if isoWeek < 1 || isoWeek > 53 {
			return fail("ISO week out of range")
		}
		// Monday of ISO week 1 is the Monday on or before 4 January.
		jan4 := time.Date(isoYear, 1, 4, 0, 0, 0, 0, time.UTC)
		monday := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
		t = monday.AddDate(0, 0, (isoWeek-1)*7+isoDay-1).Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute + time.Duration(sec)*time.Second + time.Duration(ns))
	case yday > 0:
		t = time.Date(year, 1, 1, hour, minute, sec, ns, time.UTC).AddDate(0, 0, yday-1)
		if t.Year() != year {
			return fail("day of year out of range")
		}
	default:
		t = time.Date(year, time.Month(month), day, hour, minute, sec, ns, time.UTC)
		if t.Day() != day {
			return fail("day out of range for the month")
		}
	}
	return t.Add(-time.Duration(offset) * time.Second), nil
}

var (
	monthNames = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	dayNames   = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
)

// parseOffset reads Z, +hh, +hhmm or +hh:mm from *in and returns seconds
// east of UTC.
func parseOffset(in *string) (int, bool) {
	s := *in
	if strings.HasPrefix(s, "Z") {
		*in = s[1:]
		return 0, true
	}
	if len(s) < 3 || s[0] != '+' && s[0] != '-' {
		return 0, false
	}
	digits := func(p string) (int, bool) {
		if len(p) < 2 || p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' {
			return 0, false
		}
		return int(p[0]-'0')*10 + int(p[1]-'0'), true
	}
	h, ok := digits(s[1:])
	if !ok || h > 23 {
		return 0, false
	}
	rest, m := s[3:], 0
	if strings.HasPrefix(rest, ":") {
		rest = rest[1:]
		if m, ok = digits(rest); !ok {
			return 0, false
		}
		rest = rest[2:]
	} else if v, ok := digits(rest); ok {
		m, rest = v, rest[2:]
	}
	if m > 59 {
		return 0, false
	}
	*in = rest
	sec := h*3600 + m*60
	if s[0] == '-' {
		sec = -sec
	}
	return sec, true
}
