package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/dashboards"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/geoip"
	"github.com/opentrail/opentrail/internal/geoip/geoiptest"
	"github.com/opentrail/opentrail/internal/store"
)

// dashNow is the fake clock's time in the dashboard tests: the 24h range
// is 2026-12-04T11:00Z – 2026-12-05T11:00Z in hours.
var dashNow = time.Date(2026, 12, 5, 10, 30, 0, 0, time.UTC)

type rec map[string]any

func iamUserRec(acct, name string) rec {
	return rec{"type": "IAMUser", "principalId": "AIDA" + strings.ToUpper(name), "arn": "arn:aws:iam::" + acct + ":user/" + name, "accountId": acct, "userName": name}
}

// mk builds a record of account acct at t.
func mk(i int, acct string, t time.Time, name, source string, ident rec, extra rec) []byte {
	m := rec{"eventVersion": "1.09", "userIdentity": ident, "eventTime": t.UTC().Format(time.RFC3339), "eventSource": source, "eventName": name,
		"awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.9", "userAgent": "aws-cli/2", "requestID": fmt.Sprint("r", i),
		"eventID": fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
		"recipientAccountId": acct, "eventCategory": "Management"}
	for k, v := range extra {
		m[k] = v
		if v == nil { // nil leaves the field out
			delete(m, k)
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// dashFixture is a day of activity in two accounts: a failed-login burst
// at 09:00–10:00 in account 111111111111, a login without MFA, root use,
// refused calls, a KMS key scheduled for deletion, IAM and security-group
// changes; and account 222222222222's events, which its neighbour must
// never see.
func dashFixture(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st := emptyStore(t)
	if _, err := st.Append(ctx, dashRecords(t), dashNow); err != nil {
		t.Fatal(err)
	}
	return st
}

// dashRecords are dashFixture's records.
func dashRecords(t *testing.T) []*event.Record {
	t.Helper()
	const a, b = "111111111111", "222222222222"
	var raws [][]byte
	i := 0
	add := func(acct string, at time.Time, name, source string, ident rec, extra rec) {
		raws = append(raws, mk(i, acct, at, name, source, ident, extra))
		i++
	}
	alice, mallory := iamUserRec(a, "alice"), iamUserRec(a, "mallory")
	base := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for h := range 22 {
		add(a, base.Add(time.Duration(h)*time.Hour+5*time.Minute), "DescribeInstances", "ec2.amazonaws.com", alice, rec{"readOnly": true})
	}
	// One failed login at 14:xx, then a burst of 12 at 09:xx.
	failed := rec{"errorMessage": "Failed authentication", "responseElements": rec{"ConsoleLogin": "Failure"}, "additionalEventData": rec{"MFAUsed": "No"}, "sourceIPAddress": "81.2.69.142"}
	add(a, time.Date(2026, 12, 4, 14, 10, 0, 0, time.UTC), "ConsoleLogin", "signin.amazonaws.com", mallory, failed)
	for k := range 12 {
		f := rec{}
		for kk, vv := range failed {
			f[kk] = vv
		}
		if k%3 == 0 {
			f["sourceIPAddress"] = "203.0.113.7"
		}
		add(a, time.Date(2026, 12, 5, 9, k, 0, 0, time.UTC), "ConsoleLogin", "signin.amazonaws.com", mallory, f)
	}
	add(a, time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC), "ConsoleLogin", "signin.amazonaws.com", alice,
		rec{"responseElements": rec{"ConsoleLogin": "Success"}, "additionalEventData": rec{"MFAUsed": "No"}})
	add(a, time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC), "ConsoleLogin", "signin.amazonaws.com",
		rec{"type": "Root", "principalId": a, "arn": "arn:aws:iam::" + a + ":root", "accountId": a},
		rec{"responseElements": rec{"ConsoleLogin": "Success"}, "additionalEventData": rec{"MFAUsed": "Yes"}})
	add(a, time.Date(2026, 12, 5, 7, 30, 0, 0, time.UTC), "RunInstances", "ec2.amazonaws.com", mallory, rec{"errorCode": "Client.UnauthorizedOperation", "errorMessage": "no"})
	add(a, time.Date(2026, 12, 5, 7, 31, 0, 0, time.UTC), "GetObject", "s3.amazonaws.com", mallory, rec{"errorCode": "AccessDenied", "errorMessage": "no"})
	add(a, time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC), "ScheduleKeyDeletion", "kms.amazonaws.com", mallory, rec{"requestParameters": rec{"keyId": "arn:aws:kms:us-east-1:111111111111:key/1234abcd"}})
	add(a, time.Date(2026, 12, 5, 6, 10, 0, 0, time.UTC), "AttachRolePolicy", "iam.amazonaws.com", alice, nil)
	add(a, time.Date(2026, 12, 5, 6, 11, 0, 0, time.UTC), "AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", alice, nil)
	for k := range 5 {
		add(b, time.Date(2026, 12, 5, 9, k, 0, 0, time.UTC), "ConsoleLogin", "signin.amazonaws.com", iamUserRec(b, "bobsecret"), failed)
	}
	add(b, time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC), "DisableKey", "kms.amazonaws.com", iamUserRec(b, "bobsecret"), nil)
	return parseAll(t, raws)
}

