package sigma

import (
	"fmt"
	"os"
	"testing"
	"time"
)

const corrRules = `title: Failed console login
name: failed_login
id: base-1
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: ConsoleLogin
    errorMessage: Failed authentication
  condition: sel
---
title: Console login brute force
id: corr-1
author: Test Author
level: high
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [sourceIPAddress]
  timespan: 10m
  condition: {gte: 5}
---
title: Access denied
name: denied
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    errorCode: AccessDenied
  condition: sel
---
title: One principal denied on many APIs
id: corr-2
correlation:
  type: value_count
  rules: [denied]
  group-by: [userIdentity.arn]
  timespan: 5m
  condition: {field: eventName, gte: 3}
generate: true
---
title: Trail stopped
name: stop
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: StopLogging
  condition: sel
---
title: Trail deleted
name: delete
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: DeleteTrail
  condition: sel
---
title: Stop then delete
id: corr-3
correlation:
  type: temporal_ordered
  rules: [stop, delete]
  group-by: [recipientAccountId]
  timespan: 10m
---
title: Stop and delete in any order
id: corr-4
correlation:
  type: temporal
  rules: [delete, stop]
  group-by: [recipientAccountId]
  timespan: 10m
`

type feed struct {
	t  *testing.T
	rs *Ruleset
	c  *Correlator
	n  int
}

// send matches and observes one record; it returns the ids of the
// correlation rules hit.
func (f *feed) send(at time.Time, rec string) []CorrelationHit {
	f.n++
	raw := []byte(fmt.Sprintf(`{"eventID":"ev-%d",%s}`, f.n, rec))
	return f.c.Observe(raw, at, f.rs.Match(raw, nil))
}

func newFeed(t *testing.T) *feed {
	rules, err := ParseRules([]byte(corrRules), "corr.yml")
	if err != nil {
		t.Fatal(err)
	}
	rs, errs := NewRuleset(rules)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return &feed{t: t, rs: rs, c: rs.NewCorrelator()}
}

var t0 = time.Date(2026, 12, 5, 5, 0, 0, 0, time.UTC)

func failed(ip string) string {
	return `"eventName":"ConsoleLogin","errorMessage":"Failed authentication","sourceIPAddress":"` + ip + `"`
}

// TestEventCount: five failed console logins from one IP within ten
// minutes raise one hit; other IPs and slower attempts do not.
func TestEventCount(t *testing.T) {
	f := newFeed(t)
	for i := 0; i < 4; i++ {
		if h := f.send(t0.Add(time.Duration(i)*time.Minute), failed("198.51.100.7")); len(h) != 0 {
			t.Fatalf("attempt %d: early hit %+v", i+1, h)
		}
		f.send(t0.Add(time.Duration(i)*time.Minute), failed("203.0.113.1")) // another group, 4 only
	}
	f.send(t0.Add(5*time.Minute), `"eventName":"ConsoleLogin","sourceIPAddress":"198.51.100.7"`) // success: not counted
	h := f.send(t0.Add(6*time.Minute), failed("198.51.100.7"))
	if len(h) != 1 {
		t.Fatalf("fifth failure: %d hits, want 1", len(h))
	}
	hit := h[0]
	if hit.Rule.ID != "corr-1" || hit.Rule.Author != "Test Author" || hit.Count != 5 || hit.Group["sourceIPAddress"] != "198.51.100.7" ||
		!hit.First.Equal(t0) || !hit.Last.Equal(t0.Add(6*time.Minute)) || len(hit.EventIDs) != 5 || hit.EventIDs[0] != "ev-1" {
		t.Fatalf("hit %+v", hit)
	}
	if h := f.send(t0.Add(7*time.Minute), failed("198.51.100.7")); len(h) != 0 {
		t.Fatalf("sixth failure hit again: %+v", h)
	}
	// Slow attempts: five failures over 25 minutes never have five in ten.
	for i := 0; i < 5; i++ {
		if h := f.send(t0.Add(time.Hour+time.Duration(i)*5*time.Minute), failed("192.0.2.55")); len(h) != 0 {
			t.Fatalf("slow attempts hit: %+v", h)
		}
	}
	if !f.rs.Rules()[0].Suppressed {
		t.Fatal("the base rule of a generate: false correlation is not marked Suppressed")
	}
}

