package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/config"
)

// captureServer runs a server with a writer (ingest-only) and a reader
// (read-only) in account 111111111111, and a writer in 222222222222.
func captureServer(t *testing.T) *Server {
	t.Helper()
	cfg := localConfig(t)
	cfg.Principals = []config.Principal{
		{AccessKeyID: "AKIAWRITER1", SecretAccessKey: "s1", Account: "111111111111", UserName: "gateway", Policies: []string{"ingest-only"}},
		{AccessKeyID: "AKIAREADER1", SecretAccessKey: "s2", Account: "111111111111", UserName: "auditor", Policies: []string{"read-only"}},
		{AccessKeyID: "AKIAWRITER2", SecretAccessKey: "s3", Account: "222222222222", UserName: "other", Policies: []string{"ingest-only"}},
	}
	return startBuilt(t, buildServer(t, cfg))
}

// captureRecord is a CreateBucket record of account (a management event,
// which LookupEvents shows); outcome "unknown" makes it an intent.
func captureRecord(id, account, outcome string) string {
	extra := `"responseElements":null`
	if outcome != "" {
		extra += `,"additionalEventData":{"outcome":"` + outcome + `"}`
	}
	return `{"eventVersion":"1.10","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::` + account +
		`:user/alice","accountId":"` + account + `","accessKeyId":"AKIAEXAMPLE","userName":"alice"},"eventTime":"` +
		time.Now().UTC().Format(time.RFC3339) + `","eventSource":"s3.amazonaws.com","eventName":"CreateBucket","awsRegion":"us-east-1",` +
		`"sourceIPAddress":"192.0.2.1","userAgent":"aws-cli","requestParameters":{"bucketName":"b","Host":"b.s3.amazonaws.com"},` + extra +
		`,"requestID":"R1","eventID":"` + id + `","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,` +
		`"recipientAccountId":"` + account + `","eventCategory":"Management"}`
}

func captureID(i int) string { return fmt.Sprintf("ca9e0000-0000-4000-8000-%012d", i) }

func capturePost(t *testing.T, c *client.Client, path, body string) (int, string, string) {
	t.Helper()
	out, err := c.Do(context.Background(), "opentrail", http.MethodPost, path, http.Header{"Content-Type": {"application/json"}}, []byte(body))
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae.Status, ae.Code, ae.Message
	}
	if err != nil {
		t.Fatal(err)
	}
	return http.StatusOK, "", string(out)
}

