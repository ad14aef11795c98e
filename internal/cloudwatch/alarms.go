package cloudwatch

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/alarmrule"
	"github.com/opentrail/opentrail/internal/alarms"
	"github.com/opentrail/opentrail/internal/awsapi"
)

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// PutMetricAlarmInput is PutMetricAlarm's request.
type PutMetricAlarmInput struct {
	AlarmName                        string            `json:"AlarmName"`
	AlarmDescription                 *string           `json:"AlarmDescription,omitempty"`
	ActionsEnabled                   *bool             `json:"ActionsEnabled,omitempty"`
	OKActions                        []string          `json:"OKActions,omitempty"`
	AlarmActions                     []string          `json:"AlarmActions,omitempty"`
	InsufficientDataActions          []string          `json:"InsufficientDataActions,omitempty"`
	MetricName                       string            `json:"MetricName,omitempty"`
	Namespace                        string            `json:"Namespace,omitempty"`
	Statistic                        string            `json:"Statistic,omitempty"`
	ExtendedStatistic                string            `json:"ExtendedStatistic,omitempty"`
	Dimensions                       []Dimension       `json:"Dimensions,omitempty"`
	Period                           *int32            `json:"Period,omitempty"`
	Unit                             string            `json:"Unit,omitempty"`
	EvaluationPeriods                *int32            `json:"EvaluationPeriods"`
	DatapointsToAlarm                *int32            `json:"DatapointsToAlarm,omitempty"`
	Threshold                        *float64          `json:"Threshold,omitempty"`
	ComparisonOperator               string            `json:"ComparisonOperator"`
	TreatMissingData                 string            `json:"TreatMissingData,omitempty"`
	EvaluateLowSampleCountPercentile string            `json:"EvaluateLowSampleCountPercentile,omitempty"`
	Metrics                          []MetricDataQuery `json:"Metrics,omitempty"`
	Tags                             []Tag             `json:"Tags,omitempty"`
	ThresholdMetricID                string            `json:"ThresholdMetricId,omitempty"`
}

// PutMetricAlarmOutput is empty.
type PutMetricAlarmOutput struct{}

func checkActions(list []string, param, region, account string) error {
	if len(list) > 5 {
		return invalid("The collection %s must not have a size greater than 5.", param)
	}
	for _, a := range list {
		parts := strings.SplitN(a, ":", 6)
		if len(parts) != 6 || parts[0] != "arn" || parts[2] == "" {
			return invalid("Invalid arn syntax: %s", awsapi.Clip(a, 256))
		}
		if parts[2] != "sns" || parts[5] == "" {
			return invalid("The action %s is not supported: opentrail alarm actions publish to SNS topics (arn:aws:sns:REGION:ACCOUNT:NAME).", awsapi.Clip(a, 256))
		}
	}
	return nil
}

// PutMetricAlarm creates or updates a metric alarm.
func (s *Service) PutMetricAlarm(ctx context.Context, in *PutMetricAlarmInput) (*PutMetricAlarmOutput, error) {
	account, region, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	a, err := buildAlarm(account, region, in)
	if err != nil {
		return nil, err
	}
	for _, old := range s.e.Alarms(account, region) {
		if old.Name == a.Name {
			a.Tags = old.Tags // Tags are set on creation only, as on AWS
		}
	}
	if err := s.e.PutAlarm(ctx, a); err != nil {
		var ae *awsapi.Error
		if errors.As(err, &ae) {
			return nil, err
		}
		return nil, awsapi.NotStored("the alarm was not stored", err)
	}
	return &PutMetricAlarmOutput{}, nil
}

