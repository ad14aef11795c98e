package cis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Chain is the order of the links.
var Chain = []string{LinkTrail, LinkLogGroup, LinkFilter, LinkAlarm, LinkTopic, LinkSubscriber}

// ControlStatus is one control's chain.
type ControlStatus struct {
	Control Control
	// Verdict is how the metric filter implements the control (Exact,
	// Equivalent or Missing).
	Verdict string
	Filter  *MetricFilter
	Alarm   *Alarm
	// TopicARN is the alarm action topic that exists; Subscribers are its
	// confirmed subscriptions.
	TopicARN    string
	Subscribers []Subscription
	Pending     int // subscriptions awaiting confirmation
	// Broken is the first missing link, "" when the chain is complete;
	// Fix says what to do about it.
	Broken, Fix string
	// LastEvents are the newest events of the log group matching the
	// control's pattern (newest last).
	LastEvents []LogEvent
}

// Complete reports whether every link of the chain is there.
func (s ControlStatus) Complete() bool { return s.Broken == "" }

// Report is the pack's status.
type Report struct {
	Benchmark string
	Trail     *Trail
	LogGroup  string
	Controls  []ControlStatus
}

// Broken counts the controls with a broken chain.
func (r *Report) Broken() int {
	n := 0
	for _, c := range r.Controls {
		if !c.Complete() {
			n++
		}
	}
	return n
}

// StatusOptions configure Status.
type StatusOptions struct {
	// Benchmark is the version to check against; "" = the version the
	// pack's alarms name, else DefaultVersion.
	Benchmark string
	Trail     string
	Endpoint  string
	// Match tests a pattern against a record; nil means Matches.
	Match func(pattern string, record []byte) bool
	// Since bounds the last matching events (default the last 24 hours
	// before Now); Now defaults to time.Now.
	Since     time.Duration
	Now       func() time.Time
	LastLimit int // default 3
}

