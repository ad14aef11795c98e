package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// waitPath waits until the browser's page is at a path starting with
// prefix (after a form submission or a click) and its main element is
// there.
func (b *browser) waitPath(prefix string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.HasPrefix(b.path(), prefix) {
		if time.Now().After(deadline) {
			b.fail("wait for "+prefix, errTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.run("page "+prefix, chromedp.WaitVisible(chromedp.CSS("main")))
}

type timeoutError struct{}

func (timeoutError) Error() string { return "timed out" }

var errTimeout error = timeoutError{}

// column is the text of each row's cell of the history table that sel
// (a td selector) names, in order.
func (b *browser) column(sel string) []string {
	b.t.Helper()
	return get(b, "column "+sel, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#events-table tbody tr `+sel+`")).map(td => td.textContent.trim())`))
}

// TestConsoleHistory: events of several users are in the history; the
// filter form narrows it to one user's, showing exactly their rows; an
// event's page shows its record and links to the principal's other events.
func TestConsoleHistory(t *testing.T) {
	s := startServer(t, "")
	now := time.Now().UTC().Truncate(time.Second)
	type ev struct {
		user, name string
		ago        time.Duration
	}
	evs := []ev{
		{"alice", "DescribeInstances", 50 * time.Minute}, {"bob", "CreateBucket", 40 * time.Minute}, {"alice", "PutBucketPolicy", 30 * time.Minute},
		{"carol", "StopLogging", 25 * time.Minute}, {"bob", "DeleteObject", 20 * time.Minute}, {"alice", "ListUsers", 10 * time.Minute},
		{"bob", "GetBucketAcl", 5 * time.Minute},
	}
	var recs [][]byte
	for i, e := range evs {
		recs = append(recs, record(recOpts{id: uuid("console-history", i), user: e.user, name: e.name, source: "s3.amazonaws.com",
			key: "AKIA" + strings.ToUpper(e.user) + "EXAMPLE01", t: now.Add(-e.ago), account: "000000000000"}))
	}
	if acc, _ := s.postEvents(t, "test", recs); acc != len(recs) {
		t.Fatalf("accepted %d of %d events", acc, len(recs))
	}

	b := newBrowser(t, s)
	b.signIn("admin", "opentrail")
	b.open("/events")
	b.screenshot("history")

	// Filter by user name through the form: the first attribute row.
	b.run("filter by bob",
		chromedp.SetValue(chromedp.CSS("#k0"), "Username"),
		chromedp.SendKeys(chromedp.CSS("#v0"), "bob"),
		chromedp.Click(chromedp.CSS("#apply-filters")),
	)
	b.waitPath("/events?Username=bob")
	if p := b.path(); p != "/events?Username=bob" {
		t.Fatalf("the filtered view's URL is %s, want /events?Username=bob", p)
	}
	if got, want := b.column("td.name"), []string{"GetBucketAcl", "DeleteObject", "CreateBucket"}; !slices.Equal(got, want) {
		t.Fatalf("bob's rows: %q, want %q", got, want)
	}
	if got := b.column("td.user"); !slices.Equal(got, []string{"bob", "bob", "bob"}) {
		t.Fatalf("user column %q", got)
	}
	if got := get(b, "filter value", chromedp.Value(chromedp.CSS("#v0"))); got != "bob" {
		t.Errorf("the form does not show the filter: %q", got)
	}
	b.screenshot("history-bob")

	// Open bob's oldest event by its time link.
	b.run("open an event", chromedp.Click(chromedp.CSS("#events-table tbody tr:nth-child(3) td a")))
	b.waitPath("/events/000000000000/")
	if got := b.text("h1"); !strings.HasPrefix(got, "CreateBucket") {
		t.Fatalf("the event page's heading is %q", got)
	}
	rec := b.text("#event-record")
	if !strings.Contains(rec, `"eventName": "CreateBucket"`) || !strings.Contains(rec, `"eventID": "`+uuid("console-history", 1)+`"`) {
		t.Fatalf("the event page does not show the record pretty-printed:\n%s", rec)
	}
	if props := b.text("#event-props"); !strings.Contains(props, "AKIABOBEXAMPLE01") || !strings.Contains(props, "198.51.100.9") {
		t.Errorf("the properties lack the access key or source IP:\n%s", props)
	}
	b.screenshot("event-detail")

	// Follow "other events by this principal".
	b.run("other events by bob", chromedp.Click(chromedp.CSS(`#related a[href^="/events?Username=bob"]`)))
	b.waitPath("/events?Username=bob")
	if got := b.column("td.name"); !slices.Equal(got, []string{"GetBucketAcl", "DeleteObject", "CreateBucket"}) {
		t.Fatalf("other events by bob: %q", got)
	}
	b.screenshot("history-principal")

	// An empty result and a damaged page link say what happened.
	b.open("/events?Username=nobody&range=24h")
	if got := b.text("#events-empty"); !strings.Contains(got, "No events match these filters") {
		t.Errorf("empty state: %q", got)
	}
	b.screenshot("history-empty")
	b.open("/events?Username=bob&after=garbage")
	if got := b.text("main"); !strings.Contains(got, "These filters cannot be used") || !strings.Contains(got, "damaged") {
		t.Errorf("bad token page: %q", got)
	}
	if got := b.text("#history-bad a.button"); got != "First page of these filters" {
		t.Errorf("the bad token page offers %q", got)
	}
	b.screenshot("history-bad-token")
}
