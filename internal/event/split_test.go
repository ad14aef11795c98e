package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/event"
)

// split runs SplitBody and collects the records it passes to fn.
func split(body string, maxRecords int) ([]string, error) {
	var got []string
	err := event.SplitBody([]byte(body), maxRecords, func(raw []byte) error {
		got = append(got, string(raw))
		return nil
	})
	return got, err
}

func TestSplitBody(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"empty", "", nil},
		{"blank", " \n\r\n\t", nil},
		{"one line", `{"a":1}`, []string{`{"a":1}`}},
		{"NDJSON", "{\"a\":1}\n\n  {\"b\":2}\r\n\t\n{\"c\":3}\n", []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}},
		{"NDJSON lines passed as they are", "{\"a\":1}\nnot json\n[1]", []string{`{"a":1}`, `not json`, `[1]`}},
		{"Records", `{"Records":[{"a":1},{"b":[2,{"c":3}]}]}`, []string{`{"a":1}`, `{"b":[2,{"c":3}]}`}},
		{"Records with whitespace", " {\n \"Records\" : [\n  { \"a\" : 1 } ,\n  {}\n ]\n}\n",
			[]string{`{ "a" : 1 }`, `{}`}},
		{"Records empty", `{"Records":[]}`, nil},
		{"Records with brackets in strings", `{"Records":[{"a":"}]\"{[","b":"\\"},{"c":"]"}]}`,
			[]string{`{"a":"}]\"{[","b":"\\"}`, `{"c":"]"}`}},
		{"NDJSON record with a Records member", `{"eventID":"x","Records":[]}`, []string{`{"eventID":"x","Records":[]}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := split(tt.body, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("records %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSplitBodyErrors(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		maxRecords int
		want       string
	}{
		{"array", `[{"a":1}]`, 0, `body: is a JSON array; send NDJSON or a {"Records":[...]} document`},
		{"Records not array", `{"Records":{"a":1}}`, 0, `Records: is not an array`},
		{"Records missing comma", `{"Records":[{"a":1} {"b":2}]}`, 0, `Records[0]: is followed by '{', want ',' or ']'`},
		{"Records element not object", `{"Records":[{"a":1},2]}`, 0, `Records[1]: is not a JSON object`},
		{"Records trailing comma", `{"Records":[{"a":1},]}`, 0, `Records[1]: is not a JSON object`},
		{"Records element unterminated", `{"Records":[{"a":1},{"a":"}]}`, 0, `Records[1]: is not terminated`},
		{"Records array unterminated", `{"Records":[{}`, 0, `Records: array is not terminated`},
		{"Records extra member", `{"Records":[{}],"x":1}`, 0, `body: has members after "Records" or is not terminated`},
		{"Records unterminated", `{"Records":[{}]`, 0, `body: has members after "Records" or is not terminated`},
		{"Records trailing data", `{"Records":[{}]} x`, 0, `body: has data after the Records document`},
		{"two Records documents", `{"Records":[{}]}{"Records":[]}`, 0, `body: has data after the Records document`},
		{"NDJSON over limit", "{}\n\n{}\n{}\n", 2, `body: holds more than 2 records`},
		{"Records over limit", `{"Records":[{},{},{}]}`, 2, `body: holds more than 2 records`},
		{"default limit", strings.Repeat("{}\n", event.DefaultMaxRecords+1), 0, `body: holds more than 10000 records`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := split(tt.body, tt.maxRecords)
			if err == nil {
				t.Fatalf("no error, records %q", got)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			var be *event.BodyError
			if !errors.As(err, &be) || be.Err != nil {
				t.Errorf("error %#v, want *BodyError without Err", err)
			}
			if len(got) != 0 {
				t.Errorf("fn called for %q before the error", got)
			}
		})
	}
}

func TestSplitBodyLimitExact(t *testing.T) {
	got, err := split("{}\n{}\n", 2)
	if err != nil || len(got) != 2 {
		t.Errorf("2 records with limit 2: %d records, error %v", len(got), err)
	}
	got, err = split(strings.Repeat("{}\n", event.DefaultMaxRecords), -1)
	if err != nil || len(got) != event.DefaultMaxRecords {
		t.Errorf("%d records with the default limit: %d records, error %v", event.DefaultMaxRecords, len(got), err)
	}
}

func TestSplitBodyCallbackError(t *testing.T) {
	boom := errors.New("boom")
	for _, tt := range []struct{ body, want string }{
		{"{\"n\":1}\n\n{\"n\":2}\n{\"n\":3}", "line 3: boom"},
		{`{"Records":[{"n":1},{"n":2},{"n":3}]}`, "Records[1]: boom"},
	} {
		var calls int
		err := event.SplitBody([]byte(tt.body), 0, func(raw []byte) error {
			calls++
			if string(raw) == `{"n":2}` {
				return boom
			}
			return nil
		})
		if err == nil || err.Error() != tt.want || !errors.Is(err, boom) {
			t.Errorf("%s: error %v, want %q wrapping boom", tt.body, err, tt.want)
		}
		if calls != 2 {
			t.Errorf("%s: %d calls, want 2 (stop at the first error)", tt.body, calls)
		}
	}
}

// TestSplitBodyParse feeds real records through SplitBody and Parse in
// both body forms.
func TestSplitBodyParse(t *testing.T) {
	recs := stratusRecords(t)
	var ndjson, doc bytes.Buffer
	doc.WriteString(`{"Records":[`)
	var want []string
	for _, raw := range recs {
		var c bytes.Buffer
		if err := json.Compact(&c, raw); err != nil {
			t.Fatal(err)
		}
		if len(want) > 0 {
			doc.WriteString(",\n")
		}
		want = append(want, c.String())
		ndjson.Write(c.Bytes())
		ndjson.WriteString("\n")
		doc.Write(raw) // pretty-printed, as it is in the file
	}
	doc.WriteString("]}\n")
	for name, body := range map[string][]byte{"NDJSON": ndjson.Bytes(), "Records": doc.Bytes()} {
		var got []string
		err := event.SplitBody(body, 0, func(raw []byte) error {
			rec, err := event.Parse(raw)
			if err != nil {
				return err
			}
			got = append(got, string(rec.Raw))
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %d records differ from the %d sent", name, len(got), len(want))
		}
	}
}

// TestSplitBodyLogFiles splits the public {"Records":[...]} files and
// checks each element against encoding/json's view of the document.
func TestSplitBodyLogFiles(t *testing.T) {
	files, err := filepath.Glob("../../../shared/testdata/public/panther-analysis/scenario_*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	total := 0
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Records []json.RawMessage }
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		var got []json.RawMessage
		if err := event.SplitBody(body, 0, func(raw []byte) error {
			got = append(got, raw)
			return nil
		}); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !reflect.DeepEqual(got, doc.Records) {
			t.Errorf("%s: records differ from encoding/json's", f)
		}
		total += len(got)
	}
	if total != 27 {
		t.Errorf("%d records, want 27", total)
	}
}
