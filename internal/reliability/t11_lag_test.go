package reliability

import (
	"fmt"
	"testing"
	"time"
)

// TestT11DeliveryLag ingests steadily for a while and measures, for every
// event, the time from its acknowledgement to its log file appearing in
// the trail's bucket.
func TestT11DeliveryLag(t *testing.T) {
	// Mostly waiting for delivery windows: run alongside the other delivery tests.
	t.Parallel()
	interval := pick(3*time.Second, time.Minute)
	run := pick(30*time.Second, 2*time.Hour)
	describe(t, "T11", fmt.Sprintf("Events arrive steadily (20 every 200 ms) for %v; a trail delivers them to the built-in bucket "+
		"with a delivery interval of %v. The bucket is listed every 250 ms; an event's delivery lag is the time from its "+
		"acknowledgement to the listing that first shows its log file.", run, interval))
	s := startServer(t, "", "--delivery-interval", interval.String())
	newTrail(t, s.URL, trailSpec{region: "us-east-1", name: "t11-trail", bucket: "t11-trail"})
	c := s3API(s.URL)

	ing := startSteadyIngest(t, s, "t11", 20, 200*time.Millisecond)
	seen := map[string]time.Time{} // eventID → when its log file was first listed
	known := map[string]bool{}     // log keys read
	poll := func() {
		for _, k := range bucketKeys(t, c, "t11-trail", "") {
			if !isLogKey(k) || known[k] {
				continue
			}
			now := time.Now()
			known[k] = true
			for _, id := range logFileIDs(t, c, "t11-trail", k) {
				if _, ok := seen[id]; !ok {
					seen[id] = now
				}
			}
		}
	}
	stopAt := time.Now().Add(run)
	for time.Now().Before(stopAt) {
		poll()
		time.Sleep(250 * time.Millisecond)
	}
	last := ing.halt()
	for deadline := time.Now().Add(interval + 30*time.Second); time.Now().Before(deadline); {
		poll()
		ing.mu.Lock()
		_, ok := seen[lastID(ing)]
		ing.mu.Unlock()
		if ok {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}

	var lags []time.Duration
	missing := 0
	ing.mu.Lock()
	for id, at := range ing.ackedAt {
		if got, ok := seen[id]; ok {
			lags = append(lags, got.Sub(at))
		} else {
			missing++
		}
	}
	ing.mu.Unlock()
	bound := interval + 5*time.Second
	figure(t, "T11", "run length", run.Seconds(), "s", "")
	figure(t, "T11", "delivery interval", interval.Seconds(), "s", "")
	figure(t, "T11", "events delivered", float64(len(lags)), "", "")
	figure(t, "T11", "log files", float64(len(known)), "", "")
	figure(t, "T11", "events not delivered", float64(missing), "", "= 0")
	figure(t, "T11", "delivery lag, median", durQuantile(lags, 0.5).Seconds(), "s", fmt.Sprintf("≤ %v (interval + 2 s)", interval+2*time.Second))
	figure(t, "T11", "delivery lag, p99", durQuantile(lags, 0.99).Seconds(), "s", fmt.Sprintf("≤ %v (interval + 5 s)", bound))
	figure(t, "T11", "delivery lag, max", durQuantile(lags, 1).Seconds(), "s", fmt.Sprintf("≤ %v", bound+5*time.Second))
	if missing != 0 {
		t.Errorf("%d acknowledged events not delivered within %v of the last one (%v)", missing, interval+30*time.Second, last)
	}
	if durQuantile(lags, 0.5) > interval+2*time.Second || durQuantile(lags, 0.99) > bound || durQuantile(lags, 1) > bound+5*time.Second {
		t.Errorf("delivery lag median %v, p99 %v, max %v; the interval is %v", durQuantile(lags, 0.5), durQuantile(lags, 0.99), durQuantile(lags, 1), interval)
	}
}

// lastID is an eventID of the last acknowledged batch (ing.mu held).
func lastID(ing *steady) string {
	for id, at := range ing.ackedAt {
		if at.Equal(ing.last) {
			return id
		}
	}
	return ""
}
