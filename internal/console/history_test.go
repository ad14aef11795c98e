package console

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// histNow is the test console's clock.
var histNow = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

const (
	acctA = "111111111111" // alice's (the management account: she sees all)
	acctB = "222222222222" // bob's
)

// hev is one test event.
type hev struct {
	id, account, user, name, source, ip, errorCode, login, category, region, key, readOnly string
	ago                                                                                    time.Duration
	resources                                                                              []map[string]string
}

func (h hev) raw() []byte {
	m := map[string]any{
		"eventVersion": "1.09", "eventID": h.id, "eventTime": histNow.Add(-h.ago).Format(time.RFC3339),
		"eventSource": h.source, "eventName": h.name, "awsRegion": "us-east-1", "sourceIPAddress": h.ip,
		"userAgent": "aws-cli/2.15.0", "requestParameters": nil, "responseElements": nil, "requestID": "req-" + h.id,
		"eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": h.account, "eventCategory": "Management",
		"userIdentity": map[string]any{"type": "IAMUser", "principalId": "AIDA" + strings.ToUpper(h.user), "arn": "arn:aws:iam::" + h.account + ":user/" + h.user,
			"accountId": h.account, "userName": h.user, "accessKeyId": h.key},
		"readOnly": h.readOnly == "true",
	}
	if h.region != "" {
		m["awsRegion"] = h.region
	}
	if h.category != "" {
		m["eventCategory"] = h.category
		m["managementEvent"] = h.category == "Management"
	}
	if h.errorCode != "" {
		m["errorCode"], m["errorMessage"] = h.errorCode, "User is not authorized to perform this operation"
	}
	if h.login != "" {
		m["responseElements"] = map[string]string{"ConsoleLogin": h.login}
		m["additionalEventData"] = map[string]string{"MFAUsed": "No"}
	}
	if h.resources != nil {
		m["resources"] = h.resources
	}
	b, _ := json.Marshal(m)
	return b
}

// histEvents are the seeded events, newest first within the named ones;
// 120 fillers by user "filler" are older than all but e8.
var histEvents = []hev{
	{id: "e0", account: acctA, user: "alice", name: "ConsoleLogin", source: "signin.amazonaws.com", ip: "203.0.113.5", login: "Failure", readOnly: "false", ago: 0},
	{id: "e1", account: acctA, user: "alice", name: "ConsoleLogin", source: "signin.amazonaws.com", ip: "203.0.113.5", login: "Success", readOnly: "false", ago: time.Minute},
	{id: "e2", account: acctA, user: "carol", name: "PutBucketPolicy", source: "s3.amazonaws.com", ip: "198.51.100.1", key: "AKIACAROL", readOnly: "false", ago: 2 * time.Minute,
		resources: []map[string]string{{"ARN": "arn:aws:s3:::logs-bucket", "type": "AWS::S3::Bucket"}}},
	{id: "e3", account: acctA, user: "carol", name: "GetObject", source: "s3.amazonaws.com", ip: "198.51.100.1", key: "AKIACAROL", readOnly: "true", category: "Data", ago: 3 * time.Minute,
		resources: []map[string]string{{"ARN": "arn:aws:s3:::logs-bucket/audit/key.json", "type": "AWS::S3::Object"}}},
	{id: "e4", account: acctA, user: "dave", name: "DeleteTrail", source: "cloudtrail.amazonaws.com", ip: "198.51.100.66", errorCode: "AccessDenied", readOnly: "false", region: "eu-west-1", ago: 4 * time.Minute},
	{id: "e5", account: acctB, user: "bob", name: "DescribeInstances", source: "ec2.amazonaws.com", ip: "192.0.2.44", readOnly: "true", ago: 5 * time.Minute},
	{id: "e6", account: acctB, user: "bob", name: "TerminateInstances", source: "ec2.amazonaws.com", ip: "192.0.2.44", errorCode: "UnauthorizedOperation", readOnly: "false", ago: 6 * time.Minute},
	{id: "e7", account: acctA, user: "insights", name: "AttachRolePolicy", source: "iam.amazonaws.com", ip: "198.51.100.9", category: "Insight", readOnly: "true", ago: 7 * time.Minute},
	{id: "e9", account: acctA, user: "agg", name: "GetObject", source: "s3.amazonaws.com", ip: "198.51.100.9", category: "Aggregated", readOnly: "true", ago: 8 * time.Minute},
	{id: "e10", account: acctB, user: "=SUM(1)", name: "ListUsers", source: "iam.amazonaws.com", ip: "192.0.2.44", readOnly: "true", ago: 9 * time.Minute},
	{id: "e8", account: acctA, user: "alice", name: "ListBuckets", source: "s3.amazonaws.com", ip: "203.0.113.5", readOnly: "true", ago: 72 * time.Hour},
}

