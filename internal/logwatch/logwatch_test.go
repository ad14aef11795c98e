package logwatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/filterpattern"
	"github.com/opentrail/opentrail/internal/logwatch"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

const (
	acctA   = "111122223333"
	acctB   = "444455556666"
	home    = "us-east-1"
	other   = "eu-west-1"
	groupNm = "CloudTrail/audit"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// sink applies points as the alarms engine does: per source it keeps the
// highest Seq applied and ignores points at or below it. fail makes the
// next call apply its points and then fail, as a crash after the sink's
// commit and before logwatch's cursor would.
type sink struct {
	mu      sync.Mutex
	high    map[string]int64
	applied []logwatch.Point
	offered int
	fail    bool
	calls   []int  // the number of points offered by each call
	failAt  int    // when > 0, the call with this number (1-based) fails as fail does
	onCall  func() // when set, runs at the start of every call
}

func (s *sink) PutPoints(_ context.Context, source string, pts []logwatch.Point) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.high == nil {
		s.high = map[string]int64{}
	}
	if s.onCall != nil {
		s.onCall()
	}
	s.offered += len(pts)
	s.calls = append(s.calls, len(pts))
	if s.failAt == len(s.calls) {
		s.fail = true
	}
	top := s.high[source]
	for _, p := range pts {
		if p.Seq > s.high[source] {
			s.applied = append(s.applied, p)
			top = max(top, p.Seq)
		}
	}
	s.high[source] = top
	if s.fail {
		s.fail = false
		return errors.New("crash after the sink committed")
	}
	return nil
}

// publisher records messages, sending each dedup id once.
type publisher struct {
	mu   sync.Mutex
	sent []string // messages
	seen map[string]bool
	all  int
}

func (p *publisher) Publish(_ context.Context, account, topic, subject, message, dedup string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	p.all++
	if !p.seen[dedup] {
		p.seen[dedup] = true
		p.sent = append(p.sent, message)
	}
	return "m-" + dedup, nil
}

type env struct {
	t   testing.TB
	dir string
	clk *clock.Fake
	st  *store.Store
	w   *logwatch.Watch
	snk *sink
	pub *publisher
	n   int
	cfg logwatch.Config
}

