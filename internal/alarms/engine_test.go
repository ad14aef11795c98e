package alarms

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/alarmrule"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/store"
)

type sent struct{ account, topic, subject, message, dedup string }

type fakePub struct {
	mu    sync.Mutex
	sent  []sent
	seen  map[string]bool
	fail  int
	calls int
}

func (p *fakePub) Publish(_ context.Context, account, topic, subject, message, dedup string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.fail > 0 {
		p.fail--
		return "", errors.New("topic unreachable")
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	if p.seen[topic+dedup] {
		return "m-" + dedup, nil
	}
	p.seen[topic+dedup] = true
	p.sent = append(p.sent, sent{account, topic, subject, message, dedup})
	return "m-" + dedup, nil
}

func (p *fakePub) count() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.sent) }

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

type fixture struct {
	t   *testing.T
	dir string
	st  *store.Store
	e   *Engine
	clk *clock.Fake
	pub *fakePub
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, dir: t.TempDir(), clk: clock.NewFake(t0), pub: &fakePub{}}
	f.open()
	t.Cleanup(f.close)
	return f
}

func (f *fixture) open() {
	st, err := store.Open(context.Background(), f.dir, store.Options{Now: f.clk.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	e, err := New(Config{DB: st.DB(), Clock: f.clk, Publisher: f.pub, Tick: time.Hour})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := e.load(context.Background()); err != nil { // Start without the goroutines: the test drives them
		f.t.Fatal(err)
	}
	f.st, f.e = st, e
}

func (f *fixture) close() {
	if f.st != nil {
		f.st.Close()
		f.st = nil
	}
}

func (f *fixture) reopen() { f.close(); f.open() }

const acct, region = "111111111111", "us-east-1"

func f64(v float64) *float64 { return &v }

func (f *fixture) put(name string, tm time.Time, v float64, events ...string) {
	f.t.Helper()
	err := f.e.Put(context.Background(), acct, region, []Sample{{Namespace: "CIS", MetricName: name, Time: tm, Count: 1, Sum: v, Min: v, Max: v, EventIDs: events}})
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) alarm(name string) Alarm {
	for _, a := range f.e.Alarms(acct, region) {
		if a.Name == name {
			return a
		}
	}
	f.t.Fatalf("no alarm %s", name)
	return Alarm{}
}

func basicAlarm(name string) Alarm {
	return Alarm{Account: acct, Region: region, Name: name, ActionsEnabled: true, MetricName: "Logins", Namespace: "CIS",
		Statistic: "Sum", Period: 300, EvaluationPeriods: 1, Threshold: f64(3), ComparisonOperator: alarmrule.GreaterThanOrEqualToThreshold,
		TreatMissingData: alarmrule.NotBreaching, AlarmActions: []string{"arn:aws:sns:us-east-1:111111111111:sec"}}
}

func TestAlarmLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a0 := basicAlarm("logins")
	a0.OKActions = []string{"arn:aws:sns:us-east-1:111111111111:ok"}
	if err := f.e.PutAlarm(ctx, a0); err != nil {
		t.Fatal(err)
	}
	// created INSUFFICIENT_DATA, evaluated at once: no data, notBreaching → OK
	if a := f.alarm("logins"); a.State != alarmrule.OK {
		t.Fatalf("state %s (%s)", a.State, a.StateReason)
	}
	f.e.drain(ctx)
	if f.pub.count() != 1 || f.pub.sent[0].subject != `OK: "logins" in US East (N. Virginia)` {
		t.Fatalf("INSUFFICIENT_DATA -> OK sent %+v", f.pub.sent)
	}
	f.pub.sent = nil
	f.clk.Advance(time.Minute)
	f.put("Logins", f.clk.Now(), 1, "ev-1")
	f.put("Logins", f.clk.Now(), 1, "ev-2")
	f.e.evaluatePending(ctx)
	if a := f.alarm("logins"); a.State != alarmrule.OK {
		t.Fatalf("2 < 3 but %s", a.State)
	}
	f.put("Logins", f.clk.Now().Add(10*time.Second), 1, "ev-3")
	f.e.evaluatePending(ctx)
	a := f.alarm("logins")
	want := "Threshold Crossed: 1 out of the last 1 datapoints [3.0 (04/12/26 10:00:00)] was greater than or equal to the threshold (3.0) (minimum 1 datapoint for OK -> ALARM transition)."
	if a.State != alarmrule.Alarm || a.StateReason != want {
		t.Fatalf("state %s %q", a.State, a.StateReason)
	}
	f.e.drain(ctx)
	if f.pub.count() != 1 {
		t.Fatalf("sent %d", f.pub.count())
	}
	s := f.pub.sent[0]
	if s.subject != `ALARM: "logins" in US East (N. Virginia)` {
		t.Errorf("subject %q", s.subject)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s.message), &m); err != nil {
		t.Fatal(err)
	}
	if m["NewStateValue"] != "ALARM" || m["OldStateValue"] != "OK" || m["AlarmArn"] != "arn:aws:cloudwatch:us-east-1:111111111111:alarm:logins" {
		t.Errorf("message %s", s.message)
	}
	if ev, _ := json.Marshal(m["OpentrailTriggeringEvents"]); string(ev) != `["ev-1","ev-2","ev-3"]` {
		t.Errorf("events %s", ev)
	}
	tr := m["Trigger"].(map[string]any)
	if tr["Statistic"] != "SUM" || tr["Period"].(float64) != 300 || tr["ComparisonOperator"] != alarmrule.GreaterThanOrEqualToThreshold {
		t.Errorf("trigger %v", tr)
	}
	// the next period has no data: notBreaching → OK, OK action sent
	f.clk.Advance(5 * time.Minute) // 10:06: the last complete period is still the breaching one
	f.e.evaluateAll(ctx)
	if a := f.alarm("logins"); a.State != alarmrule.Alarm {
		t.Fatalf("during the next period: %s", a.State)
	}
	f.clk.Advance(5 * time.Minute) // 10:11: 10:05-10:10 had no data
	f.e.evaluateAll(ctx)
	if a := f.alarm("logins"); a.State != alarmrule.OK {
		t.Fatalf("after the period: %s", a.State)
	}
	f.e.drain(ctx)
	if f.pub.count() != 2 || !strings.HasPrefix(f.pub.sent[1].subject, "OK: ") || f.pub.sent[1].topic != "arn:aws:sns:us-east-1:111111111111:ok" {
		t.Fatalf("sent %+v", f.pub.sent)
	}
	hist, err := f.e.History(ctx, HistoryFilter{Account: acct, Region: region, AlarmName: "logins"})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, h := range hist {
		kinds = append(kinds, h.Kind+":"+h.Summary)
	}
	got := strings.Join(kinds, "|")
	for _, w := range []string{"StateUpdate:Alarm updated from ALARM to OK", "Action:Successfully executed action arn:aws:sns:us-east-1:111111111111:sec", "Action:Successfully executed action arn:aws:sns:us-east-1:111111111111:ok",
		"StateUpdate:Alarm updated from OK to ALARM", "StateUpdate:Alarm updated from INSUFFICIENT_DATA to OK", `ConfigurationUpdate:Alarm "logins" created`} {
		if !strings.Contains(got, w) {
			t.Errorf("history lacks %q: %s", w, got)
		}
	}
	var hd map[string]any
	for _, h := range hist {
		if h.Kind == "StateUpdate" {
			_ = json.Unmarshal([]byte(h.Data), &hd)
			break
		}
	}
	if ns, _ := hd["newState"].(map[string]any); ns == nil || ns["stateValue"] != "OK" {
		t.Errorf("history data %v", hd)
	}
}

