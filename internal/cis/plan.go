package cis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Names of what enable makes.
const (
	// NamePrefix starts the name of every metric filter and alarm the pack
	// makes: "CIS-" + the control's Key.
	NamePrefix = "CIS-"
	// LogGroupPrefix starts the log group the pack makes for a trail that
	// has none: "opentrail-cis-" + the trail's name.
	LogGroupPrefix = "opentrail-cis-"
	// TopicName is the topic the alarms notify.
	TopicName = "opentrail-cis-alerts"
	// RoleName is the role named in the trail's CloudWatchLogsRoleArn
	// when the trail has none (opentrail writes the log group itself; the
	// ARN is there because CloudTrail and scanners expect one).
	RoleName = "opentrail-cis-cloudtrail-logs"
	// Marker starts the description of every alarm the pack makes; disable
	// removes exactly the alarms carrying it.
	Marker = "managed by opentrail cis"
)

// ResourceName is the name of the control's metric filter and alarm.
func ResourceName(c Control) string { return NamePrefix + c.Key }

// LogGroupName is the log group enable makes for trail.
func LogGroupName(trail string) string { return LogGroupPrefix + trail }

// describe is the alarm description of a control.
func describe(version string, c Control) string {
	ref := c.ID
	if c.SecurityHub != "" {
		ref += ", " + c.SecurityHub
	}
	return fmt.Sprintf("%s (CIS AWS Foundations Benchmark %s %s): %s", Marker, version, ref, c.Title)
}

var markerVersion = regexp.MustCompile(`^` + regexp.QuoteMeta(Marker) + ` \(CIS AWS Foundations Benchmark (v[0-9.]+) `)

// managedVersion returns the benchmark version a managed alarm's
// description names, or "" for an alarm the pack did not make.
func managedVersion(a Alarm) string {
	m := markerVersion.FindStringSubmatch(a.Description)
	if m == nil {
		return ""
	}
	return m[1]
}

// Managed reports whether the pack made the alarm.
func Managed(a Alarm) bool {
	return strings.HasPrefix(a.Description, Marker) && strings.HasPrefix(a.Name, NamePrefix)
}

// accountOf returns the account of an ARN, or "".
func accountOf(arn string) string {
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 6 {
		return ""
	}
	return p[4]
}

// logGroupName returns the log group an ARN
// (arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]) names, or "".
func logGroupName(arn string) string {
	_, rest, ok := strings.Cut(arn, ":log-group:")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(rest, ":*")
}

// Notify is one subscriber of the alerts topic.
type Notify struct{ Protocol, Endpoint string }

// ParseNotify turns a --notify value into a subscription: an http:// or
// https:// URL subscribes with protocol http or https (a Slack incoming
// webhook, https://hooks.slack.com/..., is an https subscription whose
// messages the server sends in Slack's shape); an e-mail address (or
// mailto:address) subscribes with protocol email.
func ParseNotify(s string) (Notify, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return Notify{}, fmt.Errorf("--notify %q is not a valid URL; give an http(s) URL or an e-mail address", s)
		}
		return Notify{Protocol: u.Scheme, Endpoint: s}, nil
	case strings.HasPrefix(s, "mailto:"):
		s = strings.TrimPrefix(s, "mailto:")
		fallthrough
	case emailRE.MatchString(s):
		if !emailRE.MatchString(s) {
			break
		}
		return Notify{Protocol: "email", Endpoint: s}, nil
	}
	return Notify{}, fmt.Errorf("--notify %q is neither an http(s) URL nor an e-mail address; give e.g. https://hooks.example.com/cis or security@example.com", s)
}

var emailRE = regexp.MustCompile(`^[^@\s/:]+@[^@\s/:]+\.[^@\s/:]+$`)

// EnableOptions configure Enable.
type EnableOptions struct {
	Benchmark string   // any spelling NormalizeVersion accepts; "" = DefaultVersion
	Notify    []string // --notify values
	Trail     string   // the trail to use; "" = the account's multi-region trail that is logging
	// Endpoint, when set, is the server's URL, quoted in the commands the
	// errors suggest.
	Endpoint string
	// Progress, when set, is told each step.
	Progress func(string)
	// ConfirmWait, when positive, is how long Enable waits for the http(s)
	// subscriptions awaiting confirmation to be confirmed (an endpoint
	// that can answers the SubscriptionConfirmation within a second), so
	// that its result says whether anyone will be notified. Zero waits
	// not at all.
	ConfirmWait time.Duration
}

