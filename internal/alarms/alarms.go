package alarms

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/alarmrule"
)

// MetricStat is a MetricDataQuery's MetricStat.
type MetricStat struct {
	Namespace, MetricName string
	Dimensions            []Dimension
	Period                int
	Stat, Unit            string
}

// Query is a MetricDataQuery of a band alarm or GetMetricData.
type Query struct {
	ID, Expression, Label string
	ReturnData            *bool
	Period                int
	Stat                  *MetricStat
}

// Tag is a resource tag.
type Tag struct{ Key, Value string }

// Alarm is a metric alarm: its configuration and its state.
type Alarm struct {
	Account, Region, Name, Description string
	ActionsEnabled                     bool
	OKActions, AlarmActions            []string
	InsufficientDataActions            []string
	MetricName, Namespace              string
	Statistic, ExtendedStatistic       string
	Dimensions                         []Dimension
	Period, EvaluationPeriods          int
	DatapointsToAlarm                  int // 0: not set
	Unit                               string
	Threshold                          *float64
	ComparisonOperator                 string
	TreatMissingData                   string
	EvaluateLowSampleCountPercentile   string
	Metrics                            []Query
	ThresholdMetricID                  string
	Tags                               []Tag
	ConfigUpdated                      time.Time
	State, StateReason                 string
	StateReasonData                    string
	StateUpdated, StateTransitioned    time.Time
	// Created is when the alarm was created (an update keeps it); with
	// Transitions, which counts state changes, it makes each transition's
	// id, so an alarm deleted and created again under the same name does
	// not reuse the ids its predecessor's notifications were sent with.
	Created     time.Time
	Transitions int64
}

// ARN is the alarm's ARN.
func (a *Alarm) ARN() string {
	return "arn:aws:cloudwatch:" + a.Region + ":" + a.Account + ":alarm:" + a.Name
}

// Errors the engine returns for the service to map.
var (
	ErrNotFound = errors.New("alarm not found")
)

// NotFoundError names alarms that do not exist.
type NotFoundError struct{ Names []string }

func (e *NotFoundError) Error() string { return "alarms not found: " + strings.Join(e.Names, ", ") }
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

func alarmKey(account, region, name string) string { return account + "\x00" + region + "\x00" + name }

var bandRE = regexp.MustCompile(`^\s*ANOMALY_DETECTION_BAND\s*\(\s*([a-z][A-Za-z0-9_]*)\s*(?:,\s*([0-9]+(?:\.[0-9]+)?)\s*)?\)\s*$`)

// ParseBand parses ANOMALY_DETECTION_BAND(id, k) (k defaults to 2, as on
// AWS).
func ParseBand(expr string) (id string, k float64, ok bool) {
	m := bandRE.FindStringSubmatch(expr)
	if m == nil {
		return "", 0, false
	}
	k = 2
	if m[2] != "" {
		k, _ = strconv.ParseFloat(m[2], 64)
	}
	return m[1], k, true
}

// source is what an alarm evaluates: a metric and statistic, and for band
// alarms the band's width.
type source struct {
	q      MetricQuery
	stat   string
	period time.Duration
	band   bool
	k      float64
}

func (a *Alarm) source() (source, error) {
	if len(a.Metrics) == 0 {
		return source{q: MetricQuery{Account: a.Account, Region: a.Region, Namespace: a.Namespace, MetricName: a.MetricName,
			Dimensions: a.Dimensions, Unit: a.Unit}, stat: a.Statistic, period: time.Duration(a.Period) * time.Second}, nil
	}
	var bandOf string
	var k float64
	for _, m := range a.Metrics {
		if m.ID == a.ThresholdMetricID {
			id, kk, ok := ParseBand(m.Expression)
			if !ok {
				return source{}, fmt.Errorf("the threshold metric %s is not an ANOMALY_DETECTION_BAND expression", m.ID)
			}
			bandOf, k = id, kk
		}
	}
	for _, m := range a.Metrics {
		if m.ID == bandOf && m.Stat != nil {
			s := m.Stat
			return source{q: MetricQuery{Account: a.Account, Region: a.Region, Namespace: s.Namespace, MetricName: s.MetricName,
				Dimensions: s.Dimensions, Unit: s.Unit}, stat: s.Stat, period: time.Duration(s.Period) * time.Second, band: true, k: k}, nil
		}
	}
	return source{}, fmt.Errorf("no metric query %q for the band", bandOf)
}

