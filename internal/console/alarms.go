package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cis"
	"github.com/opentrail/opentrail/internal/topics"
)

// AlarmDeps is what the alarms pages read beyond the CloudWatch API, which
// they call in process (DescribeAlarms, DescribeAlarmHistory,
// GetMetricData) as the signed-in user.
type AlarmDeps struct {
	// Regions lists the regions in which an account has alarms
	// (*alarms.Engine); nil lists the console's default region only.
	Regions AlarmRegions
	// Deliveries lists SNS delivery attempts (*topics.Topics); nil shows
	// none.
	Deliveries DeliveryAttempts
	// CIS computes the CIS pack's status (the code path of `opentrail cis
	// status`) as the caller ctx carries; nil shows the CIS page's "not
	// available" state.
	CIS CISStatus
}

// AlarmRegions lists the regions in which an account has alarms.
type AlarmRegions interface {
	Regions(account string) []string
}

// DeliveryAttempts lists an account's SNS delivery attempts of one topic
// at or after since, oldest first.
type DeliveryAttempts interface {
	Attempts(ctx context.Context, account, topicARN string, since time.Time) ([]topics.Attempt, error)
}

// CISStatus runs cis.Status for the caller ctx carries (awsapi.CallerFrom)
// in region, through the same APIs the CLI's status uses.
type CISStatus interface {
	Status(ctx context.Context, region string, opts cis.StatusOptions) (*cis.Report, error)
}

func (c alarmPages) alarmRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /alarms", c.signedIn(c.alarmsList))
	mux.HandleFunc("GET /alarms/cis", c.signedIn(c.alarmsCIS))
	mux.HandleFunc("GET /alarms/{account}/{region}/{name}", c.signedIn(c.alarmDetail))
}

// alarmPath is the console page of an alarm.
func alarmPath(account, region, name string) string {
	return "/alarms/" + url.PathEscape(account) + "/" + url.PathEscape(region) + "/" + url.PathEscape(name)
}

// The CloudWatch API's JSON shapes, as much as the pages read.
type (
	cwDimension struct{ Name, Value string }
	cwMetric    struct {
		Namespace, MetricName string
		Dimensions            []cwDimension `json:",omitempty"`
	}
	cwMetricStat struct {
		Metric *cwMetric
		Period *int32
		Stat   string
		Unit   string `json:",omitempty"`
	}
	cwQuery struct {
		Id         string
		MetricStat *cwMetricStat `json:",omitempty"`
		Expression string        `json:",omitempty"`
		Label      string        `json:",omitempty"`
		ReturnData *bool         `json:",omitempty"`
		Period     *int32        `json:",omitempty"`
	}
	cwAlarm struct {
		AlarmName, AlarmArn, AlarmDescription  string
		ActionsEnabled                         bool
		OKActions, AlarmActions                []string
		InsufficientDataActions                []string
		StateValue, StateReason                string
		StateUpdatedTimestamp                  *awsapi.Time
		StateTransitionedTimestamp             *awsapi.Time
		AlarmConfigurationUpdatedTimestamp     *awsapi.Time
		MetricName, Namespace, Statistic, Unit string
		ExtendedStatistic                      string
		Dimensions                             []cwDimension
		Period                                 *int32
		EvaluationPeriods                      int32
		DatapointsToAlarm                      *int32
		Threshold                              *float64
		ComparisonOperator, TreatMissingData   string
		EvaluateLowSampleCountPercentile       string
		Metrics                                []cwQuery
		ThresholdMetricId                      string
		Region                                 string `json:"-"`
		Account                                string `json:"-"`
	}
	cwDescribeAlarmsIn struct {
		AlarmNames []string `json:",omitempty"`
		AlarmTypes []string `json:",omitempty"`
		StateValue string   `json:",omitempty"`
		MaxRecords *int32   `json:",omitempty"`
		NextToken  *string  `json:",omitempty"`
	}
	cwDescribeAlarmsOut struct {
		MetricAlarms []cwAlarm
		NextToken    *string
	}
	cwHistoryItem struct {
		Timestamp                                    *awsapi.Time
		HistoryItemType, HistorySummary, HistoryData string
	}
	cwHistoryIn struct {
		AlarmName       string
		HistoryItemType string       `json:",omitempty"`
		StartDate       *awsapi.Time `json:",omitempty"`
		EndDate         *awsapi.Time `json:",omitempty"`
		MaxRecords      *int32       `json:",omitempty"`
		NextToken       *string      `json:",omitempty"`
		ScanBy          string       `json:",omitempty"`
	}
	cwHistoryOut struct {
		AlarmHistoryItems []cwHistoryItem
		NextToken         *string
	}
	cwDataIn struct {
		MetricDataQueries []cwQuery
		StartTime         *awsapi.Time
		EndTime           *awsapi.Time
		ScanBy            string `json:",omitempty"`
	}
	cwDataOut struct {
		MetricDataResults []struct {
			Id, Label  string
			Timestamps []*awsapi.Time
			Values     []float64
		}
	}
)

