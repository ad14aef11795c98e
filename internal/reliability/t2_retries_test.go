package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtraildata"
	datatypes "github.com/aws/aws-sdk-go-v2/service/cloudtraildata/types"

	"github.com/opentrail/opentrail/internal/testserver"
)

// Faults faultProxy injects, named by the request header faultHeader.
const (
	faultHeader    = "X-Reliability-Fault"
	faultNone      = ""
	fault503Before = "503-before" // answered 503 without reaching the server (a load balancer shedding load)
	fault503After  = "503-after"  // the server answered; the client is told 503
	faultCut       = "cut"        // the server answered; the connection is cut before the answer
	faultTimeout   = "timeout"    // the server answered; the answer is held until the client gives up
)

var t2Faults = []string{fault503Before, fault503After, faultCut, faultTimeout}

// faultProxy forwards requests to a server and breaks the answer as the
// request's faultHeader says. The header is not signed, so it does not
// disturb SigV4; it is removed before forwarding.
type faultProxy struct {
	url     string
	backend string
	srv     *http.Server
	reached atomic.Int64 // requests forwarded to the server

	// Of POST /v1/events: events forwarded, and the counts of the answers
	// the client never saw.
	forwardedEvents                       atomic.Int64
	swallowedAccepted, swallowedDuplicate atomic.Int64
	swallowedConflicts                    atomic.Int64
}

func startFaultProxy(t testing.TB, backend string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{url: "http://" + ln.Addr().String(), backend: backend}
	p.srv = &http.Server{Handler: p}
	go p.srv.Serve(ln)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fault := r.Header.Get(faultHeader)
	r.Header.Del(faultHeader)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if fault == fault503Before {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"__type":"ServiceUnavailableException","message":"upstream busy"}`)
		return
	}
	req, err := http.NewRequest(r.Method, p.backend+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	req.Host = r.Host
	p.reached.Add(1)
	native := r.URL.Path == "/v1/events"
	if native {
		p.forwardedEvents.Add(int64(len(bytes.Fields(body))))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// An answer the client never reads (a fault keeps it, or the client
	// gave up waiting on a loaded machine) is counted here.
	if native && (fault != faultNone || r.Context().Err() != nil) && resp.StatusCode == 200 {
		var r testserver.PostResult
		json.Unmarshal(out, &r)
		p.swallowedAccepted.Add(int64(r.Accepted))
		p.swallowedDuplicate.Add(int64(r.Duplicates))
		p.swallowedConflicts.Add(int64(r.Conflicts))
	}
	switch fault {
	case fault503After:
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"__type":"ServiceUnavailableException","message":"upstream timed out"}`)
	case faultCut:
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
	case faultTimeout:
		<-r.Context().Done()
	default:
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(out)
	}
}

// faultTransport sets faultHeader on each request from next().
type faultTransport struct{ next func() string }

