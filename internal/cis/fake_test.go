package cis

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// fakeAPI is an in-memory server: trails, log groups with their events,
// metric filters, alarms, topics, deliveries. evaluate turns the events
// sent through SendEvents into alarm states and deliveries as the real
// path does (filter → metric → Sum over the period → ALARM → notify).
type fakeAPI struct {
	region  string
	trails  []Trail
	logging map[string]bool
	groups  map[string][]LogEvent
	filters map[string][]MetricFilter // group → filters
	alarms  map[string]Alarm
	topics  map[string][]Subscription
	sent    [][]byte
	deliv   []Delivery
	calls   []string
	now     time.Time
	// confirmAfter, when positive, confirms every subscription on that
	// many-th ListSubscriptionsByTopic from now (an endpoint answering
	// the SubscriptionConfirmation a moment after Subscribe).
	confirmAfter int
	// deliverStatus is what a delivery to a confirmed subscriber gets.
	deliverStatus string
}

func newFake() *fakeAPI {
	return &fakeAPI{
		region:  "us-east-1",
		trails:  []Trail{{Name: "management-events", ARN: "arn:aws:cloudtrail:us-east-1:111122223333:trail/management-events", HomeRegion: "us-east-1", MultiRegion: true}},
		logging: map[string]bool{"arn:aws:cloudtrail:us-east-1:111122223333:trail/management-events": true},
		groups:  map[string][]LogEvent{}, filters: map[string][]MetricFilter{}, alarms: map[string]Alarm{}, topics: map[string][]Subscription{},
		now: mustTime("2026-12-05T00:00:00Z"), deliverStatus: "delivered",
	}
}

func (f *fakeAPI) log(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeAPI) Region() string { return f.region }

func (f *fakeAPI) DescribeTrails(context.Context) ([]Trail, error) {
	return slices.Clone(f.trails), nil
}

func (f *fakeAPI) GetTrailStatus(_ context.Context, arn string) (TrailStatus, error) {
	return TrailStatus{IsLogging: f.logging[arn]}, nil
}

func (f *fakeAPI) UpdateTrailLogs(_ context.Context, name, group, role string) error {
	f.log("UpdateTrail %s %s %s", name, group, role)
	for i := range f.trails {
		if f.trails[i].Name == name {
			f.trails[i].LogGroupARN, f.trails[i].RoleARN = group, role
			return nil
		}
	}
	return fmt.Errorf("trail %s: %w", name, ErrNotFound)
}

func (f *fakeAPI) groupARN(n string) string {
	return "arn:aws:logs:us-east-1:111122223333:log-group:" + n + ":*"
}

func (f *fakeAPI) CreateLogGroup(_ context.Context, name string) error {
	if _, ok := f.groups[name]; ok {
		return fmt.Errorf("log group %s: %w", name, ErrExists)
	}
	f.log("CreateLogGroup %s", name)
	f.groups[name] = []LogEvent{}
	return nil
}

