package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestHealthAndMetrics checks the unauthenticated operational endpoints.
func TestHealthAndMetrics(t *testing.T) {
	s := startServer(t, "")
	// The same bytes twice: a record rebuilt a second later would carry
	// another eventTime and be a conflict, not a duplicate.
	first := record(recOpts{id: uuid("ops", 1)})
	s.postEvents(t, "test", [][]byte{first, record(recOpts{id: uuid("ops", 2)})})
	s.postEvents(t, "test", [][]byte{first})

	resp, err := http.Get(s.url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	resp, err = http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, want := range []string{
		`opentrail_ingest_events_received_total{source="v1/events"} 3`,
		"opentrail_ingest_events_accepted_total ",
		"opentrail_ingest_events_duplicate_total 1",
		"opentrail_ingest_commit_seconds_bucket{le=",
		"opentrail_store_disk_bytes ",
		"opentrail_store_last_sequence ",
		`opentrail_http_requests_total{service="opentrail"} 2`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
