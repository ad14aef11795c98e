package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleFindings: a root sign-in without MFA raises a finding of the
// built-in rule pack; in the console the user finds it in the list, opens
// it (the rule, its author, the event behind it), acknowledges it and sees
// the new state and the history entry with their name; a suppression
// without a reason is refused.
func TestConsoleFindings(t *testing.T) {
	s := startServer(t, "")
	b := newBrowser(t, s)
	b.signIn("admin", "opentrail")
	b.open("/findings")
	if got := b.text("main"); !strings.Contains(got, "No open findings") {
		t.Errorf("/findings before any finding does not say it is empty: %q", got)
	}
	b.screenshot("findings-empty")

	const eventID = "c0ffee00-0000-4000-8000-000000000001"
	rec := fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":{"type":"Root","principalId":"000000000000","arn":"arn:aws:iam::000000000000:root","accountId":"000000000000"},`+
		`"eventTime":"%s","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7",`+
		`"userAgent":"Mozilla/5.0","requestParameters":null,"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No","LoginTo":"https://console.aws.amazon.com/"},`+
		`"eventID":"%s","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"000000000000","eventCategory":"Management"}`,
		time.Now().UTC().Add(-10*time.Minute).Format(time.RFC3339), eventID)
	if n, _ := s.postEvents(t, "test", [][]byte{[]byte(rec)}); n != 1 {
		t.Fatalf("posted %d records", n)
	}
	// The Sigma detector reads the committed stream; wait for its finding.
	id := ""
	for deadline := time.Now().Add(20 * time.Second); id == "" && time.Now().Before(deadline); {
		id = findingOf(t, s, "12124ad8-7c4a-4735-96e3-85ccddbd3dfd")
		if id == "" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if id == "" {
		t.Fatal("no finding of the rule pack's 'Root console sign-in without MFA' after a root sign-in without MFA")
	}

	b.open("/findings?severity=high&detector=sigma")
	row := b.text("table.findings tbody")
	if !strings.Contains(row, "Root console sign-in without MFA") || !strings.Contains(row, "high") || !strings.Contains(row, "new") {
		t.Fatalf("the findings list does not show the finding: %q", row)
	}
	b.screenshot("findings-list")
	b.run("open the finding", chromedp.Click(chromedp.CSS(`table.findings a[href="/findings/`+id+`"]`)), chromedp.WaitVisible(chromedp.CSS("#finding-title")))
	if p := b.path(); p != "/findings/"+id {
		t.Fatalf("clicking the finding went to %s", p)
	}
	if got := b.text("#rule-author"); got != "opentrail" {
		t.Errorf("the rule's author is %q, want opentrail", got)
	}
	if got := b.text("#rule"); !strings.Contains(got, "12124ad8-7c4a-4735-96e3-85ccddbd3dfd") || !strings.Contains(got, "without multi-factor authentication") {
		t.Errorf("the rule section does not show the rule's id and description: %q", got)
	}
	href := get(b, "event link", chromedp.AttributeValue(chromedp.CSS("#finding-events a"), "href")).Value
	if href != "/events/000000000000/"+eventID {
		t.Errorf("the event behind the finding links to %q", href)
	}
	b.screenshot("finding-new")

	// A suppression needs a reason: the browser will not send the form
	// empty (required), and the server refuses it too.
	code, body := postForm(t, b, "/findings/"+id+"/state", "state=suppressed&reason=")
	if code != http.StatusBadRequest || !strings.Contains(body, "needs a reason") {
		t.Errorf("suppress without a reason: %d", code)
	}

	b.run("acknowledge", chromedp.Click(chromedp.CSS("#set-acknowledged")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := b.text("#finding-state"); got != "acknowledged" {
		t.Fatalf("state after acknowledging: %q", got)
	}
	hist := b.text("#state-history tbody tr")
	if !strings.Contains(hist, "new") || !strings.Contains(hist, "acknowledged") || !strings.Contains(hist, "admin") {
		t.Errorf("the newest history entry is %q, want new → acknowledged by admin", hist)
	}
	b.screenshot("finding-acknowledged")
	// The API sees the change, made by the console user.
	if st := findingState(t, s, id); st != "acknowledged" {
		t.Errorf("GET /v1/findings/%s: state %q", id, st)
	}
	// An acknowledged finding is still open; resolved ones are not listed
	// by default.
	b.run("resolve", chromedp.Click(chromedp.CSS("#set-resolved")), chromedp.WaitVisible(chromedp.CSS("#set-acknowledged")))
	b.open("/findings")
	if got := b.text("main"); strings.Contains(got, "Root console sign-in without MFA") {
		t.Errorf("a resolved finding is in the default (open) list")
	}
	b.open("/findings?state=resolved")
	if got := b.text("main"); !strings.Contains(got, "Root console sign-in without MFA") {
		t.Errorf("the resolved finding is not in ?state=resolved")
	}
}

// findingOf returns the id of the newest finding of rule ("" if none).
func findingOf(t *testing.T, s *server, rule string) string {
	t.Helper()
	req := signedRequest(t, creds("test"), "opentrail", "us-east-1", "GET", s.url+"/v1/findings?rule="+rule, nil, nil)
	code, out, _ := do(t, req)
	if code != 200 {
		t.Fatalf("GET /v1/findings: %d %s", code, out)
	}
	var r struct{ Findings []struct{ ID string } }
	json.Unmarshal(out, &r)
	if len(r.Findings) == 0 {
		return ""
	}
	return r.Findings[0].ID
}

func findingState(t *testing.T, s *server, id string) string {
	t.Helper()
	req := signedRequest(t, creds("test"), "opentrail", "us-east-1", "GET", s.url+"/v1/findings/"+id, nil, nil)
	code, out, _ := do(t, req)
	if code != 200 {
		t.Fatalf("GET /v1/findings/%s: %d %s", id, code, out)
	}
	var r struct {
		Finding struct{ State, StateBy string }
	}
	json.Unmarshal(out, &r)
	return r.Finding.State
}

// postForm posts a form from the browser's page (its session cookie, its
// CSRF token) with fetch, returning the status and body.
func postForm(t *testing.T, b *browser, path, form string) (int, string) {
	t.Helper()
	js := fmt.Sprintf(`(async () => {
		const csrf = document.querySelector('input[name=csrf]').value;
		const r = await fetch(%q, {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: %q + '&csrf=' + encodeURIComponent(csrf), redirect: 'manual'});
		return [r.status, await r.text()];
	})()`, path, form)
	res := get(b, "POST "+path, chromedp.Evaluate[[]any](js, chromedp.EvalAwaitPromise))
	if len(res) != 2 {
		t.Fatalf("POST %s: %v", path, res)
	}
	code, _ := res[0].(float64)
	body, _ := res[1].(string)
	return int(code), body
}

// cloudWatch calls a CloudWatch operation (AWS JSON 1.0) as key "test" in
// us-east-1.
func cloudWatch(t *testing.T, s *server, op string, in any) []byte {
	t.Helper()
	return jsonCall(t, s, "monitoring", "GraniteServiceVersion20100801."+op, "1.0", in)
}

// cloudTrail calls a CloudTrail operation (AWS JSON 1.1) as key "test".
func cloudTrail(t *testing.T, s *server, op string, in any) []byte {
	t.Helper()
	return jsonCall(t, s, "cloudtrail", "CloudTrail_20131101."+op, "1.1", in)
}

// jsonCall sends an AWS JSON request (target, protocol version) to
// service as key "test" in us-east-1 and returns the answer.
func jsonCall(t *testing.T, s *server, service, target, version string, in any) []byte {
	t.Helper()
	body, _ := json.Marshal(in)
	h := http.Header{"X-Amz-Target": {target}, "Content-Type": {"application/x-amz-json-" + version}}
	code, out, _ := do(t, signedRequest(t, creds("test"), service, "us-east-1", "POST", s.url+"/", h, body))
	if code != 200 {
		t.Fatalf("%s: %d %s", target, code, out)
	}
	return out
}

// snsQuery calls an SNS action (the query protocol) as key "test" in
// us-east-1 and returns the text of the answer's element named result.
func snsQuery(t *testing.T, s *server, action string, params url.Values, result string) string {
	t.Helper()
	params.Set("Action", action)
	params.Set("Version", "2010-03-31")
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	code, out, _ := do(t, signedRequest(t, creds("test"), "sns", "us-east-1", "POST", s.url+"/", h, []byte(params.Encode())))
	if code != 200 {
		t.Fatalf("SNS %s: %d %s", action, code, out)
	}
	_, v, ok := strings.Cut(string(out), "<"+result+">")
	v, _, ok2 := strings.Cut(v, "</"+result+">")
	if !ok || !ok2 {
		t.Fatalf("SNS %s: no %s in %s", action, result, out)
	}
	return v
}

// TestConsoleAlarms: an alarm made with signed CloudWatch calls, with an SNS topic
// whose HTTP subscriber confirmed, goes to ALARM on datapoints; the
// console lists it with its state, and its page draws the metric with the
// threshold and the ALARM period, shows the history and the delivery of
// its notification.
func TestConsoleAlarms(t *testing.T) {
	s := startServer(t, "")
	b := newBrowser(t, s)
	b.signIn("admin", "opentrail")
	b.open("/alarms")
	if got := b.text("#alarms-empty"); !strings.Contains(got, "put-metric-alarm") || !strings.Contains(got, "cis enable") {
		t.Errorf("the empty alarm list does not say how to make one: %q", got)
	}
	b.screenshot("alarms-empty")

	sub := newSubscriber(t) // confirms its subscription by itself
	topicARN := snsQuery(t, s, "CreateTopic", url.Values{"Name": {"security-alerts"}}, "TopicArn")
	snsQuery(t, s, "Subscribe", url.Values{"TopicArn": {topicARN}, "Protocol": {"http"}, "Endpoint": {sub.srv.URL + "/sns"}}, "SubscriptionArn")
	waitFor(t, 20*time.Second, "the subscription confirmation", sub.isConfirmed)

	cloudWatch(t, s, "PutMetricAlarm", map[string]any{"AlarmName": "console-failures", "AlarmDescription": "three failed sign-ins",
		"MetricName": "ConsoleLoginFailures", "Namespace": "Security", "Statistic": "Sum", "Period": 60,
		"EvaluationPeriods": 1, "Threshold": 3, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
		"TreatMissingData": "notBreaching", "AlarmActions": []string{topicARN}})
	cloudWatch(t, s, "PutMetricAlarm", map[string]any{"AlarmName": "quiet-metric", "MetricName": "Nothing", "Namespace": "Security",
		"Statistic": "Sum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold"})
	now := time.Now().UTC()
	for i, v := range []float64{1, 0, 2, 1, 5} {
		cloudWatch(t, s, "PutMetricData", map[string]any{"Namespace": "Security", "MetricData": []map[string]any{{
			"MetricName": "ConsoleLoginFailures", "Value": v, "Timestamp": now.Add(time.Duration(i-4) * 2 * time.Minute).Unix()}}})
	}
	// The alarm goes to ALARM and its notification reaches the subscriber.
	waitFor(t, 20*time.Second, "the alarm's notification", func() bool {
		for _, n := range sub.alarmNotes(t) {
			if n.AlarmName == "console-failures" && n.NewStateValue == "ALARM" {
				return true
			}
		}
		return false
	})

	b.open("/alarms")
	list := b.text("table.alarms tbody")
	if !strings.Contains(list, "console-failures") || !strings.Contains(list, "ALARM") || !strings.Contains(list, "Security / ConsoleLoginFailures") ||
		!strings.Contains(list, "Sum ≥ 3") || !strings.Contains(list, "quiet-metric") {
		t.Fatalf("the alarm list: %q", list)
	}
	if first := b.text("table.alarms tbody tr"); !strings.Contains(first, "console-failures") {
		t.Errorf("the alarm in ALARM is not listed first: %q", first)
	}
	b.screenshot("alarms-list")
	b.open("/alarms?state=OK")
	if got := b.text("main"); strings.Contains(got, "console-failures") {
		t.Errorf("?state=OK lists the alarm in ALARM")
	}

	b.open("/alarms")
	b.run("open the alarm", chromedp.Click(chromedp.CSS(`table.alarms a[href="/alarms/000000000000/us-east-1/console-failures"]`)),
		chromedp.WaitVisible(chromedp.CSS("#alarm-graph")))
	if got := b.text("#alarm-state"); got != "ALARM" {
		t.Errorf("alarm state on its page: %q", got)
	}
	points := get(b, "datapoints", chromedp.Evaluate[float64](`document.querySelectorAll('#alarm-graph circle').length`))
	threshold := get(b, "threshold", chromedp.Evaluate[float64](`document.querySelectorAll('#alarm-graph line.threshold').length`))
	spans := get(b, "alarm periods", chromedp.Evaluate[float64](`document.querySelectorAll('#alarm-graph rect.alarm-span').length`))
	if points != 5 || threshold != 1 || spans != 1 {
		t.Errorf("the graph has %v datapoints (want 5), %v threshold lines (want 1), %v ALARM periods (want 1)", points, threshold, spans)
	}
	if got := b.text("#alarm-history"); !strings.Contains(got, "Alarm updated from OK to ALARM") && !strings.Contains(got, "to ALARM") {
		t.Errorf("the history does not show the transition to ALARM: %q", got)
	}
	var got string
	for deadline := time.Now().Add(10 * time.Second); ; {
		got = b.text("table.deliveries")
		if strings.Contains(got, "delivered") || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
		b.open("/alarms/000000000000/us-east-1/console-failures")
	}
	if !strings.Contains(got, "delivered") || !strings.Contains(got, sub.srv.URL+"/sns") || !strings.Contains(got, "HTTP 200") {
		t.Errorf("the notification's delivery attempt is not shown: %q", got)
	}
	b.screenshot("alarm-detail")

	b.open("/alarms/000000000000/us-east-1/no-such-alarm")
	if got := b.text("main h1"); got != "No such alarm" {
		t.Errorf("an unknown alarm's page: %q", got)
	}
	b.open("/alarms/cis")
	if got := b.text("main"); !strings.Contains(got, "no trail") && !strings.Contains(got, "trail") {
		t.Errorf("the CIS page without a trail: %q", got)
	}
	b.screenshot("alarms-cis-no-trail")
}

// TestConsoleCISControls: after `opentrail cis enable` on a multi-region
// trail (made with signed calls), the console's CIS page shows every
// control's chain complete — computed in process by the code path of
// `opentrail cis status` as the signed-in user — and links each control's
// alarm to its page.
func TestConsoleCISControls(t *testing.T) {
	s := startServer(t, "")
	cisEnv(t, s)
	sub := newSubscriber(t)
	if code, out, _ := do(t, signedRequest(t, creds("test"), "s3", "us-east-1", "PUT", s.url+"/cis-console-logs", nil, nil)); code != 200 {
		t.Fatalf("create bucket: %d %s", code, out)
	}
	cloudTrail(t, s, "CreateTrail", map[string]any{"Name": "main", "S3BucketName": "cis-console-logs", "IsMultiRegionTrail": true})
	cloudTrail(t, s, "StartLogging", map[string]any{"Name": "main"})
	if out, errs, code := runCLI(t, "cis", "enable", "--notify", sub.srv.URL+"/cis"); code != 0 {
		t.Fatalf("cis enable: exit %d\n%s\n%s", code, out, errs)
	}
	waitFor(t, 20*time.Second, "the subscription confirmation", sub.isConfirmed)

	b := newBrowser(t, s)
	b.signIn("admin", "opentrail")
	b.open("/alarms/cis")
	if got := b.text("main"); !strings.Contains(got, "All 15 controls are complete") || !strings.Contains(got, "opentrail-cis-main") {
		t.Fatalf("the CIS page after enable: %q", got)
	}
	row := b.text("#cis-console-auth-failures")
	if !strings.Contains(row, "CIS-console-auth-failures") || !strings.Contains(row, "exact") || !strings.Contains(row, "1 confirmed") ||
		!strings.Contains(row, "complete") || !strings.Contains(row, "CISBenchmark/") {
		t.Errorf("the console-auth-failures control: %q", row)
	}
	b.screenshot("cis-controls")
	b.run("open a control's alarm", chromedp.Click(chromedp.CSS(`#cis-console-auth-failures a[href="/alarms/000000000000/us-east-1/CIS-console-auth-failures"]`)),
		chromedp.WaitVisible(chromedp.CSS("#alarm-graph")))
	if got := b.text("#alarm-name"); got != "CIS-console-auth-failures" {
		t.Errorf("the control's alarm link opened %q", got)
	}
	b.screenshot("cis-alarm")
}
