package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// cisWire is a fake server speaking the wire shapes cis uses: CloudTrail
// and Logs in JSON 1.1, CloudWatch in JSON 1.0, SNS in the query protocol
// with XML answers, and the native events and notifications endpoints.
type cisWire struct {
	t        *testing.T
	mu       sync.Mutex
	trail    map[string]any
	logging  bool
	groups   map[string]bool
	filters  map[string]map[string]map[string]any // group → name → filter
	alarms   map[string]map[string]any
	topics   map[string][]map[string]string
	events   []string
	deliv    []map[string]any
	requests []string
}

func newCISWire(t *testing.T) *cisWire {
	return &cisWire{t: t, logging: true,
		trail: map[string]any{"Name": "management-events", "TrailARN": "arn:aws:cloudtrail:us-east-1:111122223333:trail/management-events",
			"HomeRegion": "us-east-1", "IsMultiRegionTrail": true, "S3BucketName": "audit"},
		groups: map[string]bool{}, filters: map[string]map[string]map[string]any{}, alarms: map[string]map[string]any{}, topics: map[string][]map[string]string{}}
}

func (w *cisWire) jsonErr(rw http.ResponseWriter, code, msg string) {
	rw.Header().Set("Content-Type", "application/x-amz-json-1.1")
	rw.WriteHeader(400)
	json.NewEncoder(rw).Encode(map[string]string{"__type": code, "message": msg})
}

