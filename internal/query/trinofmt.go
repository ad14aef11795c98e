package query

import (
	"fmt"
	"strings"
)

// mysqlToStrftime translates a Trino date_format pattern (MySQL's %
// specifiers) into a DuckDB strftime pattern.
// Specifiers Trino does not support either (%D, %U, %u, %V, %X) and
// unknown ones are errors, as in Trino.
func mysqlToStrftime(f string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(f) {
			return "", fmt.Errorf("date format %q ends with a lone %%", f)
		}
		i++
		s := f[i]
		switch s {
		case 'a', 'b', 'd', 'H', 'I', 'j', 'm', 'p', 'S', 'y', 'Y', 'f', 'w':
			b.WriteByte('%')
			b.WriteByte(s)
		case 'c':
			b.WriteString("%-m")
		case 'e':
			b.WriteString("%-d")
		case 'h':
			b.WriteString("%I")
		case 'i':
			b.WriteString("%M")
		case 'k':
			b.WriteString("%-H")
		case 'l':
			b.WriteString("%-I")
		case 'M':
			b.WriteString("%B")
		case 'r':
			b.WriteString("%I:%M:%S %p")
		case 's':
			b.WriteString("%S")
		case 'T':
			b.WriteString("%H:%M:%S")
		case 'v':
			b.WriteString("%V")
		case 'W':
			b.WriteString("%A")
		case 'x':
			b.WriteString("%G")
		case '%':
			b.WriteString("%%")
		case 'D', 'U', 'u', 'V', 'X':
			return "", fmt.Errorf("date format specifier %%%c is not supported", s)
		default:
			if s >= 'a' && s <= 'z' || s >= 'A' && s <= 'Z' {
				return "", fmt.Errorf("date format specifier %%%c is not supported", s)
			}
			// MySQL writes any other character after % as itself.
			writeLiteral(&b, f[i:i+1])
		}
	}
	return b.String(), nil
}

// jodaToStrftime translates a Trino format_datetime / parse_datetime
// pattern (Joda-Time letters, 'quoted' text) into a DuckDB strftime
// pattern. Times in opentrail are UTC, so the zone letters write UTC's
// name and offset.
func jodaToStrftime(f string) (string, error) { return joda(f, false) }

// jodaToStrptime is jodaToStrftime for parse_datetime: the zone letters
// read an offset (Z, ZZ) or a zone name (z).
func jodaToStrptime(f string) (string, error) { return joda(f, true) }

func joda(f string, parse bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(f); {
		c := f[i]
		switch {
		case c == '\'':
			// 'text' is literal; '' is a single quote, inside or outside.
			if i+1 < len(f) && f[i+1] == '\'' {
				b.WriteByte('\'')
				i += 2
				continue
			}
			j := i + 1
			var lit strings.Builder
			for {
				if j >= len(f) {
					return "", fmt.Errorf("date-time pattern %q has an unterminated quote", f)
				}
				if f[j] == '\'' {
					if j+1 < len(f) && f[j+1] == '\'' {
						lit.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				lit.WriteByte(f[j])
				j++
			}
			writeLiteral(&b, lit.String())
			i = j + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			n := 1
			for i+n < len(f) && f[i+n] == c {
				n++
			}
			s, err := jodaField(c, n, parse)
			if err != nil {
				return "", err
			}
			b.WriteString(s)
			i += n
		default:
			writeLiteral(&b, f[i:i+1])
			i++
		}
	}
	return b.String(), nil
}

// jodaField is the strftime text for n repetitions of the Joda letter c.
func jodaField(c byte, n int, parse bool) (string, error) {
	pick := func(short, long string) string {
		if n == 1 {
			return short
		}
		return long
	}
	switch c {
	case 'y', 'Y', 'u':
		if n == 2 {
			return "%y", nil
		}
		return "%Y", nil
	case 'x':
		return "%G", nil
	case 'w':
		return "%V", nil
	case 'e':
		return "%u", nil
	case 'E':
		if n >= 4 {
			return "%A", nil
		}
		return "%a", nil
	case 'M':
		switch {
		case n >= 4:
			return "%B", nil
		case n == 3:
			return "%b", nil
		}
		return pick("%-m", "%m"), nil
	case 'd':
		return pick("%-d", "%d"), nil
	case 'D':
		return pick("%-j", "%j"), nil
	case 'H':
		return pick("%-H", "%H"), nil
	case 'h':
		return pick("%-I", "%I"), nil
	case 'm':
		return pick("%-M", "%M"), nil
	case 's':
		return pick("%-S", "%S"), nil
	case 'a':
		return "%p", nil
	case 'S':
		switch n {
		case 3:
			return "%g", nil
		case 6:
			return "%f", nil
		}
		return "", fmt.Errorf("date-time pattern: %s (fraction of %d digits) is not supported; use SSS or SSSSSS", strings.Repeat("S", n), n)
	case 'Z':
		if parse {
			return "%z", nil
		}
		switch n {
		case 1:
			return "+0000", nil
		case 2:
			return "+00:00", nil
		}
		return "UTC", nil
	case 'z':
		if parse {
			return "%Z", nil
		}
		if n >= 4 {
			return "Coordinated Universal Time", nil
		}
		return "UTC", nil
	}
	return "", fmt.Errorf("date-time pattern letter %c is not supported", c)
}

// writeLiteral writes s so that strftime copies it unchanged.
func writeLiteral(b *strings.Builder, s string) {
	b.WriteString(strings.ReplaceAll(s, "%", "%%"))
}
