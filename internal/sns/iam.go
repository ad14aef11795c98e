package sns

import (
	"strings"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// The IAM resources of SNS's operations (see awsapi.IAMResourcer):
// topics arn:aws:sns:R:A:N. A subscription's actions are authorized on
// its topic (a subscription ARN is the topic's ARN and an ID); nil ("*")
// for the listings.

func topicARNs(p *string) []string {
	return []string{awsapi.Value(p)}
}

// topicOfSubscription is the topic a subscription ARN belongs to.
func topicOfSubscription(p *string) []string {
	s := awsapi.Value(p)
	if i := strings.LastIndexByte(s, ':'); i > 0 && strings.Count(s, ":") == 6 {
		s = s[:i]
	}
	return []string{s}
}

// IAMResources is the topic to be created.
func (in *CreateTopicInput) IAMResources(c *awsapi.Caller) []string {
	return []string{c.ARN("sns", awsapi.Value(in.Name))}
}

// IAMResources is the topic (DeleteTopic, GetTopicAttributes).
func (in *TopicArnInput) IAMResources(*awsapi.Caller) []string { return topicARNs(in.TopicArn) }

// IAMResources: ListTopics has no resource type.
func (in *ListTopicsInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources is the topic.
func (in *SetTopicAttributesInput) IAMResources(*awsapi.Caller) []string {
	return topicARNs(in.TopicArn)
}

// IAMResources is the topic.
func (in *SubscribeInput) IAMResources(*awsapi.Caller) []string { return topicARNs(in.TopicArn) }

// IAMResources is the topic.
func (in *ConfirmSubscriptionInput) IAMResources(*awsapi.Caller) []string {
	return topicARNs(in.TopicArn)
}

// IAMResources is the subscription's topic (Unsubscribe,
// GetSubscriptionAttributes).
func (in *SubscriptionArnInput) IAMResources(*awsapi.Caller) []string {
	return topicOfSubscription(in.SubscriptionArn)
}

// IAMResources: ListSubscriptions has no resource type.
func (in *ListSubscriptionsInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources is the topic.
func (in *ListSubscriptionsByTopicInput) IAMResources(*awsapi.Caller) []string {
	return topicARNs(in.TopicArn)
}

// IAMResources is the subscription's topic.
func (in *SetSubscriptionAttributesInput) IAMResources(*awsapi.Caller) []string {
	return topicOfSubscription(in.SubscriptionArn)
}

// IAMResources is the topic (TopicArn, or TargetArn); "*" for a message
// to a phone number.
func (in *PublishInput) IAMResources(*awsapi.Caller) []string {
	switch {
	case in.TopicArn != nil:
		return topicARNs(in.TopicArn)
	case in.TargetArn != nil:
		return topicARNs(in.TargetArn)
	}
	return nil
}

// IAMResources is the tagged topic.
func (in *TagResourceInput) IAMResources(*awsapi.Caller) []string { return topicARNs(in.ResourceArn) }

// IAMResources is the tagged topic.
func (in *UntagResourceInput) IAMResources(*awsapi.Caller) []string {
	return topicARNs(in.ResourceArn)
}

// IAMResources is the tagged topic.
func (in *ResourceArnInput) IAMResources(*awsapi.Caller) []string { return topicARNs(in.ResourceArn) }
