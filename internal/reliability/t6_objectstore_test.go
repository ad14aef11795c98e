package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/testserver"
)

// TestT6ObjectStoreDown stops the S3-compatible server a trail delivers to
// for several delivery intervals while events keep coming: the trail's
// status shows the error within an interval, delivery catches up once the
// server is back, every event is delivered exactly once and the digests
// validate with the AWS CLI.
func TestT6ObjectStoreDown(t *testing.T) {
	// Mostly waiting for delivery windows: run alongside the other delivery tests.
	t.Parallel()
	describe(t, "T6", "A trail with log file validation delivers to a real S3-compatible server (versitygw) configured "+
		"as the object store. While events arrive steadily, versitygw is killed for several delivery intervals: "+
		"GetTrailStatus must show LatestDeliveryError within an interval; versitygw is started again and delivery must "+
		"catch up. Every eventID is then counted over all delivered log files (exactly once each), and `aws cloudtrail "+
		"validate-logs` must find every digest and log file of the run valid.")
	const interval = 2 * time.Second
	outage := time.Duration(pick(4, 30)) * interval
	v := testserver.StartVersitygw(t, "test", "test") // the local-mode credentials: one set serves the AWS CLI for both
	cfg := filepath.Join(t.TempDir(), "opentrail.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("object_store:\n  type: s3\n  endpoint: %s\n  path_style: true\n  access_key_id: test\n  secret_access_key: test\n", v.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "--config", cfg, "--delivery-interval", interval.String(), "--digest-interval", (2 * interval).String())
	begin := time.Now().Add(-time.Minute)
	newTrail(t, s.URL, trailSpec{region: "us-east-1", name: "t6-trail", bucket: "t6-trail", validation: true, s3: v.URL})

	ing := startSteadyIngest(t, s, "t6-trail", 20, 200*time.Millisecond)
	time.Sleep(interval)
	waitDelivered(t, s.URL, "us-east-1", "t6-trail", time.Now(), 10*interval)

	v.Stop()
	down := time.Now()
	var errorAfter time.Duration
	for {
		st := trailStatus(t, s.URL, "us-east-1", "t6-trail")
		if st.LatestDeliveryError != "" {
			errorAfter = time.Since(down)
			t.Logf("with the object store down: LatestDeliveryError %q", st.LatestDeliveryError)
			break
		}
		if time.Since(down) > outage+10*interval {
			t.Fatalf("no LatestDeliveryError %v after the object store went down", time.Since(down))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Until(down.Add(outage)))
	v.Start()
	up := time.Now()
	time.Sleep(interval)
	last := ing.halt()
	waitDelivered(t, s.URL, "us-east-1", "t6-trail", last, pick(60*time.Second, 10*time.Minute))
	catchUp := time.Since(up)
	if e := trailStatus(t, s.URL, "us-east-1", "t6-trail").LatestDeliveryError; e != "" {
		t.Errorf("LatestDeliveryError still %q after delivery caught up", e)
	}

	// Every event delivered exactly once.
	files, count := deliveredIDs(t, s3API(v.URL), "t6-trail")
	lost, dup, ex := ing.acks.check(count)
	for id, n := range count {
		if n > 1 && !ing.acks.sent[id] { // the server's records of its own calls
			dup++
			ex = append(ex, fmt.Sprintf("%s delivered %d times", id, n))
		}
	}
	_, acked := ing.acks.counts()

	// The digests of the whole run validate, across the outage: wait for
	// the digest period holding the last delivery to close.
	time.Sleep(3 * interval)
	end := time.Now()
	out, errs, code := testserver.AWSValidateLogs(t, s.URL, v.URL, "us-east-1", rangeArgs("arn:aws:cloudtrail:us-east-1:000000000000:trail/t6-trail", begin, end)...)
	dv, di, lv, li := validateSummary(out)
	if code != 0 || di+li != 0 || dv == 0 || lv == 0 {
		t.Errorf("aws cloudtrail validate-logs: exit %d\n%s\n%s", code, tailOf(out, 2000), errs)
	}

	figure(t, "T6", "object store down for", outage.Seconds(), "s", fmt.Sprintf("%v (%d delivery intervals)", outage, outage/interval))
	figure(t, "T6", "seconds until LatestDeliveryError shows", errorAfter.Seconds(), "s", fmt.Sprintf("≤ %v (one interval + 4 s)", interval+4*time.Second))
	figure(t, "T6", "catch-up: seconds from the store's return to delivered through the last event", catchUp.Seconds(), "s", fmt.Sprintf("≤ %v", 5*interval+10*time.Second))
	figure(t, "T6", "events acknowledged", float64(acked), "", "")
	figure(t, "T6", "log files delivered", float64(files), "", "")
	figure(t, "T6", "events lost", float64(lost), "", "= 0")
	figure(t, "T6", "events delivered more than once", float64(dup), "", "= 0")
	figure(t, "T6", "digest files valid (aws cloudtrail validate-logs)", float64(dv), "", "> 0")
	figure(t, "T6", "digest and log files invalid", float64(di+li), "", "= 0")
	if errorAfter > interval+4*time.Second {
		t.Errorf("LatestDeliveryError showed %v after the object store went down; the interval is %v", errorAfter, interval)
	}
	if catchUp > 5*interval+10*time.Second {
		t.Errorf("delivery caught up %v after the object store came back", catchUp)
	}
	if lost != 0 || dup != 0 {
		t.Errorf("%d acknowledged events not delivered, %d delivered more than once: %v", lost, dup, ex)
	}
}
