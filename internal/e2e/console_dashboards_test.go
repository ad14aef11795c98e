package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opentrail/opentrail/internal/geoip/geoiptest"
)

// consoleLogin is a ConsoleLogin record of user at t from ip; failed ones
// carry the CIS pattern's errorMessage and the Failure response.
func consoleLogin(id, user, ip string, t time.Time, failed bool) []byte {
	m := map[string]any{
		"eventVersion": "1.09", "eventTime": t.UTC().Format(time.RFC3339), "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
		"awsRegion": "us-east-1", "sourceIPAddress": ip, "userAgent": "Mozilla/5.0", "eventID": id, "eventType": "AwsConsoleSignIn",
		"managementEvent": true, "readOnly": false, "recipientAccountId": "000000000000", "eventCategory": "Management",
		"userIdentity":        map[string]any{"type": "IAMUser", "principalId": "AIDA" + strings.ToUpper(user), "arn": "arn:aws:iam::000000000000:user/" + user, "accountId": "000000000000", "userName": user},
		"additionalEventData": map[string]any{"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com/"},
		"responseElements":    map[string]any{"ConsoleLogin": "Success"},
	}
	if failed {
		m["errorMessage"] = "Failed authentication"
		m["responseElements"] = map[string]any{"ConsoleLogin": "Failure"}
	}
	b, _ := json.Marshal(m)
	return b
}

