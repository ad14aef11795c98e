package cloudtraildata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrail"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/store"
)

// memStore is an in-memory Store with the documented lookup semantics.
type memStore struct {
	mu       sync.Mutex
	events   []store.Event
	ids      map[string][]byte // Raw by account and eventID
	seq      int64
	channels map[string]store.Channel
	trails   map[string]store.Trail
	lookups  int
	fail     error // returned by every method when set
}

func newMemStore() *memStore {
	return &memStore{ids: map[string][]byte{}, channels: map[string]store.Channel{}, trails: map[string]store.Trail{}}
}

// add stores recs unless their account and eventID are already stored,
// and reports what happened to each as the store does: a duplicate when
// the stored record is the same event (event.SameEvent), else a conflict.
func (m *memStore) add(recs ...*event.Record) []ingest.Outcome {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ingest.Outcome, len(recs))
	for i, r := range recs {
		key := r.AccountID + "/" + r.EventID
		if raw, ok := m.ids[key]; ok {
			out[i] = ingest.Conflict
			if event.SameEvent(raw, r) {
				out[i] = ingest.Duplicate
			}
			continue
		}
		m.ids[key] = r.Raw
		m.seq++
		m.events = append(m.events, store.Event{Seq: m.seq, IngestTime: time.Now(), Rec: r})
	}
	return out
}

func attrMatches(r *event.Record, a store.Attr) bool {
	switch a.Key {
	case "EventId":
		return r.EventID == a.Value
	case "EventName":
		return r.EventName == a.Value
	case "ReadOnly":
		return r.ReadOnlySet && (a.Value == "true") == r.ReadOnly
	case "Username":
		return r.Username == a.Value
	case "EventSource":
		return r.EventSource == a.Value
	case "AccessKeyId":
		return r.AccessKeyID == a.Value
	case "ResourceType":
		return slices.ContainsFunc(r.Resources, func(x event.Resource) bool { return x.Type == a.Value })
	case "ResourceName":
		return slices.ContainsFunc(r.Resources, func(x event.Resource) bool { return x.Name == a.Value })
	}
	return false
}

func (m *memStore) Lookup(ctx context.Context, q store.LookupQuery) ([]store.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	if m.fail != nil {
		return nil, m.fail
	}
	if q.Limit <= 0 {
		return nil, errors.New("lookup: limit must be positive")
	}
	var out []store.Event
	for _, e := range m.events {
		r := e.Rec
		switch {
		case len(q.Accounts) > 0 && !slices.Contains(q.Accounts, r.AccountID),
			q.Region != "" && r.AWSRegion != q.Region,
			!q.Start.IsZero() && r.EventTime.Before(q.Start),
			!q.End.IsZero() && r.EventTime.After(q.End),
			len(q.Categories) > 0 && !slices.Contains(q.Categories, r.EventCategory),
			q.After != nil && !(r.EventTime.Before(q.After.Time) || r.EventTime.Equal(q.After.Time) && e.Seq < q.After.Seq):
			continue
		}
		ok := true
		for _, a := range q.Attrs {
			ok = ok && attrMatches(r, a)
		}
		if ok {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		ti, tj := out[i].Rec.EventTime, out[j].Rec.EventTime
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return out[i].Seq > out[j].Seq
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func (m *memStore) CreateChannel(ctx context.Context, c store.Channel) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	for _, x := range m.channels {
		if x.ARN == c.ARN || x.Account == c.Account && x.Region == c.Region && x.Name == c.Name {
			return fmt.Errorf("create channel %s: %w", c.Name, store.ErrExists)
		}
	}
	m.channels[c.ARN] = c
	return nil
}

func (m *memStore) GetChannel(ctx context.Context, arn string) (store.Channel, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return store.Channel{}, m.fail
	}
	c, ok := m.channels[arn]
	if !ok {
		return store.Channel{}, fmt.Errorf("get channel %s: %w", arn, store.ErrNotFound)
	}
	return c, nil
}

func (m *memStore) ListChannels(ctx context.Context, account string) ([]store.Channel, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var out []store.Channel
	for _, c := range m.channels {
		if c.Account == account {
			out = append(out, c)
		}
	}
	return out, nil
}

func (m *memStore) DeleteChannel(ctx context.Context, arn string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.channels[arn]; !ok {
		return fmt.Errorf("delete channel %s: %w", arn, store.ErrNotFound)
	}
	delete(m.channels, arn)
	return nil
}

func (m *memStore) CreateTrail(ctx context.Context, t store.Trail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.trails[t.ARN]; ok {
		return fmt.Errorf("create trail %s: %w", t.ARN, store.ErrExists)
	}
	t.Doc = slices.Clone(t.Doc)
	m.trails[t.ARN] = t
	return nil
}

func (m *memStore) GetTrail(ctx context.Context, arn string) (store.Trail, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return store.Trail{}, m.fail
	}
	t, ok := m.trails[arn]
	if !ok {
		return store.Trail{}, fmt.Errorf("get trail %s: %w", arn, store.ErrNotFound)
	}
	return t, nil
}

