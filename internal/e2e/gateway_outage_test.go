package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// restartServer starts the server again where its clients (the gateway)
// know it: same address, same data directory.
func restartServer(t *testing.T, s *server, extra ...string) *server {
	t.Helper()
	return launchAt(t, os.Args[0], s.addr, s.data, "", extra...)
}

// gatewayPut sends a small PutObject to the gateway, signed as local mode's
// key with the body's hash.
func gatewayPut(t *testing.T, gwURL, bucket, key, body string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("PUT", gwURL+"/"+bucket+"/"+key, strings.NewReader(body))
	sum := sha256.Sum256([]byte(body))
	signS3(t, req, hex.EncodeToString(sum[:]))
	return do(t, req)
}

// objectExists asks versitygw itself.
func objectExists(t *testing.T, v *versitygw, bucket, key string) bool {
	t.Helper()
	_, err := s3Client(v.URL, upstreamAccess, upstreamSecret).HeadObject(context.Background(),
		&s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return err == nil
}

func createBucketDirect(t *testing.T, v *versitygw, bucket string) {
	t.Helper()
	if _, err := s3Client(v.URL, upstreamAccess, upstreamSecret).CreateBucket(context.Background(),
		&s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s in versitygw: %v", bucket, err)
	}
}

// TestGatewayStoreDownRefusesWrites stops the opentrail server: mutating
// calls through the gateway are refused with 503 in each protocol's own
// error shape and never reach the upstream; once the server is back they
// pass again.
func TestGatewayStoreDownRefusesWrites(t *testing.T) {
	t.Parallel()
	st := startS3Stack(t)
	jsonUp, queryUp := startJSONUpstream(t), startQueryUpstream(t)
	jsonGW := startGateway(t, "", upstreamArgs(jsonUp.URL, st.srv)...)
	queryGW := startGateway(t, "", upstreamArgs(queryUp.URL, st.srv)...)
	createBucketDirect(t, st.vgw, "vault")
	cfg := captureServerConfig(t, "")

	st.srv.stop()

	// S3: XML <Error> with Code ServiceUnavailable and a RequestId.
	code, body, _ := gatewayPut(t, st.gw.url, "vault", "refused.txt", "must not be stored unrecorded")
	var s3err struct {
		Code, Message, RequestId string
	}
	xml.Unmarshal(body, &s3err)
	if code != 503 || s3err.Code != "ServiceUnavailable" || s3err.Message == "" || s3err.RequestId == "" {
		t.Errorf("PutObject with the store down: %d %s; want 503 <Error><Code>ServiceUnavailable</Code><Message>…<RequestId>…", code, body)
	}
	if objectExists(t, st.vgw, "vault", "refused.txt") {
		t.Error("versitygw stored an object the gateway could not record")
	}

	// JSON 1.0: {"__type":"ServiceUnavailableException","message":…} and x-amzn-ErrorType.
	req := signedRequest(t, creds("test"), "dynamodb", "us-east-1", "POST", jsonGW.url+"/",
		http.Header{"X-Amz-Target": {"DynamoDB_20120810.DeleteTable"}, "Content-Type": {"application/x-amz-json-1.0"}},
		[]byte(`{"TableName":"orders"}`))
	code, body, hdr := do(t, req)
	var jerr map[string]any
	json.Unmarshal(body, &jerr)
	if typ, _ := jerr["__type"].(string); code != 503 || !strings.HasSuffix(typ, "ServiceUnavailableException") ||
		jerr["message"] == nil || !strings.HasPrefix(hdr.Get("X-Amzn-Errortype"), "ServiceUnavailableException") {
		t.Errorf("DeleteTable with the store down: %d %s (x-amzn-ErrorType %q); want 503 ServiceUnavailableException",
			code, body, hdr.Get("X-Amzn-Errortype"))
	}
	if n := len(jsonUp.requests()); n != 0 {
		t.Errorf("the JSON upstream saw %d requests the gateway could not record", n)
	}

	// Query: <ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code>.
	req = signedRequest(t, creds("test"), "sns", "us-east-1", "POST", queryGW.url+"/",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}},
		[]byte("Action=CreateTopic&Name=alerts&Version=2010-03-31"))
	code, body, _ = do(t, req)
	var qerr struct {
		Error struct{ Type, Code, Message string }
	}
	xml.Unmarshal(body, &qerr)
	if code != 503 || qerr.Error.Type != "Receiver" || qerr.Error.Code != "ServiceUnavailable" || qerr.Error.Message == "" {
		t.Errorf("CreateTopic with the store down: %d %s; want 503 <ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code>", code, body)
	}
	if n := len(queryUp.requests()); n != 0 {
		t.Errorf("the query upstream saw %d requests the gateway could not record", n)
	}

	// The store back: the same write passes and is recorded.
	srv := restartServer(t, st.srv, "--config", cfg)
	code, body, _ = gatewayPut(t, st.gw.url, "vault", "accepted.txt", "recorded first")
	if code != 200 {
		t.Fatalf("PutObject after the server came back: %d %s", code, body)
	}
	if !objectExists(t, st.vgw, "vault", "accepted.txt") {
		t.Error("versitygw lacks the object the gateway accepted")
	}
	recs := waitRecords(t, srv, "s3.amazonaws.com", 20*time.Second, "the PutObject record",
		func(recs []map[string]any) bool { return len(byName(recs, "PutObject")) > 0 })
	for _, r := range byName(recs, "PutObject") {
		if recField(r, "requestParameters", "key") != "accepted.txt" {
			t.Errorf("a PutObject record of %v: only accepted.txt reached the upstream", recField(r, "requestParameters", "key"))
		}
	}
}