func (f *fakeAPI) DescribeLogGroups(_ context.Context, prefix string) ([]LogGroup, error) {
	var out []LogGroup
	for n := range f.groups {
		if strings.HasPrefix(n, prefix) {
			out = append(out, LogGroup{Name: n, ARN: f.groupARN(n)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeAPI) DeleteLogGroup(_ context.Context, name string) error {
	if _, ok := f.groups[name]; !ok {
		return ErrNotFound
	}
	f.log("DeleteLogGroup %s", name)
	delete(f.groups, name)
	delete(f.filters, name)
	return nil
}

func (f *fakeAPI) PutMetricFilter(_ context.Context, m MetricFilter) error {
	if _, ok := f.groups[m.LogGroup]; !ok {
		return ErrNotFound
	}
	fs := f.filters[m.LogGroup]
	for i := range fs {
		if fs[i].Name == m.Name {
			fs[i] = m
			return nil
		}
	}
	f.filters[m.LogGroup] = append(fs, m)
	return nil
}

func (f *fakeAPI) DescribeMetricFilters(_ context.Context, group string) ([]MetricFilter, error) {
	return slices.Clone(f.filters[group]), nil
}

func (f *fakeAPI) DeleteMetricFilter(_ context.Context, group, name string) error {
	n := len(f.filters[group])
	f.filters[group] = slices.DeleteFunc(f.filters[group], func(m MetricFilter) bool { return m.Name == name })
	if len(f.filters[group]) == n {
		return ErrNotFound
	}
	f.log("DeleteMetricFilter %s %s", group, name)
	return nil
}

func (f *fakeAPI) FilterLogEvents(_ context.Context, group, pattern string, start time.Time, limit int) ([]LogEvent, error) {
	var out []LogEvent
	for _, e := range f.groups[group] {
		if !e.Time.Before(start) && match(pattern, []byte(e.Message)) {
			out = append(out, e)
		}
	}
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

func (f *fakeAPI) PutMetricAlarm(_ context.Context, a Alarm) error {
	if old, ok := f.alarms[a.Name]; ok {
		a.State, a.StateReason = old.State, old.StateReason
	} else {
		a.State = "INSUFFICIENT_DATA"
	}
	f.alarms[a.Name] = a
	return nil
}

func (f *fakeAPI) DescribeAlarms(context.Context) ([]Alarm, error) {
	var out []Alarm
	for _, a := range f.alarms {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeAPI) DeleteAlarms(_ context.Context, names []string) error {
	for _, n := range names {
		f.log("DeleteAlarm %s", n)
		delete(f.alarms, n)
	}
	return nil
}

func (f *fakeAPI) CreateTopic(_ context.Context, name string) (string, error) {
	arn := "arn:aws:sns:us-east-1:111122223333:" + name
	if _, ok := f.topics[arn]; !ok {
		f.log("CreateTopic %s", name)
		f.topics[arn] = []Subscription{}
	}
	return arn, nil
}

func (f *fakeAPI) Subscribe(_ context.Context, topic, protocol, endpoint string) (string, error) {
	f.log("Subscribe %s %s", protocol, endpoint)
	f.topics[topic] = append(f.topics[topic], Subscription{ARN: "PendingConfirmation", Protocol: protocol, Endpoint: endpoint})
	return "pending confirmation", nil
}

// confirm confirms every subscription of every topic.
func (f *fakeAPI) confirm() {
	for arn, subs := range f.topics {
		for i := range subs {
			subs[i].ARN = fmt.Sprintf("%s:%d", arn, i+1)
		}
	}
}

func (f *fakeAPI) ListSubscriptionsByTopic(_ context.Context, topic string) ([]Subscription, error) {
	if f.confirmAfter > 0 {
		if f.confirmAfter--; f.confirmAfter == 0 {
			f.confirm()
		}
	}
	s, ok := f.topics[topic]
	if !ok {
		return nil, fmt.Errorf("topic %s: %w", topic, ErrNotFound)
	}
	return slices.Clone(s), nil
}

func (f *fakeAPI) DeleteTopic(_ context.Context, topic string) error {
	f.log("DeleteTopic %s", topic)
	delete(f.topics, topic)
	return nil
}

func (f *fakeAPI) SendEvents(_ context.Context, recs [][]byte) error {
	f.sent = append(f.sent, recs...)
	return nil
}

func (f *fakeAPI) Deliveries(_ context.Context, topic string, since time.Time) ([]Delivery, error) {
	var out []Delivery
	for _, d := range f.deliv {
		if d.TopicARN == topic && !d.Time.Before(since) {
			out = append(out, d)
		}
	}
	return out, nil
}

// evaluate plays the server: the sent events go to the log group of the
// logging trail, matching filters feed their alarms, an alarm with at
// least one matching event goes to ALARM and its topic notifies its
// confirmed subscribers.
func (f *fakeAPI) evaluate() {
	for _, rec := range f.sent {
		for _, t := range f.trails {
			g := logGroupName(t.LogGroupARN)
			if g == "" || !f.logging[t.ARN] {
				continue
			}
			f.groups[g] = append(f.groups[g], LogEvent{Time: f.now, Message: string(rec)})
			for _, m := range f.filters[g] {
				if !match(m.Pattern, rec) {
					continue
				}
				for n, a := range f.alarms {
					if a.MetricName != m.MetricName || a.Namespace != m.MetricNamespace || a.State == "ALARM" {
						continue
					}
					a.State, a.StateReason = "ALARM", "Threshold Crossed: 1 datapoint [1.0] was greater than or equal to the threshold (1.0)."
					f.alarms[n] = a
					for _, act := range a.Actions {
						for _, s := range f.topics[act] {
							if s.Confirmed() {
								f.deliv = append(f.deliv, Delivery{MessageID: "m-" + n, TopicARN: act, SubscriptionARN: s.ARN, Protocol: s.Protocol, Endpoint: s.Endpoint,
									Subject: `ALARM: "` + n + `" in US East (N. Virginia)`, Attempt: 1, Status: f.deliverStatus, StatusCode: 200, Time: f.now})
							}
						}
					}
				}
			}
		}
	}
	f.sent = nil
}