// historyConsole is a console over a real store holding histEvents and
// the fillers; raws maps each eventID to its bytes as sent.
func historyConsole(t *testing.T, deps HistoryDeps) (*Console, map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	all := slices.Clone(histEvents)
	for i := range 120 {
		all = append(all, hev{id: fmt.Sprintf("f%03d", i), account: acctA, user: "filler", name: "DescribeRegions", source: "ec2.amazonaws.com",
			ip: "198.51.100.200", readOnly: "true", ago: 10*time.Minute + time.Duration(i)*time.Minute})
	}
	raws := map[string][]byte{}
	var recs []*event.Record
	for _, h := range all {
		raw := h.raw()
		raws[h.id] = raw
		r, err := event.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", h.id, err)
		}
		recs = append(recs, r)
	}
	if _, err := st.Append(ctx, recs, histNow); err != nil {
		t.Fatal(err)
	}
	deps.Events = st
	if deps.TokenKey == nil {
		deps.TokenKey = []byte("0123456789abcdef0123456789abcdef")
	}
	return newTestConsole(t, Config{History: deps, Clock: clock.NewFake(histNow)}), raws
}

var rowRE = regexp.MustCompile(`<tr data-href="/events/(\d{12})/([^"?]+)\?at=[^"]+">`)

// rowIDs are the eventIDs of a history page's rows, in order.
func rowIDs(body string) []string {
	var ids []string
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[2])
	}
	return ids
}

