package reliability

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/testserver"
)

// TestT4GapsReported plants gaps in a delivered trail — a log file
// deleted, a digest deleted, logging stopped for a while — and checks
// that both the AWS CLI's and opentrail's validate-logs report each one;
// and that a stretch with no activity is covered by digests that list no
// log files, not by silence.
func TestT4GapsReported(t *testing.T) {
	// Mostly waiting for delivery windows: run alongside the other delivery tests.
	t.Parallel()
	describe(t, "T4", "A trail with log file validation delivers to the built-in bucket (delivery every 1 s, digests "+
		"every 2 s). Events arrive, then nothing happens for several digest periods, then logging is stopped for several "+
		"periods and started again. A delivered log file and a digest file are then deleted. `aws cloudtrail validate-logs` "+
		"and `opentrail validate-logs` over the whole range must each report every planted gap; the quiet stretch must be "+
		"covered by digests that list no log files, in an unbroken chain.")
	const period = 2 * time.Second
	s := startServer(t, "", "--delivery-interval", "1s", "--digest-interval", period.String())
	begin := time.Now().Add(-time.Minute)
	const trail, arn = "t4-trail", "arn:aws:cloudtrail:us-east-1:000000000000:trail/t4-trail"
	newTrail(t, s.URL, trailSpec{region: "us-east-1", name: trail, bucket: trail, validation: true})
	ct := ctAPI(s.URL, "us-east-1")

	deliverWithDigest(t, s, trail, "t4-a")
	quietFrom := time.Now()
	time.Sleep(time.Duration(pick(3, 30)) * period) // no activity: no call at all
	quietTo := time.Now()
	deliverWithDigest(t, s, trail, "t4-b")
	if _, err := ct.StopLogging(context.Background(), &cloudtrail.StopLoggingInput{Name: aws.String(trail)}); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	time.Sleep(time.Duration(pick(3, 30)) * period)
	if _, err := ct.StartLogging(context.Background(), &cloudtrail.StartLoggingInput{Name: aws.String(trail)}); err != nil {
		t.Fatal(err)
	}
	deliverWithDigest(t, s, trail, "t4-c")
	deliverWithDigest(t, s, trail, "t4-d")
	time.Sleep(2 * period)
	end := time.Now()

	// The quiet stretch: digests with no log files, each starting where
	// the one before ended.
	c := s3API(s.URL)
	digests := readDigests(t, c, trail)
	empty, breaks := 0, 0
	for i, d := range digests {
		if d.DigestStartTime.After(quietFrom) && d.DigestEndTime.Before(quietTo) {
			if len(d.LogFiles) == 0 {
				empty++
			}
			if i > 0 && !digests[i-1].DigestEndTime.Equal(d.DigestStartTime) {
				breaks++
			}
		}
	}

	// Plant: a log file of the first phase and a digest of the quiet
	// stretch are deleted.
	var logKey, digestKey string
	for _, d := range digests {
		if logKey == "" && len(d.LogFiles) > 0 {
			logKey = d.LogFiles[0].S3Object
		}
		if digestKey == "" && len(d.LogFiles) == 0 && d.DigestStartTime.After(quietFrom) && d.DigestEndTime.Before(quietTo) {
			digestKey = d.key
		}
	}
	if logKey == "" || digestKey == "" {
		t.Fatalf("no log file (%q) or quiet digest (%q) to delete among %d digests", logKey, digestKey, len(digests))
	}
	// The S3 API refuses to delete delivered files: they go on disk, as
	// someone with access to the data directory would remove them.
	for _, k := range []string{logKey, digestKey} {
		removeObjectFiles(t, s.Data, trail, k)
	}
	planted := []struct{ name, want string }{
		{"log file deleted", "Log file\ts3://" + trail + "/" + logKey + "\tINVALID: not found"},
		{"digest file deleted", "Digest file\ts3://" + trail + "/" + digestKey + "\tINVALID: not found"},
		{"logging stopped", "No log files were delivered by CloudTrail between "},
	}

	var awsOut, awsErr string
	var awsCode int
	awsDone := make(chan struct{})
	go func() {
		defer close(awsDone)
		awsOut, awsErr, awsCode = testserver.AWSValidateLogs(t, s.URL, s.URL, "us-east-1", rangeArgs(arn, begin, end)...)
	}()
	otOut, otErr, otCode := testserver.Command(t, []string{"OPENTRAIL_ENDPOINT=" + s.URL, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"},
		append([]string{"validate-logs", "--region", "us-east-1"}, rangeArgs(arn, begin, end)...)...)
	<-awsDone
	reported := map[string]int{}
	for _, p := range planted {
		for tool, out := range map[string]string{"aws": awsOut + awsErr, "opentrail": otOut + otErr} {
			if strings.Contains(out, p.want) {
				reported[tool]++
			} else {
				t.Errorf("%s validate-logs does not report %s (%q)", tool, p.name, p.want)
			}
		}
	}
	// The stop is reported inside its own window, and opentrail says why.
	if i := strings.Index(otOut+otErr, "No log files were delivered by CloudTrail between "); i >= 0 {
		line := strings.SplitN((otOut + otErr)[i:], "\n", 2)[0]
		t.Logf("opentrail on the stop: %s", line)
		if !strings.Contains(strings.ToLower(line), "stop") {
			t.Errorf("opentrail validate-logs does not say logging was stopped (at %s): %s", stoppedAt.UTC().Format(time.RFC3339), line)
		}
	}
	if awsCode == 0 || otCode == 0 {
		t.Errorf("validate-logs exit codes with files missing: aws %d, opentrail %d", awsCode, otCode)
	}
	figure(t, "T4", "gaps planted (log file deleted, digest deleted, logging stopped)", float64(len(planted)), "", "3")
	figure(t, "T4", "gaps reported by aws cloudtrail validate-logs", float64(reported["aws"]), "", "= planted")
	figure(t, "T4", "gaps reported by opentrail validate-logs", float64(reported["opentrail"]), "", "= planted")
	figure(t, "T4", "digests with no log files over the quiet stretch", float64(empty), "", fmt.Sprintf("≥ %d", pick(3, 30)-2))
	figure(t, "T4", "breaks in the digest chain over the quiet stretch", float64(breaks), "", "= 0")
	if empty < pick(3, 30)-2 || breaks != 0 {
		t.Errorf("quiet stretch of %v: %d digests with no log files, %d breaks in the chain", quietTo.Sub(quietFrom), empty, breaks)
	}
	if t.Failed() {
		t.Logf("aws validate-logs (exit %d):\n%s\n%s\nopentrail validate-logs (exit %d):\n%s\n%s", awsCode, tailOf(awsOut, 3000), awsErr, otCode, tailOf(otOut, 3000), otErr)
	}
}

// removeObjectFiles deletes a built-in bucket's object (and its metadata
// sidecar) from the data directory.
func removeObjectFiles(t testing.TB, data, bucket, key string) {
	t.Helper()
	base := filepath.Base(key)
	var victims []string
	filepath.Walk(filepath.Join(data, "buckets", bucket, "objects"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && filepath.Base(p) == base {
			victims = append(victims, p)
		}
		return nil
	})
	if len(victims) == 0 {
		t.Fatalf("%s not found on disk", key)
	}
	for _, v := range victims {
		if err := os.Remove(v); err != nil {
			t.Fatal(err)
		}
	}
}
