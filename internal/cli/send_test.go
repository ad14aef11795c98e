package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// eventsServer stands in for POST /v1/events as the server answers it: it
// reads the body as NDJSON, refuses the whole request naming the first
// line that is not one compact JSON object or lacks eventName, and
// otherwise accepts every record. It keeps the eventIDs it accepted.
type eventsServer struct {
	mu       sync.Mutex
	ids      []string
	requests int
}

func (s *eventsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	var ids []string
	for n, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		var rec struct{ EventID, EventName, RecipientAccountID string }
		why := ""
		switch {
		case json.Unmarshal([]byte(line), &rec) != nil:
			why = "invalid JSON"
		case rec.EventName == "":
			why = "eventName: is required"
		case rec.RecipientAccountID != "111122223333":
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"__type":"AccessDeniedException","message":"record %d (eventID %s) belongs to account %s; arn:aws:iam::111122223333:root may only write events for account 111122223333"}`,
				n+1, rec.EventID, rec.RecipientAccountID)
			return
		}
		if why != "" {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"InvalidEventException","message":"line %d: %s; nothing from this request was stored"}`, n+1, why)
			return
		}
		ids = append(ids, rec.EventID)
	}
	s.ids = append(s.ids, ids...)
	fmt.Fprintf(w, `{"accepted":%d,"duplicates":0,"conflicts":0}`, len(ids))
}

func sendRecord(id string) map[string]any {
	return map[string]any{"eventVersion": "1.08", "eventTime": "2026-03-01T12:00:00Z", "eventSource": "s3.amazonaws.com",
		"eventName": "ListBuckets", "awsRegion": "us-east-1", "eventID": id, "recipientAccountId": "111122223333"}
}

