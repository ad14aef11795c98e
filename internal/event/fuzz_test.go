package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/event"
)

// FuzzParse checks that Parse never panics, accepts only valid JSON, keeps
// it byte for byte apart from whitespace, and is idempotent on Raw. The
// seed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(aggregated))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := event.Parse(data)
		if err != nil {
			var se *event.SyntaxError
			var ve *event.ValidationError
			if !errors.As(err, &se) && !errors.As(err, &ve) && !errors.Is(err, event.ErrTooLarge) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if ve != nil && !utf8.ValidString(ve.Error()) {
				t.Fatalf("error message is not UTF-8: %q", ve.Error())
			}
			return
		}
		if !json.Valid(data) || !utf8.Valid(data) {
			t.Fatalf("accepted invalid input %q", data)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, data); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.Bytes(), rec.Raw) {
			t.Fatalf("Raw %q is not the compact input %q", rec.Raw, c.Bytes())
		}
		again, err := event.Parse(rec.Raw)
		if err != nil {
			t.Fatalf("Parse(Raw) of an accepted record: %v", err)
		}
		if !reflect.DeepEqual(again, rec) {
			t.Fatalf("Parse(Raw) = %+v, want %+v", again, rec)
		}
		if rec.EventTime.Location() != time.UTC {
			t.Fatalf("EventTime %v not in UTC", rec.EventTime)
		}
	})
}

// FuzzSplitBody checks that SplitBody never panics, keeps to its limit,
// hands out non-overlapping trimmed pieces of the body in order, and that
// the records it finds survive being re-wrapped in a Records document.
// The seed corpus is in testdata/fuzz/FuzzSplitBody.
func FuzzSplitBody(f *testing.F) {
	f.Add([]byte(`{"Records":[{"a":1},{"b":"}"}]}`), 0)
	f.Fuzz(func(t *testing.T, body []byte, maxRecords int) {
		if maxRecords > 50 || maxRecords < -1 {
			maxRecords %= 50
		}
		limit := maxRecords
		if limit <= 0 {
			limit = event.DefaultMaxRecords
		}
		var got [][]byte
		prev := 0
		err := event.SplitBody(body, maxRecords, func(raw []byte) error {
			if len(raw) == 0 {
				t.Fatal("empty record")
			}
			if bytes.ContainsAny(raw[:1], " \t\r\n") || bytes.ContainsAny(raw[len(raw)-1:], " \t\r\n") {
				t.Fatalf("record %q not trimmed", raw)
			}
			i := bytes.Index(body[prev:], raw)
			if i < 0 {
				t.Fatalf("record %q is not a later part of the body", raw)
			}
			prev += i + len(raw)
			got = append(got, raw)
			return nil
		})
		if len(got) > limit {
			t.Fatalf("%d records, limit %d", len(got), limit)
		}
		if err != nil {
			var be *event.BodyError
			if !errors.As(err, &be) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if len(got) != 0 {
				t.Fatalf("fn called %d times before error %v", len(got), err)
			}
			return
		}
		// Records that are JSON objects survive a round trip through a
		// Records document.
		doc := []byte(`{"Records":[`)
		for i, raw := range got {
			if raw[0] != '{' || !json.Valid(raw) {
				return
			}
			if i > 0 {
				doc = append(doc, ',')
			}
			doc = append(doc, raw...)
		}
		doc = append(doc, "]}"...)
		var again [][]byte
		if err := event.SplitBody(doc, len(got), func(raw []byte) error {
			again = append(again, raw)
			return nil
		}); err != nil {
			t.Fatalf("re-wrapped records: %v", err)
		}
		if len(again) != len(got) {
			t.Fatalf("re-wrapped: %d records, want %d", len(again), len(got))
		}
		for i := range got {
			if !bytes.Equal(again[i], got[i]) {
				t.Fatalf("re-wrapped record %d = %q, want %q", i, again[i], got[i])
			}
		}
	})
}

// TestParseSeedCorpus keeps the seed corpus honest: the seeds named
// valid-* are records Parse accepts, every other seed is one it rejects.
func TestParseSeedCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/fuzz/FuzzParse/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no seeds: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" ||
			!strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
			t.Fatalf("%s: not a one-argument corpus file", f)
		}
		data, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		_, err = event.Parse([]byte(data))
		if valid := strings.HasPrefix(filepath.Base(f), "valid-"); valid != (err == nil) {
			t.Errorf("%s: Parse error %v", f, err)
		}
	}
}

// FuzzParseLenient: whatever the lenient parser accepts, the strict one
// accepts too (repaired records are rewritten to pass it), and repairing
// is deterministic.
func FuzzParseLenient(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(`{"eventTime":"2022-12-11 19:42:55","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"US-EAST-1","recipientAccountId":"12345","userIdentity":null}`))
	opts := event.LenientOptions{Time: time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC), Account: "111111111111", Region: "us-east-1"}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, _, err := event.ParseLenient(data, opts)
		if err != nil {
			return
		}
		if _, err := event.Parse(rec.Raw); err != nil {
			t.Fatalf("repaired record fails strict parsing: %v\n%s", err, rec.Raw)
		}
		again, _, err := event.ParseLenient(data, opts)
		if err != nil || !bytes.Equal(again.Raw, rec.Raw) {
			t.Fatalf("repair is not deterministic: %v", err)
		}
	})
}

// FuzzParseResources checks that ParseResources never panics and gives a
// record's Resources for a resources value that Parse accepts in a record,
// and nil for one it does not.
func FuzzParseResources(f *testing.F) {
	f.Add([]byte(`[{"ARN":"arn:aws:s3:::b","type":"AWS::S3::Bucket","accountId":"111122223333"}]`))
	f.Add([]byte(`[{"type":"AWS::KMS::Key","ARNPrefix":"arn:aws:kms:","name":"k"},{"resourceName":"r"},"x",[]]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, text []byte) {
		got := event.ParseResources(text)
		doc := strings.Replace(base, `"readOnly"`, `"resources":`+string(text)+`,"readOnly"`, 1)
		if len(doc) > event.MaxRecordSize {
			return
		}
		rec, err := event.Parse([]byte(doc))
		if err != nil {
			if got != nil {
				t.Fatalf("ParseResources(%q) = %v for a value no record may hold (%v)", text, got, err)
			}
			return
		}
		if !reflect.DeepEqual(got, rec.Resources) {
			t.Fatalf("ParseResources(%q) = %#v, want the record's %#v", text, got, rec.Resources)
		}
	})
}