func buildAlarm(account, region string, in *PutMetricAlarmInput) (alarms.Alarm, error) {
	var a alarms.Alarm
	switch {
	case in.AlarmName == "":
		return a, missing("AlarmName")
	case len(in.AlarmName) > 255:
		return a, invalid("The value %s for parameter AlarmName is invalid.", awsapi.Clip(in.AlarmName, 64))
	case in.EvaluationPeriods == nil:
		return a, missing("EvaluationPeriods")
	case in.ComparisonOperator == "":
		return a, missing("ComparisonOperator")
	}
	if in.AlarmDescription != nil && len(*in.AlarmDescription) > 1024 {
		return a, invalid("The parameter AlarmDescription must be shorter than 1025 characters.")
	}
	known := false
	for _, op := range alarmrule.Operators {
		known = known || op == in.ComparisonOperator
	}
	if !known {
		return a, invalid("The parameter ComparisonOperator must be a value in the set [ %s ].", strings.Join(alarmrule.Operators, ", "))
	}
	if *in.EvaluationPeriods < 1 {
		return a, invalid("The parameter EvaluationPeriods must be greater than or equal to 1.")
	}
	if in.DatapointsToAlarm != nil {
		if *in.DatapointsToAlarm < 1 {
			return a, invalid("The parameter DatapointsToAlarm must be greater than or equal to 1.")
		}
		if *in.DatapointsToAlarm > *in.EvaluationPeriods {
			return a, invalid("DatapointsToAlarm must be less than or equal to EvaluationPeriods.")
		}
	}
	switch in.TreatMissingData {
	case "", alarmrule.Missing, alarmrule.Ignore, alarmrule.Breaching, alarmrule.NotBreaching:
	default:
		return a, invalid("The value %s for parameter TreatMissingData is not valid. Valid values are: breaching, notBreaching, ignore, missing.", awsapi.Clip(in.TreatMissingData, 64))
	}
	if e := in.EvaluateLowSampleCountPercentile; e != "" && e != "evaluate" && e != "ignore" {
		return a, awsapi.Errorf(codeValidation, "Option %s is not supported. Supported options for parameter EvaluateLowSampleCountPercentile are evaluate and ignore.", awsapi.Clip(e, 64))
	}
	for _, l := range []struct {
		list []string
		name string
	}{{in.OKActions, "OKActions"}, {in.AlarmActions, "AlarmActions"}, {in.InsufficientDataActions, "InsufficientDataActions"}} {
		if err := checkActions(l.list, l.name, region, account); err != nil {
			return a, err
		}
	}
	if err := checkUnit(in.Unit, "Unit"); err != nil {
		return a, err
	}
	band := alarmrule.IsBand(in.ComparisonOperator)
	a = alarms.Alarm{Account: account, Region: region, Name: in.AlarmName, ActionsEnabled: true,
		OKActions: in.OKActions, AlarmActions: in.AlarmActions, InsufficientDataActions: in.InsufficientDataActions,
		MetricName: in.MetricName, Namespace: in.Namespace, Statistic: in.Statistic, ExtendedStatistic: in.ExtendedStatistic,
		Dimensions: toDims(in.Dimensions), Unit: in.Unit, EvaluationPeriods: int(*in.EvaluationPeriods),
		Threshold: in.Threshold, ComparisonOperator: in.ComparisonOperator, TreatMissingData: in.TreatMissingData,
		EvaluateLowSampleCountPercentile: in.EvaluateLowSampleCountPercentile, ThresholdMetricID: in.ThresholdMetricID}
	if in.AlarmDescription != nil {
		a.Description = *in.AlarmDescription
	}
	if in.ActionsEnabled != nil {
		a.ActionsEnabled = *in.ActionsEnabled
	}
	if in.DatapointsToAlarm != nil {
		a.DatapointsToAlarm = int(*in.DatapointsToAlarm)
	}
	if a.TreatMissingData == "" {
		a.TreatMissingData = alarmrule.Missing
	}
	for _, t := range in.Tags {
		a.Tags = append(a.Tags, alarms.Tag{Key: t.Key, Value: t.Value})
	}
	if len(in.Metrics) > 0 {
		if in.MetricName != "" || in.Namespace != "" || in.Statistic != "" || in.ExtendedStatistic != "" || len(in.Dimensions) > 0 || in.Period != nil || in.Unit != "" {
			return a, awsapi.NewError(codeInvalidCombination, "The parameters MetricName, Namespace, Statistic, ExtendedStatistic, Dimensions, Period and Unit cannot be used with Metrics.")
		}
		if err := checkQueries(in.Metrics, "Metrics"); err != nil {
			return a, err
		}
		if !band {
			return a, invalid("Alarms on Metrics are supported with the anomaly-band comparison operators (LessThanLowerOrGreaterThanUpperThreshold, LessThanLowerThreshold, GreaterThanUpperThreshold) and an ANOMALY_DETECTION_BAND expression.")
		}
		if in.ThresholdMetricID == "" {
			return a, missing("ThresholdMetricId")
		}
		if in.Threshold != nil {
			return a, awsapi.NewError(codeInvalidCombination, "The parameters Threshold and ThresholdMetricId are mutually exclusive and you have specified both.")
		}
		var found bool
		for _, q := range in.Metrics {
			if q.ID == in.ThresholdMetricID {
				found = q.Expression != ""
			}
			aq := alarms.Query{ID: q.ID, Expression: q.Expression, Label: q.Label, ReturnData: q.ReturnData}
			if q.MetricStat != nil {
				m := q.MetricStat
				aq.Stat = &alarms.MetricStat{Namespace: m.Metric.Namespace, MetricName: m.Metric.MetricName, Dimensions: toDims(m.Metric.Dimensions),
					Period: int(*m.Period), Stat: m.Stat, Unit: m.Unit}
				a.Period = int(*m.Period)
			}
			a.Metrics = append(a.Metrics, aq)
		}
		if !found {
			return a, invalid("The ThresholdMetricId %s must name an ANOMALY_DETECTION_BAND expression of Metrics.", awsapi.Clip(in.ThresholdMetricID, 64))
		}
		if int64(a.Period)*int64(a.EvaluationPeriods) > 86400*7 {
			return a, invalid("The evaluation range (EvaluationPeriods * Period) must not exceed 7 days.")
		}
		a.Period = 0
		if err := a.Check(); err != nil {
			return a, invalid("%s", err.Error())
		}
		return a, nil
	}
	if band {
		return a, missing("Metrics")
	}
	if in.ThresholdMetricID != "" {
		return a, awsapi.NewError(codeInvalidCombination, "ThresholdMetricId is used with Metrics and the anomaly-band comparison operators only.")
	}
	switch {
	case in.MetricName == "":
		return a, missing("MetricName")
	case in.Namespace == "":
		return a, missing("Namespace")
	case in.Period == nil:
		return a, missing("Period")
	case in.Threshold == nil:
		return a, missing("Threshold")
	}
	if (in.Statistic == "") == (in.ExtendedStatistic == "") {
		return a, awsapi.NewError(codeInvalidCombination, "Exactly one of the parameters Statistic and ExtendedStatistic must be specified.")
	}
	if in.ExtendedStatistic != "" {
		return a, invalid("The value %s for parameter ExtendedStatistic is not supported: opentrail keeps Sum, SampleCount, Minimum and Maximum per minute, not percentiles.", awsapi.Clip(in.ExtendedStatistic, 32))
	}
	if !statistics[in.Statistic] {
		return a, invalid("The parameter Statistic must be a value in the set [ SampleCount, Average, Sum, Minimum, Maximum ].")
	}
	if err := checkDims(in.Dimensions, "Dimensions"); err != nil {
		return a, err
	}
	if err := checkPeriod(*in.Period, "Period"); err != nil {
		return a, err
	}
	if int64(*in.Period)*int64(*in.EvaluationPeriods) > 86400 {
		return a, invalid("Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400).")
	}
	a.Period = int(*in.Period)
	return a, nil
}

