package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/store"
)

// TestImport imports a CloudTrail bucket layout and the public test data
// into a running server with `opentrail import`, finds an imported event
// with `aws cloudtrail lookup-events`, and imports again to add nothing.
func TestImport(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	s := startServer(t, "")

	// A bucket: 3 log files of 4 events, a digest file and a corrupt file.
	dir := t.TempDir()
	now := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Minute)
	day := now.Format("2006/01/02")
	for f := range 3 {
		var recs []string
		for i := range 4 {
			recs = append(recs, string(record(recOpts{id: uuid("import", f*4+i), name: "CreateBucket", source: "s3.amazonaws.com", t: now.Add(time.Duration(i) * time.Second)})))
		}
		key := fmt.Sprintf("AWSLogs/000000000000/CloudTrail/us-east-1/%s/000000000000_CloudTrail_us-east-1_%sZ_%016d.json.gz", day, now.Format("20060102T1504"), f)
		gz(t, filepath.Join(dir, key), `{"Records":[`+strings.Join(recs, ",")+`]}`)
	}
	// An Insights file: a Start and an End of one insight.
	var insight []string
	for i, state := range []string{"Start", "End"} {
		insight = append(insight, fmt.Sprintf(`{"eventVersion":"1.08","eventTime":%q,"awsRegion":"us-east-1","eventID":%q,`+
			`"eventType":"AwsCloudTrailInsight","recipientAccountId":"000000000000","sharedEventID":%q,"insightDetails":{"state":%q,`+
			`"eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","insightType":"ApiCallRateInsight","insightContext":`+
			`{"statistics":{"baseline":{"average":0.02},"insight":{"average":4},"insightDuration":5,"baselineDuration":10080}}},"eventCategory":"Insight"}`,
			now.Add(time.Duration(i)*5*time.Minute).Format(time.RFC3339), uuid("insight", i), uuid("insight", 9), state))
	}
	gz(t, filepath.Join(dir, "AWSLogs/000000000000/CloudTrail-Insight/us-east-1/"+day+"/000000000000_CloudTrail-Insight_us-east-1_"+now.Format("20060102T1504")+"Z_abcdefghijklmnop.json.gz"),
		`{"Records":[`+strings.Join(insight, ",")+`]}`)
	gz(t, filepath.Join(dir, "AWSLogs/000000000000/CloudTrail-Digest/us-east-1/"+day+"/000000000000_CloudTrail-Digest_us-east-1_t_us-east-1_"+now.Format("20060102T150405Z")+".json.gz"), `{}`)
	os.WriteFile(filepath.Join(dir, "AWSLogs/000000000000/CloudTrail/us-east-1/"+day+"/broken.json"), []byte(`{"Records":[{"eventVersion":`), 0o600)

	state := filepath.Join(t.TempDir(), "state.ndjson")
	out, errs, code := runCLI(t, "import", "--endpoint", s.url, "--state", state, "--parallel", "2", dir)
	if code != 0 || !strings.Contains(out, "records: 14 read, 14 new, 0 duplicates (already stored), 0 conflicting duplicates (not stored), 0 repaired, 0 rejected") ||
		!strings.Contains(out, "files: 3 log, 1 Insights, 1 digest (not imported), 1 bad; 0 finished earlier") {
		t.Fatalf("import: %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "broken.json") {
		t.Errorf("the bad file is not reported: %s", errs)
	}

	stdout, stderr, code := s.awsCLI(t, "test", "us-east-1", "cloudtrail", "lookup-events",
		"--lookup-attributes", "AttributeKey=EventId,AttributeValue="+uuid("import", 5))
	if code != 0 || !strings.Contains(stdout, `"EventName": "CreateBucket"`) {
		t.Fatalf("lookup-events: %d %s %s", code, stdout, stderr)
	}
	// The Insights events are where CloudTrail puts them: in the Insight
	// category of the event history.
	stdout, stderr, code = s.awsCLI(t, "test", "us-east-1", "cloudtrail", "lookup-events", "--event-category", "insight")
	if code != 0 || strings.Count(stdout, `"EventId": "`+uuid("insight", 0)[:8]) != 2 || !strings.Contains(stdout, `\"state\":\"End\"`) {
		t.Fatalf("lookup-events --event-category insight: %d %s %s", code, stdout, stderr)
	}

	// Again with the state: the three files are skipped. Without it
	// (--fresh): read again, nothing added.
	out, _, code = runCLI(t, "import", "--endpoint", s.url, "--state", state, dir)
	if code != 0 || !strings.Contains(out, "records: 0 read, 0 new") || !strings.Contains(out, "4 finished earlier") {
		t.Fatalf("resumed import: %d %s", code, out)
	}
	out, _, code = runCLI(t, "import", "--endpoint", s.url, "--state", state, "--fresh", dir)
	if code != 0 || !strings.Contains(out, "records: 14 read, 0 new, 14 duplicates (already stored)") {
		t.Fatalf("fresh import: %d %s", code, out)
	}

	// The public records, repaired where needed, pass the server's strict
	// validation: only the 19 with no time at all (and no date folder to
	// take one from) are rejected; panther's records that reuse an eventID
	// with other content are conflicting duplicates.
	pub := "../../../shared/testdata/public"
	scen, _ := filepath.Glob(filepath.Join(pub, "panther-analysis/scenario_*.json"))
	args := append([]string{"import", "--endpoint", s.url, "--state", filepath.Join(t.TempDir(), "s"),
		filepath.Join(pub, "stratus-red-team"), filepath.Join(pub, "panther-analysis/panther_cloudtrail_rule_test_records.ndjson")}, scen...)
	out, errs, code = runCLI(t, args...)
	if code != 0 || !strings.Contains(out, "records: 801 read, 475 new, 10 duplicates (already stored), 297 conflicting duplicates (not stored), 170 repaired, 19 rejected") {
		t.Fatalf("public import: %d\n%s\n%s", code, out, errs)
	}

	// --data on the directory the server holds fails with a clear error.
	_, errs, code = runCLI(t, "import", "--data", s.data, "--state", filepath.Join(t.TempDir(), "s"), dir)
	if code != 1 || !strings.Contains(errs, "in use by another process") {
		t.Fatalf("--data on a served store: %d %s", code, errs)
	}

	// The import's PutEvents calls say so in their audit records, and the
	// store marks every imported event, which retention then spares; the
	// server's own audit records are not marked.
	stdout, stderr, code = s.awsCLI(t, "test", "us-east-1", "cloudtrail", "lookup-events",
		"--lookup-attributes", "AttributeKey=EventName,AttributeValue=PutEvents", "--max-results", "1")
	if code != 0 || !strings.Contains(stdout, `\"imported\":true`) {
		t.Fatalf("PutEvents audit record: %d %s %s", code, stdout, stderr)
	}
	s.stop()
	st, err := store.Open(context.Background(), s.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var imported, other int
	if err := st.DB().QueryRow(`SELECT count(*) FILTER (imported), count(*) FILTER (imported IS NOT TRUE) FROM events`).Scan(&imported, &other); err != nil {
		t.Fatal(err)
	}
	if imported != 14+475 || other == 0 {
		t.Fatalf("%d events marked imported (want %d), %d not (want the audit records)", imported, 14+475, other)
	}
}

// TestImportInterrupted stops `opentrail import --data` with SIGINT while
// it runs, as Ctrl-C does: it exits with 130 and says how to resume; the
// next run skips the files the first one finished and stores the rest, so
// every event is stored exactly once.
func TestImportInterrupted(t *testing.T) {
	dir := t.TempDir()
	const files, perFile = 300, 400
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for f := range files {
		recs := make([]string, perFile)
		for i := range recs {
			recs[i] = string(record(recOpts{id: uuid("interrupt", f*perFile+i), name: "GetObject", source: "s3.amazonaws.com", t: at}))
		}
		key := fmt.Sprintf("AWSLogs/000000000000/CloudTrail/us-east-1/2025/06/01/000000000000_CloudTrail_us-east-1_20250601T1200Z_%016d.json.gz", f)
		gz(t, filepath.Join(dir, key), `{"Records":[`+strings.Join(recs, ",")+`]}`)
	}
	data, state := t.TempDir(), filepath.Join(t.TempDir(), "state.ndjson")
	args := []string{"import", "--data", data, "--state", state, "--parallel", "1", "--batch", "400", dir}

	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "OPENTRAIL_E2E_AS_COMMAND=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &lockedWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once some files are recorded as finished.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, _ := os.ReadFile(state); bytes.Count(b, []byte("\n")) >= 5 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no file finished within 30 s: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("interrupted import: %v, want exit 130\n%s\n%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") || !strings.Contains(stderr.String(), "run the same command again to resume") {
		t.Fatalf("the interruption does not say how to resume:\n%s", stderr.String())
	}
	b, _ := os.ReadFile(state)
	done := bytes.Count(b, []byte("\n"))
	if done >= files {
		t.Fatalf("every file finished before the interruption (%d); the test needs a slower import", done)
	}

	// The same command again: the finished files are skipped, the rest
	// stored, nothing twice.
	out, errs, code := runCLI(t, args...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d finished earlier", done)) {
		t.Fatalf("resumed import: %d\n%s\n%s", code, out, errs)
	}
	st, err := store.Open(context.Background(), data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n, distinct int
	if err := st.DB().QueryRow(`SELECT count(*), count(DISTINCT eid_hash) FROM events`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != files*perFile || distinct != n {
		t.Fatalf("%d events stored (%d distinct), want %d once each", n, distinct, files*perFile)
	}
}

func gz(t *testing.T, path, body string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(body))
	zw.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestImportFromS3 imports a CloudTrail bucket on a real S3-compatible
// server with `opentrail import s3://…`.
func TestImportFromS3(t *testing.T) {
	v := startVersitygw(t)
	v.stop()
	v.Access, v.Secret = "test", "test" // the same credentials sign the server's and S3's requests
	v.start()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	s := startServer(t, "")
	gw := s3Client(v.url(), "test", "test")
	ctx := context.Background()
	if _, err := gw.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("old-trail")}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
	for f := range 4 {
		var recs []string
		for i := range 5 {
			recs = append(recs, string(record(recOpts{id: uuid("import-s3", f*5+i), name: "PutObject", region: "eu-west-1", t: now})))
		}
		key := fmt.Sprintf("archive/AWSLogs/000000000000/CloudTrail/eu-west-1/%s/000000000000_CloudTrail_eu-west-1_%sZ_%016d.json.gz",
			now.Format("2006/01/02"), now.Format("20060102T1504"), f)
		if _, err := gw.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("old-trail"), Key: aws.String(key),
			Body: bytes.NewReader(gzipBytes([]byte(`{"Records":[` + strings.Join(recs, ",") + `]}`)))}); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"import", "--endpoint", s.url, "--endpoint-url", v.url(), "--s3-path-style", "--s3-region", "us-east-1",
		"--state", filepath.Join(t.TempDir(), "state"), "s3://old-trail/archive/"}
	// Run as its own process, so that whatever the S3 SDK logs to the
	// process's stderr is seen: a summary, and no per-object warnings.
	cmd := exec.Command(os.Args[0], append([]string{"import", "--quiet"}, args[1:]...)...)
	cmd.Env = append(os.Environ(), "OPENTRAIL_E2E_AS_COMMAND=1")
	var stdoutB, stderrB bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdoutB, &stderrB
	err := cmd.Run()
	out, errs := stdoutB.String(), stderrB.String()
	if err != nil || !strings.Contains(out, "files: 4 log, 0 Insights, 0 digest (not imported), 0 bad") ||
		!strings.Contains(out, "records: 20 read, 20 new, 0 duplicates") || errs != "" {
		t.Fatalf("import from S3: %v\n%s\nstderr:\n%s", err, out, errs)
	}
	stdout, stderr, code := s.awsCLI(t, "test", "eu-west-1", "cloudtrail", "lookup-events",
		"--lookup-attributes", "AttributeKey=EventId,AttributeValue="+uuid("import-s3", 7))
	if code != 0 || !strings.Contains(stdout, `"EventName": "PutObject"`) {
		t.Fatalf("lookup-events: %d %s %s", code, stdout, stderr)
	}
	// Again: the files are finished.
	out, _, code = runCLI(t, args...)
	if code != 0 || !strings.Contains(out, "4 finished earlier") {
		t.Fatalf("second import from S3: %d %s", code, out)
	}
}
