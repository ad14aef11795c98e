package intents_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/intents"
	"github.com/opentrail/opentrail/internal/store"
)

// The local Recorder is what the capture gateway records through.
var _ capture.Recorder = (*intents.Local)(nil)

// env is a real store and ingester with an intent table beside them.
type env struct {
	st     *store.Store
	in     *ingest.Ingester
	table  *intents.Table
	clk    *clock.Fake
	local  *intents.Local
	reaper *intents.Reaper
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	in := ingest.New(st, ingest.Options{Logger: quiet})
	in.Start()
	e := &env{st: st, in: in, clk: clock.NewFake(time.Now().UTC().Truncate(time.Second))}
	e.table = open(t, dir, intents.Options{})
	e.local = intents.NewLocal(e.table, in, e.clk, quiet)
	e.reaper = intents.NewReaper(intents.ReaperOptions{Table: e.table, Ingester: in, Clock: e.clk, Logger: quiet})
	t.Cleanup(func() {
		in.Close(context.Background())
		st.Close()
	})
	return e
}

// callRecord is a gateway's record of PutObject: the intent (outcome
// unknown) when status is 0, else the final record.
func callRecord(id, account string, status int) []byte {
	extra := `"additionalEventData":{"outcome":"unknown","SignatureVersion":"SigV4"}`
	if status != 0 {
		extra = fmt.Sprintf(`"additionalEventData":{"SignatureVersion":"SigV4","bytesTransferredIn":5},"responseElements":{"x-amz-version-id":"v%d"}`, status)
	}
	return []byte(`{"eventVersion":"1.10","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::` + account +
		`:user/alice","accountId":"` + account + `","accessKeyId":"AKIAEXAMPLE","userName":"alice"},"eventTime":"2026-05-01T12:00:00Z",` +
		`"eventSource":"s3.amazonaws.com","eventName":"PutObject","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.1","userAgent":"aws-cli",` +
		`"requestParameters":{"bucketName":"b","key":"k"},` + extra + `,"requestID":"R1","eventID":"` + id +
		`","readOnly":false,"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"` + account + `","eventCategory":"Data"}`)
}

func uuid(i int) string { return fmt.Sprintf("5e1f0000-0000-4000-8000-%012d", i) }

// stored returns the stored records with eventID id.
func (e *env) stored(t *testing.T, id string) []*event.Record {
	t.Helper()
	evs, err := e.st.Lookup(context.Background(), store.LookupQuery{Attrs: []store.Attr{{Key: "EventId", Value: id}}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var out []*event.Record
	for _, ev := range evs {
		out = append(out, ev.Rec)
	}
	return out
}

func outcome(t *testing.T, r *event.Record) string {
	var v struct {
		AdditionalEventData struct {
			Outcome string `json:"outcome"`
		} `json:"additionalEventData"`
	}
	if err := json.Unmarshal(r.Raw, &v); err != nil {
		t.Fatal(err)
	}
	return v.AdditionalEventData.Outcome
}

func TestCompleteReplacesIntent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := uuid(1)
	if err := e.local.Intend(ctx, callRecord(id, "111111111111", 0), time.Minute); err != nil {
		t.Fatal(err)
	}
	if e.table.Len() != 1 || len(e.stored(t, id)) != 0 {
		t.Fatalf("after Intend: %d intents, %d stored records; want the intent only", e.table.Len(), len(e.stored(t, id)))
	}
	if err := e.local.Complete(ctx, callRecord(id, "111111111111", 200)); err != nil {
		t.Fatal(err)
	}
	recs := e.stored(t, id)
	if e.table.Len() != 0 || len(recs) != 1 || outcome(t, recs[0]) != "" {
		t.Fatalf("after Complete: %d intents, %d records; want the final record only", e.table.Len(), len(recs))
	}
	// Nothing left to reap, even long after.
	e.clk.Advance(time.Hour)
	if n, err := e.reaper.Reap(ctx); n != 0 || err != nil {
		t.Errorf("Reap = %d, %v", n, err)
	}
	// A read recorded after the fact has no intent.
	if err := e.local.Complete(ctx, callRecord(uuid(2), "111111111111", 200)); err != nil {
		t.Fatal(err)
	}
	if len(e.stored(t, uuid(2))) != 1 {
		t.Error("a record without an intent was not stored")
	}
}

func TestRecorderRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"not a record", e.local.Intend(ctx, []byte(`{"x":1}`), time.Minute), "not a valid CloudTrail record"},
		{"lease too short", e.local.Intend(ctx, callRecord(uuid(1), "111111111111", 0), time.Millisecond), "lease 1ms is out of range"},
		{"lease too long", e.local.Renew(ctx, []string{uuid(1)}, 2*time.Hour), "out of range"},
		{"final not a record", e.local.Complete(ctx, []byte(`[]`)), "not a valid CloudTrail record"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, c.err, c.want)
		}
	}
	if e.table.Len() != 0 {
		t.Errorf("%d intents stored from refused calls", e.table.Len())
	}
}

