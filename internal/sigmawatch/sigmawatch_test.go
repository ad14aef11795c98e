package sigmawatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/sigmawatch"
	"github.com/opentrail/opentrail/internal/store"
)

const (
	rulesDir   = "../../../shared/testdata/sigma/rules"
	stratusDir = "../../../shared/testdata/public/stratus-red-team"
)

type env struct {
	builtin []sigmawatch.File
	t       *testing.T
	dir     string
	clk     *clock.Fake
	st      *store.Store
	fd      *findings.Store
	w       *sigmawatch.Watch
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, dir: t.TempDir(), clk: clock.NewFake(time.Date(2026, 12, 5, 5, 0, 0, 0, time.UTC))}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	st, err := store.Open(context.Background(), e.dir, store.Options{Now: e.clk.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	fd, err := findings.Open(findings.Config{DB: st.DB(), Clock: e.clk, Logger: quiet})
	if err != nil {
		e.t.Fatal(err)
	}
	w, err := sigmawatch.New(sigmawatch.Config{Stream: st, Sink: fd, Clock: e.clk, Logger: quiet, Builtin: e.builtin})
	if err != nil {
		e.t.Fatal(err)
	}
	e.st, e.fd, e.w = st, fd, w
}

func (e *env) close() {
	if e.st != nil {
		e.st.Close()
		e.st = nil
	}
}

// restart closes and opens everything over the same data directory.
func (e *env) restart() { e.close(); e.open() }

func (e *env) append(raws ...[]byte) {
	e.t.Helper()
	var recs []*event.Record
	for _, raw := range raws {
		r, err := event.Parse(raw)
		if err != nil {
			e.t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if _, err := e.st.Append(context.Background(), recs, time.Time{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) sync() {
	e.t.Helper()
	if err := e.w.Sync(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) findings() []*findings.Finding {
	e.t.Helper()
	fs, _, err := e.fd.List(context.Background(), findings.Filter{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return fs
}

// stratus returns every record of the Stratus Red Team detonation logs.
func stratus(t *testing.T) [][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(stratusDir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no Stratus Red Team logs under %s", stratusDir)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var recs []json.RawMessage
		if err := json.Unmarshal(b, &recs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range recs {
			out = append(out, r)
		}
	}
	return out
}

func summary(fs []*findings.Finding) string {
	var lines []string
	for _, f := range fs {
		lines = append(lines, fmt.Sprintf("%s|%s|%s|%s|%d|%d", f.RuleID, f.Account, f.Region, f.GroupKey, f.Count, f.EventTotal))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// A restart from an older cursor replays events the detector had
// reported: the findings do not change.
func TestReplayFromAnOlderCursorDuplicatesNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	rep, err := e.w.LoadDir(ctx, rulesDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Loaded) < 50 {
		t.Fatalf("only %d rules loaded: %+v", len(rep.Loaded), rep.Unsupported)
	}
	e.append(stratus(t)...)
	e.sync()
	before := summary(e.findings())
	if !strings.Contains(before, "4db60cc0-36fb-42b7-9b58-a5b53019fb74|") {
		t.Fatalf("StopLogging/DeleteTrail raised no 'AWS CloudTrail Important Change' finding:\n%s", before)
	}
	for _, f := range e.findings() {
		if f.RuleID == "4db60cc0-36fb-42b7-9b58-a5b53019fb74" && f.Author != "vitaliy0x1" {
			t.Errorf("author %q", f.Author)
		}
	}
	// A crash that lost the cursor: the stream is read again from 0.
	if err := e.st.SetCursor(ctx, "sigmawatch", 0); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if n := len(e.w.Current().Loaded); n != len(rep.Loaded) {
		t.Fatalf("after a restart %d rules, want the %d stored", n, len(rep.Loaded))
	}
	e.sync()
	if after := summary(e.findings()); after != before {
		t.Errorf("replay changed the findings:\nbefore\n%s\nafter\n%s", before, after)
	}
}

func rec(id, name string) []byte {
	return []byte(fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"},"eventTime":"2026-12-05T04:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"%s","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.9","userAgent":"aws-cli/2.9.19","requestParameters":{"name":"t"},"responseElements":null,"requestID":"%s","eventID":"%s","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`, name, id, id))
}

func rule(id, name string) sigmawatch.File {
	return sigmawatch.File{File: name + ".yml", Text: fmt.Sprintf(`title: %[2]s seen
id: %[1]s
author: Test Author
status: test
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventName: %[2]s
    condition: selection
level: high
`, id, name)}
}

// A rule set applies to the events committed after it was loaded; the
// events before are matched with the set it replaced, even when the
// consumer reaches them later.
func TestANewRuleSetAppliesToLaterEvents(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	const stopID, deleteID = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	if _, err := e.w.Load(ctx, []sigmawatch.File{rule(stopID, "StopLogging")}); err != nil {
		t.Fatal(err)
	}
	e.append(rec("e1", "StopLogging"), rec("e2", "DeleteTrail"))
	rep, err := e.w.Load(ctx, []sigmawatch.File{rule(deleteID, "DeleteTrail"), {File: "bad.yml", Text: "title: [unclosed"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Loaded) != 1 || rep.Loaded[0].Author != "Test Author" || len(rep.Unsupported) != 1 || rep.Unsupported[0].File != "bad.yml" {
		t.Fatalf("report %+v", rep)
	}
	e.append(rec("e3", "StopLogging"), rec("e4", "DeleteTrail"))
	e.restart() // the sets survive a restart
	e.sync()
	got := map[string][]string{}
	for _, f := range e.findings() {
		got[f.RuleID] = append(got[f.RuleID], f.EventIDs...)
	}
	if strings.Join(got[stopID], ",") != "e1" || strings.Join(got[deleteID], ",") != "e4" || len(got) != 2 {
		t.Errorf("findings by rule: %v", got)
	}
	if sev := e.findings()[0].Severity; sev != findings.SeverityHigh {
		t.Errorf("severity %q, want the rule's level", sev)
	}
	// Loading the same files again keeps the set (a restart with
	// detection.sigma_dir).
	again, err := e.w.Load(ctx, []sigmawatch.File{{File: "bad.yml", Text: "title: [unclosed"}, rule(deleteID, "DeleteTrail")})
	if err != nil || again.Generation != rep.Generation {
		t.Errorf("same files: generation %d, want %d (%v)", again.Generation, rep.Generation, err)
	}
	if _, err := e.w.Load(ctx, []sigmawatch.File{rule(deleteID, "A"), rule(stopID, "A")}); err == nil {
		t.Error("a file named twice was accepted")
	}
}

const corrRule = `title: Trail stopped
name: stop
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: StopLogging
  condition: sel
---
title: Trails stopped again and again
id: 33333333-3333-4333-8333-333333333333
author: Test Author
level: critical
correlation:
  type: event_count
  rules: [stop]
  group-by: [recipientAccountId]
  timespan: 10m
  condition: {gte: 3}
`

// A correlation rule firing is one signal keyed by its group and window:
// a replay of the same events records it once; the rule it correlates
// (generate: false, Sigma's default) raises nothing on its own.
func TestCorrelationFindings(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if rep, err := e.w.Load(ctx, []sigmawatch.File{{File: "corr.yml", Text: corrRule}}); err != nil || len(rep.Unsupported) > 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	e.append(rec("c1", "StopLogging"), rec("c2", "StopLogging"), rec("c3", "StopLogging"), rec("c4", "DeleteTrail"))
	e.sync()
	check := func() {
		t.Helper()
		fs := e.findings()
		if len(fs) != 1 {
			t.Fatalf("%d findings: %s", len(fs), summary(fs))
		}
		f := fs[0]
		if f.RuleID != "33333333-3333-4333-8333-333333333333" || f.Severity != findings.SeverityCritical || f.Count != 1 ||
			strings.Join(f.EventIDs, ",") != "c1,c2,c3" || f.Account != "111122223333" || f.Region != "us-east-1" ||
			f.GroupKey != "recipientAccountId=111122223333" {
			t.Errorf("finding %+v", f)
		}
	}
	check()
	if err := e.st.SetCursor(ctx, "sigmawatch", 0); err != nil {
		t.Fatal(err)
	}
	e.restart()
	e.sync()
	check()
}

// The built-in pack runs without any load, from the events after the
// first start, and stays beside every set loaded later.
func TestBuiltinRulesRunBesideLoadedOnes(t *testing.T) {
	ctx := context.Background()
	const stopID, deleteID = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	e := &env{t: t, dir: t.TempDir(), clk: clock.NewFake(time.Date(2026, 12, 5, 5, 0, 0, 0, time.UTC))}
	// Events stored before the detector ever ran are not matched.
	e.open()
	t.Cleanup(e.close)
	e.close()
	st, err := store.Open(ctx, e.dir, store.Options{Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.st = st
	e.append(rec("old", "StopLogging"))
	e.close()
	e.builtin = []sigmawatch.File{rule(stopID, "StopLogging")}
	e.builtin[0].File = "builtin/" + e.builtin[0].File
	e.open()
	e.append(rec("b1", "StopLogging"))
	e.sync()
	if rep := e.w.Current(); len(rep.Loaded) != 1 || rep.Loaded[0].File != "builtin/StopLogging.yml" {
		t.Fatalf("report %+v", rep)
	}
	rep, err := e.w.Load(ctx, []sigmawatch.File{rule(deleteID, "DeleteTrail")})
	if err != nil || len(rep.Loaded) != 2 {
		t.Fatalf("load: %+v %v", rep, err)
	}
	e.append(rec("b2", "StopLogging"), rec("b3", "DeleteTrail"))
	e.sync()
	got := map[string][]string{}
	for _, f := range e.findings() {
		got[f.RuleID] = append(got[f.RuleID], f.EventIDs...)
	}
	if strings.Join(got[stopID], ",") != "b1,b2" || strings.Join(got[deleteID], ",") != "b3" {
		t.Errorf("findings by rule: %v", got)
	}
}
