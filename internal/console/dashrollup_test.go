package console

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/rollup"
	"github.com/opentrail/opentrail/internal/store"
)

// countingQuerier counts the queries that reach the events.
type countingQuerier struct {
	EventQuerier
	n atomic.Int64
}

func (q *countingQuerier) Run(ctx context.Context, sql string, opts query.Options) (*query.Result, error) {
	q.n.Add(1)
	return q.EventQuerier.Run(ctx, sql, opts)
}

// oddRecords are records at the edges of the panels' conditions: root
// calls an AWS service makes or that are service events, refusals the
// CIS pattern leaves out, sign-ins with and without the fields the
// conditions read, events with no address, no readOnly or no category.
func oddRecords(t *testing.T) []*event.Record {
	const a = "111111111111"
	root := rec{"type": "Root", "principalId": a, "arn": "arn:aws:iam::" + a + ":root", "accountId": a}
	rootBy := rec{"type": "Root", "principalId": a, "arn": "arn:aws:iam::" + a + ":root", "accountId": a, "invokedBy": "config.amazonaws.com"}
	mallory := iamUserRec(a, "mallory")
	at := func(h, m int) time.Time { return time.Date(2026, 12, 4, h, m, 7, 250e6, time.UTC) }
	raws := [][]byte{
		mk(9000, a, at(13, 1), "ListBuckets", "s3.amazonaws.com", rootBy, nil),
		mk(9001, a, at(13, 2), "GetBucketAcl", "s3.amazonaws.com", root, rec{"eventType": "AwsServiceEvent"}),
		mk(9002, a, at(13, 3), "DeleteTrail", "cloudtrail.amazonaws.com", root, rec{"errorCode": "AccessDenied"}),
		mk(9003, a, at(13, 4), "PutObject", "s3.amazonaws.com", mallory, rec{"errorCode": "AccessDenied", "sourceIPAddress": "delivery.logs.amazonaws.com"}),
		mk(9004, a, at(13, 5), "HeadBucket", "s3.amazonaws.com", mallory, rec{"errorCode": "AccessDeniedException"}),
		mk(9005, a, at(13, 6), "GetObject", "s3.amazonaws.com", mallory, rec{"errorCode": "AccessDenied", "sourceIPAddress": nil}),
		mk(9006, a, at(13, 7), "ConsoleLogin", "signin.amazonaws.com", mallory, rec{"errorMessage": "Failed authentication"}),
		mk(9007, a, at(13, 8), "ConsoleLogin", "signin.amazonaws.com", mallory, rec{"responseElements": rec{"ConsoleLogin": "Success"}}),
		mk(9008, a, at(13, 9), "ConsoleLogin", "signin.amazonaws.com", mallory, rec{"responseElements": rec{"ConsoleLogin": "Success"}, "additionalEventData": rec{"MFAUsed": "Yes"}}),
		mk(9009, a, at(13, 10), "DisableKey", "kms.amazonaws.com", mallory, rec{"requestParameters": rec{"keyId": rec{"odd": 1}}, "errorCode": "NotFoundException"}),
		mk(9010, a, at(13, 11), "DescribeRegions", "ec2.amazonaws.com", mallory, rec{"readOnly": nil, "sourceIPAddress": ""}),
		mk(9011, a, at(13, 12), "GetObject", "s3.amazonaws.com", mallory, rec{"eventCategory": "Data", "managementEvent": false, "readOnly": true}),
		mk(9012, a, at(13, 13), "DeleteBucketPolicy", "s3.amazonaws.com", mallory, rec{"errorCode": "Client.UnauthorizedOperation"}),
	}
	return parseAll(t, raws)
}

