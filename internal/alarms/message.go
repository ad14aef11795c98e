package alarms

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/alarmrule"
)

// regionNames are the names CloudWatch writes in alarm notifications.
var regionNames = map[string]string{
	"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-1": "US West (N. California)",
	"us-west-2": "US West (Oregon)", "eu-west-1": "EU (Ireland)", "eu-west-2": "EU (London)", "eu-west-3": "EU (Paris)",
	"eu-central-1": "EU (Frankfurt)", "eu-north-1": "EU (Stockholm)", "eu-south-1": "EU (Milan)",
	"ap-south-1": "Asia Pacific (Mumbai)", "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-northeast-2": "Asia Pacific (Seoul)",
	"ap-northeast-3": "Asia Pacific (Osaka)", "ap-southeast-1": "Asia Pacific (Singapore)", "ap-southeast-2": "Asia Pacific (Sydney)",
	"ca-central-1": "Canada (Central)", "sa-east-1": "South America (Sao Paulo)", "me-south-1": "Middle East (Bahrain)",
	"af-south-1": "Africa (Cape Town)", "ap-east-1": "Asia Pacific (Hong Kong)",
}

// RegionName is the long name of a region, or the code itself.
func RegionName(r string) string {
	if n, ok := regionNames[r]; ok {
		return n
	}
	return r
}

type msgDim struct {
	Value string `json:"value"`
	Name  string `json:"name"`
}

type trigger struct {
	MetricName                       string           `json:"MetricName,omitempty"`
	Namespace                        string           `json:"Namespace,omitempty"`
	StatisticType                    string           `json:"StatisticType,omitempty"`
	Statistic                        string           `json:"Statistic,omitempty"`
	Unit                             *string          `json:"Unit"`
	Dimensions                       []msgDim         `json:"Dimensions"`
	Period                           int              `json:"Period"`
	EvaluationPeriods                int              `json:"EvaluationPeriods"`
	DatapointsToAlarm                int              `json:"DatapointsToAlarm,omitempty"`
	ComparisonOperator               string           `json:"ComparisonOperator"`
	Threshold                        *float64         `json:"Threshold,omitempty"`
	ThresholdMetricID                string           `json:"ThresholdMetricId,omitempty"`
	Metrics                          []map[string]any `json:"Metrics,omitempty"`
	TreatMissingData                 string           `json:"TreatMissingData"`
	EvaluateLowSampleCountPercentile string           `json:"EvaluateLowSampleCountPercentile"`
}

type message struct {
	AlarmName                          string   `json:"AlarmName"`
	AlarmDescription                   *string  `json:"AlarmDescription"`
	AWSAccountID                       string   `json:"AWSAccountId"`
	AlarmConfigurationUpdatedTimestamp string   `json:"AlarmConfigurationUpdatedTimestamp"`
	NewStateValue                      string   `json:"NewStateValue"`
	NewStateReason                     string   `json:"NewStateReason"`
	StateChangeTime                    string   `json:"StateChangeTime"`
	Region                             string   `json:"Region"`
	AlarmArn                           string   `json:"AlarmArn"`
	OldStateValue                      string   `json:"OldStateValue"`
	OKActions                          []string `json:"OKActions"`
	AlarmActions                       []string `json:"AlarmActions"`
	InsufficientDataActions            []string `json:"InsufficientDataActions"`
	Trigger                            trigger  `json:"Trigger"`
	// OpentrailTriggeringEvents names the events (eventID) behind the
	// datapoints that tripped the alarm, the latest few per minute.
	OpentrailTriggeringEvents []string `json:"OpentrailTriggeringEvents,omitempty"`
}

// notification is the subject and JSON message CloudWatch publishes to
// SNS for a transition of a (already in its new state) from old.
func notification(a *Alarm, old string, now time.Time, events []string) (subj, msg string) {
	m := message{AlarmName: a.Name, AWSAccountID: a.Account, AlarmConfigurationUpdatedTimestamp: alarmrule.DataTime(a.ConfigUpdated),
		NewStateValue: a.State, NewStateReason: a.StateReason, StateChangeTime: alarmrule.DataTime(now),
		Region: RegionName(a.Region), AlarmArn: a.ARN(), OldStateValue: old,
		OKActions: nonNil(a.OKActions), AlarmActions: nonNil(a.AlarmActions), InsufficientDataActions: nonNil(a.InsufficientDataActions),
		OpentrailTriggeringEvents: events}
	if a.Description != "" {
		d := a.Description
		m.AlarmDescription = &d
	}
	t := trigger{MetricName: a.MetricName, Namespace: a.Namespace, Period: a.Period, EvaluationPeriods: a.EvaluationPeriods,
		DatapointsToAlarm: a.DatapointsToAlarm, ComparisonOperator: a.ComparisonOperator, Threshold: a.Threshold,
		ThresholdMetricID: a.ThresholdMetricID, TreatMissingData: a.TreatMissingData,
		EvaluateLowSampleCountPercentile: a.EvaluateLowSampleCountPercentile, Dimensions: []msgDim{}}
	if a.TreatMissingData == "" {
		t.TreatMissingData = "missing"
	}
	if a.Unit != "" {
		u := a.Unit
		t.Unit = &u
	}
	switch {
	case a.Statistic != "":
		t.StatisticType, t.Statistic = "Statistic", strings.ToUpper(a.Statistic)
	case a.ExtendedStatistic != "":
		t.StatisticType, t.Statistic = "ExtendedStatistic", a.ExtendedStatistic
	}
	for _, d := range a.Dimensions {
		t.Dimensions = append(t.Dimensions, msgDim{Value: d.Value, Name: d.Name})
	}
	for _, q := range a.Metrics {
		v := map[string]any{"Id": q.ID, "ReturnData": q.ReturnData == nil || *q.ReturnData}
		if q.Expression != "" {
			v["Expression"] = q.Expression
		}
		if q.Label != "" {
			v["Label"] = q.Label
		}
		if q.Stat != nil {
			dims := []msgDim{}
			for _, d := range q.Stat.Dimensions {
				dims = append(dims, msgDim{Value: d.Value, Name: d.Name})
			}
			v["MetricStat"] = map[string]any{"Metric": map[string]any{"Namespace": q.Stat.Namespace, "MetricName": q.Stat.MetricName,
				"Dimensions": dims}, "Period": q.Stat.Period, "Stat": q.Stat.Stat}
		}
		t.Metrics = append(t.Metrics, v)
	}
	m.Trigger = t
	b, _ := json.Marshal(m)
	return subject(a.State + ": \"" + a.Name + "\" in " + RegionName(a.Region)), string(b)
}

