package reliability

// Helpers of the delivery tests (T4, T6, T11, T15): trails, their status,
// the files in their buckets, and the AWS CLI's validate-logs.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/testserver"
)

// s3API is an S3 client for endpoint (path-style) with the local-mode
// credentials test/test, which the versitygw the tests start uses too.
func s3API(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials:                aws.NewCredentialsCache(staticCreds("test")),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// trailSpec says what newTrail makes.
type trailSpec struct {
	region, name, bucket, prefix string
	validation                   bool   // log file validation (digests)
	s3                           string // endpoint of the bucket's S3 service; "" = the server's own
}

// newTrail makes the bucket (on the server, or on spec.s3), a trail
// delivering to it, and starts logging.
func newTrail(t testing.TB, url string, spec trailSpec) {
	t.Helper()
	ctx := context.Background()
	s3url := spec.s3
	if s3url == "" {
		s3url = url
	}
	if _, err := s3API(s3url).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(spec.bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", spec.bucket, err)
	}
	ct := ctAPI(url, spec.region)
	in := &cloudtrail.CreateTrailInput{Name: aws.String(spec.name), S3BucketName: aws.String(spec.bucket),
		EnableLogFileValidation: aws.Bool(spec.validation)}
	if spec.prefix != "" {
		in.S3KeyPrefix = aws.String(spec.prefix)
	}
	if _, err := ct.CreateTrail(ctx, in); err != nil {
		t.Fatalf("CreateTrail %s: %v", spec.name, err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(spec.name)}); err != nil {
		t.Fatalf("StartLogging %s: %v", spec.name, err)
	}
}

// trailState is GetTrailStatus's answer, with opentrail's
// DeliveredThroughTime: the watermark up to which every stored event has
// been delivered.
type trailState struct {
	IsLogging                 bool
	LatestDeliveryError       string
	LatestDeliveryTime        float64
	DeliveredThroughTime      float64
	LatestDigestDeliveryTime  float64
	LatestDigestDeliveryError string
}

// deliveredThrough is the watermark as a time.
func (s trailState) deliveredThrough() time.Time {
	return time.Unix(0, int64(s.DeliveredThroughTime*1e9))
}

// trailStatus calls GetTrailStatus.
func trailStatus(t testing.TB, url, region, name string) trailState {
	t.Helper()
	h := http.Header{"X-Amz-Target": {"CloudTrail_20131101.GetTrailStatus"}, "Content-Type": {"application/x-amz-json-1.1"}}
	req := testserver.Sign(t, testserver.Creds("test"), "cloudtrail", region, "POST", url+"/", h, []byte(fmt.Sprintf(`{"Name":%q}`, name)))
	status, out, _ := testserver.Do(t, req)
	if status != 200 {
		t.Fatalf("GetTrailStatus %s: %d %s", name, status, out)
	}
	var st trailState
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// bucketFiles lists the keys under prefix in bucket, with their sizes.
func bucketKeys(t testing.TB, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// isLogKey reports a CloudTrail log file key (not a digest).
func isLogKey(k string) bool {
	return strings.Contains(k, "/CloudTrail/") && strings.HasSuffix(k, ".json.gz")
}

// isDigestKey reports a digest file key.
func isDigestKey(k string) bool {
	return strings.Contains(k, "/CloudTrail-Digest/") && strings.HasSuffix(k, ".json.gz")
}

// logFileIDs reads one delivered log file and returns its eventIDs.
func logFileIDs(t testing.TB, c *s3.Client, bucket, key string) []string {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	data, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: not gzip: %v", key, err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	var doc struct{ Records []struct{ EventID string } }
	if err := json.Unmarshal(plain, &doc); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	ids := make([]string, len(doc.Records))
	for i, r := range doc.Records {
		ids[i] = r.EventID
	}
	return ids
}

// deliveredIDs counts each eventID over every log file in bucket.
func deliveredIDs(t testing.TB, c *s3.Client, bucket string) (files int, count map[string]int) {
	t.Helper()
	count = map[string]int{}
	for _, k := range bucketKeys(t, c, bucket, "") {
		if !isLogKey(k) {
			continue
		}
		files++
		for _, id := range logFileIDs(t, c, bucket, k) {
			count[id]++
		}
	}
	return files, count
}

// integrityDoc is the page that says how a user points the AWS CLI's
// validate-logs at opentrail; the tests do what it says.
const integrityDoc = "../../docs/integrity.md"

// olderCLIHeading is the section of docs/integrity.md for AWS CLI v2
// before 2.13, which ignores AWS_ENDPOINT_URL.
const olderCLIHeading = "### AWS CLI v2 before 2.13 (Debian 12's 2.9.19, for one)"

// integrityBlock returns the first fenced block of lang after heading in
// docs/integrity.md.
func integrityBlock(t testing.TB, heading, lang string) string {
	t.Helper()
	b, err := os.ReadFile(integrityDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("%s has no heading %q", integrityDoc, heading)
	}
	rest := doc[i:]
	j := strings.Index(rest, "\n```"+lang+"\n")
	if j < 0 {
		t.Fatalf("%s has no %s block after %q", integrityDoc, lang, heading)
	}
	block := rest[j+len("\n```"+lang+"\n"):]
	k := strings.Index(block, "\n```\n")
	if k < 0 {
		t.Fatalf("%s: the %s block after %q does not end", integrityDoc, lang, heading)
	}
	return block[:k+1]
}

// awsValidateLogs runs the Debian AWS CLI's `aws cloudtrail validate-logs`
// (2.9.19) as docs/integrity.md says: its plugin and config file, and
// AWS_ENDPOINT_URL=s3URL for the bucket; the CloudTrail calls go to url.
func awsValidateLogs(t testing.TB, url, s3URL, region string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/aws"); err != nil {
		t.Fatal("the AWS CLI is not installed at /usr/bin/aws; scripts/test installs it (apt-get install awscli)")
	}
	home := t.TempDir()
	const docHome = "/home/you/.aws/"
	plugin, config := integrityBlock(t, olderCLIHeading, "python"), integrityBlock(t, olderCLIHeading, "ini")
	if err := os.MkdirAll(filepath.Join(home, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "plugins", "opentrail_endpoint.py"), []byte(plugin), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(home, "config-opentrail")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(config, docHome, home+"/")), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := []string{"--region", region, "cloudtrail", "validate-logs"}
	if s3URL != url {
		cli = append([]string{"--endpoint-url", url}, cli...)
	}
	cmd := exec.Command("/usr/bin/aws", append(cli, args...)...)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin", "HOME=" + home, "AWS_PAGER=", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_ENDPOINT_URL=" + s3URL,
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// validateSummary reads the counts from validate-logs' last lines:
// "N/M digest files valid[, K/M digest files INVALID]" and the same for
// log files.
func validateSummary(out string) (digestsValid, digestsInvalid, logsValid, logsInvalid int) {
	for _, line := range strings.Split(out, "\n") {
		for _, part := range strings.Split(line, ",") {
			part = strings.TrimSpace(part)
			var n, m int
			var kind, verdict string
			if k, _ := fmt.Sscanf(part, "%d/%d %s files %s", &n, &m, &kind, &verdict); k != 4 {
				continue
			}
			switch {
			case kind == "digest" && verdict == "valid":
				digestsValid = n
			case kind == "digest" && verdict == "INVALID":
				digestsInvalid = n
			case kind == "log" && verdict == "valid":
				logsValid = n
			case kind == "log" && verdict == "INVALID":
				logsInvalid = n
			}
		}
	}
	return
}

// rangeArgs are validate-logs' --trail-arn, --start-time and --end-time.
func rangeArgs(arn string, start, end time.Time) []string {
	return []string{"--trail-arn", arn, "--start-time", start.UTC().Format(time.RFC3339), "--end-time", end.UTC().Format(time.RFC3339)}
}

// deliverWithDigest posts 200 events and waits until they and a digest
// after them are delivered by the trail (in us-east-1).
func deliverWithDigest(t testing.TB, s *testserver.Server, trail, tag string) {
	t.Helper()
	recs, _ := nativeBatch(tag, 200, "RunInstances")
	if status, _, err := s.PostEvents(context.Background(), t, "test", recs); status != 200 || err != nil {
		t.Fatalf("posting events: %d %v", status, err)
	}
	at := time.Now()
	waitDelivered(t, s.URL, "us-east-1", trail, at, 30*time.Second)
	for deadline := time.Now().Add(30 * time.Second); ; {
		st := trailStatus(t, s.URL, "us-east-1", trail)
		if time.Unix(0, int64(st.LatestDigestDeliveryTime*1e9)).After(at) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no digest delivered after %v: %+v", at, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
