package query

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDatePatterns: translating a Trino date pattern never panics, and
// whatever it produces DuckDB's strftime accepts and writes.
func FuzzDatePatterns(f *testing.F) {
	for _, s := range []string{
		"%Y-%m-%d %H:%i:%s", "%W %M %e %r %%", "%D", "%", "yyyy-MM-dd'T'HH:mm:ss.SSS",
		"EEEE, d MMM yy h:mm a", "'It''s' Z zzzz", "'open", "50% SSSSSS", "xxxx-'W'ww-e",
	} {
		f.Add(s)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	f.Fuzz(func(t *testing.T, p string) {
		if len(p) > 200 || !utf8.ValidString(p) || strings.IndexByte(p, 0) >= 0 {
			return
		}
		for name, tr := range map[string]func(string) (string, error){"mysql": mysqlToStrftime, "joda": jodaToStrftime} {
			out, err := tr(p)
			if err != nil || out == "" { // the macros write '' for ''
				continue
			}
			var s string
			if err := db.QueryRow(`SELECT strftime(TIMESTAMP '2023-01-02 03:04:05.678', ?)`, out).Scan(&s); err != nil {
				t.Fatalf("%s(%q) = %q, which strftime refuses: %v", name, p, out, err)
			}
		}
	})
}

// FuzzStrptime: parsing never panics, and a time written with a complete
// pattern parses back to the same time.
func FuzzStrptime(f *testing.F) {
	f.Add("2023-01-04 13:05:09", "%Y-%m-%d %H:%i:%s", int64(1674381600123456))
	f.Add("4 Jan 2023 01:05:09 PM", "%e %b %Y %r", int64(0))
	f.Add("2023-W01-3", "%x-W%v-%u", int64(-86400000000))
	f.Add("+05:30", "yyyyZZ", int64(253402300799000000))
	// strptime patterns and the Go layouts that write the same text.
	full := map[string]string{
		"%Y-%m-%d %H:%M:%S.%f":       "2006-01-02 15:04:05.000000",
		"%d %B %Y %I:%M:%S.%f %p":    "02 January 2006 03:04:05.000000 PM",
		"%A %-d %b %Y %H:%-M:%-S.%f": "Monday 2 Jan 2006 15:4:5.000000",
		"%Y%j %H%M%S.%f":             "2006002 150405.000000",
		"%Y-%m-%dT%H:%M:%S.%f%z":     "2006-01-02T15:04:05.000000Z07:00",
		"%G-W%V-%u %H:%M:%S.%f":      "",
	}
	f.Fuzz(func(t *testing.T, s, p string, us int64) {
		if len(s) > 200 || len(p) > 200 {
			return
		}
		if out, err := mysqlToStrftime(p); err == nil {
			strptime(s, out)
		}
		if out, err := jodaToStrptime(p); err == nil {
			strptime(s, out)
		}
		strptime(s, p)
		// Years 1–9999.
		const lo, hi = -62135596800000000, 253402300799999999
		if us < lo || us > hi {
			return
		}
		want := time.UnixMicro(us).UTC()
		for pat, layout := range full {
			text := want.Format(layout)
			if layout == "" {
				y, w := want.ISOWeek()
				text = fmt.Sprintf("%04d-W%02d-%d %s", y, w, (int(want.Weekday())+6)%7+1, want.Format("15:04:05.000000"))
			}
			got, err := strptime(text, pat)
			if err != nil || !got.Equal(want) {
				t.Fatalf("strptime(%q, %q) = %v, %v; want %v", text, pat, got, err, want)
			}
		}
	})
}