// MetricAlarm is an alarm as DescribeAlarms answers it.
type MetricAlarm struct {
	AlarmName                          string            `json:"AlarmName"`
	AlarmArn                           string            `json:"AlarmArn"`
	AlarmDescription                   string            `json:"AlarmDescription,omitempty"`
	AlarmConfigurationUpdatedTimestamp *awsapi.Time      `json:"AlarmConfigurationUpdatedTimestamp"`
	ActionsEnabled                     bool              `json:"ActionsEnabled"`
	OKActions                          []string          `json:"OKActions"`
	AlarmActions                       []string          `json:"AlarmActions"`
	InsufficientDataActions            []string          `json:"InsufficientDataActions"`
	StateValue                         string            `json:"StateValue"`
	StateReason                        string            `json:"StateReason"`
	StateReasonData                    string            `json:"StateReasonData,omitempty"`
	StateUpdatedTimestamp              *awsapi.Time      `json:"StateUpdatedTimestamp"`
	MetricName                         string            `json:"MetricName,omitempty"`
	Namespace                          string            `json:"Namespace,omitempty"`
	Statistic                          string            `json:"Statistic,omitempty"`
	ExtendedStatistic                  string            `json:"ExtendedStatistic,omitempty"`
	Dimensions                         []Dimension       `json:"Dimensions"`
	Period                             *int32            `json:"Period,omitempty"`
	Unit                               string            `json:"Unit,omitempty"`
	EvaluationPeriods                  int32             `json:"EvaluationPeriods"`
	DatapointsToAlarm                  *int32            `json:"DatapointsToAlarm,omitempty"`
	Threshold                          *float64          `json:"Threshold,omitempty"`
	ComparisonOperator                 string            `json:"ComparisonOperator"`
	TreatMissingData                   string            `json:"TreatMissingData,omitempty"`
	EvaluateLowSampleCountPercentile   string            `json:"EvaluateLowSampleCountPercentile,omitempty"`
	Metrics                            []MetricDataQuery `json:"Metrics,omitempty"`
	ThresholdMetricID                  string            `json:"ThresholdMetricId,omitempty"`
	StateTransitionedTimestamp         *awsapi.Time      `json:"StateTransitionedTimestamp"`
}