func TestSetAlarmStateAndBack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_ = f.e.PutAlarm(ctx, basicAlarm("a"))
	if err := f.e.SetState(ctx, acct, region, "a", alarmrule.Alarm, "testing", `{"x":1}`); err != nil {
		t.Fatal(err)
	}
	a := f.alarm("a")
	if a.State != alarmrule.Alarm || a.StateReason != "testing" {
		t.Fatalf("%s %s", a.State, a.StateReason)
	}
	f.e.drain(ctx)
	if f.pub.count() != 1 {
		t.Fatalf("SetAlarmState sent %d notifications", f.pub.count())
	}
	f.e.evaluateAll(ctx) // the next evaluation puts it back
	if a := f.alarm("a"); a.State != alarmrule.OK {
		t.Fatalf("after evaluation %s", a.State)
	}
	if err := f.e.SetState(ctx, acct, region, "nope", "OK", "x", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing alarm: %v", err)
	}
	// disabled actions queue nothing
	_ = f.e.SetActionsEnabled(ctx, acct, region, []string{"a"}, false)
	_ = f.e.SetState(ctx, acct, region, "a", alarmrule.Alarm, "again", "")
	f.e.drain(ctx)
	if f.pub.count() != 1 { // the ALARM above, nothing more
		t.Fatalf("sent %d", f.pub.count())
	}
}

