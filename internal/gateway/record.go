package gateway

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/capture"
)

// intend commits the call's intent record before it is forwarded, and
// keeps its lease renewed until the final record replaces it.
func (g *Gateway) intend(ctx context.Context, c *call) error {
	rec := capture.Record(&c.ex) // Status 0: the intent
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.o.CommitTimeout)
	defer cancel()
	g.inflight.add(c.ex.EventID)
	if err := g.o.Recorder.Intend(ctx, rec, g.o.Lease); err != nil {
		g.inflight.remove(c.ex.EventID)
		return err
	}
	c.intent = true
	return nil
}

// complete commits the call's final record once its answer has been sent.
// The commit runs in the background, so that a read's latency is not the
// commit; Close waits for it. Its intent, if any, stays leased until then.
func (g *Gateway) complete(c *call) {
	if c.ex.RequestID == "" {
		c.ex.RequestID = c.reqID
	}
	rec := capture.Record(&c.ex)
	g.log.Debug("gateway: call", "event", c.ex.Call.Name, "status", c.ex.Status, "payload", c.auth.ContentSHA256,
		"bytesIn", c.ex.BytesIn, "bytesOut", c.ex.BytesOut, "eventID", c.ex.EventID)
	g.pending.Add(1)
	run := func() {
		defer g.pending.Done()
		g.commit(c, rec)
	}
	select {
	case g.slots <- struct{}{}:
		go func() {
			defer func() { <-g.slots }()
			run()
		}()
	default:
		run() // too many commits waiting: this call waits for its own
	}
}

func (g *Gateway) commit(c *call, rec []byte) {
	defer g.inflight.remove(c.ex.EventID)
	ctx, cancel := context.WithTimeout(context.Background(), g.o.CommitTimeout)
	defer cancel()
	err := g.o.Recorder.Complete(ctx, rec)
	if c.gap {
		g.gaps.forwarded(c, rec, err)
	}
	if err == nil {
		g.stored.Add(1)
		return
	}
	g.log.Warn("gateway: record not stored yet; kept in memory until the store commits", "event", c.ex.Call.Name, "eventID", c.ex.EventID, "err", err)
	// A call whose intent is stored is covered by it (outcome unknown)
	// until its final record is written; any other call is in the gap.
	g.gaps.keep(c, rec, err, !c.intent, g.stored.Load())
}

// inflight holds the eventIDs of calls whose intent is leased.
type inflight struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

func (f *inflight) add(id string) {
	f.mu.Lock()
	if f.ids == nil {
		f.ids = map[string]struct{}{}
	}
	f.ids[id] = struct{}{}
	f.mu.Unlock()
}

func (f *inflight) remove(id string) {
	f.mu.Lock()
	delete(f.ids, id)
	f.mu.Unlock()
}

func (f *inflight) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.ids))
	for id := range f.ids {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// renewLoop extends the leases of calls in flight every Lease/3.
func (g *Gateway) renewLoop() {
	defer g.stopped.Done()
	t := g.clk.NewTicker(g.o.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		ids := g.inflight.list()
		if len(ids) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), g.o.Lease/3)
		if err := g.o.Recorder.Renew(ctx, ids, g.o.Lease); err != nil {
			g.log.Warn("gateway: leases of calls in flight not renewed; a call still running when its lease ends is recorded with its outcome unknown", "calls", len(ids), "err", err)
		}
		cancel()
	}
}

// flushInterval is how often records kept in memory are retried.
const flushInterval = time.Second

// flushLoop writes records kept in memory, and then the gap records, once
// the store commits again.
func (g *Gateway) flushLoop() {
	defer g.stopped.Done()
	t := g.clk.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), g.o.CommitTimeout)
		g.flush(ctx)
		cancel()
	}
}

