package eventrules_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/eventrules"
	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/store"
)

const (
	acctA = "111122223333"
	acctB = "444455556666"
	home  = "us-east-1"
	other = "eu-west-1"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// publisher records messages, sending each (topic, dedup id) once, as
// topics does. permanent and transient make the next call fail.
type publisher struct {
	mu        sync.Mutex
	sent      []sent
	seen      map[string]bool
	offered   []string // every dedup id offered, in order
	permanent bool
	transient bool
}

type sent struct{ account, topic, subject, message, dedup string }

type permanentErr struct{}

func (permanentErr) Error() string   { return "NotFound: Topic does not exist" }
func (permanentErr) Permanent() bool { return true }

func (p *publisher) Publish(_ context.Context, account, topic, subject, message, dedup string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.permanent {
		p.permanent = false
		return "", permanentErr{}
	}
	if p.transient {
		p.transient = false
		return "", errors.New("database is closing")
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	p.offered = append(p.offered, dedup)
	if !p.seen[topic+"\x00"+dedup] {
		p.seen[topic+"\x00"+dedup] = true
		p.sent = append(p.sent, sent{account, topic, subject, message, dedup})
	}
	return "m-" + dedup, nil
}

// sink records signals once per (detector, rule, key), as the findings
// store does.
type sink struct {
	mu   sync.Mutex
	sigs []findings.Signal
	seen map[string]bool
	all  int
}

func (s *sink) Record(_ context.Context, sigs []findings.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	for _, g := range sigs {
		s.all++
		k := g.Detector + "\x00" + g.RuleID + "\x00" + g.Key
		if !s.seen[k] {
			s.seen[k] = true
			s.sigs = append(s.sigs, g)
		}
	}
	return nil
}

type env struct {
	t   testing.TB
	clk *clock.Fake
	st  *store.Store
	r   *eventrules.Rules
	pub *publisher
	snk *sink
	n   int
}

func newEnv(t testing.TB) *env {
	e := &env{t: t, clk: clock.NewFake(t0), pub: &publisher{}, snk: &sink{}}
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{Now: e.clk.Now})
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
	r, err := eventrules.New(eventrules.Config{Store: e.st, Clock: e.clk, Logger: slog.New(slog.DiscardHandler),
		Publisher: e.pub, Sink: e.snk})
	if err != nil {
		e.t.Fatal(err)
	}
	e.r = r
}

func (e *env) sync() {
	e.t.Helper()
	if err := e.r.Sync(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// ingest stores CloudTrail events "account/region/source/eventName" with
// readOnly as given and returns their eventIDs.
func (e *env) ingest(readOnly bool, specs ...[4]string) []string {
	e.t.Helper()
	var recs []*event.Record
	var ids []string
	for _, p := range specs {
		e.n++
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", e.n)
		ids = append(ids, id)
		m := map[string]any{
			"eventVersion": "1.09", "eventTime": e.clk.Now().Format(time.RFC3339), "eventSource": p[2],
			"eventName": p[3], "awsRegion": p[1], "sourceIPAddress": "192.0.2.1", "userAgent": "test",
			"eventID": id, "eventType": "AwsApiCall", "recipientAccountId": p[0], "managementEvent": true,
			"readOnly": readOnly, "eventCategory": "Management",
			"userIdentity": map[string]any{"type": "IAMUser", "accountId": p[0], "userName": "mallory",
				"arn": "arn:aws:iam::" + p[0] + ":user/mallory", "principalId": "AIDAEXAMPLE"},
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

func ct(account, region, name string) [4]string {
	return [4]string{account, region, "cloudtrail.amazonaws.com", name}
}

const stopLogging = `{"source":["aws.cloudtrail"],"detail":{"eventName":["StopLogging"]}}`

func topic(account string) string { return "arn:aws:sns:" + home + ":" + account + ":alerts" }

func (e *env) rule(account, region, name, pattern, state string, tags map[string]string) string {
	e.t.Helper()
	arn, err := e.r.PutRule(context.Background(), eventrules.Rule{Account: account, Region: region, Name: name,
		EventPattern: pattern, State: state, Description: "trail stopped", CreatedBy: account, Tags: tags})
	if err != nil {
		e.t.Fatal(err)
	}
	return arn
}

func (e *env) target(account, region, rule string, ts ...eventrules.Target) {
	e.t.Helper()
	if err := e.r.PutTargets(context.Background(), account, region, rule, ts); err != nil {
		e.t.Fatal(err)
	}
}

func TestRulesCRUD(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	arn := e.rule(acctA, home, "stop", stopLogging, "", map[string]string{"severity": "high"})
	if want := "arn:aws:events:us-east-1:111122223333:rule/stop"; arn != want {
		t.Fatalf("arn %q, want %q", arn, want)
	}
	e.rule(acctA, home, "other", stopLogging, eventrules.StateDisabled, nil)
	e.rule(acctB, home, "stop", stopLogging, "", nil)
	r, err := e.r.Rule(ctx, acctA, home, "stop")
	if err != nil || r.State != eventrules.StateEnabled || r.Tags["severity"] != "high" || r.CreatedBy != acctA {
		t.Fatalf("rule %+v, %v", r, err)
	}
	// PutRule again replaces settings and keeps tags.
	if _, err := e.r.PutRule(ctx, eventrules.Rule{Account: acctA, Region: home, Name: "stop", EventPattern: `{"source":["aws.s3"]}`,
		State: eventrules.StateDisabled}); err != nil {
		t.Fatal(err)
	}
	r, _ = e.r.Rule(ctx, acctA, home, "stop")
	if r.EventPattern != `{"source":["aws.s3"]}` || r.State != eventrules.StateDisabled || r.Description != "" || r.Tags["severity"] != "high" {
		t.Fatalf("after update %+v", r)
	}
	rs, err := e.r.List(ctx, acctA, home, "st")
	if err != nil || len(rs) != 1 || rs[0].Name != "stop" {
		t.Fatalf("list prefix st: %+v %v", rs, err)
	}
	rs, _ = e.r.List(ctx, acctA, home, "")
	if len(rs) != 2 || rs[0].Name != "other" || rs[1].Name != "stop" {
		t.Fatalf("list: %+v", rs)
	}
	if rs, _ := e.r.List(ctx, acctA, other, ""); len(rs) != 0 {
		t.Fatalf("another region's list: %+v", rs)
	}
	var ee *eventrules.Error
	if _, err := e.r.Rule(ctx, acctA, other, "stop"); !errors.As(err, &ee) || ee.Code != eventrules.CodeNotFound ||
		ee.Message != "Rule stop does not exist on EventBus default." {
		t.Fatalf("missing rule: %v", err)
	}
	if err := e.r.SetState(ctx, acctA, home, "nope", eventrules.StateEnabled); !errors.As(err, &ee) || ee.Code != eventrules.CodeNotFound {
		t.Fatalf("SetState of a missing rule: %v", err)
	}

	e.target(acctA, home, "stop", eventrules.Target{ID: "t1", ARN: topic(acctA), Spec: `{"Id":"t1"}`})
	if err := e.r.DeleteRule(ctx, acctA, home, "stop", false); !errors.As(err, &ee) || ee.Code != eventrules.CodeValidation ||
		ee.Message != "Rule can't be deleted since it has targets." {
		t.Fatalf("delete with targets: %v", err)
	}
	if err := e.r.DeleteRule(ctx, acctA, home, "never-was", false); err != nil {
		t.Fatalf("deleting a missing rule is no error: %v", err)
	}
	missing, err := e.r.RemoveTargets(ctx, acctA, home, "stop", []string{"t1", "t9"})
	if err != nil || len(missing) != 1 || missing[0] != "t9" {
		t.Fatalf("remove: %v %v", missing, err)
	}
	if err := e.r.DeleteRule(ctx, acctA, home, "stop", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.r.Rule(ctx, acctA, home, "stop"); err == nil {
		t.Fatal("deleted rule still there")
	}
	// Force deletes a rule with its targets.
	e.target(acctA, home, "other", eventrules.Target{ID: "t1", ARN: topic(acctA), Spec: `{}`})
	if err := e.r.DeleteRule(ctx, acctA, home, "other", true); err != nil {
		t.Fatal(err)
	}
	if ts, _ := e.r.Targets(ctx, acctA, home, "other"); len(ts) != 0 {
		t.Fatalf("targets of a force-deleted rule: %+v", ts)
	}
}

func TestTargetsOrderLimitAndNames(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.rule(acctA, home, "a", stopLogging, "", nil)
	e.rule(acctA, home, "b", stopLogging, "", nil)
	for _, id := range []string{"z", "y", "x"} {
		e.target(acctA, home, "a", eventrules.Target{ID: id, ARN: topic(acctA), Spec: `{"Id":"` + id + `"}`})
	}
	// Re-putting y keeps its place and replaces it.
	e.target(acctA, home, "a", eventrules.Target{ID: "y", ARN: topic(acctA), Input: `{"k":1}`, Spec: `{"Id":"y2"}`})
	ts, err := e.r.TargetsOf(ctx, acctA, home, "a")
	if err != nil || len(ts) != 3 || ts[0].ID != "z" || ts[1].ID != "y" || ts[1].Spec != `{"Id":"y2"}` || ts[2].ID != "x" {
		t.Fatalf("targets %+v %v", ts, err)
	}
	var ee *eventrules.Error
	err = e.r.PutTargets(ctx, acctA, home, "a", []eventrules.Target{{ID: "p", ARN: topic(acctA)}, {ID: "q", ARN: topic(acctA)}, {ID: "z", ARN: topic(acctA)}, {ID: "r", ARN: topic(acctA)}})
	if !errors.As(err, &ee) || ee.Code != eventrules.CodeLimit {
		t.Fatalf("a sixth target: %v", err)
	}
	if ts, _ := e.r.Targets(ctx, acctA, home, "a"); len(ts) != 3 {
		t.Fatalf("a refused PutTargets changed the targets: %+v", ts)
	}
	if err := e.r.PutTargets(ctx, acctA, home, "nope", []eventrules.Target{{ID: "p", ARN: topic(acctA)}}); !errors.As(err, &ee) || ee.Code != eventrules.CodeNotFound {
		t.Fatalf("targets of a missing rule: %v", err)
	}
	e.target(acctA, home, "b", eventrules.Target{ID: "t", ARN: topic(acctA)})
	names, err := e.r.RuleNamesByTarget(ctx, acctA, home, topic(acctA))
	if err != nil || len(names) != 2 || names[0] != "a" || names[1] != "b" {
		t.Fatalf("names %v %v", names, err)
	}
}

func TestConsumerPublishesAndSignals(t *testing.T) {
	e := newEnv(t)
	arn := e.rule(acctA, home, "stop", stopLogging, "", map[string]string{"Severity": "High"})
	e.target(acctA, home, "stop", eventrules.Target{ID: "sns", ARN: topic(acctA)})
	ids := e.ingest(false, ct(acctA, home, "StopLogging"), ct(acctA, home, "StartLogging"), ct(acctB, home, "StopLogging"),
		ct(acctA, other, "StopLogging"))
	e.sync()
	if len(e.pub.sent) != 1 {
		t.Fatalf("sent %d messages, want 1 (the account and region's StopLogging): %+v", len(e.pub.sent), e.pub.sent)
	}
	m := e.pub.sent[0]
	if m.account != acctA || m.topic != topic(acctA) || m.dedup != arn+"|sns|"+ids[0] {
		t.Fatalf("message %+v", m)
	}
	var env struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
		Account    string `json:"account"`
		Region     string `json:"region"`
		Detail     struct {
			EventName string `json:"eventName"`
			EventID   string `json:"eventID"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(m.message), &env); err != nil {
		t.Fatalf("the message is not the event envelope: %v: %s", err, m.message)
	}
	if env.Source != "aws.cloudtrail" || env.DetailType != "AWS API Call via CloudTrail" || env.Account != acctA ||
		env.Region != home || env.Detail.EventName != "StopLogging" || env.Detail.EventID != ids[0] {
		t.Fatalf("envelope %+v", env)
	}
	if len(e.snk.sigs) != 1 {
		t.Fatalf("signals %+v", e.snk.sigs)
	}
	g := e.snk.sigs[0]
	if g.Detector != findings.DetectorEventRule || g.RuleID != arn || g.Title != "stop" || g.Description != "trail stopped" ||
		g.Severity != findings.SeverityHigh || g.Key != ids[0] || g.Account != acctA || g.Region != home ||
		g.Principal != "arn:aws:iam::"+acctA+":user/mallory" || g.SourceIP != "192.0.2.1" || len(g.EventIDs) != 1 ||
		g.EventIDs[0] != ids[0] || !g.EventTime.Equal(t0) {
		t.Fatalf("signal %+v", g)
	}
}

// TestReplayPublishesNothingTwice restarts the consumer from an older
// cursor: every message and signal it produces again is one the publisher
// and the sink already have.
func TestReplayPublishesNothingTwice(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.rule(acctA, home, "stop", stopLogging, "", nil)
	e.target(acctA, home, "stop", eventrules.Target{ID: "a", ARN: topic(acctA)},
		eventrules.Target{ID: "b", ARN: "arn:aws:sns:us-east-1:" + acctA + ":other"})
	e.ingest(false, ct(acctA, home, "StopLogging"), ct(acctA, home, "StopLogging"))
	e.sync()
	e.ingest(false, ct(acctA, home, "StopLogging"))
	e.sync()
	if len(e.pub.sent) != 6 || len(e.snk.sigs) != 3 {
		t.Fatalf("sent %d, signals %d; want 6 and 3", len(e.pub.sent), len(e.snk.sigs))
	}
	first := append([]string(nil), e.pub.offered...)
	if err := e.st.SetCursor(ctx, "eventrules", 0); err != nil {
		t.Fatal(err)
	}
	e.open()
	e.sync()
	if len(e.pub.sent) != 6 || len(e.snk.sigs) != 3 {
		t.Fatalf("after a replay: sent %d, signals %d; want 6 and 3", len(e.pub.sent), len(e.snk.sigs))
	}
	again := e.pub.offered[len(first):]
	sort.Strings(first)
	sort.Strings(again)
	if fmt.Sprint(first) != fmt.Sprint(again) {
		t.Fatalf("a replay offered other dedup ids:\n%v\n%v", first, again)
	}
	if e.snk.all != 6 {
		t.Fatalf("the replay offered %d signals in all, want 6 (3 twice)", e.snk.all)
	}
}

func TestStateSemantics(t *testing.T) {
	e := newEnv(t)
	anyCT := `{"source":["aws.cloudtrail"]}`
	plain := e.rule(acctA, home, "plain", anyCT, eventrules.StateEnabled, nil)
	all := e.rule(acctA, home, "all", anyCT, eventrules.StateEnabledAll, nil)
	e.rule(acctA, home, "off", anyCT, eventrules.StateDisabled, nil)
	for _, n := range []string{"plain", "all", "off"} {
		e.target(acctA, home, n, eventrules.Target{ID: "t", ARN: topic(acctA)})
	}
	read := e.ingest(true, ct(acctA, home, "DescribeTrails"))
	write := e.ingest(false, ct(acctA, home, "StopLogging"))
	e.sync()
	got := map[string]bool{}
	for _, m := range e.pub.sent {
		got[m.dedup] = true
	}
	want := map[string]bool{plain + "|t|" + write[0]: true, all + "|t|" + write[0]: true, all + "|t|" + read[0]: true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	// Disabling stops deliveries; enabling resumes them.
	ctx := context.Background()
	if err := e.r.SetState(ctx, acctA, home, "plain", eventrules.StateDisabled); err != nil {
		t.Fatal(err)
	}
	w2 := e.ingest(false, ct(acctA, home, "StopLogging"))
	e.sync()
	for _, m := range e.pub.sent {
		if m.dedup == plain+"|t|"+w2[0] {
			t.Fatal("a disabled rule received an event")
		}
	}
	if err := e.r.SetState(ctx, acctA, home, "plain", eventrules.StateEnabled); err != nil {
		t.Fatal(err)
	}
	w3 := e.ingest(false, ct(acctA, home, "StopLogging"))
	e.sync()
	found := false
	for _, m := range e.pub.sent {
		found = found || m.dedup == plain+"|t|"+w3[0]
	}
	if !found {
		t.Fatal("a re-enabled rule received nothing")
	}
}

// TestRuleSeesOnlyLaterEvents: a rule created while the consumer is behind
// does not receive the events committed before it.
func TestRuleSeesOnlyLaterEvents(t *testing.T) {
	e := newEnv(t)
	e.ingest(false, ct(acctA, home, "StopLogging"))
	e.rule(acctA, home, "stop", stopLogging, "", nil)
	e.target(acctA, home, "stop", eventrules.Target{ID: "t", ARN: topic(acctA)})
	later := e.ingest(false, ct(acctA, home, "StopLogging"))
	e.sync()
	if len(e.pub.sent) != 1 || e.snk.sigs[0].Key != later[0] {
		t.Fatalf("sent %+v", e.pub.sent)
	}
}

func TestInputAndInputPath(t *testing.T) {
	e := newEnv(t)
	e.rule(acctA, home, "stop", stopLogging, "", nil)
	e.target(acctA, home, "stop",
		eventrules.Target{ID: "const", ARN: topic(acctA), Input: `{"alert":"trail stopped"}`},
		eventrules.Target{ID: "path", ARN: "arn:aws:sns:us-east-1:" + acctA + ":p", InputPath: "$.detail.userIdentity"},
		eventrules.Target{ID: "name", ARN: "arn:aws:sns:us-east-1:" + acctA + ":n", InputPath: "$['detail']['eventName']"},
		eventrules.Target{ID: "none", ARN: "arn:aws:sns:us-east-1:" + acctA + ":x", InputPath: "$.detail.nothing"})
	e.ingest(false, ct(acctA, home, "StopLogging"))
	e.sync()
	got := map[string]string{}
	for _, m := range e.pub.sent {
		got[m.topic] = m.message
	}
	if got[topic(acctA)] != `{"alert":"trail stopped"}` || got["arn:aws:sns:us-east-1:"+acctA+":n"] != `"StopLogging"` {
		t.Fatalf("messages %v", got)
	}
	var ui map[string]any
	if err := json.Unmarshal([]byte(got["arn:aws:sns:us-east-1:"+acctA+":p"]), &ui); err != nil || ui["userName"] != "mallory" {
		t.Fatalf("InputPath $.detail.userIdentity sent %q", got["arn:aws:sns:us-east-1:"+acctA+":p"])
	}
	if _, ok := got["arn:aws:sns:us-east-1:"+acctA+":x"]; ok || len(got) != 3 {
		t.Fatalf("an InputPath selecting nothing sent something: %v", got)
	}
}

// TestPublishErrors: a permanent refusal (a deleted topic) is skipped; any
// other error stops the step and the events are tried again.
func TestPublishErrors(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.rule(acctA, home, "stop", stopLogging, "", nil)
	e.target(acctA, home, "stop", eventrules.Target{ID: "t", ARN: topic(acctA)})
	e.ingest(false, ct(acctA, home, "StopLogging"))
	e.pub.transient = true
	if err := e.r.Sync(ctx); err == nil {
		t.Fatal("a transient publish error was not reported")
	}
	if len(e.snk.sigs) != 0 {
		t.Fatal("signals recorded before the messages were published")
	}
	e.sync()
	if len(e.pub.sent) != 1 || len(e.snk.sigs) != 1 {
		t.Fatalf("after the retry: sent %d, signals %d", len(e.pub.sent), len(e.snk.sigs))
	}
	e.ingest(false, ct(acctA, home, "StopLogging"))
	e.pub.permanent = true
	e.sync()
	if len(e.pub.sent) != 1 || len(e.snk.sigs) != 2 {
		t.Fatalf("after a permanent refusal: sent %d, signals %d; want 1 and 2", len(e.pub.sent), len(e.snk.sigs))
	}
}

func TestSelectPath(t *testing.T) {
	doc := []byte(`{"a":{"b-c":[1,{"d":"x"}]},"n":null}`)
	for path, want := range map[string]string{
		"$": `{"a":{"b-c":[1,{"d":"x"}]},"n":null}`, "$.a['b-c'][1].d": `"x"`, "$.a['b-c'][0]": `1`, "$.n": `null`,
		"$.a.x": "", "$[']0": "", "$.a['b-c'][5]": "", "a.b": "", "$.": "", "$[x]": "",
	} {
		got, ok := eventrules.SelectPath(doc, path)
		if string(got) != want || ok != (want != "") {
			t.Errorf("SelectPath(%q) = %s %v, want %s", path, got, ok, want)
		}
	}
}

func TestParseRuleARN(t *testing.T) {
	a, r, n, ok := eventrules.ParseRuleARN("arn:aws:events:eu-west-1:111122223333:rule/x.y")
	if !ok || a != acctA || r != other || n != "x.y" {
		t.Fatal(a, r, n, ok)
	}
	for _, bad := range []string{"arn:aws:events:eu-west-1:111122223333:rule/bus/x", "arn:aws:sns:eu-west-1:1:rule/x", "rule/x"} {
		if _, _, _, ok := eventrules.ParseRuleARN(bad); ok {
			t.Errorf("ParseRuleARN(%q) ok", bad)
		}
	}
}

func TestRender(t *testing.T) {
	env := []byte(`{"id":"e1","detail":{"eventName":"StopLogging","n":5,"userIdentity":{"arn":"arn:aws:iam::1:user/a\"b"},"list":[1,2]}}`)
	tr := &eventrules.Transformer{PathsMap: map[string]string{"name": "$.detail.eventName", "n": "$.detail.n",
		"who": "$.detail.userIdentity.arn", "list": "$.detail.list", "gone": "$.detail.nothing"}}
	vars := eventrules.Vars{RuleARN: "arn:aws:events:us-east-1:1:rule/r", RuleName: "r", IngestionTime: t0}
	for tmpl, want := range map[string]string{
		`{"event":<name>,"count":<n>,"by":"user <who>","list":<list>}`: `{"event":"StopLogging","count":5,"by":"user arn:aws:iam::1:user/a\"b","list":[1,2]}`,
		`"<name> by <who>"`:                  `"StopLogging by arn:aws:iam::1:user/a\"b"`,
		`{"missing":<gone>,"in":"x<gone>y"}`: `{"missing":null,"in":"xy"}`,
		`{"rule":<aws.events.rule-name>,"arn":"<aws.events.rule-arn>","at":<aws.events.event.ingestion-time>}`: `{"rule":"r","arn":"arn:aws:events:us-east-1:1:rule/r","at":"2026-03-01T10:00:00Z"}`,
		`{"whole":<aws.events.event.json>}`: `{"whole":` + string(env) + `}`,
		`"a \"<name>\" <unknown> <name"`:    `"a \"StopLogging\" <unknown> <name"`,
	} {
		tr.Template = tmpl
		if got := eventrules.Render(tr, env, vars); got != want {
			t.Errorf("Render(%s)\n= %s\nwant %s", tmpl, got, want)
		}
	}
}

func TestTransformerDelivery(t *testing.T) {
	e := newEnv(t)
	arn := e.rule(acctA, home, "stop", stopLogging, "", nil)
	e.target(acctA, home, "stop", eventrules.Target{ID: "t", ARN: topic(acctA), Transformer: &eventrules.Transformer{
		PathsMap: map[string]string{"who": "$.detail.userIdentity.arn", "acct": "$.account"},
		Template: `"<who> stopped a trail in <acct> (rule <aws.events.rule-arn>)"`}})
	e.open() // the transformer is read back from the table
	e.ingest(false, ct(acctA, home, "StopLogging"))
	e.sync()
	want := `"arn:aws:iam::` + acctA + `:user/mallory stopped a trail in ` + acctA + ` (rule ` + arn + `)"`
	if len(e.pub.sent) != 1 || e.pub.sent[0].message != want {
		t.Fatalf("sent %+v, want %s", e.pub.sent, want)
	}
}
