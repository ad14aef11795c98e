package cloudwatch

import "github.com/opentrail/opentrail/internal/awsapi"

// The IAM resources of CloudWatch's operations (see
// awsapi.IAMResourcer): alarms arn:aws:cloudwatch:R:A:alarm:N; nil ("*")
// for the metric actions, which have no resource type.

func alarmARNs(c *awsapi.Caller, names ...string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, c.ARN("cloudwatch", "alarm:"+n))
	}
	return out
}

// IAMResources is the alarm.
func (in *PutMetricAlarmInput) IAMResources(c *awsapi.Caller) []string {
	return alarmARNs(c, in.AlarmName)
}

// IAMResources are the alarms named, or "*" for a listing by prefix,
// state or action.
func (in *DescribeAlarmsInput) IAMResources(c *awsapi.Caller) []string {
	if len(in.AlarmNames) == 0 {
		return nil
	}
	return alarmARNs(c, in.AlarmNames...)
}

// IAMResources: DescribeAlarmsForMetric has no resource type.
func (in *DescribeAlarmsForMetricInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources are the alarms (DeleteAlarms, EnableAlarmActions,
// DisableAlarmActions).
func (in *AlarmNamesInput) IAMResources(c *awsapi.Caller) []string {
	return alarmARNs(c, in.AlarmNames...)
}

// IAMResources is the alarm.
func (in *SetAlarmStateInput) IAMResources(c *awsapi.Caller) []string {
	return alarmARNs(c, in.AlarmName)
}

// IAMResources is the alarm when named, else "*".
func (in *DescribeAlarmHistoryInput) IAMResources(c *awsapi.Caller) []string {
	if in.AlarmName == "" {
		return nil
	}
	return alarmARNs(c, in.AlarmName)
}

// IAMResources is the tagged resource.
func (in *TagResourceInput) IAMResources(*awsapi.Caller) []string {
	return []string{in.ResourceARN}
}

// IAMResources is the tagged resource.
func (in *UntagResourceInput) IAMResources(*awsapi.Caller) []string {
	return []string{in.ResourceARN}
}

// IAMResources is the tagged resource.
func (in *ListTagsForResourceInput) IAMResources(*awsapi.Caller) []string {
	return []string{in.ResourceARN}
}

// IAMResources: PutMetricData has no resource type.
func (in *PutMetricDataInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources: GetMetricStatistics has no resource type.
func (in *GetMetricStatisticsInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources: ListMetrics has no resource type.
func (in *ListMetricsInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources: GetMetricData has no resource type.
func (in *GetMetricDataInput) IAMResources(*awsapi.Caller) []string { return nil }