// rollupFixture is a store of a month's demo activity (three accounts,
// the planted incidents) plus the dashboard fixture's and the odd
// records, half of it in the columnar tier, with rollups caught up.
func rollupFixture(t *testing.T) (*store.Store, *rollup.Rollups) {
	t.Helper()
	ctx := context.Background()
	st := emptyStore(t)
	var recs []*event.Record
	opts := demo.Options{Seed: 11, Events: 6000, Start: dashNow.Add(-32 * 24 * time.Hour), Duration: 32 * 24 * time.Hour, Incidents: true,
		Accounts: []string{"111111111111", "222222222222", "333333333333"}}
	if err := demo.Generate(opts, func(raw []byte) error {
		r, err := event.Parse(raw)
		if err != nil {
			return err
		}
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	recs = append(recs, dashRecords(t)...)
	recs = append(recs, oddRecords(t)...)
	half := len(recs) / 2
	if _, err := st.Append(ctx, recs[:half], dashNow); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Compact(ctx, st.LastSeq()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(ctx, recs[half:], dashNow); err != nil {
		t.Fatal(err)
	}
	r, err := rollup.New(rollup.Config{Store: st, Clock: clock.NewFake(dashNow)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return st, r
}

// tookRE and csrfRE match what differs between two renders of a page:
// the time it took and the session's CSRF token.
var tookRE, csrfRE = regexp.MustCompile(` · drawn in [^<]*`), regexp.MustCompile(`name="csrf" value="[^"]*"`)

// TestDashboardsFromRollups draws every built-in panel from the rollups
// and from the events and wants the same page: same rows, numbers and
// links, for the presets, custom ranges, and a user of one account.
func TestDashboardsFromRollups(t *testing.T) {
	st, r := rollupFixture(t)
	events := &countingQuerier{EventQuerier: StoreQuerier(st)}
	rolled := newTestConsole(t, Config{Clock: clock.NewFake(dashNow), Dashboards: DashboardDeps{Events: events, Rollups: r}})
	plain := newTestConsole(t, Config{Clock: clock.NewFake(dashNow), Dashboards: DashboardDeps{Events: StoreQuerier(st)}})
	users := map[string]*User{
		"management":    testUser("alice", "111111111111", true, true),
		"one account":   testUser("bob", "222222222222", false, false),
		"first account": testUser("carol", "111111111111", false, false),
	}
	ranges := []struct {
		q string
		// sqlFree: every panel reads the rollups.
		sqlFree bool
	}{
		{"range=24h", true}, {"range=7d", true}, {"range=30d", true},
		{"start=2026-11-20T05:00:00Z&end=2026-12-04T17:00:00Z", true},  // custom, 6-hour buckets
		{"start=2026-12-04T12:20:00Z&end=2026-12-04T15:40:00Z", false}, // 5-minute buckets: CIS from the rollups, the overview from the events
		{"range=1h", false},
	}
	for name, u := range users {
		a, b := signedInAs(t, rolled, u), signedInAs(t, plain, u)
		for _, page := range []string{"overview", "cis"} {
			for _, rg := range ranges {
				path := "/dashboards/" + page + "?" + rg.q
				before := events.n.Load()
				ra, bodyA := a.get(path)
				rb, bodyB := b.get(path)
				if ra.StatusCode != 200 || rb.StatusCode != 200 {
					t.Fatalf("%s %s: status %d, %d", name, path, ra.StatusCode, rb.StatusCode)
				}
				if strings.Contains(bodyA, `class="error"`) {
					t.Fatalf("%s %s: a panel failed:\n%s", name, path, bodyA)
				}
				bodyA, bodyB = csrfRE.ReplaceAllString(tookRE.ReplaceAllString(bodyA, ""), ""), csrfRE.ReplaceAllString(tookRE.ReplaceAllString(bodyB, ""), "")
				if bodyA != bodyB {
					t.Errorf("%s %s: the page drawn from the rollups differs from the events':\n%s", name, path, firstDiff(bodyA, bodyB))
				}
				if n := events.n.Load() - before; rg.sqlFree && n != 0 {
					t.Errorf("%s %s: %d queries read the events; want every panel from the rollups", name, path, n)
				}
				if page == "cis" && events.n.Load()-before != 0 {
					t.Errorf("%s %s: CIS panels read the events", name, path)
				}
			}
		}
	}
	// The pages are not empty: the comparison compares something.
	_, body := signedInAs(t, rolled, users["management"]).get("/dashboards/cis?range=30d")
	for _, w := range []string{"mallory: 14 failed logins", "ScheduleKeyDeletion", "AttachRolePolicy", "Client.UnauthorizedOperation"} {
		if !strings.Contains(body, w) {
			t.Errorf("the CIS page lacks %q", w)
		}
	}
}

// firstDiff shows where two pages part.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-300, 0)
	return fmt.Sprintf("rollups: …%s…\nevents:  …%s…", a[lo:min(i+300, len(a))], b[lo:min(i+300, len(b))])
}

// TestDashboardsFallBack reads the events while the rollups are far
// behind, and catches up first when they are only a little behind.
func TestDashboardsFallBack(t *testing.T) {
	ctx := context.Background()
	st := dashFixture(t)
	r, err := rollup.New(rollup.Config{Store: st, Clock: clock.NewFake(dashNow), SyncLimit: 5})
	if err != nil {
		t.Fatal(err)
	}
	events := &countingQuerier{EventQuerier: StoreQuerier(st)}
	c := newTestConsole(t, Config{Clock: clock.NewFake(dashNow), Dashboards: DashboardDeps{Events: events, Rollups: r}})
	alice := signedInAs(t, c, testUser("alice", "111111111111", true, true))
	_, body := alice.get("/dashboards/cis?range=24h")
	if events.n.Load() == 0 {
		t.Fatal("rollups far behind served the page")
	}
	if !strings.Contains(body, `<div class="value">18</div><div class="label">Failed console logins</div>`) {
		t.Errorf("the page read from the events lacks the failed logins")
	}
	if want := fmt.Sprintf("hourly rollups are being built (0 of %d events counted)", st.LastSeq()); !strings.Contains(body, want) {
		t.Errorf("the page read from the events does not say why: want %q", want)
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// Three events more: within SyncLimit, so the page syncs and counts them.
	var more []*event.Record
	mallory := iamUserRec("111111111111", "mallory")
	for i, extra := range []rec{{"errorMessage": "Failed authentication"}, {"responseElements": rec{"ConsoleLogin": "Success"}}, {}} {
		m, err := event.Parse(mk(9100+i, "111111111111", dashNow.Add(-10*time.Minute), "ConsoleLogin", "signin.amazonaws.com", mallory, extra))
		if err != nil {
			t.Fatal(err)
		}
		more = append(more, m)
	}
	if _, err := st.Append(ctx, more, dashNow); err != nil {
		t.Fatal(err)
	}
	before := events.n.Load()
	_, body = alice.get("/dashboards/cis?range=24h")
	if n := events.n.Load() - before; n != 0 {
		t.Errorf("%d queries read the events after a small append; want a sync", n)
	}
	if !strings.Contains(body, `<div class="value">19</div><div class="label">Failed console logins</div>`) {
		t.Errorf("the page drawn after the sync lacks the new failed login")
	}
	if strings.Contains(body, "being built") {
		t.Error("the page drawn from fresh rollups says they are being built")
	}
}
