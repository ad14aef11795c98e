package insights

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// ctgenDir is the workload generator, beside the repository.
const ctgenDir = "../../../shared/tools/ctgen"

// ctgen runs the generator and returns its records and ground truth.
func ctgen(t testing.TB, args ...string) ([]*event.Record, map[string]any) {
	t.Helper()
	truth := filepath.Join(t.TempDir(), "truth.json")
	cmd := exec.Command("go", append([]string{"run", ".", "--truth", truth}, args...)...)
	cmd.Dir = ctgenDir
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run ctgen %v: %v\n%s", args, err, stderr.String())
	}
	var recs []*event.Record
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		rec, err := event.Parse(bytes.Clone(sc.Bytes()))
		if err != nil {
			t.Fatalf("parse ctgen record: %v", err)
		}
		recs = append(recs, rec)
	}
	var tr map[string]any
	if b, err := os.ReadFile(truth); err == nil {
		json.Unmarshal(b, &tr)
	}
	return recs, tr
}

// allAccounts is a logging multi-region trail with both Insights types on
// management events, per account of recs.
func allAccounts(recs []*event.Record) []analysed {
	seen := map[string]bool{}
	var out []analysed
	for _, r := range recs {
		if seen[r.AccountID] {
			continue
		}
		seen[r.AccountID] = true
		start := time.Time{}
		out = append(out, analysed{
			t:     store.Trail{Account: r.AccountID, HomeRegion: "us-east-1"},
			set:   trail.Settings{IsMultiRegionTrail: true, IsLogging: true, StartLoggingTime: &start},
			types: map[string][]string{TypeCallRate: {"Management"}, TypeErrorRate: {"Management"}},
		})
	}
	return out
}

// feed runs the detector over recs in order as the live consumer does:
// a minute closes once an event a minute (the lateness) past its end is
// seen, and everything closes at the end.
func feed(t testing.TB, p Params, trails []analysed, recs []*event.Record) []*event.Record {
	t.Helper()
	e := newEngine(p)
	attrs := memAttrs{}
	var out []*event.Record
	var keys []key
	wm := int64(-1)
	flush := func(c int64) {
		for _, tr := range e.closeThrough(c) {
			as, err := attributions(context.Background(), attrs, tr)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := insightRecord(tr.s.k, tr, as)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rec)
		}
	}
	for i, rec := range recs {
		keys = keysOf(trails, nil, rec, rec.EventTime, keys[:0])
		m := floorDiv(rec.EventTime.Unix(), 60)
		vals := attrValues(rec)
		for _, k := range keys {
			s, _ := e.get(k)
			e.count(s, m, 1)
			for kind, v := range vals {
				attrs.add(s.id, attrKey{m, kind, v}, 1)
			}
		}
		wm = max(wm, m)
		if i%500 == 0 {
			flush(wm - 2)
		}
	}
	flush(wm + p.EndQuiet + 1)
	return out
}

func defaultParams() Params {
	c := Config{}
	return c.params()
}

// TestCtgenBackgroundAndSpike: eight days of realistic background raise
// no insight; the planted RunInstances spike raises a Start and an End,
// the Start within two minutes of the spike's start.
func TestCtgenBackgroundAndSpike(t *testing.T) {
	recs, truth := ctgen(t, "--days", "8", "--events", "300000", "--inject")
	var spike map[string]any
	planted := map[string]bool{}
	for _, x := range truth["incidents"].([]any) {
		inc := x.(map[string]any)
		for _, id := range inc["eventIDs"].([]any) {
			planted[id.(string)] = true
		}
		if inc["kind"] == "api_rate_spike" {
			spike = inc
		}
	}
	if spike == nil {
		t.Fatal("ctgen planted no api_rate_spike")
	}
	var background []*event.Record
	for _, r := range recs {
		if !planted[r.EventID] {
			background = append(background, r)
		}
	}
	p := defaultParams()
	trails := allAccounts(recs)

	if got := feed(t, p, trails, background); len(got) != 0 {
		for _, r := range got {
			t.Errorf("background raised an insight: %s", r.Raw)
		}
	}

	got := feed(t, p, trails, recs)
	start, _ := time.Parse(time.RFC3339, spike["start"].(string))
	var states []string
	var shared string
	for _, r := range got {
		var v struct {
			SharedEventID  string
			InsightDetails struct {
				State, EventSource, EventName, InsightType string
			}
		}
		if err := json.Unmarshal(r.Raw, &v); err != nil {
			t.Fatal(err)
		}
		d := v.InsightDetails
		t.Logf("insight: %s %s %s %s %s/%s at %s", d.State, d.InsightType, d.EventSource, d.EventName, r.AccountID, r.AWSRegion, r.EventTime)
		if d.InsightType != TypeCallRate || d.EventName != "RunInstances" || r.AccountID != spike["accountId"] || r.AWSRegion != spike["region"] {
			continue
		}
		if shared != "" && v.SharedEventID != shared {
			t.Errorf("Start and End have different sharedEventIDs: %s, %s", shared, v.SharedEventID)
		}
		shared = v.SharedEventID
		states = append(states, d.State)
		if d.State == "Start" && (r.EventTime.Before(start.Truncate(time.Minute)) || r.EventTime.After(start.Add(2*time.Minute))) {
			t.Errorf("Start at %s; the spike started at %s", r.EventTime, start)
		}
	}
	if testing.Verbose() && len(got) > 0 {
		t.Logf("%s", got[len(got)-1].Raw)
	}
	if len(states) != 2 || states[0] != "Start" || states[1] != "End" {
		t.Fatalf("spike insight states %v, want [Start End]", states)
	}
}