func TestReaperRecordsExpiredIntents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 3 {
		if err := e.local.Intend(ctx, callRecord(uuid(i), "111111111111", 0), 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	e.clk.Advance(5 * time.Second)
	if err := e.local.Renew(ctx, []string{uuid(2)}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(5 * time.Second)
	if n, err := e.reaper.Reap(ctx); n != 2 || err != nil {
		t.Fatalf("Reap at +10s = %d, %v; want 2 (the third was renewed)", n, err)
	}
	for i := range 2 {
		recs := e.stored(t, uuid(i))
		if len(recs) != 1 || outcome(t, recs[0]) != "unknown" {
			t.Fatalf("intent %d: %d records stored; want its intent, outcome unknown", i, len(recs))
		}
	}
	if e.table.Len() != 1 {
		t.Errorf("%d intents left, want the renewed one", e.table.Len())
	}
	// A crash between ingesting and dropping leaves the intent behind:
	// the next pass finds it stored and drops it.
	id := uuid(9)
	if err := e.local.Intend(ctx, callRecord(id, "111111111111", 0), time.Second); err != nil {
		t.Fatal(err)
	}
	r, _ := event.Parse(callRecord(id, "111111111111", 0))
	if _, err := e.in.Submit(ctx, "test", []*event.Record{r}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
	// Accepted: the renewed intent, whose lease ran out meanwhile; the
	// one stored already is a duplicate.
	if n, err := e.reaper.Reap(ctx); n != 1 || err != nil {
		t.Errorf("Reap after a crash = %d, %v; want 1 accepted", n, err)
	}
	if e.table.Len() != 0 || len(e.stored(t, id)) != 1 {
		t.Errorf("after the replayed pass: %d intents, %d records of %s", e.table.Len(), len(e.stored(t, id)), id)
	}
}

// TestReaperRuns checks the started reaper on its clock.
func TestReaperRuns(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.local.Intend(ctx, callRecord(uuid(1), "111111111111", 0), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	e.reaper.Start()
	defer e.reaper.Close(ctx)
	e.clk.BlockUntil(ctx, 1)
	e.clk.Advance(6 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for len(e.stored(t, uuid(1))) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the started reaper did not record the expired intent")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCompleteRacesReaper completes calls while the reaper ingests their
// expired intents: each call ends with exactly one record, the final one
// or the intent, and no intent left.
func TestCompleteRacesReaper(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const n = 200
	for i := range n {
		if err := e.local.Intend(ctx, callRecord(uuid(i), "111111111111", 0), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	e.clk.Advance(2 * time.Second)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range 20 {
			if _, err := e.reaper.Reap(ctx); err != nil {
				t.Error(err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n {
			if err := e.local.Complete(ctx, callRecord(uuid(i), "111111111111", 200)); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	if _, err := e.reaper.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	finals, reaped := 0, 0
	for i := range n {
		recs := e.stored(t, uuid(i))
		if len(recs) != 1 {
			t.Fatalf("call %d: %d records, want 1", i, len(recs))
		}
		if outcome(t, recs[0]) == "unknown" {
			reaped++
		} else {
			finals++
		}
	}
	if e.table.Len() != 0 {
		t.Errorf("%d intents left", e.table.Len())
	}
	t.Logf("%d final records, %d reaped intents", finals, reaped)
}

// TestIntentOfAnotherAccountIsKept checks that a final record drops only
// an intent of its own account.
func TestIntentOfAnotherAccountIsKept(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := uuid(1)
	if err := e.local.Intend(ctx, callRecord(id, "111111111111", 0), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := e.local.Intend(ctx, callRecord(id, "222222222222", 0), time.Minute); err == nil {
		t.Fatal("an intent took another account's eventID")
	}
	if err := e.local.Complete(ctx, callRecord(id, "222222222222", 200)); err != nil {
		t.Fatal(err)
	}
	if acct, _, ok := e.table.Lookup(id); !ok || acct != "111111111111" {
		t.Errorf("the intent of account 111111111111 was dropped by a record of 222222222222")
	}
}
