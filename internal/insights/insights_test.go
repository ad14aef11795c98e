package insights

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/store"
)

type fakeAppender struct {
	mu   sync.Mutex
	recs []*event.Record
}

func (a *fakeAppender) Append(_ context.Context, source string, recs []*event.Record) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, recs...)
	return nil
}

type fakeSink struct{ sigs []findings.Signal }

func (s *fakeSink) Record(_ context.Context, sigs []findings.Signal) error {
	s.sigs = append(s.sigs, sigs...)
	return nil
}

var t0 = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

const acct, region = "111122223333", "us-east-1"

func apiCall(n int, at time.Time, name, errCode string) *event.Record {
	m := map[string]any{
		"eventVersion": "1.09", "userIdentity": map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::" + acct + ":user/ci", "accountId": acct},
		"eventTime": at.UTC().Format(time.RFC3339), "eventSource": "ec2.amazonaws.com", "eventName": name, "awsRegion": region,
		"sourceIPAddress": "192.0.2.1", "userAgent": "test-agent", "readOnly": false,
		"eventID": fmt.Sprintf("00000000-0000-4000-8000-%012d", n), "eventType": "AwsApiCall", "managementEvent": true,
		"recipientAccountId": acct, "eventCategory": "Management",
	}
	if errCode != "" {
		m["errorCode"] = errCode
	}
	raw, _ := json.Marshal(m)
	rec, err := event.Parse(raw)
	if err != nil {
		panic(err)
	}
	return rec
}

// TestDetectorComponent drives the component over a real store: two days
// of a RunInstances call every ten minutes, then 30 a minute for ten
// minutes. The consumer appends a Start then an End, reports one signal,
// and a restart replays nothing new; a retroactive run makes the same
// bytes.
func TestDetectorComponent(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	st, err := store.Open(ctx, t.TempDir(), store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	doc := fmt.Sprintf(`{"S3BucketName":"b","IsMultiRegionTrail":true,"IsLogging":true,"StartLoggingTime":%q,
		"InsightSelectors":[{"InsightType":"ApiCallRateInsight"}]}`, t0.Add(-time.Hour).Format(time.RFC3339))
	if err := st.CreateTrail(ctx, store.Trail{ARN: "arn:aws:cloudtrail:us-east-1:" + acct + ":trail/t", Name: "t", Account: acct,
		HomeRegion: region, Doc: []byte(doc), Created: t0, Updated: t0}); err != nil {
		t.Fatal(err)
	}
	app, snk := &fakeAppender{}, &fakeSink{}
	open := func() *Detector {
		d, err := New(Config{Store: st, Clock: clk, Appender: app, Sink: snk, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := open()
	n := 0
	put := func(recs []*event.Record) {
		if _, err := st.Append(ctx, recs, clk.Now()); err != nil {
			t.Fatal(err)
		}
		if err := d.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Two days of background, ingested an hour at a time as time passes.
	for h := 0; h < 48; h++ {
		var recs []*event.Record
		for i := 0; i < 6; i++ {
			n++
			recs = append(recs, apiCall(n, t0.Add(time.Duration(h)*time.Hour+time.Duration(i)*10*time.Minute), "RunInstances", ""))
		}
		clk.Set(t0.Add(time.Duration(h+1) * time.Hour))
		put(recs)
	}
	if len(app.recs) != 0 {
		t.Fatalf("background raised %d records: %s", len(app.recs), app.recs[0].Raw)
	}
	spike := t0.Add(48*time.Hour + 5*time.Minute)
	var activeRow [2]int64
	for m := 0; m < 10; m++ {
		var recs []*event.Record
		for i := 0; i < 30; i++ {
			n++
			recs = append(recs, apiCall(n, spike.Add(time.Duration(m)*time.Minute+time.Duration(i)*time.Second), "RunInstances", ""))
		}
		clk.Set(spike.Add(time.Duration(m+1)*time.Minute + 5*time.Second))
		put(recs)
		if m == 1 && len(app.recs) != 1 {
			t.Fatalf("two minutes into the spike: %d records, want the Start", len(app.recs))
		}
		// While the insight lasts, its saved row is updated where it is,
		// never deleted and inserted again (which, with readers open,
		// could leave DuckDB's primary-key index corrupt).
		if m == 0 {
			continue
		}
		var sid, rowid int64
		if err := st.DB().QueryRowContext(ctx, `SELECT sid, rowid FROM ins_active`).Scan(&sid, &rowid); err != nil {
			t.Fatalf("minute %d of the spike: the insight in progress is not saved: %v", m, err)
		}
		if m == 1 {
			activeRow = [2]int64{sid, rowid}
		} else if [2]int64{sid, rowid} != activeRow {
			t.Fatalf("minute %d of the spike: the insight in progress is row %d (sid %d), was row %d (sid %d)", m, rowid, sid, activeRow[1], activeRow[0])
		}
	}
	clk.Set(spike.Add(30 * time.Minute))
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if len(app.recs) != 2 {
		t.Fatalf("got %d records, want Start and End", len(app.recs))
	}
	var left int
	if err := st.DB().QueryRowContext(ctx, `SELECT count(*) FROM ins_active`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("after the End, %d insights in progress are still saved (%v)", left, err)
	}
	for i, want := range []string{`"state":"Start"`, `"state":"End"`} {
		r := app.recs[i]
		if !bytes.Contains(r.Raw, []byte(want)) || r.EventCategory != event.CategoryInsight || r.EventType != "AwsCloudTrailInsight" {
			t.Errorf("record %d: %s", i, r.Raw)
		}
	}
	if !bytes.Contains(app.recs[1].Raw, []byte(`"insight":{"average":30},"insightDuration":10,"baselineDuration":2885`)) {
		t.Errorf("End statistics: %s", app.recs[1].Raw)
	}
	if len(snk.sigs) != 1 || snk.sigs[0].Title != "Unusual RunInstances call rate (ec2.amazonaws.com)" || snk.sigs[0].RuleID != TypeCallRate {
		t.Errorf("signals %+v", snk.sigs)
	}
	live := append([]*event.Record(nil), app.recs...)

	// A restart over the same tables: nothing new.
	d = open()
	clk.Advance(time.Hour)
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if len(app.recs) != 2 {
		t.Fatalf("after a restart: %d records", len(app.recs))
	}

	// Retroactively: the same records, byte for byte.
	res, err := d.Run(ctx, t0.Add(24*time.Hour), time.Time{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Starts != 1 || res.Ends != 1 {
		t.Fatalf("run: %+v", res)
	}
	for i := range live {
		if !bytes.Equal(res.Records[i].Raw, live[i].Raw) {
			t.Errorf("run record %d differs:\n%s\n%s", i, res.Records[i].Raw, live[i].Raw)
		}
	}
}