func (w *cisWire) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !strings.Contains(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		w.t.Errorf("%s %s unsigned", r.Method, r.URL)
	}
	body, _ := io.ReadAll(r.Body)
	target := r.Header.Get("X-Amz-Target")
	ct := r.Header.Get("Content-Type")
	svc, op, _ := strings.Cut(target, ".")
	var in map[string]any
	if svc != "" {
		json.Unmarshal(body, &in)
	}
	w.requests = append(w.requests, target)
	str := func(k string) string { s, _ := in[k].(string); return s }
	out := map[string]any{}
	switch {
	case svc == "CloudTrail_20131101":
		if ct != "application/x-amz-json-1.1" {
			w.t.Errorf("%s content type %q", target, ct)
		}
		switch op {
		case "DescribeTrails":
			out["trailList"] = []any{w.trail}
		case "GetTrailStatus":
			out["IsLogging"] = w.logging
		case "UpdateTrail":
			for _, k := range []string{"CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn"} {
				if v := str(k); v != "" {
					w.trail[k] = v
				} else {
					delete(w.trail, k)
				}
			}
			out = w.trail
		}
	case svc == "Logs_20140328":
		if ct != "application/x-amz-json-1.1" {
			w.t.Errorf("%s content type %q", target, ct)
		}
		g := str("logGroupName")
		switch op {
		case "CreateLogGroup":
			if w.groups[g] {
				w.jsonErr(rw, "ResourceAlreadyExistsException", "The specified log group already exists")
				return
			}
			w.groups[g] = true
			w.filters[g] = map[string]map[string]any{}
		case "DescribeLogGroups":
			var gs []any
			names := make([]string, 0, len(w.groups))
			for n := range w.groups {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				if strings.HasPrefix(n, str("logGroupNamePrefix")) {
					gs = append(gs, map[string]any{"logGroupName": n, "arn": "arn:aws:logs:us-east-1:111122223333:log-group:" + n + ":*"})
				}
			}
			out["logGroups"] = gs
		case "DeleteLogGroup":
			delete(w.groups, g)
			delete(w.filters, g)
		case "PutMetricFilter":
			if !w.groups[g] {
				w.jsonErr(rw, "ResourceNotFoundException", "The specified log group does not exist.")
				return
			}
			w.filters[g][str("filterName")] = in
		case "DescribeMetricFilters":
			var fs []any
			for _, f := range w.filters[g] {
				fs = append(fs, f)
			}
			out["metricFilters"] = fs
		case "DeleteMetricFilter":
			delete(w.filters[g], str("filterName"))
		case "FilterLogEvents":
			var evs []any
			for i, e := range w.events {
				if strings.Contains(e, `"errorMessage":"Failed authentication"`) && strings.Contains(str("filterPattern"), "Failed authentication") {
					evs = append(evs, map[string]any{"timestamp": time.Now().Add(-time.Duration(len(w.events)-i) * time.Minute).UnixMilli(), "message": e, "eventId": fmt.Sprint(i)})
				}
			}
			out["events"] = evs
		}
	case svc == "GraniteServiceVersion20100801":
		if ct != "application/x-amz-json-1.0" {
			w.t.Errorf("%s content type %q", target, ct)
		}
		switch op {
		case "PutMetricAlarm":
			in["StateValue"] = "INSUFFICIENT_DATA"
			if old := w.alarms[str("AlarmName")]; old != nil {
				in["StateValue"] = old["StateValue"]
			}
			in["StateUpdatedTimestamp"] = 1.7649e9
			w.alarms[str("AlarmName")] = in
		case "DescribeAlarms":
			var as []any
			for _, a := range w.alarms {
				as = append(as, a)
			}
			out["MetricAlarms"] = as
		case "DeleteAlarms":
			for _, n := range in["AlarmNames"].([]any) {
				delete(w.alarms, n.(string))
			}
		}
	case r.URL.Path == "/v1/events":
		for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			w.events = append(w.events, l)
			// Play the server: the alarm fires and the topic delivers.
			if a := w.alarms["CIS-console-auth-failures"]; a != nil && strings.Contains(l, "Failed authentication") {
				a["StateValue"], a["StateReason"] = "ALARM", "Threshold Crossed: 1 datapoint [1.0 (05/12/26 00:00:00)] was greater than or equal to the threshold (1.0)."
				for _, s := range w.topics[a["AlarmActions"].([]any)[0].(string)] {
					w.deliv = append(w.deliv, map[string]any{"messageId": "9f1c", "topicArn": s["TopicArn"], "subscriptionArn": s["SubscriptionArn"],
						"protocol": s["Protocol"], "endpoint": s["Endpoint"], "subject": `ALARM: "CIS-console-auth-failures" in US East (N. Virginia)`,
						"attempt": 1, "status": "delivered", "statusCode": 200, "time": time.Now().UTC().Format(time.RFC3339Nano)})
				}
			}
		}
		json.NewEncoder(rw).Encode(map[string]int{"accepted": strings.Count(strings.TrimSpace(string(body)), "\n") + 1})
		return
	case r.URL.Path == "/v1/notifications":
		if r.URL.Query().Get("topicArn") == "" || r.URL.Query().Get("since") == "" {
			w.t.Errorf("notifications query %s", r.URL.RawQuery)
		}
		json.NewEncoder(rw).Encode(map[string]any{"deliveries": w.deliv})
		return
	default: // SNS, query protocol
		form, _ := url.ParseQuery(string(body))
		if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") || form.Get("Version") != "2010-03-31" {
			w.t.Errorf("SNS request %q content type %q", body, ct)
		}
		w.requests[len(w.requests)-1] = "sns." + form.Get("Action")
		w.snsServe(rw, form)
		return
	}
	rw.Header().Set("Content-Type", ct)
	json.NewEncoder(rw).Encode(out)
}

