package events

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/eventpattern"
	"github.com/opentrail/opentrail/internal/eventrules"
	"github.com/opentrail/opentrail/internal/pagetoken"
)

// Empty is the answer of operations that return nothing.
type Empty struct{}

// Tag is one tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// PutRuleInput is PutRule's request.
type PutRuleInput struct {
	Name               *string `json:"Name"`
	ScheduleExpression *string `json:"ScheduleExpression,omitempty"`
	EventPattern       *string `json:"EventPattern,omitempty"`
	State              *string `json:"State,omitempty"`
	Description        *string `json:"Description,omitempty"`
	RoleArn            *string `json:"RoleArn,omitempty"`
	Tags               []Tag   `json:"Tags,omitempty"`
	EventBusName       *string `json:"EventBusName,omitempty"`
}

// PutRuleOutput is PutRule's answer.
type PutRuleOutput struct {
	RuleArn string `json:"RuleArn"`
}

const stateEnum = "Member must satisfy enum value set: [ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS, DISABLED, ENABLED]"

// compile checks an event pattern, answering EventBridge's
// InvalidEventPatternException for a bad one.
func compile(pattern string) (*eventpattern.Pattern, error) {
	p, err := eventpattern.Compile(pattern)
	if err != nil {
		var pe *eventpattern.Error
		if errors.As(err, &pe) {
			return nil, awsapi.NewError(codePattern, pe.Message)
		}
		return nil, awsapi.NewError(codePattern, "Event pattern is not valid. Reason: "+err.Error())
	}
	return p, nil
}

