package aggregate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/aggregate"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

const (
	acct  = "210987654321"
	other = "123456789012"
	reg   = "eu-west-1"
)

var t0 = time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC)

// appender stores records in the store, as the server's ingester does,
// and keeps the outcomes; fail makes the next call fail after storing
// (a crash between the append and the window's close).
type appender struct {
	st       *store.Store
	recs     []*event.Record
	outcomes []store.Outcome
	fail     bool
}

func (a *appender) Append(ctx context.Context, source string, recs []*event.Record) error {
	if source != aggregate.Source {
		return fmt.Errorf("source %q", source)
	}
	out, err := a.st.Append(ctx, recs, time.Time{})
	if err != nil {
		return err
	}
	a.recs = append(a.recs, recs...)
	a.outcomes = append(a.outcomes, out...)
	if a.fail {
		a.fail = false
		return errors.New("crash after the append")
	}
	return nil
}

type env struct {
	t   *testing.T
	clk *clock.Fake
	st  *store.Store
	app *appender
	agg *aggregate.Aggregator
	n   int
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, clk: clock.NewFake(t0)}
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st, e.app = st, &appender{st: st}
	e.open()
	return e
}

// open makes a new component over the store, as a restart does.
func (e *env) open() {
	a, err := aggregate.New(aggregate.Config{Store: e.st, DB: e.st.DB(), Appender: e.app, Clock: e.clk,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.agg = a
}

func (e *env) sync() {
	e.t.Helper()
	if err := e.agg.Sync(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// trail stores a logging trail of acct that selects S3 data events and
// aggregates them with templates.
func (e *env) trail(name string, templates ...string) {
	e.t.Helper()
	start := e.clk.Now().Add(-time.Hour)
	set := trail.Settings{S3BucketName: "logs", IsLogging: true, StartLoggingTime: &start, IsMultiRegionTrail: true,
		AdvancedEventSelectors: []trail.AdvancedEventSelector{{Name: "s3", FieldSelectors: []trail.AdvancedFieldSelector{
			{Field: "eventCategory", Equals: []string{"Data"}}, {Field: "resources.type", Equals: []string{"AWS::S3::Object"}}}}}}
	if len(templates) > 0 {
		set.AggregationConfigurations = []trail.AggregationConfiguration{{Templates: templates, EventCategory: "Data"}}
	}
	doc, _ := json.Marshal(set)
	arn := trail.ARN{Region: reg, Account: acct, Name: name}.String()
	if err := e.st.CreateTrail(context.Background(), store.Trail{ARN: arn, Name: name, Account: acct, HomeRegion: reg,
		Doc: doc, Created: e.clk.Now(), Updated: e.clk.Now()}); err != nil {
		e.t.Fatal(err)
	}
}

// s3 stores one S3 data event per spec "account user eventName bucket
// [errorCode]" at time at.
func (e *env) s3(at time.Time, specs ...string) {
	e.t.Helper()
	var recs []*event.Record
	for _, s := range specs {
		f := strings.Fields(s)
		e.n++
		errCode := ""
		if len(f) > 4 {
			errCode = `"errorCode":"` + f[4] + `",`
		}
		raw := fmt.Sprintf(`{"eventVersion":"1.10","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE%s","arn":"arn:aws:iam::%s:user/%s","accountId":"%s","userName":"%s"},`+
			`"eventTime":"%s","eventSource":"s3.amazonaws.com","eventName":"%s","awsRegion":"%s","sourceIPAddress":"192.0.2.7","userAgent":"aws-cli/2.9.19",%s`+
			`"requestParameters":{"bucketName":"%s","key":"k%d"},"responseElements":null,"requestID":"R%d","eventID":"00000000-0000-4000-8000-%012d",`+
			`"readOnly":true,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::%s/k%d"},{"accountId":"%s","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::%s"}],`+
			`"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"%s","eventCategory":"Data"}`,
			f[1], f[0], f[1], f[0], f[1], at.Format(time.RFC3339), f[2], reg, errCode, f[3], e.n, e.n, e.n, f[3], e.n, f[0], f[3], f[0])
		r, err := event.Parse([]byte(raw))
		if err != nil {
			e.t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if _, err := e.st.Append(context.Background(), recs, time.Time{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) byTemplate() map[string][]string {
	out := map[string][]string{}
	for _, r := range e.app.recs {
		if r.EventCategory != event.CategoryAggregated {
			e.t.Errorf("category %q", r.EventCategory)
		}
		var m struct {
			Summary struct {
				PrimaryDimension struct{ Dimension string } `json:"primaryDimension"`
			} `json:"summary"`
		}
		json.Unmarshal(r.Raw, &m)
		d := m.Summary.PrimaryDimension.Dimension
		out[d] = append(out[d], string(r.Raw))
	}
	return out
}

func TestAggregateWindow(t *testing.T) {
	e := newEnv(t)
	e.trail("agg", trail.TemplateAPIActivity, trail.TemplateResourceAccess, trail.TemplateUserActions)
	in := t0.Add(time.Minute)
	e.s3(in,
		acct+" alice GetObject reports", acct+" alice GetObject reports", acct+" bob GetObject reports",
		acct+" bob PutObject uploads AccessDenied",
		other+" carol GetObject reports") // another account: not this trail's
	e.s3(t0.Add(-time.Minute), acct+" alice GetObject reports") // the window before
	e.sync()
	if len(e.app.recs) != 0 {
		t.Fatalf("records before the windows closed: %d", len(e.app.recs))
	}
	// The clock passes the end of 10:15–10:20 plus the lateness.
	e.clk.Advance(10*time.Minute + time.Second)
	e.sync()
	got := e.byTemplate()
	// 10:10 window: one record per template; 10:15 window: GetObject,
	// PutObject; reports, uploads; alice, bob.
	if len(got["eventName"]) != 3 || len(got["resourceARN"]) != 3 || len(got["userIdentity"]) != 3 {
		t.Fatalf("records by primary dimension: %v", got)
	}
	want := `{"eventVersion":"1.0","accountId":"210987654321","eventId":"` +
		aggregate.EventID(acct, reg, "s3.amazonaws.com", trail.TemplateAPIActivity, "GetObject", t0) + `",` +
		`"eventCategory":"Aggregated","eventType":"AwsAggregatedEvent","awsRegion":"eu-west-1","eventSource":"s3.amazonaws.com",` +
		`"timeWindow":{"windowStart":"2026-03-02T10:15:00Z","windowEnd":"2026-03-02T10:20:00Z","windowSize":"PT5M"},` +
		`"summary":{"primaryDimension":{"dimension":"eventName","statistics":[{"name":"GetObject","value":3}],"aggregationType":"Count"},` +
		`"details":[{"dimension":"resourceARN","statistics":[{"name":"arn:aws:s3:::reports","value":3}],"aggregationType":"Count"},` +
		`{"dimension":"userIdentity","statistics":[{"name":"arn:aws:iam::210987654321:user/alice","value":2},{"name":"arn:aws:iam::210987654321:user/bob","value":1}],"aggregationType":"Count"},` +
		`{"dimension":"sourceIpAddress","statistics":[{"name":"192.0.2.7","value":3}],"aggregationType":"Count"},` +
		`{"dimension":"userAgent","statistics":[{"name":"aws-cli/2.9.19","value":3}],"aggregationType":"Count"}]}}`
	found := false
	for _, r := range got["eventName"] {
		found = found || r == want
	}
	if !found {
		t.Errorf("API_ACTIVITY GetObject record missing; want\n%s\ngot\n%s", want, strings.Join(got["eventName"], "\n"))
	}
	for _, r := range got["resourceARN"] {
		if strings.Contains(r, `"name":"arn:aws:s3:::uploads","value":1}],"aggregationType":"Count"},"details":[{"dimension":"eventName"`) &&
			!strings.Contains(r, `{"dimension":"errorCodes","statistics":[{"name":"AccessDenied","value":1}]`) {
			t.Errorf("RESOURCE_ACCESS uploads record lacks its error code: %s", r)
		}
	}
	for i, o := range e.app.outcomes {
		if o != store.Stored {
			t.Errorf("record %d: %v", i, o)
		}
	}
	// Stored, and in the stream as category Aggregated.
	evs, err := e.st.ReadAfter(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Rec.EventType == "AwsAggregatedEvent" {
			n++
		}
	}
	if n != 9 {
		t.Errorf("stored aggregated events = %d, want 9", n)
	}
	// Nothing more on the next passes: the windows are closed, and the
	// component's own records are not data events.
	e.clk.Advance(time.Hour)
	e.sync()
	if len(e.app.recs) != 9 {
		t.Errorf("records after another pass: %d", len(e.app.recs))
	}
	// A late event of a closed window is not summarised again.
	e.s3(in, acct+" alice GetObject reports")
	e.clk.Advance(time.Hour)
	e.sync()
	if len(e.app.recs) != 9 {
		t.Errorf("late event reopened its window: %d records", len(e.app.recs))
	}
}

func TestAggregateNoConfiguration(t *testing.T) {
	e := newEnv(t)
	e.trail("plain")
	e.s3(t0, acct+" alice GetObject reports")
	e.clk.Advance(time.Hour)
	e.sync()
	if len(e.app.recs) != 0 {
		t.Errorf("a trail without aggregation got %d records", len(e.app.recs))
	}
}

// TestAggregateReplay: the counts survive a restart, and a crash between
// the append and the close re-appends identical records, which the store
// takes as duplicates.
func TestAggregateReplay(t *testing.T) {
	e := newEnv(t)
	e.trail("agg", trail.TemplateUserActions)
	e.s3(t0.Add(time.Minute), acct+" alice GetObject reports")
	e.sync()
	e.open() // restart: the open window is read back from the database
	e.s3(t0.Add(2*time.Minute), acct+" alice PutObject reports")
	e.sync()
	e.app.fail = true
	e.clk.Advance(11 * time.Minute)
	if err := e.agg.Sync(context.Background()); err == nil {
		t.Fatal("Sync did not report the failed append")
	}
	e.open()
	e.sync()
	if len(e.app.recs) != 2 || string(e.app.recs[0].Raw) != string(e.app.recs[1].Raw) {
		t.Fatalf("replay: %d records", len(e.app.recs))
	}
	if e.app.outcomes[0] != store.Stored || e.app.outcomes[1] != store.Duplicate {
		t.Errorf("outcomes = %v, want stored then duplicate", e.app.outcomes)
	}
	if !strings.Contains(string(e.app.recs[0].Raw), `"primaryDimension":{"dimension":"userIdentity","statistics":[{"name":"arn:aws:iam::210987654321:user/alice","value":2}]`) {
		t.Errorf("counts across the restart: %s", e.app.recs[0].Raw)
	}
}

// TestAggregateEventTime: windows close by event time, so history
// imported long after it happened is summarised window by window.
func TestAggregateEventTime(t *testing.T) {
	e := newEnv(t)
	e.trail("agg", trail.TemplateAPIActivity)
	old := t0.Add(-24 * time.Hour)
	e.s3(old, acct+" alice GetObject reports")
	e.s3(old.Add(5*time.Minute), acct+" alice GetObject reports", acct+" alice GetObject reports")
	e.s3(old.Add(11*time.Minute), acct+" alice GetObject reports") // moves event time past 10:05 + lateness
	if err := e.agg.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The step that read the events closes nothing; the next one closes
	// the windows their times passed, before it is caught up.
	e.sync()
	var starts []string
	for _, r := range e.app.recs {
		var m struct {
			TimeWindow struct{ WindowStart string } `json:"timeWindow"`
		}
		json.Unmarshal(r.Raw, &m)
		starts = append(starts, m.TimeWindow.WindowStart)
	}
	// The clock closes every window once the stream is caught up, so
	// check only that the first window was summarised on its own.
	if len(starts) == 0 || starts[0] != old.Format(time.RFC3339) {
		t.Errorf("window starts = %v", starts)
	}
	if !strings.Contains(string(e.app.recs[0].Raw), `"statistics":[{"name":"GetObject","value":1}]`) {
		t.Errorf("first window: %s", e.app.recs[0].Raw)
	}
}