func i32(v int) *int32 { x := int32(v); return &x }

func view(a alarms.Alarm) MetricAlarm {
	m := MetricAlarm{AlarmName: a.Name, AlarmArn: a.ARN(), AlarmDescription: a.Description,
		AlarmConfigurationUpdatedTimestamp: ptime(a.ConfigUpdated), ActionsEnabled: a.ActionsEnabled,
		OKActions: nonNil(a.OKActions), AlarmActions: nonNil(a.AlarmActions), InsufficientDataActions: nonNil(a.InsufficientDataActions),
		StateValue: a.State, StateReason: a.StateReason, StateReasonData: a.StateReasonData, StateUpdatedTimestamp: ptime(a.StateUpdated),
		MetricName: a.MetricName, Namespace: a.Namespace, Statistic: a.Statistic, ExtendedStatistic: a.ExtendedStatistic,
		Dimensions: fromDims(a.Dimensions), Unit: a.Unit, EvaluationPeriods: int32(a.EvaluationPeriods), Threshold: a.Threshold,
		ComparisonOperator: a.ComparisonOperator, TreatMissingData: a.TreatMissingData,
		EvaluateLowSampleCountPercentile: a.EvaluateLowSampleCountPercentile, ThresholdMetricID: a.ThresholdMetricID,
		StateTransitionedTimestamp: ptime(a.StateTransitioned)}
	if a.Period > 0 {
		m.Period = i32(a.Period)
	}
	if a.DatapointsToAlarm > 0 {
		m.DatapointsToAlarm = i32(a.DatapointsToAlarm)
	}
	for _, q := range a.Metrics {
		mq := MetricDataQuery{ID: q.ID, Expression: q.Expression, Label: q.Label, ReturnData: q.ReturnData}
		if q.Stat != nil {
			mq.MetricStat = &MetricStat{Metric: &Metric{Namespace: q.Stat.Namespace, MetricName: q.Stat.MetricName,
				Dimensions: fromDims(q.Stat.Dimensions)}, Period: i32(q.Stat.Period), Stat: q.Stat.Stat, Unit: q.Stat.Unit}
		}
		m.Metrics = append(m.Metrics, mq)
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// DescribeAlarmsInput is DescribeAlarms' request.
type DescribeAlarmsInput struct {
	AlarmNames      []string `json:"AlarmNames,omitempty"`
	AlarmNamePrefix string   `json:"AlarmNamePrefix,omitempty"`
	AlarmTypes      []string `json:"AlarmTypes,omitempty"`
	StateValue      string   `json:"StateValue,omitempty"`
	ActionPrefix    string   `json:"ActionPrefix,omitempty"`
	MaxRecords      *int32   `json:"MaxRecords,omitempty"`
	NextToken       *string  `json:"NextToken,omitempty"`
	// ChildrenOfAlarmName and ParentsOfAlarmName concern composite
	// alarms, which opentrail does not have.
	ChildrenOfAlarmName string `json:"ChildrenOfAlarmName,omitempty"`
	ParentsOfAlarmName  string `json:"ParentsOfAlarmName,omitempty"`
}

// DescribeAlarmsOutput is DescribeAlarms' answer.
type DescribeAlarmsOutput struct {
	CompositeAlarms []struct{}    `json:"CompositeAlarms"`
	MetricAlarms    []MetricAlarm `json:"MetricAlarms"`
	NextToken       *string       `json:"NextToken,omitempty"`
}

func checkState(v, param string) error {
	switch v {
	case alarmrule.OK, alarmrule.Alarm, alarmrule.InsufficientData:
		return nil
	}
	return invalid("The parameter %s must be a value in the set [ OK, ALARM, INSUFFICIENT_DATA ].", param)
}

// DescribeAlarms lists the caller's metric alarms (composite alarms are
// never found: opentrail has none).
func (s *Service) DescribeAlarms(ctx context.Context, in *DescribeAlarmsInput) (*DescribeAlarmsOutput, error) {
	account, region, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if len(in.AlarmNames) > 100 {
		return nil, invalid("The collection AlarmNames must not have a size greater than 100.")
	}
	if len(in.AlarmNames) > 0 && in.AlarmNamePrefix != "" {
		return nil, awsapi.NewError(codeInvalidCombination, "AlarmNamePrefix and AlarmNames cannot be specified together.")
	}
	if in.StateValue != "" {
		if err := checkState(in.StateValue, "StateValue"); err != nil {
			return nil, err
		}
	}
	metric, composite := len(in.AlarmTypes) == 0, false
	for _, t := range in.AlarmTypes {
		switch t {
		case "MetricAlarm":
			metric = true
		case "CompositeAlarm":
			composite = true
		default:
			return nil, invalid("The parameter AlarmTypes must contain values in the set [ CompositeAlarm, MetricAlarm ].")
		}
	}
	limit := 50
	if in.MaxRecords != nil {
		if *in.MaxRecords < 1 || *in.MaxRecords > 100 {
			return nil, invalid("The parameter MaxRecords must be between 1 and 100.")
		}
		limit = int(*in.MaxRecords)
	}
	after := ""
	if in.NextToken != nil {
		if after, err = openToken("alarms", *in.NextToken); err != nil {
			return nil, err
		}
	}
	out := &DescribeAlarmsOutput{MetricAlarms: []MetricAlarm{}}
	if composite {
		out.CompositeAlarms = []struct{}{}
	}
	if !metric || in.ChildrenOfAlarmName != "" || in.ParentsOfAlarmName != "" {
		return out, nil
	}
	names := map[string]bool{}
	for _, n := range in.AlarmNames {
		names[n] = true
	}
	for _, a := range s.e.Alarms(account, region) {
		if a.Name <= after && in.NextToken != nil {
			continue
		}
		if len(names) > 0 && !names[a.Name] || !strings.HasPrefix(a.Name, in.AlarmNamePrefix) ||
			in.StateValue != "" && a.State != in.StateValue || in.ActionPrefix != "" && !hasActionPrefix(a, in.ActionPrefix) {
			continue
		}
		if len(out.MetricAlarms) == limit {
			t := token("alarms", out.MetricAlarms[limit-1].AlarmName)
			out.NextToken = &t
			break
		}
		out.MetricAlarms = append(out.MetricAlarms, view(a))
	}
	return out, nil
}

func hasActionPrefix(a alarms.Alarm, p string) bool {
	for _, l := range [][]string{a.AlarmActions, a.OKActions, a.InsufficientDataActions} {
		for _, x := range l {
			if strings.HasPrefix(x, p) {
				return true
			}
		}
	}
	return false
}

// DescribeAlarmsForMetricInput is DescribeAlarmsForMetric's request.
type DescribeAlarmsForMetricInput struct {
	MetricName        string      `json:"MetricName"`
	Namespace         string      `json:"Namespace"`
	Statistic         string      `json:"Statistic,omitempty"`
	ExtendedStatistic string      `json:"ExtendedStatistic,omitempty"`
	Dimensions        []Dimension `json:"Dimensions,omitempty"`
	Period            *int32      `json:"Period,omitempty"`
	Unit              string      `json:"Unit,omitempty"`
}

// DescribeAlarmsForMetricOutput is its answer.
type DescribeAlarmsForMetricOutput struct {
	MetricAlarms []MetricAlarm `json:"MetricAlarms"`
}

// DescribeAlarmsForMetric lists the alarms on one metric.
func (s *Service) DescribeAlarmsForMetric(ctx context.Context, in *DescribeAlarmsForMetricInput) (*DescribeAlarmsForMetricOutput, error) {
	account, region, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.MetricName == "" {
		return nil, missing("MetricName")
	}
	if in.Namespace == "" {
		return nil, missing("Namespace")
	}
	want := metricIdentity(toDims(in.Dimensions))
	out := &DescribeAlarmsForMetricOutput{MetricAlarms: []MetricAlarm{}}
	for _, a := range s.e.Alarms(account, region) {
		ns, name, dims, period, stat, unit := a.Namespace, a.MetricName, a.Dimensions, a.Period, a.Statistic, a.Unit
		for _, q := range a.Metrics {
			if q.Stat != nil {
				ns, name, dims, period, stat, unit = q.Stat.Namespace, q.Stat.MetricName, q.Stat.Dimensions, q.Stat.Period, q.Stat.Stat, q.Stat.Unit
			}
		}
		if ns != in.Namespace || name != in.MetricName || (in.Dimensions != nil && metricIdentity(dims) != want) ||
			in.Statistic != "" && stat != in.Statistic || in.ExtendedStatistic != "" && a.ExtendedStatistic != in.ExtendedStatistic ||
			in.Period != nil && int32(period) != *in.Period || in.Unit != "" && unit != in.Unit {
			continue
		}
		out.MetricAlarms = append(out.MetricAlarms, view(a))
	}
	return out, nil
}

func metricIdentity(ds []alarms.Dimension) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Name + "\x00" + d.Value
	}
	sortStrings(parts)
	return strings.Join(parts, "\x01")
}