// PutRule creates or updates a rule on the default bus.
func (s *Service) PutRule(ctx context.Context, in *PutRuleInput) (*PutRuleOutput, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v validationErrors
	v.checkName("name", in.Name, true)
	v.checkMax("eventPattern", in.EventPattern, 4096)
	v.checkMax("scheduleExpression", in.ScheduleExpression, 256)
	v.checkMax("description", in.Description, 512)
	if in.State != nil {
		switch *in.State {
		case eventrules.StateEnabled, eventrules.StateDisabled, eventrules.StateEnabledAll:
		default:
			v.add("state", "'"+*in.State+"'", stateEnum)
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := checkBus(in.EventBusName, acc, reg); err != nil {
		return nil, err
	}
	if str(in.EventPattern) == "" && str(in.ScheduleExpression) == "" {
		return nil, awsapi.NewError(codeValidation, "Parameter(s) EventPattern or ScheduleExpression must be specified.")
	}
	if in.ScheduleExpression != nil {
		return nil, awsapi.NewError(codeValidation, "opentrail runs rules with an EventPattern over CloudTrail's events; "+
			"ScheduleExpression is not supported: leave it out.")
	}
	if _, err := compile(*in.EventPattern); err != nil {
		return nil, err
	}
	tags := map[string]string{}
	for _, t := range in.Tags {
		tags[t.Key] = t.Value
	}
	arn, err := s.rules.PutRule(ctx, eventrules.Rule{
		Account: acc, Region: reg, Name: *in.Name, EventPattern: *in.EventPattern, State: str(in.State),
		Description: str(in.Description), RoleARN: str(in.RoleArn), CreatedBy: acc, Tags: tags,
	})
	if err != nil {
		return nil, wire(err)
	}
	return &PutRuleOutput{RuleArn: arn}, nil
}

// RuleNameInput is the request of operations on one rule by name.
type RuleNameInput struct {
	Name         *string `json:"Name"`
	EventBusName *string `json:"EventBusName,omitempty"`
}

// DeleteRuleInput is DeleteRule's request.
type DeleteRuleInput struct {
	Name         *string `json:"Name"`
	EventBusName *string `json:"EventBusName,omitempty"`
	Force        bool    `json:"Force,omitempty"`
}

// DescribeRuleOutput is DescribeRule's answer.
type DescribeRuleOutput struct {
	Name               string  `json:"Name"`
	Arn                string  `json:"Arn"`
	EventPattern       *string `json:"EventPattern,omitempty"`
	ScheduleExpression *string `json:"ScheduleExpression,omitempty"`
	State              string  `json:"State"`
	Description        *string `json:"Description,omitempty"`
	RoleArn            *string `json:"RoleArn,omitempty"`
	EventBusName       string  `json:"EventBusName"`
	CreatedBy          string  `json:"CreatedBy,omitempty"`
}

// one validates a request naming one rule and returns the caller.
func one(ctx context.Context, name, bus *string) (acc, reg string, err error) {
	if acc, reg, err = caller(ctx); err != nil {
		return "", "", err
	}
	var v validationErrors
	v.checkName("name", name, true)
	if err := v.err(); err != nil {
		return "", "", err
	}
	return acc, reg, checkBus(bus, acc, reg)
}

// DescribeRule returns one rule.
func (s *Service) DescribeRule(ctx context.Context, in *RuleNameInput) (*DescribeRuleOutput, error) {
	acc, reg, err := one(ctx, in.Name, in.EventBusName)
	if err != nil {
		return nil, err
	}
	r, err := s.rules.Rule(ctx, acc, reg, *in.Name)
	if err != nil {
		return nil, wire(err)
	}
	return &DescribeRuleOutput{Name: r.Name, Arn: r.ARN, EventPattern: strp(r.EventPattern), ScheduleExpression: strp(r.ScheduleExpression),
		State: r.State, Description: strp(r.Description), RoleArn: strp(r.RoleARN), EventBusName: eventrules.DefaultBus, CreatedBy: r.CreatedBy}, nil
}

// ListRulesInput is ListRules' request.
type ListRulesInput struct {
	NamePrefix   *string `json:"NamePrefix,omitempty"`
	EventBusName *string `json:"EventBusName,omitempty"`
	NextToken    *string `json:"NextToken,omitempty"`
	Limit        *int32  `json:"Limit,omitempty"`
}

// RuleEntry is one rule in ListRules' answer.
type RuleEntry struct {
	Name               string  `json:"Name"`
	Arn                string  `json:"Arn"`
	EventPattern       *string `json:"EventPattern,omitempty"`
	State              string  `json:"State"`
	Description        *string `json:"Description,omitempty"`
	ScheduleExpression *string `json:"ScheduleExpression,omitempty"`
	RoleArn            *string `json:"RoleArn,omitempty"`
	EventBusName       string  `json:"EventBusName"`
}

// ListRulesOutput is ListRules' answer.
type ListRulesOutput struct {
	Rules     []RuleEntry `json:"Rules"`
	NextToken *string     `json:"NextToken,omitempty"`
}

// ListRules lists the rules of the default bus, by name.
func (s *Service) ListRules(ctx context.Context, in *ListRulesInput) (*ListRulesOutput, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v validationErrors
	v.checkName("namePrefix", in.NamePrefix, false)
	v.checkLimit("limit", in.Limit)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := checkBus(in.EventBusName, acc, reg); err != nil {
		return nil, err
	}
	qh := pagetoken.NewHasher().Str(acc).Str(reg).Str(str(in.NamePrefix)).Sum()
	off, err := s.page(pagetoken.KindEventRules, qh, in.NextToken)
	if err != nil {
		return nil, err
	}
	rs, err := s.rules.List(ctx, acc, reg, str(in.NamePrefix))
	if err != nil {
		return nil, wire(err)
	}
	lo, hi, next := window(len(rs), off, limitOr(in.Limit, 100))
	out := &ListRulesOutput{Rules: []RuleEntry{}, NextToken: s.issue(pagetoken.KindEventRules, qh, next)}
	for _, r := range rs[lo:hi] {
		out.Rules = append(out.Rules, RuleEntry{Name: r.Name, Arn: r.ARN, EventPattern: strp(r.EventPattern), State: r.State,
			Description: strp(r.Description), ScheduleExpression: strp(r.ScheduleExpression), RoleArn: strp(r.RoleARN),
			EventBusName: eventrules.DefaultBus})
	}
	return out, nil
}

// DeleteRule deletes a rule that has no targets (or any rule, with Force).
func (s *Service) DeleteRule(ctx context.Context, in *DeleteRuleInput) (*Empty, error) {
	acc, reg, err := one(ctx, in.Name, in.EventBusName)
	if err != nil {
		return nil, err
	}
	return nil, wire(s.rules.DeleteRule(ctx, acc, reg, *in.Name, in.Force))
}

// EnableRule sets a rule's state to ENABLED.
func (s *Service) EnableRule(ctx context.Context, in *RuleNameInput) (*Empty, error) {
	acc, reg, err := one(ctx, in.Name, in.EventBusName)
	if err != nil {
		return nil, err
	}
	return nil, wire(s.rules.SetState(ctx, acc, reg, *in.Name, eventrules.StateEnabled))
}

// DisableRule sets a rule's state to DISABLED.
func (s *Service) DisableRule(ctx context.Context, in *RuleNameInput) (*Empty, error) {
	acc, reg, err := one(ctx, in.Name, in.EventBusName)
	if err != nil {
		return nil, err
	}
	return nil, wire(s.rules.SetState(ctx, acc, reg, *in.Name, eventrules.StateDisabled))
}

// TestEventPatternInput is TestEventPattern's request.
type TestEventPatternInput struct {
	EventPattern *string `json:"EventPattern"`
	Event        *string `json:"Event"`
}

// TestEventPatternOutput is TestEventPattern's answer.
type TestEventPatternOutput struct {
	Result bool `json:"Result"`
}

// mandatory are the members an event given to TestEventPattern must
// have. (The API reference also lists resources; EventBridge does not
// require it.)
var mandatory = []string{"id", "account", "source", "time", "region", "detail-type"}

// TestEventPattern reports whether an event matches a pattern.
func (s *Service) TestEventPattern(ctx context.Context, in *TestEventPatternInput) (*TestEventPatternOutput, error) {
	if _, _, err := caller(ctx); err != nil {
		return nil, err
	}
	var v validationErrors
	if in.EventPattern == nil {
		v.add("eventPattern", "null", "Member must not be null")
	}
	if in.Event == nil {
		v.add("event", "null", "Member must not be null")
	}
	v.checkMax("eventPattern", in.EventPattern, 4096)
	if err := v.err(); err != nil {
		return nil, err
	}
	var ev map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*in.Event), &ev); err != nil || ev == nil {
		return nil, awsapi.NewError(codeValidation, "Parameter Event is not valid.")
	}
	for _, k := range mandatory {
		if _, ok := ev[k]; !ok {
			return nil, awsapi.NewError(codeValidation, "Parameter Event is not valid.")
		}
	}
	p, err := compile(*in.EventPattern)
	if err != nil {
		return nil, err
	}
	ok, err := p.Match([]byte(*in.Event))
	if err != nil {
		return nil, awsapi.NewError(codeValidation, "Parameter Event is not valid.")
	}
	return &TestEventPatternOutput{Result: ok}, nil
}