// alarmStates are the states in the order the list shows them.
var alarmStates = []string{"ALARM", "INSUFFICIENT_DATA", "OK"}

// describeAlarms lists the metric alarms of region (of one state when
// state is set), following NextToken.
func (c alarmPages) describeAlarms(r *http.Request, s *Session, region string, in cwDescribeAlarmsIn) ([]cwAlarm, error) {
	var all []cwAlarm
	in.AlarmTypes = []string{"MetricAlarm"}
	for pages := 0; pages < 50; pages++ {
		var out cwDescribeAlarmsOut
		if err := c.callIn(r, s, region, "monitoring", "DescribeAlarms", in, &out); err != nil {
			return nil, err
		}
		for _, a := range out.MetricAlarms {
			a.Region, a.Account = region, s.User.Principal.AccountID
			all = append(all, a)
		}
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	return all, nil
}

type alarmsListData struct {
	State, Region string
	Regions       []string
	States        []string
	Counts        map[string]int
	Total         int
	Alarms        []cwAlarm
	Error         string
	Account       string
}

// alarmsList serves GET /alarms?state=&region=: the user's account's
// metric alarms in every region that has some (or one region).
func (c alarmPages) alarmsList(w http.ResponseWriter, r *http.Request, s *Session) {
	q := r.URL.Query()
	d := alarmsListData{State: q.Get("state"), Region: q.Get("region"), States: alarmStates, Counts: map[string]int{},
		Account: s.User.Principal.AccountID}
	if d.State != "" && !slices.Contains(alarmStates, d.State) {
		d.Error = "state must be ALARM, INSUFFICIENT_DATA or OK; showing every state."
		d.State = ""
	}
	d.Regions = c.alarmRegions(s)
	regions := d.Regions
	if d.Region != "" {
		regions = []string{d.Region}
		if !slices.Contains(d.Regions, d.Region) {
			d.Regions = append(d.Regions, d.Region)
		}
	}
	for _, region := range regions {
		as, err := c.describeAlarms(r, s, region, cwDescribeAlarmsIn{})
		if err != nil {
			c.apiErrorPage(w, r, s, "Alarms could not be read", err)
			return
		}
		for _, a := range as {
			d.Counts[a.StateValue]++
			d.Total++
			if d.State == "" || a.StateValue == d.State {
				d.Alarms = append(d.Alarms, a)
			}
		}
	}
	rank := func(st string) int { return slices.Index(alarmStates, st) }
	sort.SliceStable(d.Alarms, func(i, j int) bool {
		a, b := d.Alarms[i], d.Alarms[j]
		if rank(a.StateValue) != rank(b.StateValue) {
			return rank(a.StateValue) < rank(b.StateValue)
		}
		if a.AlarmName != b.AlarmName {
			return a.AlarmName < b.AlarmName
		}
		return a.Region < b.Region
	})
	status := http.StatusOK
	if d.Error != "" {
		status = http.StatusBadRequest
	}
	c.render(w, r, s, status, "alarms", "Alarms", d)
}

// alarmRegions are the regions whose alarms the list shows: those in
// which the user's account has alarms, and the default region.
func (c alarmPages) alarmRegions(s *Session) []string {
	var rs []string
	if c.cfg.Alarms.Regions != nil {
		rs = c.cfg.Alarms.Regions.Regions(s.User.Principal.AccountID)
	}
	if !slices.Contains(rs, c.cfg.DefaultRegion) {
		rs = append([]string{c.cfg.DefaultRegion}, rs...)
	}
	return rs
}

// apiErrorPage shows an API operation's refusal (or failure) with what it
// said.
func (c alarmPages) apiErrorPage(w http.ResponseWriter, r *http.Request, s *Session, heading string, err error) {
	var ae *awsapi.Error
	if errors.As(err, &ae) {
		status := ae.Status
		if status < 400 {
			status = http.StatusBadRequest
		}
		c.errorPage(w, r, s, status, heading, ae.Code+": "+ae.Message)
		return
	}
	c.log.Error("console: "+heading, "err", err)
	c.errorPage(w, r, s, http.StatusInternalServerError, heading, err.Error()+". Try again; if it persists, check the server's log.")
}

// graphRanges are the detail page's time ranges.
var graphRanges = []struct {
	Key string
	D   time.Duration
}{{"1h", time.Hour}, {"3h", 3 * time.Hour}, {"12h", 12 * time.Hour}, {"24h", 24 * time.Hour}, {"3d", 72 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"14d", 14 * 24 * time.Hour}}

// historyEntry is one DescribeAlarmHistory item as the page shows it.
type historyEntry struct {
	Time            time.Time
	Type, Summary   string
	Reason          string
	OldState, State string
}

// topicDeliveries are the delivery attempts of one of an alarm's topics.
type topicDeliveries struct {
	TopicARN string
	On       []string // the states whose actions name it
	Attempts []topics.Attempt
	Error    string
}

type alarmDetailData struct {
	A          cwAlarm
	Range      string
	Ranges     []string
	Graph      *alarmGraph
	GraphError string
	History    []historyEntry
	Topics     []topicDeliveries
	Since      time.Time
	Anomaly    bool
	Condition  string
}

// alarmDetail serves GET /alarms/{account}/{region}/{name}?range=.
func (c alarmPages) alarmDetail(w http.ResponseWriter, r *http.Request, s *Session) {
	account, region, name := r.PathValue("account"), r.PathValue("region"), r.PathValue("name")
	notFound := func() {
		c.errorPage(w, r, s, http.StatusNotFound, "No such alarm", "There is no alarm "+name+" in "+region+" of your account. Open the list of alarms to find the one you want.")
	}
	if account != s.User.Principal.AccountID || name == "" || !validRegion(region) {
		notFound()
		return
	}
	as, err := c.describeAlarms(r, s, region, cwDescribeAlarmsIn{AlarmNames: []string{name}})
	if err != nil {
		c.apiErrorPage(w, r, s, "The alarm could not be read", err)
		return
	}
	if len(as) != 1 {
		notFound()
		return
	}
	d := alarmDetailData{A: as[0], Range: r.URL.Query().Get("range")}
	span := time.Duration(0)
	for _, g := range graphRanges {
		d.Ranges = append(d.Ranges, g.Key)
		if g.Key == d.Range {
			span = g.D
		}
	}
	if span == 0 {
		d.Range, span = "3h", 3*time.Hour
	}
	now := c.clock.Now().UTC()
	start := now.Add(-span)
	d.Since = start
	d.Condition = conditionText(d.A)
	d.Anomaly = d.A.ThresholdMetricId != ""

	hist, err := c.alarmHistory(r, s, d.A, start)
	if err != nil {
		c.apiErrorPage(w, r, s, "The alarm's history could not be read", err)
		return
	}
	d.History = hist
	g, err := c.alarmGraphData(r, s, d.A, start, now, hist)
	if err != nil {
		var ae *awsapi.Error
		if errors.As(err, &ae) {
			d.GraphError = "GetMetricData refused the alarm's query: " + ae.Code + ": " + ae.Message
		} else {
			d.GraphError = "The metric could not be read: " + err.Error()
		}
	}
	d.Graph = g
	d.Topics = c.alarmDeliveries(r, s, d.A, start)
	c.render(w, r, s, http.StatusOK, "alarms_detail", d.A.AlarmName, d)
}

// validRegion accepts a region name's form (us-east-1, local-1).
func validRegion(r string) bool {
	if r == "" || len(r) > 32 {
		return false
	}
	for _, ch := range r {
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
			return false
		}
	}
	return true
}