// AlarmNamesInput names alarms (DeleteAlarms, Enable/DisableAlarmActions).
type AlarmNamesInput struct {
	AlarmNames []string `json:"AlarmNames"`
}

// Empty is an empty answer.
type Empty struct{}

func checkNames(names []string) error {
	if names == nil {
		return missing("AlarmNames")
	}
	if len(names) > 100 {
		return invalid("The collection AlarmNames must not have a size greater than 100.")
	}
	return nil
}

// DeleteAlarms deletes alarms; if one does not exist, none is deleted.
func (s *Service) DeleteAlarms(ctx context.Context, in *AlarmNamesInput) (*Empty, error) {
	account, region, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkNames(in.AlarmNames); err != nil {
		return nil, err
	}
	if err := s.e.DeleteAlarms(ctx, account, region, in.AlarmNames); err != nil {
		var nf *alarms.NotFoundError
		if errors.As(err, &nf) {
			return nil, &awsapi.Error{Code: codeNotFound, Status: 404, Message: "The following alarms do not exist: " + strings.Join(nf.Names, ", ") + ". No alarm was deleted."}
		}
		return nil, awsapi.NotStored("the alarms were not deleted", err)
	}
	return &Empty{}, nil
}

// EnableAlarmActions enables the actions of alarms.
func (s *Service) EnableAlarmActions(ctx context.Context, in *AlarmNamesInput) (*Empty, error) {
	return s.setActions(ctx, in, true)
}

