package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtraildata"
)

// TestT1KillDuringIngest kills the server with SIGKILL at random moments
// of concurrent ingest through both doors (POST /v1/events and
// PutAuditEvents), restarts it each time, and checks that every
// acknowledged event is stored exactly once and no other more than once.
func TestT1KillDuringIngest(t *testing.T) {
	describe(t, "T1", "Several clients post batches concurrently through POST /v1/events and PutAuditEvents; the server "+
		"is killed with SIGKILL at a random moment, restarted on the same data, and killed again. After each restart the "+
		"events acknowledged in that round are re-sent and must all come back as duplicates; at the end the event store is "+
		"read in full: every acknowledged eventID is stored exactly once, every unacknowledged one at most once.")
	kills := pick(5, 200)
	dir := t.TempDir()
	s := startServer(t, dir)
	channel := createChannel(t, s.URL, "t1-app")
	all := newAckSet()
	var restarts []time.Duration
	lostOnRestart := 0

	for r := range kills {
		var (
			native   [][][]byte // acknowledged native batches of this round
			nativeMu sync.Mutex
			wg       sync.WaitGroup
		)
		ctx, cancel := context.WithCancel(context.Background())
		for c := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := 0; ctx.Err() == nil; b++ {
					recs, ids := nativeBatch(fmt.Sprintf("t1-%d-n%d-%d", r, c, b), 100, "RunInstances")
					all.send(ids...)
					status, res, err := s.PostEvents(ctx, t, "test", recs)
					if err != nil || status != 200 {
						return
					}
					if res.Accepted != len(recs) {
						t.Errorf("a fresh batch: accepted %d of %d (%+v)", res.Accepted, len(recs), res)
						return
					}
					all.ack(ids...)
					nativeMu.Lock()
					native = append(native, recs)
					nativeMu.Unlock()
				}
			}()
		}
		dc := dataAPI(s.URL, nil)
		for c := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := 0; ctx.Err() == nil; b++ {
					evs := auditEvents(fmt.Sprintf("t1-%d-a%d-%d", r, c, b), 50, "Refund")
					out, err := dc.PutAuditEvents(ctx, &cloudtraildata.PutAuditEventsInput{ChannelArn: aws.String(channel), AuditEvents: evs})
					if err != nil {
						return
					}
					if len(out.Failed) > 0 {
						t.Errorf("PutAuditEvents: %d failed: %s %s", len(out.Failed), aws.ToString(out.Failed[0].ErrorCode), aws.ToString(out.Failed[0].ErrorMessage))
						return
					}
					var ids []string
					for _, r := range out.Successful {
						ids = append(ids, aws.ToString(r.EventID))
					}
					all.ack(ids...)
					// Sent: known only from the answer; an unanswered
					// request's eventIDs are the server's to derive.
					all.send(ids...)
				}
			}()
		}
		// A random moment once ingest is flowing: after the round's first
		// acknowledgement.
		for start := time.Now(); time.Since(start) < 30*time.Second; {
			time.Sleep(10 * time.Millisecond)
			nativeMu.Lock()
			n := len(native)
			nativeMu.Unlock()
			if n > 0 {
				break
			}
		}
		time.Sleep(time.Duration(rand.IntN(1500)) * time.Millisecond)
		s.Kill()
		cancel()
		wg.Wait()
		if t.Failed() {
			return
		}
		restarts = append(restarts, s.Restart())

		// The round's acknowledged native batches, re-sent: all duplicates.
		for _, recs := range native {
			status, res, err := s.PostEvents(context.Background(), t, "test", recs)
			if err != nil || status != 200 {
				t.Fatalf("re-sending an acknowledged batch after restart: %d %v", status, err)
			}
			if res.Accepted != 0 {
				lostOnRestart += res.Accepted
				t.Errorf("round %d: %d acknowledged events were not in the store after the restart (a re-send stored them)", r, res.Accepted)
			}
		}
	}
	s.Stop()

	stored := storedCounts(t, dir)
	lost, dup, ex := all.check(stored)
	lost += lostOnRestart
	// PutAuditEvents requests that were never answered sent eventIDs the
	// test cannot know, and the server's records of its own calls are in
	// the store too: no eventID at all may be stored twice.
	dup = 0
	for id, n := range stored {
		if n > 1 {
			dup++
			ex = append(ex, fmt.Sprintf("%s stored %d times", id, n))
		}
	}
	sent, acked := all.counts()
	if acked < kills*100 {
		t.Errorf("only %d events acknowledged over %d rounds; the test needs sustained ingest", acked, kills)
	}
	figure(t, "T1", "kills (SIGKILL during ingest)", float64(kills), "", fmt.Sprintf("%d", kills))
	figure(t, "T1", "acknowledged events checked", float64(acked), "", "≥ 100 per kill")
	figure(t, "T1", "unacknowledged events sent (stored at most once)", float64(sent-acked), "", "")
	figure(t, "T1", "acknowledged events lost", float64(lost), "", "= 0")
	figure(t, "T1", "events stored more than once (any eventID in the store)", float64(dup), "", "= 0")
	figure(t, "T1", "restart time, median", durQuantile(restarts, 0.5).Seconds(), "s", "≤ 10 s")
	figure(t, "T1", "restart time, max", durQuantile(restarts, 1).Seconds(), "s", "≤ 15 s")
	if lost != 0 || dup != 0 {
		t.Errorf("%d acknowledged events lost, %d events stored more than once: %v", lost, dup, ex)
	}
	if durQuantile(restarts, 0.5) > 10*time.Second || durQuantile(restarts, 1) > 15*time.Second {
		t.Errorf("restart time median %v, max %v", durQuantile(restarts, 0.5), durQuantile(restarts, 1))
	}
}
