package importer

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// FuzzParseFile: whatever a file holds, parseFile does not panic, calls fn
// for no digest and for no file it reports as not a log, and every record
// it yields passes the strict parser. The seeds are the class fixtures.
func FuzzParseFile(f *testing.F) {
	filepath.WalkDir("testdata/classes", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(path); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
	f.Add([]byte(`[{"eventName":"x"},1]`))
	f.Add([]byte("{\"a\":1}\n{\"b\":2}\n"))
	opts := event.LenientOptions{Time: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, data []byte) {
		calls := 0
		digest, err := parseFile(data, opts, func(rec *event.Record, _ []event.Repair, err error) error {
			calls++
			if err == nil {
				if _, perr := event.Parse(rec.Raw); perr != nil {
					t.Fatalf("record fails the strict parser: %v\n%s", perr, rec.Raw)
				}
			}
			return nil
		})
		if (digest || errors.Is(err, ErrNotLog)) && calls > 0 {
			t.Fatalf("digest %v, err %v, yet %d records", digest, err, calls)
		}
		if digest && err != nil {
			t.Fatalf("a digest with an error: %v", err)
		}
	})
}