func TestPutSourcedIdempotent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pts := []Datapoint{
		{Account: acct, Region: region, Namespace: "CIS", MetricName: "M", Time: t0, Value: 1, Seq: 10},
		{Account: acct, Region: region, Namespace: "CIS", MetricName: "M", Time: t0, Value: 1, Seq: 11},
	}
	for i := 0; i < 3; i++ {
		if err := f.e.PutSourced(ctx, "logwatch", pts); err != nil {
			t.Fatal(err)
		}
	}
	sum := func() float64 {
		ag := f.e.Aggregates(MetricQuery{Account: acct, Region: region, Namespace: "CIS", MetricName: "M"}, t0, t0.Add(time.Minute), time.Minute)
		if len(ag) != 1 {
			t.Fatalf("aggregates %+v", ag)
		}
		return ag[0].Sum
	}
	if s := sum(); s != 2 {
		t.Fatalf("sum after replays %v", s)
	}
	f.reopen()
	pts = append(pts, Datapoint{Account: acct, Region: region, Namespace: "CIS", MetricName: "M", Time: t0, Value: 5, Seq: 12})
	if err := f.e.PutSourced(ctx, "logwatch", pts); err != nil {
		t.Fatal(err)
	}
	if s := sum(); s != 7 {
		t.Fatalf("sum after restart and replay %v", s)
	}
	// another source has its own cursor
	if err := f.e.PutSourced(ctx, "other", pts[:1]); err != nil {
		t.Fatal(err)
	}
	if s := sum(); s != 8 {
		t.Fatalf("sum with a second source %v", s)
	}
}

func TestPersistenceAcrossRestart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_ = f.e.PutAlarm(ctx, basicAlarm("logins"))
	f.put("Logins", t0, 4)
	f.e.evaluatePending(ctx)
	f.reopen()
	a := f.alarm("logins")
	if a.State != alarmrule.Alarm || a.Transitions != 2 {
		t.Fatalf("after restart: %s, %d transitions", a.State, a.Transitions)
	}
	if ms := f.e.ListMetrics(acct, region, time.Time{}); len(ms) != 1 || ms[0].MetricName != "Logins" {
		t.Fatalf("metrics %+v", ms)
	}
	h, _ := f.e.History(ctx, HistoryFilter{Account: acct, Region: region})
	if len(h) != 3 {
		t.Fatalf("history after restart: %d items", len(h))
	}
	// the unsent notification survived in the outbox
	f.e.drain(ctx)
	if f.pub.count() != 1 {
		t.Fatalf("sent %d", f.pub.count())
	}
	// a re-evaluation over the same data changes nothing
	f.e.evaluateAll(ctx)
	if a := f.alarm("logins"); a.Transitions != 2 {
		t.Fatalf("re-evaluation made a transition: %d", a.Transitions)
	}
}

// TestReplayAfterCrash: the process dies after publishing but before the
// outbox row is removed; the restarted engine publishes again with the
// same dedup id, so the topic sends nothing new.
func TestReplayAfterCrash(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_ = f.e.PutAlarm(ctx, basicAlarm("logins"))
	f.put("Logins", t0, 4)
	f.e.evaluatePending(ctx)
	// publish without recording it (the crash)
	var id, topic, subject, msg string
	if err := f.st.DB().QueryRow(`SELECT id, topic, subject, message FROM cw_outbox`).Scan(&id, &topic, &subject, &msg); err != nil {
		t.Fatal(err)
	}
	_, _ = f.pub.Publish(ctx, acct, topic, subject, msg, id)
	f.reopen()
	f.e.drain(ctx)
	f.e.evaluateAll(ctx)
	f.e.drain(ctx)
	if f.pub.count() != 1 || f.pub.calls != 2 {
		t.Fatalf("sent %d in %d calls", f.pub.count(), f.pub.calls)
	}
	var n int
	_ = f.st.DB().QueryRow(`SELECT count(*) FROM cw_outbox`).Scan(&n)
	if n != 0 {
		t.Fatalf("outbox keeps %d rows", n)
	}
}

