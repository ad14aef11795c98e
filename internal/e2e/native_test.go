package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestNativeUnknownEndpoint: a signed request for a path the native API
// does not have is a 404 that names every endpoint it does have.
func TestNativeUnknownEndpoint(t *testing.T) {
	s := startServer(t, "")
	code, body, _ := do(t, signedRequest(t, creds("test"), "opentrail", "us-east-1", "GET", s.url+"/v1/event", nil, nil))
	var e struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &e); err != nil || code != 404 {
		t.Fatalf("GET /v1/event: %d %s", code, body)
	}
	for _, want := range []string{"GET /v1/event;", "POST /v1/events", "GET /v1/events", "GET /v1/trails", "GET /v1/keys", "POST /v1/keys/rotate", "POST /v1/s3-notifications"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q lacks %q", e.Message, want)
		}
	}
}
