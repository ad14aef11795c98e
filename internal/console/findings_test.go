package console

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/sigmawatch"
)

// fakeFindings is an in-memory findings store: List honours Accounts,
// States, Severity (exactly: enough here) and Detectors, newest first,
// with a page token of the last id.
type fakeFindings struct {
	mu      sync.Mutex
	fs      []*findings.Finding
	changes map[string][]findings.StateChange
	filters []findings.Filter
}

func (f *fakeFindings) List(ctx context.Context, fl findings.Filter) ([]*findings.Finding, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, fl)
	if fl.Next != "" && !strings.HasPrefix(fl.Next, "fd-") {
		return nil, "", findings.ErrBadToken
	}
	var out []*findings.Finding
	past := fl.Next == ""
	for _, x := range f.fs {
		if !past {
			past = x.ID == fl.Next
			continue
		}
		if fl.Accounts != nil && !slices.Contains(fl.Accounts, x.Account) ||
			len(fl.States) > 0 && !slices.Contains(fl.States, x.State) ||
			fl.Severity != "" && x.Severity != fl.Severity ||
			len(fl.Detectors) > 0 && !slices.Contains(fl.Detectors, x.Detector) {
			continue
		}
		out = append(out, x)
	}
	next := ""
	if fl.Limit > 0 && len(out) > fl.Limit {
		out = out[:fl.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

func (f *fakeFindings) Get(ctx context.Context, id string) (*findings.Finding, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.fs {
		if x.ID == id {
			c := *x
			return &c, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", findings.ErrNotFound, id)
}

func (f *fakeFindings) SetState(ctx context.Context, id, state, reason, who string) (*findings.Finding, error) {
	if !findings.ValidState(state) {
		return nil, &findings.StateError{Reason: "bad state " + state}
	}
	if state == findings.StateSuppressed && strings.TrimSpace(reason) == "" {
		return nil, &findings.StateError{Reason: "suppressing a finding needs a reason"}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.fs {
		if x.ID == id {
			if f.changes == nil {
				f.changes = map[string][]findings.StateChange{}
			}
			f.changes[id] = append(f.changes[id], findings.StateChange{At: time.Now(), State: state, Previous: x.State, Reason: reason, By: who})
			x.State, x.StateReason, x.StateBy = state, reason, who
			c := *x
			return &c, nil
		}
	}
	return nil, findings.ErrNotFound
}

func (f *fakeFindings) StateHistory(ctx context.Context, id string) ([]findings.StateChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.changes[id]), nil
}

type fakeRules map[string]sigmawatch.LoadedRule

func (r fakeRules) SigmaRule(id string) (sigmawatch.LoadedRule, bool) {
	lr, ok := r[id]
	return lr, ok
}

func testFindings() *fakeFindings {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	return &fakeFindings{fs: []*findings.Finding{
		{ID: "fd-a1", Detector: "sigma", RuleID: "rule-1", Title: "Trail stopped", Author: "Jane Doe", Severity: "high", State: "new",
			Account: "222222222222", Region: "eu-west-1", Description: "Someone stopped a trail.", References: []string{"https://example.com/ref"},
			FirstSeen: t0, LastSeen: t0.Add(time.Minute), Count: 2, EventIDs: []string{"ev-1", "ev-2"}, EventTotal: 2},
		{ID: "fd-b2", Detector: "alarm", RuleID: "arn:aws:cloudwatch:us-east-1:333333333333:alarm:spend", Title: "spend: money", Severity: "medium",
			State: "acknowledged", Account: "333333333333", Region: "us-east-1", FirstSeen: t0, LastSeen: t0},
		{ID: "fd-c3", Detector: "insight", RuleID: "ApiCallRateInsight", Title: "Unusual RunInstances call rate", Severity: "medium",
			State: "resolved", Account: "222222222222", Region: "us-east-1", FirstSeen: t0, LastSeen: t0},
	}}
}

func TestFindingsListScopedAndFiltered(t *testing.T) {
	store := testFindings()
	c := newTestConsole(t, Config{Findings: FindingDeps{Store: store}})
	bob := signedInAs(t, c, testUser("bob", "222222222222", false, false))
	resp, body := bob.get("/findings")
	if resp.StatusCode != 200 || !strings.Contains(body, "Trail stopped") || strings.Contains(body, "spend: money") {
		t.Fatalf("bob's open findings: %d\n%s", resp.StatusCode, body)
	}
	if strings.Contains(body, "Unusual RunInstances") {
		t.Error("a resolved finding is in the default (open) list")
	}
	if got := store.filters[len(store.filters)-1]; !slices.Equal(got.Accounts, []string{"222222222222"}) ||
		!slices.Equal(got.States, []string{"new", "acknowledged"}) {
		t.Errorf("bob's filter %+v", got)
	}
	_, body = bob.get("/findings?state=all&detector=insight")
	if !strings.Contains(body, "Unusual RunInstances") || strings.Contains(body, "Trail stopped") {
		t.Errorf("state=all&detector=insight:\n%s", body)
	}
	alice := signedInAs(t, c, testUser("alice", "111111111111", true, true))
	_, body = alice.get("/findings?severity=medium")
	if !strings.Contains(body, "spend: money") || store.filters[len(store.filters)-1].Accounts != nil {
		t.Errorf("the management account's user sees every account: %+v", store.filters[len(store.filters)-1])
	}
	resp, body = alice.get("/findings?state=closed&severity=urgent")
	if resp.StatusCode != 400 || !strings.Contains(body, "state must be") || !strings.Contains(body, "severity must be") {
		t.Errorf("bad filters: %d\n%s", resp.StatusCode, body)
	}
	resp, body = alice.get("/findings?after=garbage")
	if resp.StatusCode != 400 || !strings.Contains(body, "out of date") {
		t.Errorf("bad page token: %d", resp.StatusCode)
	}
	_, body = alice.get("/findings?detector=eventrule")
	if !strings.Contains(body, "No findings match these filters") {
		t.Errorf("empty filtered list:\n%s", body)
	}
	empty := newTestConsole(t, Config{Findings: FindingDeps{Store: &fakeFindings{}}})
	_, body = signedInAs(t, empty, testUser("bob", "222222222222", false, false)).get("/findings")
	if !strings.Contains(body, "No open findings") || !strings.Contains(body, "opentrail sigma load") {
		t.Errorf("empty list does not explain where findings come from:\n%s", body)
	}
}

func TestFindingsPaging(t *testing.T) {
	store := &fakeFindings{}
	for i := range findingsPage + 5 {
		store.fs = append(store.fs, &findings.Finding{ID: fmt.Sprintf("fd-%03d", i), Title: fmt.Sprintf("finding %d", i),
			Severity: "low", State: "new", Account: "222222222222", Detector: "sigma"})
	}
	c := newTestConsole(t, Config{Findings: FindingDeps{Store: store}})
	bob := signedInAs(t, c, testUser("bob", "222222222222", false, false))
	_, body := bob.get("/findings?severity=low")
	next := fmt.Sprintf(`href="/findings?after=fd-%03d&amp;severity=low"`, findingsPage-1)
	if !strings.Contains(body, next) {
		t.Fatalf("no next-page link %s", next)
	}
	_, body = bob.get(fmt.Sprintf("/findings?after=fd-%03d&severity=low", findingsPage-1))
	if !strings.Contains(body, fmt.Sprintf("finding %d", findingsPage+4)) || strings.Contains(body, "finding 3<") ||
		!strings.Contains(body, `href="/findings?severity=low"`) || strings.Contains(body, "Next page") {
		t.Errorf("second page:\n%s", body)
	}
}

func TestFindingDetailAndStateChanges(t *testing.T) {
	store := testFindings()
	c := newTestConsole(t, Config{Findings: FindingDeps{Store: store,
		Rules: fakeRules{"rule-1": {ID: "rule-1", Title: "Trail stopped", Author: "Jane Doe", Level: "high", Status: "stable", File: "aws_trail_stop.yml"}}}})
	bob := signedInAs(t, c, testUser("bob", "222222222222", false, false))
	resp, body := bob.get("/findings/fd-a1")
	for _, want := range []string{"Trail stopped", "Jane Doe", "aws_trail_stop.yml", "Someone stopped a trail.",
		`href="https://example.com/ref"`, `href="/events/222222222222/ev-1"`, `href="/events/222222222222/ev-2"`,
		"Detection Rule License", `name="csrf" value="` + bob.session.CSRF + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("finding page lacks %q", want)
		}
	}
	// The link to the finding's window in history: its account, from the
	// first to one second after the last matching event.
	var window url.Values
	if _, rest, ok := strings.Cut(body, `<a href="/events?`); ok {
		q, _, _ := strings.Cut(rest, `"`)
		window, _ = url.ParseQuery(html.UnescapeString(q))
	}
	if resp.StatusCode != 200 || window.Get("account") != "222222222222" || window.Get("start") != "2026-12-05T10:00:00Z" ||
		window.Get("end") != "2026-12-05T10:01:01Z" {
		t.Errorf("finding page %d: the link to the finding's window in history is %v", resp.StatusCode, window)
	}
	// Another account's finding does not exist for bob, to read or change.
	if resp, _ := bob.get("/findings/fd-b2"); resp.StatusCode != 404 {
		t.Errorf("another account's finding: %d", resp.StatusCode)
	}
	if resp, _ := bob.post("/findings/fd-b2/state", url.Values{"state": {"resolved"}}); resp.StatusCode != 404 {
		t.Errorf("changing another account's finding: %d", resp.StatusCode)
	}
	if resp, _ := bob.get("/findings/fd-nope"); resp.StatusCode != 404 {
		t.Errorf("unknown finding: %d", resp.StatusCode)
	}
	// Changes need the session's CSRF token.
	if resp, _ := bob.post("/findings/fd-a1/state", url.Values{"state": {"acknowledged"}, "csrf": {"forged"}}); resp.StatusCode != 403 {
		t.Errorf("without the CSRF token: %d", resp.StatusCode)
	}
	resp, _ = bob.post("/findings/fd-a1/state", url.Values{"state": {"acknowledged"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/findings/fd-a1?changed=acknowledged" {
		t.Fatalf("acknowledge: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body = bob.get("/findings/fd-a1?changed=acknowledged")
	if !strings.Contains(body, "State set to <strong>acknowledged</strong>") || !strings.Contains(body, "<td>bob</td>") {
		t.Errorf("after acknowledging, the page does not show the change by bob:\n%s", body)
	}
	resp, body = bob.post("/findings/fd-a1/state", url.Values{"state": {"suppressed"}, "reason": {"  "}})
	if resp.StatusCode != 400 || !strings.Contains(body, "needs a reason") {
		t.Errorf("suppress without a reason: %d", resp.StatusCode)
	}
	resp, _ = bob.post("/findings/fd-a1/state", url.Values{"state": {"suppressed"}, "reason": {"red-team exercise"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("suppress: %d", resp.StatusCode)
	}
	if f, _ := store.Get(context.Background(), "fd-a1"); f.State != "suppressed" || f.StateReason != "red-team exercise" || f.StateBy != "bob" {
		t.Errorf("after suppressing: %+v", f)
	}
	if resp, body := bob.post("/findings/fd-a1/state", url.Values{"state": {"closed"}}); resp.StatusCode != 400 || !strings.Contains(body, "not changed") {
		t.Errorf("unknown state: %d", resp.StatusCode)
	}
	// An alarm's finding links to its alarm.
	alice := signedInAs(t, c, testUser("alice", "111111111111", true, true))
	if _, body := alice.get("/findings/fd-b2"); !strings.Contains(body, `href="/alarms/333333333333/us-east-1/spend"`) {
		t.Errorf("an alarm's finding does not link to the alarm")
	}
}