var operatorText = map[string]string{
	"GreaterThanOrEqualToThreshold":            "≥",
	"GreaterThanThreshold":                     ">",
	"LessThanThreshold":                        "<",
	"LessThanOrEqualToThreshold":               "≤",
	"LessThanLowerOrGreaterThanUpperThreshold": "outside the band",
	"LessThanLowerThreshold":                   "below the band",
	"GreaterThanUpperThreshold":                "above the band",
}

// conditionText is an alarm's condition in a line: "Sum ≥ 1 for 1 of 1
// datapoints of 5 min".
func conditionText(a cwAlarm) string {
	op := operatorText[a.ComparisonOperator]
	if op == "" {
		op = a.ComparisonOperator
	}
	var b strings.Builder
	stat := a.Statistic
	if stat == "" {
		stat = a.ExtendedStatistic
	}
	if stat == "" {
		stat = "value"
	}
	b.WriteString(stat + " " + op)
	if a.Threshold != nil {
		b.WriteString(" " + strconv.FormatFloat(*a.Threshold, 'g', -1, 64))
	} else if a.ThresholdMetricId != "" {
		b.WriteString(" (" + a.ThresholdMetricId + ")")
	}
	n := a.EvaluationPeriods
	m := n
	if a.DatapointsToAlarm != nil {
		m = *a.DatapointsToAlarm
	}
	b.WriteString(" for " + strconv.Itoa(int(m)) + " of " + strconv.Itoa(int(n)) + " datapoints")
	if p := alarmPeriod(a); p > 0 {
		b.WriteString(" of " + durationText(time.Duration(p)*time.Second))
	}
	return b.String()
}