// DisableAlarmActions disables the actions of alarms.
func (s *Service) DisableAlarmActions(ctx context.Context, in *AlarmNamesInput) (*Empty, error) {
	return s.setActions(ctx, in, false)
}

func (s *Service) setActions(ctx context.Context, in *AlarmNamesInput, on bool) (*Empty, error) {
	account, region, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkNames(in.AlarmNames); err != nil {
		return nil, err
	}
	if err := s.e.SetActionsEnabled(ctx, account, region, in.AlarmNames, on); err != nil {
		return nil, awsapi.NotStored("the alarms were not changed", err)
	}
	return &Empty{}, nil
}

// SetAlarmStateInput is SetAlarmState's request.
type SetAlarmStateInput struct {
	AlarmName       string  `json:"AlarmName"`
	StateValue      string  `json:"StateValue"`
	StateReason     *string `json:"StateReason"`
	StateReasonData *string `json:"StateReasonData,omitempty"`
}

// SetAlarmState sets an alarm's state until its next evaluation.
func (s *Service) SetAlarmState(ctx context.Context, in *SetAlarmStateInput) (*Empty, error) {
	account, region, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case in.AlarmName == "":
		return nil, missing("AlarmName")
	case in.StateValue == "":
		return nil, missing("StateValue")
	case in.StateReason == nil:
		return nil, missing("StateReason")
	}
	if err := checkState(in.StateValue, "StateValue"); err != nil {
		return nil, err
	}
	if len(*in.StateReason) > 1023 {
		return nil, invalid("The parameter StateReason must be shorter than 1024 characters.")
	}
	data := ""
	if in.StateReasonData != nil {
		data = *in.StateReasonData
		if len(data) > 4000 {
			return nil, invalid("The parameter StateReasonData must be shorter than 4001 characters.")
		}
		if !json.Valid([]byte(data)) {
			return nil, awsapi.NewError(codeInvalidFormat, "StateReasonData is not valid JSON.")
		}
	}
	if err := s.e.SetState(ctx, account, region, in.AlarmName, in.StateValue, *in.StateReason, data); err != nil {
		if errors.Is(err, alarms.ErrNotFound) {
			return nil, &awsapi.Error{Code: codeNotFound, Status: 404, Message: "Alarm " + in.AlarmName + " does not exist"}
		}
		return nil, awsapi.NotStored("the alarm state was not stored", err)
	}
	return &Empty{}, nil
}

