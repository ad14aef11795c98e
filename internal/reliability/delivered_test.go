package reliability

// Helpers of the delivery tests (T4, T6, T11, T15): trails, their status,
// the files in their buckets, validate-logs' summary, steady ingest.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
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
		Credentials:                aws.NewCredentialsCache(localCreds("test")),
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

// steadyIngest posts batches of n records every period until stop is
// closed, and returns what was sent and acknowledged (with the time of
// each acknowledgement) once it has stopped.
type steady struct {
	acks    *ackSet
	mu      sync.Mutex
	ackedAt map[string]time.Time
	last    time.Time // the newest acknowledgement
	stop    chan struct{}
	done    chan struct{}
}

func startSteadyIngest(t testing.TB, s *testserver.Server, tag string, n int, period time.Duration) *steady {
	st := &steady{acks: newAckSet(), ackedAt: map[string]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(st.done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for b := 0; ; b++ {
			select {
			case <-st.stop:
				return
			case <-tick.C:
			}
			recs, ids := nativeBatch(fmt.Sprintf("%s-%d", tag, b), n, "RunInstances")
			st.acks.send(ids...)
			status, res, err := s.PostEvents(context.Background(), t, "test", recs)
			if err != nil || status != 200 || res.Accepted != n {
				t.Errorf("steady ingest: %d %+v %v", status, res, err)
				continue
			}
			now := time.Now()
			st.acks.ack(ids...)
			st.mu.Lock()
			for _, id := range ids {
				st.ackedAt[id] = now
			}
			st.last = now
			st.mu.Unlock()
		}
	}()
	return st
}

// halt stops the ingest and returns the time of the last acknowledgement.
func (st *steady) halt() time.Time {
	close(st.stop)
	<-st.done
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.last
}

// waitDelivered waits until the trail's DeliveredThroughTime passes at,
// and returns how long that took.
func waitDelivered(t testing.TB, url, region, name string, at time.Time, within time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	for {
		st := trailStatus(t, url, region, name)
		if !st.deliveredThrough().Before(at) {
			return time.Since(began)
		}
		if time.Since(began) > within {
			t.Fatalf("trail %s not delivered through %s within %v: error %q, delivered through %v",
				name, at.Format(time.RFC3339Nano), within, st.LatestDeliveryError, st.deliveredThrough())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// digestDoc is what the tests read of a digest file.
type digestDoc struct {
	key                        string
	DigestStartTime            time.Time
	DigestEndTime              time.Time
	PreviousDigestS3Object     *string
	DigestPublicKeyFingerprint string
	LogFiles                   []struct{ S3Object string }
}

func readDigests(t testing.TB, c *s3.Client, bucket string) []digestDoc {
	t.Helper()
	var out []digestDoc
	for _, k := range bucketKeys(t, c, bucket, "") {
		if !isDigestKey(k) {
			continue
		}
		o, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(o.Body)
		o.Body.Close()
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		plain, _ := io.ReadAll(zr)
		d := digestDoc{key: k}
		if err := json.Unmarshal(plain, &d); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DigestEndTime.Before(out[j].DigestEndTime) })
	return out
}
