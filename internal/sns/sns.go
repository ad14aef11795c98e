// Package sns is the SNS API (signing name sns, the AWS query protocol):
// topics, subscriptions and Publish as func(ctx, *In) (*Out, error)
// operations registered into an awsapi.Router, which speaks the query
// protocol (awsapi.SNSProtocols) from these registrations. The topics,
// their subscriptions and delivery are internal/topics' component,
// reached through the Topics interface declared here; this package
// applies SNS's request rules and maps the component's refusals to SNS's
// error codes.
//
// Operations read the authenticated caller from the context and see only
// the caller's account and the request's region. A Service is safe for
// concurrent use; internal/server imports it, no other package does.
package sns

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/topics"
)

// Topics is the notification component (*topics.Topics).
type Topics interface {
	CreateTopic(ctx context.Context, c topics.Caller, name string, attrs, tags map[string]string) (string, error)
	DeleteTopic(ctx context.Context, c topics.Caller, arn string) error
	ListTopics(ctx context.Context, c topics.Caller, after string, limit int) ([]string, string, error)
	TopicAttributes(ctx context.Context, c topics.Caller, arn string) (map[string]string, error)
	SetTopicAttribute(ctx context.Context, c topics.Caller, arn, name, value string) error
	Subscribe(ctx context.Context, c topics.Caller, topicARN, protocol, endpoint string, attrs map[string]string) (*topics.Subscription, error)
	ConfirmSubscription(ctx context.Context, topicARN, token string, authOnUnsubscribe bool) (string, error)
	Unsubscribe(ctx context.Context, c topics.Caller, subARN string) error
	ListSubscriptions(ctx context.Context, c topics.Caller, topicARN, after string, limit int) ([]*topics.Subscription, string, error)
	SubscriptionAttributes(ctx context.Context, c topics.Caller, subARN string) (map[string]string, error)
	SetSubscriptionAttribute(ctx context.Context, c topics.Caller, subARN, name, value string) error
	PublishAs(ctx context.Context, c topics.Caller, topicARN string, in topics.PublishInput) (string, error)
	Tags(ctx context.Context, c topics.Caller, arn string) (map[string]string, error)
	Tag(ctx context.Context, c topics.Caller, arn string, add map[string]string, untag []string) error
}

// Service is the SNS operations over a Topics.
type Service struct {
	topics Topics
}

// New returns a Service over t.
func New(t Topics) *Service { return &Service{topics: t} }

// Register binds the operations to r (which must speak
// awsapi.SNSProtocols()).
func (s *Service) Register(r *awsapi.Router) {
	awsapi.Register(r, "CreateTopic", false, s.CreateTopic)
	awsapi.Register(r, "DeleteTopic", false, s.DeleteTopic)
	awsapi.Register(r, "ListTopics", true, s.ListTopics)
	awsapi.Register(r, "GetTopicAttributes", true, s.GetTopicAttributes)
	awsapi.Register(r, "SetTopicAttributes", false, s.SetTopicAttributes)
	awsapi.Register(r, "Subscribe", false, s.Subscribe)
	awsapi.Register(r, "ConfirmSubscription", false, s.ConfirmSubscription)
	awsapi.Register(r, "Unsubscribe", false, s.Unsubscribe)
	awsapi.Register(r, "ListSubscriptions", true, s.ListSubscriptions)
	awsapi.Register(r, "ListSubscriptionsByTopic", true, s.ListSubscriptionsByTopic)
	awsapi.Register(r, "GetSubscriptionAttributes", true, s.GetSubscriptionAttributes)
	awsapi.Register(r, "SetSubscriptionAttributes", false, s.SetSubscriptionAttributes)
	awsapi.Register(r, "Publish", false, s.Publish)
	awsapi.Register(r, "TagResource", false, s.TagResource)
	awsapi.Register(r, "UntagResource", false, s.UntagResource)
	awsapi.Register(r, "ListTagsForResource", true, s.ListTagsForResource)
}

// caller is the request's account, region and principal.
func caller(ctx context.Context) (topics.Caller, error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return topics.Caller{}, err
	}
	return topics.Caller{Account: p.AccountID, Region: c.Region, ARN: p.ARN}, nil
}

