package reliability

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/testserver"
)

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
	v := startVersitygw(t)
	cfg := filepath.Join(t.TempDir(), "opentrail.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("object_store:\n  type: s3\n  endpoint: %s\n  path_style: true\n  access_key_id: test\n  secret_access_key: test\n", v.url)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "--config", cfg, "--delivery-interval", interval.String(), "--digest-interval", (2 * interval).String())
	begin := time.Now().Add(-time.Minute)
	newTrail(t, s.URL, trailSpec{region: "us-east-1", name: "t6-trail", bucket: "t6-trail", validation: true, s3: v.url})

	ing := startSteadyIngest(t, s, "t6-trail", 20, 200*time.Millisecond)
	time.Sleep(interval)
	waitDelivered(t, s.URL, "us-east-1", "t6-trail", time.Now(), 10*interval)

	v.stop()
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
	v.start()
	up := time.Now()
	time.Sleep(interval)
	last := ing.halt()
	waitDelivered(t, s.URL, "us-east-1", "t6-trail", last, pick(60*time.Second, 10*time.Minute))
	catchUp := time.Since(up)
	if e := trailStatus(t, s.URL, "us-east-1", "t6-trail").LatestDeliveryError; e != "" {
		t.Errorf("LatestDeliveryError still %q after delivery caught up", e)
	}

	// Every event delivered exactly once.
	files, count := deliveredIDs(t, s3API(v.url), "t6-trail")
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
	out, errs, code := awsValidateLogs(t, s.URL, v.url, "us-east-1", rangeArgs("arn:aws:cloudtrail:us-east-1:000000000000:trail/t6-trail", begin, end)...)
	dv, di, lv, li := validateSummary(out)
	if code != 0 || di+li != 0 || dv == 0 || lv == 0 {
		t.Errorf("aws cloudtrail validate-logs: exit %d\n%s\n%s", code, tail(out, 2000), errs)
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
