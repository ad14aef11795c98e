package sigmawatch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/sigmawatch"
)

var (
	epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	far   = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

func (e *env) run(since, until time.Time) *sigmawatch.RunResult {
	e.t.Helper()
	var done bool
	res, err := e.w.Run(context.Background(), since, until, func(p sigmawatch.Progress) { done = done || p.Done })
	if err != nil {
		e.t.Fatal(err)
	}
	if !done {
		e.t.Error("the run never reported its end")
	}
	return res
}

// Events stored before the rule set was loaded are not the live
// consumer's, but a run over history finds them, plain matches and
// correlations alike; a second run records nothing new.
func TestRunFindsEventsStoredBeforeTheRules(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.append(rec("c1", "StopLogging"), rec("c2", "StopLogging"), rec("c3", "StopLogging"), rec("d1", "DeleteTrail"))
	const deleteID = "22222222-2222-4222-8222-222222222222"
	if _, err := e.w.Load(ctx, []sigmawatch.File{{File: "corr.yml", Text: corrRule}, rule(deleteID, "DeleteTrail")}); err != nil {
		t.Fatal(err)
	}
	e.sync()
	if fs := e.findings(); len(fs) != 0 {
		t.Fatalf("the live consumer matched events stored before the load: %s", summary(fs))
	}
	res := e.run(epoch, time.Time{})
	if res.Read != 4 || res.InRange != 4 || res.Signals != 2 || res.New != 2 || res.Created != 2 {
		t.Errorf("first run %+v, want 4 read, 2 signals, 2 new, 2 findings", res)
	}
	fs := e.findings()
	got := map[string]string{}
	for _, f := range fs {
		got[f.RuleID] = strings.Join(f.EventIDs, ",")
	}
	if got["33333333-3333-4333-8333-333333333333"] != "c1,c2,c3" || got[deleteID] != "d1" || len(got) != 2 {
		t.Fatalf("findings %s", summary(fs))
	}
	before := summary(fs)
	res = e.run(epoch, time.Time{})
	if res.Signals != 2 || res.New != 0 || res.Created != 0 {
		t.Errorf("second run %+v, want the 2 signals again and nothing new", res)
	}
	if after := summary(e.findings()); after != before {
		t.Errorf("a second run changed the findings:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// A run over events the live consumer already matched, the SigmaHQ rules
// over the Stratus Red Team detonations, adds nothing.
func TestRunOverMatchedEventsAddsNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.w.LoadDir(ctx, rulesDir); err != nil {
		t.Fatal(err)
	}
	recs := stratus(t)
	e.append(recs...)
	e.sync()
	before := summary(e.findings())
	if before == "" {
		t.Fatal("the live consumer found nothing in the Stratus logs")
	}
	res := e.run(epoch, time.Time{})
	if res.Read != int64(len(recs)) || res.Signals == 0 || res.New != 0 || res.Created != 0 {
		t.Errorf("run %+v over %d events the consumer matched, want signals and nothing new", res, len(recs))
	}
	if after := summary(e.findings()); after != before {
		t.Errorf("the run changed the findings:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// Events moved to the columnar tier are read too, and the range is by
// eventTime.
func TestRunReadsTheColumnarTier(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	recs := stratus(t)
	e.append(recs...)
	if res, err := e.st.Compact(ctx, e.st.CommittedSeq()); err != nil || res.Files == 0 {
		t.Fatalf("compact: %+v %v", res, err)
	}
	var hot int
	if err := e.st.DB().QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&hot); err != nil || hot != 0 {
		t.Fatalf("%d events left in the hot tier (%v)", hot, err)
	}
	if _, err := e.w.LoadDir(ctx, rulesDir); err != nil {
		t.Fatal(err)
	}
	if res := e.run(epoch, epoch.AddDate(1, 0, 0)); res.Read != int64(len(recs)) || res.InRange != 0 || res.Signals != 0 {
		t.Errorf("run over a year without events: %+v", res)
	}
	res := e.run(epoch, far)
	if res.InRange != int64(len(recs)) || res.New == 0 || res.Created == 0 {
		t.Errorf("run over the compacted Stratus logs: %+v", res)
	}
	if !strings.Contains(summary(e.findings()), "4db60cc0-36fb-42b7-9b58-a5b53019fb74|") {
		t.Errorf("no 'AWS CloudTrail Important Change' finding from the columnar tier:\n%s", summary(e.findings()))
	}
}

// A run needs rules, and a range that is one.
func TestRunRefusesWithoutRulesOrRange(t *testing.T) {
	e := newEnv(t)
	if _, err := e.w.Run(context.Background(), epoch, time.Time{}, nil); err == nil || !strings.Contains(err.Error(), "sigma load") {
		t.Errorf("run without rules: %v", err)
	}
	if _, err := e.w.Run(context.Background(), far, epoch, nil); err == nil || !strings.Contains(err.Error(), "not after") {
		t.Errorf("run with until before since: %v", err)
	}
}