func TestHistoryFilters(t *testing.T) {
	c, _ := historyConsole(t, HistoryDeps{})
	alice := signedInAs(t, c, testUser("alice", acctA, true, true))
	bob := signedInAs(t, c, testUser("bob", acctB, false, false))
	dayAgo := func(d int) string { return histNow.Add(time.Duration(-d) * 24 * time.Hour).Format(time.RFC3339) }
	for _, tc := range []struct {
		who   *client
		query string
		want  string // eventIDs, newest first, space-separated
	}{
		{alice, "Username=carol", "e2 e3"},
		{alice, "EventName=ConsoleLogin", "e0 e1"},
		{alice, "Username=carol&EventName=PutBucketPolicy", "e2"},
		{alice, "Username=carol&Username=alice", ""},
		{alice, "EventSource=s3.amazonaws.com&Username=carol", "e2 e3"},
		{alice, "ResourceName=logs-bucket", "e2"},
		{alice, "ResourceName=arn:aws:s3:::logs-bucket/audit/key.json", "e3"},
		{alice, "ResourceType=AWS::S3::Object", "e3"},
		{alice, "AccessKeyId=AKIACAROL", "e2 e3"},
		{alice, "EventId=e4", "e4"},
		{alice, "ReadOnly=false", "e0 e1 e2 e4 e6"},
		{alice, "ReadOnly=true&Username=carol", "e3"},
		{alice, "SourceIPAddress=198.51.100.66", "e4"},
		{alice, "ErrorCode=AccessDenied", "e4"},
		{alice, "errors=1", "e0 e4 e6"},
		{alice, "errors=1&account=" + acctB, "e6"},
		{alice, "errors=1&EventName=ConsoleLogin", "e0"},
		{alice, "category=data", "e3"},
		{alice, "category=insight", "e7"},
		{alice, "category=aggregated", "e9"},
		{alice, "category=data&category=insight", "e3 e7"},
		{alice, "account=" + acctB, "e5 e6 e10"},
		{alice, "region=eu-west-1", "e4"},
		{alice, "Username=alice", "e0 e1 e8"},
		{alice, "Username=alice&range=1h", "e0 e1"},
		{alice, "Username=alice&range=7d", "e0 e1 e8"},
		{alice, "Username=alice&range=1h&start=" + dayAgo(4) + "&end=" + dayAgo(2), "e8"},
		{alice, "start=" + dayAgo(4) + "&end=" + dayAgo(2), "e8"},
		{alice, "q=accessdenied", "e4"},
		{alice, "q=LOGS-BUCKET", "e2 e3"},
		{alice, "q=logs-bucket&Username=carol&ReadOnly=false", "e2"},
		{bob, "", "e5 e6 e10"},
		{bob, "Username=carol", ""},
		{bob, "errors=1", "e6"},
		{bob, "q=s3.amazonaws.com", ""},
	} {
		resp, body := tc.who.get("/events?" + tc.query)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s /events?%s: %d\n%s", tc.who.session.User.Name, tc.query, resp.StatusCode, body)
			continue
		}
		if got := strings.Join(rowIDs(body), " "); got != tc.want {
			t.Errorf("%s /events?%s: rows %q, want %q", tc.who.session.User.Name, tc.query, got, tc.want)
		}
		if tc.want == "" && !strings.Contains(body, "No events match these filters") {
			t.Errorf("%s /events?%s: no empty state", tc.who.session.User.Name, tc.query)
		}
	}

	// The form shows the filters it was given.
	_, body := alice.get("/events?Username=carol&EventName=PutBucketPolicy&errors=1&category=data&range=24h&q=bucket")
	for _, want := range []string{`<option value="Username" selected>`, `value="carol"`, `<option value="EventName" selected>`, `value="PutBucketPolicy"`,
		`name="errors" value="1" checked`, `value="data" checked`, `<option value="24h" selected>`, `value="bucket"`,
		`href="/events.csv?EventName=PutBucketPolicy&amp;Username=carol&amp;category=data&amp;errors=1&amp;q=bucket&amp;range=24h"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the form lacks %s", want)
		}
	}
	// A filter's chip removes it.
	if !strings.Contains(body, `href="/events?EventName=PutBucketPolicy&amp;category=data&amp;errors=1&amp;q=bucket&amp;range=24h" aria-label="Remove filter User name carol"`) {
		t.Error("no chip removing the Username filter")
	}
	// Bob may not name another account.
	if resp, body := bob.get("/events?account=" + acctA); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "account "+acctB+" only") {
		t.Errorf("bob naming account A: %d\n%s", resp.StatusCode, body)
	}
}

// TestHistoryFormRedirects: the filter form's submission (k/v rows, empty
// fields) lands on the view's canonical, shareable URL.
func TestHistoryFormRedirects(t *testing.T) {
	c, _ := historyConsole(t, HistoryDeps{})
	alice := signedInAs(t, c, testUser("alice", acctA, true, true))
	resp, _ := alice.get("/events?k=Username&v=carol&k=EventName&v=+&k=SourceIPAddress&v=198.51.100.1&range=&start=&end=&ReadOnly=&region=&q=&after=x")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/events?SourceIPAddress=198.51.100.1&Username=carol" {
		t.Fatalf("form submission: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestHistoryPaging(t *testing.T) {
	c, _ := historyConsole(t, HistoryDeps{})
	alice := signedInAs(t, c, testUser("alice", acctA, true, true))
	path := "/events?Username=filler"
	var all []string
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		resp, body := alice.get(path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		ids := rowIDs(body)
		if want := []int{50, 50, 20}[pages]; len(ids) != want {
			t.Fatalf("page %d: %d rows, want %d", pages, len(ids), want)
		}
		all = append(all, ids...)
		path = ""
		if m := regexp.MustCompile(`id="next-page" href="([^"]+)"|href="([^"]+)" id="next-page"`).FindStringSubmatch(body); m != nil {
			path = html.UnescapeString(m[1] + m[2])
			if !strings.Contains(path, "Username=filler") || !strings.Contains(path, "after=") {
				t.Fatalf("next page link %q", path)
			}
		}
		if pages > 0 && !strings.Contains(body, `id="first-page"`) {
			t.Errorf("page %d has no link to the newest events", pages)
		}
	}
	if len(all) != 120 {
		t.Fatalf("%d events over the pages, want 120", len(all))
	}
	for i, id := range all {
		if want := fmt.Sprintf("f%03d", i); id != want {
			t.Fatalf("event %d is %s, want %s (newest first, each once)", i, id, want)
		}
	}
}

// TestHistoryBoundedScan: a filter the index cannot answer examines at most
// ScanLimit events per page, says how far it searched and continues from
// there; following the continuations finds every match once.
func TestHistoryBoundedScan(t *testing.T) {
	c, _ := historyConsole(t, HistoryDeps{ScanLimit: 30, ScanTime: time.Minute})
	alice := signedInAs(t, c, testUser("alice", acctA, true, true))
	path := "/events?q=198.51.100.1"
	var found []string
	partials := 0
	for n := 0; path != ""; n++ {
		if n > 10 {
			t.Fatal("the continuations do not end")
		}
		resp, body := alice.get(path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		found = append(found, rowIDs(body)...)
		path = ""
		if strings.Contains(body, `id="partial"`) {
			partials++
			if !strings.Contains(body, "Searched 30 events, back to ") {
				t.Fatalf("the partial note does not say how far it searched:\n%s", body)
			}
			m := regexp.MustCompile(`<a href="([^"]+)">Continue searching older events</a>`).FindStringSubmatch(body)
			if m == nil {
				t.Fatal("no continue link")
			}
			path = html.UnescapeString(m[1])
		}
	}
	// e2 and e3 have that source IP, among 131 events.
	if !slices.Equal(found, []string{"e2", "e3"}) {
		t.Fatalf("found %v, want [e2 e3]", found)
	}
	if partials == 0 {
		t.Fatal("no page stopped at the scan bound")
	}
	// Few matches in many candidates: the page stops at the bound.
	_, body := alice.get("/events?q=AccessDenied")
	if got := rowIDs(body); !slices.Equal(got, []string{"e4"}) || !strings.Contains(body, `id="partial"`) {
		t.Fatalf("q=AccessDenied: rows %v, partial note %v", got, strings.Contains(body, `id="partial"`))
	}
}