func newEnv(t testing.TB, cfg logwatch.Config) *env {
	e := &env{t: t, dir: t.TempDir(), clk: clock.NewFake(t0), snk: &sink{}, pub: &publisher{}, cfg: cfg}
	st, err := store.Open(context.Background(), e.dir, store.Options{Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	e.open()
	return e
}

// open makes a new component over the store, as a restart does.
func (e *env) open() {
	cfg := e.cfg
	cfg.Store, cfg.Clock, cfg.Sink, cfg.Publisher = e.st, e.clk, e.snk, e.pub
	cfg.Logger = slog.New(slog.DiscardHandler)
	w, err := logwatch.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.w = w
}

func (e *env) sync() {
	e.t.Helper()
	if err := e.w.Sync(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// trail stores a logging trail wired to the log group.
func (e *env) trail(name, account, region string, set trail.Settings) {
	e.t.Helper()
	start := e.clk.Now().Add(-time.Minute)
	set.IsLogging, set.StartLoggingTime = true, &start
	set.CloudWatchLogsLogGroupArn = logwatch.GroupARN(account, region, groupNm) + ":*"
	doc, _ := json.Marshal(set)
	arn := trail.ARN{Region: region, Account: account, Name: name}.String()
	if err := e.st.CreateTrail(context.Background(), store.Trail{ARN: arn, Name: name, Account: account, HomeRegion: region,
		Doc: doc, Created: e.clk.Now(), Updated: e.clk.Now()}); err != nil {
		e.t.Fatal(err)
	}
}

// ingest stores events "account/region/eventName[/identityType]" and
// returns their eventIDs.
func (e *env) ingest(specs ...string) []string {
	e.t.Helper()
	var recs []*event.Record
	var ids []string
	for _, s := range specs {
		p := strings.Split(s, "/")
		e.n++
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", e.n)
		ids = append(ids, id)
		typ := "IAMUser"
		if len(p) > 3 {
			typ = p[3]
		}
		m := map[string]any{
			"eventVersion": "1.09", "eventTime": e.clk.Now().Format(time.RFC3339), "eventSource": "signin.amazonaws.com",
			"eventName": p[2], "awsRegion": p[1], "sourceIPAddress": "192.0.2.1", "userAgent": "test",
			"eventID": id, "eventType": "AwsApiCall", "recipientAccountId": p[0], "managementEvent": true,
			"eventCategory": "Management", "userIdentity": map[string]any{"type": typ, "accountId": p[0], "userName": "alice"},
		}
		raw, _ := json.Marshal(m)
		r, err := event.Parse(raw)
		if err != nil {
			e.t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if _, err := e.st.Append(context.Background(), recs, time.Time{}); err != nil {
		e.t.Fatal(err)
	}
	return ids
}

func (e *env) mustGroup(account, region string) {
	e.t.Helper()
	if err := e.w.CreateLogGroup(context.Background(), account, region, groupNm, "", "", nil); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) events(account, region, stream string) []logwatch.OutEvent {
	e.t.Helper()
	res, err := e.w.GetLogEvents(context.Background(), account, region, groupNm, stream, logwatch.GetQuery{FromHead: true})
	var le *logwatch.Error
	if errors.As(err, &le) && le.Code == logwatch.CodeNotFound {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Events
}

var one = filterpattern.Transformation{MetricName: "ConsoleLogins", MetricNamespace: "CIS", MetricValue: "1"}

func TestConsumerTrailToGroup(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, logwatch.Config{})
	e.mustGroup(acctA, home)
	if err := e.w.Filters().PutMetricFilter(ctx, acctA, home, groupNm, "logins", `{ $.eventName = "ConsoleLogin" }`, one); err != nil {
		t.Fatal(err)
	}
	e.trail("audit", acctA, home, trail.Settings{})
	ids := e.ingest(acctA+"/"+home+"/ConsoleLogin", acctA+"/"+other+"/ConsoleLogin", acctB+"/"+home+"/ConsoleLogin",
		acctA+"/"+home+"/RunInstances")
	e.sync()

	stream := acctA + "_CloudTrail_" + home
	got := e.events(acctA, home, stream)
	if len(got) != 2 {
		t.Fatalf("stream %s has %d events, want the trail's 2: %+v", stream, len(got), got)
	}
	stored, err := e.st.ReadAfter(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Message != string(stored[0].Rec.Raw) || got[1].Message != string(stored[3].Rec.Raw) {
		t.Errorf("messages are not the stored records:\n%s\n%s", got[0].Message, got[1].Message)
	}
	if got[0].Timestamp != t0.UnixMilli() || got[0].Ingest != stored[0].IngestTime.UnixMilli() {
		t.Errorf("timestamps: %+v", got[0])
	}
	if n := len(e.events(acctA, home, acctA+"_CloudTrail_"+other)); n != 0 {
		t.Errorf("a single-region trail put %d events of another region", n)
	}
	if len(e.snk.applied) != 1 || e.snk.applied[0].Seq != stored[0].Seq || e.snk.applied[0].EventIDs[0] != ids[0] ||
		e.snk.applied[0].Value != 1 || e.snk.applied[0].Account != acctA || e.snk.applied[0].MetricName != "ConsoleLogins" ||
		!e.snk.applied[0].Time.Equal(t0) {
		t.Errorf("points: %+v", e.snk.applied)
	}

	// A multi-region trail takes every region's events, each region in
	// its own stream; the event already in the group is not added twice.
	e.trail("everywhere", acctA, home, trail.Settings{IsMultiRegionTrail: true, IncludeGlobalServiceEvents: true})
	e.ingest(acctA + "/" + other + "/ConsoleLogin")
	e.sync()
	if n := len(e.events(acctA, home, acctA+"_CloudTrail_"+other)); n != 1 {
		t.Errorf("multi-region trail: %d events in the %s stream, want 1", n, other)
	}
	if n := len(e.events(acctA, home, stream)); n != 2 {
		t.Errorf("home stream has %d events, want 2", n)
	}
	streams, _ := e.w.LogStreams(ctx, acctA, home, groupNm, logwatch.StreamQuery{})
	if len(streams) != 2 || streams[0].Name != acctA+"_CloudTrail_"+other || streams[1].Name != stream {
		t.Errorf("streams: %+v", streams)
	}
	// Selectors apply: a trail of write-only management events skips a
	// read-only event (none here are read-only, so an excluded source).
	groups, _ := e.w.LogGroups(ctx, acctA, home, logwatch.GroupQuery{})
	if len(groups) != 1 || groups[0].StoredBytes == 0 || groups[0].MetricFilterCount != 1 {
		t.Errorf("groups: %+v", groups)
	}
}

func TestConsumerSelectorsAndOrganisation(t *testing.T) {
	yes := true
	org := &trail.Organization{ID: "o-abc", Management: acctA, Members: []string{acctB}}
	e := newEnv(t, logwatch.Config{Org: org})
	e.mustGroup(acctA, home)
	e.trail("org", acctA, home, trail.Settings{IsOrganizationTrail: true, EventSelectors: []trail.EventSelector{{
		ReadWriteType: "All", IncludeManagementEvents: &yes, ExcludeManagementEventSources: []string{"signin.amazonaws.com"}}}})
	e.ingest(acctB + "/" + home + "/ConsoleLogin")
	e.sync()
	if n := len(e.events(acctA, home, acctB+"_CloudTrail_"+home)); n != 0 {
		t.Errorf("an excluded event source reached the group (%d events)", n)
	}
	e2 := newEnv(t, logwatch.Config{Org: org})
	e2.mustGroup(acctA, home)
	e2.trail("org", acctA, home, trail.Settings{IsOrganizationTrail: true})
	e2.ingest(acctB+"/"+home+"/ConsoleLogin", "999999999999/"+home+"/ConsoleLogin")
	e2.sync()
	if n := len(e2.events(acctA, home, acctB+"_CloudTrail_"+home)); n != 1 {
		t.Errorf("organisation trail: %d events of the member account, want 1", n)
	}
	if n := len(e2.events(acctA, home, "999999999999_CloudTrail_"+home)); n != 0 {
		t.Errorf("organisation trail took an outside account's event")
	}
}

func TestConsumerReplayAfterCrash(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, logwatch.Config{})
	e.mustGroup(acctA, home)
	def := 0.0
	t2 := one
	t2.DefaultValue = &def
	if err := e.w.Filters().PutMetricFilter(ctx, acctA, home, groupNm, "logins", `{ $.eventName = "ConsoleLogin" }`, t2); err != nil {
		t.Fatal(err)
	}
	topic := "arn:aws:sns:" + home + ":" + acctA + ":alerts"
	if err := e.w.Filters().PutSubscriptionFilter(ctx, acctA, home, groupNm, "to-topic", "ConsoleLogin", topic, "", ""); err != nil {
		t.Fatal(err)
	}
	e.trail("audit", acctA, home, trail.Settings{})
	e.ingest(acctA+"/"+home+"/ConsoleLogin", acctA+"/"+home+"/RunInstances", acctA+"/"+home+"/ConsoleLogin")
	e.snk.fail = true
	if err := e.w.Sync(ctx); err == nil {
		t.Fatal("Sync succeeded although the sink failed")
	}
	if len(e.snk.applied) != 3 {
		t.Fatalf("applied %d points before the crash, want 3", len(e.snk.applied))
	}
	// Restart: a new component over the same store replays the batch.
	e.open()
	e.sync()
	if e.snk.offered != 6 {
		t.Errorf("the replay offered %d points in all, want 3 + 3", e.snk.offered)
	}
	if len(e.snk.applied) != 3 {
		t.Errorf("after the replay %d points applied, want still 3", len(e.snk.applied))
	}
	if n := len(e.events(acctA, home, acctA+"_CloudTrail_"+home)); n != 3 {
		t.Errorf("after the replay the stream has %d events, want 3 (no duplicates)", n)
	}
	if len(e.pub.sent) != 2 || e.pub.all != 2 {
		t.Errorf("published %d (%d attempts), want 2 messages sent once", len(e.pub.sent), e.pub.all)
	}
	var msg struct {
		MessageType string `json:"messageType"`
		LogGroup    string `json:"logGroup"`
		LogEvents   []struct {
			Message string `json:"message"`
		} `json:"logEvents"`
	}
	if err := json.Unmarshal([]byte(e.pub.sent[0]), &msg); err != nil || msg.MessageType != "DATA_MESSAGE" || msg.LogGroup != groupNm ||
		!strings.Contains(msg.LogEvents[0].Message, `"ConsoleLogin"`) {
		t.Errorf("subscription message: %s (%v)", e.pub.sent[0], err)
	}
	// Nothing new: a further Sync offers nothing.
	e.sync()
	if e.snk.offered != 6 {
		t.Errorf("an idle Sync offered points again (%d)", e.snk.offered)
	}
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, logwatch.Config{})
	e.mustGroup(acctA, home)
	if err := e.w.PutRetentionPolicy(ctx, acctA, home, groupNm, 2); err == nil || !strings.Contains(err.Error(), "enum value set: [1, 3, 5") {
		t.Errorf("retention 2 days: %v", err)
	}
	if err := e.w.PutRetentionPolicy(ctx, acctA, home, groupNm, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.w.CreateLogStream(ctx, acctA, home, groupNm, "app"); err != nil {
		t.Fatal(err)
	}
	now := e.clk.Now().UnixMilli()
	rej, err := e.w.PutLogEvents(ctx, acctA, home, groupNm, "app", []logwatch.InputEvent{
		{Timestamp: now - 2*86400000, Message: "expired"}, {Timestamp: now - 2*86400000 + 1, Message: "expired too"}})
	if err != nil || rej.ExpiredEnd != 1 || rej.TooOldEnd != -1 || rej.TooNewStart != -1 {
		t.Fatalf("put: %+v %v", rej, err)
	}
	if _, err := e.w.PutLogEvents(ctx, acctA, home, groupNm, "app", []logwatch.InputEvent{{Timestamp: now, Message: "kept"}}); err != nil {
		t.Fatal(err)
	}
	if got := e.events(acctA, home, "app"); len(got) != 1 || got[0].Message != "kept" {
		t.Fatalf("events: %+v", got)
	}
	e.clk.Advance(36 * time.Hour)
	if got := e.events(acctA, home, "app"); len(got) != 0 {
		t.Errorf("an expired event is still returned: %+v", got)
	}
	if gs, _ := e.w.LogGroups(ctx, acctA, home, logwatch.GroupQuery{}); len(gs) != 1 || gs[0].StoredBytes != 4 {
		t.Errorf("stored bytes before the sweep: %+v", gs)
	}
	if n, err := e.w.Sweep(ctx); err != nil || n != 1 {
		t.Errorf("sweep deleted %d rows (%v), want 1", n, err)
	}
	if gs, _ := e.w.LogGroups(ctx, acctA, home, logwatch.GroupQuery{}); len(gs) != 1 || gs[0].StoredBytes != 0 {
		t.Errorf("stored bytes after the sweep: %+v", gs)
	}
	if err := e.w.DeleteRetentionPolicy(ctx, acctA, home, groupNm); err != nil {
		t.Fatal(err)
	}
	if got := e.events(acctA, home, "app"); len(got) != 0 {
		t.Errorf("a swept event came back: %+v", got)
	}
}

func TestQuotasAndErrors(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, logwatch.Config{})
	e.mustGroup(acctA, home)
	var le *logwatch.Error
	if err := e.w.CreateLogGroup(ctx, acctA, home, groupNm, "", "", nil); !errors.As(err, &le) ||
		le.Code != "ResourceAlreadyExistsException" || le.Message != "The specified log group already exists" {
		t.Errorf("duplicate group: %v", err)
	}
	if err := e.w.CreateLogGroup(ctx, acctA, home, "bad:name", "", "", nil); !errors.As(err, &le) || le.Code != "InvalidParameterException" {
		t.Errorf("bad name: %v", err)
	}
	if err := e.w.DeleteLogGroup(ctx, acctB, home, groupNm); !errors.As(err, &le) || le.Message != "The specified log group does not exist." {
		t.Errorf("another account's group: %v", err)
	}
	for i := range logwatch.MaxMetricFilters {
		pat := fmt.Sprintf("term%d", i)
		if i < logwatch.MaxRegexPatterns {
			pat = fmt.Sprintf("%%re%d%%", i)
		}
		if err := e.w.Filters().PutMetricFilter(ctx, acctA, home, groupNm, fmt.Sprintf("f%03d", i), pat, one); err != nil {
			t.Fatalf("filter %d: %v", i, err)
		}
	}
	if err := e.w.Filters().PutMetricFilter(ctx, acctA, home, groupNm, "f-extra", "x", one); !errors.As(err, &le) || le.Code != "LimitExceededException" {
		t.Errorf("101st metric filter: %v", err)
	}
	if err := e.w.Filters().PutMetricFilter(ctx, acctA, home, groupNm, "f099", "%sixth%", one); !errors.As(err, &le) || le.Code != "LimitExceededException" {
		t.Errorf("sixth regex pattern: %v", err)
	}
	if err := e.w.Filters().PutMetricFilter(ctx, acctA, home, groupNm, "f000", "%still-five%", one); err != nil {
		t.Errorf("replacing a regex filter with a regex filter: %v", err)
	}
	if err := e.w.Filters().PutMetricFilter(ctx, acctA, home, groupNm, "f099", "ERR*", one); !errors.As(err, &le) ||
		le.Message != "Invalid character(s) in term '*'" {
		t.Errorf("bad pattern: %v", err)
	}
	topic := "arn:aws:sns:" + home + ":" + acctA + ":t"
	for i := range logwatch.MaxSubscriptionFilters {
		if err := e.w.Filters().PutSubscriptionFilter(ctx, acctA, home, groupNm, fmt.Sprint("s", i), "", topic, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.w.Filters().PutSubscriptionFilter(ctx, acctA, home, groupNm, "s9", "", topic, "", ""); !errors.As(err, &le) || le.Code != "LimitExceededException" {
		t.Errorf("third subscription filter: %v", err)
	}
	if err := e.w.Filters().PutSubscriptionFilter(ctx, acctA, home, groupNm, "s0", "", "arn:aws:lambda:us-east-1:"+acctA+":function:f", "", ""); !errors.As(err, &le) ||
		le.Code != "InvalidParameterException" {
		t.Errorf("lambda destination: %v", err)
	}
	if err := e.w.Filters().DeleteMetricFilter(ctx, acctA, home, groupNm, "nope"); !errors.As(err, &le) || le.Message != "The specified filter does not exist." {
		t.Errorf("delete missing filter: %v", err)
	}
}

func TestSuppressions(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, logwatch.Config{Suppressions: []logwatch.Suppression{{Filter: "unauth", IdentityTypes: []string{"AWSService"}}}})
	e.mustGroup(acctA, home)
	def := 0.0
	tr := one
	tr.DefaultValue = &def
	for _, name := range []string{"unauth", "other"} {
		if err := e.w.Filters().PutMetricFilter(ctx, acctA, home, groupNm, name, `{ $.eventName = "ConsoleLogin" }`, tr); err != nil {
			t.Fatal(err)
		}
	}
	e.trail("audit", acctA, home, trail.Settings{})
	e.ingest(acctA+"/"+home+"/ConsoleLogin/AWSService", acctA+"/"+home+"/RunInstances/AWSService", acctA+"/"+home+"/ConsoleLogin")
	e.sync()
	n := map[string]int{}
	for _, p := range e.snk.applied {
		n[p.Filter]++
	}
	if n["unauth"] != 1 || n["other"] != 3 {
		t.Errorf("points per filter %v: want the suppressed filter to emit only for the IAM user (1), the other for all 3", n)
	}
}

func TestPutLogEventsRules(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, logwatch.Config{})
	e.mustGroup(acctA, home)
	var le *logwatch.Error
	if _, err := e.w.PutLogEvents(ctx, acctA, home, groupNm, "none", []logwatch.InputEvent{{Timestamp: 1, Message: "x"}}); !errors.As(err, &le) ||
		le.Message != "The specified log stream does not exist." {
		t.Errorf("missing stream: %v", err)
	}
	if err := e.w.CreateLogStream(ctx, acctA, home, groupNm, "s"); err != nil {
		t.Fatal(err)
	}
	now := e.clk.Now().UnixMilli()
	if _, err := e.w.PutLogEvents(ctx, acctA, home, groupNm, "s", []logwatch.InputEvent{{now, "b"}, {now - 1, "a"}}); !errors.As(err, &le) ||
		le.Message != "Log events in a single PutLogEvents request must be in chronological order." {
		t.Errorf("out of order: %v", err)
	}
	if _, err := e.w.PutLogEvents(ctx, acctA, home, groupNm, "s", []logwatch.InputEvent{{now - 49*3600000, "a"}, {now, "b"}}); !errors.As(err, &le) ||
		le.Message != "The batch of log events in a single PutLogEvents request cannot span more than 24 hours." {
		t.Errorf("span: %v", err)
	}
	rej, err := e.w.PutLogEvents(ctx, acctA, home, groupNm, "s", []logwatch.InputEvent{{now - 15*86400000, "old"}})
	if err != nil || rej.TooOldEnd != 0 || rej.TooNewStart != -1 {
		t.Fatalf("put old: %+v %v", rej, err)
	}
	rej, err = e.w.PutLogEvents(ctx, acctA, home, groupNm, "s", []logwatch.InputEvent{
		{now, "ERROR one"}, {now + 1, "INFO two"}, {now + 3*3600000, "future"}})
	if err != nil || rej.TooOldEnd != -1 || rej.TooNewStart != 2 {
		t.Fatalf("put: %+v %v", rej, err)
	}
	res, err := e.w.FilterLogEvents(ctx, acctA, home, groupNm, logwatch.FilterQuery{Pattern: "ERROR"})
	if err != nil || len(res.Events) != 1 || res.Events[0].Message != "ERROR one" || res.Next != "" || len(res.Searched) != 1 {
		t.Errorf("filter: %+v %v", res, err)
	}
	res, err = e.w.FilterLogEvents(ctx, acctA, home, groupNm, logwatch.FilterQuery{Limit: 1})
	if err != nil || len(res.Events) != 1 || res.Next == "" {
		t.Fatalf("page 1: %+v %v", res, err)
	}
	res, err = e.w.FilterLogEvents(ctx, acctA, home, groupNm, logwatch.FilterQuery{Limit: 1, After: res.Next})
	if err != nil || len(res.Events) != 1 || res.Events[0].Message != "INFO two" {
		t.Errorf("page 2: %+v %v", res, err)
	}
	// GetLogEvents tokens: forward from the head, then the same token at
	// the end; backward from the tail.
	g, err := e.w.GetLogEvents(ctx, acctA, home, groupNm, "s", logwatch.GetQuery{FromHead: true, Limit: 1})
	if err != nil || len(g.Events) != 1 || g.Events[0].Message != "ERROR one" || !strings.HasPrefix(g.Forward, "f/") || len(g.Forward) != 58 {
		t.Fatalf("get head: %+v %v", g, err)
	}
	g2, _ := e.w.GetLogEvents(ctx, acctA, home, groupNm, "s", logwatch.GetQuery{Token: g.Forward})
	if len(g2.Events) != 1 || g2.Events[0].Message != "INFO two" {
		t.Fatalf("get next: %+v", g2)
	}
	g3, _ := e.w.GetLogEvents(ctx, acctA, home, groupNm, "s", logwatch.GetQuery{Token: g2.Forward})
	if len(g3.Events) != 0 || g3.Forward != g2.Forward {
		t.Errorf("at the end: %+v, want the same forward token", g3)
	}
	g4, _ := e.w.GetLogEvents(ctx, acctA, home, groupNm, "s", logwatch.GetQuery{Limit: 1})
	if len(g4.Events) != 1 || g4.Events[0].Message != "INFO two" {
		t.Errorf("tail: %+v", g4)
	}
	g5, _ := e.w.GetLogEvents(ctx, acctA, home, groupNm, "s", logwatch.GetQuery{Token: g4.Backward})
	if len(g5.Events) != 1 || g5.Events[0].Message != "ERROR one" {
		t.Errorf("backward: %+v", g5)
	}
	if _, err := e.w.GetLogEvents(ctx, acctA, home, groupNm, "s", logwatch.GetQuery{Token: "f/123"}); !errors.As(err, &le) {
		t.Errorf("bad token: %v", err)
	}
}

func TestPutLogEventsEmitsPoints(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, logwatch.Config{})
	e.mustGroup(acctA, home)
	seven := 7.0
	tr := filterpattern.Transformation{MetricName: "Errors", MetricNamespace: "App", MetricValue: "3", DefaultValue: &seven}
	if err := e.w.Filters().PutMetricFilter(ctx, acctA, home, groupNm, "errors", "ERROR", tr); err != nil {
		t.Fatal(err)
	}
	if err := e.w.CreateLogStream(ctx, acctA, home, groupNm, "s"); err != nil {
		t.Fatal(err)
	}
	now := e.clk.Now().UnixMilli()
	if _, err := e.w.PutLogEvents(ctx, acctA, home, groupNm, "s", []logwatch.InputEvent{{now, "ERROR"}, {now, "INFO"}, {now, "ERROR"}}); err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, p := range e.snk.applied {
		sum += p.Value
	}
	if len(e.snk.applied) != 3 || sum != 13 {
		t.Errorf("points %+v: want 3 with sum 13 (as recorded on AWS)", e.snk.applied)
	}
}

// Without a trail feeding a log group the consumer moves past the stream
// without reading it; a trail wired later gets the events from then on.
func TestConsumerSkipsStreamWithoutTrails(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, logwatch.Config{})
	e.mustGroup(acctA, home)
	e.ingest(acctA+"/"+home+"/ConsoleLogin", acctA+"/"+home+"/ConsoleLogin")
	e.sync()
	if cur, err := e.st.Cursor(ctx, "logwatch"); err != nil || cur != e.st.LastSeq() {
		t.Fatalf("cursor %d (%v), want %d", cur, err, e.st.LastSeq())
	}
	e.trail("audit", acctA, home, trail.Settings{})
	e.ingest(acctA + "/" + home + "/RunInstances")
	e.sync()
	if got := e.events(acctA, home, acctA+"_CloudTrail_"+home); len(got) != 1 || !strings.Contains(got[0].Message, `"RunInstances"`) {
		t.Errorf("events: %+v", got)
	}
}

// A backlog is read in batches larger than the smallest, up to the
// largest: 5,000 events are one step, so the sink gets one call.
func TestConsumerBacklogInLargeBatches(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, logwatch.Config{})
	e.mustGroup(acctA, home)
	if err := e.w.Filters().PutMetricFilter(ctx, acctA, home, groupNm, "logins", `{ $.eventName = "ConsoleLogin" }`, one); err != nil {
		t.Fatal(err)
	}
	e.trail("audit", acctA, home, trail.Settings{})
	specs := make([]string, 5000)
	for i := range specs {
		specs[i] = acctA + "/" + home + "/ConsoleLogin"
	}
	e.ingest(specs...)
	e.sync()
	if len(e.snk.calls) != 1 || e.snk.calls[0] != 5000 || len(e.snk.applied) != 5000 {
		t.Errorf("sink calls %v, %d points applied: want one call of 5000", e.snk.calls, len(e.snk.applied))
	}
	if n := len(e.events(acctA, home, acctA+"_CloudTrail_"+home)); n != 5000 {
		t.Errorf("the stream has %d events, want 5000", n)
	}
	if cur, err := e.st.Cursor(ctx, "logwatch"); err != nil || cur != e.st.LastSeq() {
		t.Errorf("cursor %d (%v), want %d", cur, err, e.st.LastSeq())
	}
}

// While behind, the consumer saves its cursor only every CursorEvery (and
// when caught up); a crash in between replays from the saved cursor and
// repeats nothing: no row twice, no point applied twice.
func TestConsumerCursorSavedWhileBehind(t *testing.T) {
	for _, tc := range []struct {
		name    string
		advance time.Duration // clock advance at each sink call
		saved   int64         // durable cursor after the crash
	}{
		{"within CursorEvery", 0, 0},
		{"after CursorEvery", logwatch.CursorEvery, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			logwatch.SetBatches(t, 2, 4)
			e := newEnv(t, logwatch.Config{})
			e.mustGroup(acctA, home)
			if err := e.w.Filters().PutMetricFilter(ctx, acctA, home, groupNm, "logins", `{ $.eventName = "ConsoleLogin" }`, one); err != nil {
				t.Fatal(err)
			}
			e.trail("audit", acctA, home, trail.Settings{})
			specs := make([]string, 10)
			for i := range specs {
				specs[i] = acctA + "/" + home + "/ConsoleLogin"
			}
			e.ingest(specs...)
			e.snk.failAt = 2
			e.snk.onCall = func() { e.clk.Advance(tc.advance) }
			if err := e.w.Sync(ctx); err == nil {
				t.Fatal("Sync succeeded although the sink failed")
			}
			if len(e.snk.calls) != 2 || e.snk.calls[0] != 4 || e.snk.calls[1] != 4 {
				t.Fatalf("sink calls before the crash %v, want [4 4]", e.snk.calls)
			}
			if cur, err := e.st.Cursor(ctx, "logwatch"); err != nil || cur != tc.saved {
				t.Fatalf("cursor after the crash %d (%v), want %d", cur, err, tc.saved)
			}
			e.open()
			e.sync()
			if len(e.snk.applied) != 10 || e.snk.offered != 8+10-int(tc.saved) {
				t.Errorf("after the replay %d points applied of %d offered, want 10 of %d", len(e.snk.applied), e.snk.offered, 8+10-tc.saved)
			}
			if n := len(e.events(acctA, home, acctA+"_CloudTrail_"+home)); n != 10 {
				t.Errorf("after the replay the stream has %d events, want 10 (no duplicates)", n)
			}
			if cur, err := e.st.Cursor(ctx, "logwatch"); err != nil || cur != e.st.LastSeq() {
				t.Errorf("cursor %d (%v), want %d", cur, err, e.st.LastSeq())
			}
		})
	}
}

// A failed step makes the same component read its position from the
// database again: a retry without a restart repeats nothing either.
func TestConsumerRetryAfterFailedStep(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, logwatch.Config{})
	e.mustGroup(acctA, home)
	if err := e.w.Filters().PutMetricFilter(ctx, acctA, home, groupNm, "logins", `{ $.eventName = "ConsoleLogin" }`, one); err != nil {
		t.Fatal(err)
	}
	e.trail("audit", acctA, home, trail.Settings{})
	e.ingest(acctA+"/"+home+"/ConsoleLogin", acctA+"/"+home+"/RunInstances", acctA+"/"+home+"/ConsoleLogin")
	e.snk.fail = true
	if err := e.w.Sync(ctx); err == nil {
		t.Fatal("Sync succeeded although the sink failed")
	}
	e.sync()
	if len(e.snk.applied) != 2 || e.snk.offered != 4 {
		t.Errorf("%d points applied of %d offered, want 2 of 2 + 2", len(e.snk.applied), e.snk.offered)
	}
	if n := len(e.events(acctA, home, acctA+"_CloudTrail_"+home)); n != 3 {
		t.Errorf("the stream has %d events, want 3 (no duplicates)", n)
	}
	// Events after the retry are consumed once, too.
	e.ingest(acctA + "/" + home + "/ConsoleLogin")
	e.sync()
	if len(e.snk.applied) != 3 || e.snk.offered != 5 {
		t.Errorf("%d points applied of %d offered, want 3 of 5", len(e.snk.applied), e.snk.offered)
	}
	if n := len(e.events(acctA, home, acctA+"_CloudTrail_"+home)); n != 4 {
		t.Errorf("the stream has %d events, want 4", n)
	}
}