func (m *memStore) ListTrails(ctx context.Context, account string) ([]store.Trail, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var out []store.Trail
	for _, t := range m.trails {
		if t.Account == account {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out, nil
}

func (m *memStore) UpdateTrail(ctx context.Context, t store.Trail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	old, ok := m.trails[t.ARN]
	if !ok {
		return fmt.Errorf("update trail %s: %w", t.ARN, store.ErrNotFound)
	}
	old.Doc, old.Updated = slices.Clone(t.Doc), t.Updated
	m.trails[t.ARN] = old
	return nil
}

func (m *memStore) DeleteTrail(ctx context.Context, arn string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.trails[arn]; !ok {
		return fmt.Errorf("delete trail %s: %w", arn, store.ErrNotFound)
	}
	delete(m.trails, arn)
	return nil
}

// memIngester commits into a memStore.
type memIngester struct {
	st      *memStore
	mu      sync.Mutex
	submits int
	fail    error
	// short drops the last outcome, as a buggy ingester would.
	short bool
}

func (g *memIngester) Submit(ctx context.Context, source string, recs []*event.Record) (ingest.Result, error) {
	if source != SourcePutAuditEvents {
		return ingest.Result{}, fmt.Errorf("unexpected source %q", source)
	}
	g.mu.Lock()
	g.submits++
	fail := g.fail
	g.mu.Unlock()
	if fail != nil {
		return ingest.Result{}, fail
	}
	res := ingest.Result{Outcomes: g.st.add(recs...)}
	if g.short {
		res.Outcomes = res.Outcomes[:len(res.Outcomes)-1]
	}
	for _, o := range res.Outcomes {
		switch o {
		case ingest.Accepted:
			res.Accepted++
		case ingest.Duplicate:
			res.Duplicates++
		default:
			res.Conflicts++
		}
	}
	return res, nil
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	acctA   = "210987654321"
	acctB   = "123456789012"
	acctOrg = "999999999999"
	regionA = "eu-central-1"
	regionB = "us-east-1"
)

var (
	// testNow is the fake "now" of every test.
	testNow = time.Date(2024, 5, 6, 12, 0, 0, 0, time.UTC)
	tokKey  = []byte("0123456789abcdef0123456789abcdef")
)

func principal(account string) *auth.Principal {
	return &auth.Principal{
		AccessKeyID: "AKIA" + account + "0000",
		AccountID:   account,
		Type:        "IAMUser",
		UserName:    "alice",
		ARN:         "arn:aws:iam::" + account + ":user/alice",
		PrincipalID: "AIDA" + account,
	}
}

func callerCtx(ctx context.Context, account, region string) context.Context {
	return awsapi.WithCaller(ctx, &awsapi.Caller{
		Principal: principal(account),
		Region:    region,
		SourceIP:  "198.51.100.23",
		UserAgent: "test",
		RequestID: "req-" + account,
	})
}

// env is CloudTrail Data's Service over fakes, with the CloudTrail
// service beside it for the channel operations, and routers around both.
type env struct {
	t     *testing.T
	st    *memStore
	ing   *memIngester
	clock *fakeClock
	ct    *cloudtrail.Service
	svc   *Service
	json  *awsapi.Router
	rest  *awsapi.RESTRouter
}

func newEnv(t *testing.T, opts cloudtrail.Options) *env {
	t.Helper()
	st := newMemStore()
	e := &env{t: t, st: st, ing: &memIngester{st: st}, clock: &fakeClock{t: testNow}}
	quiet := slog.New(slog.DiscardHandler)
	ct, err := cloudtrail.New(cloudtrail.Config{Store: st, TokenKey: tokKey, Options: opts, Now: e.clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Channels: st, Ingester: e.ing, Status: ct, Now: e.clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e.ct, e.svc = ct, svc
	e.json = awsapi.NewRouter("cloudtrail", nil, quiet)
	ct.Register(e.json)
	e.rest = awsapi.NewRESTRouter("cloudtrail-data", nil, quiet)
	svc.Register(e.rest)
	return e
}

// call sends a JSON 1.1 request for op as account/region and returns the
// status and body.
func (e *env) call(account, region, op, body string) (int, string) {
	e.t.Helper()
	return callRouter(e.json, account, region, op, body)
}

// callRouter sends a JSON 1.1 request for op as account/region through r.
func callRouter(r *awsapi.Router, account, region, op, body string) (int, string) {
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "CloudTrail_20131101."+op)
	req = req.WithContext(callerCtx(req.Context(), account, region))
	w := httptest.NewRecorder()
	r.Handle(w, req, []byte(body))
	return w.Code, w.Body.String()
}

// wantError checks an error response's status, __type and message.
func wantError(t *testing.T, status int, body string, wantStatus int, code, msg string) {
	t.Helper()
	var eb struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &eb); err != nil {
		t.Fatalf("not an error body: %s", body)
	}
	if status != wantStatus || eb.Type != code || eb.Message != msg {
		t.Errorf("got %d {%q, %q}\nwant %d {%q, %q}", status, eb.Type, eb.Message, wantStatus, code, msg)
	}
}

// recOpts builds a record from a base management event; set overrides
// (or, with a nil value, deletes) top-level members.
type recOpts struct {
	id, account, region, name, source, category, user string
	t                                                 time.Time
	readOnly                                          *bool
	set                                               map[string]any
}

func mkRecord(t testing.TB, o recOpts) *event.Record {
	t.Helper()
	if o.account == "" {
		o.account = acctA
	}
	if o.region == "" {
		o.region = regionA
	}
	if o.name == "" {
		o.name = "StopLogging"
	}
	if o.source == "" {
		o.source = "cloudtrail.amazonaws.com"
	}
	if o.category == "" {
		o.category = "Management"
	}
	if o.user == "" {
		o.user = "alice"
	}
	m := map[string]any{
		"eventVersion": "1.09",
		"userIdentity": map[string]any{
			"type": "IAMUser", "principalId": "AIDAQEXAMPLEUSER0001",
			"arn": "arn:aws:iam::" + o.account + ":user/" + o.user, "accountId": o.account,
			"accessKeyId": "AKIAQEXAMPLEKEY00001", "userName": o.user,
		},
		"eventTime":          o.t.UTC().Format(time.RFC3339),
		"eventSource":        o.source,
		"eventName":          o.name,
		"awsRegion":          o.region,
		"sourceIPAddress":    "198.51.100.23",
		"userAgent":          "aws-cli/2.9.19",
		"requestParameters":  map[string]any{"name": "audit-main"},
		"responseElements":   nil,
		"requestID":          "6f2b0c1e-9a3d-4e51-8d9e-2b7a6c0d1e2f",
		"eventID":            o.id,
		"readOnly":           false,
		"eventType":          "AwsApiCall",
		"managementEvent":    o.category == "Management",
		"recipientAccountId": o.account,
		"eventCategory":      o.category,
	}
	if o.readOnly != nil {
		m["readOnly"] = *o.readOnly
	}
	for k, v := range o.set {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	r, err := event.Parse(raw)
	if err != nil {
		t.Fatalf("parse test record: %v\n%s", err, raw)
	}
	return r
}

func insightRecord(t testing.TB, id string, tm time.Time) *event.Record {
	t.Helper()
	raw := fmt.Sprintf(`{"eventVersion":"1.08","eventTime":%q,"awsRegion":%q,"eventID":%q,"eventType":"AwsCloudTrailInsight",`+
		`"recipientAccountId":%q,"sharedEventID":"0d4c9e61-3b0f-4a8e-b1f5-7c2e9d3a4b5c","insightDetails":{"state":"Start",`+
		`"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","insightType":"ApiCallRateInsight",`+
		`"insightContext":{"statistics":{"baseline":{"average":0.01},"insight":{"average":5},"insightDuration":3}}},"eventCategory":"Insight"}`,
		tm.UTC().Format(time.RFC3339), regionA, id, acctA)
	r, err := event.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("parse insight record: %v", err)
	}
	return r
}

// put sends PutAuditEvents as account/region.
func (e *env) put(account, region, query, body string) (int, string) {
	e.t.Helper()
	req := httptest.NewRequest("POST", "/PutAuditEvents?"+query, strings.NewReader(body))
	req = req.WithContext(callerCtx(req.Context(), account, region))
	w := httptest.NewRecorder()
	e.rest.Handle(w, req, []byte(body))
	return w.Code, w.Body.String()
}

const edsARN = "arn:aws:cloudtrail:eu-central-1:210987654321:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"

func createBody(name string) string {
	return fmt.Sprintf(`{"Name":%q,"Source":"Custom","Destinations":[{"Type":"EVENT_DATA_STORE","Location":%q}]}`, name, edsARN)
}

func (e *env) createChannel(account, region, name string) string {
	e.t.Helper()
	status, body := e.call(account, region, "CreateChannel", createBody(name))
	if status != 200 {
		e.t.Fatalf("CreateChannel: %d %s", status, body)
	}
	var out struct{ ChannelArn string }
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		e.t.Fatal(err)
	}
	return out.ChannelArn
}

type lookupResp struct {
	Events []struct {
		EventId, EventName, ReadOnly, AccessKeyId, EventSource, Username, CloudTrailEvent string
		EventTime                                                                         float64
		Resources                                                                         []struct{ ResourceType, ResourceName string }
	}
	NextToken string
}

func decodeLookup(t *testing.T, status int, body string) lookupResp {
	t.Helper()
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var r lookupResp
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("bad body: %v: %s", err, body)
	}
	return r
}

func (e *env) lookupOK(account, region, body string) lookupResp {
	e.t.Helper()
	status, b := e.call(account, region, "LookupEvents", body)
	return decodeLookup(e.t, status, b)
}

// seedPaging stores n management events for acctA/regionA, several
// sharing a timestamp, plus events that must never show up.
func seedPaging(t *testing.T, e *env, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		at := testNow.Add(-time.Duration(i/3) * time.Minute) // three events per second
		e.st.add(mkRecord(t, recOpts{id: fmt.Sprintf("a-%03d", i), t: at, name: fmt.Sprintf("Op%d", i%4)}))
	}
	e.st.add(
		mkRecord(t, recOpts{id: "other-account", t: testNow, account: acctB}),
		mkRecord(t, recOpts{id: "other-region", t: testNow, region: regionB}),
		mkRecord(t, recOpts{id: "data", t: testNow, category: "Data", name: "GetObject", source: "s3.amazonaws.com"}),
		mkRecord(t, recOpts{id: "too-old", t: testNow.Add(-91 * 24 * time.Hour)}),
		insightRecord(t, "insight-1", testNow),
	)
}
