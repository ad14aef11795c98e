package query

import (
	"database/sql"
	"strings"
	"testing"
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