// DescribeAlarmHistoryInput is DescribeAlarmHistory's request.
type DescribeAlarmHistoryInput struct {
	AlarmName       string       `json:"AlarmName,omitempty"`
	AlarmTypes      []string     `json:"AlarmTypes,omitempty"`
	HistoryItemType string       `json:"HistoryItemType,omitempty"`
	StartDate       *awsapi.Time `json:"StartDate,omitempty"`
	EndDate         *awsapi.Time `json:"EndDate,omitempty"`
	MaxRecords      *int32       `json:"MaxRecords,omitempty"`
	NextToken       *string      `json:"NextToken,omitempty"`
	ScanBy          string       `json:"ScanBy,omitempty"`
}

// AlarmHistoryItem is one history item.
type AlarmHistoryItem struct {
	AlarmName       string       `json:"AlarmName"`
	AlarmType       string       `json:"AlarmType"`
	Timestamp       *awsapi.Time `json:"Timestamp"`
	HistoryItemType string       `json:"HistoryItemType"`
	HistorySummary  string       `json:"HistorySummary"`
	HistoryData     string       `json:"HistoryData"`
}

// DescribeAlarmHistoryOutput is its answer.
type DescribeAlarmHistoryOutput struct {
	AlarmHistoryItems []AlarmHistoryItem `json:"AlarmHistoryItems"`
	NextToken         *string            `json:"NextToken,omitempty"`
}

// DescribeAlarmHistory lists history items, newest first by default.
func (s *Service) DescribeAlarmHistory(ctx context.Context, in *DescribeAlarmHistoryInput) (*DescribeAlarmHistoryOutput, error) {
	account, region, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	switch in.HistoryItemType {
	case "", "ConfigurationUpdate", "StateUpdate", "Action", "AlarmContributorStateUpdate", "AlarmContributorAction":
	default:
		return nil, invalid("The parameter HistoryItemType must be a value in the set [ ConfigurationUpdate, StateUpdate, Action, AlarmContributorStateUpdate, AlarmContributorAction ].")
	}
	f := alarms.HistoryFilter{Account: account, Region: region, AlarmName: in.AlarmName, Kind: in.HistoryItemType}
	switch in.ScanBy {
	case "", "TimestampDescending":
	case "TimestampAscending":
		f.Ascending = true
	default:
		return nil, invalid("The parameter ScanBy must be a value in the set [ TimestampDescending, TimestampAscending ].")
	}
	if in.StartDate != nil {
		f.Start = in.StartDate.Time
	}
	if in.EndDate != nil {
		f.End = in.EndDate.Time
	}
	limit := 100
	if in.MaxRecords != nil {
		if *in.MaxRecords < 1 || *in.MaxRecords > 100 {
			return nil, invalid("The parameter MaxRecords must be between 1 and 100.")
		}
		limit = int(*in.MaxRecords)
	}
	metric := len(in.AlarmTypes) == 0
	for _, t := range in.AlarmTypes {
		metric = metric || t == "MetricAlarm"
	}
	out := &DescribeAlarmHistoryOutput{AlarmHistoryItems: []AlarmHistoryItem{}}
	if !metric || strings.HasPrefix(in.HistoryItemType, "AlarmContributor") {
		return out, nil
	}
	var after int64
	if in.NextToken != nil {
		v, err := openToken("history", *in.NextToken)
		if err != nil {
			return nil, err
		}
		if after, err = strconv.ParseInt(v, 10, 64); err != nil {
			return nil, awsapi.NewError(codeInvalidNextToken, "The NextToken is not valid: pass the NextToken of the previous response unchanged.")
		}
	}
	items, err := s.e.History(ctx, f)
	if err != nil {
		return nil, err
	}
	skipping := in.NextToken != nil
	var last int64
	for _, h := range items {
		if skipping {
			if h.ID == after {
				skipping = false
			}
			continue
		}
		if len(out.AlarmHistoryItems) == limit {
			t := token("history", strconv.FormatInt(last, 10))
			out.NextToken = &t
			break
		}
		out.AlarmHistoryItems = append(out.AlarmHistoryItems, AlarmHistoryItem{AlarmName: h.AlarmName, AlarmType: "MetricAlarm",
			Timestamp: ptime(h.Time), HistoryItemType: h.Kind, HistorySummary: h.Summary, HistoryData: h.Data})
		last = h.ID
	}
	return out, nil
}

