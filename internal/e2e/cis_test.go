package e2e

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// cisEnv points the opentrail commands (runCLI) at s as access key
// "test" in us-east-1.
func cisEnv(t *testing.T, s *server) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_DEFAULT_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("OPENTRAIL_ENDPOINT", s.url)
}

// cisControlJSON is one control of `opentrail cis status --json`.
type cisControlJSON struct {
	ID, Key, SecurityHub, Title string
	Alarm, State, Topic         string
	Subscribers                 []string `json:"confirmedSubscribers"`
	Complete                    bool
	Broken, Fix                 string
	Filter                      *struct{ LogGroup, Name, Pattern, Match string }
}

// cisStatus runs `opentrail cis status --json` and returns its controls by
// key, and the exit code.
func cisStatus(t *testing.T) (map[string]cisControlJSON, int) {
	t.Helper()
	out, errs, code := runCLI(t, "cis", "status", "--json")
	var cs []cisControlJSON
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		t.Fatalf("cis status --json: exit %d, not JSON: %v\n%s\n%s", code, err, out, errs)
	}
	m := map[string]cisControlJSON{}
	for _, c := range cs {
		m[c.Key] = c
	}
	return m, code
}

// multiRegionTrail creates and starts the multi-region trail "main" with
// the Debian AWS CLI.
func multiRegionTrail(t *testing.T, s *server) {
	t.Helper()
	s.mustCLI(t, "us-east-1", "s3", "mb", "s3://cis-trail-logs")
	s.mustCLI(t, "us-east-1", "cloudtrail", "create-trail", "--name", "main", "--s3-bucket-name", "cis-trail-logs", "--is-multi-region-trail")
	s.mustCLI(t, "us-east-1", "cloudtrail", "start-logging", "--name", "main")
}

// eventIDOf returns the eventID of the newest event named name, as
// LookupEvents finds it.
func eventIDOf(t *testing.T, s *server, name string) string {
	t.Helper()
	var out struct {
		Events []struct{ EventId, EventName string }
	}
	waitFor(t, 20*time.Second, "the "+name+" event in lookups", func() bool {
		raw := s.mustCLI(t, "us-east-1", "cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue="+name, "--max-items", "1")
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatal(err)
		}
		return len(out.Events) == 1
	})
	return out.Events[0].EventId
}

// alarmNoteFor waits for an ALARM notification of alarm and returns it.
func alarmNoteFor(t *testing.T, sub *subscriber, alarm string, within time.Duration) alarmNote {
	t.Helper()
	var got alarmNote
	waitFor(t, within, "the ALARM notification of "+alarm, func() bool {
		for _, a := range sub.alarmNotes(t) {
			if a.AlarmName == alarm && a.NewStateValue == "ALARM" {
				got = a
				return true
			}
		}
		return false
	})
	return got
}

func (s *subscriber) isConfirmed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.confirmed
}

// TestCISPackEndToEnd is the acceptance on a real server: a user
// with a multi-region trail runs `opentrail cis enable --notify URL`; the
// subscriber confirms; `cis status` shows every chain complete; a
// StopLogging made with the AWS CLI brings the CloudTrail-changes alarm's
// notification within seconds, naming the event; `cis test CloudWatch.6`
// shows its notification arrive; status names the broken link when the
// subscriber, an alarm or the trail's log group wiring goes; disable
// removes the pack and nothing of the user's.
func TestCISPackEndToEnd(t *testing.T) {
	s := startServer(t, "")
	cisEnv(t, s)
	sub := newSubscriber(t)
	multiRegionTrail(t, s)

	// enable, then the subscriber confirms.
	out, errs, code := runCLI(t, "cis", "enable", "--notify", sub.srv.URL+"/cis")
	if code != 0 || !strings.Contains(out, "monitoring enabled for trail main") || !strings.Contains(out, "log group    opentrail-cis-main") ||
		!strings.Contains(out, "subscriber   http "+sub.srv.URL+"/cis (confirmed)") || strings.Contains(out, "warning") {
		t.Fatalf("cis enable: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("cis enable:\n%s%s", errs, out)
	waitFor(t, 20*time.Second, "the subscription confirmation", sub.isConfirmed)

	// status: every chain complete, in the table and in JSON.
	out, errs, code = runCLI(t, "cis", "status")
	if code != 0 || !strings.Contains(out, "all 15 controls complete") || strings.Contains(out, "BROKEN") {
		t.Fatalf("cis status after enable: exit %d\n%s\n%s", code, out, errs)
	}
	controls, code := cisStatus(t)
	if code != 0 || len(controls) != 15 {
		t.Fatalf("cis status --json: exit %d, %d controls", code, len(controls))
	}
	for key, c := range controls {
		if !c.Complete || c.Broken != "" || c.Filter == nil || c.Filter.Match != "exact" || c.Alarm != "CIS-"+key ||
			!slices.Contains(c.Subscribers, "http:"+sub.srv.URL+"/cis") || !strings.HasSuffix(c.Topic, ":opentrail-cis-alerts") {
			t.Errorf("control %s after enable: %+v", key, c)
		}
	}

	// cis test CloudWatch.6: the synthetic failed sign-in's notification
	// arrives, and the subscriber has it.
	out, errs, code = runCLI(t, "cis", "test", "CloudWatch.6", "--timeout", "30s")
	if code != 0 || !strings.Contains(out, "OK: control 5.6") || !strings.Contains(out, ": delivered, attempt 1") {
		t.Fatalf("cis test CloudWatch.6: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("cis test CloudWatch.6:\n%s", out)
	m := regexp.MustCompile(`sent synthetic event ([0-9a-f-]{36}) \(ConsoleLogin\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("cis test names no synthetic event:\n%s", out)
	}
	if testNote := alarmNoteFor(t, sub, "CIS-console-auth-failures", 10*time.Second); !strings.Contains(testNote.Raw, m[1]) {
		t.Errorf("the subscriber's notification does not name the test event %s:\n%s", m[1], testNote.Raw)
	}

	// StopLogging with the AWS CLI: its self-audit record goes through the
	// trail's log group, the filter and the alarm to the subscriber.
	sent := time.Now()
	s.mustCLI(t, "us-east-1", "cloudtrail", "stop-logging", "--name", "main")
	note := alarmNoteFor(t, sub, "CIS-cloudtrail-config-changes", 30*time.Second)
	t.Logf("CIS-cloudtrail-config-changes ALARM notification %s after stop-logging", time.Since(sent).Round(time.Millisecond))
	stopID := eventIDOf(t, s, "StopLogging")
	if !strings.Contains(note.Raw, stopID) {
		t.Errorf("the ALARM notification does not name the StopLogging event %s:\n%s", stopID, note.Raw)
	}

	// A trail that is not logging breaks every chain at the trail.
	_, code = cisStatus(t)
	out, _, _ = runCLI(t, "cis", "status")
	if code != 1 || !strings.Contains(out, "BROKEN: no trail") || !strings.Contains(out, "start-logging") {
		t.Fatalf("cis status with the trail stopped: exit %d\n%s", code, out)
	}
	s.mustCLI(t, "us-east-1", "cloudtrail", "start-logging", "--name", "main")
	if _, code = cisStatus(t); code != 0 {
		t.Fatalf("cis status after start-logging: exit %d", code)
	}

	// The subscriber unsubscribed: no confirmed subscriber.
	var subs struct {
		Subscriptions []struct{ SubscriptionArn, Endpoint string }
	}
	if err := json.Unmarshal([]byte(s.mustCLI(t, "us-east-1", "sns", "list-subscriptions")), &subs); err != nil {
		t.Fatal(err)
	}
	if len(subs.Subscriptions) != 1 {
		t.Fatalf("subscriptions: %+v", subs)
	}
	s.mustCLI(t, "us-east-1", "sns", "unsubscribe", "--subscription-arn", subs.Subscriptions[0].SubscriptionArn)
	controls, code = cisStatus(t)
	if code != 1 {
		t.Fatalf("cis status after unsubscribe: exit %d", code)
	}
	for key, c := range controls {
		if c.Complete || c.Broken != "confirmed subscriber" || !strings.Contains(c.Fix, "no subscriber") {
			t.Errorf("control %s after unsubscribe: %+v", key, c)
		}
	}
	out, _, code = runCLI(t, "cis", "status")
	if code != 1 || !strings.Contains(out, "BROKEN: no confirmed subscriber") || !strings.Contains(out, "BROKEN: 15 of 15 controls cannot notify anyone") {
		t.Fatalf("cis status table after unsubscribe: exit %d\n%s", code, out)
	}
	// enable again subscribes again; the subscriber confirms.
	sub.mu.Lock()
	sub.confirmed = false
	sub.mu.Unlock()
	if out, errs, code = runCLI(t, "cis", "enable", "--notify", sub.srv.URL+"/cis"); code != 0 {
		t.Fatalf("cis enable again: exit %d\n%s\n%s", code, out, errs)
	}
	waitFor(t, 20*time.Second, "the new subscription's confirmation", sub.isConfirmed)
	if _, code = cisStatus(t); code != 0 {
		t.Fatalf("cis status after enable again: exit %d", code)
	}

	// An alarm deleted: that control, and only it, has no alarm.
	s.mustCLI(t, "us-east-1", "cloudwatch", "delete-alarms", "--alarm-names", "CIS-vpc-changes")
	controls, code = cisStatus(t)
	if code != 1 {
		t.Fatalf("cis status after delete-alarms: exit %d", code)
	}
	for key, c := range controls {
		if key == "vpc-changes" {
			if c.Complete || c.Broken != "alarm" {
				t.Errorf("control %s without its alarm: %+v", key, c)
			}
		} else if !c.Complete {
			t.Errorf("control %s broken by another control's alarm: %+v", key, c)
		}
	}
	out, _, _ = runCLI(t, "cis", "status")
	if !strings.Contains(out, "BROKEN: no alarm") || !strings.Contains(out, "BROKEN: 1 of 15 controls") {
		t.Errorf("cis status table without an alarm:\n%s", out)
	}
	if _, _, code = runCLI(t, "cis", "enable"); code != 0 {
		t.Fatalf("cis enable to restore the alarm: exit %d", code)
	}

	// The trail's log group wiring removed: no log group.
	s.mustCLI(t, "us-east-1", "cloudtrail", "update-trail", "--name", "main", "--cloud-watch-logs-log-group-arn", "", "--cloud-watch-logs-role-arn", "")
	controls, code = cisStatus(t)
	if code != 1 {
		t.Fatalf("cis status with the trail unwired: exit %d", code)
	}
	for key, c := range controls {
		if c.Complete || c.Broken != "log group" || !strings.Contains(c.Fix, "sends its events to no log group") {
			t.Errorf("control %s with the trail unwired: %+v", key, c)
		}
	}
	if out, errs, code = runCLI(t, "cis", "enable"); code != 0 || !strings.Contains(errs, "now sends its events to log group opentrail-cis-main") {
		t.Fatalf("cis enable to re-wire the trail: exit %d\n%s\n%s", code, out, errs)
	}
	if _, code = cisStatus(t); code != 0 {
		t.Fatalf("cis status after re-wiring: exit %d", code)
	}

	// disable removes the pack's and nothing of the user's: a metric
	// filter of their own in the pack's log group (so the group and the
	// trail's wiring stay), their alarm on its metric and their topic.
	s.mustCLI(t, "us-east-1", "logs", "put-metric-filter", "--log-group-name", "opentrail-cis-main", "--filter-name", "my-deletes",
		"--filter-pattern", `{ $.eventName = "DeleteBucket" }`,
		"--metric-transformations", "metricName=BucketDeletes,metricNamespace=MyTeam,metricValue=1")
	var topic struct{ TopicArn string }
	if err := json.Unmarshal([]byte(s.mustCLI(t, "us-east-1", "sns", "create-topic", "--name", "my-alerts")), &topic); err != nil {
		t.Fatal(err)
	}
	s.mustCLI(t, "us-east-1", "cloudwatch", "put-metric-alarm", "--alarm-name", "my-bucket-deletes",
		"--metric-name", "BucketDeletes", "--namespace", "MyTeam", "--statistic", "Sum", "--period", "300",
		"--evaluation-periods", "1", "--threshold", "1", "--comparison-operator", "GreaterThanOrEqualToThreshold",
		"--alarm-actions", topic.TopicArn)
	out, errs, code = runCLI(t, "cis", "disable")
	if code != 0 || !strings.Contains(out, "removed 15 alarms and 15 metric filters") || !strings.Contains(out, "kept log group opentrail-cis-main") ||
		!strings.Contains(out, "deleted topic arn:aws:sns:us-east-1:000000000000:opentrail-cis-alerts") {
		t.Fatalf("cis disable: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("cis disable:\n%s", out)
	var alarms struct{ MetricAlarms []struct{ AlarmName string } }
	if err := json.Unmarshal([]byte(s.mustCLI(t, "us-east-1", "cloudwatch", "describe-alarms")), &alarms); err != nil {
		t.Fatal(err)
	}
	if len(alarms.MetricAlarms) != 1 || alarms.MetricAlarms[0].AlarmName != "my-bucket-deletes" {
		t.Errorf("alarms after disable: %+v", alarms.MetricAlarms)
	}
	var filters struct{ MetricFilters []struct{ FilterName string } }
	if err := json.Unmarshal([]byte(s.mustCLI(t, "us-east-1", "logs", "describe-metric-filters", "--log-group-name", "opentrail-cis-main")), &filters); err != nil {
		t.Fatal(err)
	}
	if len(filters.MetricFilters) != 1 || filters.MetricFilters[0].FilterName != "my-deletes" {
		t.Errorf("metric filters after disable: %+v", filters.MetricFilters)
	}
	var topics struct{ Topics []struct{ TopicArn string } }
	if err := json.Unmarshal([]byte(s.mustCLI(t, "us-east-1", "sns", "list-topics")), &topics); err != nil {
		t.Fatal(err)
	}
	if len(topics.Topics) != 1 || topics.Topics[0].TopicArn != topic.TopicArn {
		t.Errorf("topics after disable: %+v", topics.Topics)
	}
	var trails struct {
		TrailList []struct{ Name, CloudWatchLogsLogGroupArn string }
	}
	if err := json.Unmarshal([]byte(s.mustCLI(t, "us-east-1", "cloudtrail", "describe-trails")), &trails); err != nil {
		t.Fatal(err)
	}
	if len(trails.TrailList) != 1 || !strings.Contains(trails.TrailList[0].CloudWatchLogsLogGroupArn, ":log-group:opentrail-cis-main") {
		t.Errorf("trails after disable (the group holds the user's filter, so the wiring stays): %+v", trails.TrailList)
	}
	controls, code = cisStatus(t)
	if code != 1 || controls["console-auth-failures"].Broken != "metric filter" {
		t.Errorf("cis status after disable: exit %d, %+v", code, controls["console-auth-failures"])
	}

	// With the user's filter gone too, disable deletes the group and
	// unwires the trail.
	s.mustCLI(t, "us-east-1", "logs", "delete-metric-filter", "--log-group-name", "opentrail-cis-main", "--filter-name", "my-deletes")
	out, errs, code = runCLI(t, "cis", "disable")
	if code != 0 || !strings.Contains(out, "trail main no longer sends its events to a log group") || !strings.Contains(out, "deleted log group opentrail-cis-main") {
		t.Fatalf("cis disable again: exit %d\n%s\n%s", code, out, errs)
	}
	var after struct {
		TrailList []struct{ Name, CloudWatchLogsLogGroupArn string }
	}
	if err := json.Unmarshal([]byte(s.mustCLI(t, "us-east-1", "cloudtrail", "describe-trails")), &after); err != nil {
		t.Fatal(err)
	}
	if len(after.TrailList) != 1 || after.TrailList[0].CloudWatchLogsLogGroupArn != "" {
		t.Errorf("the trail still names a log group after disable: %+v", after.TrailList)
	}
	var left struct{ MetricAlarms []struct{ AlarmName string } }
	if err := json.Unmarshal([]byte(s.mustCLI(t, "us-east-1", "cloudwatch", "describe-alarms")), &left); err != nil {
		t.Fatal(err)
	}
	if len(left.MetricAlarms) != 1 || left.MetricAlarms[0].AlarmName != "my-bucket-deletes" {
		t.Errorf("the user's alarm did not survive the second disable: %+v", left.MetricAlarms)
	}
}

// failedSignInAs is a failed console sign-in of the IAM user arn.
func failedSignInAs(id, arn string, at time.Time) []byte {
	return []byte(strings.Replace(string(failedSignIn(id, at)), `"accountId":"000000000000"`, `"arn":"`+arn+`","accountId":"000000000000"`, 1))
}

// TestCISFromConfig starts a server whose configuration enables the pack
// before any trail exists: once the user creates and starts a
// multi-region trail, the pack is set up within seconds (the start-up
// retry wakes on trail changes) and the subscriber confirms; failed
// sign-ins of the suppressed principal count for nothing, a burst of
// others brings the console-auth-failures ALARM naming them.
func TestCISFromConfig(t *testing.T) {
	sub := newSubscriber(t)
	cfg := writeConfig(t, `cis:
  enabled: true
  notify: [`+sub.srv.URL+`/from-config]
  suppress:
    console-auth-failures:
      principals: ["arn:aws:iam::000000000000:user/scanner-*"]
`)
	s := startServer(t, "", "--config", cfg)
	cisEnv(t, s)
	if _, code := cisStatus(t); code != 1 {
		t.Fatalf("cis status before any trail: exit %d", code)
	}
	multiRegionTrail(t, s)
	// Seconds on a quiet machine; the bound is under the start-up retry's
	// minute (server.cisRetry), so only the wake on trail changes meets
	// it, with room for a loaded 2-core machine.
	start := time.Now()
	waitFor(t, 45*time.Second, "the configured subscriber's confirmation", sub.isConfirmed)
	waitFor(t, 45*time.Second-time.Since(start), "every chain complete", func() bool { _, code := cisStatus(t); return code == 0 })
	t.Logf("the pack was set up %s after start-logging", time.Since(start).Round(time.Millisecond))
	controls, _ := cisStatus(t)
	if c := controls["console-auth-failures"]; !slices.Contains(c.Subscribers, "http:"+sub.srv.URL+"/from-config") || c.Alarm != "CIS-console-auth-failures" {
		t.Fatalf("console-auth-failures from config: %+v", c)
	}

	// Suppressed: a scanner's failures. Then a burst of someone else's.
	now := time.Now().UTC()
	var recs [][]byte
	var suppressed, counted []string
	for i := range 3 {
		id := uuid("cis-config-scanner", i)
		suppressed = append(suppressed, id)
		recs = append(recs, failedSignInAs(id, "arn:aws:iam::000000000000:user/scanner-1", now))
	}
	if n, _ := s.postEvents(t, "test", recs); n != 3 {
		t.Fatalf("accepted %d of 3", n)
	}
	recs = nil
	for i := range 3 {
		id := uuid("cis-config-mallory", i)
		counted = append(counted, id)
		recs = append(recs, failedSignInAs(id, "arn:aws:iam::000000000000:user/mallory", now))
	}
	sent := time.Now()
	if n, _ := s.postEvents(t, "test", recs); n != 3 {
		t.Fatalf("accepted %d of 3", n)
	}
	note := alarmNoteFor(t, sub, "CIS-console-auth-failures", 30*time.Second)
	t.Logf("CIS-console-auth-failures ALARM notification %s after the burst", time.Since(sent).Round(time.Millisecond))
	for _, id := range counted {
		if !strings.Contains(note.Raw, id) {
			t.Errorf("the ALARM notification does not name event %s:\n%s", id, note.Raw)
		}
	}
	for _, id := range suppressed {
		if strings.Contains(note.Raw, id) {
			t.Errorf("the ALARM notification names the suppressed event %s:\n%s", id, note.Raw)
		}
	}
	// The metric counted the three, not the suppressed; the log group
	// holds all six.
	from := now.Truncate(time.Minute).Add(-5 * time.Minute)
	var stats struct{ Datapoints []struct{ Sum float64 } }
	if err := json.Unmarshal([]byte(s.mustCLI(t, "us-east-1", "cloudwatch", "get-metric-statistics", "--namespace", "CISBenchmark",
		"--metric-name", "ConsoleAuthenticationFailures", "--statistics", "Sum", "--period", "3600",
		"--start-time", from.Format(time.RFC3339), "--end-time", from.Add(time.Hour).Format(time.RFC3339))), &stats); err != nil {
		t.Fatal(err)
	}
	if len(stats.Datapoints) != 1 || stats.Datapoints[0].Sum != 3 {
		t.Errorf("ConsoleAuthenticationFailures: %+v, want one datapoint of Sum 3", stats.Datapoints)
	}
	var evs struct{ Events []struct{ Message string } }
	if err := json.Unmarshal([]byte(s.mustCLI(t, "us-east-1", "logs", "filter-log-events", "--log-group-name", "opentrail-cis-main",
		"--filter-pattern", `{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }`)), &evs); err != nil {
		t.Fatal(err)
	}
	if len(evs.Events) != 6 {
		t.Errorf("the log group holds %d failed sign-ins, want 6 (suppressed events are stored)", len(evs.Events))
	}

	// A restart sets the pack up again and changes nothing: one
	// subscription, every chain complete.
	s.stop()
	restart := time.Now().UTC().Truncate(time.Second)
	s = startServer(t, s.data, "--config", cfg)
	cisEnv(t, s)
	waitFor(t, 30*time.Second, "the pack's 15 alarms put again after the restart", func() bool {
		var out struct{ Events []struct{ EventId string } }
		raw := s.mustCLI(t, "us-east-1", "cloudtrail", "lookup-events", "--start-time", restart.Format(time.RFC3339),
			"--lookup-attributes", "AttributeKey=EventName,AttributeValue=PutMetricAlarm")
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatal(err)
		}
		return len(out.Events) == 15
	})
	var subs struct {
		Subscriptions []struct{ SubscriptionArn, Endpoint string }
	}
	if err := json.Unmarshal([]byte(s.mustCLI(t, "us-east-1", "sns", "list-subscriptions")), &subs); err != nil {
		t.Fatal(err)
	}
	if len(subs.Subscriptions) != 1 || !strings.HasPrefix(subs.Subscriptions[0].SubscriptionArn, "arn:aws:sns:") {
		t.Errorf("subscriptions after the restart: %+v", subs.Subscriptions)
	}
	if _, code := cisStatus(t); code != 0 {
		t.Errorf("cis status after the restart: exit %d", code)
	}
}