// lookupRecords runs CloudTrail's LookupEvents for an eventID and
// returns the records found.
func lookupRecords(t *testing.T, c *client.Client, id string) []string {
	t.Helper()
	body := `{"LookupAttributes":[{"AttributeKey":"EventId","AttributeValue":"` + id + `"}]}`
	out, err := c.Do(context.Background(), "cloudtrail", http.MethodPost, "/", http.Header{
		"Content-Type": {"application/x-amz-json-1.1"},
		"X-Amz-Target": {"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"}}, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Events []struct{ CloudTrailEvent string }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	var recs []string
	for _, e := range res.Events {
		recs = append(recs, e.CloudTrailEvent)
	}
	return recs
}

func TestCaptureEndpoints(t *testing.T) {
	s := captureServer(t)
	url := "http://" + s.Addr()
	writer := client.NewStatic(url, "us-east-1", "AKIAWRITER1", "s1")
	reader := client.NewStatic(url, "us-east-1", "AKIAREADER1", "s2")
	other := client.NewStatic(url, "us-east-1", "AKIAWRITER2", "s3")
	table := s.capture.table

	id := captureID(1)
	intent := captureRecord(id, "111111111111", "unknown")
	if code, _, body := capturePost(t, writer, "/v1/capture/intents", `{"leaseSeconds":60,"records":[`+intent+`]}`); code != 200 || !strings.Contains(body, `"stored":1`) {
		t.Fatalf("intents: %d %s", code, body)
	}
	if acct, _, ok := table.Lookup(id); !ok || acct != "111111111111" {
		t.Fatalf("the intent is not in the table: %q %v", acct, ok)
	}
	if code, _, body := capturePost(t, writer, "/v1/capture/renew", `{"leaseSeconds":120,"eventIds":["`+id+`","`+captureID(99)+`"]}`); code != 200 || !strings.Contains(body, `"renewed":1`) {
		t.Fatalf("renew: %d %s", code, body)
	}
	// Another account may neither renew nor replace it.
	if code, errCode, msg := capturePost(t, other, "/v1/capture/renew", `{"leaseSeconds":120,"eventIds":["`+id+`"]}`); code != 403 || errCode != "AccessDeniedException" {
		t.Errorf("renew by another account: %d %s %s", code, errCode, msg)
	}
	if code, errCode, msg := capturePost(t, other, "/v1/capture/intents", `{"leaseSeconds":60,"records":[`+captureRecord(id, "222222222222", "unknown")+`]}`); code != 409 || errCode != "ConflictException" {
		t.Errorf("another account's intent with the same eventID: %d %s %s", code, errCode, msg)
	}
	// Tenancy: a record of another account is refused, and nothing of the
	// request is stored.
	id2 := captureID(2)
	code, errCode, msg := capturePost(t, writer, "/v1/capture/intents", `{"leaseSeconds":60,"records":[`+captureRecord(id2, "111111111111", "unknown")+`,`+captureRecord(captureID(3), "222222222222", "unknown")+`]}`)
	if code != 403 || errCode != "AccessDeniedException" || !strings.Contains(msg, "record 2") {
		t.Errorf("record of another account: %d %s %s", code, errCode, msg)
	}
	if _, _, ok := table.Lookup(id2); ok {
		t.Error("an intent of a refused request was stored")
	}
	// IAM: read-only may not record.
	if code, errCode, msg := capturePost(t, reader, "/v1/capture/intents", `{"leaseSeconds":60,"records":[`+captureRecord(id2, "111111111111", "unknown")+`]}`); code != 403 || errCode != "AccessDeniedException" || !strings.Contains(msg, "opentrail:PutCaptureIntents") {
		t.Errorf("read-only: %d %s %s", code, errCode, msg)
	}
	for _, c := range []struct{ path, body, code string }{
		{"/v1/capture/intents", `{"leaseSeconds":0,"records":[` + intent + `]}`, "ValidationException"},
		{"/v1/capture/intents", `{"leaseSeconds":99999,"records":[` + intent + `]}`, "ValidationException"},
		{"/v1/capture/intents", `{"leaseSeconds":60,"records":[{"x":1}]}`, "InvalidEventException"},
		{"/v1/capture/intents", `{"leaseSeconds":60,"records":[]}`, "InvalidEventException"},
		{"/v1/capture/intents", `{"leaseSeconds":60,"recs":[]}`, "SerializationException"},
		{"/v1/capture/renew", `{"leaseSeconds":60,"eventIds":[]}`, "InvalidEventException"},
		{"/v1/capture/complete", `{"leaseSeconds":60,"records":[` + intent + `]}`, "InvalidEventException"},
	} {
		if code, errCode, msg := capturePost(t, writer, c.path, c.body); code != 400 || errCode != c.code {
			t.Errorf("%s %s: %d %s %s; want 400 %s", c.path, c.body, code, errCode, msg, c.code)
		}
	}

	// The final record replaces the intent.
	final := captureRecord(id, "111111111111", "")
	if code, _, body := capturePost(t, writer, "/v1/capture/complete", `{"records":[`+final+`]}`); code != 200 || !strings.Contains(body, `"accepted":1`) {
		t.Fatalf("complete: %d %s", code, body)
	}
	if _, _, ok := table.Lookup(id); ok {
		t.Error("the intent is still there after its final record")
	}
	if recs := lookupRecords(t, reader, id); len(recs) != 1 || strings.Contains(recs[0], "unknown") {
		t.Errorf("LookupEvents after complete: %q", recs)
	}
	// The calls themselves are recorded (self-audit); PutCaptureIntents'
	// record commits with the intents in the journal and is ingested
	// from there.
	for _, name := range []string{"CompleteCaptureRecords", "PutCaptureIntents", "RenewCaptureIntents"} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			out, err := reader.Do(context.Background(), "opentrail", http.MethodGet, "/v1/events?EventName="+name+"&EventSource=opentrail.amazonaws.com", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			var res struct{ Events []map[string]any }
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatal(err)
			}
			ok := false
			for _, e := range res.Events {
				ok = ok || (e["errorCode"] == nil && e["userIdentity"].(map[string]any)["accessKeyId"] == "AKIAWRITER1")
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("no record of a successful %s by the writer: %s", name, out)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// The store cannot commit: 503, as every refused commit.
	table.Close()
	if code, errCode, msg := capturePost(t, writer, "/v1/capture/intents", `{"leaseSeconds":60,"records":[`+captureRecord(captureID(4), "111111111111", "unknown")+`]}`); code != 503 || errCode != "ServiceUnavailableException" || !strings.Contains(msg, "do not forward") {
		t.Errorf("table closed: %d %s %s", code, errCode, msg)
	}
}

// TestReaperRecordsLapsedIntent: an intent whose lease runs out becomes
// the call's record, visible in LookupEvents, with its outcome unknown.
func TestReaperRecordsLapsedIntent(t *testing.T) {
	s := captureServer(t)
	writer := client.NewStatic("http://"+s.Addr(), "us-east-1", "AKIAWRITER1", "s1")
	reader := client.NewStatic("http://"+s.Addr(), "us-east-1", "AKIAREADER1", "s2")
	id := captureID(10)
	if code, _, body := capturePost(t, writer, "/v1/capture/intents", `{"leaseSeconds":1,"records":[`+captureRecord(id, "111111111111", "unknown")+`]}`); code != 200 {
		t.Fatalf("intents: %d %s", code, body)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		recs := lookupRecords(t, reader, id)
		if len(recs) == 1 {
			if !strings.Contains(recs[0], `"outcome":"unknown"`) {
				t.Errorf("reaped record: %s", recs[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lapsed intent is not in LookupEvents after 15 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s.capture.table.Len() != 0 {
		t.Errorf("%d intents left after reaping", s.capture.table.Len())
	}
}

// TestCaptureRecorderIsTheServers: the Recorder serve hands a gateway
// stores into this server.
func TestCaptureRecorderIsTheServers(t *testing.T) {
	s := captureServer(t)
	reader := client.NewStatic("http://"+s.Addr(), "us-east-1", "AKIAREADER1", "s2")
	id := captureID(20)
	ctx := context.Background()
	rec := s.CaptureRecorder()
	if err := rec.Intend(ctx, []byte(captureRecord(id, "111111111111", "unknown")), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := rec.Complete(ctx, []byte(captureRecord(id, "111111111111", ""))); err != nil {
		t.Fatal(err)
	}
	if recs := lookupRecords(t, reader, id); len(recs) != 1 {
		t.Errorf("LookupEvents: %q", recs)
	}
}
