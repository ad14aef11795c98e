// Package cisclient is the CIS pack's view of an opentrail server
// (cis.API) over its public APIs, as any AWS client speaks them: the
// `opentrail cis` commands use it, and so does the server when its
// configuration enables the pack at start-up. It is not the pack's logic
// (internal/cis) nor a general AWS client.
package cisclient

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/cis"
	"github.com/opentrail/opentrail/internal/client"
)

// cisAPI is cis.API over a server's public APIs: CloudTrail and CloudWatch
// Logs (AWS JSON 1.1), CloudWatch (AWS JSON 1.0), SNS (the query protocol,
// XML answers) and the native endpoints, as any AWS client speaks them.
type cisAPI struct{ cl *client.Client }

// New returns the cis.API of the server cl signs requests for.
func New(cl *client.Client) cis.API { return cisAPI{cl: cl} }

func (a cisAPI) Region() string { return a.cl.Region }

// classify wraps the errors the plan tells apart.
func classify(err error) error {
	var ae *client.APIError
	if !errors.As(err, &ae) {
		return err
	}
	code := ae.Code
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if code == "" && strings.HasPrefix(strings.TrimSpace(ae.Message), "<") {
		// A query-protocol error: <ErrorResponse><Error><Code>.
		var x struct {
			Error struct{ Code, Message string } `xml:"Error"`
		}
		if xml.Unmarshal([]byte(ae.Message), &x) == nil && x.Error.Code != "" {
			code = x.Error.Code
			err = &client.APIError{Status: ae.Status, Code: x.Error.Code, Message: x.Error.Message}
		}
	}
	switch code {
	case "ResourceNotFoundException", "ResourceNotFound", "NotFound", "TrailNotFoundException":
		return fmt.Errorf("%w: %w", cis.ErrNotFound, err)
	case "ResourceAlreadyExistsException":
		return fmt.Errorf("%w: %w", cis.ErrExists, err)
	}
	return err
}

func (a cisAPI) json(ctx context.Context, service, version, target, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", op, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-"+version)
	h.Set("X-Amz-Target", target+"."+op)
	raw, err := a.cl.Do(ctx, service, http.MethodPost, "/", h, body)
	if err != nil {
		return classify(err)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("unexpected %s answer %.200q: %w", op, raw, err)
	}
	return nil
}

func (a cisAPI) trail(ctx context.Context, op string, in, out any) error {
	return a.json(ctx, "cloudtrail", "1.1", "CloudTrail_20131101", op, in, out)
}

func (a cisAPI) logs(ctx context.Context, op string, in, out any) error {
	return a.json(ctx, "logs", "1.1", "Logs_20140328", op, in, out)
}

func (a cisAPI) cloudwatch(ctx context.Context, op string, in, out any) error {
	return a.json(ctx, "monitoring", "1.0", "GraniteServiceVersion20100801", op, in, out)
}

// sns sends a query-protocol request and decodes the <OpResult> element.
func (a cisAPI) sns(ctx context.Context, op string, params url.Values, out any) error {
	params.Set("Action", op)
	params.Set("Version", "2010-03-31")
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	raw, err := a.cl.Do(ctx, "sns", http.MethodPost, "/", h, []byte(params.Encode()))
	if err != nil {
		return classify(err)
	}
	if out == nil {
		return nil
	}
	if err := xml.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("unexpected %s answer %.200q: %w", op, raw, err)
	}
	return nil
}

func (a cisAPI) DescribeTrails(ctx context.Context) ([]cis.Trail, error) {
	var out struct {
		TrailList []struct {
			Name, TrailARN, HomeRegion                       string
			IsMultiRegionTrail                               bool
			CloudWatchLogsLogGroupArn, CloudWatchLogsRoleArn string
		} `json:"trailList"`
	}
	if err := a.trail(ctx, "DescribeTrails", map[string]any{"includeShadowTrails": true}, &out); err != nil {
		return nil, err
	}
	trails := make([]cis.Trail, 0, len(out.TrailList))
	for _, t := range out.TrailList {
		trails = append(trails, cis.Trail{Name: t.Name, ARN: t.TrailARN, HomeRegion: t.HomeRegion, MultiRegion: t.IsMultiRegionTrail,
			LogGroupARN: t.CloudWatchLogsLogGroupArn, RoleARN: t.CloudWatchLogsRoleArn})
	}
	return trails, nil
}