// Status checks, for each control, the chain trail → log group → metric
// filter → alarm → topic → confirmed subscriber, as an auditor does: any
// filter in the trail's log group implementing the control counts, not
// only the pack's own.
func Status(ctx context.Context, api API, opts StatusOptions) (*Report, error) {
	alarms, err := api.DescribeAlarms(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe alarms: %w", err)
	}
	version := opts.Benchmark
	if version == "" {
		for _, a := range alarms {
			if v := managedVersion(a); v != "" && Managed(a) {
				version = v
				break
			}
		}
	}
	if version == "" {
		version = DefaultVersion
	}
	bench, err := Lookup(version)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	since := opts.Since
	if since == 0 {
		since = 24 * time.Hour
	}
	if opts.Match == nil {
		opts.Match = Matches
	}
	limit := opts.LastLimit
	if limit == 0 {
		limit = 3
	}
	rep := &Report{Benchmark: bench.Version}
	ep := cliHint(opts.Endpoint)

	trail, trailErr := findTrail(ctx, api, opts.Trail, opts.Endpoint)
	var filters []MetricFilter
	groupOK := false
	if trailErr == nil {
		rep.Trail = &trail
		rep.LogGroup = logGroupName(trail.LogGroupARN)
		if rep.LogGroup != "" {
			groups, err := api.DescribeLogGroups(ctx, rep.LogGroup)
			if err != nil {
				return nil, fmt.Errorf("describe log group %s: %w", rep.LogGroup, err)
			}
			groupOK = slices.ContainsFunc(groups, func(g LogGroup) bool { return g.Name == rep.LogGroup })
			if groupOK {
				if filters, err = api.DescribeMetricFilters(ctx, rep.LogGroup); err != nil {
					return nil, fmt.Errorf("describe the metric filters of %s: %w", rep.LogGroup, err)
				}
			}
		}
	}
	topics := map[string][]Subscription{} // topic ARN → subscriptions; nil value = no such topic
	topicSubs := func(arn string) ([]Subscription, bool, error) {
		if s, ok := topics[arn]; ok {
			return s, s != nil, nil
		}
		s, err := api.ListSubscriptionsByTopic(ctx, arn)
		if errors.Is(err, ErrNotFound) {
			topics[arn] = nil
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("list the subscriptions of %s: %w", arn, err)
		}
		if s == nil {
			s = []Subscription{}
		}
		topics[arn] = s
		return s, true, nil
	}

	for _, c := range bench.Controls {
		cs := ControlStatus{Control: c, Verdict: Missing}
		rep.Controls = append(rep.Controls, cs)
		st := &rep.Controls[len(rep.Controls)-1]
		switch {
		case trailErr != nil:
			st.Broken, st.Fix = LinkTrail, trailErr.Error()
			continue
		case rep.LogGroup == "":
			st.Broken, st.Fix = LinkLogGroup, fmt.Sprintf("trail %s sends its events to no log group; run `opentrail cis enable`", trail.Name)
			continue
		case !groupOK:
			st.Broken, st.Fix = LinkLogGroup, fmt.Sprintf("trail %s names log group %s, which does not exist; run `opentrail cis enable`", trail.Name, rep.LogGroup)
			continue
		}
		// The best filter: exact before equivalent, the pack's own first.
		for i := range filters {
			f := &filters[i]
			v := Check(c, f.Pattern, opts.Match)
			if v == Missing {
				continue
			}
			if st.Filter == nil || (st.Verdict == Equivalent && v == Exact) || (v == st.Verdict && f.Name == ResourceName(c)) {
				st.Filter, st.Verdict = f, v
			}
		}
		if st.Filter == nil {
			st.Broken, st.Fix = LinkFilter, fmt.Sprintf("no metric filter in %s implements control %s; run `opentrail cis enable`", rep.LogGroup, c.ID)
			continue
		}
		if ev, err := api.FilterLogEvents(ctx, rep.LogGroup, st.Filter.Pattern, now().Add(-since), limit); err == nil {
			st.LastEvents = ev
		} else {
			return nil, fmt.Errorf("filter log events of %s: %w", rep.LogGroup, err)
		}
		// Alarms on the filter's metric; the one reaching a confirmed
		// subscriber wins, the pack's own first.
		var cands []*Alarm
		for i := range alarms {
			a := &alarms[i]
			if a.MetricName == st.Filter.MetricName && a.Namespace == st.Filter.MetricNamespace {
				cands = append(cands, a)
			}
		}
		sort.SliceStable(cands, func(i, j int) bool { return cands[i].Name == ResourceName(c) && cands[j].Name != ResourceName(c) })
		if len(cands) == 0 {
			st.Broken, st.Fix = LinkAlarm, fmt.Sprintf("no alarm watches metric %s/%s of filter %s; run `opentrail cis enable`", st.Filter.MetricNamespace, st.Filter.MetricName, st.Filter.Name)
			continue
		}
		best := 0 // how far the best candidate got: 1 topic, 2 subscriber
		for _, a := range cands {
			for _, act := range a.Actions {
				if !strings.HasPrefix(act, "arn:aws:sns:") {
					continue
				}
				subs, ok, err := topicSubs(act)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
				var conf []Subscription
				pending := 0
				for _, s := range subs {
					if s.Confirmed() {
						conf = append(conf, s)
					} else {
						pending++
					}
				}
				got := 1
				if len(conf) > 0 {
					got = 2
				}
				if got > best || st.Alarm == nil {
					st.Alarm, st.TopicARN, st.Subscribers, st.Pending = a, act, conf, pending
					best = got
				}
			}
			if best == 2 {
				break
			}
		}
		if st.Alarm == nil {
			st.Alarm = cands[0]
		}
		switch best {
		case 0:
			st.Broken, st.Fix = LinkTopic, fmt.Sprintf("alarm %s notifies no existing topic; run `opentrail cis enable`", st.Alarm.Name)
		case 1:
			st.Broken = LinkSubscriber
			if st.Pending > 0 {
				st.Fix = fmt.Sprintf("topic %s has %d subscription(s) awaiting confirmation and none confirmed: confirm it (the endpoint received a SubscriptionConfirmation message) or add another with `opentrail cis enable --notify URL|EMAIL`", st.TopicARN, st.Pending)
			} else {
				st.Fix = fmt.Sprintf("topic %s has no subscriber, so the alarm reaches no one; add one with `opentrail cis enable --notify URL|EMAIL`", st.TopicARN)
			}
		}
	}
	_ = ep
	return rep, nil
}

// EventSummary is what the status shows of a matching event: its name,
// its caller (the ARN, else the identity type) and whether it is a `cis
// test` event (additionalEventData.opentrailSynthetic).
func EventSummary(e LogEvent) (name, who string, synthetic bool) {
	var r struct {
		EventName    string `json:"eventName"`
		UserIdentity struct {
			ARN, Type string
		} `json:"userIdentity"`
		AdditionalEventData struct {
			Synthetic bool `json:"opentrailSynthetic"`
		} `json:"additionalEventData"`
	}
	json.Unmarshal([]byte(e.Message), &r)
	who = r.UserIdentity.ARN
	if who == "" {
		who = r.UserIdentity.Type
	}
	return r.EventName, who, r.AdditionalEventData.Synthetic
}