func dashConsole(t *testing.T, st *store.Store, geo *geoip.DB) *Console {
	t.Helper()
	saved, err := dashboards.Open(context.Background(), st.DB())
	if err != nil {
		t.Fatal(err)
	}
	return newTestConsole(t, Config{Clock: clock.NewFake(dashNow), Dashboards: DashboardDeps{Events: StoreQuerier(st), Saved: saved, GeoIP: geo}})
}

func section(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no panel %s in\n%s", id, body)
	}
	j := strings.Index(body[i:], "</section>")
	return body[i : i+j]
}

func TestCISDashboard(t *testing.T) {
	st := dashFixture(t)
	geoPath := filepath.Join(t.TempDir(), "city.mmdb")
	if err := geoiptest.Write(geoPath, map[string]geoiptest.Place{"81.2.69.0/24": {ISOCode: "GB", Country: "United Kingdom", City: "London"}}); err != nil {
		t.Fatal(err)
	}
	geo, err := geoip.Open(geoPath)
	if err != nil {
		t.Fatal(err)
	}
	defer geo.Close()
	c := dashConsole(t, st, geo)
	bob := signedInAs(t, c, testUser("bob", "111111111111", false, false)) // an account user
	resp, body := bob.get("/dashboards/cis")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	if strings.Contains(body, "bobsecret") || strings.Contains(body, ">DisableKey</a>") {
		t.Error("another account's events are shown")
	}
	if strings.Contains(body, `class="error"`) {
		t.Errorf("a panel failed:\n%s", body)
	}
	// The spike bar links to exactly its hour of failed logins.
	spike := `<a href="/events?EventName=ConsoleLogin&amp;end=2026-12-05T10%3A00%3A00Z&amp;errors=1&amp;start=2026-12-05T09%3A00%3A00Z"><rect class="bar"`
	fl := section(t, body, "failed-logins")
	if !strings.Contains(fl, spike) || !strings.Contains(fl, "2026-12-05 09:00–10:00 UTC: 12 failed logins") {
		t.Errorf("failed-logins panel lacks the spike bar:\n%s", fl)
	}
	// The outlier view marks that hour, and only it.
	out := section(t, body, "failed-login-outliers")
	if n := strings.Count(out, `class="marked"`); n != 1 || !strings.Contains(out, "09:00–10:00 UTC: 12 failed logins (outlier)") {
		t.Errorf("outliers: %d marked\n%s", n, out)
	}
	for id, want := range map[string][]string{
		"failed-logins-by-user":     {"mallory: 13 failed logins", "Username=mallory"},
		"failed-logins-by-location": {"London, United Kingdom", "Unknown", "81.2.69.142", "203.0.113.7"},
		"logins-without-mfa":        {"alice: 1 logins"},
		"root-usage":                {"Console logins, 2026-12-05 07:00–08:00 UTC: 1 calls", "Username=root"},
		"unauthorized-over-time":    {"Client.UnauthorizedOperation", "AccessDenied"},
		"unauthorized-by-user":      {"ErrorCode=AccessDenied", "Username=mallory"},
		"kms-keys":                  {"ScheduleKeyDeletion", "1234abcd", "/events/111111111111/00000000-0000-4000-8000-"},
		"iam-policy-changes":        {"AttachRolePolicy", "Username=alice"},
		"security-group-changes":    {"AuthorizeSecurityGroupIngress"},
		"vpc-changes":               {"No VPC changes in this range."},
		"s3-bucket-policy-changes":  {"No S3 bucket policy changes"},
		"cloudtrail-config-changes": {"No CloudTrail configuration changes"},
		"config-changes":            {"No"},
		"network-gateway-changes":   {"No"},
		"route-table-changes":       {"No"},
		"nacl-changes":              {"No"},
	} {
		sec := section(t, body, id)
		for _, w := range want {
			if !strings.Contains(sec, w) {
				t.Errorf("panel %s lacks %q:\n%s", id, w, sec)
			}
		}
	}
	// KPIs.
	if !strings.Contains(body, `<div class="value">13</div><div class="label">Failed console logins</div>`) {
		t.Errorf("KPI of failed logins missing")
	}
	// The management account's user sees both accounts.
	alice := signedInAs(t, c, testUser("alice", "111111111111", true, true))
	_, all := alice.get("/dashboards/cis")
	if !strings.Contains(all, "bobsecret") || !strings.Contains(all, ">DisableKey</a>") {
		t.Error("the management account's user does not see every account")
	}
}