func (a cisAPI) GetTrailStatus(ctx context.Context, arn string) (cis.TrailStatus, error) {
	var out struct{ IsLogging bool }
	err := a.trail(ctx, "GetTrailStatus", map[string]string{"Name": arn}, &out)
	return cis.TrailStatus{IsLogging: out.IsLogging}, err
}

func (a cisAPI) UpdateTrailLogs(ctx context.Context, name, group, role string) error {
	return a.trail(ctx, "UpdateTrail", map[string]string{"Name": name, "CloudWatchLogsLogGroupArn": group, "CloudWatchLogsRoleArn": role}, nil)
}

func (a cisAPI) CreateLogGroup(ctx context.Context, name string) error {
	return a.logs(ctx, "CreateLogGroup", map[string]string{"logGroupName": name}, nil)
}

func (a cisAPI) DescribeLogGroups(ctx context.Context, prefix string) ([]cis.LogGroup, error) {
	var groups []cis.LogGroup
	in := map[string]any{}
	if prefix != "" {
		in["logGroupNamePrefix"] = prefix
	}
	for {
		var out struct {
			LogGroups []struct {
				LogGroupName string `json:"logGroupName"`
				ARN          string `json:"arn"`
			} `json:"logGroups"`
			NextToken string `json:"nextToken"`
		}
		if err := a.logs(ctx, "DescribeLogGroups", in, &out); err != nil {
			return nil, err
		}
		for _, g := range out.LogGroups {
			groups = append(groups, cis.LogGroup{Name: g.LogGroupName, ARN: g.ARN})
		}
		if out.NextToken == "" {
			return groups, nil
		}
		in["nextToken"] = out.NextToken
	}
}

func (a cisAPI) DeleteLogGroup(ctx context.Context, name string) error {
	return a.logs(ctx, "DeleteLogGroup", map[string]string{"logGroupName": name}, nil)
}

type wireTransformation struct {
	MetricName      string `json:"metricName"`
	MetricNamespace string `json:"metricNamespace"`
	MetricValue     string `json:"metricValue"`
}

func (a cisAPI) PutMetricFilter(ctx context.Context, f cis.MetricFilter) error {
	return a.logs(ctx, "PutMetricFilter", map[string]any{
		"logGroupName": f.LogGroup, "filterName": f.Name, "filterPattern": f.Pattern,
		"metricTransformations": []wireTransformation{{f.MetricName, f.MetricNamespace, f.MetricValue}},
	}, nil)
}

func (a cisAPI) DescribeMetricFilters(ctx context.Context, group string) ([]cis.MetricFilter, error) {
	var filters []cis.MetricFilter
	in := map[string]any{"logGroupName": group}
	for {
		var out struct {
			MetricFilters []struct {
				FilterName            string               `json:"filterName"`
				FilterPattern         string               `json:"filterPattern"`
				LogGroupName          string               `json:"logGroupName"`
				MetricTransformations []wireTransformation `json:"metricTransformations"`
			} `json:"metricFilters"`
			NextToken string `json:"nextToken"`
		}
		if err := a.logs(ctx, "DescribeMetricFilters", in, &out); err != nil {
			return nil, err
		}
		for _, f := range out.MetricFilters {
			m := cis.MetricFilter{LogGroup: f.LogGroupName, Name: f.FilterName, Pattern: f.FilterPattern}
			if len(f.MetricTransformations) > 0 {
				t := f.MetricTransformations[0]
				m.MetricName, m.MetricNamespace, m.MetricValue = t.MetricName, t.MetricNamespace, t.MetricValue
			}
			filters = append(filters, m)
		}
		if out.NextToken == "" {
			return filters, nil
		}
		in["nextToken"] = out.NextToken
	}
}