func TestHistoryBadInput(t *testing.T) {
	c, _ := historyConsole(t, HistoryDeps{})
	alice := signedInAs(t, c, testUser("alice", acctA, true, true))
	// A genuine token, altered.
	_, body := alice.get("/events?Username=filler")
	m := regexp.MustCompile(`after=([A-Za-z0-9_-]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no after token on the first page")
	}
	tok := []byte(m[1])
	tok[5] ^= 1
	for _, tc := range []struct{ query, want string }{
		{"start=yesterday", `The start time &#34;yesterday&#34; is not a time`},
		{"end=2026-13-01T00:00:00Z", "is not a time"},
		{"start=2026-12-05T10:00:00Z&end=2026-12-05T09:00:00Z", "is before the start time"},
		{"range=2w", "Unknown time range"},
		{"ReadOnly=maybe", "ReadOnly must be true or false"},
		{"category=network", "Unknown event category"},
		{"errors=yes", "errors must be 1"},
		{"account=12345", "12-digit"},
		{"after=not-a-token", "damaged"},
		{"Username=filler&after=" + string(tok), "damaged"},
	} {
		for _, p := range []string{"/events?", "/events.json?", "/events.csv?"} {
			resp, body := alice.get(p + tc.query)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Errorf("%s%s: %d, want 400 saying %q\n%s", p, tc.query, resp.StatusCode, tc.want, body)
			}
		}
	}
}

