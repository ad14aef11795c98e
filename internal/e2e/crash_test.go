package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/store"
)

// TestCrashKeepsAcknowledgedEvents kills the server with SIGKILL in the
// middle of sustained concurrent ingest, restarts it, and checks that every
// acknowledged eventID is stored exactly once.
func TestCrashKeepsAcknowledgedEvents(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)

	const clients, batch = 8, 250
	var (
		mu    sync.Mutex
		acked [][]byte
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; ; b++ {
				select {
				case <-stop:
					return
				default:
				}
				recs := make([][]byte, batch)
				for i := range recs {
					recs[i] = record(recOpts{id: uuid(fmt.Sprintf("crash-%d-%d", c, b), i)})
				}
				req := signedRequest(t, creds("test"), "opentrail", "us-east-1", "POST", s.url+"/v1/events", nil, bytes.Join(recs, []byte("\n")))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server is gone
				}
				var r struct{ Accepted int }
				ok := resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&r) == nil && r.Accepted == batch
				resp.Body.Close()
				if !ok {
					return
				}
				mu.Lock()
				acked = append(acked, recs...)
				mu.Unlock()
			}
		}()
	}
	// Kill once ingest is sustained: on a loaded machine the first
	// thousand acknowledgements can take longer than any fixed sleep.
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 1000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // in the middle of the next batches
	s.kill()
	close(stop)
	wg.Wait()
	if len(acked) < 1000 {
		t.Fatalf("only %d events acknowledged before the kill; the test needs sustained ingest (none came within 60 s)", len(acked))
	}
	t.Logf("%d events acknowledged before SIGKILL", len(acked))

	// Restart on the same data: every acknowledged event is there (a
	// re-send is all duplicates) ...
	s = startServer(t, dir)
	for i := 0; i < len(acked); i += 2000 {
		part := acked[i:min(i+2000, len(acked))]
		if acc, dup := s.postEvents(t, "test", part); acc != 0 || dup != len(part) {
			t.Fatalf("after restart: %d of %d acknowledged events were missing", acc, len(part))
		}
	}
	s.stop()

	// ... and stored exactly once.
	st, err := store.Open(context.Background(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	count := map[string]int{}
	for seq := int64(0); ; {
		evs, err := st.ReadAfter(context.Background(), seq, 5000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			count[e.Rec.EventID]++
		}
		seq = evs[len(evs)-1].Seq
	}
	for id, n := range count {
		if n != 1 {
			t.Fatalf("event %s stored %d times", id, n)
		}
	}
	for _, r := range acked {
		var rec struct{ EventID string }
		json.Unmarshal(r, &rec)
		if count[rec.EventID] != 1 {
			t.Fatalf("acknowledged event %s is missing", rec.EventID)
		}
	}
}