// flush writes the kept records in order, then one gap record per account.
// A record the store refuses although it has taken another record since
// the last refusal (not a store that is down, but a record it will never
// take) is retried after the others, and dropped as lost after maxTries.
func (g *Gateway) flush(ctx context.Context) {
	for {
		rec, ok := g.gaps.next()
		if !ok {
			break
		}
		err := g.o.Recorder.Complete(ctx, rec)
		if err == nil {
			g.gaps.written()
			g.stored.Add(1)
			continue
		}
		if probe, ok := g.gaps.second(); ok && g.o.Recorder.Complete(ctx, probe) == nil {
			g.gaps.writtenSecond()
			g.stored.Add(1)
		}
		refused, dropped := g.gaps.refused(g.stored.Load())
		if dropped {
			g.log.Error("gateway: the store refuses a kept record; it is lost", "eventID", eventIDOf(rec), "err", err)
		}
		if !refused {
			g.gaps.retry(err)
			return
		}
	}
	for _, gr := range g.gaps.records(g.clk.Now().UTC()) {
		if err := g.o.Recorder.Complete(ctx, gr.rec); err != nil {
			g.gaps.retry(err)
			return
		}
		g.gaps.gapWritten(gr.account, gr.snap)
	}
}

// maxTries bounds the attempts at a kept record the store refuses while
// it takes others.
const maxTries = 3

func eventIDOf(rec []byte) string {
	var r struct {
		EventID string `json:"eventID"`
	}
	_ = json.Unmarshal(rec, &r)
	return r.EventID
}

// gaps accounts for calls whose records could not be committed in time:
// their final records wait in a bounded queue, and each account affected
// gets a CaptureGap record once the queue is written.
type gaps struct {
	mu       sync.Mutex
	limit    int
	queue    []kept
	accounts map[string]*gap
}

// kept is a final record waiting for the store.
type kept struct {
	rec   []byte
	acct  string // its gap's account, "" if it is in none
	tries int    // refusals while the store took other records
	// storedAt is Gateway.stored when it was kept or last refused.
	storedAt uint64
}

// gap is one account's unrecorded interval.
type gap struct {
	first, last time.Time
	forwarded   int // calls forwarded without a committed intent
	recovered   int // records written late
	lost        int // records dropped: the queue was full
	reason      string
	region      string
	eventID     string // the gap record's, kept across retries
}

func (s *gaps) account(c *call, rec []byte) (string, *gap) {
	acct := ""
	if c.ex.Principal != nil {
		acct = c.ex.Principal.AccountID
	}
	if acct == "" {
		acct = c.ex.Account
	}
	if acct == "" {
		var r struct {
			RecipientAccountID string `json:"recipientAccountId"`
		}
		_ = json.Unmarshal(rec, &r)
		acct = r.RecipientAccountID
	}
	if s.accounts == nil {
		s.accounts = map[string]*gap{}
	}
	gp := s.accounts[acct]
	if gp == nil {
		gp = &gap{first: c.ex.Time, region: c.ex.Region}
		s.accounts[acct] = gp
	}
	if c.ex.Time.Before(gp.first) {
		gp.first = c.ex.Time
	}
	if c.ex.Time.After(gp.last) {
		gp.last = c.ex.Time
	}
	return acct, gp
}

// forwarded counts a call forwarded without its intent (fail-open); err
// is the outcome of storing its final record at once.
func (s *gaps) forwarded(c *call, rec []byte, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, gp := s.account(c, rec)
	gp.forwarded++
	if err == nil {
		gp.recovered++
	}
}

// keep queues a final record, or drops it when the queue is full; inGap
// counts it in its account's gap.
func (s *gaps) keep(c *call, rec []byte, err error, inGap bool, stored uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	full := len(s.queue) >= s.limit
	if !inGap && !full {
		s.queue = append(s.queue, kept{rec: rec, storedAt: stored})
		return
	}
	acct, gp := s.account(c, rec)
	gp.reason = err.Error()
	if full {
		gp.lost++
		return
	}
	s.queue = append(s.queue, kept{rec: rec, acct: acct, storedAt: stored})
	gp.recovered++ // written late, once the queue is flushed
}

func (s *gaps) next() ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return nil, false
	}
	return s.queue[0].rec, true
}

func (s *gaps) second() ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) < 2 {
		return nil, false
	}
	return s.queue[1].rec, true
}

func (s *gaps) written() {
	s.mu.Lock()
	s.queue = s.queue[1:]
	s.mu.Unlock()
}

func (s *gaps) writtenSecond() {
	s.mu.Lock()
	s.queue = append(s.queue[:1], s.queue[2:]...)
	s.mu.Unlock()
}