// subject cuts s to the 100 characters an SNS subject may have.
func subject(s string) string {
	r := []rune(s)
	if len(r) <= 100 {
		return s
	}
	return string(r[:100])
}

type outboxRow struct {
	id, topic, account, region, alarm, subject, message string
	attempts                                            int
	next                                                time.Time
}

// publisher drains the outbox: each row is published with its transition
// id as the dedup id, then deleted with an Action history item in one
// transaction; a failure is retried with backoff.
func (e *Engine) publisher() {
	defer e.wg.Done()
	t := e.clk.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-e.outWake:
		case <-t.C:
		}
		next := e.drain(context.Background())
		if next > 0 {
			t.Reset(next)
		}
	}
}

// drain publishes what is due and returns how long until the next retry
// (0: none pending).
func (e *Engine) drain(ctx context.Context) time.Duration {
	if e.cfg.Publisher == nil {
		return 0
	}
	rows, err := e.db.QueryContext(ctx, `SELECT id, topic, account, region, alarm, subject, message, attempts, next_at FROM cw_outbox ORDER BY next_at, id`)
	if err != nil {
		e.log.Warn("alarms: read outbox", "err", err)
		return e.cfg.RetryBase
	}
	var due []outboxRow
	for rows.Next() {
		var r outboxRow
		if err := rows.Scan(&r.id, &r.topic, &r.account, &r.region, &r.alarm, &r.subject, &r.message, &r.attempts, &r.next); err != nil {
			rows.Close()
			e.log.Warn("alarms: read outbox", "err", err)
			return e.cfg.RetryBase
		}
		due = append(due, r)
	}
	rows.Close()
	now := e.clk.Now()
	var wait time.Duration
	for _, r := range due {
		if r.next.After(now) {
			if d := r.next.Sub(now); wait == 0 || d < wait {
				wait = d
			}
			continue
		}
		msgID, err := e.cfg.Publisher.Publish(ctx, r.account, r.topic, r.subject, r.message, r.id)
		if err != nil {
			backoff := e.cfg.RetryBase << min(r.attempts, 8)
			if backoff > 5*time.Minute {
				backoff = 5 * time.Minute
			}
			e.log.Warn("alarms: publish failed; retrying", "alarm", r.alarm, "topic", r.topic, "attempt", r.attempts+1, "in", backoff, "err", err)
			if _, err := e.db.ExecContext(ctx, `UPDATE cw_outbox SET attempts = attempts + 1, next_at = ? WHERE id = ? AND topic = ?`,
				now.Add(backoff).UTC(), r.id, r.topic); err != nil {
				e.log.Warn("alarms: update outbox", "err", err)
			}
			if wait == 0 || backoff < wait {
				wait = backoff
			}
			continue
		}
		e.published(ctx, r, msgID, now)
	}
	return wait
}

func (e *Engine) published(ctx context.Context, r outboxRow, msgID string, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		e.log.Warn("alarms: record published action", "err", err)
		return
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM cw_outbox WHERE id = ? AND topic = ?`, r.id, r.topic); err != nil {
		e.log.Warn("alarms: record published action", "err", err)
		return
	}
	a := &Alarm{Account: r.account, Region: r.region, Name: r.alarm}
	data := map[string]any{"actionState": "Succeeded", "stateUpdateTimestamp": now.UnixMilli(),
		"notificationResource": r.topic, "publishedMessage": r.message, "messageId": msgID}
	if err := e.addHistory(ctx, tx, a, now, "Action", "Successfully executed action "+r.topic, data); err != nil {
		e.log.Warn("alarms: record published action", "err", err)
		return
	}
	if err := tx.Commit(); err != nil {
		e.log.Warn("alarms: record published action", "err", err)
	}
}