// EnableResult is what Enable did.
type EnableResult struct {
	Benchmark     string
	Trail         Trail
	LogGroup      string
	TopicARN      string
	Controls      []Control
	Subscriptions []Subscription // every subscription of the topic after enable
	Removed       []string       // managed alarms of controls not in this benchmark, removed
}

func say(f func(string), format string, args ...any) {
	if f != nil {
		f(fmt.Sprintf(format, args...))
	}
}

func cliHint(endpoint string) string {
	if endpoint == "" {
		return ""
	}
	return " --endpoint-url " + endpoint
}

// findTrail picks the trail the pack watches: name when given, else the
// account's multi-region trail that is logging (the one already wired to
// a log group when there are several).
func findTrail(ctx context.Context, api API, name, endpoint string) (Trail, error) {
	trails, err := api.DescribeTrails(ctx)
	if err != nil {
		return Trail{}, fmt.Errorf("describe trails: %w", err)
	}
	region := api.Region()
	ep := cliHint(endpoint)
	if name != "" {
		for _, t := range trails {
			if t.Name != name && t.ARN != name {
				continue
			}
			if !t.MultiRegion {
				return Trail{}, fmt.Errorf("trail %s is not a multi-region trail, which the CIS benchmark requires; make it one: aws cloudtrail update-trail --name %s --is-multi-region-trail%s", t.Name, t.Name, ep)
			}
			if t.HomeRegion != "" && t.HomeRegion != region {
				return Trail{}, fmt.Errorf("trail %s lives in %s; run the command with --region %s", t.Name, t.HomeRegion, t.HomeRegion)
			}
			st, err := api.GetTrailStatus(ctx, t.ARN)
			if err != nil {
				return Trail{}, fmt.Errorf("get the status of trail %s: %w", t.Name, err)
			}
			if !st.IsLogging {
				return Trail{}, fmt.Errorf("trail %s is not logging; start it: aws cloudtrail start-logging --name %s%s", t.Name, t.Name, ep)
			}
			return t, nil
		}
		return Trail{}, fmt.Errorf("no trail named %s in %s; list the trails with `opentrail trails`", name, region)
	}
	var logging []Trail
	var elsewhere, stopped []string
	for _, t := range trails {
		if !t.MultiRegion {
			continue
		}
		if t.HomeRegion != "" && t.HomeRegion != region {
			elsewhere = append(elsewhere, t.Name+" ("+t.HomeRegion+")")
			continue
		}
		st, err := api.GetTrailStatus(ctx, t.ARN)
		if err != nil {
			return Trail{}, fmt.Errorf("get the status of trail %s: %w", t.Name, err)
		}
		if !st.IsLogging {
			stopped = append(stopped, t.Name)
			continue
		}
		logging = append(logging, t)
	}
	switch {
	case len(logging) == 1:
		return logging[0], nil
	case len(logging) > 1:
		for _, t := range logging {
			if t.LogGroupARN != "" {
				return t, nil
			}
		}
		names := make([]string, len(logging))
		for i, t := range logging {
			names[i] = t.Name
		}
		return Trail{}, fmt.Errorf("several multi-region trails are logging (%s); choose one with --trail NAME", strings.Join(names, ", "))
	case len(stopped) > 0:
		return Trail{}, fmt.Errorf("multi-region trail %s is not logging; start it: aws cloudtrail start-logging --name %s%s", stopped[0], stopped[0], ep)
	case len(elsewhere) > 0:
		return Trail{}, fmt.Errorf("the multi-region trail %s has another home region; run the command with --region set to it", elsewhere[0])
	}
	return Trail{}, fmt.Errorf("this account has no multi-region trail, which the CIS benchmark watches; create and start one, e.g.\n"+
		"  aws cloudtrail create-trail --name management-events --s3-bucket-name BUCKET --is-multi-region-trail%s\n"+
		"  aws cloudtrail start-logging --name management-events%s\nthen run `opentrail cis enable` again", ep, ep)
}

