package events

import (
	"strings"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// The IAM resources of EventBridge's operations (see
// awsapi.IAMResourcer): rules arn:aws:events:R:A:rule/N on the default
// event bus, arn:aws:events:R:A:rule/BUS/N on another; nil ("*") for the
// actions with no resource type.

// ruleARN is the rule name on the bus (a name or an ARN; nil: default).
func ruleARN(c *awsapi.Caller, name, bus *string) []string {
	n := awsapi.Value(name)
	if strings.HasPrefix(n, "arn:") {
		return []string{n}
	}
	b := awsapi.Value(bus)
	if i := strings.Index(b, ":event-bus/"); i >= 0 {
		b = b[i+len(":event-bus/"):]
	}
	if b == "" || b == "default" {
		return []string{c.ARN("events", "rule/"+n)}
	}
	return []string{c.ARN("events", "rule/"+b+"/"+n)}
}

// IAMResources is the rule.
func (in *PutRuleInput) IAMResources(c *awsapi.Caller) []string {
	return ruleARN(c, in.Name, in.EventBusName)
}

// IAMResources is the rule (DescribeRule, EnableRule, DisableRule).
func (in *RuleNameInput) IAMResources(c *awsapi.Caller) []string {
	return ruleARN(c, in.Name, in.EventBusName)
}

// IAMResources: ListRules has no resource type.
func (in *ListRulesInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources is the rule.
func (in *DeleteRuleInput) IAMResources(c *awsapi.Caller) []string {
	return ruleARN(c, in.Name, in.EventBusName)
}

// IAMResources: TestEventPattern has no resource type.
func (in *TestEventPatternInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources is the tagged rule.
func (in *TagResourceInput) IAMResources(*awsapi.Caller) []string {
	return []string{awsapi.Value(in.ResourceARN)}
}

// IAMResources is the tagged rule.
func (in *UntagResourceInput) IAMResources(*awsapi.Caller) []string {
	return []string{awsapi.Value(in.ResourceARN)}
}

// IAMResources is the tagged rule.
func (in *ListTagsForResourceInput) IAMResources(*awsapi.Caller) []string {
	return []string{awsapi.Value(in.ResourceARN)}
}

// IAMResources is the rule.
func (in *PutTargetsInput) IAMResources(c *awsapi.Caller) []string {
	return ruleARN(c, in.Rule, in.EventBusName)
}

// IAMResources is the rule.
func (in *RemoveTargetsInput) IAMResources(c *awsapi.Caller) []string {
	return ruleARN(c, in.Rule, in.EventBusName)
}

// IAMResources is the rule.
func (in *ListTargetsByRuleInput) IAMResources(c *awsapi.Caller) []string {
	return ruleARN(c, in.Rule, in.EventBusName)
}

// IAMResources: ListRuleNamesByTarget has no resource type.
func (in *ListRuleNamesByTargetInput) IAMResources(*awsapi.Caller) []string { return nil }
