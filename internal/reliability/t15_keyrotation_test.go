package reliability

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/testserver"
)

// TestT15KeyRotation delivers, rotates the digest signing key with
// `opentrail keys rotate` mid-stream, delivers more, rotates again, and
// has the AWS CLI validate every digest of the whole range.
func TestT15KeyRotation(t *testing.T) {
	// Mostly waiting for delivery windows: run alongside the other delivery tests.
	t.Parallel()
	rotations := pick(2, 20)
	describe(t, "T15", fmt.Sprintf("A trail with log file validation delivers while events arrive; between deliveries the "+
		"digest signing key is rotated with `opentrail keys rotate` (%d times). `aws cloudtrail validate-logs` over the "+
		"whole range must verify every digest, signed with each of the keys, and every log file.", rotations))
	const interval = time.Second
	s := startServer(t, "", "--delivery-interval", interval.String(), "--digest-interval", (2 * interval).String())
	begin := time.Now().Add(-time.Minute)
	newTrail(t, s.URL, trailSpec{region: "us-east-1", name: "t15-trail", bucket: "t15-trail", validation: true})
	env := []string{"OPENTRAIL_ENDPOINT=" + s.URL, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_REGION=us-east-1"}

	deliver := func(phase int) {
		t.Helper()
		deliverWithDigest(t, s, "t15-trail", fmt.Sprintf("t15-%d", phase))
	}
	for r := range rotations {
		deliver(r)
		if out, errs, code := testserver.Command(t, env, "keys", "rotate", "--region", "us-east-1"); code != 0 {
			t.Fatalf("opentrail keys rotate: exit %d %s %s", code, out, errs)
		}
	}
	deliver(rotations)
	time.Sleep(2 * 2 * interval) // the last digest period closes
	end := time.Now()

	out, errs, code := testserver.AWSValidateLogs(t, s.URL, s.URL, "us-east-1", rangeArgs("arn:aws:cloudtrail:us-east-1:000000000000:trail/t15-trail", begin, end)...)
	dv, di, lv, li := validateSummary(out)
	keys := digestKeys(t, s3API(s.URL), "t15-trail")
	figure(t, "T15", "key rotations", float64(rotations), "", "")
	figure(t, "T15", "digest signing keys used", float64(len(keys)), "", fmt.Sprintf("= %d (rotations + 1)", rotations+1))
	figure(t, "T15", "digest files verified (aws cloudtrail validate-logs)", float64(dv), "", fmt.Sprintf("≥ %d", rotations+1))
	figure(t, "T15", "log files verified", float64(lv), "", "> 0")
	figure(t, "T15", "digest and log files invalid", float64(di+li), "", "= 0")
	if code != 0 || di+li != 0 || dv < rotations+1 || lv == 0 || len(keys) != rotations+1 {
		t.Errorf("validate-logs across %d rotations: exit %d, %d keys used %v\n%s\n%s", rotations, code, len(keys), keys, tailOf(out, 3000), errs)
	}
}

// digestKeys counts the digests of bucket by the fingerprint of the key
// that signed them.
func digestKeys(t testing.TB, c *s3.Client, bucket string) map[string]int {
	t.Helper()
	keys := map[string]int{}
	for _, d := range readDigests(t, c, bucket) {
		keys[d.DigestPublicKeyFingerprint]++
	}
	return keys
}