func TestCISDashboardWithoutGeoIP(t *testing.T) {
	c := dashConsole(t, dashFixture(t), nil)
	cl := signedInAs(t, c, testUser("bob", "111111111111", false, false))
	_, body := cl.get("/dashboards/cis?range=7d")
	if !strings.Contains(section(t, body, "failed-logins-by-location"), "No GeoIP database configured — set console.geoip_database to a MaxMind .mmdb file") {
		t.Error("the location panel does not say that no GeoIP database is configured")
	}
}

func TestOverview(t *testing.T) {
	c := dashConsole(t, dashFixture(t), nil)
	cl := signedInAs(t, c, testUser("bob", "111111111111", false, false))
	resp, body := cl.get("/dashboards/overview?range=24h")
	if resp.StatusCode != http.StatusOK || strings.Contains(body, `class="error"`) {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	for id, want := range map[string][]string{
		"by-category":    {"Management, 2026-12-05 09:00–10:00 UTC: 13 events", "category=management"},
		"error-rate":     {"polyline", "errors=1"},
		"top-sources":    {"signin.amazonaws.com", "EventSource=ec2.amazonaws.com"},
		"top-names":      {"DescribeInstances", "EventName=ConsoleLogin"},
		"top-principals": {"mallory", "Username=alice", "root"},
		"top-ips":        {"81.2.69.142", "SourceIPAddress=203.0.113.7"},
		"top-errors":     {"AccessDenied", "ErrorCode=Client.UnauthorizedOperation"},
		"read-write":     {"Read-only", "ReadOnly=true"},
	} {
		sec := section(t, body, id)
		for _, w := range want {
			if !strings.Contains(sec, w) {
				t.Errorf("panel %s lacks %q:\n%s", id, w, sec)
			}
		}
	}
	if strings.Contains(body, "bobsecret") {
		t.Error("another account's events are shown")
	}
	// An empty range says so.
	_, empty := cl.get("/dashboards/overview?start=2020-01-01T00:00:00Z&end=2020-01-02T00:00:00Z")
	if !strings.Contains(empty, "No events in this range.") {
		t.Error("no empty state on an empty range")
	}
	// A bad range is an error page that says what to do.
	resp, bad := cl.get("/dashboards/overview?range=5y")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(bad, "is not one of 1h, 3h, 12h, 24h, 7d, 30d") {
		t.Errorf("bad range: %d", resp.StatusCode)
	}
}

func TestParseWindow(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 30, 0, 0, time.UTC)
	for q, want := range map[string]string{
		"":          "2026-12-04T11:00:00Z 2026-12-05T11:00:00Z 1h0m0s",
		"range=1h":  "2026-12-05T09:31:00Z 2026-12-05T10:31:00Z 1m0s",
		"range=7d":  "2026-11-28T12:00:00Z 2026-12-05T12:00:00Z 3h0m0s",
		"range=30d": "2026-11-06T00:00:00Z 2026-12-06T00:00:00Z 24h0m0s",
		"start=2026-12-05T09:10:00Z&end=2026-12-05T09:50:00Z": "2026-12-05T09:10:00Z 2026-12-05T09:50:00Z 1m0s",
		"start=2026-12-01T00:00&end=2026-12-05T00:00":         "2026-12-01T00:00:00Z 2026-12-05T00:00:00Z 3h0m0s",
	} {
		v, _ := url.ParseQuery(q)
		w, err := parseWindow(v, now)
		if err != nil {
			t.Errorf("%q: %v", q, err)
			continue
		}
		if got := w.Start.Format(time.RFC3339) + " " + w.End.Format(time.RFC3339) + " " + w.Step.String(); got != want {
			t.Errorf("%q: %s, want %s", q, got, want)
		}
	}
	for _, q := range []string{"range=2h", "start=yesterday", "start=2026-12-05T10:00:00Z&end=2026-12-05T09:00:00Z", "start=2020-01-01T00:00:00Z"} {
		v, _ := url.ParseQuery(q)
		if _, err := parseWindow(v, now); err == nil {
			t.Errorf("%q accepted", q)
		}
	}
}

