package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/opentrail/opentrail/internal/testserver"
)

// TestGatewayS3WithAWSCLI drives versitygw through the gateway with the
// Debian AWS CLI — buckets, a bucket policy, small and multipart uploads,
// listings, downloads, a presigned GET, a missing key, deletes — and reads
// the records back from the server's history.
func TestGatewayS3WithAWSCLI(t *testing.T) {
	t.Parallel()
	st := startS3Stack(t)
	gw := st.gw.url
	dir := t.TempDir()
	small := filepath.Join(dir, "small.txt")
	os.WriteFile(small, []byte("hello, trail\n"), 0o600)
	big := filepath.Join(dir, "big.bin")
	bigBody := make([]byte, 9<<20) // over the CLI's 8 MiB multipart threshold
	rand.Read(bigBody)
	os.WriteFile(big, bigBody, 0o600)

	mustGatewayCLI(t, gw, "s3", "mb", "s3://photos")
	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"ReadNotes","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/notes/*"}]}`
	mustGatewayCLI(t, gw, "s3api", "put-bucket-policy", "--bucket", "photos", "--policy", policy)
	mustGatewayCLI(t, gw, "s3", "cp", small, "s3://photos/notes/small.txt")
	mustGatewayCLI(t, gw, "s3", "cp", big, "s3://photos/big.bin")
	if out := mustGatewayCLI(t, gw, "s3", "ls", "s3://photos/notes/"); !strings.Contains(out, "small.txt") {
		t.Errorf("aws s3 ls through the gateway: %q lacks small.txt", out)
	}
	got := filepath.Join(dir, "got.bin")
	mustGatewayCLI(t, gw, "s3", "cp", "s3://photos/big.bin", got)
	if b, _ := os.ReadFile(got); !bytes.Equal(b, bigBody) {
		t.Errorf("the 9 MiB object came back through the gateway with %d bytes, not the ones sent", len(b))
	}

	// The upstream's own view: the objects are there, as sent.
	direct := s3Client(st.vgw.URL, upstreamAccess, upstreamSecret)
	obj, err := direct.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("notes/small.txt")})
	if err != nil {
		t.Fatalf("versitygw has no notes/small.txt after aws s3 cp through the gateway: %v", err)
	}
	b, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(b) != "hello, trail\n" {
		t.Errorf("versitygw holds %q", b)
	}

	// A presigned GET: the CLI presigns for the gateway, anyone fetches it.
	url := strings.TrimSpace(mustGatewayCLI(t, gw, "s3", "presign", "s3://photos/notes/small.txt", "--expires-in", "300"))
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "hello, trail\n" {
		t.Errorf("presigned GET through the gateway: %d %q", resp.StatusCode, b)
	}

	// A missing key: the upstream's NoSuchKey reaches the client and the record.
	_, errs, code := gatewayCLI(t, gw, "s3api", "get-object", "--bucket", "photos", "--key", "notes/absent.txt", filepath.Join(dir, "absent"))
	if code == 0 || !strings.Contains(errs, "NoSuchKey") {
		t.Errorf("get-object of a missing key through the gateway: exit %d, %s; want NoSuchKey", code, errs)
	}

	mustGatewayCLI(t, gw, "s3", "rm", "s3://photos/notes/small.txt")
	mustGatewayCLI(t, gw, "s3", "rm", "s3://photos/big.bin")
	mustGatewayCLI(t, gw, "s3", "rb", "s3://photos")
	if _, err := direct.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String("photos")}); err == nil {
		t.Error("versitygw still has bucket photos after aws s3 rb through the gateway")
	}

	recs := waitRecords(t, st.srv, "s3.amazonaws.com", 20*time.Second, "the records of every call",
		func(recs []map[string]any) bool { return len(byName(recs, "DeleteBucket")) == 1 })

	// The console's event history shows the captured calls: the data
	// events (PutObject of the small object) and the management events.
	br := newBrowser(t, st.srv)
	br.signIn("admin", "opentrail")
	br.open("/events?category=data&EventSource=s3.amazonaws.com")
	if got := br.column("td.name"); !slices.Contains(got, "PutObject") || !slices.Contains(got, "UploadPart") {
		t.Errorf("the console's data events: %q, want the captured PutObject and UploadPart", got)
	}
	br.screenshot("gateway-data-events")
	br.open("/events?category=management&EventSource=s3.amazonaws.com")
	if got := br.column("td.name"); !slices.Contains(got, "CreateBucket") || !slices.Contains(got, "PutBucketPolicy") {
		t.Errorf("the console's management events: %q, want the captured CreateBucket and PutBucketPolicy", got)
	}
	br.screenshot("gateway-management-events")

	for _, name := range []string{"CreateBucket", "PutBucketPolicy", "PutObject", "CreateMultipartUpload", "UploadPart",
		"CompleteMultipartUpload", "GetObject", "DeleteObject", "DeleteBucket"} {
		if len(byName(recs, name)) == 0 {
			t.Errorf("no %s record; the history holds %v", name, names(recs))
		}
	}
	if n := len(byName(recs, "ListObjects")) + len(byName(recs, "ListObjectsV2")); n == 0 {
		t.Errorf("no ListObjects/ListObjectsV2 record for aws s3 ls; the history holds %v", names(recs))
	}
	if n := len(byName(recs, "UploadPart")); n != 2 {
		t.Errorf("%d UploadPart records for a 9 MiB upload in 8 MiB parts, want 2", n)
	}
	for _, r := range recs {
		checkCommonS3Fields(t, r)
	}

	put := findRecord(t, recs, "PutObject", "notes/small.txt")
	wantDataEvent(t, put, true)
	wantField(t, put, "bytesTransferredIn", float64(len("hello, trail\n")), "additionalEventData", "bytesTransferredIn")
	wantField(t, put, "bucket", "photos", "requestParameters", "bucketName")
	wantField(t, put, "key", "notes/small.txt", "requestParameters", "key")
	wantField(t, put, "Host", st.gw.addr, "requestParameters", "Host")
	wantField(t, put, "authentication", "AuthHeader", "additionalEventData", "AuthenticationMethod")
	wantResources(t, put, "arn:aws:s3:::photos/notes/small.txt", "arn:aws:s3:::photos")

	create := byName(recs, "CreateBucket")[0]
	wantDataEvent(t, create, false)
	wantField(t, create, "bucket", "photos", "requestParameters", "bucketName")
	pol := byName(recs, "PutBucketPolicy")[0]
	wantDataEvent(t, pol, false)
	if p, _ := recField(pol, "requestParameters", "bucketPolicy").(map[string]any); p == nil || p["Version"] != "2012-10-17" {
		t.Errorf("PutBucketPolicy requestParameters.bucketPolicy = %v, want the policy document (as CloudTrail records it)",
			recField(pol, "requestParameters", "bucketPolicy"))
	}

	cmu := byName(recs, "CreateMultipartUpload")[0]
	wantDataEvent(t, cmu, true)
	// The result document under its element's name, members lower-cameled
	// (docs/capture.md, Records).
	uploadID, _ := recField(cmu, "responseElements", "CreateMultipartUploadResult", "uploadId").(string)
	if uploadID == "" {
		t.Errorf("CreateMultipartUpload responseElements lack CreateMultipartUploadResult.uploadId: %v", cmu["responseElements"])
	}
	for _, part := range byName(recs, "UploadPart") {
		if recField(part, "requestParameters", "uploadId") != uploadID || recField(part, "requestParameters", "partNumber") == nil {
			t.Errorf("UploadPart requestParameters = %v, want uploadId %s and partNumber", part["requestParameters"], uploadID)
		}
	}
	wantField(t, byName(recs, "CompleteMultipartUpload")[0], "uploadId", uploadID, "requestParameters", "uploadId")

	var presigned, missing map[string]any
	for _, g := range byName(recs, "GetObject") {
		if recField(g, "additionalEventData", "AuthenticationMethod") == "QueryString" {
			presigned = g
		}
		if g["errorCode"] != nil {
			missing = g
		}
	}
	if presigned == nil {
		t.Error("no GetObject record with AuthenticationMethod QueryString for the presigned GET")
	} else {
		wantField(t, presigned, "key", "notes/small.txt", "requestParameters", "key")
		for k := range recField(presigned, "requestParameters").(map[string]any) {
			if strings.EqualFold(k, "X-Amz-Signature") || strings.EqualFold(k, "X-Amz-Security-Token") {
				t.Errorf("the presigned GET's record holds %s", k)
			}
		}
	}
	if missing == nil {
		t.Error("no GetObject record with an errorCode for the missing key")
	} else {
		wantField(t, missing, "errorCode", "NoSuchKey", "errorCode")
		wantField(t, missing, "errorMessage", "The specified key does not exist.", "errorMessage")
	}
	compareWithFixtures(t, recs)
}

// TestGatewayS3WithSDK drives the gateway with aws-sdk-go-v2 as an
// application would (its default checksums, so PutObject streams
// aws-chunked with a trailer): put, copy, head of a missing key, batch
// delete.
func TestGatewayS3WithSDK(t *testing.T) {
	t.Parallel()
	st := startS3Stack(t)
	ctx := context.Background()
	c := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(st.gw.url), UsePathStyle: true,
		Credentials: aws.NewCredentialsCache(credProvider("test")),
	})
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("ledger")}); err != nil {
		t.Fatalf("CreateBucket through the gateway: %v", err)
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ledger"), Key: aws.String("2026/12/a.bin"),
		Body: bytes.NewReader(body), Metadata: map[string]string{"team": "payments"}}); err != nil {
		t.Fatalf("PutObject through the gateway: %v", err)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("ledger"), Key: aws.String("2026/12/b.bin"),
		CopySource: aws.String("ledger/2026/12/a.bin")}); err != nil {
		t.Fatalf("CopyObject through the gateway: %v", err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ledger"), Key: aws.String("2026/12/b.bin")})
	if err != nil {
		t.Fatalf("GetObject through the gateway: %v", err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(got, body) {
		t.Errorf("GetObject of the copy: %d bytes, not the ones put", len(got))
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("ledger"), Key: aws.String("absent")})
	var nf *s3types.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("HeadObject of a missing key through the gateway: %v, want NotFound", err)
	}
	if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("ledger"), Delete: &s3types.Delete{
		Objects: []s3types.ObjectIdentifier{{Key: aws.String("2026/12/a.bin")}, {Key: aws.String("2026/12/b.bin")}}}}); err != nil {
		t.Fatalf("DeleteObjects through the gateway: %v", err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("ledger")}); err != nil {
		t.Fatalf("DeleteBucket through the gateway (are the objects gone upstream?): %v", err)
	}

	recs := waitRecords(t, st.srv, "s3.amazonaws.com", 20*time.Second, "the records of every call",
		func(recs []map[string]any) bool { return len(byName(recs, "DeleteBucket")) == 1 })
	for _, r := range recs {
		checkCommonS3Fields(t, r)
	}
	put := findRecord(t, recs, "PutObject", "2026/12/a.bin")
	wantDataEvent(t, put, true)
	wantField(t, put, "bytesTransferredIn", float64(len(body)), "additionalEventData", "bytesTransferredIn")
	cp := findRecord(t, recs, "CopyObject", "2026/12/b.bin")
	wantDataEvent(t, cp, true)
	if src, _ := recField(cp, "requestParameters", "x-amz-copy-source").(string); !strings.Contains(src, "ledger/2026/12/a.bin") {
		t.Errorf("CopyObject requestParameters x-amz-copy-source = %v", recField(cp, "requestParameters"))
	}
	get := findRecord(t, recs, "GetObject", "2026/12/b.bin")
	wantDataEvent(t, get, true)
	if get["readOnly"] != true {
		t.Errorf("GetObject readOnly = %v", get["readOnly"])
	}
	wantField(t, get, "bytesTransferredOut", float64(len(body)), "additionalEventData", "bytesTransferredOut")
	head := findRecord(t, recs, "HeadObject", "absent")
	if head["errorCode"] == nil {
		t.Errorf("HeadObject of a missing key: no errorCode in %v", head)
	}
	del := byName(recs, "DeleteObjects")
	if len(del) != 1 {
		t.Fatalf("%d DeleteObjects records, want 1; the history holds %v", len(del), names(recs))
	}
	wantDataEvent(t, del[0], true)
	wantField(t, del[0], "bucket", "ledger", "requestParameters", "bucketName")
}

// checkCommonS3Fields checks what every S3 record holds, whatever its
// operation.
func checkCommonS3Fields(t *testing.T, r map[string]any) {
	t.Helper()
	name := r["eventName"]
	for _, k := range []string{"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
		"sourceIPAddress", "userAgent", "requestParameters", "requestID", "eventID", "readOnly", "eventType",
		"managementEvent", "recipientAccountId", "eventCategory", "additionalEventData"} {
		if _, ok := r[k]; !ok {
			t.Errorf("%s record lacks %s: %v", name, k, r)
		}
	}
	if r["eventType"] != "AwsApiCall" || r["awsRegion"] != "us-east-1" || r["recipientAccountId"] != "000000000000" {
		t.Errorf("%s: eventType %v awsRegion %v recipientAccountId %v", name, r["eventType"], r["awsRegion"], r["recipientAccountId"])
	}
	if v, _ := r["eventVersion"].(string); v < "1.09" {
		t.Errorf("%s: eventVersion %q, want 1.09 or later", name, v)
	}
	if recField(r, "userIdentity", "accessKeyId") != "test" || recField(r, "userIdentity", "accountId") != "000000000000" {
		t.Errorf("%s: userIdentity %v, want local mode's key test of account 000000000000", name, r["userIdentity"])
	}
	if recField(r, "additionalEventData", "SignatureVersion") != "SigV4" {
		t.Errorf("%s: additionalEventData.SignatureVersion = %v", name, recField(r, "additionalEventData", "SignatureVersion"))
	}
	if recField(r, "additionalEventData", "outcome") == "unknown" {
		t.Errorf("%s: the final record still says outcome unknown", name)
	}
	if _, ok := r["tlsDetails"]; ok {
		t.Errorf("%s: tlsDetails on a call that came in over plain HTTP: %v", name, r["tlsDetails"])
	}
	if !strings.HasPrefix(fmt.Sprint(r["sourceIPAddress"]), "127.0.0.1") {
		t.Errorf("%s: sourceIPAddress %v, want the client's 127.0.0.1", name, r["sourceIPAddress"])
	}
}

// wantDataEvent checks a record's category: S3 object calls are data
// events, bucket calls management events.
func wantDataEvent(t *testing.T, r map[string]any, data bool) {
	t.Helper()
	cat, mgmt := "Management", true
	if data {
		cat, mgmt = "Data", false
	}
	if r["eventCategory"] != cat || r["managementEvent"] != mgmt {
		t.Errorf("%s: eventCategory %v managementEvent %v, want %s %v", r["eventName"], r["eventCategory"], r["managementEvent"], cat, mgmt)
	}
}

// wantField checks one nested field's value.
func wantField(t *testing.T, r map[string]any, what string, want any, keys ...string) {
	t.Helper()
	if got := recField(r, keys...); got != want {
		t.Errorf("%s record: %s (%s) = %#v, want %#v", r["eventName"], strings.Join(keys, "."), what, got, want)
	}
}

// wantResources checks the record's resources hold these ARNs, the object
// typed AWS::S3::Object and the bucket AWS::S3::Bucket.
func wantResources(t *testing.T, r map[string]any, object, bucket string) {
	t.Helper()
	res, _ := r["resources"].([]any)
	found := map[string]string{}
	for _, x := range res {
		m, _ := x.(map[string]any)
		found[fmt.Sprint(m["ARN"])] = fmt.Sprint(m["type"])
	}
	if found[object] != "AWS::S3::Object" || found[bucket] != "AWS::S3::Bucket" {
		t.Errorf("%s resources = %v, want %s (AWS::S3::Object) and %s (AWS::S3::Bucket)", r["eventName"], res, object, bucket)
	}
}

// findRecord returns the one record named name for key.
func findRecord(t *testing.T, recs []map[string]any, name, key string) map[string]any {
	t.Helper()
	for _, r := range byName(recs, name) {
		if recField(r, "requestParameters", "key") == key {
			return r
		}
	}
	t.Fatalf("no %s record for key %s; the history holds %v", name, key, names(recs))
	return nil
}

func names(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprint(r["eventName"]))
	}
	return out
}

// patternReader yields n bytes of a repeating pattern without holding
// them: a large object a client streams.
type patternReader struct{ n, off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 31 >> 8)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// TestGatewayStreamsLargeObjects sends a 1 GiB object (256 MiB with
// -short) through the gateway and back, and checks the gateway's peak
// memory stays far below the object's size.
func TestGatewayStreamsLargeObjects(t *testing.T) {
	t.Parallel()
	size := int64(1 << 30)
	if testing.Short() {
		size = 256 << 20
	}
	vgw := startVersitygw(t)
	srv := startServer(t, "", "--config", captureServerConfig(t, ""))
	// Without the race detector: its shadow memory would be measured too.
	gw := startGateway(t, plainBinary(t), upstreamArgs(vgw.URL, srv)...)
	base := gw.peakMemory()
	ctx := context.Background()
	direct := s3Client(vgw.URL, upstreamAccess, upstreamSecret)
	if _, err := direct.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("big")}); err != nil {
		t.Fatal(err)
	}

	req, _ := http.NewRequest("PUT", gw.url+"/big/object.bin", &patternReader{n: size})
	req.ContentLength = size
	signS3(t, req, "UNSIGNED-PAYLOAD")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT of %d MiB through the gateway: %v", size>>20, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT of %d MiB through the gateway: %d %s", size>>20, resp.StatusCode, b)
	}
	put := time.Since(start)

	req, _ = http.NewRequest("GET", gw.url+"/big/object.bin", nil)
	signS3(t, req, "UNSIGNED-PAYLOAD")
	start = time.Now()
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || n != size || resp.StatusCode != 200 {
		t.Fatalf("GET through the gateway: %d, %d bytes of %d, %v", resp.StatusCode, n, size, err)
	}
	get := time.Since(start)
	want := sha256.New()
	io.Copy(want, &patternReader{n: size})
	if !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Error("the object read back through the gateway differs from the one written")
	}
	peak := gw.peakMemory()
	t.Logf("%d MiB: PUT %v (%.0f MB/s), GET %v (%.0f MB/s); gateway peak RSS %d MiB (%d MiB after start-up)",
		size>>20, put.Round(time.Millisecond), float64(size)/put.Seconds()/1e6, get.Round(time.Millisecond),
		float64(size)/get.Seconds()/1e6, peak>>20, base>>20)
	if peak-base > 64<<20 {
		t.Errorf("the gateway's peak memory grew by %d MiB while %d MiB streamed through it; a streaming proxy holds a few buffers",
			(peak-base)>>20, size>>20)
	}
	recs := waitRecords(t, srv, "s3.amazonaws.com", 20*time.Second, "the GetObject record",
		func(recs []map[string]any) bool {
			return len(byName(recs, "GetObject")) == 1 && len(byName(recs, "PutObject")) == 1
		})
	wantField(t, byName(recs, "PutObject")[0], "bytesTransferredIn", float64(size), "additionalEventData", "bytesTransferredIn")
	wantField(t, byName(recs, "GetObject")[0], "bytesTransferredOut", float64(size), "additionalEventData", "bytesTransferredOut")
}

// fixtureDir holds CloudTrail records written from AWS's documented S3
// event examples (internal/capture's fixtures).
const fixtureDir = "../capture/testdata"

// compareWithFixtures compares each captured record, field by field, with
// the documented record of the same operation and outcome: every field the
// documented record has, ours has with the same JSON type, down through
// userIdentity, requestParameters, additionalEventData and resources.
// Fields that depend on how the call arrived rather than on the record's
// shape (TLS, VPC endpoints, the principal's kind) are not required.
func compareWithFixtures(t *testing.T, recs []map[string]any) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	fixtures := map[string]map[string]any{} // eventName[+error] → record
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range fixtureRecords(b) {
			if r["eventSource"] != "s3.amazonaws.com" {
				continue
			}
			k := fmt.Sprint(r["eventName"])
			if r["errorCode"] != nil {
				k += "+error"
			}
			fixtures[k] = r
		}
	}
	if len(fixtures) == 0 {
		t.Fatalf("no S3 records among the fixtures in %s (written from AWS's documented examples)", fixtureDir)
	}
	compared := 0
	for _, r := range recs {
		k := fmt.Sprint(r["eventName"])
		if r["errorCode"] != nil {
			k += "+error"
		}
		fx, ok := fixtures[k]
		if !ok {
			continue
		}
		compared++
		compareShape(t, k, "", fx, r)
	}
	if compared == 0 {
		t.Errorf("none of the captured records (%v) has a fixture in %s to compare with", names(recs), fixtureDir)
	}
	t.Logf("compared %d captured records with the documented examples of %d operations", compared, len(fixtures))
}

// fixtureRecords reads a fixture: internal/capture's {"record": {...},
// "omitted": [...]} (omitted: the example's fields no proxy can know), or
// one bare record.
func fixtureRecords(b []byte) []map[string]any {
	var fx struct {
		Record  map[string]any
		Omitted []string
	}
	if json.Unmarshal(b, &fx) == nil && fx.Record != nil {
		for _, p := range fx.Omitted {
			deletePath(fx.Record, strings.Split(p, "."))
		}
		return []map[string]any{fx.Record}
	}
	var one map[string]any
	if json.Unmarshal(b, &one) == nil && one["eventName"] != nil {
		return []map[string]any{one}
	}
	return nil
}

func deletePath(m map[string]any, keys []string) {
	if len(keys) == 1 {
		delete(m, keys[0])
		return
	}
	if sub, ok := m[keys[0]].(map[string]any); ok {
		deletePath(sub, keys[1:])
	}
}

// notRequired are fields of AWS's examples that depend on the call's
// circumstances, not on the record's shape.
var notRequired = map[string]bool{
	"tlsDetails": true, "vpcEndpointId": true, "vpcEndpointAccountId": true, "sessionCredentialFromConsole": true,
	"sharedEventID": true, "edgeDeviceDetails": true, "userIdentity.sessionContext": true, "userIdentity.arn": true,
	"userIdentity.userName": true, "userIdentity.invokedBy": true, "userIdentity.principalId": true,
	"additionalEventData.CipherSuite": true, "additionalEventData.x-amz-id-2": true,
	// Request parameters of the documented call that this call did not send.
	"requestParameters.x-amz-server-side-encryption": true, "requestParameters.x-amz-acl": true,
	"requestParameters.x-amz-storage-class": true, "requestParameters.x-amz-server-side-encryption-aws-kms-key-id": true,
	"requestParameters.x-amz-server-side-encryption-context": true, "requestParameters.x-amz-version-id": true,
	"requestParameters.versionId": true, "requestParameters.tagging": true, "requestParameters.CreateBucketConfiguration": true,
	"requestParameters.x-amz-object-ownership": true, "requestParameters.x-amz-expected-bucket-owner": true,
	// Answers that depend on the bucket's settings (versioning, encryption).
	"responseElements.x-amz-version-id": true, "responseElements.x-amz-server-side-encryption": true,
	"responseElements.x-amz-server-side-encryption-aws-kms-key-id": true, "responseElements.x-amz-server-side-encryption-context": true,
	"responseElements.x-amz-expiration": true, "responseElements.x-amz-server-side-encryption-bucket-key-enabled": true,
}

// userDocument are request parameters holding the caller's own document,
// whose content is not the record's shape.
var userDocument = map[string]bool{"requestParameters.bucketPolicy": true, "requestParameters.AccessControlPolicy": true,
	"requestParameters.Tagging": true, "requestParameters.CreateBucketConfiguration": true}

// compareShape requires every field of want in got, with the same JSON
// type, recursively (arrays by their first element).
func compareShape(t *testing.T, op, prefix string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: %s is %T in our record, an object in AWS's example", op, prefix, got)
			return
		}
		for k, wv := range w {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			if notRequired[p] {
				continue
			}
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s: our record lacks %s (AWS's example: %v)", op, p, wv)
				continue
			}
			if wv == nil || strings.HasPrefix(p, "userIdentity.") && p != "userIdentity.accountId" && p != "userIdentity.accessKeyId" {
				continue
			}
			if userDocument[p] {
				// The caller's own document: only its kind is the record's shape.
				if _, ok := gv.(map[string]any); !ok {
					t.Errorf("%s: %s is %T in our record, an object in AWS's example", op, p, gv)
				}
				continue
			}
			compareShape(t, op, p, wv, gv)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(w) > 0 && len(g) == 0 {
			t.Errorf("%s: %s is %v in our record, %v in AWS's example", op, prefix, got, want)
			return
		}
		if len(w) > 0 {
			compareShape(t, op, prefix+"[]", w[0], g[0])
		}
	default:
		if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
			t.Errorf("%s: %s is %T (%v) in our record, %T (%v) in AWS's example", op, prefix, got, got, want, want)
		}
	}
}

// TestGatewayS3AccessDenied puts the gateway in front of versitygw with
// an upstream key that may not touch another account's bucket: the
// upstream's AccessDenied reaches the client and the records of both a
// read and a write.
func TestGatewayS3AccessDenied(t *testing.T) {
	t.Parallel()
	vgw := startVersitygw(t)
	// versitygw's own IAM: a plain user besides the root.
	vgw.Stop()
	vgw.Extra = []string{"--iam-dir", t.TempDir()}
	vgw.Start()
	admin := exec.Command(testserver.VersitygwBinary(), "admin", "--access", upstreamAccess, "--secret", upstreamSecret,
		"--endpoint-url", vgw.URL, "create-user", "--access", "e2e-user", "--secret", "e2e-user-secret", "--role", "user")
	if out, err := admin.CombinedOutput(); err != nil {
		t.Fatalf("versitygw admin create-user: %v\n%s", err, out)
	}
	createBucketDirect(t, vgw, "private")
	if _, err := s3Client(vgw.URL, upstreamAccess, upstreamSecret).PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("private"), Key: aws.String("payroll.csv"), Body: strings.NewReader("name,salary\n")}); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "", "--config", captureServerConfig(t, ""))
	gw := startGateway(t, "", "--upstream", vgw.URL, "--upstream-access-key-id", "e2e-user",
		"--upstream-secret-env", "OT_E2E_USER_SECRET", "--endpoint", srv.url)
	dir := t.TempDir()
	_, errs, code := gatewayCLI(t, gw.url, "s3api", "get-object", "--bucket", "private", "--key", "payroll.csv", filepath.Join(dir, "out"))
	if code == 0 || !strings.Contains(errs, "AccessDenied") {
		t.Errorf("get-object of another owner's object through the gateway: exit %d %s; want AccessDenied", code, errs)
	}
	os.WriteFile(filepath.Join(dir, "in"), []byte("x"), 0o600)
	_, errs, code = gatewayCLI(t, gw.url, "s3api", "put-object", "--bucket", "private", "--key", "planted.txt", "--body", filepath.Join(dir, "in"))
	if code == 0 || !strings.Contains(errs, "AccessDenied") {
		t.Errorf("put-object into another owner's bucket through the gateway: exit %d %s; want AccessDenied", code, errs)
	}
	recs := waitRecords(t, srv, "s3.amazonaws.com", 20*time.Second, "the denied calls' records",
		func(recs []map[string]any) bool {
			return len(byName(recs, "PutObject")) > 0 && len(byName(recs, "GetObject")) > 0
		})
	for _, r := range []map[string]any{findRecord(t, recs, "GetObject", "payroll.csv"), findRecord(t, recs, "PutObject", "planted.txt")} {
		checkCommonS3Fields(t, r)
		wantDataEvent(t, r, true)
		wantField(t, r, "errorCode", "AccessDenied", "errorCode")
		wantField(t, r, "errorMessage", "Access Denied.", "errorMessage") // versitygw's words (S3 says "Access Denied")
		if r["responseElements"] != nil {
			t.Errorf("%s denied: responseElements %v, want null", r["eventName"], r["responseElements"])
		}
	}
	compareWithFixtures(t, recs)
}