// TestConsoleCISDashboardSpike plants a burst of failed console logins,
// opens the CIS dashboard in Chromium, clicks the spike's bar and lands on
// the event history of exactly that hour's failed logins.
func TestConsoleCISDashboardSpike(t *testing.T) {
	dir := t.TempDir()
	mmdb := filepath.Join(dir, "city.mmdb")
	if err := geoiptest.Write(mmdb, map[string]geoiptest.Place{
		"81.2.69.0/24":   {ISOCode: "GB", Country: "United Kingdom", City: "London"},
		"203.0.113.0/24": {ISOCode: "BR", Country: "Brazil"},
	}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "opentrail.yml")
	if err := os.WriteFile(cfg, []byte("console:\n  geoip_database: "+mmdb+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "--config", cfg)

	// The burst: 9 failed logins in the hour before this one; one failed
	// login 6 hours earlier; successful logins and other calls around.
	now := time.Now().UTC()
	spike := now.Truncate(time.Hour).Add(-time.Hour)
	var recs [][]byte
	for i := range 9 {
		ip := "81.2.69.142"
		if i%3 == 0 {
			ip = "203.0.113.50"
		}
		recs = append(recs, consoleLogin(fmt.Sprintf("e0000000-0000-4000-8000-%012d", i), "mallory", ip, spike.Add(time.Duration(2+i*5)*time.Minute), true))
	}
	recs = append(recs, consoleLogin("e0000000-0000-4000-8000-100000000001", "mallory", "81.2.69.142", spike.Add(-6*time.Hour+10*time.Minute), true))
	recs = append(recs, consoleLogin("e0000000-0000-4000-8000-100000000002", "alice", "198.51.100.4", spike.Add(-3*time.Hour), false))
	for i := range 30 {
		recs = append(recs, record(recOpts{id: fmt.Sprintf("f0000000-0000-4000-8000-%012d", i), account: "000000000000", user: "alice", t: now.Add(-time.Duration(i*40) * time.Minute)}))
	}
	if acc, _ := s.postEvents(t, "test", recs); acc != len(recs) {
		t.Fatalf("accepted %d of %d", acc, len(recs))
	}

	b := newBrowser(t, s)
	b.signIn("admin", "opentrail")
	b.open("/dashboards/cis")
	if got := b.text("#failed-logins h2"); got != "Failed console logins over time" {
		t.Fatalf("failed-logins panel heading %q", got)
	}
	if got := b.text("#failed-logins-by-location"); !strings.Contains(got, "London, United Kingdom") || !strings.Contains(got, "Brazil") {
		t.Errorf("the location panel does not place the failed logins: %q", got)
	}
	b.screenshot("cis-dashboard")

	// The spike's bar is the one for the burst's hour; its title says so.
	startQ := url.QueryEscape(spike.Format(time.RFC3339))
	bar := `#failed-logins svg a[href*="start=` + startQ + `"]`
	title := get(b, "spike bar title", chromedp.TextContent(chromedp.CSS(bar+" title")))
	if !strings.Contains(title, ": 9 failed logins") {
		t.Errorf("the spike bar's title is %q, want 9 failed logins", title)
	}
	b.run("click the spike", chromedp.Click(chromedp.CSS(bar+" rect")), chromedp.WaitVisible(chromedp.CSS("main")))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasPrefix(b.path(), "/events?") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	landed := b.path()
	u, err := url.Parse(landed)
	if err != nil || u.Path != "/events" {
		t.Fatalf("clicking the spike went to %s, want /events?…", landed)
	}
	q := u.Query()
	if q.Get("EventName") != "ConsoleLogin" || q.Get("errors") != "1" ||
		q.Get("start") != spike.Format(time.RFC3339) || q.Get("end") != spike.Add(time.Hour).Format(time.RFC3339) {
		t.Errorf("the spike links to %s, want EventName=ConsoleLogin, errors=1 and the hour %s", landed, spike.Format(time.RFC3339))
	}
	b.run("events page", chromedp.WaitVisible(chromedp.CSS("main")))
	b.screenshot("cis-spike-events")
	// The event history shows exactly the burst: 9 rows, each a failed
	// ConsoleLogin.
	rows := get(b, "event rows", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("table tbody tr")).map(r => r.innerText)`))
	if len(rows) != 9 {
		t.Errorf("the spike's events page lists %d rows, want the 9 failed logins", len(rows))
	}
	for _, r := range rows {
		if !strings.Contains(r, "ConsoleLogin") {
			t.Errorf("row %q is not a ConsoleLogin", r)
		}
	}
}

// TestConsoleOverviewDashboard opens the overview (the landing page) and a
// range preset, and follows a top-N row to its events.
func TestConsoleOverviewDashboard(t *testing.T) {
	s := startServer(t, "")
	now := time.Now().UTC()
	var recs [][]byte
	for i := range 60 {
		o := recOpts{id: fmt.Sprintf("a0000000-0000-4000-8000-%012d", i), account: "000000000000", user: []string{"alice", "bob", "carol"}[i%3], t: now.Add(-time.Duration(i*23) * time.Minute)}
		if i%4 == 0 {
			o.name, o.source = "PutObject", "s3.amazonaws.com"
		}
		if i%5 == 0 {
			o.readOnly = true
		}
		recs = append(recs, record(o))
	}
	if acc, _ := s.postEvents(t, "test", recs); acc != len(recs) {
		t.Fatalf("accepted %d of %d", acc, len(recs))
	}
	b := newBrowser(t, s)
	b.signIn("admin", "opentrail")
	b.open("/")
	if p := b.path(); !strings.HasPrefix(p, "/dashboards/overview") {
		t.Fatalf("the landing page is %s, want the overview", p)
	}
	// The 60 planted events, the API's own record of posting them and
	// the admin's ConsoleLogin.
	if got := b.text(".kpis .kpi .value"); got != "62" {
		t.Errorf("the events KPI is %q, want 62: the 60 planted events, the post's own record and the sign-in's ConsoleLogin", got)
	}
	if got := b.text("#top-sources"); !strings.Contains(got, "s3.amazonaws.com") || !strings.Contains(got, "ec2.amazonaws.com") {
		t.Errorf("top event sources: %q", got)
	}
	b.screenshot("overview")
	b.run("7d preset", chromedp.Click(chromedp.CSS(`.presets a[href$="range=7d"]`)), chromedp.WaitVisible(chromedp.CSS(`.presets a[aria-current][href$="range=7d"]`)))
	b.screenshot("overview-7d")
	b.run("follow s3", chromedp.Click(chromedp.CSS(`#top-sources svg a[href*="EventSource=s3.amazonaws.com"] rect.bar`)))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasPrefix(b.path(), "/events?") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if p := b.path(); !strings.HasPrefix(p, "/events?") || !strings.Contains(p, "EventSource=s3.amazonaws.com") {
		t.Errorf("the s3 row went to %s", p)
	}
	b.open("/dashboards/new")
	b.screenshot("dashboard-new")
	b.open("/dashboards")
	b.screenshot("dashboards-list")
}