// Insights events reach the log group of a trail with an Insights selector
// of their type (so metric filters and alarms can watch them), and no
// other trail's.
func TestConsumerInsightEventsToGroup(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, logwatch.Config{})
	e.mustGroup(acctA, home)
	e.trail("plain", acctA, home, trail.Settings{})
	insight := func(n int, typ string) *event.Record {
		raw := fmt.Sprintf(`{"eventVersion":"1.08","eventTime":%q,"awsRegion":%q,"eventID":"00000000-0000-4000-9000-%012d",`+
			`"eventType":"AwsCloudTrailInsight","recipientAccountId":%q,"sharedEventID":"00000000-0000-4000-a000-%012d",`+
			`"insightDetails":{"state":"Start","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","insightType":%q,`+
			`"insightContext":{"statistics":{"baseline":{"average":0.1},"insight":{"average":9},"insightDuration":1}}},"eventCategory":"Insight"}`,
			e.clk.Now().Format(time.RFC3339), home, n, acctA, n, typ)
		r, err := event.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if _, err := e.st.Append(ctx, []*event.Record{insight(1, "ApiCallRateInsight")}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	e.sync()
	stream := acctA + "_CloudTrail_" + home
	if n := len(e.events(acctA, home, stream)); n != 0 {
		t.Fatalf("a trail without Insights selectors put %d Insights events in its group", n)
	}

	// A trail with an ApiCallRateInsight selector (kept in its document
	// beside the settings, as the control plane keeps it).
	set := trail.Settings{IsLogging: true}
	start := e.clk.Now().Add(-time.Minute)
	set.StartLoggingTime = &start
	set.CloudWatchLogsLogGroupArn = logwatch.GroupARN(acctA, home, groupNm) + ":*"
	doc, _ := json.Marshal(set)
	var m map[string]any
	_ = json.Unmarshal(doc, &m)
	m["InsightSelectors"] = []any{map[string]any{"InsightType": "ApiCallRateInsight"}}
	doc, _ = json.Marshal(m)
	arn := trail.ARN{Region: home, Account: acctA, Name: "insights"}.String()
	if err := e.st.CreateTrail(ctx, store.Trail{ARN: arn, Name: "insights", Account: acctA, HomeRegion: home,
		Doc: doc, Created: e.clk.Now(), Updated: e.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Append(ctx, []*event.Record{insight(2, "ApiCallRateInsight"), insight(3, "ApiErrorRateInsight")}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	e.sync()
	got := e.events(acctA, home, stream)
	if len(got) != 1 || !strings.Contains(got[0].Message, `"insightType":"ApiCallRateInsight"`) {
		t.Fatalf("the Insights trail's group holds %+v, want its one ApiCallRateInsight event", got)
	}
}
