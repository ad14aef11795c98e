package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// postEventsFull sends NDJSON records to POST /v1/events as account akid
// and returns the whole answer.
func (s *server) postEventsFull(t *testing.T, akid string, recs ...[]byte) (r struct {
	Accepted, Duplicates, Conflicts int
	ConflictIDs                     []string `json:"conflictIds"`
}) {
	t.Helper()
	body := []byte(strings.Join(func() []string {
		var out []string
		for _, b := range recs {
			out = append(out, string(b))
		}
		return out
	}(), "\n"))
	code, out, _ := do(t, signedRequest(t, creds(akid), "opentrail", "us-east-1", "POST", s.url+"/v1/events", nil, body))
	if code != 200 {
		t.Fatalf("POST /v1/events: %d %s", code, out)
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestEventIdentityV1Events: through POST /v1/events, an event is its
// account and eventID. Two accounts' records sharing an eventID are both
// stored, and LookupEvents EventId finds each in its own account only; a
// record with a stored account and eventID but other content is reported
// as a conflict (count and eventIDs) and not stored; an identical retry is
// a duplicate.
func TestEventIdentityV1Events(t *testing.T) {
	s := startServer(t, "")
	const a, b = "111111111111", "222222222222"
	id := uuid("identity", 1)
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	recA := record(recOpts{id: id, account: a, name: "CreateBucket", source: "s3.amazonaws.com", t: at})
	recB := record(recOpts{id: id, account: b, name: "DeleteBucket", source: "s3.amazonaws.com", t: at})
	if r := s.postEventsFull(t, a, recA); r.Accepted != 1 {
		t.Fatalf("account A: %+v", r)
	}
	if r := s.postEventsFull(t, b, recB); r.Accepted != 1 || r.Duplicates != 0 || r.Conflicts != 0 {
		t.Fatalf("account B's record with A's eventID: %+v, want accepted", r)
	}
	for _, c := range []struct{ akid, want string }{{a, "CreateBucket"}, {b, "DeleteBucket"}} {
		out, errs, code := s.awsCLI(t, c.akid, "us-east-1", "cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventId,AttributeValue="+id)
		if code != 0 || strings.Count(out, `"EventId": "`+id+`"`) != 1 || !strings.Contains(out, `"EventName": "`+c.want+`"`) {
			t.Fatalf("lookup-events as %s: %d %s %s", c.akid, code, out, errs)
		}
	}
	// A third account sees neither.
	if out, _, code := s.awsCLI(t, "333333333333", "us-east-1", "cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventId,AttributeValue="+id); code != 0 || strings.Contains(out, id) {
		t.Fatalf("lookup-events as a third account: %d %s", code, out)
	}

	// In A: other content under A's eventID is a conflict; a new record
	// beside it is stored; the identical record again is a duplicate.
	other := record(recOpts{id: id, account: a, name: "PutBucketPolicy", source: "s3.amazonaws.com", t: at})
	fresh := record(recOpts{id: uuid("identity", 2), account: a, t: at})
	r := s.postEventsFull(t, a, other, fresh, recA)
	if r.Accepted != 1 || r.Duplicates != 1 || r.Conflicts != 1 || strings.Join(r.ConflictIDs, ",") != id {
		t.Fatalf("conflict: %+v", r)
	}
	if r := s.postEventsFull(t, a, other, fresh, recA); r.Accepted != 0 || r.Duplicates != 2 || r.Conflicts != 1 {
		t.Fatalf("retry: %+v", r)
	}
	if out, _, code := s.awsCLI(t, a, "us-east-1", "cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventId,AttributeValue="+id); code != 0 ||
		strings.Count(out, `"EventId"`) != 1 || !strings.Contains(out, `"EventName": "CreateBucket"`) {
		t.Fatalf("after the conflict: %d %s", code, out)
	}
	// `opentrail send` reports them too.
	file := filepath.Join(t.TempDir(), "events.ndjson")
	os.WriteFile(file, append(append(other, '\n'), recA...), 0o600)
	t.Setenv("AWS_ACCESS_KEY_ID", a)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	if out, errs, code := runCLI(t, "send", "--endpoint", s.url, file); code != 0 ||
		!strings.Contains(out, "accepted 0, duplicates 1, conflicting duplicates 1 (not stored: their account and eventID are stored with other content; eventIDs "+id+")") {
		t.Fatalf("send: %d %q %q", code, out, errs)
	}

	// SQL finds each account's event under the shared eventID, in that
	// account only.
	for _, c := range []struct{ akid, want string }{{a, "CreateBucket"}, {b, "DeleteBucket"}} {
		if got := s.queryAs(t, c.akid, "SELECT recipientAccountId, eventName FROM cloudtrail_events WHERE eventID = '"+id+"'"); got != "recipientAccountId,eventName\n"+c.akid+","+c.want+"\n" {
			t.Errorf("query as %s: %q", c.akid, got)
		}
	}
}

// queryAs runs `opentrail query --format csv` as account akid.
func (s *server) queryAs(t *testing.T, akid, sql string) string {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", akid)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	out, errs, code := runCLI(t, "query", "--endpoint", s.url, "--format", "csv", sql)
	if code != 0 {
		t.Fatalf("query as %s: %d\n%s\n%s", akid, code, out, errs)
	}
	return out
}

// TestImportClassesCLI imports the importer's class fixtures with
// `opentrail import`, into a server (--endpoint) and into a store
// (--data), and checks the summary it prints.
func TestImportClassesCLI(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	const fixtures = "../importer/testdata/classes"
	files := "files: 9 log, 0 Insights, 1 digest (not imported), 2 bad; 0 finished earlier, 0 filtered out, 0 not log files"
	records := "records: 16 read, 12 new, 1 duplicates (already stored), 1 conflicting duplicates (not stored), 3 repaired, 2 rejected, 0 filtered out"
	conflicts := "eventIDs: dup-0001"

	s := startServer(t, "")
	out, errs, code := runCLI(t, "import", "--endpoint", s.url, "--state", filepath.Join(t.TempDir(), "s"), fixtures)
	if code != 0 || !strings.Contains(out, files) || !strings.Contains(out, records) || !strings.Contains(out, conflicts) {
		t.Fatalf("import --endpoint: %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"status.json: not a CloudTrail log", "readme.json: not a CloudTrail log", "mixed.ndjson: record 2: not a CloudTrail record", "notime.ndjson: record 1: eventTime: no time"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if n := strings.Count(errs, "\n"); n != 4 {
		t.Errorf("%d lines on stderr, want one per problem (4):\n%s", n, errs)
	}
	// Both accounts' records with the shared eventID are there, each in
	// its account; the conflicting record is not.
	for _, c := range []struct{ akid, want string }{
		{"111111111111", "eventID,eventName\ndup-0001,GetObject\nshared-0001,GetObject\n"},
		{"222222222222", "eventID,eventName\nshared-0001,PutObject\n"},
	} {
		if got := s.queryAs(t, c.akid, "SELECT eventID, eventName FROM cloudtrail_events WHERE eventID IN ('shared-0001', 'dup-0001') ORDER BY eventID"); got != c.want {
			t.Errorf("query as %s: %q, want %q", c.akid, got, c.want)
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "test")

	out, errs, code = runCLI(t, "import", "--data", t.TempDir(), "--state", filepath.Join(t.TempDir(), "s"), "--quiet", fixtures)
	if code != 0 || !strings.Contains(out, files) || !strings.Contains(out, records) || !strings.Contains(out, conflicts) {
		t.Fatalf("import --data: %d\n%s\n%s", code, out, errs)
	}
}
