package insights

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

func testParams() Params {
	p := defaultParams()
	p.MinHistory = 60
	return p
}

var callKey = key{Account: "111122223333", Region: "us-east-1", Type: TypeCallRate, Category: "Management",
	Source: "ec2.amazonaws.com", Name: "RunInstances"}

// TestBackfilledHistoryEvaluated: minutes that arrive after the clock
// closed everything (an import, a back-filled source) are evaluated when
// they arrive, not taken as late calls.
func TestBackfilledHistoryEvaluated(t *testing.T) {
	e := newEngine(testParams())
	if trs := e.closeThrough(1_000_000); len(trs) != 0 {
		t.Fatal(trs)
	}
	s, _ := e.get(callKey)
	base := int64(500_000)
	for m := base; m < base+180; m += 10 {
		e.count(s, m, 1)
	}
	for m := base + 180; m < base+185; m++ {
		e.count(s, m, 20)
	}
	trs := e.closeThrough(1_000_001)
	if len(trs) != 2 || trs[0].state != "Start" || trs[0].a.Start != base+180 || trs[1].state != "End" || trs[1].a.Last != base+184 {
		t.Fatalf("transitions %+v", trs)
	}
	// Calls of a minute already evaluated only count in the baseline.
	e.count(s, base+181, 50)
	if trs := e.closeThrough(1_000_002); len(trs) != 0 {
		t.Fatalf("a late call re-evaluated its minute: %+v", trs)
	}
}

// TestThreshold: the absolute floor keeps a sparse API quiet on a few
// calls; the factor and the spread keep a busy one quiet on its noise.
func TestThreshold(t *testing.T) {
	p := testParams()
	cases := []struct {
		perMin float64 // steady background per minute
		n      float64 // calls in the minute evaluated
		fires  bool
	}{
		{0.1, 6, false}, {0.1, 7, true},
		{50, 140, false}, {50, 150, true},
		{4, 19, false}, {4, 20, true},
	}
	for _, c := range cases {
		e := newEngine(p)
		s, _ := e.get(callKey)
		m0 := int64(1_000_000)
		// Three days of background, spread evenly (0.1/min: one call every ten minutes).
		for m := m0; m < m0+3*1440; m++ {
			n := c.perMin
			if c.perMin < 1 {
				n = 0
				if (m-m0)%int64(1/c.perMin) == 0 {
					n = 1
				}
			}
			if n > 0 {
				e.count(s, m, n)
			}
		}
		e.closeThrough(m0 + 3*1440)
		e.count(s, m0+3*1440+1, c.n)
		trs := e.closeThrough(m0 + 3*1440 + 1)
		if got := len(trs) == 1; got != c.fires {
			t.Errorf("background %v/min, %v calls: fires %v, want %v", c.perMin, c.n, got, c.fires)
		}
	}
}

// TestNoInsightWithoutHistory: less than MinHistory of observed history
// raises nothing, however unusual.
func TestNoInsightWithoutHistory(t *testing.T) {
	e := newEngine(defaultParams()) // a day
	s, _ := e.get(callKey)
	e.count(s, 100, 1)
	e.count(s, 100+1439, 1000)
	if trs := e.closeThrough(100 + 1439); len(trs) != 0 {
		t.Fatalf("an insight before a day of history: %+v", trs)
	}
	e.count(s, 100+1440, 1000)
	if trs := e.closeThrough(100 + 1440); len(trs) != 1 {
		t.Fatalf("no insight after a day of history: %+v", trs)
	}
}

// TestRecordBytes: an Insights record in CloudTrail's field order, with
// ids made from the insight's identity, the same every time.
func TestRecordBytes(t *testing.T) {
	k := callKey
	k.Type, k.ErrorCode = TypeErrorRate, "AccessDenied"
	s := newSeries(1, k)
	tr := &transition{s: s, state: "End", a: active{Start: 28_401_000, Last: 28_401_002, Sum: 45, First: 20, Baseline: 0.25, BaseMins: 10080}}
	attrs, err := attributions(context.Background(), memAttrs{1: {
		{28_401_000, attrIdentity, "arn:aws:iam::111122223333:user/ci"}: 45,
		{28_401_000, attrAgent, "aws-cli/2"}:                            45,
		{28_400_000, attrIdentity, "arn:aws:iam::111122223333:user/ci"}: 2520,
	}}, tr)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := insightRecord(k, tr, attrs)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"eventVersion":"1.09","eventTime":"2023-12-31T22:03:00Z","awsRegion":"us-east-1",` +
		`"eventID":"` + "%s" + `","eventType":"AwsCloudTrailInsight","recipientAccountId":"111122223333","sharedEventID":"%s",` +
		`"insightDetails":{"state":"End","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","insightType":"ApiErrorRateInsight",` +
		`"errorCode":"AccessDenied","sourceEventCategory":"Management","insightContext":{"statistics":{"baseline":{"average":0.25},` +
		`"insight":{"average":15},"insightDuration":3,"baselineDuration":10080},"attributions":[` +
		`{"attribute":"userIdentityArn","insight":[{"value":"arn:aws:iam::111122223333:user/ci","average":15}],` +
		`"baseline":[{"value":"arn:aws:iam::111122223333:user/ci","average":0.25}]},` +
		`{"attribute":"userAgent","insight":[{"value":"aws-cli/2","average":15}],"baseline":[]}]}},"eventCategory":"Insight"}`
	shared := sharedID(k, tr.a.Start)
	if got, w := string(rec.Raw), sprintf(want, uuidOf(shared, "End"), shared); got != w {
		t.Fatalf("record\n got %s\nwant %s", got, w)
	}
	if rec.EventCategory != event.CategoryInsight || rec.EventType != "AwsCloudTrailInsight" || rec.AccountID != k.Account ||
		!rec.EventTime.Equal(time.Date(2023, 12, 31, 22, 3, 0, 0, time.UTC)) {
		t.Errorf("parsed %+v", rec)
	}
	again, _ := insightRecord(k, tr, attrs)
	if string(again.Raw) != string(rec.Raw) {
		t.Error("the same insight made different bytes")
	}
	if sharedID(k, tr.a.Start+1) == shared {
		t.Error("another start minute has the same sharedEventID")
	}
}

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }
