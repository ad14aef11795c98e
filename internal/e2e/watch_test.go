package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// subscriber is an HTTP endpoint subscribed to a topic: it confirms the
// subscription by visiting SubscribeURL and keeps every notification.
type subscriber struct {
	srv *httptest.Server

	mu        sync.Mutex
	fail      bool // answer 500 to notifications
	confirmed bool
	notes     []snsNote // notifications answered 200
	attempts  int       // notifications received, whatever the answer
}

type snsNote struct {
	Type, MessageId, TopicArn, Subject, Message, Timestamp string
	SignatureVersion, Signature, SigningCertURL            string
	SubscribeURL, Token                                    string
}

func newSubscriber(t *testing.T) *subscriber {
	t.Helper()
	s := &subscriber{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n snsNote
		if err := json.Unmarshal(body, &n); err != nil {
			t.Errorf("subscriber: body is not JSON: %v: %s", err, body)
			w.WriteHeader(400)
			return
		}
		if got := r.Header.Get("x-amz-sns-message-type"); got != n.Type {
			t.Errorf("x-amz-sns-message-type %q, body Type %q", got, n.Type)
		}
		switch n.Type {
		case "SubscriptionConfirmation":
			resp, err := http.Get(n.SubscribeURL)
			if err != nil {
				t.Errorf("visit SubscribeURL: %v", err)
				w.WriteHeader(500)
				return
			}
			resp.Body.Close()
			s.mu.Lock()
			s.confirmed = resp.StatusCode == 200
			s.mu.Unlock()
		case "Notification":
			s.mu.Lock()
			defer s.mu.Unlock()
			s.attempts++
			if s.fail {
				w.WriteHeader(500)
				return
			}
			s.notes = append(s.notes, n)
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func notesOf(s *subscriber) []alarmNote {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]alarmNote, len(s.notes))
	for i, n := range s.notes {
		out[i] = alarmNote{MessageID: n.MessageId, Raw: n.Message}
	}
	return out
}

func (s *subscriber) setFail(v bool) {
	s.mu.Lock()
	s.fail = v
	s.mu.Unlock()
}

func (s *subscriber) attemptCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// alarmNotes returns the alarm notifications received so far, decoded.
func (s *subscriber) alarmNotes(t *testing.T) []alarmNote {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []alarmNote
	for _, n := range s.notes {
		var a alarmNote
		if err := json.Unmarshal([]byte(n.Message), &a); err != nil {
			t.Fatalf("notification Message is not an alarm's JSON: %v: %s", err, n.Message)
		}
		a.MessageID, a.Raw = n.MessageId, n.Message
		out = append(out, a)
	}
	return out
}

type alarmNote struct {
	AlarmName, NewStateValue, OldStateValue, NewStateReason string
	MessageID, Raw                                          string
}

// waitFor polls cond every 200 ms until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", within, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// failedSignIn is a console sign-in that failed, as CloudTrail records it.
func failedSignIn(id string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLEMALLORY","accountId":"000000000000","accessKeyId":"","userName":"mallory"},"eventTime":"%s","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"Mozilla/5.0","errorMessage":"Failed authentication","requestParameters":null,"responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAUsed":"No"},"eventID":"%s","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"000000000000","eventCategory":"Management"}`,
		at.UTC().Format(time.RFC3339), id))
}

// watchFailedSignIns wires a trail to a log group with the CIS console
// authentication failure filter, an alarm at three failures a minute and
// a topic the subscriber confirmed, all with the Debian AWS CLI.
func watchFailedSignIns(t *testing.T, s *server, sub *subscriber) (topicARN string) {
	t.Helper()
	cli := func(args ...string) string { return s.mustCLI(t, "us-east-1", args...) }
	cli("s3", "mb", "s3://watch-bucket")
	cli("cloudtrail", "create-trail", "--name", "main", "--s3-bucket-name", "watch-bucket", "--is-multi-region-trail")
	cli("cloudtrail", "start-logging", "--name", "main")
	cli("logs", "create-log-group", "--log-group-name", "trail-main")
	cli("cloudtrail", "update-trail", "--name", "main",
		"--cloud-watch-logs-log-group-arn", "arn:aws:logs:us-east-1:000000000000:log-group:trail-main:*",
		"--cloud-watch-logs-role-arn", "arn:aws:iam::000000000000:role/CloudTrail_CloudWatchLogs_Role")
	cli("logs", "put-metric-filter", "--log-group-name", "trail-main", "--filter-name", "ConsoleSignInFailures",
		"--filter-pattern", `{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }`,
		"--metric-transformations", "metricName=ConsoleSignInFailureCount,metricNamespace=CISBenchmark,metricValue=1")
	var topic struct{ TopicArn string }
	if err := json.Unmarshal([]byte(cli("sns", "create-topic", "--name", "security-alerts")), &topic); err != nil {
		t.Fatal(err)
	}
	cli("sns", "subscribe", "--topic-arn", topic.TopicArn, "--protocol", "http", "--notification-endpoint", sub.srv.URL+"/hook")
	waitFor(t, 20*time.Second, "the subscription confirmation", func() bool {
		sub.mu.Lock()
		defer sub.mu.Unlock()
		return sub.confirmed
	})
	cli("cloudwatch", "put-metric-alarm", "--alarm-name", "console-signin-failures",
		"--metric-name", "ConsoleSignInFailureCount", "--namespace", "CISBenchmark",
		"--statistic", "Sum", "--period", "60", "--evaluation-periods", "1", "--threshold", "3",
		"--comparison-operator", "GreaterThanOrEqualToThreshold", "--treat-missing-data", "notBreaching",
		"--alarm-actions", topic.TopicArn, "--ok-actions", topic.TopicArn)
	return topic.TopicArn
}

// TestWatchFailedSignInsEndToEnd is the chain: three failed console
// sign-ins within five minutes → metric → alarm → an HTTP subscriber gets
// the SNS notification naming the events → the alarm returns to OK.
func TestWatchFailedSignInsEndToEnd(t *testing.T) {
	s := startServer(t, "")
	sub := newSubscriber(t)
	watchFailedSignIns(t, s, sub)

	now := time.Now().UTC()
	var recs [][]byte
	var ids []string
	for i := range 3 {
		id := uuid("watch-signin", i)
		ids = append(ids, id)
		recs = append(recs, failedSignIn(id, now))
	}
	sent := time.Now()
	if n, _ := s.postEvents(t, "test", recs); n != 3 {
		t.Fatalf("accepted %d of 3", n)
	}
	waitFor(t, 30*time.Second, "the ALARM notification", func() bool {
		for _, a := range sub.alarmNotes(t) {
			if a.NewStateValue == "ALARM" {
				return true
			}
		}
		return false
	})
	t.Logf("ALARM notification %s after the events were sent", time.Since(sent).Round(time.Millisecond))
	// A new alarm's first evaluation (INSUFFICIENT_DATA → OK) runs its OK
	// actions too, as CloudWatch's does; the failures' notification is
	// the ALARM one.
	var alarm alarmNote
	for _, a := range sub.alarmNotes(t) {
		if a.NewStateValue == "ALARM" {
			alarm = a
			break
		}
	}
	if alarm.AlarmName != "console-signin-failures" || alarm.NewStateValue != "ALARM" {
		t.Fatalf("first notification: %+v", alarm)
	}
	for _, id := range ids {
		if !strings.Contains(alarm.Raw, id) {
			t.Errorf("the ALARM notification does not name event %s:\n%s", id, alarm.Raw)
		}
	}
	var alarms struct {
		MetricAlarms []struct{ StateValue, StateReason string }
	}
	if err := json.Unmarshal([]byte(s.mustCLI(t, "us-east-1", "cloudwatch", "describe-alarms", "--alarm-names", "console-signin-failures")), &alarms); err != nil {
		t.Fatal(err)
	}
	if len(alarms.MetricAlarms) != 1 || alarms.MetricAlarms[0].StateValue != "ALARM" {
		t.Fatalf("describe-alarms: %+v", alarms)
	}

	// No more failures: when the minute that held them is out of the
	// evaluation window, the alarm returns to OK and says so.
	waitFor(t, 150*time.Second, "the OK notification", func() bool {
		notes := sub.alarmNotes(t)
		return len(notes) >= 2 && notes[len(notes)-1].NewStateValue == "OK"
	})
	var states []string
	for _, a := range sub.alarmNotes(t) {
		states = append(states, a.OldStateValue+"→"+a.NewStateValue)
	}
	if got := strings.Join(states, " "); got != "INSUFFICIENT_DATA→OK OK→ALARM ALARM→OK" {
		t.Fatalf("notifications: %s, want INSUFFICIENT_DATA→OK OK→ALARM ALARM→OK", got)
	}
	if !strings.Contains(notesOf(sub)[len(states)-1].Raw, "Threshold Crossed") {
		t.Errorf("the OK notification gives no reason: %s", notesOf(sub)[len(states)-1].Raw)
	}
}