// alarmPeriod is an alarm's period in seconds (of its metric, or of its
// first MetricStat query).
func alarmPeriod(a cwAlarm) int32 {
	if a.Period != nil {
		return *a.Period
	}
	for _, q := range a.Metrics {
		if q.MetricStat != nil && q.MetricStat.Period != nil {
			return *q.MetricStat.Period
		}
	}
	return 0
}

func durationText(d time.Duration) string {
	switch {
	case d%time.Hour == 0 && d >= time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h"
	case d%time.Minute == 0 && d >= time.Minute:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	}
	return strconv.Itoa(int(d/time.Second)) + " s"
}

// alarmHistory reads the alarm's history since start, newest first (at
// most 500 items).
func (c alarmPages) alarmHistory(r *http.Request, s *Session, a cwAlarm, start time.Time) ([]historyEntry, error) {
	in := cwHistoryIn{AlarmName: a.AlarmName, StartDate: &awsapi.Time{Time: start}}
	var out []historyEntry
	for pages := 0; pages < 5; pages++ {
		var res cwHistoryOut
		if err := c.callIn(r, s, a.Region, "monitoring", "DescribeAlarmHistory", in, &res); err != nil {
			return nil, err
		}
		for _, it := range res.AlarmHistoryItems {
			e := historyEntry{Type: it.HistoryItemType, Summary: it.HistorySummary}
			if it.Timestamp != nil {
				e.Time = it.Timestamp.Time
			}
			var hd struct {
				OldState struct{ StateValue, StateReason string } `json:"oldState"`
				NewState struct{ StateValue, StateReason string } `json:"newState"`
			}
			if it.HistoryItemType == "StateUpdate" && json.Unmarshal([]byte(it.HistoryData), &hd) == nil {
				e.OldState, e.State, e.Reason = hd.OldState.StateValue, hd.NewState.StateValue, hd.NewState.StateReason
			}
			out = append(out, e)
		}
		if res.NextToken == nil || *res.NextToken == "" {
			break
		}
		in.NextToken = res.NextToken
	}
	return out, nil
}

// alarmDeliveries reads the delivery attempts since start of each SNS
// topic the alarm's actions name, keeping this alarm's notifications
// (CloudWatch's subject names the alarm in quotes).
func (c alarmPages) alarmDeliveries(r *http.Request, s *Session, a cwAlarm, since time.Time) []topicDeliveries {
	var out []topicDeliveries
	add := func(state string, arns []string) {
		for _, arn := range arns {
			if !strings.HasPrefix(arn, "arn:aws:sns:") {
				continue
			}
			i := slices.IndexFunc(out, func(t topicDeliveries) bool { return t.TopicARN == arn })
			if i < 0 {
				out = append(out, topicDeliveries{TopicARN: arn})
				i = len(out) - 1
			}
			out[i].On = append(out[i].On, state)
		}
	}
	add("ALARM", a.AlarmActions)
	add("OK", a.OKActions)
	add("INSUFFICIENT_DATA", a.InsufficientDataActions)
	if c.cfg.Alarms.Deliveries == nil {
		return out
	}
	for i := range out {
		as, err := c.cfg.Alarms.Deliveries.Attempts(r.Context(), a.Account, out[i].TopicARN, since)
		if err != nil {
			out[i].Error = err.Error()
			continue
		}
		for j := len(as) - 1; j >= 0; j-- { // newest first
			if notifies(as[j].Subject, a.AlarmName) {
				out[i].Attempts = append(out[i].Attempts, as[j])
			}
		}
	}
	return out
}

