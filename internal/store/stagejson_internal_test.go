package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStageJSONExact: every string the stage's JSON carries comes back
// from DuckDB's reader byte for byte; what JSON cannot carry is refused
// (and so staged through the Appender).
func TestStageJSONExact(t *testing.T) {
	strs := []string{"", "plain", `q"uote`, `back\slash`, "ctl\x00\x01\x1f\n\r\t", "é😀</>&\u2028", "\x7f del"}
	var line []byte
	path := filepath.Join(t.TempDir(), "s.ndjson")
	var all []byte
	for _, s := range strs {
		var ok bool
		line, ok = appendJSONRow(line[:0], []any{s, map[string]any{"a": s, "b": nil}, []string{s, "x"}, true, int64(-7), time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)})
		if !ok {
			t.Fatalf("%q refused", s)
		}
		all = append(all, line...)
	}
	if err := os.WriteFile(path, all, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), `SELECT c0, c1.a, c2[1], c3, c4, c5 FROM read_json('`+path+`', format = 'newline_delimited',
		columns = {'c0': 'VARCHAR', 'c1': 'STRUCT(a VARCHAR, b VARCHAR)', 'c2': 'VARCHAR[]', 'c3': 'BOOLEAN', 'c4': 'BIGINT', 'c5': 'TIMESTAMP'})`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var a, b, c string
		var d bool
		var e int64
		var f time.Time
		if err := rows.Scan(&a, &b, &c, &d, &e, &f); err != nil {
			t.Fatal(err)
		}
		if a != strs[i] || b != strs[i] || c != strs[i] || !d || e != -7 || !f.Equal(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)) {
			t.Fatalf("row %d: %q %q %q %v %d %v", i, a, b, c, d, e, f)
		}
		i++
	}
	if i != len(strs) {
		t.Fatalf("%d rows", i)
	}
	if _, ok := appendJSONRow(nil, []any{"bad \xff"}); ok {
		t.Fatal("invalid UTF-8 accepted")
	}
	if _, ok := appendJSONRow(nil, []any{map[string]any{"a": "\xfe"}}); ok {
		t.Fatal("invalid UTF-8 in a struct accepted")
	}
}
