package logs

import (
	"strings"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// The IAM resources of CloudWatch Logs' operations (see
// awsapi.IAMResourcer): log groups arn:aws:logs:R:A:log-group:N, log
// streams arn:aws:logs:R:A:log-group:N:log-stream:S; nil ("*") for the
// actions with no resource type.

// groupARN is the log group a name or identifier (a name or an ARN, with
// or without a trailing :*) names.
func groupARN(c *awsapi.Caller, ref string) string {
	if strings.HasPrefix(ref, "arn:") {
		return strings.TrimSuffix(ref, ":*")
	}
	return c.ARN("logs", "log-group:"+ref)
}

// groupOf is the log group named by name or identifier.
func groupOf(c *awsapi.Caller, name, id *string) []string {
	switch {
	case name != nil:
		return []string{groupARN(c, *name)}
	case id != nil:
		return []string{groupARN(c, *id)}
	}
	return nil
}

func streamARN(c *awsapi.Caller, group, stream string) string {
	return groupARN(c, group) + ":log-stream:" + stream
}

// IAMResources is the log group.
func (in *CreateLogGroupInput) IAMResources(c *awsapi.Caller) []string {
	return []string{groupARN(c, in.LogGroupName)}
}

// IAMResources is the log group (DeleteLogGroup, DeleteRetentionPolicy,
// ListTagsLogGroup).
func (in *LogGroupNameInput) IAMResources(c *awsapi.Caller) []string {
	return []string{groupARN(c, in.LogGroupName)}
}

// IAMResources: DescribeLogGroups has no resource type.
func (in *DescribeLogGroupsInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources is the log group.
func (in *PutRetentionPolicyInput) IAMResources(c *awsapi.Caller) []string {
	return []string{groupARN(c, in.LogGroupName)}
}

// IAMResources is the log group.
func (in *TagLogGroupInput) IAMResources(c *awsapi.Caller) []string {
	return []string{groupARN(c, in.LogGroupName)}
}

// IAMResources is the log group.
func (in *UntagLogGroupInput) IAMResources(c *awsapi.Caller) []string {
	return []string{groupARN(c, in.LogGroupName)}
}

// IAMResources is the tagged resource (TagResource, UntagResource,
// ListTagsForResource).
func (in *ResourceInput) IAMResources(c *awsapi.Caller) []string {
	return []string{groupARN(c, in.ResourceArn)}
}

// IAMResources is the log group the stream is created in.
func (in *CreateLogStreamInput) IAMResources(c *awsapi.Caller) []string {
	return []string{groupARN(c, in.LogGroupName)}
}

// IAMResources is the log group.
func (in *DescribeLogStreamsInput) IAMResources(c *awsapi.Caller) []string {
	return groupOf(c, in.LogGroupName, in.LogGroupIdentifier)
}

// IAMResources is the log stream.
func (in *PutLogEventsInput) IAMResources(c *awsapi.Caller) []string {
	return []string{streamARN(c, in.LogGroupName, in.LogStreamName)}
}

// IAMResources is the log stream.
func (in *GetLogEventsInput) IAMResources(c *awsapi.Caller) []string {
	g := awsapi.Value(in.LogGroupName)
	if g == "" {
		g = awsapi.Value(in.LogGroupIdentifier)
	}
	return []string{streamARN(c, g, in.LogStreamName)}
}

// IAMResources is the log group.
func (in *FilterLogEventsInput) IAMResources(c *awsapi.Caller) []string {
	return groupOf(c, in.LogGroupName, in.LogGroupIdentifier)
}

// IAMResources is the log group.
func (in *PutMetricFilterInput) IAMResources(c *awsapi.Caller) []string {
	return []string{groupARN(c, in.LogGroupName)}
}

// IAMResources is the log group when named, else "*".
func (in *DescribeMetricFiltersInput) IAMResources(c *awsapi.Caller) []string {
	return groupOf(c, in.LogGroupName, nil)
}

// IAMResources is the log group (DeleteMetricFilter,
// DeleteSubscriptionFilter).
func (in *DeleteFilterInput) IAMResources(c *awsapi.Caller) []string {
	return []string{groupARN(c, in.LogGroupName)}
}

// IAMResources: TestMetricFilter has no resource type.
func (in *TestMetricFilterInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources is the log group.
func (in *PutSubscriptionFilterInput) IAMResources(c *awsapi.Caller) []string {
	return []string{groupARN(c, in.LogGroupName)}
}

// IAMResources is the log group.
func (in *DescribeSubscriptionFiltersInput) IAMResources(c *awsapi.Caller) []string {
	return []string{groupARN(c, in.LogGroupName)}
}

// IAMResources are the log groups queried.
func (in *StartQueryInput) IAMResources(c *awsapi.Caller) []string {
	var out []string
	if in.LogGroupName != nil {
		out = append(out, groupARN(c, *in.LogGroupName))
	}
	for _, g := range in.LogGroupNames {
		out = append(out, groupARN(c, g))
	}
	for _, g := range in.LogGroupIdentifiers {
		out = append(out, groupARN(c, g))
	}
	return out
}

// IAMResources: GetQueryResults has no resource type.
func (in *GetQueryResultsInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources: StopQuery has no resource type.
func (in *StopQueryInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources: DescribeQueries has no resource type.
func (in *DescribeQueriesInput) IAMResources(*awsapi.Caller) []string { return nil }