// refused handles the first record's refusal: when the store has taken
// records since its last refusal (stored, the count of records taken, has
// moved), it goes behind the others, or is dropped after maxTries;
// otherwise the store is taken to be down and it stays first.
func (s *gaps) refused(stored uint64) (refused, dropped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := &s.queue[0]
	if stored == k.storedAt {
		return false, false
	}
	k.storedAt = stored
	k.tries++
	moved := *k
	s.queue = s.queue[1:]
	if moved.tries < maxTries {
		s.queue = append(s.queue, moved)
		return true, false
	}
	if gp := s.accounts[moved.acct]; gp != nil && moved.acct != "" {
		gp.recovered--
		gp.lost++
	}
	return true, true
}

func (s *gaps) retry(err error) {
	s.mu.Lock()
	for _, gp := range s.accounts {
		gp.reason = err.Error()
	}
	s.mu.Unlock()
}

// unwritten is the number of records still kept in memory.
func (s *gaps) unwritten() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

type gapRecord struct {
	account string
	snap    gap // the counts the record reports
	rec     []byte
}

// records returns the gap records due: none while records still wait.
func (s *gaps) records(now time.Time) []gapRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 {
		return nil
	}
	var out []gapRecord
	for acct, gp := range s.accounts {
		if gp.eventID == "" {
			gp.eventID = awsapi.NewUUID()
		}
		out = append(out, gapRecord{account: acct, snap: *gp, rec: gapRecordJSON(acct, gp, now)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].account < out[j].account })
	return out
}

// gapWritten takes what a stored gap record reports off its account's
// gap; calls added meanwhile open the next one.
func (s *gaps) gapWritten(acct string, snap gap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gp := s.accounts[acct]
	if gp == nil {
		return
	}
	gp.forwarded -= snap.forwarded
	gp.recovered -= snap.recovered
	gp.lost -= snap.lost
	if gp.forwarded == 0 && gp.recovered == 0 && gp.lost == 0 {
		delete(s.accounts, acct)
		return
	}
	gp.first, gp.eventID = snap.last, ""
}

// GapSource and GapEventName name the record of a capture gap.
const (
	GapSource    = "capture.opentrail"
	GapEventName = "CaptureGap"
)

// gapRecordJSON is the CaptureGap record of one account's gap.
func gapRecordJSON(acct string, gp *gap, now time.Time) []byte {
	region := gp.region
	if region == "" {
		region = "us-east-1"
	}
	type details struct {
		First     string `json:"firstUnrecordedTime"`
		Last      string `json:"lastUnrecordedTime"`
		Forwarded int    `json:"callsForwarded"`
		Recovered int    `json:"recordsRecoveredLate"`
		Lost      int    `json:"recordsLost"`
		Reason    string `json:"reason"`
	}
	rec := struct {
		EventVersion        string            `json:"eventVersion"`
		UserIdentity        map[string]string `json:"userIdentity"`
		EventTime           string            `json:"eventTime"`
		EventSource         string            `json:"eventSource"`
		EventName           string            `json:"eventName"`
		AWSRegion           string            `json:"awsRegion"`
		SourceIPAddress     string            `json:"sourceIPAddress"`
		UserAgent           string            `json:"userAgent"`
		RequestParameters   any               `json:"requestParameters"`
		ResponseElements    any               `json:"responseElements"`
		EventID             string            `json:"eventID"`
		ReadOnly            bool              `json:"readOnly"`
		EventType           string            `json:"eventType"`
		ManagementEvent     bool              `json:"managementEvent"`
		RecipientAccountID  string            `json:"recipientAccountId"`
		ServiceEventDetails details           `json:"serviceEventDetails"`
		EventCategory       string            `json:"eventCategory"`
	}{
		EventVersion:       "1.09",
		UserIdentity:       map[string]string{"accountId": acct, "invokedBy": GapSource},
		EventTime:          now.Format(time.RFC3339),
		EventSource:        GapSource,
		EventName:          GapEventName,
		AWSRegion:          region,
		SourceIPAddress:    GapSource,
		UserAgent:          GapSource,
		EventID:            gp.eventID,
		EventType:          "AwsServiceEvent",
		ManagementEvent:    true,
		RecipientAccountID: acct,
		ServiceEventDetails: details{
			First: gp.first.UTC().Format(time.RFC3339), Last: gp.last.UTC().Format(time.RFC3339),
			Forwarded: gp.forwarded, Recovered: gp.recovered, Lost: gp.lost, Reason: gp.reason,
		},
		EventCategory: "Management",
	}
	b, _ := json.Marshal(rec)
	return b
}