func (a cisAPI) DeleteMetricFilter(ctx context.Context, group, name string) error {
	return a.logs(ctx, "DeleteMetricFilter", map[string]string{"logGroupName": group, "filterName": name}, nil)
}

// maxFilterPages bounds how far FilterLogEvents pages for the newest
// matching events.
const maxFilterPages = 20

func (a cisAPI) FilterLogEvents(ctx context.Context, group, pattern string, start time.Time, limit int) ([]cis.LogEvent, error) {
	in := map[string]any{"logGroupName": group, "filterPattern": pattern, "startTime": start.UnixMilli()}
	var last []cis.LogEvent
	for page := 0; page < maxFilterPages; page++ {
		var out struct {
			Events []struct {
				Timestamp int64  `json:"timestamp"`
				Message   string `json:"message"`
			} `json:"events"`
			NextToken string `json:"nextToken"`
		}
		if err := a.logs(ctx, "FilterLogEvents", in, &out); err != nil {
			return nil, err
		}
		for _, e := range out.Events {
			last = append(last, cis.LogEvent{Time: time.UnixMilli(e.Timestamp).UTC(), Message: e.Message})
		}
		if len(last) > limit {
			last = last[len(last)-limit:]
		}
		if out.NextToken == "" {
			break
		}
		in["nextToken"] = out.NextToken
	}
	return last, nil
}

func (a cisAPI) PutMetricAlarm(ctx context.Context, al cis.Alarm) error {
	return a.cloudwatch(ctx, "PutMetricAlarm", map[string]any{
		"AlarmName": al.Name, "AlarmDescription": al.Description, "ActionsEnabled": true, "AlarmActions": al.Actions,
		"MetricName": al.MetricName, "Namespace": al.Namespace, "Statistic": al.Statistic,
		"Period": al.Period, "EvaluationPeriods": al.EvaluationPeriods, "Threshold": al.Threshold,
		"ComparisonOperator": al.ComparisonOperator, "TreatMissingData": al.TreatMissingData,
	}, nil)
}

// epochTime decodes a JSON 1.0 timestamp: epoch seconds, possibly
// fractional.
type epochTime struct{ time.Time }

func (t *epochTime) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		t.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
		return nil
	}
	if s == "null" {
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	t.Time = v
	return err
}

func (a cisAPI) DescribeAlarms(ctx context.Context) ([]cis.Alarm, error) {
	var alarms []cis.Alarm
	in := map[string]any{}
	for {
		var out struct {
			MetricAlarms []struct {
				AlarmName, AlarmDescription          string
				AlarmActions                         []string
				MetricName, Namespace, Statistic     string
				Period, EvaluationPeriods            int
				Threshold                            float64
				ComparisonOperator, TreatMissingData string
				StateValue, StateReason              string
				StateUpdatedTimestamp                epochTime
			}
			NextToken string
		}
		if err := a.cloudwatch(ctx, "DescribeAlarms", in, &out); err != nil {
			return nil, err
		}
		for _, m := range out.MetricAlarms {
			alarms = append(alarms, cis.Alarm{Name: m.AlarmName, Description: m.AlarmDescription, Actions: m.AlarmActions,
				MetricName: m.MetricName, Namespace: m.Namespace, Statistic: m.Statistic, Period: m.Period, EvaluationPeriods: m.EvaluationPeriods,
				Threshold: m.Threshold, ComparisonOperator: m.ComparisonOperator, TreatMissingData: m.TreatMissingData,
				State: m.StateValue, StateReason: m.StateReason, StateUpdated: m.StateUpdatedTimestamp.Time})
		}
		if out.NextToken == "" {
			return alarms, nil
		}
		in["NextToken"] = out.NextToken
	}
}

func (a cisAPI) DeleteAlarms(ctx context.Context, names []string) error {
	// DeleteAlarms takes at most 100 names.
	for len(names) > 0 {
		n := min(len(names), 100)
		if err := a.cloudwatch(ctx, "DeleteAlarms", map[string]any{"AlarmNames": names[:n]}, nil); err != nil {
			return err
		}
		names = names[n:]
	}
	return nil
}