// TagResourceInput is TagResource's request.
type TagResourceInput struct {
	ResourceARN string `json:"ResourceARN"`
	Tags        []Tag  `json:"Tags"`
}

// UntagResourceInput is UntagResource's request.
type UntagResourceInput struct {
	ResourceARN string   `json:"ResourceARN"`
	TagKeys     []string `json:"TagKeys"`
}

// ListTagsForResourceInput is ListTagsForResource's request.
type ListTagsForResourceInput struct {
	ResourceARN string `json:"ResourceARN"`
}

// ListTagsForResourceOutput is its answer.
type ListTagsForResourceOutput struct {
	Tags []Tag `json:"Tags"`
}

// alarmOf returns the alarm name an ARN of the caller's names.
func alarmOf(account, region, arn string) (string, error) {
	if arn == "" {
		return "", missing("ResourceARN")
	}
	prefix := "arn:aws:cloudwatch:" + region + ":" + account + ":alarm:"
	if !strings.HasPrefix(arn, prefix) || len(arn) == len(prefix) {
		return "", &awsapi.Error{Code: codeNotFoundException, Status: 404, Message: "Unknown resource " + awsapi.Clip(arn, 256) + ": tags are kept on this account's alarms in this region (" + prefix + "NAME)."}
	}
	return strings.TrimPrefix(arn, prefix), nil
}

func (s *Service) tagOp(ctx context.Context, arn string, f func([]alarms.Tag) []alarms.Tag) error {
	account, region, err := caller(ctx)
	if err != nil {
		return err
	}
	name, err := alarmOf(account, region, arn)
	if err != nil {
		return err
	}
	if err := s.e.SetTags(ctx, account, region, name, f); err != nil {
		if errors.Is(err, alarms.ErrNotFound) {
			return &awsapi.Error{Code: codeNotFoundException, Status: 404, Message: "AlarmArn not found: " + awsapi.Clip(arn, 256)}
		}
		return awsapi.NotStored("the tags were not stored", err)
	}
	return nil
}

// TagResource adds or replaces tags of an alarm.
func (s *Service) TagResource(ctx context.Context, in *TagResourceInput) (*Empty, error) {
	if in.Tags == nil {
		return nil, missing("Tags")
	}
	for i, t := range in.Tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return nil, invalid("The value of parameter Tags.member.%d is invalid: a tag key has 1 to 128 characters, a value at most 256.", i+1)
		}
	}
	err := s.tagOp(ctx, in.ResourceARN, func(old []alarms.Tag) []alarms.Tag {
		out := append([]alarms.Tag(nil), old...)
		for _, t := range in.Tags {
			replaced := false
			for i := range out {
				if out[i].Key == t.Key {
					out[i].Value, replaced = t.Value, true
				}
			}
			if !replaced {
				out = append(out, alarms.Tag{Key: t.Key, Value: t.Value})
			}
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

// UntagResource removes tags of an alarm.
func (s *Service) UntagResource(ctx context.Context, in *UntagResourceInput) (*Empty, error) {
	if in.TagKeys == nil {
		return nil, missing("TagKeys")
	}
	drop := map[string]bool{}
	for _, k := range in.TagKeys {
		drop[k] = true
	}
	err := s.tagOp(ctx, in.ResourceARN, func(old []alarms.Tag) []alarms.Tag {
		var out []alarms.Tag
		for _, t := range old {
			if !drop[t.Key] {
				out = append(out, t)
			}
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	return &Empty{}, nil
}

// ListTagsForResource lists an alarm's tags.
func (s *Service) ListTagsForResource(ctx context.Context, in *ListTagsForResourceInput) (*ListTagsForResourceOutput, error) {
	account, region, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	name, err := alarmOf(account, region, in.ResourceARN)
	if err != nil {
		return nil, err
	}
	for _, a := range s.e.Alarms(account, region) {
		if a.Name == name {
			out := &ListTagsForResourceOutput{Tags: []Tag{}}
			for _, t := range a.Tags {
				out.Tags = append(out.Tags, Tag{Key: t.Key, Value: t.Value})
			}
			return out, nil
		}
	}
	return nil, &awsapi.Error{Code: codeNotFoundException, Status: 404, Message: "AlarmArn not found: " + awsapi.Clip(in.ResourceARN, 256)}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

var _ = time.Second