// TestWatchCrashRepeatsNothing kills the server in the middle of the chain
// twice: after the events are committed (the metric must not count them
// twice), and while the ALARM notification cannot be delivered (it must
// arrive once after the restart, not again).
func TestWatchCrashRepeatsNothing(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	sub := newSubscriber(t)
	watchFailedSignIns(t, s, sub)
	sub.setFail(true)

	now := time.Now().UTC()
	var recs [][]byte
	for i := range 4 {
		recs = append(recs, failedSignIn(uuid("watch-crash", i), now))
	}
	if n, _ := s.postEvents(t, "test", recs); n != 4 {
		t.Fatalf("accepted %d of 4", n)
	}
	// The notification is being tried and refused: kill the server now.
	waitFor(t, 30*time.Second, "a delivery attempt", func() bool { return sub.attemptCount() > 0 })
	s.kill()
	sub.setFail(false)

	s = startServer(t, dir)
	waitFor(t, 60*time.Second, "the ALARM notification after the restart", func() bool { return len(sub.alarmNotes(t)) > 0 })
	// Give a repeated notification every chance to arrive.
	time.Sleep(5 * time.Second)
	var alarmsSeen int
	seen := map[string]int{}
	for _, a := range sub.alarmNotes(t) {
		if a.NewStateValue == "ALARM" {
			alarmsSeen++
		}
		seen[a.MessageID]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("message %s delivered %d times", id, n)
		}
	}
	if alarmsSeen != 1 {
		t.Fatalf("ALARM notifications delivered: %d, want 1: %+v", alarmsSeen, sub.alarmNotes(t))
	}

	// The events were counted once, through the crash.
	start := now.Truncate(time.Minute).Add(-time.Minute)
	out := s.mustCLI(t, "us-east-1", "cloudwatch", "get-metric-statistics", "--namespace", "CISBenchmark",
		"--metric-name", "ConsoleSignInFailureCount", "--statistics", "Sum", "SampleCount", "--period", "300",
		"--start-time", start.Format(time.RFC3339), "--end-time", start.Add(10*time.Minute).Format(time.RFC3339))
	var stats struct {
		Datapoints []struct{ Sum, SampleCount float64 }
	}
	if err := json.Unmarshal([]byte(out), &stats); err != nil {
		t.Fatal(err)
	}
	var sum, count float64
	for _, d := range stats.Datapoints {
		sum += d.Sum
		count += d.SampleCount
	}
	if sum != 4 || count != 4 {
		t.Fatalf("after the crash the metric holds Sum %v SampleCount %v, want 4 and 4: %s", sum, count, out)
	}
}
