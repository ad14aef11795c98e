package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/store"
)

// TestS3SourcePolling configures the server to poll a bucket prefix on a
// real S3-compatible server: log files already there and those put later
// are imported, a corrupt one is reported once, and after a restart no
// file is read again while new ones still arrive.
func TestS3SourcePolling(t *testing.T) {
	v := startVersitygw(t)
	v.stop()
	v.access, v.secret = "test", "test"
	v.start()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	gw := s3Client(v.url(), "test", "test")
	ctx := context.Background()
	if _, err := gw.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("live-trail")}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	const perFile = 3
	put := func(f int) {
		t.Helper()
		var recs []string
		for i := range perFile {
			recs = append(recs, string(record(recOpts{id: uuid("s3-source", f*perFile+i), name: "GetObject", source: "s3.amazonaws.com", region: "eu-west-1", t: now})))
		}
		key := fmt.Sprintf("logs/AWSLogs/000000000000/CloudTrail/eu-west-1/%s/000000000000_CloudTrail_eu-west-1_%sZ_%016d.json.gz",
			now.Format("2006/01/02"), now.Format("20060102T1504"), f)
		if _, err := gw.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("live-trail"), Key: aws.String(key),
			Body: bytes.NewReader(gzipBytes([]byte(`{"Records":[` + strings.Join(recs, ",") + `]}`)))}); err != nil {
			t.Fatal(err)
		}
	}
	put(0)
	put(1)
	badKey := "logs/AWSLogs/000000000000/CloudTrail/eu-west-1/" + now.Format("2006/01/02") + "/000000000000_CloudTrail_eu-west-1_broken.json.gz"
	if _, err := gw.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("live-trail"), Key: aws.String(badKey),
		Body: bytes.NewReader([]byte("\x1f\x8bnot really gzip"))}); err != nil {
		t.Fatal(err)
	}

	cfg := writeConfig(t, fmt.Sprintf(`sources:
  - s3: s3://live-trail/logs/
    endpoint: %s
    path_style: true
    access_key_id: test
    secret_access_key: test
    poll_interval: 1s
`, v.url()))
	dir := t.TempDir()
	s := startServer(t, dir, "--config", cfg)

	lookup := func(s *server, id string) bool {
		t.Helper()
		out, errs, code := s.awsCLI(t, "test", "eu-west-1", "cloudtrail", "lookup-events",
			"--lookup-attributes", "AttributeKey=EventId,AttributeValue="+id)
		if code != 0 {
			t.Fatalf("lookup-events: %d %s %s", code, out, errs)
		}
		return strings.Contains(out, `"EventName": "GetObject"`)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				s.stop() // the log is read once the process has exited
				t.Fatalf("timed out waiting for %s; server log:\n%s", what, s.stderr.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("the first files", func() bool { return lookup(s, uuid("s3-source", 0)) && lookup(s, uuid("s3-source", perFile+2)) })

	put(2)
	waitFor("the third file", func() bool { return lookup(s, uuid("s3-source", 2*perFile+1)) })
	if n := countSourceEvents(t, s); n != 3*perFile {
		t.Fatalf("%d events stored, want %d", n, 3*perFile)
	}
	time.Sleep(2500 * time.Millisecond) // more polls
	if m := metricsText(t, s); !strings.Contains(m, `opentrail_source_files_imported_total{source="s3://live-trail/logs/"} 3`) ||
		!strings.Contains(m, `opentrail_source_files_bad_total{source="s3://live-trail/logs/"} 1`) ||
		!strings.Contains(m, `opentrail_ingest_events_received_total{source="s3-source"} 9`) {
		t.Errorf("source metrics:\n%s", m)
	}

	// The corrupt file was reported with its path and reason once, not
	// every poll. (The log is read once the process has exited.)
	s.stop()
	if log := s.stderr.String(); strings.Count(log, "broken.json.gz") != 1 || !strings.Contains(log, "gunzip") {
		t.Fatalf("the bad file should be reported exactly once, with its reason:\n%s", log)
	}

	// Restart on the same data directory: no file is read again, and a
	// fourth one still arrives.
	s = startServer(t, dir, "--config", cfg)
	put(3)
	waitFor("the fourth file", func() bool { return lookup(s, uuid("s3-source", 3*perFile)) })
	time.Sleep(1500 * time.Millisecond) // at least one more poll
	if n := countSourceEvents(t, s); n != 4*perFile {
		t.Fatalf("%d events stored after the restart, want %d", n, 4*perFile)
	}
	m := metricsText(t, s)
	if !strings.Contains(m, `opentrail_source_files_imported_total{source="s3://live-trail/logs/"} 1`) ||
		!strings.Contains(m, `opentrail_ingest_events_received_total{source="s3-source"} 3`) ||
		strings.Contains(m, `opentrail_source_files_bad_total{source="s3://live-trail/logs/"}`) {
		t.Errorf("after the restart only the fourth file should have been read:\n%s", m)
	}
	s.stop()
	if strings.Contains(s.stderr.String(), "broken.json.gz") {
		t.Errorf("the bad file was read again after the restart:\n%s", s.stderr.String())
	}

	// The source's events are marked imported, so retention spares them.
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var imported int
	if err := st.DB().QueryRow(`SELECT count(*) FROM events WHERE imported AND event_name = 'GetObject'`).Scan(&imported); err != nil || imported != 4*perFile {
		t.Fatalf("%d source events marked imported (%v), want %d", imported, err, 4*perFile)
	}
}

// countSourceEvents counts, with the native GET /v1/events, the stored
// events TestS3SourcePolling imported, checking none appears twice.
func countSourceEvents(t *testing.T, s *server) int {
	t.Helper()
	code, body, _ := do(t, signedRequest(t, creds("test"), "opentrail", "eu-west-1", "GET", s.url+"/v1/events?category=all&EventName=GetObject&limit=1000", nil, nil))
	if code != 200 {
		t.Fatalf("GET /v1/events: %d %s", code, body)
	}
	var page struct {
		Events []struct {
			EventID string `json:"eventID"`
		} `json:"events"`
		Next string `json:"next"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("GET /v1/events: %v: %s", err, body)
	}
	if page.Next != "" {
		t.Fatalf("more than one page: %s", body)
	}
	seen := map[string]bool{}
	for _, e := range page.Events {
		if !strings.HasPrefix(e.EventID, uuid("s3-source", 0)[:8]) {
			continue
		}
		if seen[e.EventID] {
			t.Fatalf("event %s returned twice", e.EventID)
		}
		seen[e.EventID] = true
	}
	return len(seen)
}

func metricsText(t *testing.T, s *server) string {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
