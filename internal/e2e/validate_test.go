package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/testserver"
)

// validateLogs runs the Debian CLI's `aws cloudtrail validate-logs`
// (2.9.19) as docs/integrity.md says (testserver.AWSValidateLogs), with
// the bucket on s3URL and the CloudTrail calls to the server.
func (s *server) validateLogs(t testing.TB, s3URL, region string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return testserver.AWSValidateLogs(t, s.url, s3URL, region, args...)
}

// TestAWSCLIValidateLogs: the AWS CLI's own validator accepts the digests
// and logs opentrail delivers, and names the file after tampering.
func TestAWSCLIValidateLogs(t *testing.T) {
	s := startServer(t, "", "--delivery-interval", "1s", "--digest-interval", "3s")
	for _, c := range [][]string{
		{"s3", "mb", "s3://signed-logs"},
		{"cloudtrail", "create-trail", "--name", "signed", "--s3-bucket-name", "signed-logs", "--s3-key-prefix", "audit", "--enable-log-file-validation"},
		{"cloudtrail", "start-logging", "--name", "signed"},
	} {
		if out, errs, code := s.awsCLI(t, "test", "eu-west-1", c...); code != 0 {
			t.Fatalf("aws %s: %d %s %s", strings.Join(c, " "), code, out, errs)
		}
	}
	begin := time.Now().UTC().Add(-time.Minute)
	postWorkload(t, s, "validate-1", 300)
	time.Sleep(3 * time.Second)
	postWorkload(t, s, "validate-2", 300)
	// Wait for the digests of the periods holding both batches.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := s.trailStatus(t, "test", "eu-west-1", "signed")
		if st.DeliveredThroughTime > float64(time.Now().Add(-time.Second).Unix()) && s.digestCount(t, "signed-logs") >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("digests not delivered: %+v\n%s", st, s.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	end := time.Now().UTC()
	arn := "arn:aws:cloudtrail:eu-west-1:000000000000:trail/signed"
	args := []string{"--trail-arn", arn, "--start-time", begin.Format(time.RFC3339), "--end-time", end.Format(time.RFC3339), "--verbose"}
	out, errs, code := s.validateLogs(t, s.url, "eu-west-1", args...)
	if code != 0 || !strings.Contains(out, "digest files valid") || strings.Contains(out, "INVALID") || errs != "" {
		t.Fatalf("validate-logs on a clean trail: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("clean trail:\n%s", lastLines(out, 3))

	// Each tamper class on a fresh copy of the bucket: the CLI must say
	// INVALID for the file and exit 1.
	// Only log files the clean run validated: one delivered after the
	// range's last digest is in no digest the runs below read.
	var logs []string
	for _, k := range s.listKeys(t, "signed-logs", "audit/AWSLogs/000000000000/CloudTrail/eu-west-1/") {
		if strings.Contains(out, "s3://signed-logs/"+k+"\t") {
			logs = append(logs, k)
		}
	}
	digests := s.listKeys(t, "signed-logs", "audit/AWSLogs/000000000000/CloudTrail-Digest/eu-west-1/")
	if len(logs) < 2 || len(digests) < 3 {
		t.Fatalf("%d log files and %d digests delivered", len(logs), len(digests))
	}
	logKey, digestKey := logs[len(logs)/2], digests[len(digests)/2]
	restore := s.snapshot(t, "signed-logs", logKey, digestKey)
	regzip := func(change func([]byte) []byte) func([]byte) []byte {
		return func(b []byte) []byte {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := io.ReadAll(zr)
			var out bytes.Buffer
			zw := gzip.NewWriter(&out)
			zw.Write(change(plain))
			zw.Close()
			return out.Bytes()
		}
	}
	for _, c := range []struct {
		name, kind, key, status string
		do                      func()
	}{
		// A flipped bit in compressed bytes breaks the deflate stream or the
		// hash, depending on where it lands.
		{"flipped bit in a log file", "Log file", logKey, "INVALID:", func() {
			s.tamper(t, "signed-logs", logKey, func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b })
		}},
		// (The CLI inflates without checking gzip's trailer, so the cut
		// must reach the data.)
		{"truncated log file", "Log file", logKey, "INVALID:", func() {
			s.tamper(t, "signed-logs", logKey, func(b []byte) []byte { return b[:len(b)/2] })
		}},
		{"appended log file", "Log file", logKey, "INVALID: hash value doesn't match", func() {
			s.tamper(t, "signed-logs", logKey, regzip(func(p []byte) []byte { return append(p, ' ') }))
		}},
		{"re-gzipped log file with changed JSON", "Log file", logKey, "INVALID: hash value doesn't match", func() {
			s.tamper(t, "signed-logs", logKey, regzip(func(p []byte) []byte {
				return bytes.Replace(p, []byte(`"awsRegion":"eu-west-1"`), []byte(`"awsRegion":"eu-west-2"`), 1)
			}))
		}},
		{"deleted log file", "Log file", logKey, "INVALID: not found", func() { s.remove(t, "signed-logs", logKey) }},
		{"deleted digest file", "Digest file", digestKey, "INVALID: not found", func() { s.remove(t, "signed-logs", digestKey) }},
		{"flipped bit in a digest file", "Digest file", digestKey, "INVALID:", func() {
			s.tamper(t, "signed-logs", digestKey, regzip(func(p []byte) []byte {
				return bytes.Replace(p, []byte(`"awsAccountId":"000000000000"`), []byte(`"awsAccountId":"000000000001"`), 1)
			}))
		}},
		{"forged signature", "Digest file", digestKey, "INVALID: signature verification failed", func() {
			s.tamperMeta(t, "signed-logs", digestKey, func(m map[string]string) {
				m["signature"] = strings.Repeat("ab", 256)
			})
		}},
		{"altered previousDigestSignature", "Digest file", digestKey, "INVALID: signature verification failed", func() {
			s.tamper(t, "signed-logs", digestKey, regzip(func(p []byte) []byte {
				i := bytes.Index(p, []byte(`"previousDigestSignature":"`)) + len(`"previousDigestSignature":"`)
				p[i] ^= 0x01
				return p
			}))
		}},
	} {
		c.do()
		out, errs, code := s.validateLogs(t, s.url, "eu-west-1", args...)
		want := fmt.Sprintf("%s\ts3://signed-logs/%s\t%s", c.kind, c.key, c.status)
		if code != 1 || !strings.Contains(errs, want) {
			t.Errorf("%s: exit %d, want 1 and %q\n%s\n%s", c.name, code, want, out, errs)
		}
		restore()
	}
	// Restored, the trail is valid again.
	if out, errs, code := s.validateLogs(t, s.url, "eu-west-1", args...); code != 0 {
		t.Errorf("after restoring: exit %d\n%s\n%s", code, out, errs)
	}

	// Rotate the signing key in the middle of the trail: digests signed
	// before and after both verify, with the keys ListPublicKeys returns.
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("OPENTRAIL_ENDPOINT", s.url)
	before, _, _ := runCLI(t, "keys", "list", "--region", "eu-west-1")
	if out, errs, code := runCLI(t, "keys", "rotate", "--region", "eu-west-1"); code != 0 || !strings.Contains(errs, "rotated") {
		t.Fatalf("keys rotate: %d %s %s", code, out, errs)
	}
	rotated := time.Now().UTC()
	postWorkload(t, s, "validate-3", 100)
	s.waitDelivered(t, "test", "eu-west-1", "signed", time.Now(), 20*time.Second)
	for s.latestDigestEnd(t, "signed-logs") < rotated.Add(4*time.Second).Format("20060102T150405Z") {
		time.Sleep(200 * time.Millisecond)
	}
	after, _, _ := runCLI(t, "keys", "list", "--region", "eu-west-1")
	if strings.Count(after, "\n") != strings.Count(before, "\n")+1 {
		t.Errorf("keys before rotation:\n%s\nafter:\n%s", before, after)
	}
	args[5] = time.Now().UTC().Format(time.RFC3339)
	out, errs, code = s.validateLogs(t, s.url, "eu-west-1", args...)
	if code != 0 || errs != "" {
		t.Fatalf("validate-logs across a key rotation: exit %d\n%s\n%s", code, out, errs)
	}
	fps := map[string]bool{}
	for _, k := range s.listKeys(t, "signed-logs", "audit/AWSLogs/000000000000/CloudTrail-Digest/") {
		data, _, err := s.fsBucket(t, "signed-logs").Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		zr, _ := gzip.NewReader(bytes.NewReader(data))
		plain, _ := io.ReadAll(zr)
		var d struct{ DigestPublicKeyFingerprint string }
		json.Unmarshal(plain, &d)
		fps[d.DigestPublicKeyFingerprint] = true
	}
	if len(fps) != 2 {
		t.Errorf("digests signed with %d keys, want 2 (before and after the rotation)", len(fps))
	}
	t.Logf("across the rotation:\n%s", lastLines(out, 3))

	// A newer AWS CLI, when the machine has one, reaches S3 through
	// AWS_ENDPOINT_URL and must agree.
	if bin := newerAWSCLI(); bin != "" {
		cmd := exec.Command(bin, append([]string{"--region", "eu-west-1", "cloudtrail", "validate-logs"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+s.url, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_PAGER=",
			"AWS_CONFIG_FILE="+filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(t.TempDir(), "none"))
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if err != nil || !strings.Contains(o.String(), "digest files valid") || strings.Contains(o.String(), "INVALID") {
			t.Errorf("%s validate-logs: %v\n%s\n%s", bin, err, o.String(), e.String())
		} else {
			t.Logf("%s:\n%s", bin, lastLines(o.String(), 3))
		}
	}
}

// newerAWSCLI returns an AWS CLI on PATH other than Debian's 2.9.19 that
// honours AWS_ENDPOINT_URL (awscli ≥ 1.29 or ≥ 2.13), or "".
func newerAWSCLI() string {
	bin, err := exec.LookPath("aws")
	if err != nil {
		return ""
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return ""
	}
	var major, minor int
	if _, err := fmt.Sscanf(string(out), "aws-cli/%d.%d", &major, &minor); err != nil {
		return ""
	}
	if major == 1 && minor >= 29 || major == 2 && minor >= 13 || major > 2 {
		return bin
	}
	return ""
}

// latestDigestEnd is the time in the newest digest's name.
func (s *server) latestDigestEnd(t testing.TB, bucket string) string {
	last := ""
	for _, k := range s.listKeys(t, bucket, "") {
		if i := strings.LastIndex(k, "_"); strings.Contains(k, "/CloudTrail-Digest/") && i > 0 {
			if ts := strings.TrimSuffix(k[i+1:], ".json.gz"); ts > last {
				last = ts
			}
		}
	}
	return last
}

// remove deletes an object of the built-in store behind the server's back
// (the S3 API refuses deletes).
func (s *server) remove(t testing.TB, bucket, key string) {
	t.Helper()
	base := filepath.Base(key)
	var victims []string
	filepath.Walk(filepath.Join(s.data, "buckets", bucket, "objects"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && filepath.Base(p) == base {
			victims = append(victims, p)
		}
		return nil
	})
	if len(victims) == 0 {
		t.Fatalf("%s not found on disk", key)
	}
	for _, v := range victims { // the object and its metadata sidecar
		if err := os.Remove(v); err != nil {
			t.Fatal(err)
		}
	}
}

// tamperMeta rewrites an object's user metadata.
func (s *server) tamperMeta(t testing.TB, bucket, key string, change func(map[string]string)) {
	t.Helper()
	b := s.fsBucket(t, bucket)
	data, info, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	change(info.Meta)
	if err := b.Put(context.Background(), key, data, info.Meta); err != nil {
		t.Fatal(err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// digestCount counts digest files in a built-in bucket.
func (s *server) digestCount(t testing.TB, bucket string) int {
	n := 0
	for _, k := range s.listKeys(t, bucket, "") {
		if strings.Contains(k, "/CloudTrail-Digest/") {
			n++
		}
	}
	return n
}

// listKeys lists a built-in bucket through the server's S3 API.
func (s *server) listKeys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	c := s3Client(s.url, "test", "test")
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, *o.Key)
		}
	}
	return keys
}

// tamper rewrites an object of the built-in store behind the server's
// back, as an attacker with access to the disk would.
func (s *server) tamper(t testing.TB, bucket, key string, change func([]byte) []byte) {
	t.Helper()
	b := s.fsBucket(t, bucket)
	data, info, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(context.Background(), key, change(data), info.Meta); err != nil {
		t.Fatal(err)
	}
}

// snapshot keeps objects of a built-in bucket (bytes and metadata) and
// returns a function that puts them back, as tamper cases need.
func (s *server) snapshot(t testing.TB, bucket string, keys ...string) (restore func()) {
	t.Helper()
	type saved struct {
		data []byte
		meta map[string]string
	}
	fb := s.fsBucket(t, bucket)
	orig := map[string]saved{}
	for _, k := range keys {
		data, info, err := fb.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		orig[k] = saved{data, info.Meta}
	}
	return func() {
		for k, o := range orig {
			if err := fb.Put(context.Background(), k, o.data, o.meta); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// fsBucket opens a bucket of the server's built-in store directly.
func (s *server) fsBucket(t testing.TB, bucket string) objstore.Bucket {
	t.Helper()
	reg, err := objstore.OpenFSBuckets(filepath.Join(s.data, "buckets"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := reg.Bucket(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAWSCLIValidateLogsOnS3 checks digests opentrail delivered to a real
// S3-compatible server (S3 user metadata, not the built-in store's
// sidecars) with the AWS CLI reading that server.
func TestAWSCLIValidateLogsOnS3(t *testing.T) {
	v := startVersitygw(t)
	// The CLI signs CloudTrail and S3 calls with the same credentials:
	// local mode accepts the secret "test" for any key, so the gateway
	// gets the same pair.
	v.stop()
	v.Access, v.Secret = "test", "test"
	v.start()
	gw := s3Client(v.url(), v.Access, v.Secret)
	if _, err := gw.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("ext-signed")}); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, fmt.Sprintf("object_store:\n  type: s3\n  endpoint: %s\n  path_style: true\n  access_key_id: test\n  secret_access_key: test\n", v.url()))
	s := startServer(t, "", "--config", cfg, "--delivery-interval", "1s", "--digest-interval", "2s")
	for _, c := range [][]string{
		{"cloudtrail", "create-trail", "--name", "ext-signed", "--s3-bucket-name", "ext-signed", "--enable-log-file-validation"},
		{"cloudtrail", "start-logging", "--name", "ext-signed"},
	} {
		if out, errs, code := s.awsCLI(t, "test", "eu-west-1", c...); code != 0 {
			t.Fatalf("aws %s: %d %s %s", strings.Join(c, " "), code, out, errs)
		}
	}
	begin := time.Now().UTC().Add(-time.Minute)
	postWorkload(t, s, "validate-s3", 200)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := s.trailStatus(t, "test", "eu-west-1", "ext-signed")
		if st.LatestDigestDeliveryTime > float64(time.Now().Add(-time.Second).Unix()) && st.DeliveredThroughTime > float64(time.Now().Add(-time.Second).Unix()) {
			time.Sleep(3 * time.Second) // one more digest period
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("digests not delivered: %+v\n%s", st, s.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	args := []string{"--trail-arn", "arn:aws:cloudtrail:eu-west-1:000000000000:trail/ext-signed",
		"--start-time", begin.Format(time.RFC3339), "--end-time", time.Now().UTC().Format(time.RFC3339)}
	out, errs, code := s.validateLogs(t, v.url(), "eu-west-1", args...)
	if code != 0 || !strings.Contains(out, "digest files valid") || strings.Contains(out, "INVALID") {
		t.Fatalf("validate-logs against the S3 server: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("on the S3 server:\n%s", lastLines(out, 3))
	// A newer AWS CLI, when the machine has one: AWS_ENDPOINT_URL for S3,
	// --endpoint-url for CloudTrail, as docs/integrity.md says.
	if bin := newerAWSCLI(); bin != "" {
		cmd := exec.Command(bin, append([]string{"--endpoint-url", s.url, "--region", "eu-west-1", "cloudtrail", "validate-logs"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+v.url(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_PAGER=",
			"AWS_CONFIG_FILE="+filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(t.TempDir(), "none"))
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil || !strings.Contains(o.String(), "digest files valid") || strings.Contains(o.String(), "INVALID") {
			t.Errorf("%s validate-logs: %v\n%s\n%s", bin, err, o.String(), e.String())
		}
	}
	// Overwrite one log file on the gateway: the CLI names it.
	list, err := gw.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("ext-signed"), Prefix: aws.String("AWSLogs/000000000000/CloudTrail/eu-west-1/")})
	if err != nil || len(list.Contents) == 0 {
		t.Fatalf("list: %v", err)
	}
	key := *list.Contents[0].Key
	if _, err := gw.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("ext-signed"), Key: aws.String(key),
		Body: bytes.NewReader(gzipBytes([]byte(`{"Records":[]}`)))}); err != nil {
		t.Fatal(err)
	}
	out, errs, code = s.validateLogs(t, v.url(), "eu-west-1", args...)
	if want := "Log file\ts3://ext-signed/" + key + "\tINVALID: hash value doesn't match"; code != 1 || !strings.Contains(errs, want) {
		t.Fatalf("after overwriting a log file: exit %d, want 1 and %q\n%s\n%s", code, want, out, errs)
	}
}

func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}
