package eventrules_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/eventrules"
	"github.com/opentrail/opentrail/internal/findings"
)

// withFindings gives the env a component reporting to a findings store
// over the same database, so that a run's counts are the store's.
func (e *env) withFindings() *findings.Store {
	e.t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	fd, err := findings.Open(findings.Config{DB: e.st.DB(), Clock: e.clk, Logger: quiet})
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := eventrules.New(eventrules.Config{Store: e.st, Clock: e.clk, Logger: quiet, Publisher: e.pub, Sink: fd})
	if err != nil {
		e.t.Fatal(err)
	}
	e.r = r
	return fd
}

func (e *env) run(since, until time.Time) *eventrules.RunResult {
	e.t.Helper()
	var done bool
	res, err := e.r.Run(context.Background(), since, until, func(p eventrules.Progress) { done = done || p.Done })
	if err != nil {
		e.t.Fatal(err)
	}
	if !done {
		e.t.Error("the run never reported its end")
	}
	return res
}

func eventIDs(t *testing.T, fd *findings.Store) string {
	t.Helper()
	fs, _, err := fd.List(context.Background(), findings.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fs {
		out = append(out, f.RuleID+":"+strings.Join(f.EventIDs, ","))
	}
	return strings.Join(out, ";")
}

// Events stored before a rule was created are not the live consumer's,
// but a run over history finds them (by the rule's state: an ENABLED rule
// still skips read-only management events) and sends its targets nothing;
// a second run records nothing new.
func TestRunFindsEventsStoredBeforeTheRule(t *testing.T) {
	e := newEnv(t)
	fd := e.withFindings()
	ids := e.ingest(false, ct(acctA, home, "StopLogging"), ct(acctB, home, "StopLogging"))
	e.ingest(true, ct(acctA, home, "StopLogging"))
	arn := e.rule(acctA, home, "stop", stopLogging, "", nil)
	e.target(acctA, home, "stop", eventrules.Target{ID: "t", ARN: topic(acctA)})
	e.sync()
	if got := eventIDs(t, fd); got != "" || len(e.pub.sent) != 0 {
		t.Fatalf("the live consumer matched events stored before the rule: findings %q, sent %d", got, len(e.pub.sent))
	}
	res := e.run(t0.Add(-time.Hour), time.Time{})
	if res.Read != 3 || res.InRange != 3 || res.Signals != 1 || res.New != 1 || res.Created != 1 {
		t.Errorf("first run %+v, want 3 read, 1 signal, 1 new, 1 finding", res)
	}
	if got, want := eventIDs(t, fd), arn+":"+ids[0]; got != want {
		t.Errorf("findings %q, want %q", got, want)
	}
	if len(e.pub.offered) != 0 {
		t.Errorf("a run over history sent the targets %v", e.pub.offered)
	}
	res = e.run(t0.Add(-time.Hour), time.Time{})
	if res.Signals != 1 || res.New != 0 || res.Created != 0 {
		t.Errorf("second run %+v, want the signal again and nothing new", res)
	}
	if res := e.run(t0.Add(time.Second), time.Time{}); res.InRange != 0 || res.Signals != 0 {
		t.Errorf("run after the events: %+v", res)
	}
}

// A run over events the live consumer already matched adds nothing.
func TestRunOverMatchedEventsAddsNothing(t *testing.T) {
	e := newEnv(t)
	fd := e.withFindings()
	e.rule(acctA, home, "stop", stopLogging, "", nil)
	e.target(acctA, home, "stop", eventrules.Target{ID: "t", ARN: topic(acctA)})
	e.ingest(false, ct(acctA, home, "StopLogging"), ct(acctA, home, "StopLogging"))
	e.sync()
	before := eventIDs(t, fd)
	if before == "" || len(e.pub.sent) != 2 {
		t.Fatalf("the live consumer: findings %q, sent %d", before, len(e.pub.sent))
	}
	res := e.run(t0.Add(-time.Hour), t0.Add(time.Hour))
	if res.Signals != 2 || res.New != 0 || res.Created != 0 {
		t.Errorf("run %+v, want 2 signals and nothing new", res)
	}
	if after := eventIDs(t, fd); after != before || len(e.pub.offered) != 2 {
		t.Errorf("the run changed the findings (%q → %q) or offered %v", before, after, e.pub.offered)
	}
}

// Events moved to the columnar tier are read too.
func TestRunReadsTheColumnarTier(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	fd := e.withFindings()
	ids := e.ingest(false, ct(acctA, home, "StopLogging"), ct(acctA, home, "DeleteTrail"))
	if res, err := e.st.Compact(ctx, e.st.CommittedSeq()); err != nil || res.Files == 0 {
		t.Fatalf("compact: %+v %v", res, err)
	}
	var hot int
	if err := e.st.DB().QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&hot); err != nil || hot != 0 {
		t.Fatalf("%d events left in the hot tier (%v)", hot, err)
	}
	arn := e.rule(acctA, home, "stop", stopLogging, "", nil)
	if res := e.run(t0.Add(-time.Hour), time.Time{}); res.Read != 2 || res.Created != 1 {
		t.Errorf("run %+v", res)
	}
	if got, want := eventIDs(t, fd), arn+":"+ids[0]; got != want {
		t.Errorf("findings %q, want %q", got, want)
	}
}

// A run needs an enabled rule with a pattern.
func TestRunRefusesWithoutRules(t *testing.T) {
	e := newEnv(t)
	e.withFindings()
	e.rule(acctA, home, "off", stopLogging, eventrules.StateDisabled, nil)
	if _, err := e.r.Run(context.Background(), t0, time.Time{}, nil); err == nil || !strings.Contains(err.Error(), "put-rule") {
		t.Errorf("run without enabled rules: %v", err)
	}
}
