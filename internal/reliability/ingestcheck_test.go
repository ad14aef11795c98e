package reliability

// Helpers of the ingest tests (T1, T2, T5): what was acknowledged, what is
// stored, and clients that do not retry by themselves.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudtraildata"
	datatypes "github.com/aws/aws-sdk-go-v2/service/cloudtraildata/types"

	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/testserver"
)

// ackSet tracks eventIDs: sent, and acknowledged by a 200 answer.
type ackSet struct {
	mu    sync.Mutex
	sent  map[string]bool
	acked map[string]bool
}

func newAckSet() *ackSet { return &ackSet{sent: map[string]bool{}, acked: map[string]bool{}} }

func (a *ackSet) send(ids ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		a.sent[id] = true
	}
}

func (a *ackSet) ack(ids ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		a.acked[id] = true
	}
}

func (a *ackSet) counts() (sent, acked int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.sent), len(a.acked)
}

// check compares the store's counts with the set: every acknowledged
// event stored exactly once (lost, duplicated count the failures), every
// other sent event at most once (duplicated counts those too).
func (a *ackSet) check(stored map[string]int) (lost, duplicated int, examples []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id := range a.acked {
		if stored[id] == 0 {
			lost++
			examples = append(examples, "lost "+id)
		}
	}
	for id := range a.sent {
		if stored[id] > 1 {
			duplicated++
			examples = append(examples, fmt.Sprintf("%s stored %d times", id, stored[id]))
		}
	}
	sort.Strings(examples)
	return lost, duplicated, examples[:min(len(examples), 5)]
}

// storedCounts opens the event store in dir (the server must be stopped)
// and counts how many times each eventID is stored; DuckDB opening it is
// itself a check that nothing is corrupted.
func storedCounts(t testing.TB, dir string) map[string]int {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{LockWait: 10 * time.Second})
	if err != nil {
		t.Fatalf("opening the event store the server left: %v", err)
	}
	defer st.Close()
	count := map[string]int{}
	for seq := int64(0); ; {
		evs, err := st.ReadAfter(ctx, seq, 10000)
		if err != nil {
			t.Fatalf("reading the event store after seq %d: %v", seq, err)
		}
		if len(evs) == 0 {
			return count
		}
		for _, e := range evs {
			count[e.Rec.EventID]++
		}
		seq = evs[len(evs)-1].Seq
	}
}

// storedEvents returns the stored raw record of each eventID in ids.
func storedEvents(t testing.TB, dir string, ids map[string]bool) map[string][]string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{LockWait: 10 * time.Second})
	if err != nil {
		t.Fatalf("opening the event store the server left: %v", err)
	}
	defer st.Close()
	out := map[string][]string{}
	for seq := int64(0); ; {
		evs, err := st.ReadAfter(ctx, seq, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return out
		}
		for _, e := range evs {
			if ids[e.Rec.EventID] {
				out[e.Rec.EventID] = append(out[e.Rec.EventID], string(e.Rec.Raw))
			}
		}
		seq = evs[len(evs)-1].Seq
	}
}

type localCreds string

func (c localCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return testserver.Creds(string(c)), nil
}

// ctAPI is a CloudTrail client for s that does not retry: the tests decide
// what is retried.
func ctAPI(url, region string) *cloudtrail.Client {
	return cloudtrail.New(cloudtrail.Options{Region: region, BaseEndpoint: aws.String(url),
		Credentials: localCreds("test"), Retryer: aws.NopRetryer{}})
}

// dataAPI is a CloudTrail Data client for url that does not retry.
func dataAPI(url string, hc *http.Client) *cloudtraildata.Client {
	o := cloudtraildata.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: localCreds("test"), Retryer: aws.NopRetryer{}}
	if hc != nil {
		o.HTTPClient = hc
	}
	return cloudtraildata.New(o)
}

// createChannel makes a channel for PutAuditEvents and returns its ARN.
func createChannel(t testing.TB, url, name string) string {
	t.Helper()
	out, err := ctAPI(url, "us-east-1").CreateChannel(context.Background(), &cloudtrail.CreateChannelInput{
		Name: aws.String(name), Source: aws.String("Custom"),
		Destinations: []cttypes.Destination{{Type: cttypes.DestinationTypeEventDataStore,
			Location: aws.String("arn:aws:cloudtrail:us-east-1:000000000000:eventdatastore/00000000-0000-4000-8000-000000000001")}},
	})
	if err != nil {
		t.Fatalf("CreateChannel: %v", err)
	}
	return aws.ToString(out.ChannelArn)
}

// auditEvents makes PutAuditEvents entries with UIDs prefix-0.. and the
// given eventName.
func auditEvents(prefix string, n int, name string) []datatypes.AuditEvent {
	evs := make([]datatypes.AuditEvent, n)
	at := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	for i := range evs {
		uid := fmt.Sprintf("%s-%d", prefix, i)
		data, _ := json.Marshal(map[string]any{
			"version": "1.0", "userIdentity": map[string]any{"type": "CustomUser", "principalId": "app-1", "details": map[string]any{}},
			"eventSource": "app.example.com", "eventName": name, "eventTime": at, "UID": uid,
			"recipientAccountId": "000000000000", "sourceIPAddress": "203.0.113.5", "userAgent": "app/1.0",
		})
		evs[i] = datatypes.AuditEvent{Id: aws.String(fmt.Sprintf("e%d", i)), EventData: aws.String(string(data))}
	}
	return evs
}

// nativeBatch makes n records with ids UUID(prefix, 0..n-1).
func nativeBatch(prefix string, n int, name string) (recs [][]byte, ids []string) {
	for i := range n {
		id := eventUUID(prefix, i)
		ids = append(ids, id)
		recs = append(recs, testserver.Record(testserver.Rec{ID: id, Name: name}))
	}
	return recs, ids
}

// eventUUID is a distinct eventID for a prefix and a number (testserver.UUID
// keeps only 32 bits of the prefix, too few for a long run's batches).
func eventUUID(prefix string, i int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", prefix, i)))
	h := hex.EncodeToString(sum[:])
	return h[0:8] + "-" + h[8:12] + "-4" + h[12:15] + "-8" + h[15:18] + "-" + h[18:30]
}

// durQuantile returns the q-quantile (0..1) of ds, nearest rank.
func durQuantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