func (a cisAPI) CreateTopic(ctx context.Context, name string) (string, error) {
	var out struct {
		ARN string `xml:"CreateTopicResult>TopicArn"`
	}
	err := a.sns(ctx, "CreateTopic", url.Values{"Name": {name}}, &out)
	return out.ARN, err
}

func (a cisAPI) Subscribe(ctx context.Context, topic, protocol, endpoint string) (string, error) {
	var out struct {
		ARN string `xml:"SubscribeResult>SubscriptionArn"`
	}
	err := a.sns(ctx, "Subscribe", url.Values{"TopicArn": {topic}, "Protocol": {protocol}, "Endpoint": {endpoint}}, &out)
	return out.ARN, err
}

func (a cisAPI) ListSubscriptionsByTopic(ctx context.Context, topic string) ([]cis.Subscription, error) {
	var subs []cis.Subscription
	params := url.Values{"TopicArn": {topic}}
	for {
		var out struct {
			Members []struct {
				SubscriptionArn, Protocol, Endpoint string
			} `xml:"ListSubscriptionsByTopicResult>Subscriptions>member"`
			NextToken string `xml:"ListSubscriptionsByTopicResult>NextToken"`
		}
		if err := a.sns(ctx, "ListSubscriptionsByTopic", params, &out); err != nil {
			return nil, err
		}
		for _, m := range out.Members {
			subs = append(subs, cis.Subscription{ARN: m.SubscriptionArn, Protocol: m.Protocol, Endpoint: m.Endpoint})
		}
		if out.NextToken == "" {
			return subs, nil
		}
		params.Set("NextToken", out.NextToken)
	}
}

func (a cisAPI) DeleteTopic(ctx context.Context, topic string) error {
	return a.sns(ctx, "DeleteTopic", url.Values{"TopicArn": {topic}}, nil)
}

func (a cisAPI) SendEvents(ctx context.Context, recs [][]byte) error {
	h := http.Header{}
	h.Set("Content-Type", "application/x-ndjson")
	raw, err := a.cl.Do(ctx, "opentrail", http.MethodPost, "/v1/events", h, append(bytes.Join(recs, []byte("\n")), '\n'))
	if err != nil {
		return err
	}
	var r struct{ Accepted, Duplicates, Conflicts int }
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("unexpected answer of POST /v1/events %.200q: %w", raw, err)
	}
	if r.Accepted != len(recs) {
		return fmt.Errorf("the server stored %d of %d events (%d duplicates, %d conflicting)", r.Accepted, len(recs), r.Duplicates, r.Conflicts)
	}
	return nil
}

func (a cisAPI) Deliveries(ctx context.Context, topic string, since time.Time) ([]cis.Delivery, error) {
	q := url.Values{"topicArn": {topic}, "since": {since.UTC().Format(time.RFC3339)}}
	raw, err := a.cl.Do(ctx, "opentrail", http.MethodGet, "/v1/notifications?"+q.Encode(), nil, nil)
	if err != nil {
		return nil, err
	}
	var out struct {
		Deliveries []struct {
			MessageID       string    `json:"messageId"`
			TopicARN        string    `json:"topicArn"`
			SubscriptionARN string    `json:"subscriptionArn"`
			Protocol        string    `json:"protocol"`
			Endpoint        string    `json:"endpoint"`
			Subject         string    `json:"subject"`
			Attempt         int       `json:"attempt"`
			Status          string    `json:"status"`
			StatusCode      int       `json:"statusCode"`
			Error           string    `json:"error"`
			Time            time.Time `json:"time"`
		} `json:"deliveries"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("unexpected answer of GET /v1/notifications %.200q: %w", raw, err)
	}
	ds := make([]cis.Delivery, 0, len(out.Deliveries))
	for _, d := range out.Deliveries {
		ds = append(ds, cis.Delivery{MessageID: d.MessageID, TopicARN: d.TopicARN, SubscriptionARN: d.SubscriptionARN, Protocol: d.Protocol,
			Endpoint: d.Endpoint, Subject: d.Subject, Attempt: d.Attempt, Status: d.Status, StatusCode: d.StatusCode, Error: d.Error, Time: d.Time})
	}
	return ds, nil
}