func TestSavedDashboards(t *testing.T) {
	c := dashConsole(t, dashFixture(t), nil)
	bob := signedInAs(t, c, testUser("bob", "111111111111", false, false))
	_, list := bob.get("/dashboards")
	if !strings.Contains(list, "No saved dashboards yet") || !strings.Contains(list, `href="/dashboards/cis"`) {
		t.Fatalf("list:\n%s", list)
	}
	resp, form := bob.get("/dashboards/new")
	if resp.StatusCode != http.StatusOK || !strings.Contains(form, "$StartTime$") {
		t.Fatalf("form: %d", resp.StatusCode)
	}
	// A query that cannot run is refused with the reason, and nothing is saved.
	bad := url.Values{"title": {"Mine"}, "w0.title": {"Drop"}, "w0.sql": {"DELETE FROM cloudtrail_events"}, "w0.chart": {"table"},
		"w1.title": {"Nope"}, "w1.sql": {"SELECT nosuchcolumn FROM cloudtrail_events"}, "w1.chart": {"topn"}}
	resp, body := bob.post("/dashboards/new", bad)
	if resp.StatusCode != http.StatusBadRequest || strings.Count(body, "The query cannot run") != 2 || !strings.Contains(body, "DELETE FROM cloudtrail_events") {
		t.Fatalf("bad query: %d\n%s", resp.StatusCode, body)
	}
	good := url.Values{"title": {"Callers <b>"},
		"w0.title": {"Failed calls by user"}, "w0.chart": {"topn"}, "w0.link": {"Username"}, "w0.filters": {"errors=1"},
		"w0.sql":   {"SELECT userIdentity.userName, count(*) FROM cloudtrail_events WHERE errorCode IS NOT NULL AND eventTime >= $StartTime$ AND eventTime < $EndTime$ GROUP BY 1 ORDER BY 2 DESC"},
		"w1.title": {"Calls per hour"}, "w1.chart": {"bar"}, "w1.link": {"EventSource"},
		"w1.sql": {"SELECT date_trunc('hour', eventTime), eventSource, count(*) FROM cloudtrail_events WHERE eventTime >= $StartTime$ GROUP BY 1, 2"}}
	resp, body = bob.post("/dashboards/new", good)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	if !regexp.MustCompile(`^/dashboards/d-[0-9a-f]{16}$`).MatchString(loc) {
		t.Fatalf("redirected to %q", loc)
	}
	resp, body = bob.get(loc)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Callers &lt;b&gt;") {
		t.Fatalf("saved dashboard: %d\n%s", resp.StatusCode, body)
	}
	w1 := section(t, body, "widget-1")
	if !strings.Contains(w1, "mallory: 2") || !strings.Contains(w1, "errors=1") || !strings.Contains(w1, "Username=mallory") {
		t.Errorf("widget 1:\n%s", w1)
	}
	w2 := section(t, body, "widget-2")
	if !strings.Contains(w2, "signin.amazonaws.com, 2026-12-05 09:00–10:00 UTC: 12") || !strings.Contains(w2, "EventSource=signin.amazonaws.com") {
		t.Errorf("widget 2:\n%s", w2)
	}
	_, list = bob.get("/dashboards")
	if !strings.Contains(list, loc) {
		t.Error("the saved dashboard is not listed")
	}
	// Another account's user neither sees nor deletes it.
	carol := signedInAs(t, c, testUser("carol", "333333333333", false, false))
	if resp, _ := carol.get(loc); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another account opened it: %d", resp.StatusCode)
	}
	if resp, _ := carol.post(loc+"/delete", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another account deleted it: %d", resp.StatusCode)
	}
	if resp, _ := bob.post(loc+"/delete", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("delete: %d", resp.StatusCode)
	}
	if resp, _ := bob.get(loc); resp.StatusCode != http.StatusNotFound {
		t.Errorf("deleted dashboard still there: %d", resp.StatusCode)
	}
}

// parseAll parses test records.
func parseAll(t *testing.T, raws [][]byte) []*event.Record {
	t.Helper()
	recs := make([]*event.Record, 0, len(raws))
	for _, r := range raws {
		p, err := event.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, p)
	}
	return recs
}

// emptyStore is a new store closed when the test ends.
func emptyStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