// TestSendFileForms: opentrail send reads a file as import does — an
// indented {"Records":[...]} document, one pretty-printed record, a
// document whose Records member is not its first, NDJSON with CRLF line
// ends, documents one after another, a JSON array of records, each with or
// without a UTF-8 byte order mark — and sends every
// record on one line of the NDJSON request (a pretty-printed record sent
// as it was written was refused as "line 1: invalid JSON").
func TestSendFileForms(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	indent := func(v any) string {
		b, _ := json.MarshalIndent(v, "", "  ")
		return string(b)
	}
	compact := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	bom := "\xef\xbb\xbf"
	for _, c := range []struct {
		name, body string
		ids        []string
	}{
		{"indented-records.json", indent(map[string]any{"Records": []any{sendRecord("a1"), sendRecord("a2")}}), []string{"a1", "a2"}},
		{"bom-indented-records.json", bom + indent(map[string]any{"Records": []any{sendRecord("b1")}}), []string{"b1"}},
		{"one-record.json", indent(sendRecord("c1")), []string{"c1"}},
		{"records-second.json", indent(map[string]any{"Owner": "x", "Records": []any{sendRecord("d1"), sendRecord("d2")}}), []string{"d1", "d2"}},
		{"records-second-compact.json", compact(map[string]any{"Owner": "x", "Records": []any{sendRecord("d3")}}), []string{"d3"}},
		{"bom.ndjson", bom + compact(sendRecord("e1")) + "\n" + compact(sendRecord("e2")) + "\n", []string{"e1", "e2"}},
		{"crlf.ndjson", compact(sendRecord("f1")) + "\r\n" + compact(sendRecord("f2")) + "\r\n", []string{"f1", "f2"}},
		{"bom-records.json", bom + compact(map[string]any{"Records": []any{sendRecord("g1")}}), []string{"g1"}},
		// Documents one after another: zcat of two log files, jq's output.
		{"zcat.json", compact(map[string]any{"Records": []any{sendRecord("h1"), sendRecord("h2")}}) + compact(map[string]any{"Records": []any{sendRecord("h3")}}), []string{"h1", "h2", "h3"}},
		{"jq.json", indent(sendRecord("i1")) + "\n" + indent(sendRecord("i2")) + "\n", []string{"i1", "i2"}},
		{"array.json", indent([]any{sendRecord("j1"), sendRecord("j2")}), []string{"j1", "j2"}},
	} {
		srv := &eventsServer{}
		ts := httptest.NewServer(srv)
		file := filepath.Join(t.TempDir(), c.name)
		if err := os.WriteFile(file, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errs, code := runMain(t, "send", file, "--endpoint", ts.URL)
		ts.Close()
		want := fmt.Sprintf("accepted %d, duplicates 0", len(c.ids))
		if code != 0 || !strings.Contains(out, want) || !slices.Equal(srv.ids, c.ids) {
			t.Errorf("send %s: exit %d, %q %q, server stored %q; want %q and %q", c.name, code, out, errs, srv.ids, want, c.ids)
		}
	}
}

// TestSendRefusedBatch: when the server refuses one request of a file
// sent in several, send names the refused record by its place in the
// file (not by its line in the request), says which of the file's records
// were not stored, and reports what the earlier requests stored (it said
// "line 500 ...; nothing from this request was stored" of line 2500 after
// 2000 records had been stored, and printed no count).
func TestSendRefusedBatch(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	var ndjson, doc bytes.Buffer
	var recs []any
	for i := 1; i <= sendBatch+1000; i++ {
		r := sendRecord(fmt.Sprintf("r%d", i))
		if i == sendBatch+500 {
			delete(r, "eventName")
		}
		b, _ := json.Marshal(r)
		ndjson.Write(b)
		ndjson.WriteString("\n")
		if i == 10 {
			ndjson.WriteString("\n") // a blank line: lines and records part
		}
		recs = append(recs, r)
	}
	b, _ := json.MarshalIndent(map[string]any{"Records": recs}, "", " ")
	doc.Write(b)
	// The same file with the bad record one of another account instead.
	var other bytes.Buffer
	for i := 1; i <= sendBatch+1000; i++ {
		r := sendRecord(fmt.Sprintf("r%d", i))
		if i == sendBatch+500 {
			r["recipientAccountId"] = "444455556666"
		}
		b, _ := json.Marshal(r)
		other.Write(b)
		other.WriteString("\n")
		if i == 10 {
			other.WriteString("\n")
		}
	}
	for _, c := range []struct {
		name, where string
		body        []byte
	}{
		{"big.ndjson", fmt.Sprintf("line %d: eventName: is required (InvalidEventException)", sendBatch+501), ndjson.Bytes()},
		{"big.json", fmt.Sprintf("Records[%d]: eventName: is required (InvalidEventException)", sendBatch+499), doc.Bytes()},
		{"other.ndjson", fmt.Sprintf("line %d: the record (eventID r2500) belongs to account 444455556666; arn:aws:iam::111122223333:root may only write events for account 111122223333 (AccessDeniedException)", sendBatch+501), other.Bytes()},
	} {
		srv := &eventsServer{}
		ts := httptest.NewServer(srv)
		file := filepath.Join(t.TempDir(), c.name)
		if err := os.WriteFile(file, c.body, 0o600); err != nil {
			t.Fatal(err)
		}
		out, errs, code := runMain(t, "send", file, "--endpoint", ts.URL)
		ts.Close()
		wantErr := fmt.Sprintf("%s; records %d to %d of the file were not stored (the %d before them were: accepted %d, duplicates 0)",
			c.where, sendBatch+1, sendBatch+1000, sendBatch, sendBatch)
		if code != 1 || !strings.Contains(errs, wantErr) || strings.TrimSpace(out) != fmt.Sprintf("accepted %d, duplicates 0", sendBatch) ||
			len(srv.ids) != sendBatch || srv.requests != 2 {
			t.Errorf("send %s: exit %d, stdout %q, stderr %q, server stored %d in %d requests;\nwant stderr to hold %q", c.name, code, out, errs, len(srv.ids), srv.requests, wantErr)
		}
	}
}

// FuzzEachRecord: whatever a file holds, eachRecord does not panic, names
// every record it yields "line N" (N rising), "Records[k]" (k counting
// from 0), "the record", "document N…" or "[k]", and yields NDJSON lines as the
// file holds them.
func FuzzEachRecord(f *testing.F) {
	r, _ := json.Marshal(sendRecord("x"))
	pretty, _ := json.MarshalIndent(map[string]any{"Records": []any{sendRecord("a"), sendRecord("b")}}, "", "  ")
	f.Add(r)
	f.Add(pretty)
	f.Add([]byte(string(r) + "\n\n" + string(r) + "\r\n"))
	f.Add([]byte("{\n\"a\": 1,\n\"Records\": [{\"b\":\n2}]\n}"))
	f.Add([]byte("{\n\"eventName\": \"x\"\n}\n"))
	f.Add([]byte(`{"Records":[{"a":1}]}{"Records":[{"b":2}]}`))
	f.Add([]byte("{\n\"a\": 1\n}\n{\n\"b\": 2\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		line, k := 0, 0
		eachRecord(data, func(raw []byte, where string) error {
			switch {
			case strings.HasPrefix(where, "line "):
				n, err := strconv.Atoi(strings.TrimPrefix(where, "line "))
				if err != nil || n <= line {
					t.Fatalf("%q after line %d", where, line)
				}
				line = n
				if lines := strings.Split(string(data), "\n"); n > len(lines) || !strings.Contains(lines[n-1], string(raw)) {
					t.Fatalf("%q: %q is not on that line", where, raw)
				}
			case where == "Records["+strconv.Itoa(k)+"]":
				k++
			case where == "the record", strings.HasPrefix(where, "document "), strings.HasPrefix(where, "["):
			default:
				t.Fatalf("record named %q", where)
			}
			return nil
		})
	})
}