// Check validates the parts of an alarm the engine evaluates.
func (a *Alarm) Check() error {
	_, err := a.source()
	return err
}

// PutAlarm creates or updates an alarm (committed with its
// ConfigurationUpdate history item) and evaluates it. A new alarm starts
// in INSUFFICIENT_DATA; an updated one keeps its state until evaluated.
func (e *Engine) PutAlarm(ctx context.Context, a Alarm) error {
	if _, err := a.source(); err != nil {
		return err
	}
	now := e.clk.Now().UTC()
	e.mu.Lock()
	defer e.mu.Unlock()
	key := alarmKey(a.Account, a.Region, a.Name)
	old := e.alarms[key]
	a.ConfigUpdated = now
	kind, summary := "Create", fmt.Sprintf("Alarm %q created", a.Name)
	if old != nil {
		a.State, a.StateReason, a.StateReasonData = old.State, old.StateReason, old.StateReasonData
		a.StateUpdated, a.StateTransitioned, a.Transitions = old.StateUpdated, old.StateTransitioned, old.Transitions
		a.Created = old.Created
		kind, summary = "Update", fmt.Sprintf("Alarm %q updated", a.Name)
	} else {
		a.State, a.StateReason = alarmrule.InsufficientData, "Unchecked: Initial alarm creation"
		a.Created = now
		a.StateUpdated, a.StateTransitioned = now, now
	}
	data := map[string]any{"version": "1.0", "type": kind}
	if old != nil {
		data["updatedAlarm"] = a.historyView()
		data["originalUpdatedFields"] = old.historyView()
	} else {
		data["createdAlarm"] = a.historyView()
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := e.saveAlarm(ctx, tx, &a); err != nil {
		return err
	}
	if err := e.addHistory(ctx, tx, &a, now, "ConfigurationUpdate", summary, data); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("alarms: commit alarm: %w", err)
	}
	stored := a
	e.alarms[key] = &stored
	if err := e.evalAlarm(ctx, &stored, now); err != nil {
		e.log.Warn("alarms: evaluate new alarm", "alarm", a.Name, "err", err)
	}
	return nil
}

type txLike interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func (e *Engine) saveAlarm(ctx context.Context, tx txLike, a *Alarm) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO cw_alarms VALUES (?, ?, ?, ?)`, a.Account, a.Region, a.Name, string(body)); err != nil {
		return fmt.Errorf("alarms: store alarm: %w", err)
	}
	return nil
}

func (e *Engine) addHistory(ctx context.Context, tx txLike, a *Alarm, ts time.Time, kind, summary string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	e.histID++
	if _, err := tx.ExecContext(ctx, `INSERT INTO cw_history VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.histID, a.Account, a.Region, a.Name, ts.UTC(), kind, summary, string(b)); err != nil {
		e.histID--
		return fmt.Errorf("alarms: store history: %w", err)
	}
	return nil
}

