package columnar

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
)

// record is one input of a round trip: the bytes and the store's event time.
type record struct {
	name string
	raw  []byte
	t    time.Time
}

// roundTrip writes recs' rows through DuckDB's Appender into a zstd
// Parquet file, reads them back with SelectList and checks that Rebuild
// gives every record's bytes. It returns the file's size.
func roundTrip(t *testing.T, recs []record) int64 {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cols := []string{`"_n" BIGINT`}
	for _, c := range Columns {
		cols = append(cols, quoteIdent(c.Name)+" "+c.Type)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE rows (`+strings.Join(cols, ", ")+`)`); err != nil {
		t.Fatal(err)
	}
	err = conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "rows")
		if err != nil {
			return err
		}
		for i, r := range recs {
			vals := append([]any{int64(i)}, Shred(r.raw, r.t).Values()...)
			dv := make([]driver.Value, len(vals))
			for j, v := range vals {
				dv[j] = v
			}
			if err := app.AppendRow(dv...); err != nil {
				app.Close()
				return fmt.Errorf("append %s: %w", r.name, err)
			}
		}
		return app.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "x.parquet")
	if _, err := conn.ExecContext(ctx, `COPY (SELECT * FROM rows ORDER BY _n) TO '`+file+`' (FORMAT parquet, COMPRESSION zstd)`); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(ctx, `SELECT `+SelectList("p.")+` FROM read_parquet('`+file+`') p ORDER BY p._n`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	vals := make([]any, len(Columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		r := recs[n]
		got, err := Rebuild(vals)
		if err != nil {
			t.Errorf("%s: Rebuild: %v", r.name, err)
		} else if !bytes.Equal(got, r.raw) {
			t.Errorf("%s: Rebuild gave\n%q\nwant\n%q", r.name, got, r.raw)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(recs) {
		t.Fatalf("read %d rows, wrote %d", n, len(recs))
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// stored parses every record of body as the store would and returns their
// stored bytes; a record the store refuses is kept as it was sent.
func stored(t *testing.T, name string, body []byte) []record {
	t.Helper()
	var out []record
	err := event.ParseBody(body, 1<<20, event.LenientOptions{}, func(rec *event.Record, _ []event.Repair, err error) error {
		if err != nil {
			return nil
		}
		out = append(out, record{name: fmt.Sprintf("%s#%d", name, len(out)), raw: rec.Raw, t: rec.EventTime})
		return nil
	})
	if err != nil {
		t.Logf("%s: %v", name, err)
	}
	return out
}

func TestRoundTripPublic(t *testing.T) {
	root := filepath.Join("..", "..", "..", "shared", "testdata", "public")
	var recs []record
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(path, ".json") && !strings.HasSuffix(path, ".ndjson") && !strings.HasSuffix(path, ".gz") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return err
			}
			if b, err = io.ReadAll(zr); err != nil {
				return err
			}
		}
		if strings.Contains(path, "panther_cloudtrail_rule_tests.ndjson") {
			return nil // the same records as *_records.ndjson, wrapped
		}
		if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
			// A JSON array of records: give it CloudTrail's wrapper.
			b = append(append([]byte(`{"Records":`), b...), '}')
		}
		recs = append(recs, stored(t, filepath.Base(path), b)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < 700 {
		t.Fatalf("read %d public records, want the ~800 of shared/testdata/public", len(recs))
	}
	size := roundTrip(t, recs)
	t.Logf("%d public records, %d bytes of Parquet", len(recs), size)
}

func TestRoundTripDemo(t *testing.T) {
	var recs []record
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	err := demo.Generate(demo.Options{Seed: 7, Events: 5000, Start: start, Duration: 48 * time.Hour}, func(raw []byte) error {
		rec, err := event.Parse(bytes.Clone(raw))
		if err != nil {
			return err
		}
		recs = append(recs, record{name: rec.EventID, raw: rec.Raw, t: rec.EventTime})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	size := roundTrip(t, recs)
	t.Logf("%d demo records, %d bytes of Parquet (%.1f bytes/event)", len(recs), size, float64(size)/float64(len(recs)))
}

func TestRoundTripCtgen(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "tools", "ctgen")
	out := filepath.Join(t.TempDir(), "events.ndjson")
	cmd := exec.Command("go", "run", ".", "--events", "5000", "--inject", "--out", out)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ctgen: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	recs := stored(t, "ctgen", b)
	if len(recs) < 5000 {
		t.Fatalf("ctgen gave %d records, want ≥5000", len(recs))
	}
	size := roundTrip(t, recs)
	t.Logf("%d ctgen records, %d bytes of Parquet (%.1f bytes/event)", len(recs), size, float64(size)/float64(len(recs)))
}

// BenchmarkAppend times duckdb-go's Appender over Values, and over the
// same rows with the STRUCT columns NULL, to show what the STRUCTs cost.
func BenchmarkAppend(b *testing.B) {
	var rows [][]driver.Value
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	err := demo.Generate(demo.Options{Seed: 5, Events: 10000, Start: start}, func(raw []byte) error {
		rec, err := event.Parse(bytes.Clone(raw))
		if err != nil {
			return err
		}
		vals := Shred(rec.Raw, rec.EventTime).Values()
		dv := make([]driver.Value, len(vals))
		for i, v := range vals {
			dv[i] = v
		}
		rows = append(rows, dv)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, structs := range []bool{true, false} {
		b.Run(fmt.Sprintf("structs=%v", structs), func(b *testing.B) {
			ctx := context.Background()
			db, err := sql.Open("duckdb", "")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			conn, err := db.Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			var cols []string
			for _, c := range Columns {
				cols = append(cols, quoteIdent(c.Name)+" "+c.Type)
			}
			if _, err := conn.ExecContext(ctx, `CREATE TABLE rows (`+strings.Join(cols, ", ")+`)`); err != nil {
				b.Fatal(err)
			}
			in := rows
			if !structs {
				in = make([][]driver.Value, len(rows))
				for i, r := range rows {
					in[i] = append([]driver.Value(nil), r...)
					for j, c := range Columns {
						if strings.HasPrefix(c.Type, "STRUCT") {
							in[i][j] = nil
						}
					}
				}
			}
			b.ResetTimer()
			for b.Loop() {
				err = conn.Raw(func(dc any) error {
					app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "rows")
					if err != nil {
						return err
					}
					for _, r := range in {
						if err := app.AppendRow(r...); err != nil {
							app.Close()
							return err
						}
					}
					return app.Close()
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(in)), "ns/row")
		})
	}
}
