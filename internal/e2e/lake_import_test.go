package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestLakeImportAWSCLI copies trail logs into the store as a CloudTrail
// Lake user does, with the Debian AWS CLI: the logs lie in a bucket of a
// real S3-compatible server, the object store opentrail is configured
// with; they are imported with `aws cloudtrail start-import` into the event
// data store list-event-data-stores names, followed with get-import,
// list-imports and list-import-failures, and found with lookup-events; the
// import is still described after a restart.
func TestLakeImportAWSCLI(t *testing.T) {
	v := startVersitygw(t)
	gw := s3Client(v.url(), v.Access, v.Secret)
	ctx := context.Background()
	if _, err := gw.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("old-trail-logs")}); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, fmt.Sprintf("object_store:\n  type: s3\n  endpoint: %s\n  path_style: true\n  access_key_id: %s\n  secret_access_key: %s\n",
		v.url(), v.Access, v.Secret))
	s := startServer(t, "", "--config", cfg)
	cli := func(args ...string) string { t.Helper(); return s.mustCLI(t, "us-east-1", args...) }

	// Three log files of four events today, one a week ago (outside the
	// import's time range, so skipped by its key), and a corrupt file.
	dir := t.TempDir()
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	logFile := func(at time.Time, n int) {
		var recs []string
		for i := range 4 {
			recs = append(recs, string(record(recOpts{id: uuid("lake-import", n*4+i), name: "PutBucketPolicy", source: "s3.amazonaws.com", t: at.Add(time.Duration(i) * time.Second)})))
		}
		key := fmt.Sprintf("AWSLogs/000000000000/CloudTrail/us-east-1/%s/000000000000_CloudTrail_us-east-1_%sZ_%016d.json.gz", at.Format("2006/01/02"), at.Format("20060102T1504"), n)
		gz(t, filepath.Join(dir, key), `{"Records":[`+strings.Join(recs, ",")+`]}`)
	}
	for n := range 3 {
		logFile(now, n)
	}
	logFile(now.Add(-7*24*time.Hour), 3)
	broken := "AWSLogs/000000000000/CloudTrail/us-east-1/" + now.Format("2006/01/02") + "/000000000000_CloudTrail_us-east-1_" + now.Format("20060102T1504") + "Z_broken.json"
	if err := os.WriteFile(filepath.Join(dir, broken), []byte(`{"Records":[{"eventVersion":`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		key, _ := filepath.Rel(dir, path)
		_, err = gw.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("old-trail-logs"), Key: aws.String(filepath.ToSlash(key)), Body: bytes.NewReader(body)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	var stores struct {
		EventDataStores []struct{ EventDataStoreArn string }
	}
	if err := json.Unmarshal([]byte(cli("cloudtrail", "list-event-data-stores")), &stores); err != nil || len(stores.EventDataStores) != 1 {
		t.Fatalf("list-event-data-stores: %v %+v", err, stores)
	}
	eds := stores.EventDataStores[0].EventDataStoreArn
	source := `{"S3":{"S3LocationUri":"s3://old-trail-logs/AWSLogs/","S3BucketRegion":"us-east-1","S3BucketAccessRoleArn":"arn:aws:iam::000000000000:role/lake-import"}}`
	var started struct{ ImportId, ImportStatus string }
	if err := json.Unmarshal([]byte(cli("cloudtrail", "start-import", "--destinations", eds, "--import-source", source,
		"--start-event-time", now.Add(-24*time.Hour).Format(time.RFC3339))), &started); err != nil || len(started.ImportId) != 36 {
		t.Fatalf("start-import: %v %+v", err, started)
	}

	type imp struct {
		ImportId, ImportStatus string
		Destinations           []string
		ImportSource           struct {
			S3 struct{ S3LocationUri string }
		}
		ImportStatistics struct{ PrefixesFound, PrefixesCompleted, FilesCompleted, EventsCompleted, FailedEntries int }
	}
	var got imp
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := json.Unmarshal([]byte(cli("cloudtrail", "get-import", "--import-id", started.ImportId)), &got); err != nil {
			t.Fatal(err)
		}
		if got.ImportStatus == "COMPLETED" || got.ImportStatus == "FAILED" || time.Now().After(deadline) {
			break
		}
	}
	st := got.ImportStatistics
	if got.ImportStatus != "COMPLETED" || len(got.Destinations) != 1 || got.Destinations[0] != eds ||
		got.ImportSource.S3.S3LocationUri != "s3://old-trail-logs/AWSLogs/" ||
		st.PrefixesFound != 1 || st.PrefixesCompleted != 1 || st.FilesCompleted != 4 || st.EventsCompleted != 12 || st.FailedEntries != 1 {
		t.Fatalf("get-import: %+v", got)
	}
	var failures struct {
		Failures []struct{ Location, Status, ErrorType, ErrorMessage string }
	}
	if err := json.Unmarshal([]byte(cli("cloudtrail", "list-import-failures", "--import-id", started.ImportId)), &failures); err != nil ||
		len(failures.Failures) != 1 || failures.Failures[0].Location != "s3://old-trail-logs/"+broken ||
		failures.Failures[0].Status != "FAILED" || failures.Failures[0].ErrorType != "FileError" || failures.Failures[0].ErrorMessage == "" {
		t.Fatalf("list-import-failures: %v %+v", err, failures)
	}
	if out := cli("cloudtrail", "list-imports", "--import-status", "COMPLETED"); !strings.Contains(out, started.ImportId) {
		t.Fatalf("list-imports lacks the import: %s", out)
	}
	if out := cli("cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventId,AttributeValue="+uuid("lake-import", 5)); !strings.Contains(out, `"EventName": "PutBucketPolicy"`) {
		t.Fatalf("lookup-events does not find an imported event: %s", out)
	}
	out := cli("cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=PutBucketPolicy")
	if n := strings.Count(out, `"EventName": "PutBucketPolicy"`); n != 12 {
		t.Fatalf("lookup-events finds %d imported events, want 12 (the week-old file is outside the range)", n)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"start-import", "--import-id", started.ImportId}, "(InvalidParameterException)"},
		{[]string{"start-import", "--destinations", eds, "--import-source", strings.Replace(source, "old-trail-logs", "no-such-bucket", 1)}, "(InvalidImportSourceException)"},
		{[]string{"start-import", "--destinations", "arn:aws:cloudtrail:us-east-1:000000000000:eventdatastore/00000000-0000-4000-8000-000000000000", "--import-source", source}, "(EventDataStoreNotFoundException)"},
		{[]string{"get-import", "--import-id", "00000000-0000-4000-8000-000000000000"}, "(ImportNotFoundException)"},
	} {
		out, errs, code := s.awsCLI(t, "test", "us-east-1", append([]string{"cloudtrail"}, c.args...)...)
		if code != 254 || !strings.Contains(errs, c.want) {
			t.Errorf("aws cloudtrail %s: exit %d, want 254 and %s\n%s%s", strings.Join(c.args, " "), code, c.want, out, errs)
		}
	}

	// After a restart the import is still there, as it was.
	s.stop()
	s = startServer(t, s.data, "--config", cfg)
	var again imp
	if err := json.Unmarshal([]byte(cli("cloudtrail", "get-import", "--import-id", started.ImportId)), &again); err != nil ||
		again.ImportStatus != "COMPLETED" || again.ImportStatistics != got.ImportStatistics {
		t.Fatalf("get-import after a restart: %v %+v", err, again)
	}
}
