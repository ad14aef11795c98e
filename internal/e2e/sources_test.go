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
	v.Access, v.Secret = "test", "test"
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

	lookup := func(s *server, id string) bool { return hasEvent(t, s, "eu-west-1", id, "GetObject") }
	waitFor := func(what string, cond func() bool) { waitUntil(t, s, what, 30*time.Second, cond) }
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
	if log := s.output(); strings.Count(log, "broken.json.gz") != 1 || !strings.Contains(log, "gunzip") {
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
	if strings.Contains(s.output(), "broken.json.gz") {
		t.Errorf("the bad file was read again after the restart:\n%s", s.output())
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

// hasEvent reports whether lookup-events finds the event id, named name.
func hasEvent(t *testing.T, s *server, region, id, name string) bool {
	t.Helper()
	out, errs, code := s.awsCLI(t, "test", region, "cloudtrail", "lookup-events",
		"--lookup-attributes", "AttributeKey=EventId,AttributeValue="+id)
	if code != 0 {
		t.Fatalf("lookup-events: %d %s %s", code, out, errs)
	}
	return strings.Contains(out, `"EventName": "`+name+`"`)
}

// waitUntil polls cond until it holds, failing the test with the
// server's log after limit.
func waitUntil(t *testing.T, s *server, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			s.stop() // the log is read once the process has exited
			t.Fatalf("timed out waiting for %s; server log:\n%s", what, s.output())
		}
		time.Sleep(100 * time.Millisecond)
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

// TestS3SourceNotifications has a real S3-compatible server post its
// event notifications to the server: a log file put in the bucket is
// imported at once, though the source polls only hourly, and each
// notification is in the audit trail.
func TestS3SourceNotifications(t *testing.T) {
	v := startVersitygw(t)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	gw := s3Client(v.url(), v.Access, v.Secret)
	ctx := context.Background()
	if _, err := gw.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("push-trail")}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	put := func(f int) {
		t.Helper()
		rec := record(recOpts{id: uuid("s3-notify", f), name: "PutBucketPolicy", source: "s3.amazonaws.com", region: "eu-west-1", t: now})
		key := fmt.Sprintf("logs/AWSLogs/000000000000/CloudTrail/eu-west-1/%s/000000000000_CloudTrail_eu-west-1_%sZ_%016d.json.gz",
			now.Format("2006/01/02"), now.Format("20060102T1504"), f)
		if _, err := gw.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("push-trail"), Key: aws.String(key),
			Body: bytes.NewReader(gzipBytes([]byte(`{"Records":[` + string(rec) + `]}`)))}); err != nil {
			t.Fatal(err)
		}
	}
	put(0)

	const token = "e2e-notification-token-0123"
	cfg := writeConfig(t, fmt.Sprintf(`sources:
  - s3: s3://push-trail/logs/
    endpoint: %s
    path_style: true
    access_key_id: %s
    secret_access_key: %s
    poll_interval: 1h
    notification_token_env: E2E_NOTIFY_TOKEN
`, v.url(), v.Access, v.Secret))
	t.Setenv("E2E_NOTIFY_TOKEN", token)
	s := startServer(t, t.TempDir(), "--config", cfg)
	lookup := func(id string) bool { return hasEvent(t, s, "eu-west-1", id, "PutBucketPolicy") }
	waitFor := func(what string, limit time.Duration, cond func() bool) { waitUntil(t, s, what, limit, cond) }
	waitFor("the first poll", 30*time.Second, func() bool { return lookup(uuid("s3-notify", 0)) })

	// From now on the gateway posts its notifications to the server.
	v.stop()
	v.Extra = []string{"--event-webhook-url", s.url + "/v1/s3-notifications?token=" + token}
	v.start()
	start := time.Now()
	put(1)
	waitFor("the notified file", 20*time.Second, func() bool { return lookup(uuid("s3-notify", 1)) })
	t.Logf("notified file searchable %v after the put", time.Since(start).Round(time.Millisecond))
	put(2)
	waitFor("the second notified file", 20*time.Second, func() bool { return lookup(uuid("s3-notify", 2)) })

	m := metricsText(t, s)
	for _, want := range []string{
		`opentrail_source_notified_objects_total{result="queued"} 2`,
		`opentrail_source_files_imported_total{source="s3://push-trail/logs/"} 3`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}

	// Each notification is recorded; a wrong token is refused and
	// recorded too.
	resp, err := http.Post(s.url+"/v1/s3-notifications?token=not-the-token-at-all", "application/json", strings.NewReader(`{"Event":"s3:TestEvent"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong token: %s", resp.Status)
	}
	var recorded struct {
		Events []struct{ CloudTrailEvent string }
	}
	waitFor("the notifications' audit records", 10*time.Second, func() bool {
		out, errs, code := s.awsCLI(t, "test", "us-east-1", "cloudtrail", "lookup-events",
			"--lookup-attributes", "AttributeKey=EventName,AttributeValue=PostS3Notification")
		if code != 0 {
			t.Fatalf("lookup-events: %d %s %s", code, out, errs)
		}
		if err := json.Unmarshal([]byte(out), &recorded); err != nil {
			t.Fatal(err)
		}
		return len(recorded.Events) >= 3
	})
	var puts, denied int
	for _, e := range recorded.Events {
		switch {
		case strings.Contains(e.CloudTrailEvent, `"errorCode":"AccessDeniedException"`):
			denied++
		case strings.Contains(e.CloudTrailEvent, `push-trail/logs/AWSLogs/000000000000/CloudTrail/eu-west-1/`) &&
			strings.Contains(e.CloudTrailEvent, `"queued":1}`):
			puts++
		}
	}
	if puts != 2 || denied != 1 {
		t.Fatalf("%d put and %d denied records, want 2 and 1:\n%+v", puts, denied, recorded.Events)
	}
}