// notifies reports whether a notification subject (`ALARM: "name" in
// Region`, cut to SNS's 100 characters) is about the alarm name.
func notifies(subject, name string) bool {
	_, rest, ok := strings.Cut(subject, ": \"")
	if !ok {
		return false
	}
	if q := strings.Index(rest, "\" in "); q >= 0 {
		return rest[:q] == name
	}
	return len(subject) >= 99 && strings.HasPrefix(name, rest) // cut inside the name
}

type cisData struct {
	Region  string
	Report  *cis.Report
	Fixes   []cisFix
	Error   string
	Missing bool // no CIS status on this server
	Account string
	Now     time.Time
}

// alarmsCIS serves GET /alarms/cis?region=: the CIS pack's control status
// for the user's account, through cis.Status as `opentrail cis status`.
func (c alarmPages) alarmsCIS(w http.ResponseWriter, r *http.Request, s *Session) {
	d := cisData{Region: r.URL.Query().Get("region"), Account: s.User.Principal.AccountID, Now: c.clock.Now()}
	if d.Region == "" {
		d.Region = c.cfg.DefaultRegion
	}
	if !validRegion(d.Region) {
		c.errorPage(w, r, s, http.StatusBadRequest, "Not a region", "region must be a region name such as us-east-1.")
		return
	}
	if c.cfg.Alarms.CIS == nil {
		d.Missing = true
		c.render(w, r, s, http.StatusOK, "alarms_cis", "CIS controls", d)
		return
	}
	ctx := c.as(r, s)
	if cl := awsapi.CallerFrom(ctx); cl != nil {
		cl.Region = d.Region
	}
	rep, err := c.cfg.Alarms.CIS.Status(ctx, d.Region, cis.StatusOptions{Now: c.clock.Now})
	if err != nil {
		d.Error = err.Error()
	}
	d.Report = rep
	if rep != nil {
		d.Fixes = cisFixes(rep)
	}
	c.render(w, r, s, http.StatusOK, "alarms_cis", "CIS controls", d)
}

// cisFix is what to do about the controls broken at one link for one
// reason.
type cisFix struct {
	IDs, Broken, Fix string
}

// cisFixes groups the broken controls by their fix, in control order.
func cisFixes(rep *cis.Report) []cisFix {
	var out []cisFix
	for _, st := range rep.Controls {
		if st.Complete() {
			continue
		}
		i := slices.IndexFunc(out, func(f cisFix) bool { return f.Fix == st.Fix && f.Broken == st.Broken })
		if i < 0 {
			out = append(out, cisFix{IDs: st.Control.ID, Broken: st.Broken, Fix: st.Fix})
			continue
		}
		out[i].IDs += ", " + st.Control.ID
	}
	return out
}

func init() {
	funcs["alarmPath"] = alarmPath
	funcs["alarmStateClass"] = stateClass
	funcs["num"] = func(f *float64) string {
		if f == nil {
			return "—"
		}
		return strconv.FormatFloat(*f, 'g', -1, 64)
	}
	funcs["awsTime"] = func(t *awsapi.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return t.Time
	}
	funcs["dims"] = func(ds []cwDimension) string {
		var p []string
		for _, d := range ds {
			p = append(p, d.Name+"="+d.Value)
		}
		return strings.Join(p, ", ")
	}
	funcs["condition"] = conditionText
	funcs["metricOf"] = metricOf
	funcs["cisEvent"] = cisEventText
	funcs["shortCISTitle"] = func(t string) string {
		t = strings.TrimPrefix(t, "Ensure a log metric filter and alarm exist for ")
		t = strings.TrimPrefix(t, "Ensure ")
		t = strings.TrimSuffix(t, " are monitored")
		t = strings.TrimSuffix(t, " is monitored")
		return t
	}
	funcs["sub"] = func(a, b int) int { return a - b }
	funcs["div"] = func(a, b int) int { return a / b }
}

// metricOf names an alarm's metric: Namespace/MetricName, or the metric
// of its math or anomaly-detection queries.
func metricOf(a cwAlarm) string {
	if a.MetricName != "" {
		return a.Namespace + " / " + a.MetricName
	}
	for _, q := range a.Metrics {
		if q.MetricStat != nil && q.MetricStat.Metric != nil {
			return q.MetricStat.Metric.Namespace + " / " + q.MetricStat.Metric.MetricName
		}
	}
	return "—"
}

// cisEventText sums up a CIS control's newest matching event: its name
// and caller, marked when it is a `cis test` event.
func cisEventText(e cis.LogEvent) string {
	name, who, synthetic := cis.EventSummary(e)
	s := name + " by " + who
	if synthetic {
		s += " (cis test)"
	}
	return s
}
