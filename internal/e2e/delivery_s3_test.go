package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/testserver"
)

// versitygw is a real S3-compatible server (testserver.Versitygw) that a
// test can stop and start again on the same port and directory.
type versitygw struct {
	*testserver.Versitygw
}

// startVersitygw starts versitygw, or skips the test when it is not built
// (fails in CI).
func startVersitygw(t testing.TB) *versitygw {
	t.Helper()
	if testserver.VersitygwBinary() == "" {
		const msg = "versitygw is not built; scripts/test builds it and sets OPENTRAIL_TEST_VERSITYGW"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return &versitygw{testserver.StartVersitygw(t, "e2e-access", "e2e-secret-key")}
}

func (v *versitygw) url() string { return v.URL }
func (v *versitygw) start()      { v.Start() }
func (v *versitygw) stop()       { v.Stop() }

// s3Client returns an SDK S3 client for endpoint (path-style).
func s3Client(endpoint, access, secret string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  aws.NewCredentialsCache(staticCreds{access, secret}),
		// Leave checksums to when required: not every server speaks the
		// newest trailers.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

type staticCreds struct{ access, secret string }

func (c staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: c.access, SecretAccessKey: c.secret, Source: "e2e"}, nil
}

// downloadBucket reads every object of a bucket with the SDK.
func downloadBucket(t testing.TB, c *s3.Client, bucket string) []logFile {
	t.Helper()
	ctx := context.Background()
	var files []logFile
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatalf("get %s: %v", *o.Key, err)
			}
			data, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, parseLogFile(t, *o.Key, data))
		}
	}
	return files
}