// TestValueCount: one principal denied on three distinct APIs in five
// minutes; repeats of one API do not count.
func TestValueCount(t *testing.T) {
	f := newFeed(t)
	den := func(name string) string {
		return `"eventName":"` + name + `","errorCode":"AccessDenied","userIdentity":{"arn":"arn:aws:iam::1:user/x"}`
	}
	for i, n := range []string{"ListUsers", "listusers", "ListUsers", "ListRoles"} {
		if h := f.send(t0.Add(time.Duration(i)*time.Second), den(n)); len(h) != 0 {
			t.Fatalf("hit after %s: %+v", n, h)
		}
	}
	h := f.send(t0.Add(time.Minute), den("GetSecretValue"))
	if len(h) != 1 || h[0].Rule.ID != "corr-2" || h[0].Count != 3 || len(h[0].EventIDs) != 5 || h[0].Group["userIdentity.arn"] != "arn:aws:iam::1:user/x" {
		t.Fatalf("got %+v, want one value_count hit of 3", h)
	}
	for _, r := range f.rs.Rules() {
		if r.Name == "denied" && r.Suppressed {
			t.Fatal("the base rule of a generate: true correlation is Suppressed")
		}
	}
}

// TestTemporal: StopLogging then DeleteTrail in one account within ten
// minutes hits both temporal rules; the reverse order only the unordered
// one; too far apart, neither.
func TestTemporal(t *testing.T) {
	ids := func(h []CorrelationHit) string {
		s := ""
		for _, x := range h {
			s += x.Rule.ID + " "
		}
		return s
	}
	f := newFeed(t)
	f.send(t0, `"eventName":"StopLogging","recipientAccountId":"111"`)
	f.send(t0.Add(time.Minute), `"eventName":"DeleteTrail","recipientAccountId":"222"`) // another account
	if h := f.send(t0.Add(2*time.Minute), `"eventName":"DeleteTrail","recipientAccountId":"111"`); ids(h) != "corr-3 corr-4 " {
		t.Fatalf("stop then delete: %q", ids(h))
	}
	f.send(t0.Add(time.Hour), `"eventName":"DeleteTrail","recipientAccountId":"111"`)
	if h := f.send(t0.Add(time.Hour+time.Minute), `"eventName":"StopLogging","recipientAccountId":"111"`); ids(h) != "corr-4 " {
		t.Fatalf("delete then stop: %q", ids(h))
	}
	f.send(t0.Add(2*time.Hour), `"eventName":"StopLogging","recipientAccountId":"111"`)
	if h := f.send(t0.Add(2*time.Hour+11*time.Minute), `"eventName":"DeleteTrail","recipientAccountId":"111"`); len(h) != 0 {
		t.Fatalf("eleven minutes apart: %q", ids(h))
	}
}

// TestCorrelatorForgets: groups whose window has passed are dropped, so
// state stays bounded however many groups pass through.
func TestCorrelatorForgets(t *testing.T) {
	f := newFeed(t)
	for i := 0; i < 1000; i++ {
		f.send(t0.Add(time.Duration(i)*time.Second), failed(fmt.Sprintf("10.0.%d.%d", i/256, i%256)))
	}
	f.c.Advance(t0.Add(2 * time.Hour))
	for _, st := range f.c.states {
		if len(st.groups) != 0 {
			t.Fatalf("%s keeps %d groups after its window", st.rule, len(st.groups))
		}
	}
}