// Enable sets up the pack for the account's multi-region trail: its log
// group (the trail's own, or opentrail-cis-<trail> wired to the trail), a
// metric filter and an alarm per control of the benchmark, the alerts
// topic and a subscription per opts.Notify. Running it again converges:
// nothing is duplicated, patterns and alarms are rewritten to the chosen
// benchmark, and the pack's alarms of controls the benchmark lacks go.
func Enable(ctx context.Context, api API, opts EnableOptions) (*EnableResult, error) {
	version := opts.Benchmark
	if version == "" {
		version = DefaultVersion
	}
	bench, err := Lookup(version)
	if err != nil {
		return nil, err
	}
	var notify []Notify
	for _, s := range opts.Notify {
		n, err := ParseNotify(s)
		if err != nil {
			return nil, err
		}
		notify = append(notify, n)
	}
	trail, err := findTrail(ctx, api, opts.Trail, opts.Endpoint)
	if err != nil {
		return nil, err
	}
	res := &EnableResult{Benchmark: bench.Version, Trail: trail, Controls: bench.Controls}
	say(opts.Progress, "trail %s (%s) is multi-region and logging", trail.Name, trail.ARN)

	// The log group: the trail's own when it has one, else ours.
	group := logGroupName(trail.LogGroupARN)
	wire := group == ""
	if wire {
		group = LogGroupName(trail.Name)
	}
	if err := api.CreateLogGroup(ctx, group); err != nil && !errors.Is(err, ErrExists) {
		return nil, fmt.Errorf("create log group %s: %w", group, err)
	}
	groupARN, err := logGroupARN(ctx, api, group)
	if err != nil {
		return nil, err
	}
	res.LogGroup = group
	if wire {
		role := trail.RoleARN
		if role == "" {
			role = fmt.Sprintf("arn:aws:iam::%s:role/%s", accountOf(trail.ARN), RoleName)
		}
		if err := api.UpdateTrailLogs(ctx, trail.Name, groupARN, role); err != nil {
			return nil, fmt.Errorf("send trail %s to log group %s (UpdateTrail): %w", trail.Name, group, err)
		}
		res.Trail.LogGroupARN, res.Trail.RoleARN = groupARN, role
		say(opts.Progress, "trail %s now sends its events to log group %s", trail.Name, group)
	} else {
		say(opts.Progress, "trail %s already sends its events to log group %s; using it", trail.Name, group)
	}

	topicARN, err := api.CreateTopic(ctx, TopicName)
	if err != nil {
		return nil, fmt.Errorf("create topic %s: %w", TopicName, err)
	}
	res.TopicARN = topicARN
	subs, err := api.ListSubscriptionsByTopic(ctx, topicARN)
	if err != nil {
		return nil, fmt.Errorf("list the subscriptions of %s: %w", topicARN, err)
	}
	for _, n := range notify {
		if slices.ContainsFunc(subs, func(s Subscription) bool { return s.Protocol == n.Protocol && s.Endpoint == n.Endpoint }) {
			say(opts.Progress, "%s is already subscribed", n.Endpoint)
			continue
		}
		arn, err := api.Subscribe(ctx, topicARN, n.Protocol, n.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("subscribe %s to %s: %w", n.Endpoint, topicARN, err)
		}
		say(opts.Progress, "subscribed %s (%s)", n.Endpoint, n.Protocol)
		subs = append(subs, Subscription{ARN: arn, Protocol: n.Protocol, Endpoint: n.Endpoint})
	}
	if subs, err = api.ListSubscriptionsByTopic(ctx, topicARN); err != nil {
		return nil, fmt.Errorf("list the subscriptions of %s: %w", topicARN, err)
	}
	for deadline := time.Now().Add(opts.ConfirmWait); slices.ContainsFunc(subs, pendingHTTP) && time.Now().Before(deadline); {
		t := time.NewTimer(confirmPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		if subs, err = api.ListSubscriptionsByTopic(ctx, topicARN); err != nil {
			return nil, fmt.Errorf("list the subscriptions of %s: %w", topicARN, err)
		}
	}
	res.Subscriptions = subs

	keep := map[string]bool{}
	for _, c := range bench.Controls {
		name := ResourceName(c)
		keep[name] = true
		f := MetricFilter{LogGroup: group, Name: name, Pattern: c.Pattern, MetricName: c.MetricName, MetricNamespace: Namespace, MetricValue: "1"}
		if err := api.PutMetricFilter(ctx, f); err != nil {
			return nil, fmt.Errorf("put metric filter %s (control %s): %w", name, c.ID, err)
		}
		if err := api.PutMetricAlarm(ctx, alarmFor(bench.Version, c, topicARN)); err != nil {
			return nil, fmt.Errorf("put metric alarm %s (control %s): %w", name, c.ID, err)
		}
	}
	say(opts.Progress, "%d metric filters and alarms of CIS %s in place", len(bench.Controls), bench.Version)

	// Controls of another benchmark version that this one lacks.
	alarms, err := api.DescribeAlarms(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe alarms: %w", err)
	}
	for _, a := range alarms {
		if Managed(a) && !keep[a.Name] {
			if err := api.DeleteAlarms(ctx, []string{a.Name}); err != nil {
				return nil, fmt.Errorf("delete alarm %s: %w", a.Name, err)
			}
			if err := api.DeleteMetricFilter(ctx, group, a.Name); err != nil && !errors.Is(err, ErrNotFound) {
				return nil, fmt.Errorf("delete metric filter %s: %w", a.Name, err)
			}
			res.Removed = append(res.Removed, a.Name)
		}
	}
	return res, nil
}

// confirmPoll is how often Enable looks for confirmations (ConfirmWait).
const confirmPoll = 100 * time.Millisecond

// pendingHTTP reports whether s is an http(s) subscription awaiting
// confirmation.
func pendingHTTP(s Subscription) bool {
	return (s.Protocol == "http" || s.Protocol == "https") && !s.Confirmed()
}

func alarmFor(version string, c Control, topicARN string) Alarm {
	return Alarm{
		Name: ResourceName(c), Description: describe(version, c),
		MetricName: c.MetricName, Namespace: Namespace, Statistic: AlarmStatistic,
		Period: AlarmPeriod, EvaluationPeriods: AlarmEvaluation, Threshold: AlarmThreshold,
		ComparisonOperator: AlarmComparison, TreatMissingData: AlarmTreatMissingData,
		Actions: []string{topicARN},
	}
}

func logGroupARN(ctx context.Context, api API, name string) (string, error) {
	groups, err := api.DescribeLogGroups(ctx, name)
	if err != nil {
		return "", fmt.Errorf("describe log group %s: %w", name, err)
	}
	for _, g := range groups {
		if g.Name == name {
			if !strings.HasSuffix(g.ARN, ":*") {
				return g.ARN + ":*", nil // CloudTrail wants the ARN with :*
			}
			return g.ARN, nil
		}
	}
	return "", fmt.Errorf("log group %s is not listed by DescribeLogGroups after it was created", name)
}

// Links of the chain Status checks, in order.
const (
	LinkTrail      = "trail"
	LinkLogGroup   = "log group"
	LinkFilter     = "metric filter"
	LinkAlarm      = "alarm"
	LinkTopic      = "topic"
	LinkSubscriber = "confirmed subscriber"
)

// TestOptions configure Test.
type TestOptions struct {
	Timeout  time.Duration // default 60 s
	Interval time.Duration // polling interval, default 1 s
	Now      func() time.Time
	Sleep    func(ctx context.Context, d time.Duration) error
	Progress func(string)
	Match    func(pattern string, record []byte) bool // nil means Matches
}

// TestResult is what Test saw.
type TestResult struct {
	Control    Control
	EventID    string
	Alarm      string
	AlarmState string
	Delivered  []Delivery
}

// ErrTimeout is wrapped by Test's error when nothing arrived in time.
var ErrTimeout = errors.New("timed out")

// Test sends a synthetic event matching the control through the real path
// (POST /v1/events → the trail's log group → the metric filter → the alarm
// → the topic) and waits until a notification for the control's alarm is
// delivered to a subscriber, telling Progress what it sees.
func Test(ctx context.Context, api API, ref string, opts TestOptions) (*TestResult, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	sleep := opts.Sleep
	if sleep == nil {
		sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	if opts.Timeout == 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	rep, err := Status(ctx, api, StatusOptions{Match: opts.Match, Now: now, LastLimit: 1})
	if err != nil {
		return nil, err
	}
	bench, _ := Lookup(rep.Benchmark)
	c, ok := bench.Find(ref)
	if !ok {
		return nil, fmt.Errorf("no control %q in CIS %s; name one of %s (or its Security Hub id, e.g. CloudWatch.6)", ref, bench.Version, bench.Refs())
	}
	var st ControlStatus
	for _, s := range rep.Controls {
		if s.Control.Key == c.Key {
			st = s
		}
	}
	if !st.Complete() {
		return nil, fmt.Errorf("control %s cannot notify anyone: its chain is broken at the %s (%s)", c.ID, st.Broken, st.Fix)
	}
	if st.Alarm.State == "ALARM" {
		return nil, fmt.Errorf("alarm %s is already in ALARM (%s), so another matching event sends no new notification; "+
			"run the test again once it is back to OK (%d seconds after its last matching event)", st.Alarm.Name, st.Alarm.StateReason, AlarmPeriod)
	}
	res := &TestResult{Control: c, Alarm: st.Alarm.Name}
	start := now()
	rec, id, err := Synthetic(c.Key, accountOf(rep.Trail.ARN), api.Region(), start)
	if err != nil {
		return nil, err
	}
	res.EventID = id
	if err := api.SendEvents(ctx, [][]byte{rec}); err != nil {
		return nil, fmt.Errorf("send the synthetic event: %w", err)
	}
	say(opts.Progress, "sent synthetic event %s (%s) matching control %s; waiting for alarm %s", id, eventName(rec), c.ID, st.Alarm.Name)

	deadline := start.Add(opts.Timeout)
	state := st.Alarm.State
	seen := map[string]bool{}
	for {
		if err := sleep(ctx, opts.Interval); err != nil {
			return res, err
		}
		alarms, err := api.DescribeAlarms(ctx)
		if err != nil {
			return res, fmt.Errorf("describe alarms: %w", err)
		}
		for _, a := range alarms {
			if a.Name == st.Alarm.Name && a.State != state {
				state = a.State
				say(opts.Progress, "alarm %s is %s: %s", a.Name, a.State, a.StateReason)
			}
		}
		res.AlarmState = state
		ds, err := api.Deliveries(ctx, st.TopicARN, start.Add(-time.Second))
		if err != nil {
			return res, fmt.Errorf("list deliveries of %s: %w", st.TopicARN, err)
		}
		delivered := false
		for _, d := range ds {
			if !strings.Contains(d.Subject, st.Alarm.Name) {
				continue
			}
			k := fmt.Sprintf("%s|%s|%d|%s", d.MessageID, d.SubscriptionARN, d.Attempt, d.Status)
			if seen[k] {
				continue
			}
			seen[k] = true
			detail := ""
			if d.StatusCode != 0 {
				detail = fmt.Sprintf(" (HTTP %d)", d.StatusCode)
			}
			if d.Error != "" {
				detail += ": " + d.Error
			}
			say(opts.Progress, "notification %s to %s %s: %s, attempt %d%s", d.MessageID, d.Protocol, d.Endpoint, d.Status, d.Attempt, detail)
			if d.Status == "delivered" {
				res.Delivered = append(res.Delivered, d)
				delivered = true
			}
		}
		if delivered {
			return res, nil
		}
		if !now().Before(deadline) {
			where := "the alarm did not go to ALARM: is the event reaching log group " + rep.LogGroup + "? (`opentrail cis status` shows the last matching events)"
			if state == "ALARM" {
				where = "the alarm went to ALARM but no delivery to a subscriber succeeded; check the endpoint"
			}
			return res, fmt.Errorf("%w after %s: %s", ErrTimeout, opts.Timeout, where)
		}
	}
}

func eventName(rec []byte) string {
	m := regexp.MustCompile(`"eventName":"([^"]*)"`).FindSubmatch(rec)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// DisableResult is what Disable removed.
type DisableResult struct {
	Alarms, Filters []string
	LogGroups       []string // log groups deleted
	KeptLogGroups   []string // pack log groups kept: they hold other filters
	Unwired         []string // trails no longer sending to a pack log group
	Topic           string   // the topic deleted, or ""
	KeptTopic       string   // the topic kept: other alarms notify it
}

// Disable removes what Enable made, and nothing else: the alarms carrying
// the Marker, the metric filters named CIS-<control> in namespace
// CISBenchmark, the opentrail-cis-<trail> log groups (unwiring their
// trails) unless they hold other filters, and the alerts topic unless
// alarms not made by the pack notify it.
func Disable(ctx context.Context, api API) (*DisableResult, error) {
	res := &DisableResult{}
	alarms, err := api.DescribeAlarms(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe alarms: %w", err)
	}
	var names []string
	var topicARN string
	othersUseTopic := false
	for _, a := range alarms {
		if Managed(a) {
			names = append(names, a.Name)
			for _, act := range a.Actions {
				if strings.HasSuffix(act, ":"+TopicName) {
					topicARN = act
				}
			}
		}
	}
	for _, a := range alarms {
		if !Managed(a) && slices.ContainsFunc(a.Actions, func(s string) bool { return strings.HasSuffix(s, ":"+TopicName) }) {
			othersUseTopic = true
		}
	}
	if len(names) > 0 {
		if err := api.DeleteAlarms(ctx, names); err != nil {
			return nil, fmt.Errorf("delete alarms: %w", err)
		}
		res.Alarms = names
	}
	keys := map[string]bool{}
	for _, t := range topics {
		keys[NamePrefix+t.key] = true
	}
	groups, err := api.DescribeLogGroups(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("describe log groups: %w", err)
	}
	remaining := map[string]int{}
	for _, g := range groups {
		fs, err := api.DescribeMetricFilters(ctx, g.Name)
		if err != nil {
			return nil, fmt.Errorf("describe the metric filters of %s: %w", g.Name, err)
		}
		for _, f := range fs {
			if keys[f.Name] && f.MetricNamespace == Namespace {
				if err := api.DeleteMetricFilter(ctx, g.Name, f.Name); err != nil && !errors.Is(err, ErrNotFound) {
					return nil, fmt.Errorf("delete metric filter %s of %s: %w", f.Name, g.Name, err)
				}
				res.Filters = append(res.Filters, g.Name+"/"+f.Name)
			} else {
				remaining[g.Name]++
			}
		}
	}
	trails, err := api.DescribeTrails(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe trails: %w", err)
	}
	region := api.Region()
	account := ""
	for _, t := range trails {
		if account == "" {
			account = accountOf(t.ARN)
		}
		g := logGroupName(t.LogGroupARN)
		if g != LogGroupName(t.Name) || remaining[g] > 0 || (t.HomeRegion != "" && t.HomeRegion != region) {
			continue
		}
		if err := api.UpdateTrailLogs(ctx, t.Name, "", ""); err != nil {
			return nil, fmt.Errorf("stop trail %s sending to log group %s (UpdateTrail): %w", t.Name, g, err)
		}
		res.Unwired = append(res.Unwired, t.Name)
	}
	for _, g := range groups {
		if !strings.HasPrefix(g.Name, LogGroupPrefix) {
			continue
		}
		if remaining[g.Name] > 0 {
			res.KeptLogGroups = append(res.KeptLogGroups, g.Name)
			continue
		}
		if err := api.DeleteLogGroup(ctx, g.Name); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("delete log group %s: %w", g.Name, err)
		}
		res.LogGroups = append(res.LogGroups, g.Name)
	}
	if topicARN == "" && account != "" {
		topicARN = fmt.Sprintf("arn:aws:sns:%s:%s:%s", region, account, TopicName)
	}
	if topicARN != "" {
		if othersUseTopic {
			res.KeptTopic = topicARN
		} else if err := api.DeleteTopic(ctx, topicARN); err == nil {
			res.Topic = topicARN
		} else if !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("delete topic %s: %w", topicARN, err)
		}
	}
	return res, nil
}