func writeConfig(t testing.TB, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "opentrail.yml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDeliveryToS3SurvivesAnOutage delivers to a real S3-compatible
// server, stops it while events keep coming, sees the error in
// GetTrailStatus, starts it again and finds every event delivered once.
func TestDeliveryToS3SurvivesAnOutage(t *testing.T) {
	v := startVersitygw(t)
	gw := s3Client(v.url(), v.Access, v.Secret)
	if _, err := gw.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("ext-trail")}); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, fmt.Sprintf("object_store:\n  type: s3\n  endpoint: %s\n  path_style: true\n  access_key_id: %s\n  secret_access_key: %s\n",
		v.url(), v.Access, v.Secret))
	s := startServer(t, "", "--config", cfg, "--delivery-interval", "1s")
	ct := func(args ...string) {
		t.Helper()
		if out, errs, code := s.awsCLI(t, "test", "eu-west-1", append([]string{"cloudtrail"}, args...)...); code != 0 {
			t.Fatalf("aws cloudtrail %s: exit %d %s %s", args[0], code, out, errs)
		}
	}
	if _, errs, code := s.awsCLI(t, "test", "eu-west-1", "cloudtrail", "create-trail", "--name", "ext", "--s3-bucket-name", "not-on-the-gateway"); code != 254 || !strings.Contains(errs, "S3BucketDoesNotExistException") {
		t.Fatalf("create-trail with a bucket missing on the S3 server: %d %s", code, errs)
	}
	ct("create-trail", "--name", "ext", "--s3-bucket-name", "ext-trail", "--s3-key-prefix", "ct")
	ct("start-logging", "--name", "ext")

	w1 := postWorkload(t, s, "s3-before", 200)
	s.waitDelivered(t, "test", "eu-west-1", "ext", time.Now(), 15*time.Second)

	v.stop()
	w2 := postWorkload(t, s, "s3-during", 200)
	down := time.Now()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := s.trailStatus(t, "test", "eu-west-1", "ext")
		if st.LatestDeliveryError != "" {
			t.Logf("while the S3 server is down: LatestDeliveryError %q, after %s", st.LatestDeliveryError, time.Since(down).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no LatestDeliveryError while the S3 server is down: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	v.start()
	st := s.waitDelivered(t, "test", "eu-west-1", "ext", time.Now(), 60*time.Second)
	if st.LatestDeliveryError != "" {
		t.Errorf("error still reported after recovery: %+v", st)
	}
	files := downloadBucket(t, gw, "ext-trail")
	for _, f := range files {
		if !strings.HasPrefix(f.key, "ct/AWSLogs/000000000000/CloudTrail/eu-west-1/") {
			t.Errorf("unexpected key %s", f.key)
		}
	}
	exactlyOnce(t, files, concat(w1.mgmtHome, w1.readOnly, w2.mgmtHome, w2.readOnly))
}

// TestDeliveryCrash kills the server with SIGKILL while it delivers, three
// times, and then finds every stored event in exactly one file per trail.
func TestDeliveryCrash(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, "delivery:\n  max_file_bytes: 4096\n")
	args := []string{"--config", cfg, "--delivery-interval", "1s"}
	s := startServer(t, dir, args...)
	for _, c := range [][]string{
		{"s3", "mb", "s3://crash-a"}, {"s3", "mb", "s3://crash-b"},
		{"cloudtrail", "create-trail", "--name", "trail-a", "--s3-bucket-name", "crash-a", "--is-multi-region-trail"},
		{"cloudtrail", "start-logging", "--name", "trail-a"},
		{"cloudtrail", "create-trail", "--name", "trail-b", "--s3-bucket-name", "crash-b"},
		{"cloudtrail", "start-logging", "--name", "trail-b"},
	} {
		if out, errs, code := s.awsCLI(t, "test", "eu-west-1", c...); code != 0 {
			t.Fatalf("aws %s: %d %s %s", strings.Join(c, " "), code, out, errs)
		}
	}

	var (
		mu    sync.Mutex
		acked []string            // eventIDs of acknowledged requests
		sent  []string            // every eventID sent
		home  = map[string]bool{} // eventIDs recorded in eu-west-1, trail b's region
		cur   = s
	)
	stopSending := make(chan struct{})
	sender := make(chan struct{})
	go func() {
		defer close(sender)
		for b := 0; ; b++ {
			select {
			case <-stopSending:
				return
			default:
			}
			var recs [][]byte
			var ids []string
			for i := range 50 {
				id := uuid("crash", b*50+i)
				region := []string{"eu-west-1", "us-east-1"}[i%2]
				recs = append(recs, record(recOpts{id: id, name: "RunInstances", region: region}))
				ids = append(ids, id)
			}
			mu.Lock()
			for i, id := range ids {
				if i%2 == 0 {
					home[id] = true
				}
			}
			sent = append(sent, ids...)
			srv := cur
			mu.Unlock()
			if err := postQuiet(srv, recs); err == nil {
				mu.Lock()
				acked = append(acked, ids...)
				mu.Unlock()
			} else {
				time.Sleep(50 * time.Millisecond) // the server is down
			}
		}
	}()
	for range 3 {
		time.Sleep(1500 * time.Millisecond)
		mu.Lock()
		old := cur
		mu.Unlock()
		old.kill()
		next := startServer(t, dir, args...)
		mu.Lock()
		cur = next
		mu.Unlock()
	}
	time.Sleep(1500 * time.Millisecond)
	close(stopSending)
	<-sender
	mu.Lock()
	s = cur
	nAcked, nSent := len(acked), len(sent)
	mu.Unlock()
	if nAcked < 500 {
		t.Fatalf("only %d events acknowledged", nAcked)
	}
	done := time.Now()
	s.waitDelivered(t, "test", "eu-west-1", "trail-a", done, 60*time.Second)
	s.waitDelivered(t, "test", "eu-west-1", "trail-b", done, 60*time.Second)

	// Events sent but not acknowledged may or may not be stored; whatever
	// is stored is delivered once per trail.
	stored := map[string]bool{}
	for _, id := range sent {
		stored[id] = true
	}
	c := s3Client(s.url, "test", "test")
	for _, bucket := range []string{"crash-a", "crash-b"} {
		files := downloadBucket(t, c, bucket)
		count := map[string]int{}
		for _, f := range files {
			for _, id := range f.ids {
				if f.sources[id] != "ec2.amazonaws.com" {
					continue // the server's record of an API call
				}
				count[id]++
			}
		}
		for id, n := range count {
			if n > 1 {
				t.Errorf("%s: event %s delivered %d times", bucket, id, n)
			}
			if !stored[id] {
				t.Errorf("%s: event %s delivered but never sent", bucket, id)
			}
		}
		missing := 0
		mu.Lock()
		for _, id := range acked {
			if bucket == "crash-b" && !home[id] { // trail b is single-region
				continue
			}
			if count[id] != 1 {
				missing++
			}
		}
		mu.Unlock()
		if missing > 0 {
			t.Errorf("%s: %d acknowledged events not delivered", bucket, missing)
		}
		t.Logf("%s: %d files, %d events (of %d acknowledged, %d sent)", bucket, len(files), len(count), nAcked, nSent)
	}
}

// postQuiet posts records and reports failure instead of failing the test
// (the server may be down on purpose).
func postQuiet(s *server, recs [][]byte) error {
	body := []byte(strings.Join(func() []string {
		out := make([]string, len(recs))
		for i, r := range recs {
			out[i] = string(r)
		}
		return out
	}(), "\n"))
	req := signedRequest(s.t, creds("test"), "opentrail", "us-east-1", "POST", s.url+"/v1/events", nil, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return errors.New(resp.Status)
	}
	return nil
}