// apiError maps the component's refusals to SNS's errors; anything else
// is an internal error (logged by the router).
func apiError(err error) error {
	var e *topics.Error
	if errors.As(err, &e) {
		st := e.Status
		if st == 0 {
			st = http.StatusBadRequest
		}
		return &awsapi.Error{Code: e.Code, Message: e.Message, Status: st}
	}
	return err
}

func missing(name string) error {
	return awsapi.Errorf("InvalidParameter", "Invalid parameter: %s", name)
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// pageSize is how many topics or subscriptions one List page holds.
const pageSize = 100

// Tag is a topic tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// CreateTopicInput is CreateTopic's request.
type CreateTopicInput struct {
	Name                 *string           `json:"Name"`
	Attributes           map[string]string `json:"Attributes,omitempty"`
	Tags                 []Tag             `json:"Tags,omitempty"`
	DataProtectionPolicy *string           `json:"DataProtectionPolicy,omitempty"`
}

// CreateTopicOutput is CreateTopic's answer.
type CreateTopicOutput struct {
	TopicArn string `json:"TopicArn"`
}

func tagMap(tags []Tag) (map[string]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return nil, awsapi.NewError("InvalidParameter", "Invalid parameter: Tags Reason: a tag key is 1 to 128 characters and its value at most 256")
		}
		m[t.Key] = t.Value
	}
	return m, nil
}

