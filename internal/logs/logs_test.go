package logs

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/logwatch"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/store"
)

func newRouter(t *testing.T) *awsapi.Router {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	quiet := slog.New(slog.DiscardHandler)
	w, err := logwatch.New(logwatch.Config{Store: st, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Groups: w, Filters: w.Filters(), TokenKey: servicetest.TokenKey, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r := awsapi.NewRouter("logs", nil, quiet)
	svc.Register(r)
	return r
}

func TestOperationsOverTheWire(t *testing.T) {
	r := newRouter(t)
	call := func(op, body string) (int, string) {
		return servicetest.CallRouter(r, servicetest.AcctA, servicetest.RegionA, op, body)
	}
	for _, n := range []string{"g1", "g2", "g3"} {
		if code, body := call("CreateLogGroup", `{"logGroupName":"`+n+`"}`); code != 200 || body != "{}" {
			t.Fatalf("create %s: %d %s", n, code, body)
		}
	}
	code, body := call("DescribeLogGroups", `{"limit":2}`)
	var page struct {
		LogGroups []map[string]any `json:"logGroups"`
		NextToken string           `json:"nextToken"`
	}
	json.Unmarshal([]byte(body), &page)
	if code != 200 || len(page.LogGroups) != 2 || page.NextToken == "" {
		t.Fatalf("page 1: %d %s", code, body)
	}
	// The token is bound to the parameters that issued it.
	if code, body := call("DescribeLogGroups", `{"limit":2,"logGroupNamePrefix":"g","nextToken":"`+page.NextToken+`"}`); code != 400 ||
		!strings.Contains(body, `"__type":"InvalidParameterException"`) {
		t.Errorf("token with other parameters: %d %s", code, body)
	}
	if code, body := call("DescribeLogGroups", `{"limit":2,"nextToken":"`+page.NextToken+`"}`); code != 200 || !strings.Contains(body, `"logGroupName":"g3"`) ||
		strings.Contains(body, "nextToken") {
		t.Errorf("page 2: %d %s", code, body)
	}
	for _, c := range []struct{ op, body, want string }{
		{"DescribeLogGroups", `{"limit":51}`, `"message":"1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50"`},
		{"DescribeLogGroups", `{"logGroupNamePrefix":"a","logGroupNamePattern":"b"}`, `"__type":"InvalidParameterException"`},
		{"PutMetricFilter", `{"logGroupName":"g1","filterName":"f","filterPattern":"ERROR","metricTransformations":[{"metricName":"m","metricNamespace":"n","metricValue":"1","defaultValue":"7"}]}`,
			`{"__type":"SerializationException","message":"STRING_VALUE cannot be converted to Double"}`},
		{"PutMetricFilter", `{"logGroupName":"g1","filterName":"f","filterPattern":"ERROR","metricTransformations":[{"metricName":"m","metricNamespace":"n","metricValue":"1","unit":"Things"}]}`,
			`at 'metricTransformations.1.member.unit' failed to satisfy constraint: Member must satisfy enum value set: [Seconds, `},
		{"PutMetricFilter", `{"logGroupName":"g1","filterName":"f","filterPattern":"ERROR","metricTransformations":[]}`,
			`Member must have length greater than or equal to 1`},
		{"PutMetricFilter", `{"logGroupName":"nope","filterName":"f","filterPattern":"ERROR","metricTransformations":[{"metricName":"m","metricNamespace":"n","metricValue":"1"}]}`,
			`{"__type":"ResourceNotFoundException","message":"The specified log group does not exist."}`},
		{"TestMetricFilter", `{"filterPattern":"ERROR","logEventMessages":[]}`, `Member must have length greater than or equal to 1`},
		{"TestMetricFilter", `{"filterPattern":"{ $.a = 1","logEventMessages":["x"]}`,
			`{"__type":"InvalidParameterException","message":"If a filter pattern starts with '{' it must end with '}'"}`},
		{"DescribeMetricFilters", `{"filterNamePrefix":"x"}`, `"__type":"InvalidParameterException"`},
		{"DescribeLogStreams", `{"logGroupName":"g1","logStreamNamePrefix":"a","orderBy":"LastEventTime"}`,
			`"message":"Cannot order by LastEventTime with a logStreamNamePrefix."`},
		{"GetLogEvents", `{"logGroupName":"g1","logStreamName":"s","nextToken":"x/1"}`, `"message":"The specified nextToken is invalid."`},
		{"GetLogEvents", `{"logGroupName":"g1","logStreamName":"s"}`, `"message":"The specified log stream does not exist."`},
	} {
		if code, body := call(c.op, c.body); code != 400 || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: %d %s\nwant %s", c.op, c.body, code, body, c.want)
		}
	}
	if code, body := call("PutMetricFilter", `{"logGroupName":"g1","filterName":"f","filterPattern":"ERROR","metricTransformations":[{"metricName":"m","metricNamespace":"n","metricValue":"1","defaultValue":7}]}`); code != 200 {
		t.Fatalf("put: %d %s", code, body)
	}
	if _, body := call("DescribeMetricFilters", `{"logGroupName":"g1"}`); !strings.Contains(body, `"defaultValue":7.0`) {
		t.Errorf("defaultValue is not written as a double: %s", body)
	}
	if _, body := call("DescribeLogGroups", `{"logGroupNamePrefix":"g1"}`); !strings.Contains(body, `"arn":"arn:aws:logs:`+servicetest.RegionA+`:`+servicetest.AcctA+`:log-group:g1:*"`) ||
		!strings.Contains(body, `"logGroupArn":"arn:aws:logs:`+servicetest.RegionA+`:`+servicetest.AcctA+`:log-group:g1"`) || !strings.Contains(body, `"metricFilterCount":1`) {
		t.Errorf("describe g1: %s", body)
	}
}

func TestDoubleJSON(t *testing.T) {
	for v, want := range map[float64]string{7: "7.0", -0.5: "-0.5", 1e21: "1e+21", 0: "0.0", 1234567: "1.234567e+06"} {
		b, err := Double(v).MarshalJSON()
		if err != nil || string(b) != want {
			t.Errorf("%v: %s %v, want %s", v, b, err, want)
		}
		var back float64
		if err := json.Unmarshal(b, &back); err != nil || back != v {
			t.Errorf("%s reads back as %v (%v)", b, back, err)
		}
	}
}
