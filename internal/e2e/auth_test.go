package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestPresignedAndAuditedFailures: a presigned URL works like a signed
// header; a refused signature by a known key is itself recorded.
func TestPresignedAndAuditedFailures(t *testing.T) {
	s := startServer(t, "", "--demo", "--demo-events", "500")

	// serve --demo filled the store; a presigned GET reads it.
	req, _ := http.NewRequest("GET", s.url+"/v1/events?category=all&region=*&limit=5&X-Amz-Expires=300", nil)
	empty := sha256.Sum256(nil)
	url, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds("test"), req, hex.EncodeToString(empty[:]), "opentrail", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	preq, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		if !strings.EqualFold(k, "host") {
			preq.Header[k] = v
		}
	}
	code, body, _ := do(t, preq)
	if code != 200 {
		t.Fatalf("presigned GET: %d %s", code, body)
	}
	var page struct{ Events []json.RawMessage }
	if err := json.Unmarshal(body, &page); err != nil || len(page.Events) != 5 {
		t.Fatalf("presigned GET returned %d events (%v): demo data missing?", len(page.Events), err)
	}

	// A wrong secret for a known key: refused, and recorded.
	bad := signedRequest(t, creds("test"), "cloudtrail", "us-east-1", "POST", s.url+"/",
		http.Header{"X-Amz-Target": {"CloudTrail_20131101.LookupEvents"}, "Content-Type": {"application/x-amz-json-1.1"}}, []byte(`{}`))
	bad.Header.Set("Authorization", strings.Replace(bad.Header.Get("Authorization"), "Signature=", "Signature=ff", 1))
	if code, body, _ := do(t, bad); code != 403 {
		t.Fatalf("bad signature: %d %s", code, body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := signedRequest(t, creds("test"), "opentrail", "us-east-1", "GET", s.url+"/v1/events?EventName=LookupEvents&category=all", nil, nil)
		_, body, _ := do(t, r)
		if strings.Contains(string(body), `"errorCode":"InvalidSignatureException"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no self-audit record of the refused call: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