// historyView is the alarm as ConfigurationUpdate history data shows it.
func (a *Alarm) historyView() map[string]any {
	dims := make([]map[string]string, 0, len(a.Dimensions))
	for _, d := range a.Dimensions {
		dims = append(dims, map[string]string{"name": d.Name, "value": d.Value})
	}
	v := map[string]any{
		"alarmName": a.Name, "alarmArn": a.ARN(), "alarmDescription": a.Description, "actionsEnabled": a.ActionsEnabled,
		"okactions": nonNil(a.OKActions), "alarmActions": nonNil(a.AlarmActions), "insufficientDataActions": nonNil(a.InsufficientDataActions),
		"comparisonOperator": a.ComparisonOperator, "evaluationPeriods": a.EvaluationPeriods, "treatMissingData": a.TreatMissingData,
		"timestamp": alarmrule.DataTime(a.ConfigUpdated), "dimensions": dims,
	}
	if a.Threshold != nil {
		v["threshold"] = *a.Threshold
	}
	if a.MetricName != "" {
		v["metricName"], v["namespace"], v["period"] = a.MetricName, a.Namespace, a.Period
		if a.Statistic != "" {
			v["statistic"] = strings.ToUpper(a.Statistic)
		}
	}
	if a.DatapointsToAlarm > 0 {
		v["datapointsToAlarm"] = a.DatapointsToAlarm
	}
	if a.ThresholdMetricID != "" {
		v["thresholdMetricId"] = a.ThresholdMetricID
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Alarms returns copies of the alarms of account and region, sorted by
// name.
func (e *Engine) Alarms(account, region string) []Alarm {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Alarm
	for _, a := range e.alarms {
		if a.Account == account && a.Region == region {
			out = append(out, *a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Regions returns the regions in which account has alarms, sorted (the
// console lists each region's alarms through DescribeAlarms).
func (e *Engine) Regions(account string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, a := range e.alarms {
		if a.Account == account && !seen[a.Region] {
			seen[a.Region] = true
			out = append(out, a.Region)
		}
	}
	sort.Strings(out)
	return out
}

// DeleteAlarms deletes the named alarms; if any does not exist nothing is
// deleted and the error is a *NotFoundError.
func (e *Engine) DeleteAlarms(ctx context.Context, account, region string, names []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var missing []string
	for _, n := range names {
		if e.alarms[alarmKey(account, region, n)] == nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return &NotFoundError{Names: missing}
	}
	now := e.clk.Now().UTC()
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, n := range names {
		a := e.alarms[alarmKey(account, region, n)]
		if _, err := tx.ExecContext(ctx, `DELETE FROM cw_alarms WHERE account = ? AND region = ? AND name = ?`, account, region, n); err != nil {
			return fmt.Errorf("alarms: delete alarm: %w", err)
		}
		if err := e.addHistory(ctx, tx, a, now, "ConfigurationUpdate", fmt.Sprintf("Alarm %q deleted", n),
			map[string]any{"version": "1.0", "type": "Delete", "deletedAlarm": a.historyView()}); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("alarms: commit delete: %w", err)
	}
	for _, n := range names {
		delete(e.alarms, alarmKey(account, region, n))
	}
	return nil
}

// SetActionsEnabled enables or disables the actions of the named alarms
// (names that do not exist are skipped, as AWS does).
func (e *Engine) SetActionsEnabled(ctx context.Context, account, region string, names []string, enabled bool) error {
	return e.modify(ctx, account, region, names, false, func(a *Alarm) { a.ActionsEnabled = enabled })
}

// SetTags replaces the tags of an alarm.
func (e *Engine) SetTags(ctx context.Context, account, region, name string, f func([]Tag) []Tag) error {
	return e.modify(ctx, account, region, []string{name}, true, func(a *Alarm) { a.Tags = f(a.Tags) })
}

func (e *Engine) modify(ctx context.Context, account, region string, names []string, must bool, f func(*Alarm)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var changed []*Alarm
	for _, n := range names {
		a := e.alarms[alarmKey(account, region, n)]
		if a == nil {
			if must {
				return &NotFoundError{Names: []string{n}}
			}
			continue
		}
		b := *a
		f(&b)
		if err := e.saveAlarm(ctx, tx, &b); err != nil {
			return err
		}
		changed = append(changed, &b)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("alarms: commit: %w", err)
	}
	for _, b := range changed {
		e.alarms[alarmKey(account, region, b.Name)] = b
	}
	return nil
}

// SetState sets an alarm's state as SetAlarmState does: the state
// changes, its actions run, and the next evaluation may change it back.
// Setting the state it is already in changes nothing.
func (e *Engine) SetState(ctx context.Context, account, region, name, state, reason, reasonData string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.alarms[alarmKey(account, region, name)]
	if a == nil {
		return &NotFoundError{Names: []string{name}}
	}
	if a.State == state {
		return nil
	}
	return e.transition(ctx, a, state, reason, reasonData, e.clk.Now().UTC(), nil)
}

// transitionID is the id of the n-th transition of the alarm arn created
// at created: the dedup id of its notifications, the same however often a
// replay recomputes it.
func transitionID(arn string, created time.Time, n int64) string {
	h := sha256.Sum256([]byte(arn + "\n" + strconv.FormatInt(created.UnixNano(), 10) + "\n" + strconv.FormatInt(n, 10)))
	return hex.EncodeToString(h[:16])
}

// change is a state change an evaluation decided on.
type change struct {
	a                         *Alarm
	state, reason, reasonData string
	events                    []string
}

// transition commits a state change, its history item and its
// notifications in one transaction.
func (e *Engine) transition(ctx context.Context, a *Alarm, state, reason, reasonData string, now time.Time, events []string) error {
	return e.commitChanges(ctx, now, []change{{a: a, state: state, reason: reason, reasonData: reasonData, events: events}})
}

// commitChanges commits state changes (with their history items and
// notifications) in one transaction, then applies them in memory (e.mu
// held): an evaluation pass that changes many alarms commits once, so
// the lock that PutSourced needs is held for one commit, not one per
// alarm. If the commit fails no alarm changes; the next evaluation
// decides again.
func (e *Engine) commitChanges(ctx context.Context, now time.Time, cs []change) error {
	if len(cs) == 0 {
		return nil
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	next := make([]Alarm, len(cs))
	queued := 0
	for i, c := range cs {
		a := c.a
		b := *a
		b.State, b.StateReason, b.StateReasonData = c.state, c.reason, c.reasonData
		b.StateUpdated, b.StateTransitioned = now, now
		b.Transitions++
		tid := transitionID(b.ARN(), b.Created, b.Transitions)
		if err := e.saveAlarm(ctx, tx, &b); err != nil {
			return err
		}
		hd := map[string]any{"version": "1.0",
			"oldState": stateView(a.State, a.StateReason, a.StateReasonData),
			"newState": stateView(c.state, c.reason, c.reasonData)}
		if err := e.addHistory(ctx, tx, &b, now, "StateUpdate", fmt.Sprintf("Alarm updated from %s to %s", a.State, c.state), hd); err != nil {
			return err
		}
		if b.ActionsEnabled {
			subject, msg := notification(&b, a.State, now, c.events)
			for _, topic := range b.actionsFor(c.state) {
				if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO cw_outbox VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)`,
					tid, topic, b.Account, b.Region, b.Name, subject, msg, now); err != nil {
					return fmt.Errorf("alarms: queue notification: %w", err)
				}
				queued++
			}
		}
		next[i] = b
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("alarms: commit transition: %w", err)
	}
	for i, c := range cs {
		old := c.a.State
		*c.a = next[i]
		if e.cfg.OnTransition != nil {
			e.cfg.OnTransition(ctx, next[i], old, transitionID(next[i].ARN(), next[i].Created, next[i].Transitions), c.events)
		}
	}
	if queued > 0 {
		e.signal(e.outWake)
	}
	return nil
}

func stateView(state, reason, data string) map[string]any {
	v := map[string]any{"stateValue": state, "stateReason": reason}
	if data != "" && json.Valid([]byte(data)) {
		v["stateReasonData"] = json.RawMessage(data)
	}
	return v
}

func (a *Alarm) actionsFor(state string) []string {
	switch state {
	case alarmrule.Alarm:
		return a.AlarmActions
	case alarmrule.OK:
		return a.OKActions
	}
	return a.InsufficientDataActions
}

// evaluatePending evaluates the alarms on metrics with new points.
func (e *Engine) evaluatePending(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.pending) == 0 {
		return
	}
	now := e.clk.Now().UTC()
	var cs []change
	for _, a := range e.alarms {
		s, err := a.source()
		if err != nil {
			continue
		}
		if e.pending[metricKey(s.q.Account, s.q.Region, s.q.Namespace, s.q.MetricName, s.q.Dimensions)] {
			cs = e.decideInto(cs, a, now)
		}
	}
	e.pending = map[string]bool{}
	if err := e.commitChanges(ctx, now, cs); err != nil {
		e.log.Warn("alarms: commit state changes", "alarms", len(cs), "err", err)
	}
}

// decideInto evaluates a at now and appends the change it needs, if any
// (e.mu held).
func (e *Engine) decideInto(cs []change, a *Alarm, now time.Time) []change {
	c, err := e.decide(a, now)
	if err != nil {
		e.log.Warn("alarms: evaluate", "alarm", a.Name, "err", err)
		return cs
	}
	if c != nil {
		cs = append(cs, *c)
	}
	return cs
}

// evaluateAll evaluates every alarm (the tick).
func (e *Engine) evaluateAll(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clk.Now().UTC()
	var cs []change
	for _, a := range e.alarms {
		cs = e.decideInto(cs, a, now)
	}
	e.pending = map[string]bool{}
	if err := e.commitChanges(ctx, now, cs); err != nil {
		e.log.Warn("alarms: commit state changes", "alarms", len(cs), "err", err)
	}
}

// evalAlarm evaluates a at now and commits the change of state it needs
// (e.mu held).
func (e *Engine) evalAlarm(ctx context.Context, a *Alarm, now time.Time) error {
	c, err := e.decide(a, now)
	if err != nil || c == nil {
		return err
	}
	return e.commitChanges(ctx, now, []change{*c})
}

// decide evaluates a at now: the change of state it needs, or nil (e.mu
// held). The evaluation range is the EvaluationPeriods periods (aligned
// to the period) ending with the current period when it has data yet,
// else with the last complete one.
func (e *Engine) decide(a *Alarm, now time.Time) (*change, error) {
	s, err := a.source()
	if err != nil {
		return nil, err
	}
	p := s.period
	if p < time.Minute {
		p = time.Minute
	}
	n := a.EvaluationPeriods
	if n < 1 {
		n = 1
	}
	cur := now.Truncate(p)
	from := cur.Add(-time.Duration(n) * p)
	aggs := e.aggregates(s.q, from, cur.Add(p), p, true)
	at := map[int64]Aggregate{}
	for _, g := range aggs {
		at[g.Time.Unix()] = g
	}
	end := cur
	if _, ok := at[cur.Unix()]; !ok {
		end = cur.Add(-p)
	}
	pts := make([]alarmrule.Point, n)
	for i := range pts {
		t := end.Add(-time.Duration(n-1-i) * p)
		pts[i].Time = t
		if g, ok := at[t.Unix()]; ok {
			pts[i].Present, pts[i].Value, pts[i].SampleCount = true, g.Value(s.stat), g.Count
		}
	}
	if s.band {
		e.fillBands(s, pts)
	}
	threshold := 0.0
	if a.Threshold != nil {
		threshold = *a.Threshold
	}
	r := alarmrule.Evaluate(alarmrule.Input{Operator: a.ComparisonOperator, Threshold: threshold, EvaluationPeriods: n,
		DatapointsToAlarm: a.DatapointsToAlarm, TreatMissingData: a.TreatMissingData, Statistic: s.stat,
		Period: int(p / time.Second), Current: a.State, Points: pts, Now: now})
	if r.State == a.State {
		return nil, nil
	}
	var events []string
	if r.State == alarmrule.Alarm {
		for _, pt := range pts {
			if g, ok := at[pt.Time.Unix()]; ok && pt.Present {
				events = append(events, g.EventIDs...)
			}
		}
		if len(events) > 10 {
			events = events[len(events)-10:]
		}
	}
	return &change{a: a, state: r.State, reason: r.Reason, reasonData: r.ReasonData, events: events}, nil
}

// fillBands sets each point's anomaly band from the BandWindow periods
// before it (e.mu held).
func (e *Engine) fillBands(s source, pts []alarmrule.Point) {
	if len(pts) == 0 {
		return
	}
	times := make([]time.Time, len(pts))
	for i, p := range pts {
		times[i] = p.Time
	}
	bands := e.bands(s.q, s.stat, times, s.period, s.k)
	for i := range pts {
		pts[i].Lower, pts[i].Upper, pts[i].BandOK = bands[i].lo, bands[i].hi, bands[i].ok
	}
}

type band struct {
	lo, hi float64
	ok     bool
}

// bands computes ANOMALY_DETECTION_BAND for each period start in times
// (ascending): the values of the BandWindow periods before it, a period
// without data counting as 0 for Sum and SampleCount and left out for the
// other statistics.
func (e *Engine) bands(q MetricQuery, stat string, times []time.Time, period time.Duration, k float64) []band {
	out := make([]band, len(times))
	if len(times) == 0 {
		return out
	}
	w := time.Duration(alarmrule.BandWindow) * period
	first := times[0].Add(-w)
	aggs := e.aggregates(q, first, times[len(times)-1], period, false)
	vals := map[int64]float64{}
	for _, g := range aggs {
		vals[g.Time.Unix()] = g.Value(stat)
	}
	zeroFill := stat == "Sum" || stat == "SampleCount"
	var earliest int64 = -1
	if len(aggs) > 0 {
		earliest = aggs[0].Time.Unix()
	}
	for i, t := range times {
		var samples []float64
		for j := alarmrule.BandWindow; j >= 1; j-- {
			pt := t.Add(-time.Duration(j) * period).Unix()
			if v, ok := vals[pt]; ok {
				samples = append(samples, v)
			} else if zeroFill && earliest >= 0 && pt >= earliest {
				// before the metric's first datapoint there is no history
				samples = append(samples, 0)
			}
		}
		out[i].lo, out[i].hi, out[i].ok = alarmrule.Band(samples, k)
	}
	return out
}

// Bands is bands for the service (GetMetricData).
func (e *Engine) Bands(q MetricQuery, stat string, times []time.Time, period time.Duration, k float64) (lower, upper []float64, ok []bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, b := range e.bands(q, stat, times, period, k) {
		lower, upper, ok = append(lower, b.lo), append(upper, b.hi), append(ok, b.ok)
	}
	return lower, upper, ok
}

// HistoryItem is an alarm history item.
type HistoryItem struct {
	AlarmName, Kind, Summary, Data string
	Time                           time.Time
	ID                             int64
}

// HistoryFilter selects history items.
type HistoryFilter struct {
	Account, Region, AlarmName, Kind string
	Start, End                       time.Time // zero: open
	Ascending                        bool
}

// History returns the matching history items, newest first unless
// Ascending.
func (e *Engine) History(ctx context.Context, f HistoryFilter) ([]HistoryItem, error) {
	q := `SELECT id, alarm, ts, kind, summary, data FROM cw_history WHERE account = ? AND region = ?`
	args := []any{f.Account, f.Region}
	if f.AlarmName != "" {
		q += ` AND alarm = ?`
		args = append(args, f.AlarmName)
	}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	if !f.Start.IsZero() {
		q += ` AND ts >= ?`
		args = append(args, f.Start.UTC())
	}
	if !f.End.IsZero() {
		q += ` AND ts <= ?`
		args = append(args, f.End.UTC())
	}
	if f.Ascending {
		q += ` ORDER BY ts, id`
	} else {
		q += ` ORDER BY ts DESC, id DESC`
	}
	rows, err := e.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("alarms: read history: %w", err)
	}
	defer rows.Close()
	var out []HistoryItem
	for rows.Next() {
		var h HistoryItem
		if err := rows.Scan(&h.ID, &h.AlarmName, &h.Time, &h.Kind, &h.Summary, &h.Data); err != nil {
			return nil, fmt.Errorf("alarms: read history: %w", err)
		}
		h.Time = h.Time.UTC()
		out = append(out, h)
	}
	return out, rows.Err()
}

func (e *Engine) loadAlarms(ctx context.Context) error {
	rows, err := e.db.QueryContext(ctx, `SELECT body FROM cw_alarms`)
	if err != nil {
		return fmt.Errorf("alarms: load alarms: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return fmt.Errorf("alarms: load alarms: %w", err)
		}
		a := &Alarm{}
		if err := json.Unmarshal([]byte(body), a); err != nil {
			return fmt.Errorf("alarms: load alarm: %w", err)
		}
		e.alarms[alarmKey(a.Account, a.Region, a.Name)] = a
	}
	return rows.Err()
}
