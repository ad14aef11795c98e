package cis

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

func statusOf(t *testing.T, f *fakeAPI) *Report {
	t.Helper()
	rep, err := Status(context.Background(), f, StatusOptions{Match: match, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestEnableStatusDisable(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	// Something of the user's that disable must leave alone.
	f.groups["app-logs"] = nil
	f.filters["app-logs"] = []MetricFilter{{LogGroup: "app-logs", Name: "Errors", Pattern: "ERROR", MetricName: "Errors", MetricNamespace: "App", MetricValue: "1"}}
	f.alarms["app-errors"] = Alarm{Name: "app-errors", MetricName: "Errors", Namespace: "App"}

	res, err := Enable(ctx, f, EnableOptions{Benchmark: "v3.0", Notify: []string{"https://hooks.example.com/cis", "security@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Benchmark != "v3.0.0" || res.LogGroup != "opentrail-cis-management-events" || len(res.Controls) != 15 {
		t.Fatalf("enable = %+v", res)
	}
	tr := f.trails[0]
	if tr.LogGroupARN != "arn:aws:logs:us-east-1:111122223333:log-group:opentrail-cis-management-events:*" ||
		tr.RoleARN != "arn:aws:iam::111122223333:role/opentrail-cis-cloudtrail-logs" {
		t.Errorf("trail wiring = %+v", tr)
	}
	if n := len(f.filters[res.LogGroup]); n != 15 {
		t.Errorf("%d metric filters, want 15", n)
	}
	a := f.alarms["CIS-console-auth-failures"]
	if a.Statistic != "Sum" || a.Period != 300 || a.EvaluationPeriods != 1 || a.Threshold != 1 || a.ComparisonOperator != "GreaterThanOrEqualToThreshold" ||
		a.TreatMissingData != "notBreaching" || len(a.Actions) != 1 || a.Actions[0] != "arn:aws:sns:us-east-1:111122223333:opentrail-cis-alerts" ||
		a.Description != `managed by opentrail cis (CIS AWS Foundations Benchmark v3.0.0 4.6, CloudWatch.6): Ensure AWS Management Console authentication failures are monitored` {
		t.Errorf("alarm = %+v", a)
	}
	subs := f.topics["arn:aws:sns:us-east-1:111122223333:opentrail-cis-alerts"]
	if len(subs) != 2 || subs[0].Protocol != "https" || subs[1].Protocol != "email" {
		t.Errorf("subscriptions = %+v", subs)
	}

	// Subscriptions awaiting confirmation: every chain is broken at the
	// last link, not enabled.
	rep := statusOf(t, f)
	if rep.Benchmark != "v3.0.0" || rep.Broken() != 15 {
		t.Fatalf("before confirmation: %d broken, want 15", rep.Broken())
	}
	for _, c := range rep.Controls {
		if c.Broken != LinkSubscriber || c.Verdict != Exact || !strings.Contains(c.Fix, "awaiting confirmation") {
			t.Errorf("%s: broken %q verdict %q fix %q", c.Control.ID, c.Broken, c.Verdict, c.Fix)
		}
	}
	f.confirm()
	if rep := statusOf(t, f); rep.Broken() != 0 {
		t.Fatalf("after confirmation: %d broken: %+v", rep.Broken(), rep.Controls[0])
	}

	// Idempotent: a second run makes nothing new.
	calls := len(f.calls)
	if _, err := Enable(ctx, f, EnableOptions{Benchmark: "3.0", Notify: []string{"https://hooks.example.com/cis"}}); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != calls || len(f.filters[res.LogGroup]) != 15 || len(f.alarms) != 16 {
		t.Errorf("re-run made more: calls %v", f.calls[calls:])
	}

	// Switching to v1.2.0 drops the control v1.2.0 lacks.
	res, err = Enable(ctx, f, EnableOptions{Benchmark: "v1.2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 1 || res.Removed[0] != "CIS-organizations-changes" || len(f.filters[res.LogGroup]) != 14 {
		t.Errorf("v1.2 removed %v, %d filters", res.Removed, len(f.filters[res.LogGroup]))
	}
	if c := f.alarms["CIS-unauthorized-api-calls"]; !strings.Contains(c.Description, "v1.2.0 3.1") {
		t.Errorf("alarm not rewritten: %s", c.Description)
	}

	dr, err := Disable(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(dr.Alarms) != 14 || len(dr.Filters) != 14 || len(dr.LogGroups) != 1 || len(dr.Unwired) != 1 || dr.Topic == "" {
		t.Errorf("disable = %+v", dr)
	}
	if len(f.alarms) != 1 || f.alarms["app-errors"].Name == "" || len(f.filters["app-logs"]) != 1 || len(f.topics) != 0 {
		t.Errorf("disable left %v alarms, %v app filters, %v topics", len(f.alarms), len(f.filters["app-logs"]), f.topics)
	}
	if f.trails[0].LogGroupARN != "" {
		t.Errorf("trail still wired: %+v", f.trails[0])
	}
	rep = statusOf(t, f)
	for _, c := range rep.Controls {
		if c.Broken != LinkLogGroup {
			t.Errorf("after disable %s broken at %q", c.Control.ID, c.Broken)
		}
	}
}

// cis status names the first missing link of each chain.
func TestStatusBrokenLinks(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	if _, err := Enable(ctx, f, EnableOptions{Notify: []string{"http://127.0.0.1:9/hook"}}); err != nil {
		t.Fatal(err)
	}
	f.confirm()
	group := "opentrail-cis-management-events"
	topic := "arn:aws:sns:us-east-1:111122223333:opentrail-cis-alerts"

	// A filter of the user's with the same clauses in another spelling
	// counts as equivalent; the pack's own is removed.
	var tf MetricFilter
	for _, m := range f.filters[group] {
		if m.Name == "CIS-cloudtrail-config-changes" {
			tf = m
		}
	}
	f.DeleteMetricFilter(ctx, group, tf.Name)
	tf.Name, tf.Pattern = "trail-changes", `{($.eventName=StopLogging)||($.eventName=DeleteTrail)||($.eventName=UpdateTrail)||($.eventName=StartLogging)||($.eventName=CreateTrail)}`
	f.PutMetricFilter(ctx, tf)
	// No filter at all for IAM policy changes.
	f.DeleteMetricFilter(ctx, group, "CIS-iam-policy-changes")
	// No alarm for VPC changes.
	delete(f.alarms, "CIS-vpc-changes")
	// An alarm notifying a topic that does not exist.
	a := f.alarms["CIS-nacl-changes"]
	a.Actions = []string{"arn:aws:sns:us-east-1:111122223333:gone"}
	f.alarms[a.Name] = a

	rep := statusOf(t, f)
	got := map[string]ControlStatus{}
	for _, c := range rep.Controls {
		got[c.Control.Key] = c
	}
	for key, want := range map[string]string{"cloudtrail-config-changes": "", "iam-policy-changes": LinkFilter, "vpc-changes": LinkAlarm, "nacl-changes": LinkTopic, "root-account-usage": ""} {
		if got[key].Broken != want {
			t.Errorf("%s broken at %q, want %q (%s)", key, got[key].Broken, want, got[key].Fix)
		}
	}
	if c := got["cloudtrail-config-changes"]; c.Verdict != Equivalent || c.Filter.Name != "trail-changes" {
		t.Errorf("user filter: verdict %q filter %+v", c.Verdict, c.Filter)
	}
	// Every subscriber gone: every chain is broken at the subscriber.
	f.topics[topic] = nil
	f.topics[topic] = []Subscription{}
	for _, c := range statusOf(t, f).Controls {
		if c.Broken == "" {
			t.Errorf("%s complete with no subscriber", c.Control.ID)
		}
	}
	// No logging trail: the first link.
	f.logging[f.trails[0].ARN] = false
	for _, c := range statusOf(t, f).Controls {
		if c.Broken != LinkTrail || !strings.Contains(c.Fix, "start-logging") {
			t.Errorf("%s: %q %q", c.Control.ID, c.Broken, c.Fix)
		}
	}
}

func TestEnableNoTrail(t *testing.T) {
	f := newFake()
	f.trails = nil
	_, err := Enable(context.Background(), f, EnableOptions{Endpoint: "http://127.0.0.1:4747"})
	if err == nil || !strings.Contains(err.Error(), "aws cloudtrail create-trail --name management-events --s3-bucket-name BUCKET --is-multi-region-trail --endpoint-url http://127.0.0.1:4747") {
		t.Errorf("err = %v", err)
	}
	f = newFake()
	f.trails[0].MultiRegion = false
	if _, err := Enable(context.Background(), f, EnableOptions{}); err == nil || !strings.Contains(err.Error(), "no multi-region trail") {
		t.Errorf("single-region only: err = %v", err)
	}
	f = newFake()
	if _, err := Enable(context.Background(), f, EnableOptions{Notify: []string{"ftp://x"}}); err == nil || !strings.Contains(err.Error(), "neither an http(s) URL nor an e-mail") {
		t.Errorf("bad notify: err = %v", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("a refused enable made %v", f.calls)
	}
}

// A trail already sending to a log group of the user's keeps it: the
// filters go there, and disable leaves the group and the wiring.
func TestEnableReusesTrailLogGroup(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	f.groups["org-trail"] = nil
	f.trails[0].LogGroupARN, f.trails[0].RoleARN = f.groupARN("org-trail"), "arn:aws:iam::111122223333:role/ct-logs"
	res, err := Enable(ctx, f, EnableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.LogGroup != "org-trail" || len(f.filters["org-trail"]) != 15 || f.trails[0].RoleARN != "arn:aws:iam::111122223333:role/ct-logs" {
		t.Errorf("enable = %+v, trail %+v", res, f.trails[0])
	}
	if _, err := Disable(ctx, f); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.groups["org-trail"]; !ok || f.trails[0].LogGroupARN == "" || len(f.filters["org-trail"]) != 0 {
		t.Errorf("disable touched the user's group or wiring: %+v", f.trails[0])
	}
}

// TestEnableWaitsForConfirmation: with ConfirmWait, enable's result
// shows an http subscription the endpoint confirms a moment after
// Subscribe as confirmed (it said "pending confirmation", and warned that
// no one would be notified, though the endpoint had confirmed); an
// e-mail subscription is not waited for.
func TestEnableWaitsForConfirmation(t *testing.T) {
	f := newFake()
	f.confirmAfter = 3 // the list after Subscribe, then two polls
	res, err := Enable(context.Background(), f, EnableOptions{Notify: []string{"http://127.0.0.1:4748/"}, ConfirmWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Subscriptions) != 1 || !res.Subscriptions[0].Confirmed() {
		t.Fatalf("subscriptions after enable: %+v", res.Subscriptions)
	}
	f = newFake()
	start := time.Now()
	res, err = Enable(context.Background(), f, EnableOptions{Notify: []string{"security@example.com"}, ConfirmWait: 5 * time.Second})
	if err != nil || len(res.Subscriptions) != 1 || res.Subscriptions[0].Confirmed() || time.Since(start) > time.Second {
		t.Fatalf("an e-mail subscription: %v %+v after %v", err, res, time.Since(start))
	}
}

func TestSubscriptionConfirmed(t *testing.T) {
	for arn, want := range map[string]bool{
		"arn:aws:sns:us-east-1:111122223333:opentrail-cis-alerts:5f0e": true,
		"PendingConfirmation": false, "pending confirmation": false, "Deleted": false, "": false,
	} {
		if got := (Subscription{ARN: arn}).Confirmed(); got != want {
			t.Errorf("Confirmed(%q) = %v", arn, got)
		}
	}
}

func TestParseNotify(t *testing.T) {
	for in, want := range map[string]Notify{
		"http://127.0.0.1:8080/hook":         {"http", "http://127.0.0.1:8080/hook"},
		"https://hooks.slack.com/services/T": {"https", "https://hooks.slack.com/services/T"},
		"security@example.com":               {"email", "security@example.com"},
		"mailto:security@example.com":        {"email", "security@example.com"},
	} {
		if got, err := ParseNotify(in); err != nil || got != want {
			t.Errorf("ParseNotify(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "example.com", "http://", "ftp://a/b", "a@b"} {
		if _, err := ParseNotify(in); err == nil {
			t.Errorf("ParseNotify(%q) accepted", in)
		}
	}
}

func TestTestSendsAndWaits(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	if _, err := Enable(ctx, f, EnableOptions{Notify: []string{"http://127.0.0.1:9/hook"}}); err != nil {
		t.Fatal(err)
	}
	f.confirm()
	var progress []string
	opts := TestOptions{
		Timeout: 10 * time.Second, Now: func() time.Time { return f.now }, Match: match,
		Sleep:    func(context.Context, time.Duration) error { f.now = f.now.Add(time.Second); f.evaluate(); return nil },
		Progress: func(s string) { progress = append(progress, s) },
	}
	res, err := Test(ctx, f, "CloudWatch.6", opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Control.ID != "5.6" || len(res.Delivered) != 1 || res.Delivered[0].Endpoint != "http://127.0.0.1:9/hook" || res.AlarmState != "ALARM" {
		t.Errorf("result = %+v", res)
	}
	out := strings.Join(progress, "\n")
	for _, w := range []string{"sent synthetic event " + res.EventID + " (ConsoleLogin)", "alarm CIS-console-auth-failures is ALARM", "delivered, attempt 1 (HTTP 200)"} {
		if !strings.Contains(out, w) {
			t.Errorf("progress lacks %q:\n%s", w, out)
		}
	}
	// The synthetic event reached the log group and is recognisable.
	rep := statusOf(t, f)
	for _, c := range rep.Controls {
		if c.Control.Key == "console-auth-failures" && (len(c.LastEvents) != 1 || !strings.Contains(c.LastEvents[0].Message, `"opentrailSynthetic":true`)) {
			t.Errorf("last events = %+v", c.LastEvents)
		}
	}
	// Already in ALARM: no new transition, so the test says so.
	if _, err := Test(ctx, f, "5.6", opts); err == nil || !strings.Contains(err.Error(), "already in ALARM") {
		t.Errorf("second test: %v", err)
	}
	// A control that is not in the benchmark.
	if _, err := Test(ctx, f, "9.9", opts); err == nil || !strings.Contains(err.Error(), "5.1, 5.2") {
		t.Errorf("unknown control: %v", err)
	}
	// Deliveries failing: the test times out saying so.
	f.deliverStatus = "failed"
	if _, err := Test(ctx, f, "cloudtrail-config-changes", opts); !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "no delivery") {
		t.Errorf("failing endpoint: %v", err)
	}
	// A pending subscription: broken chain, nothing sent.
	f = newFake()
	Enable(ctx, f, EnableOptions{Notify: []string{"a@example.com"}})
	if _, err := Test(ctx, f, "5.5", opts); err == nil || !strings.Contains(err.Error(), "broken at the confirmed subscriber") || len(f.sent) != 0 {
		t.Errorf("pending subscriber: %v", err)
	}
}

func TestCheck(t *testing.T) {
	b, _ := Lookup("v3.0")
	un, _ := b.Find("4.1")
	tr, _ := b.Find("4.5")
	for _, tc := range []struct {
		c       Control
		pattern string
		want    string
	}{
		{un, un.Pattern, Exact},
		{tr, securityHubText["CloudWatch.5"], Exact},
		// Terraform's rewrite of 4.1 with explicit parentheses.
		{un, `{(($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*")) && (($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket"))}`, Equivalent},
		{tr, `{ ($.eventName = "StopLogging") || ($.eventName = "StartLogging") || ($.eventName = "DeleteTrail") || ($.eventName = "UpdateTrail") || ($.eventName = "CreateTrail") }`, Equivalent},
		// A name missing.
		{tr, `{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) }`, Missing},
		// The right words, the wrong logic: matches nothing.
		{tr, `{ ($.eventName = CreateTrail) && ($.eventName = UpdateTrail) && ($.eventName = DeleteTrail) && ($.eventName = StartLogging) && ($.eventName = StopLogging) }`, Missing},
		{tr, `StopLogging`, Missing},
	} {
		if got := Check(tc.c, tc.pattern, match); got != tc.want {
			t.Errorf("Check(%s, %s) = %s, want %s", tc.c.ID, tc.pattern, got, tc.want)
		}
	}
	if got := Clauses(`{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }`); strings.Join(got, ";") != "eventType!=AwsServiceEvent;userIdentity.invokedBy NOT EXISTS;userIdentity.type=Root" {
		t.Errorf("Clauses = %q", got)
	}
}

func TestSuppressed(t *testing.T) {
	s, err := NewSuppressor("v3.0", map[string]Suppression{
		"unauthorized-api-calls": {Principals: []string{"arn:aws:iam::*:role/aws-service-role/*", "elasticloadbalancing.amazonaws.com"}},
		"CloudWatch.8":           {IdentityTypes: []string{"AWSService"}},
		"4.10":                   {EventSources: []string{"ec2.amazonaws.com"}},
		"*":                      {Principals: []string{"arn:aws:iam::111122223333:user/scanner"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := func(js string) *event.Record {
		r, err := event.Parse([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	const base = `"eventVersion":"1.09","eventTime":"2026-12-05T00:00:00Z","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.1","eventID":"e1","eventType":"AwsApiCall","recipientAccountId":"111122223333"`
	slr := rec(`{` + base + `,"eventSource":"s3.amazonaws.com","eventName":"GetObject","errorCode":"AccessDenied","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForConfig/s","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"}}}}`)
	elb := rec(`{` + base + `,"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","errorCode":"Client.UnauthorizedOperation","userIdentity":{"type":"AWSService","invokedBy":"elasticloadbalancing.amazonaws.com"}}`)
	alice := rec(`{` + base + `,"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","errorCode":"Client.UnauthorizedOperation","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice"}}`)
	scanner := rec(`{` + base + `,"eventSource":"iam.amazonaws.com","eventName":"PutUserPolicy","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/scanner"}}`)
	for _, tc := range []struct {
		filter string
		r      *event.Record
		want   bool
	}{
		{"CIS-unauthorized-api-calls", slr, true},
		{"CIS-unauthorized-api-calls", elb, true},
		{"CIS-unauthorized-api-calls", alice, false},
		{"CIS-s3-bucket-policy-changes", elb, true},
		{"CIS-s3-bucket-policy-changes", alice, false},
		{"CIS-security-group-changes", alice, true},
		{"CIS-iam-policy-changes", scanner, true},
		{"CIS-iam-policy-changes", alice, false},
		{"Errors", scanner, false}, // not a pack filter
	} {
		if got := s.Suppressed(tc.filter, tc.r); got != tc.want {
			t.Errorf("Suppressed(%s, %s) = %v, want %v", tc.filter, tc.r.Raw, got, tc.want)
		}
	}
	if (*Suppressor)(nil).Suppressed("CIS-vpc-changes", alice) {
		t.Error("nil suppressor suppressed")
	}
	if _, err := NewSuppressor("v3.0", map[string]Suppression{"9.9": {}}); err == nil || !strings.Contains(err.Error(), "cis.suppress.9.9") {
		t.Errorf("unknown control: %v", err)
	}
}