func (f faultTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if fault := f.next(); fault != "" {
		r = r.Clone(r.Context())
		r.Header.Set(faultHeader, fault)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestT2RetriesAndDuplicates has clients that retry: the same batch sent
// again after a 503, a cut connection or a timeout (the first attempt
// having reached the server or not), batches re-sent by other clients
// while the first is in flight, and conflicting duplicates; through POST
// /v1/events and PutAuditEvents. Every event is stored exactly once, every
// duplicate is reported as one and every conflict as a conflict.
func TestT2RetriesAndDuplicates(t *testing.T) {
	describe(t, "T2", "Clients send batches through a proxy that breaks answers: 503 before the server sees the request, "+
		"503 or a cut connection or a withheld answer after the server stored it. Each client retries the same batch until "+
		"it gets an answer; other clients send the same batches concurrently and again later; some batches come back with "+
		"the same eventIDs (PutAuditEvents: the same UIDs) and different content. The event store is read at the end: "+
		"every event stored exactly once, the first version of each conflicting one kept, each duplicate and conflict reported.")
	dir := t.TempDir()
	s := startServer(t, dir)
	proxy := startFaultProxy(t, s.URL)
	channel := createChannel(t, s.URL, "t2-app")

	clients, batches, size := 4, pick(12, 300), 50
	var (
		mu                                   sync.Mutex
		all                                  = newAckSet()
		ackedBatches                         [][][]byte
		sent, retried, accepted, dupReported int
		conflictsWant, conflictsReported     int
		conflictsPAE                         int // of conflictsWant, through PutAuditEvents
		byFault                              = map[string]int{}
		original                             = map[string]string{} // eventID → eventName first stored
		nativeIDs                            int
	)
	// send posts recs through the proxy until it gets a 200, the first
	// attempt with fault; it returns the 200's counts.
	send := func(ctx context.Context, recs [][]byte, fault string) (testserver.PostResult, error) {
		body := bytes.Join(recs, []byte("\n"))
		for attempt := 0; ; attempt++ {
			if attempt > 20 {
				return testserver.PostResult{}, errors.New("no answer after 20 attempts")
			}
			req := testserver.Sign(t, testserver.Creds("test"), "opentrail", "us-east-1", "POST", proxy.url+"/v1/events", nil, body)
			if attempt == 0 && fault != "" {
				req.Header.Set(faultHeader, fault) // after signing: the proxy removes it
			}
			actx, cancel := context.WithTimeout(ctx, pick(3*time.Second, 10*time.Second))
			if fault == faultTimeout && attempt == 0 {
				// Give up once the proxy has had time to forward.
				cancel()
				actx, cancel = context.WithTimeout(ctx, 1500*time.Millisecond)
			}
			resp, err := http.DefaultClient.Do(req.WithContext(actx))
			if err == nil {
				out, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if rerr == nil && resp.StatusCode == 200 {
					cancel()
					var r testserver.PostResult
					if err := json.Unmarshal(out, &r); err != nil {
						return r, err
					}
					return r, nil
				}
				if resp.StatusCode != 503 && rerr == nil {
					cancel()
					return testserver.PostResult{}, fmt.Errorf("answer %d %s", resp.StatusCode, out)
				}
			}
			cancel()
			mu.Lock()
			retried++
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}

	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for b := range batches {
				recs, ids := nativeBatch(fmt.Sprintf("t2-n%d-%d", c, b), size, "RunInstances")
				all.send(ids...)
				fault := faultNone
				if rand.IntN(3) > 0 {
					fault = t2Faults[rand.IntN(len(t2Faults))]
				}
				// Sometimes a second client sends the same new batch at once.
				twin := make(chan testserver.PostResult, 1)
				twinned := rand.IntN(4) == 0
				if twinned {
					go func() {
						r, err := send(ctx, recs, faultNone)
						if err != nil {
							t.Errorf("twin: %v", err)
						}
						twin <- r
					}()
				}
				r, err := send(ctx, recs, fault)
				if err != nil {
					t.Errorf("client %d batch %d: %v", c, b, err)
					return
				}
				answers := []testserver.PostResult{r}
				if twinned {
					answers = append(answers, <-twin)
				}
				for _, a := range answers {
					if a.Accepted+a.Duplicates != size || a.Conflicts != 0 {
						t.Errorf("batch %d/%d (fault %q): %+v", c, b, fault, a)
					}
				}
				all.ack(ids...)
				mu.Lock()
				sent++
				if twinned {
					sent++
				}
				byFault[fault]++
				for _, a := range answers {
					accepted += a.Accepted
					dupReported += a.Duplicates
				}
				ackedBatches = append(ackedBatches, recs)
				for _, id := range ids {
					original[id] = "RunInstances"
				}
				nativeIDs += len(ids)
				var again [][]byte
				if len(ackedBatches) > 1 && rand.IntN(3) == 0 {
					again = ackedBatches[rand.IntN(len(ackedBatches))]
				}
				mu.Unlock()
				// A batch acknowledged before, sent again by this client.
				if again != nil {
					r, err := send(ctx, again, faultNone)
					if err != nil || r.Accepted != 0 || r.Duplicates != len(again) {
						t.Errorf("an acknowledged batch re-sent: %+v %v", r, err)
					}
					mu.Lock()
					sent++
					dupReported += r.Duplicates
					mu.Unlock()
				}
				// A conflicting duplicate: same eventIDs, other content.
				if b%4 == 3 {
					conf, _ := nativeBatch(fmt.Sprintf("t2-n%d-%d", c, b), 5, "TerminateInstances")
					r, err := send(ctx, conf, faultNone)
					if err != nil || r.Accepted != 0 || r.Conflicts != len(conf) {
						t.Errorf("conflicting duplicates: %+v %v", r, err)
					}
					mu.Lock()
					sent++
					conflictsWant += len(conf)
					conflictsReported += r.Conflicts
					mu.Unlock()
				}
			}
		}()
	}

	// PutAuditEvents through the proxy with the SDK, retried by hand.
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx := context.Background()
		var next atomic.Value
		next.Store("")
		hc := &http.Client{Transport: faultTransport{next: func() string { return next.Swap("").(string) }}}
		dc := dataAPI(proxy.url, hc)
		put := func(evs []datatypes.AuditEvent, fault string) *cloudtraildata.PutAuditEventsOutput {
			for attempt := 0; attempt < 20; attempt++ {
				if attempt == 0 {
					next.Store(fault)
				}
				actx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
				if fault != faultTimeout || attempt > 0 {
					cancel()
					actx, cancel = context.WithTimeout(ctx, pick(3*time.Second, 10*time.Second))
				}
				out, err := dc.PutAuditEvents(actx, &cloudtraildata.PutAuditEventsInput{ChannelArn: aws.String(channel), AuditEvents: evs})
				cancel()
				if err == nil {
					return out
				}
				mu.Lock()
				retried++
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
			t.Errorf("PutAuditEvents: no answer after 20 attempts")
			return &cloudtraildata.PutAuditEventsOutput{}
		}
		for b := range batches {
			evs := auditEvents(fmt.Sprintf("t2-a-%d", b), size, "Refund")
			fault := t2Faults[rand.IntN(len(t2Faults))]
			out := put(evs, fault)
			again := put(evs, faultNone) // the same ids: the same eventIDs, stored once
			if len(out.Successful) != size || len(again.Successful) != size || len(out.Failed)+len(again.Failed) != 0 {
				t.Errorf("PutAuditEvents batch %d (fault %q): %d and %d successful, %d and %d failed", b, fault,
					len(out.Successful), len(again.Successful), len(out.Failed), len(again.Failed))
				continue
			}
			var ids []string
			for i, r := range out.Successful {
				if aws.ToString(again.Successful[i].EventID) != aws.ToString(r.EventID) {
					t.Errorf("the same UID got eventIDs %s and %s", aws.ToString(r.EventID), aws.ToString(again.Successful[i].EventID))
				}
				ids = append(ids, aws.ToString(r.EventID))
			}
			all.send(ids...)
			all.ack(ids...)
			mu.Lock()
			sent += 2
			byFault[fault]++
			for _, id := range ids {
				original[id] = "Refund"
			}
			mu.Unlock()
			if b%4 == 3 {
				// Same UIDs, other content: refused per event, naming the stored one.
				conf := put(auditEvents(fmt.Sprintf("t2-a-%d", b), 5, "Chargeback"), faultNone)
				reported := 0
				for _, f := range conf.Failed {
					if strings.Contains(aws.ToString(f.ErrorMessage), "already stored") {
						reported++
					}
				}
				if reported != 5 || len(conf.Successful) != 0 {
					t.Errorf("conflicting PutAuditEvents: %d successful, %d failed as conflicts", len(conf.Successful), reported)
				}
				mu.Lock()
				sent++
				conflictsWant += 5
				conflictsPAE += 5
				conflictsReported += reported
				mu.Unlock()
			}
		}
	}()
	wg.Wait()
	s.Stop()

	want := map[string]bool{}
	for id := range original {
		want[id] = true
	}
	rawByID := storedEvents(t, dir, want)
	stored := map[string]int{}
	kept := 0
	for id, raws := range rawByID {
		stored[id] = len(raws)
		if len(raws) == 1 && strings.Contains(raws[0], `"eventName":"`+original[id]+`"`) {
			kept++
		}
	}
	lost, dup, ex := all.check(stored)
	// Every event that reached the server is reported as exactly one of
	// accepted, duplicate or conflict; the answers a fault kept from the
	// client count too.
	accepted += int(proxy.swallowedAccepted.Load())
	dupReported += int(proxy.swallowedDuplicate.Load())
	conflictsReported += int(proxy.swallowedConflicts.Load())
	dupWant := int(proxy.forwardedEvents.Load()) - nativeIDs - conflictsWant + conflictsPAE
	if accepted != nativeIDs {
		t.Errorf("POST /v1/events accepted %d events in all, for %d distinct ones", accepted, nativeIDs)
	}
	_, acked := all.counts()
	figure(t, "T2", "requests answered (batches of 50 events)", float64(sent), "", "")
	figure(t, "T2", "faults injected (503 before/after the server, cut connection, timeout)", float64(len(t2Faults)), "kinds",
		fmt.Sprintf("%d kinds", len(t2Faults)))
	figure(t, "T2", "retries (the same batch sent again)", float64(retried), "", "> 0")
	figure(t, "T2", "events sent", float64(acked), "", "")
	figure(t, "T2", "events stored exactly once, first version kept", float64(kept), "", "= events sent")
	figure(t, "T2", "events lost", float64(lost), "", "= 0")
	figure(t, "T2", "events stored more than once", float64(dup), "", "= 0")
	figure(t, "T2", "duplicates reported (POST /v1/events)", float64(dupReported), "", "= events re-sent")
	figure(t, "T2", "conflicting duplicates reported", float64(conflictsReported), "", fmt.Sprintf("= %d planted", conflictsWant))
	t.Logf("first attempts by fault: %v; requests that reached the server: %d; events forwarded %d, answers kept from the client: %d accepted, %d duplicates, %d conflicts",
		byFault, proxy.reached.Load(), proxy.forwardedEvents.Load(), proxy.swallowedAccepted.Load(), proxy.swallowedDuplicate.Load(), proxy.swallowedConflicts.Load())
	if retried == 0 || lost != 0 || dup != 0 || kept != acked || dupReported != dupWant || conflictsReported != conflictsWant {
		t.Errorf("retried %d, lost %d, stored twice %d, kept %d of %d, duplicates reported %d of %d, conflicts %d of %d: %v",
			retried, lost, dup, kept, acked, dupReported, dupWant, conflictsReported, conflictsWant, ex)
	}
}