func TestPublishRetry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.pub.fail = 2
	_ = f.e.PutAlarm(ctx, basicAlarm("logins"))
	f.put("Logins", t0, 4)
	f.e.evaluatePending(ctx)
	if w := f.e.drain(ctx); w != 2*time.Second {
		t.Fatalf("first retry in %v", w)
	}
	f.clk.Advance(2 * time.Second)
	if w := f.e.drain(ctx); w != 4*time.Second {
		t.Fatalf("second retry in %v", w)
	}
	f.clk.Advance(4 * time.Second)
	if w := f.e.drain(ctx); w != 0 || f.pub.count() != 1 {
		t.Fatalf("wait %v sent %d", w, f.pub.count())
	}
}

func TestAccountIsolation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_ = f.e.PutAlarm(ctx, basicAlarm("logins"))
	_ = f.e.Put(ctx, "222222222222", region, []Sample{{Namespace: "CIS", MetricName: "Logins", Time: t0, Count: 1, Sum: 9, Min: 9, Max: 9}})
	_ = f.e.Put(ctx, acct, "eu-west-1", []Sample{{Namespace: "CIS", MetricName: "Logins", Time: t0, Count: 1, Sum: 9, Min: 9, Max: 9}})
	f.e.evaluatePending(ctx)
	if a := f.alarm("logins"); a.State != alarmrule.OK {
		t.Fatalf("another account's data moved the alarm: %s", a.State)
	}
	if len(f.e.Alarms("222222222222", region)) != 0 || len(f.e.ListMetrics(acct, region, time.Time{})) != 0 {
		t.Fatal("resources leak across accounts or regions")
	}
	if err := f.e.DeleteAlarms(ctx, "222222222222", region, []string{"logins"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete across accounts: %v", err)
	}
}

func TestBandAlarm(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// an hour of a steady 2 or 3 failures a minute
	for i := 0; i < 60; i++ {
		f.put("Fail", t0.Add(time.Duration(i)*time.Minute), float64(2+i%2))
	}
	f.clk.Set(t0.Add(60 * time.Minute))
	yes := true
	no := false
	a := Alarm{Account: acct, Region: region, Name: "outlier", ActionsEnabled: true, EvaluationPeriods: 1,
		ComparisonOperator: alarmrule.GreaterThanUpperThreshold, ThresholdMetricID: "ad1", TreatMissingData: alarmrule.Missing,
		Metrics: []Query{
			{ID: "m1", ReturnData: &yes, Stat: &MetricStat{Namespace: "CIS", MetricName: "Fail", Period: 60, Stat: "Sum"}},
			{ID: "ad1", ReturnData: &no, Expression: "ANOMALY_DETECTION_BAND(m1, 2)"},
		}}
	if err := f.e.PutAlarm(ctx, a); err != nil {
		t.Fatal(err)
	}
	// the band is 2.5 ± 1: 3 is inside, the current minute is empty → last complete minute (3)
	if s := f.alarm("outlier").State; s != alarmrule.OK {
		t.Fatalf("steady: %s (%s)", s, f.alarm("outlier").StateReason)
	}
	f.put("Fail", f.clk.Now(), 40)
	f.e.evaluatePending(ctx)
	got := f.alarm("outlier")
	if got.State != alarmrule.Alarm || !strings.Contains(got.StateReason, "greater than the upper thresholds [3.5]") {
		t.Fatalf("burst: %s %q", got.State, got.StateReason)
	}
	lo, hi, ok := f.e.Bands(MetricQuery{Account: acct, Region: region, Namespace: "CIS", MetricName: "Fail"}, "Sum",
		[]time.Time{t0.Add(2 * time.Minute)}, time.Minute, 2)
	if ok[0] {
		t.Fatalf("a band from 2 minutes of history: %v %v", lo, hi)
	}
}

