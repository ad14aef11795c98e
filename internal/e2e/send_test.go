package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSendFiles: opentrail send against a real server takes an indented
// {"Records":[…]} document with a byte order mark (it sent each
// pretty-printed record as it was written, and the server refused "line
// 1: invalid JSON"), and when the server refuses a later request of a
// file, send names the record by its line in the file and says what was
// stored before it (it said "line 500 …; nothing from this request was
// stored" of line 2500, after 2000 records had been stored).
func TestSendFiles(t *testing.T) {
	s := startServer(t, "")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	dir := t.TempDir()

	var recs []json.RawMessage
	for i := 1; i <= 3; i++ {
		recs = append(recs, record(recOpts{id: uuid("send-pretty", i), t: at}))
	}
	doc, _ := json.MarshalIndent(map[string]any{"Records": recs}, "", "  ")
	pretty := filepath.Join(dir, "pretty.json")
	os.WriteFile(pretty, append([]byte("\xef\xbb\xbf"), doc...), 0o600)
	if out, errs, code := runCLI(t, "send", pretty, "--endpoint", s.url); code != 0 || strings.TrimSpace(out) != "accepted 3, duplicates 0" {
		t.Fatalf("send an indented Records document: exit %d %q %q", code, out, errs)
	}

	var big bytes.Buffer
	const n, bad = 3000, 2500 // send's requests carry 2000 records
	for i := 1; i <= n; i++ {
		r := record(recOpts{id: uuid("send-big", i), t: at})
		if i == bad {
			r = bytes.Replace(r, []byte(`"eventName":"DescribeInstances",`), nil, 1)
		}
		big.Write(r)
		big.WriteByte('\n')
	}
	file := filepath.Join(dir, "big.ndjson")
	os.WriteFile(file, big.Bytes(), 0o600)
	out, errs, code := runCLI(t, "send", file, "--endpoint", s.url)
	want := fmt.Sprintf("line %d: eventName: is required (InvalidEventException); records 2001 to %d of the file were not stored (the 2000 before them were: accepted 2000, duplicates 0)", bad, n)
	if code != 1 || strings.TrimSpace(out) != "accepted 2000, duplicates 0" || !strings.Contains(errs, want) {
		t.Fatalf("send a file the server refuses part of: exit %d, stdout %q, stderr %q;\nwant stderr to hold %q", code, out, errs, want)
	}
	if got := s.queryAs(t, "test", "SELECT count(*) AS n FROM cloudtrail_events WHERE eventID LIKE '"+uuid("send-big", 1)[:8]+"%'"); got != "n\n2000\n" {
		t.Errorf("stored of the file: %q, want 2000", got)
	}
}