func (w *cisWire) snsServe(rw http.ResponseWriter, form url.Values) {
	op := form.Get("Action")
	topic := form.Get("TopicArn")
	var result string
	switch op {
	case "CreateTopic":
		topic = "arn:aws:sns:us-east-1:111122223333:" + form.Get("Name")
		if _, ok := w.topics[topic]; !ok {
			w.topics[topic] = []map[string]string{}
		}
		result = "<TopicArn>" + topic + "</TopicArn>"
	case "Subscribe":
		w.topics[topic] = append(w.topics[topic], map[string]string{"TopicArn": topic, "SubscriptionArn": "PendingConfirmation", "Protocol": form.Get("Protocol"), "Endpoint": form.Get("Endpoint")})
		result = "<SubscriptionArn>pending confirmation</SubscriptionArn>"
	case "ListSubscriptionsByTopic":
		subs, ok := w.topics[topic]
		if !ok {
			rw.WriteHeader(404)
			fmt.Fprintf(rw, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error><RequestId>1</RequestId></ErrorResponse>`)
			return
		}
		var b bytes.Buffer
		b.WriteString("<Subscriptions>")
		for _, s := range subs {
			b.WriteString("<member>")
			for _, k := range []string{"TopicArn", "Protocol", "SubscriptionArn", "Endpoint"} {
				b.WriteString("<" + k + ">")
				xml.EscapeText(&b, []byte(s[k]))
				b.WriteString("</" + k + ">")
			}
			b.WriteString("<Owner>111122223333</Owner></member>")
		}
		b.WriteString("</Subscriptions>")
		result = b.String()
	case "DeleteTopic":
		delete(w.topics, topic)
	}
	rw.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(rw, `<%sResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><%sResult>%s</%sResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></%sResponse>`, op, op, result, op, op)
}

func (w *cisWire) confirm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for arn, subs := range w.topics {
		for i, s := range subs {
			s["SubscriptionArn"] = fmt.Sprintf("%s:%d", arn, i+1)
		}
	}
}

func runCIS(t *testing.T, srv *httptest.Server, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader("")}
	code = Main(context.Background(), append(append([]string{"cis"}, args...), "--endpoint", srv.URL), env)
	return out.String(), errb.String(), code
}

func TestCISCommands(t *testing.T) {
	w := newCISWire(t)
	srv := httptest.NewServer(w)
	defer srv.Close()

	out, errs, code := runCIS(t, srv, "enable", "--benchmark", "v3.0", "--notify", "http://127.0.0.1:9999/hook", "--notify", "security@example.com")
	if code != 0 {
		t.Fatalf("enable: %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"Benchmark v3.0.0 monitoring enabled for trail management-events", "log group    opentrail-cis-management-events",
		"15 metric filters and alarms", "subscriber   http http://127.0.0.1:9999/hook (pending confirmation)", "warning: no subscriber has confirmed yet"} {
		if !strings.Contains(out, want) {
			t.Errorf("enable output lacks %q:\n%s", want, out)
		}
	}
	if w.trail["CloudWatchLogsLogGroupArn"] != "arn:aws:logs:us-east-1:111122223333:log-group:opentrail-cis-management-events:*" ||
		w.trail["CloudWatchLogsRoleArn"] != "arn:aws:iam::111122223333:role/opentrail-cis-cloudtrail-logs" {
		t.Errorf("trail = %v", w.trail)
	}
	f := w.filters["opentrail-cis-management-events"]["CIS-unauthorized-api-calls"]
	if f["filterPattern"] != `{ ($.errorCode ="*UnauthorizedOperation") || ($.errorCode ="AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }` {
		t.Errorf("filter = %v", f)
	}
	if tr := f["metricTransformations"].([]any)[0].(map[string]any); tr["metricNamespace"] != "CISBenchmark" || tr["metricValue"] != "1" || tr["metricName"] != "UnauthorizedAPICalls" {
		t.Errorf("transformation = %v", tr)
	}
	a := w.alarms["CIS-root-account-usage"]
	if a["Statistic"] != "Sum" || a["Period"] != 300.0 || a["EvaluationPeriods"] != 1.0 || a["Threshold"] != 1.0 || a["TreatMissingData"] != "notBreaching" ||
		a["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || a["ActionsEnabled"] != true || !strings.HasPrefix(a["AlarmDescription"].(string), "managed by opentrail cis") {
		t.Errorf("alarm = %v", a)
	}

	// Pending subscriptions: status says BROKEN and exits 1.
	out, errs, code = runCIS(t, srv, "status")
	if code != 1 || !strings.Contains(out, "BROKEN: no confirmed subscriber") || !strings.Contains(out, "BROKEN: 15 of 15 controls cannot notify anyone") ||
		!strings.Contains(out, "awaiting confirmation") {
		t.Errorf("status before confirmation: %d\n%s\n%s", code, out, errs)
	}
	w.confirm()
	out, errs, code = runCIS(t, srv, "status")
	if code != 0 || strings.Contains(out, "BROKEN") || !strings.Contains(out, "all 15 controls complete") ||
		!strings.Contains(out, "4.6  ") || !strings.Contains(out, "CIS-console-auth-failures (exact)") ||
		!strings.Contains(out, "  4.6   { ($.eventName = ConsoleLogin) && ($.errorMessage = \"Failed authentication\") }\n") {
		t.Errorf("status after confirmation: %d\n%s\n%s", code, out, errs)
	}

	// cis test: the synthetic event goes through POST /v1/events and the
	// delivery shows up in /v1/notifications.
	out, errs, code = runCIS(t, srv, "test", "CloudWatch.6", "--timeout", "20s")
	if code != 0 || !strings.Contains(out, "sent synthetic event") || !strings.Contains(out, "alarm CIS-console-auth-failures is ALARM") ||
		!strings.Contains(out, "http://127.0.0.1:9999/hook: delivered, attempt 1 (HTTP 200)") || !strings.Contains(out, "OK: control 4.6") {
		t.Errorf("test: %d\n%s\n%s", code, out, errs)
	}
	if len(w.events) != 1 || !strings.Contains(w.events[0], `"opentrailSynthetic":true`) || !strings.Contains(w.events[0], `"recipientAccountId":"111122223333"`) {
		t.Errorf("events sent = %v", w.events)
	}
	out, _, _ = runCIS(t, srv, "status", "--json")
	var js []cisStatusJSON
	if err := json.Unmarshal([]byte(out), &js); err != nil || len(js) != 15 {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if js[5].ID != "4.6" || js[5].State != "ALARM" || len(js[5].LastEvents) != 1 || !js[5].Complete || js[5].Filter.Match != "exact" || len(js[5].Subscribers) != 2 {
		t.Errorf("status --json 4.6 = %+v", js[5])
	}

	// A user's alarm on the pack's topic keeps the topic; the rest goes.
	w.alarms["mine"] = map[string]any{"AlarmName": "mine", "AlarmActions": []any{"arn:aws:sns:us-east-1:111122223333:opentrail-cis-alerts"}}
	out, errs, code = runCIS(t, srv, "disable")
	if code != 0 || !strings.Contains(out, "removed 15 alarms and 15 metric filters") || !strings.Contains(out, "deleted log group opentrail-cis-management-events") ||
		!strings.Contains(out, "kept topic") {
		t.Errorf("disable: %d\n%s\n%s", code, out, errs)
	}
	if len(w.alarms) != 1 || len(w.groups) != 0 || w.trail["CloudWatchLogsLogGroupArn"] != nil || len(w.topics) != 1 {
		t.Errorf("after disable: alarms %d groups %v trail %v topics %d", len(w.alarms), w.groups, w.trail, len(w.topics))
	}
}

func TestCISErrors(t *testing.T) {
	w := newCISWire(t)
	w.logging = false
	srv := httptest.NewServer(w)
	defer srv.Close()
	_, errs, code := runCIS(t, srv, "enable")
	if code != 1 || !strings.Contains(errs, "is not logging; start it: aws cloudtrail start-logging --name management-events --endpoint-url "+srv.URL) {
		t.Errorf("enable on a stopped trail: %d %s", code, errs)
	}
	w.trail["IsMultiRegionTrail"] = false
	_, errs, code = runCIS(t, srv, "enable")
	if code != 1 || !strings.Contains(errs, "aws cloudtrail create-trail --name management-events --s3-bucket-name BUCKET --is-multi-region-trail") {
		t.Errorf("enable without a multi-region trail: %d %s", code, errs)
	}
	out, _, code := runCIS(t, srv, "status")
	if code != 1 || !strings.Contains(out, "BROKEN: no trail") {
		t.Errorf("status without a trail: %d %s", code, out)
	}
	_, errs, code = runCIS(t, srv, "enable", "--benchmark", "v9")
	if code != 1 || !strings.Contains(errs, "unknown CIS benchmark version") {
		t.Errorf("bad benchmark: %d %s", code, errs)
	}
	_, errs, code = runCIS(t, srv, "frobnicate")
	if code != 2 || !strings.Contains(errs, "want enable, status, test or disable") {
		t.Errorf("bad subcommand: %d %s", code, errs)
	}
	_, _, code = runCIS(t, srv, "test")
	if code != 2 {
		t.Errorf("test without a control: %d", code)
	}
	if len(w.alarms)+len(w.groups)+len(w.topics) != 0 {
		t.Errorf("refused commands made things: %v %v %v", w.alarms, w.groups, w.topics)
	}
}