// TestCountBelow: an lt condition is decided when the window ends.
func TestCountBelow(t *testing.T) {
	src := `title: Login
name: login
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: ConsoleLogin
  condition: sel
---
title: Few logins
id: few
correlation:
  type: event_count
  rules: login
  group-by: userIdentity.arn
  timespan: 1h
  condition: {lt: 2}
`
	rules, err := ParseRules([]byte(src), "few.yml")
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := NewRuleset(rules)
	c := rs.NewCorrelator()
	obs := func(at time.Time, arn string) []CorrelationHit {
		raw := []byte(`{"eventID":"x","eventName":"ConsoleLogin","userIdentity":{"arn":"` + arn + `"}}`)
		return c.Observe(raw, at, rs.Match(raw, nil))
	}
	obs(t0, "a")
	obs(t0.Add(time.Minute), "b")
	obs(t0.Add(2*time.Minute), "b")
	if h := obs(t0.Add(30*time.Minute), "c"); len(h) != 0 {
		t.Fatalf("decided before the window ended: %+v", h)
	}
	h := c.Advance(t0.Add(61 * time.Minute))
	if len(h) != 1 || h[0].Group["userIdentity.arn"] != "a" || h[0].Count != 1 {
		t.Fatalf("got %+v, want the one group with one login", h)
	}
}

// TestRulePack: opentrail's own rules (internal/rulepack) load beside
// SigmaHQ's, and the brute-force correlation fires on ten failed console
// sign-ins from one address.
func TestRulePack(t *testing.T) {
	pack, errs, err := ParseFS(os.DirFS("../rulepack/sigma"))
	if err != nil || len(errs) > 0 || len(pack) == 0 {
		t.Fatalf("rule pack: %d rules, %v, %v", len(pack), errs, err)
	}
	sigmahq, errs, err := ParseFS(os.DirFS(rulesDir))
	if err != nil || len(errs) > 0 {
		t.Fatal(errs, err)
	}
	rs, errs := NewRuleset(append(sigmahq, pack...))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c := rs.NewCorrelator()
	var hits []CorrelationHit
	for i := 0; i < 10; i++ {
		raw := []byte(fmt.Sprintf(`{"eventID":"f%d","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","sourceIPAddress":"198.51.100.9","responseElements":{"ConsoleLogin":"Failure"},"errorMessage":"Failed authentication"}`, i))
		hits = append(hits, c.Observe(raw, t0.Add(time.Duration(i)*30*time.Second), rs.Match(raw, nil))...)
	}
	if len(hits) != 1 || hits[0].Count != 10 || hits[0].Group["sourceIPAddress"] != "198.51.100.9" || hits[0].Rule.Author != "opentrail" {
		t.Fatalf("got %+v, want one brute-force hit", hits)
	}
}

// TestEventCountedOnce: an event matching two of a correlation's rules
// counts once.
func TestEventCountedOnce(t *testing.T) {
	src := `title: A
name: a
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: DeleteTrail
  condition: sel
---
title: B
name: b
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventSource: cloudtrail.amazonaws.com
  condition: sel
---
title: Many
id: many
correlation:
  type: event_count
  rules: [a, b]
  timespan: 1h
  condition: {gte: 2}
`
	rules, err := ParseRules([]byte(src), "once.yml")
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := NewRuleset(rules)
	c := rs.NewCorrelator()
	raw := []byte(`{"eventID":"1","eventName":"DeleteTrail","eventSource":"cloudtrail.amazonaws.com"}`)
	if m := rs.Match(raw, nil); len(m) != 2 {
		t.Fatalf("%d rules matched, want 2", len(m))
	}
	if h := c.Observe(raw, t0, rs.Match(raw, nil)); len(h) != 0 {
		t.Fatalf("one event counted twice: %+v", h)
	}
	if h := c.Observe(raw, t0.Add(time.Minute), rs.Match(raw, nil)); len(h) != 1 || h[0].Count != 2 {
		t.Fatalf("got %+v, want one hit of 2", h)
	}
}