func TestHistoryDetail(t *testing.T) {
	c, raws := historyConsole(t, HistoryDeps{})
	alice := signedInAs(t, c, testUser("alice", acctA, true, true))
	bob := signedInAs(t, c, testUser("bob", acctB, false, false))
	resp, body := alice.get("/events/" + acctA + "/e2")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("detail: %d\n%s", resp.StatusCode, body)
	}
	var pretty bytes.Buffer
	json.Indent(&pretty, raws["e2"], "", "  ")
	for _, want := range []string{
		html.EscapeString(pretty.String()), // the record, pretty-printed
		`<dt>User name</dt><dd><a href="/events?Username=carol&amp;account=111111111111">carol</a></dd>`,
		`<dt>Source IP address</dt><dd><a href="/events?SourceIPAddress=198.51.100.1">198.51.100.1</a></dd>`,
		`<a href="/events?Username=carol&amp;account=111111111111">Other events by this principal</a>`,
		`<a href="/events?AccessKeyId=AKIACAROL&amp;account=111111111111">Other events with this access key</a>`,
		`<a href="/events?SourceIPAddress=198.51.100.1">Other events from this source IP</a>`,
		`<a href="/events?ResourceName=arn%3Aaws%3As3%3A%3A%3Alogs-bucket">Other events on this resource</a>`,
		`<td>AWS::S3::Bucket</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the detail page lacks %s", want)
		}
	}
	// The related links find what they say.
	_, body = alice.get("/events?Username=carol&account=" + acctA)
	if got := rowIDs(body); !slices.Equal(got, []string{"e2", "e3"}) {
		t.Errorf("other events by carol: %v", got)
	}
	// A failed sign-in says so.
	if _, body = alice.get("/events/" + acctA + "/e0"); !strings.Contains(body, `<span class="badge bad">failed</span>`) || !strings.Contains(body, "<dt>Sign-in</dt><dd>Failure</dd>") {
		t.Error("the failed sign-in's page does not say it failed")
	}
	for _, tc := range []struct {
		who  *client
		path string
	}{
		{bob, "/events/" + acctA + "/e2"},   // another tenant's event
		{alice, "/events/" + acctB + "/e2"}, // the wrong account
		{alice, "/events/" + acctA + "/nope"},
		{alice, "/events/not-an-account/e2"},
	} {
		if resp, body := tc.who.get(tc.path); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "Event not found") {
			t.Errorf("%s %s: %d", tc.who.session.User.Name, tc.path, resp.StatusCode)
		}
	}
	if resp, _ := bob.get("/events/" + acctB + "/e5"); resp.StatusCode != http.StatusOK {
		t.Errorf("bob's own event: %d", resp.StatusCode)
	}
	// The list's time hint finds the event; a wrong or bad one still does.
	e5at := histNow.Add(-5 * time.Minute).Format(time.RFC3339)
	for _, at := range []string{e5at, "2020-01-01T00:00:00Z", "garbage"} {
		if resp, body := bob.get("/events/" + acctB + "/e5?at=" + at); resp.StatusCode != http.StatusOK || !strings.Contains(body, "<dt>Event ID</dt><dd>e5</dd>") {
			t.Errorf("e5 with at=%s: %d", at, resp.StatusCode)
		}
	}
	if _, body := bob.get("/events?Username=bob"); !strings.Contains(body, `href="/events/`+acctB+`/e5?at=`+e5at+`"`) {
		t.Error("the list's links carry no time hint")
	}
}

func TestHistoryDownloads(t *testing.T) {
	c, raws := historyConsole(t, HistoryDeps{DownloadLimit: 100})
	alice := signedInAs(t, c, testUser("alice", acctA, true, true))
	bob := signedInAs(t, c, testUser("bob", acctB, false, false))

	resp, body := alice.get("/events.json?Username=carol")
	want := `{"Records":[` + string(raws["e2"]) + `,` + string(raws["e3"]) + "]}\n"
	if resp.StatusCode != http.StatusOK || body != want {
		t.Fatalf("JSON download: %d\n%s\nwant\n%s", resp.StatusCode, body, want)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="opentrail-events-`) || !strings.HasSuffix(cd, `.json"`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	if resp.Header.Get("X-Opentrail-Row-Limit") != "100" || resp.Trailer.Get("X-Opentrail-Truncated") != "" {
		t.Errorf("limit header %q, truncated trailer %q", resp.Header.Get("X-Opentrail-Row-Limit"), resp.Trailer.Get("X-Opentrail-Truncated"))
	}
	// Post-filtered and empty results.
	if _, body := alice.get("/events.json?errors=1&account=" + acctB); body != `{"Records":[`+string(raws["e6"])+"]}\n" {
		t.Errorf("errors=1 download: %s", body)
	}
	if _, body := alice.get("/events.json?Username=nobody"); body != "{\"Records\":[]}\n" {
		t.Errorf("empty download: %s", body)
	}

	// The limit: 120 fillers, 100 given, the rest continued by After.
	resp, body = alice.get("/events.json?Username=filler")
	var got struct {
		Records   []json.RawMessage
		Truncated bool
		After     string
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Records) != 100 || !got.Truncated || got.After == "" || resp.Trailer.Get("X-Opentrail-Truncated") != "true" {
		t.Fatalf("capped download: %d records, truncated %v, after %q, trailer %q", len(got.Records), got.Truncated, got.After, resp.Trailer.Get("X-Opentrail-Truncated"))
	}
	_, body = alice.get("/events.json?Username=filler&after=" + url.QueryEscape(got.After))
	var rest struct{ Records []json.RawMessage }
	json.Unmarshal([]byte(body), &rest)
	if len(rest.Records) != 20 || !bytes.Equal(rest.Records[0], raws["f100"]) {
		t.Fatalf("the rest: %d records", len(rest.Records))
	}

	// CSV: the console's columns, tenant-scoped, formulas defused.
	resp, body = bob.get("/events.csv")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], csvColumns) || len(rows) != 4 {
		t.Fatalf("CSV rows %v", rows)
	}
	wantRow := []string{"e6", histNow.Add(-6 * time.Minute).Format(time.RFC3339), "bob", "TerminateInstances", "ec2.amazonaws.com", "", "us-east-1", "192.0.2.44", "", "UnauthorizedOperation", "false", "Management", acctB}
	if !slices.Equal(rows[2], wantRow) {
		t.Errorf("CSV row\n%q\nwant\n%q", rows[2], wantRow)
	}
	if rows[3][0] != "e10" || rows[3][2] != "'=SUM(1)" {
		t.Errorf("formula cell: %q", rows[3][2])
	}
	_, body = alice.get("/events.csv?Username=carol&EventName=PutBucketPolicy")
	rows, _ = csv.NewReader(strings.NewReader(body)).ReadAll()
	if len(rows) != 2 || rows[1][5] != `[{"ResourceType":"AWS::S3::Bucket","ResourceName":"arn:aws:s3:::logs-bucket"}]` {
		t.Errorf("CSV resources: %q", rows)
	}
}