// TestConsoleDemoThreeClicks is the issue's first-run path: `opentrail
// serve --demo`, sign in, and from the landing page to the failed-login
// spike's individual events in three clicks — the CIS dashboard, its
// tallest failed-login bar, and an event.
func TestConsoleDemoThreeClicks(t *testing.T) {
	s := startServer(t, "", "--demo")
	b := newBrowser(t, s)
	b.signIn("admin", "opentrail")
	// The demo's history is written at start-up; wait for its burst.
	deadline := time.Now().Add(60 * time.Second)
	for {
		b.open("/dashboards/overview")
		if n := get(b, "failed-login bars", chromedp.Evaluate[int](`document.querySelectorAll('a[href="/dashboards/cis"]').length`)); n == 0 {
			t.Fatal("the overview has no link to the CIS dashboard")
		}
		b.run("click 1: the CIS dashboard", chromedp.Click(chromedp.CSS(`.actions a[href="/dashboards/cis"]`)), chromedp.WaitVisible(chromedp.CSS("#failed-logins")))
		n := get(b, "failed-login bars", chromedp.Evaluate[int](`document.querySelectorAll("#failed-logins svg a").length`))
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			b.screenshot("demo-cis-empty")
			t.Fatal("the demo's CIS dashboard shows no failed console logins after 60 s")
		}
		time.Sleep(2 * time.Second)
	}
	b.screenshot("demo-cis")
	// Click 2: the tallest bar of failed logins over time.
	b.run("mark the spike", chromedp.Evaluate[chromedp.Void](`(() => {
		let best = null, h = -1;
		for (const a of document.querySelectorAll("#failed-logins svg a")) {
			const r = a.querySelector("rect"); const rh = r ? parseFloat(r.getAttribute("height")) : 0;
			if (rh > h) { h = rh; best = a; }
		}
		best.setAttribute("id", "spike");
	})()`))
	b.run("click 2: the spike", chromedp.Click(chromedp.CSS("#spike rect")), chromedp.WaitVisible(chromedp.CSS("table tbody tr")))
	if p := b.path(); !strings.HasPrefix(p, "/events?") {
		t.Fatalf("the spike opened %s, want the event history", p)
	}
	rows := get(b, "spike rows", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("table tbody tr")).map(r => r.innerText)`))
	if len(rows) < 5 {
		t.Fatalf("the demo's spike lists %d events, want its burst of failed sign-ins", len(rows))
	}
	for _, r := range rows {
		if !strings.Contains(r, "ConsoleLogin") || !strings.Contains(r, "Failed sign-in") {
			t.Errorf("row %q is not a failed ConsoleLogin", r)
		}
	}
	b.screenshot("demo-spike-events")
	// Click 3: the first event.
	b.run("click 3: an event", chromedp.Click(chromedp.CSS("table tbody tr a")), chromedp.WaitVisible(chromedp.CSS("pre")))
	if got := b.text("pre"); !strings.Contains(got, `"eventName": "ConsoleLogin"`) || !strings.Contains(got, "Failed authentication") {
		t.Errorf("the event page's record: %q", got)
	}
	b.screenshot("demo-event")
}