// CreateTopic creates a topic, or returns the ARN of the same one.
func (s *Service) CreateTopic(ctx context.Context, in *CreateTopicInput) (*CreateTopicOutput, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.Name == nil {
		return nil, missing("Topic Name")
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	attrs := in.Attributes
	if in.DataProtectionPolicy != nil {
		if attrs == nil {
			attrs = map[string]string{}
		}
		attrs["DataProtectionPolicy"] = *in.DataProtectionPolicy
	}
	arn, err := s.topics.CreateTopic(ctx, c, *in.Name, attrs, tags)
	if err != nil {
		return nil, apiError(err)
	}
	return &CreateTopicOutput{TopicArn: arn}, nil
}

// TopicArnInput is the request of operations naming one topic.
type TopicArnInput struct {
	TopicArn *string `json:"TopicArn"`
}

// DeleteTopic deletes a topic (a missing one is no error).
func (s *Service) DeleteTopic(ctx context.Context, in *TopicArnInput) (*struct{}, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.TopicArn == nil {
		return nil, missing("TopicArn")
	}
	return nil, apiError(s.topics.DeleteTopic(ctx, c, *in.TopicArn))
}

// ListTopicsInput is ListTopics' request.
type ListTopicsInput struct {
	NextToken *string `json:"NextToken,omitempty"`
}

// TopicRef is one topic of ListTopics.
type TopicRef struct {
	TopicArn string `json:"TopicArn"`
}

// ListTopicsOutput is ListTopics' answer.
type ListTopicsOutput struct {
	Topics    []TopicRef `json:"Topics"`
	NextToken string     `json:"NextToken,omitempty"`
}

// ListTopics lists the caller's topics in the region, 100 a page.
func (s *Service) ListTopics(ctx context.Context, in *ListTopicsInput) (*ListTopicsOutput, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	arns, next, err := s.topics.ListTopics(ctx, c, str(in.NextToken), pageSize)
	if err != nil {
		return nil, apiError(err)
	}
	out := &ListTopicsOutput{Topics: []TopicRef{}, NextToken: next}
	for _, a := range arns {
		out.Topics = append(out.Topics, TopicRef{TopicArn: a})
	}
	return out, nil
}

// AttributesOutput is the answer of the Get…Attributes operations.
type AttributesOutput struct {
	Attributes map[string]string `json:"Attributes"`
}

// GetTopicAttributes returns a topic's attributes.
func (s *Service) GetTopicAttributes(ctx context.Context, in *TopicArnInput) (*AttributesOutput, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.TopicArn == nil {
		return nil, missing("TopicArn")
	}
	attrs, err := s.topics.TopicAttributes(ctx, c, *in.TopicArn)
	if err != nil {
		return nil, apiError(err)
	}
	return &AttributesOutput{Attributes: attrs}, nil
}

// SetTopicAttributesInput is SetTopicAttributes' request.
type SetTopicAttributesInput struct {
	TopicArn       *string `json:"TopicArn"`
	AttributeName  *string `json:"AttributeName"`
	AttributeValue *string `json:"AttributeValue,omitempty"`
}

// SetTopicAttributes sets one attribute of a topic.
func (s *Service) SetTopicAttributes(ctx context.Context, in *SetTopicAttributesInput) (*struct{}, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.TopicArn == nil {
		return nil, missing("TopicArn")
	}
	if in.AttributeName == nil {
		return nil, missing("AttributeName")
	}
	return nil, apiError(s.topics.SetTopicAttribute(ctx, c, *in.TopicArn, *in.AttributeName, str(in.AttributeValue)))
}

// SubscribeInput is Subscribe's request.
type SubscribeInput struct {
	TopicArn              *string           `json:"TopicArn"`
	Protocol              *string           `json:"Protocol"`
	Endpoint              *string           `json:"Endpoint,omitempty"`
	Attributes            map[string]string `json:"Attributes,omitempty"`
	ReturnSubscriptionArn *bool             `json:"ReturnSubscriptionArn,omitempty"`
}

// SubscriptionArnOutput is the answer of Subscribe and ConfirmSubscription.
type SubscriptionArnOutput struct {
	SubscriptionArn string `json:"SubscriptionArn"`
}

// Subscribe subscribes an endpoint; a subscription awaiting confirmation
// is answered "pending confirmation" unless ReturnSubscriptionArn.
func (s *Service) Subscribe(ctx context.Context, in *SubscribeInput) (*SubscriptionArnOutput, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.TopicArn == nil {
		return nil, missing("TopicArn")
	}
	if in.Protocol == nil {
		return nil, missing("Protocol")
	}
	if in.Endpoint == nil || *in.Endpoint == "" {
		return nil, missing("Endpoint")
	}
	sub, err := s.topics.Subscribe(ctx, c, *in.TopicArn, *in.Protocol, *in.Endpoint, in.Attributes)
	if err != nil {
		return nil, apiError(err)
	}
	if sub.Pending && (in.ReturnSubscriptionArn == nil || !*in.ReturnSubscriptionArn) {
		return &SubscriptionArnOutput{SubscriptionArn: topics.PendingConfirmation}, nil
	}
	return &SubscriptionArnOutput{SubscriptionArn: sub.ARN}, nil
}

// ConfirmSubscriptionInput is ConfirmSubscription's request.
type ConfirmSubscriptionInput struct {
	TopicArn                  *string `json:"TopicArn"`
	Token                     *string `json:"Token"`
	AuthenticateOnUnsubscribe *string `json:"AuthenticateOnUnsubscribe,omitempty"`
}

// ConfirmSubscription confirms a subscription with the token it was sent.
func (s *Service) ConfirmSubscription(ctx context.Context, in *ConfirmSubscriptionInput) (*SubscriptionArnOutput, error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	if in.TopicArn == nil {
		return nil, missing("TopicArn")
	}
	if in.Token == nil {
		return nil, missing("Token")
	}
	auth := false
	switch strings.ToLower(str(in.AuthenticateOnUnsubscribe)) {
	case "", "false":
	case "true":
		auth = true
	default:
		return nil, awsapi.NewError("InvalidParameter", "Invalid parameter: AuthenticateOnUnsubscribe")
	}
	arn, err := s.topics.ConfirmSubscription(ctx, *in.TopicArn, *in.Token, auth)
	if err != nil {
		return nil, apiError(err)
	}
	return &SubscriptionArnOutput{SubscriptionArn: arn}, nil
}

// SubscriptionArnInput is the request of operations naming one subscription.
type SubscriptionArnInput struct {
	SubscriptionArn *string `json:"SubscriptionArn"`
}

// Unsubscribe deletes a subscription.
func (s *Service) Unsubscribe(ctx context.Context, in *SubscriptionArnInput) (*struct{}, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.SubscriptionArn == nil {
		return nil, missing("SubscriptionArn")
	}
	return nil, apiError(s.topics.Unsubscribe(ctx, c, *in.SubscriptionArn))
}

// SubscriptionRef is one subscription of the List operations.
type SubscriptionRef struct {
	SubscriptionArn string `json:"SubscriptionArn"`
	Owner           string `json:"Owner"`
	Protocol        string `json:"Protocol"`
	Endpoint        string `json:"Endpoint"`
	TopicArn        string `json:"TopicArn"`
}

// ListSubscriptionsInput is ListSubscriptions' request.
type ListSubscriptionsInput struct {
	NextToken *string `json:"NextToken,omitempty"`
}

// ListSubscriptionsOutput is the answer of both List operations.
type ListSubscriptionsOutput struct {
	Subscriptions []SubscriptionRef `json:"Subscriptions"`
	NextToken     string            `json:"NextToken,omitempty"`
}

func (s *Service) list(ctx context.Context, topicARN string, token *string) (*ListSubscriptionsOutput, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	subs, next, err := s.topics.ListSubscriptions(ctx, c, topicARN, str(token), pageSize)
	if err != nil {
		return nil, apiError(err)
	}
	out := &ListSubscriptionsOutput{Subscriptions: []SubscriptionRef{}, NextToken: next}
	for _, sub := range subs {
		arn := sub.ARN
		if sub.Pending {
			arn = topics.PendingListed
		}
		out.Subscriptions = append(out.Subscriptions, SubscriptionRef{SubscriptionArn: arn, Owner: sub.Account,
			Protocol: sub.Protocol, Endpoint: sub.Endpoint, TopicArn: sub.TopicARN})
	}
	return out, nil
}

// ListSubscriptions lists the caller's subscriptions in the region.
func (s *Service) ListSubscriptions(ctx context.Context, in *ListSubscriptionsInput) (*ListSubscriptionsOutput, error) {
	return s.list(ctx, "", in.NextToken)
}

// ListSubscriptionsByTopicInput is ListSubscriptionsByTopic's request.
type ListSubscriptionsByTopicInput struct {
	TopicArn  *string `json:"TopicArn"`
	NextToken *string `json:"NextToken,omitempty"`
}

// ListSubscriptionsByTopic lists one topic's subscriptions.
func (s *Service) ListSubscriptionsByTopic(ctx context.Context, in *ListSubscriptionsByTopicInput) (*ListSubscriptionsOutput, error) {
	if in.TopicArn == nil {
		return nil, missing("TopicArn")
	}
	return s.list(ctx, *in.TopicArn, in.NextToken)
}

// GetSubscriptionAttributes returns a subscription's attributes.
func (s *Service) GetSubscriptionAttributes(ctx context.Context, in *SubscriptionArnInput) (*AttributesOutput, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.SubscriptionArn == nil {
		return nil, missing("SubscriptionArn")
	}
	attrs, err := s.topics.SubscriptionAttributes(ctx, c, *in.SubscriptionArn)
	if err != nil {
		return nil, apiError(err)
	}
	return &AttributesOutput{Attributes: attrs}, nil
}

// SetSubscriptionAttributesInput is SetSubscriptionAttributes' request.
type SetSubscriptionAttributesInput struct {
	SubscriptionArn *string `json:"SubscriptionArn"`
	AttributeName   *string `json:"AttributeName"`
	AttributeValue  *string `json:"AttributeValue,omitempty"`
}

// SetSubscriptionAttributes sets one attribute of a subscription.
func (s *Service) SetSubscriptionAttributes(ctx context.Context, in *SetSubscriptionAttributesInput) (*struct{}, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.SubscriptionArn == nil {
		return nil, missing("SubscriptionArn")
	}
	if in.AttributeName == nil {
		return nil, missing("AttributeName")
	}
	return nil, apiError(s.topics.SetSubscriptionAttribute(ctx, c, *in.SubscriptionArn, *in.AttributeName, str(in.AttributeValue)))
}

// MessageAttributeValue is one of Publish's MessageAttributes.
type MessageAttributeValue struct {
	DataType    *string `json:"DataType"`
	StringValue *string `json:"StringValue,omitempty"`
	BinaryValue []byte  `json:"BinaryValue,omitempty"`
}

// PublishInput is Publish's request.
type PublishInput struct {
	TopicArn               *string                          `json:"TopicArn,omitempty"`
	TargetArn              *string                          `json:"TargetArn,omitempty"`
	PhoneNumber            *string                          `json:"PhoneNumber,omitempty"`
	Message                *string                          `json:"Message"`
	Subject                *string                          `json:"Subject,omitempty"`
	MessageStructure       *string                          `json:"MessageStructure,omitempty"`
	MessageAttributes      map[string]MessageAttributeValue `json:"MessageAttributes,omitempty"`
	MessageDeduplicationId *string                          `json:"MessageDeduplicationId,omitempty"`
	MessageGroupId         *string                          `json:"MessageGroupId,omitempty"`
}

// hidden is what CloudTrail records in place of a published message's
// content.
const hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

// MarshalJSON is the request as the call's audit record shows it: as
// CloudTrail records SNS's Publish, the message, subject and attributes
// are hidden (they may be large and may hold secrets).
func (in PublishInput) MarshalJSON() ([]byte, error) {
	type plain PublishInput
	out := plain(in)
	h := hidden
	if out.Message != nil {
		out.Message = &h
	}
	if out.Subject != nil {
		out.Subject = &h
	}
	var attrs any
	if len(out.MessageAttributes) > 0 {
		attrs = h
	}
	out.MessageAttributes = nil
	return json.Marshal(struct {
		plain
		MessageAttributes any `json:"MessageAttributes,omitempty"`
	}{out, attrs})
}

// PublishOutput is Publish's answer.
type PublishOutput struct {
	MessageId string `json:"MessageId"`
}

// Publish publishes a message to a topic; it is stored before the answer.
func (s *Service) Publish(ctx context.Context, in *PublishInput) (*PublishOutput, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.PhoneNumber != nil {
		return nil, awsapi.NewError("InvalidParameter", "Invalid parameter: PhoneNumber Reason: opentrail does not send SMS; publish to a topic")
	}
	arn := str(in.TopicArn)
	if arn == "" {
		arn = str(in.TargetArn)
	}
	if arn == "" {
		return nil, awsapi.NewError("InvalidParameter", "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter")
	}
	if in.Message == nil {
		return nil, missing("Message")
	}
	if in.MessageDeduplicationId != nil || in.MessageGroupId != nil {
		return nil, awsapi.NewError("InvalidParameter", "Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type")
	}
	p := topics.PublishInput{Subject: str(in.Subject), Message: *in.Message}
	switch str(in.MessageStructure) {
	case "":
	case "json":
		p.Structured = true
	default:
		return nil, awsapi.NewError("InvalidParameter", "Invalid parameter: MessageStructure")
	}
	for k, v := range in.MessageAttributes {
		if p.Attributes == nil {
			p.Attributes = map[string]topics.MessageAttribute{}
		}
		p.Attributes[k] = topics.MessageAttribute{DataType: str(v.DataType), StringValue: str(v.StringValue), BinaryValue: v.BinaryValue}
	}
	id, err := s.topics.PublishAs(ctx, c, arn, p)
	if err != nil {
		return nil, apiError(err)
	}
	return &PublishOutput{MessageId: id}, nil
}

// TagResourceInput is TagResource's request.
type TagResourceInput struct {
	ResourceArn *string `json:"ResourceArn"`
	Tags        []Tag   `json:"Tags"`
}

// TagResource adds tags to a topic.
func (s *Service) TagResource(ctx context.Context, in *TagResourceInput) (*struct{}, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.ResourceArn == nil {
		return nil, missing("ResourceArn")
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	if tags == nil {
		tags = map[string]string{}
	}
	return nil, apiError(s.topics.Tag(ctx, c, *in.ResourceArn, tags, nil))
}

// UntagResourceInput is UntagResource's request.
type UntagResourceInput struct {
	ResourceArn *string  `json:"ResourceArn"`
	TagKeys     []string `json:"TagKeys"`
}

// UntagResource removes tags from a topic.
func (s *Service) UntagResource(ctx context.Context, in *UntagResourceInput) (*struct{}, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.ResourceArn == nil {
		return nil, missing("ResourceArn")
	}
	return nil, apiError(s.topics.Tag(ctx, c, *in.ResourceArn, nil, in.TagKeys))
}

// ResourceArnInput is ListTagsForResource's request.
type ResourceArnInput struct {
	ResourceArn *string `json:"ResourceArn"`
}

// ListTagsOutput is ListTagsForResource's answer.
type ListTagsOutput struct {
	Tags []Tag `json:"Tags"`
}

// ListTagsForResource lists a topic's tags.
func (s *Service) ListTagsForResource(ctx context.Context, in *ResourceArnInput) (*ListTagsOutput, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.ResourceArn == nil {
		return nil, missing("ResourceArn")
	}
	tags, err := s.topics.Tags(ctx, c, *in.ResourceArn)
	if err != nil {
		return nil, apiError(err)
	}
	out := &ListTagsOutput{Tags: []Tag{}}
	for k, v := range tags {
		out.Tags = append(out.Tags, Tag{Key: k, Value: v})
	}
	slices.SortFunc(out.Tags, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
