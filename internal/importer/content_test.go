package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	f.Add([]byte(`{"Records":[{"eventName":"x"}]}{"Records":[]}`))
	f.Add([]byte("{\n \"eventName\": \"x\"\n}\n{\n \"eventName\": \"y\"\n}"))
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

// TestParseFileByteOrderMark: a file that starts with a UTF-8 byte order
// mark (as Windows tools write them) is read as the same file without it,
// in every form; such files were reported as not a CloudTrail log.
func TestParseFileByteOrderMark(t *testing.T) {
	rec := func(id string) string {
		return `{"eventVersion":"1.08","userIdentity":{"type":"Root","accountId":"111122223333"},"eventTime":"2024-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","eventID":"` + id + `","recipientAccountId":"111122223333"}`
	}
	opts := event.LenientOptions{Time: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}
	for _, c := range []struct {
		name, body string
		ids        []string
		digest     bool
	}{
		{"ndjson", rec("a") + "\r\n" + rec("b") + "\r\n", []string{"a", "b"}, false},
		{"records", `{"Records":[` + rec("a") + "]}", []string{"a"}, false},
		{"pretty records", "{\n  \"Records\": [\n" + rec("a") + ",\n" + rec("b") + "\n]\n}\n", []string{"a", "b"}, false},
		{"one record", rec("a"), []string{"a"}, false},
		{"array", "[" + rec("a") + "," + rec("b") + "]", []string{"a", "b"}, false},
		{"digest", `{"digestStartTime":"2024-01-01T00:00:00Z","digestSignatureAlgorithm":"SHA256withRSA","logFiles":[]}`, nil, true},
	} {
		for _, prefix := range []string{"", "\xef\xbb\xbf"} {
			var ids []string
			digest, err := parseFile([]byte(prefix+c.body), opts, func(r *event.Record, _ []event.Repair, err error) error {
				if err != nil {
					t.Errorf("%s (prefix %q): record: %v", c.name, prefix, err)
					return nil
				}
				ids = append(ids, r.EventID)
				return nil
			})
			if err != nil || digest != c.digest || !slices.Equal(ids, c.ids) {
				t.Errorf("%s (prefix %q): digest %v, records %q, err %v; want digest %v, records %q", c.name, prefix, digest, ids, err, c.digest, c.ids)
			}
		}
	}
}

// TestParseFileStreams: JSON objects one after another — Records
// documents (zcat of several log files writes them with no newline
// between), records pretty-printed one after another (jq's output), or a
// mix — are read document by document; they were one bad file, "has data
// after the Records document" or "not a CloudTrail log". A stream that
// does not parse to its end is still not a log, and a stream of digests
// is a digest file.
func TestParseFileStreams(t *testing.T) {
	rec := func(id string) string {
		return `{"eventVersion":"1.08","userIdentity":{"type":"Root","accountId":"111122223333"},"eventTime":"2024-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","eventID":"` + id + `","recipientAccountId":"111122223333"}`
	}
	pretty := func(id string) string {
		var b bytes.Buffer
		json.Indent(&b, []byte(rec(id)), "", "  ")
		return b.String()
	}
	doc := func(ids ...string) string {
		var recs []string
		for _, id := range ids {
			recs = append(recs, rec(id))
		}
		return `{"Records":[` + strings.Join(recs, ",") + `]}`
	}
	digestDoc := `{"digestStartTime":"2024-01-01T00:00:00Z","digestSignatureAlgorithm":"SHA256withRSA","logFiles":[]}`
	opts := event.LenientOptions{Time: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}
	for _, c := range []struct {
		name, body string
		ids        []string
		digest     bool
		notLog     bool
	}{
		{"zcat of two log files", doc("a", "b") + doc("c"), []string{"a", "b", "c"}, false, false},
		{"log files on lines", doc("a") + "\n" + doc("b", "c") + "\n", []string{"a", "b", "c"}, false, false},
		{"jq output", pretty("a") + "\n" + pretty("b") + "\n" + pretty("c") + "\n", []string{"a", "b", "c"}, false, false},
		{"records then a document", pretty("a") + doc("b"), []string{"a", "b"}, false, false},
		{"pretty documents", "{\n \"Records\": [" + pretty("a") + "]\n}\n{\n \"Records\": [" + pretty("b") + "]\n}\n", []string{"a", "b"}, false, false},
		{"digests", digestDoc + digestDoc, nil, true, false},
		{"cut short", pretty("a") + "\n" + pretty("b") + "\n{\"eventVersion\": ", nil, false, true},
		{"documents then text", doc("a") + doc("b") + " and more", nil, false, true},
		{"not objects", pretty("a") + "\n[1]", nil, false, true},
	} {
		var ids []string
		digest, err := parseFile([]byte(c.body), opts, func(r *event.Record, _ []event.Repair, err error) error {
			if err != nil {
				t.Errorf("%s: record: %v", c.name, err)
				return nil
			}
			ids = append(ids, r.EventID)
			return nil
		})
		if c.notLog {
			if !errors.Is(err, ErrNotLog) && !errors.As(err, new(*event.BodyError)) || len(ids) > 0 {
				t.Errorf("%s: err %v, records %q; want not a log and no records", c.name, err, ids)
			}
			continue
		}
		if err != nil || digest != c.digest || !slices.Equal(ids, c.ids) {
			t.Errorf("%s: digest %v, records %q, err %v; want digest %v, records %q", c.name, digest, ids, err, c.digest, c.ids)
		}
	}
}