func TestPrune(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.put("M", t0, 1)
	f.put("M", t0, 2) // the same minute again: a second row supersedes the first
	f.put("M", t0.Add(time.Minute), 5)
	rows := func() int {
		var n int
		if err := f.st.DB().QueryRow(`SELECT count(*) FROM cw_points`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := rows(); n != 3 {
		t.Fatalf("%d rows before the prune", n)
	}
	f.clk.Advance(2 * time.Hour)
	f.e.prune(ctx)
	if n := rows(); n != 2 {
		t.Fatalf("%d rows after dropping the superseded one", n)
	}
	f.reopen()
	ag := f.e.Aggregates(MetricQuery{Account: acct, Region: region, Namespace: "CIS", MetricName: "M"}, t0, t0.Add(2*time.Minute), 2*time.Minute)
	if len(ag) != 1 || ag[0].Sum != 8 || ag[0].Count != 3 {
		t.Fatalf("after prune and restart: %+v", ag)
	}
	f.clk.Advance(16 * 24 * time.Hour) // past the retention
	f.e.prune(ctx)
	if n := rows(); n != 0 {
		t.Fatalf("%d rows past the retention", n)
	}
	if ag := f.e.Aggregates(MetricQuery{Account: acct, Region: region, Namespace: "CIS", MetricName: "M"}, t0, t0.Add(2*time.Minute), time.Minute); len(ag) != 0 {
		t.Fatalf("memory keeps %+v", ag)
	}
}

func FuzzParseBand(f *testing.F) {
	for _, s := range []string{"ANOMALY_DETECTION_BAND(m1, 2)", "ANOMALY_DETECTION_BAND(m1)", "ANOMALY_DETECTION_BAND( x_1 ,0.5 )", "SUM(m1)", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, k, ok := ParseBand(s)
		if !ok {
			return
		}
		if id == "" || id[0] < 'a' || id[0] > 'z' || k < 0 || !strings.Contains(s, id) {
			t.Fatalf("%q parsed as %q, %v", s, id, k)
		}
	})
}

// TestRecreatedAlarmNotifies: an alarm deleted and created again under
// its name gets new transition ids, so a topic that deduplicates does not
// swallow its notifications as repeats of its predecessor's.
func TestRecreatedAlarmNotifies(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.put("Logins", t0, 4)
	_ = f.e.PutAlarm(ctx, basicAlarm("logins")) // its first transition: to ALARM
	f.e.drain(ctx)
	if err := f.e.DeleteAlarms(ctx, acct, region, []string{"logins"}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Second)
	_ = f.e.PutAlarm(ctx, basicAlarm("logins")) // evaluates at once: the same minute breaches
	f.e.drain(ctx)
	if f.pub.count() != 2 || f.pub.sent[0].dedup == f.pub.sent[1].dedup {
		t.Fatalf("sent %+v", f.pub.sent)
	}
}

func TestSubjectLength(t *testing.T) {
	a := basicAlarm(strings.Repeat("x", 255))
	a.State = alarmrule.Alarm
	s, _ := notification(&a, alarmrule.OK, t0, nil)
	if len(s) != 100 || !strings.HasPrefix(s, `ALARM: "xxx`) {
		t.Fatalf("subject %d %q", len(s), s)
	}
}

// An evaluation pass commits the state changes of all its alarms in one
// transaction (the engine's lock is held for one commit, not one per
// alarm): if the commit fails, no alarm of the pass changes, and the next
// pass changes them all, with their history and notifications.
func TestPassCommitsChangesTogether(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	names := []string{"a1", "a2", "a3"}
	for _, n := range names {
		if err := f.e.PutAlarm(ctx, basicAlarm(n)); err != nil {
			t.Fatal(err)
		}
	}
	f.e.drain(ctx)
	f.pub.sent = nil
	// A history row in the way of the pass's second item makes its
	// transaction fail.
	f.e.mu.Lock()
	blocker := f.e.histID + 2
	f.e.mu.Unlock()
	if _, err := f.st.DB().Exec(`INSERT INTO cw_history VALUES (?, 'x', 'x', 'x', now(), 'x', 'x', '{}')`, blocker); err != nil {
		t.Fatal(err)
	}
	f.put("Logins", f.clk.Now(), 4)
	f.e.evaluatePending(ctx)
	for _, n := range names {
		if a := f.alarm(n); a.State != alarmrule.OK || a.Transitions != 1 {
			t.Errorf("after the failed pass %s is %s with %d transitions, want OK with 1 (unchanged)", n, a.State, a.Transitions)
		}
	}
	if _, err := f.st.DB().Exec(`DELETE FROM cw_history WHERE id = ?`, blocker); err != nil {
		t.Fatal(err)
	}
	f.e.evaluateAll(ctx)
	for _, n := range names {
		if a := f.alarm(n); a.State != alarmrule.Alarm || a.Transitions != 2 {
			t.Errorf("after the next pass %s is %s with %d transitions, want ALARM with 2", n, a.State, a.Transitions)
		}
	}
	f.e.drain(ctx)
	if f.pub.count() != 3 {
		t.Errorf("sent %d notifications, want 3", f.pub.count())
	}
	f.reopen()
	h, err := f.e.History(ctx, HistoryFilter{Account: acct, Region: region})
	if err != nil {
		t.Fatal(err)
	}
	updates := 0
	for _, x := range h {
		if x.Kind == "StateUpdate" && x.Summary == "Alarm updated from OK to ALARM" {
			updates++
		}
	}
	if updates != 3 {
		t.Errorf("history after restart has %d OK → ALARM items, want 3", updates)
	}
	for _, n := range names {
		if a := f.alarm(n); a.State != alarmrule.Alarm {
			t.Errorf("after restart %s is %s", n, a.State)
		}
	}
}

// The OnTransition hook sees each committed transition once, with its id
// and the events behind it.
func TestOnTransitionHook(t *testing.T) {
	type call struct {
		name, old, state, id string
		events               []string
	}
	var calls []call
	f := newFixture(t)
	f.e.cfg.OnTransition = func(_ context.Context, a Alarm, old, id string, events []string) {
		calls = append(calls, call{a.Name, old, a.State, id, events})
	}
	ctx := context.Background()
	if err := f.e.PutAlarm(ctx, basicAlarm("logins")); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Minute)
	f.put("Logins", f.clk.Now(), 3, "ev-1", "ev-2")
	f.e.evaluatePending(ctx)
	if len(calls) != 2 || calls[0].state != alarmrule.OK || calls[1].old != alarmrule.OK || calls[1].state != alarmrule.Alarm {
		t.Fatalf("calls %+v", calls)
	}
	a := f.alarm("logins")
	if calls[1].id != transitionID(a.ARN(), a.Created, a.Transitions) || calls[0].id == calls[1].id {
		t.Errorf("transition ids %q %q", calls[0].id, calls[1].id)
	}
	if strings.Join(calls[1].events, ",") != "ev-1,ev-2" {
		t.Errorf("events %v", calls[1].events)
	}
	// Setting the state it is in commits nothing and calls nothing.
	if err := f.e.SetState(ctx, acct, region, "logins", alarmrule.Alarm, "again", ""); err != nil || len(calls) != 2 {
		t.Errorf("%v, %d calls", err, len(calls))
	}
}

func TestRegions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, region := range []string{"us-east-1", "eu-west-1", "us-east-1"} {
		a := basicAlarm("logins-" + region)
		a.Region = region
		if err := f.e.PutAlarm(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	other := basicAlarm("elsewhere")
	other.Account, other.Region = "222222222222", "ap-south-1"
	if err := f.e.PutAlarm(ctx, other); err != nil {
		t.Fatal(err)
	}
	if got := f.e.Regions(basicAlarm("x").Account); !slices.Equal(got, []string{"eu-west-1", "us-east-1"}) {
		t.Errorf("Regions = %v, want [eu-west-1 us-east-1]", got)
	}
	if got := f.e.Regions("333333333333"); len(got) != 0 {
		t.Errorf("Regions of an account without alarms = %v", got)
	}
}