// TestGatewayFailOpenRecordsGap: with fail_open the gateway forwards writes
// while the store is down; when it is back, the calls' records and a
// CaptureGap record saying what happened are written.
func TestGatewayFailOpenRecordsGap(t *testing.T) {
	t.Parallel()
	st := startS3Stack(t, "--fail-open")
	createBucketDirect(t, st.vgw, "open")
	cfg := captureServerConfig(t, "")
	before := time.Now().UTC()

	st.srv.stop()
	code, body, _ := gatewayPut(t, st.gw.url, "open", "unrecorded.txt", "forwarded while the store was down")
	if code != 200 {
		t.Fatalf("PutObject with fail_open and the store down: %d %s", code, body)
	}
	if !objectExists(t, st.vgw, "open", "unrecorded.txt") {
		t.Fatal("versitygw lacks the object forwarded with fail_open")
	}
	srv := restartServer(t, st.srv, "--config", cfg)

	gaps := waitRecords(t, srv, "capture.opentrail", 30*time.Second, "a CaptureGap record",
		func(recs []map[string]any) bool { return len(byName(recs, "CaptureGap")) > 0 })
	if len(gaps) != 1 {
		t.Errorf("%d records from capture.opentrail, want one CaptureGap: %v", len(gaps), names(gaps))
	}
	g := gaps[0]
	if g["eventType"] != "AwsServiceEvent" || g["readOnly"] != false || g["managementEvent"] != true ||
		g["recipientAccountId"] != "000000000000" {
		b, _ := json.Marshal(g)
		t.Errorf("CaptureGap record: %s", b)
	}
	d, _ := g["serviceEventDetails"].(map[string]any)
	if d["callsForwarded"] != float64(1) || d["recordsRecoveredLate"] != float64(1) || d["recordsLost"] != float64(0) {
		t.Errorf("CaptureGap serviceEventDetails = %v, want callsForwarded 1, recordsRecoveredLate 1, recordsLost 0", d)
	}
	if r, _ := d["reason"].(string); r == "" {
		t.Errorf("CaptureGap serviceEventDetails.reason is empty: %v", d)
	}
	for _, k := range []string{"firstUnrecordedTime", "lastUnrecordedTime"} {
		ts, err := time.Parse(time.RFC3339, aws.ToString(ptrString(d[k])))
		if err != nil || ts.Before(before.Truncate(time.Second)) || ts.After(time.Now().UTC()) {
			t.Errorf("CaptureGap %s = %v, want a time during the outage", k, d[k])
		}
	}
	recs := waitRecords(t, srv, "s3.amazonaws.com", 20*time.Second, "the forwarded call's record, written late",
		func(recs []map[string]any) bool { return len(byName(recs, "PutObject")) > 0 })
	put := findRecord(t, recs, "PutObject", "unrecorded.txt")
	if put["errorCode"] != nil || recField(put, "additionalEventData", "outcome") == "unknown" {
		t.Errorf("the late record of the forwarded PutObject: %v", put)
	}
}

func ptrString(v any) *string {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	return &s
}

// TestGatewayKillMidUpload kills the gateway (SIGKILL) while an upload
// streams through it: the call reached the upstream, so its intent was
// committed first, and when the intent's lease runs out the server records
// it as the call's record, outcome unknown.
func TestGatewayKillMidUpload(t *testing.T) {
	t.Parallel()
	vgw := startVersitygw(t)
	srv := startServer(t, "", "--config", captureServerConfig(t, ""))
	gw := startGateway(t, "", append(upstreamArgs(vgw.URL, srv), "--config", gatewayConfig(t, "  lease: 3s\n"))...)
	createBucketDirect(t, vgw, "uploads")

	const size = 64 << 20
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", gw.url+"/uploads/cut-short.bin", pr)
	req.ContentLength = size
	signS3(t, req, "UNSIGNED-PAYLOAD")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for i := 0; i < 8; i++ { // 8 MiB: more than the sockets' buffers hold, so the gateway is forwarding
		if _, err := pw.Write(chunk); err != nil {
			t.Fatalf("the gateway stopped reading the upload after %d MiB: %v", i, err)
		}
	}
	gw.kill()
	pw.CloseWithError(io.ErrUnexpectedEOF)
	<-done

	recs := waitRecords(t, srv, "s3.amazonaws.com", 30*time.Second, "the reaped intent of the cut upload",
		func(recs []map[string]any) bool { return len(byName(recs, "PutObject")) > 0 })
	puts := byName(recs, "PutObject")
	if len(puts) != 1 {
		t.Fatalf("%d PutObject records, want 1", len(puts))
	}
	p := puts[0]
	wantField(t, p, "outcome", "unknown", "additionalEventData", "outcome")
	wantField(t, p, "key", "cut-short.bin", "requestParameters", "key")
	wantField(t, p, "bucket", "uploads", "requestParameters", "bucketName")
	if p["errorCode"] != nil || p["responseElements"] != nil {
		t.Errorf("the intent's record has an answer it never got: errorCode %v responseElements %v", p["errorCode"], p["responseElements"])
	}
	if h, err := s3Client(vgw.URL, upstreamAccess, upstreamSecret).HeadObject(context.Background(),
		&s3.HeadObjectInput{Bucket: aws.String("uploads"), Key: aws.String("cut-short.bin")}); err == nil {
		t.Logf("versitygw stored %d bytes of the %d the cut upload declared", aws.ToInt64(h.ContentLength), size)
	}
}