// TestHistoryFromColumnarTier: once the events are compacted, the list
// pages (which read brief events from the columnar files) are the same
// pages, failures, resources and next-page links included.
func TestHistoryFromColumnarTier(t *testing.T) {
	c, _ := historyConsole(t, HistoryDeps{})
	alice := signedInAs(t, c, testUser("alice", acctA, true, true))
	views := []string{"", "errors=1", "Username=carol", "ResourceType=AWS::S3::Object", "EventName=ConsoleLogin", "account=" + acctB, "range=7d", "Username=filler"}
	// The pages differ only in the time they took.
	took := regexp.MustCompile(` · [0-9.]+(ns|µs|ms|s)<`)
	page := func(v string) (int, string) {
		resp, body := alice.get("/events?" + v)
		return resp.StatusCode, took.ReplaceAllString(body, "<")
	}
	before := map[string]string{}
	for _, v := range views {
		_, before[v] = page(v)
	}
	st := c.cfg.History.Events.(*store.Store)
	if _, err := st.Compact(context.Background(), st.LastSeq()); err != nil {
		t.Fatal(err)
	}
	if st.ColdThrough() != st.LastSeq() {
		t.Fatal("the events were not compacted")
	}
	for _, v := range views {
		code, body := page(v)
		if code != http.StatusOK || body != before[v] {
			t.Errorf("/events?%s from the columnar tier: %d, rows %q; before: rows %q; %s", v, code, rowIDs(body), rowIDs(before[v]), firstDiff(body, before[v]))
		}
	}
	if !strings.Contains(before["errors=1"], "Failed sign-in") || !strings.Contains(before[""], "logs-bucket") {
		t.Fatal("the pages compared show no failed sign-in or resource")
	}
}