// resourceRule resolves a rule ARN of the caller's account and region.
func resourceRule(ctx context.Context, arn *string) (acc, reg, name string, err error) {
	if acc, reg, err = caller(ctx); err != nil {
		return "", "", "", err
	}
	if arn == nil {
		return "", "", "", validationErrors{"Value null at 'resourceARN' failed to satisfy constraint: Member must not be null"}.err()
	}
	a, r, n, ok := eventrules.ParseRuleARN(*arn)
	if !ok || a != acc || r != reg {
		if ok && (a != acc || r != reg) {
			return "", "", "", awsapi.NewError(codeNotFound, "Rule "+n+" does not exist on EventBus default.")
		}
		return "", "", "", awsapi.NewError(codeValidation, "Parameter ResourceARN is not valid.")
	}
	return acc, reg, n, nil
}

// TagResourceInput is TagResource's request.
type TagResourceInput struct {
	ResourceARN *string `json:"ResourceARN"`
	Tags        []Tag   `json:"Tags"`
}

// TagResource adds tags to a rule.
func (s *Service) TagResource(ctx context.Context, in *TagResourceInput) (*Empty, error) {
	acc, reg, name, err := resourceRule(ctx, in.ResourceARN)
	if err != nil {
		return nil, err
	}
	add := map[string]string{}
	for _, t := range in.Tags {
		add[t.Key] = t.Value
	}
	return &Empty{}, wire(s.rules.Tag(ctx, acc, reg, name, add, nil))
}

// UntagResourceInput is UntagResource's request.
type UntagResourceInput struct {
	ResourceARN *string  `json:"ResourceARN"`
	TagKeys     []string `json:"TagKeys"`
}

// UntagResource removes tags from a rule.
func (s *Service) UntagResource(ctx context.Context, in *UntagResourceInput) (*Empty, error) {
	acc, reg, name, err := resourceRule(ctx, in.ResourceARN)
	if err != nil {
		return nil, err
	}
	return &Empty{}, wire(s.rules.Tag(ctx, acc, reg, name, nil, in.TagKeys))
}

// ListTagsForResourceInput is ListTagsForResource's request.
type ListTagsForResourceInput struct {
	ResourceARN *string `json:"ResourceARN"`
}

// ListTagsForResourceOutput is ListTagsForResource's answer.
type ListTagsForResourceOutput struct {
	Tags []Tag `json:"Tags"`
}

// ListTagsForResource returns a rule's tags, by key.
func (s *Service) ListTagsForResource(ctx context.Context, in *ListTagsForResourceInput) (*ListTagsForResourceOutput, error) {
	acc, reg, name, err := resourceRule(ctx, in.ResourceARN)
	if err != nil {
		return nil, err
	}
	r, err := s.rules.Rule(ctx, acc, reg, name)
	if err != nil {
		return nil, wire(err)
	}
	out := &ListTagsForResourceOutput{Tags: []Tag{}}
	for _, k := range eventrules.SortedTags(r.Tags) {
		out.Tags = append(out.Tags, Tag{Key: k, Value: r.Tags[k]})
	}
	return out, nil
}
