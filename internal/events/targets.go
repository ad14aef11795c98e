package events

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/eventrules"
	"github.com/opentrail/opentrail/internal/pagetoken"
)

// Target is one target as the API takes and returns it. Members for
// other target kinds are kept as given and returned unchanged.
type Target struct {
	Id                          *string         `json:"Id"`
	Arn                         *string         `json:"Arn"`
	RoleArn                     *string         `json:"RoleArn,omitempty"`
	Input                       *string         `json:"Input,omitempty"`
	InputPath                   *string         `json:"InputPath,omitempty"`
	InputTransformer            json.RawMessage `json:"InputTransformer,omitempty"`
	KinesisParameters           json.RawMessage `json:"KinesisParameters,omitempty"`
	RunCommandParameters        json.RawMessage `json:"RunCommandParameters,omitempty"`
	EcsParameters               json.RawMessage `json:"EcsParameters,omitempty"`
	BatchParameters             json.RawMessage `json:"BatchParameters,omitempty"`
	SqsParameters               json.RawMessage `json:"SqsParameters,omitempty"`
	HttpParameters              json.RawMessage `json:"HttpParameters,omitempty"`
	RedshiftDataParameters      json.RawMessage `json:"RedshiftDataParameters,omitempty"`
	SageMakerPipelineParameters json.RawMessage `json:"SageMakerPipelineParameters,omitempty"`
	DeadLetterConfig            json.RawMessage `json:"DeadLetterConfig,omitempty"`
	RetryPolicy                 json.RawMessage `json:"RetryPolicy,omitempty"`
	AppSyncParameters           json.RawMessage `json:"AppSyncParameters,omitempty"`
}

// PutTargetsInput is PutTargets' request.
type PutTargetsInput struct {
	Rule         *string  `json:"Rule"`
	EventBusName *string  `json:"EventBusName,omitempty"`
	Targets      []Target `json:"Targets"`
}

// ResultEntry is one failed entry of PutTargets or RemoveTargets.
type ResultEntry struct {
	TargetId     string `json:"TargetId"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

// TargetsResult is PutTargets' and RemoveTargets' answer.
type TargetsResult struct {
	FailedEntryCount int           `json:"FailedEntryCount"`
	FailedEntries    []ResultEntry `json:"FailedEntries"`
}

func result(failed []ResultEntry) *TargetsResult {
	if failed == nil {
		failed = []ResultEntry{}
	}
	return &TargetsResult{FailedEntryCount: len(failed), FailedEntries: failed}
}

// checkTarget returns why a target cannot be delivered to, or "".
func checkTarget(t *Target) string {
	arn := *t.Arn
	if p := strings.SplitN(arn, ":", 6); len(p) != 6 || p[0] != "arn" || p[2] == "" || p[5] == "" {
		return "Parameter " + arn + " is not valid. Reason: Provided Arn is not in correct format."
	}
	if !eventrules.IsTopicARN(arn) {
		return "opentrail delivers event rule targets to SNS topics only; " + arn + " is not an SNS topic ARN."
	}
	n := 0
	for _, set := range []bool{t.Input != nil, t.InputPath != nil, len(t.InputTransformer) > 0} {
		if set {
			n++
		}
	}
	if n > 1 {
		return "Only one of Input, InputPath, or InputTransformer must be provided."
	}
	if tr := transformer(t); tr != nil {
		for _, k := range eventrules.SortedTags(tr.PathsMap) {
			if eventrules.IsPredefined(k) {
				return "InputPathsMap key " + k + " is reserved: names starting with aws.events. are predefined variables."
			}
			if p := tr.PathsMap[k]; !eventrules.ValidPath(p) {
				return "InputPathsMap value " + p + " of key " + k + " is not a JSONPath opentrail applies: use $ followed by .member, ['member'] or [index] steps."
			}
		}
	}
	if t.Input != nil && !json.Valid([]byte(*t.Input)) {
		return "Input is not valid JSON text."
	}
	if t.InputPath != nil && !eventrules.ValidPath(*t.InputPath) {
		return "InputPath " + *t.InputPath + " is not a JSONPath opentrail applies: use $ followed by .member, ['member'] or [index] steps."
	}
	return ""
}

// inputTransformer is a target's InputTransformer as the API takes it.
type inputTransformer struct {
	InputPathsMap map[string]string `json:"InputPathsMap"`
	InputTemplate *string           `json:"InputTemplate"`
}

// transformer decodes a target's InputTransformer; nil for none (or one
// PutTargets' validation refuses).
func transformer(t *Target) *eventrules.Transformer {
	if len(t.InputTransformer) == 0 || string(t.InputTransformer) == "null" {
		return nil
	}
	var x inputTransformer
	if json.Unmarshal(t.InputTransformer, &x) != nil || x.InputTemplate == nil {
		return nil
	}
	return &eventrules.Transformer{PathsMap: x.InputPathsMap, Template: *x.InputTemplate}
}

// PutTargets adds targets to a rule or updates them. Targets that cannot
// be delivered to are answered in FailedEntries; the others are put.
func (s *Service) PutTargets(ctx context.Context, in *PutTargetsInput) (*TargetsResult, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v validationErrors
	v.checkName("rule", in.Rule, true)
	switch {
	case in.Targets == nil:
		v.add("targets", "null", "Member must not be null")
	case len(in.Targets) > 100:
		v.add("targets", "'[…]'", "Member must have length less than or equal to 100")
	case len(in.Targets) == 0:
		v.add("targets", "'[]'", "Member must have length greater than or equal to 1")
	}
	for i := range in.Targets {
		t := &in.Targets[i]
		m := "targets." + strconv.Itoa(i+1) + ".member."
		v.checkName(m+"id", t.Id, true)
		if t.Arn == nil {
			v.add(m+"arn", "null", "Member must not be null")
		}
		v.checkMax(m+"input", t.Input, 8192)
		v.checkMax(m+"inputPath", t.InputPath, 256)
		if len(t.InputTransformer) > 0 && string(t.InputTransformer) != "null" {
			var x inputTransformer
			if err := json.Unmarshal(t.InputTransformer, &x); err != nil {
				return nil, awsapi.NewError(awsapi.CodeSerialization, "InputTransformer must be an object with InputTemplate and InputPathsMap")
			}
			switch {
			case x.InputTemplate == nil:
				v.add(m+"inputTransformer.inputTemplate", "null", "Member must not be null")
			case *x.InputTemplate == "":
				v.add(m+"inputTransformer.inputTemplate", "''", "Member must have length greater than or equal to 1")
			default:
				v.checkMax(m+"inputTransformer.inputTemplate", x.InputTemplate, 8192)
			}
			if len(x.InputPathsMap) > 100 {
				v.add(m+"inputTransformer.inputPathsMap", "'{…}'", "Member must have length less than or equal to 100")
			}
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := checkBus(in.EventBusName, acc, reg); err != nil {
		return nil, err
	}
	var (
		failed []ResultEntry
		put    []eventrules.Target
	)
	for i := range in.Targets {
		t := &in.Targets[i]
		if why := checkTarget(t); why != "" {
			failed = append(failed, ResultEntry{TargetId: *t.Id, ErrorCode: codeValidation, ErrorMessage: why})
			continue
		}
		spec, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		put = append(put, eventrules.Target{ID: *t.Id, ARN: *t.Arn, Input: str(t.Input), InputPath: str(t.InputPath),
			Transformer: transformer(t), Spec: string(spec)})
	}
	if len(put) > 0 {
		if err := s.rules.PutTargets(ctx, acc, reg, *in.Rule, put); err != nil {
			return nil, wire(err)
		}
	} else if _, err := s.rules.TargetsOf(ctx, acc, reg, *in.Rule); err != nil {
		return nil, wire(err)
	}
	return result(failed), nil
}

// RemoveTargetsInput is RemoveTargets' request.
type RemoveTargetsInput struct {
	Rule         *string  `json:"Rule"`
	EventBusName *string  `json:"EventBusName,omitempty"`
	Ids          []string `json:"Ids"`
	Force        bool     `json:"Force,omitempty"`
}

// RemoveTargets removes targets from a rule; ids it does not have are
// answered in FailedEntries.
func (s *Service) RemoveTargets(ctx context.Context, in *RemoveTargetsInput) (*TargetsResult, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v validationErrors
	v.checkName("rule", in.Rule, true)
	switch {
	case in.Ids == nil:
		v.add("ids", "null", "Member must not be null")
	case len(in.Ids) == 0:
		v.add("ids", "'[]'", "Member must have length greater than or equal to 1")
	case len(in.Ids) > 100:
		v.add("ids", "'[…]'", "Member must have length less than or equal to 100")
	}
	for i := range in.Ids {
		v.checkName("ids."+strconv.Itoa(i+1)+".member", &in.Ids[i], true)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := checkBus(in.EventBusName, acc, reg); err != nil {
		return nil, err
	}
	missing, err := s.rules.RemoveTargets(ctx, acc, reg, *in.Rule, in.Ids)
	if err != nil {
		return nil, wire(err)
	}
	var failed []ResultEntry
	for _, id := range missing {
		failed = append(failed, ResultEntry{TargetId: id, ErrorCode: codeNotFound,
			ErrorMessage: "Rule '" + *in.Rule + "' does not have a target with the Id '" + id + "'."})
	}
	return result(failed), nil
}

// ListTargetsByRuleInput is ListTargetsByRule's request.
type ListTargetsByRuleInput struct {
	Rule         *string `json:"Rule"`
	EventBusName *string `json:"EventBusName,omitempty"`
	NextToken    *string `json:"NextToken,omitempty"`
	Limit        *int32  `json:"Limit,omitempty"`
}

// ListTargetsByRuleOutput is ListTargetsByRule's answer.
type ListTargetsByRuleOutput struct {
	Targets   []json.RawMessage `json:"Targets"`
	NextToken *string           `json:"NextToken,omitempty"`
}

// ListTargetsByRule lists a rule's targets in the order they were put.
func (s *Service) ListTargetsByRule(ctx context.Context, in *ListTargetsByRuleInput) (*ListTargetsByRuleOutput, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v validationErrors
	v.checkName("rule", in.Rule, true)
	v.checkLimit("limit", in.Limit)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := checkBus(in.EventBusName, acc, reg); err != nil {
		return nil, err
	}
	qh := pagetoken.NewHasher().Str(acc).Str(reg).Str(*in.Rule).Sum()
	off, err := s.page(pagetoken.KindEventTargets, qh, in.NextToken)
	if err != nil {
		return nil, err
	}
	ts, err := s.rules.TargetsOf(ctx, acc, reg, *in.Rule)
	if err != nil {
		return nil, wire(err)
	}
	lo, hi, next := window(len(ts), off, limitOr(in.Limit, 100))
	out := &ListTargetsByRuleOutput{Targets: []json.RawMessage{}, NextToken: s.issue(pagetoken.KindEventTargets, qh, next)}
	for _, t := range ts[lo:hi] {
		out.Targets = append(out.Targets, json.RawMessage(t.Spec))
	}
	return out, nil
}

// ListRuleNamesByTargetInput is ListRuleNamesByTarget's request.
type ListRuleNamesByTargetInput struct {
	TargetArn    *string `json:"TargetArn"`
	EventBusName *string `json:"EventBusName,omitempty"`
	NextToken    *string `json:"NextToken,omitempty"`
	Limit        *int32  `json:"Limit,omitempty"`
}

// ListRuleNamesByTargetOutput is ListRuleNamesByTarget's answer.
type ListRuleNamesByTargetOutput struct {
	RuleNames []string `json:"RuleNames"`
	NextToken *string  `json:"NextToken,omitempty"`
}

// ListRuleNamesByTarget lists the rules that have a target with an ARN.
func (s *Service) ListRuleNamesByTarget(ctx context.Context, in *ListRuleNamesByTargetInput) (*ListRuleNamesByTargetOutput, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var v validationErrors
	if in.TargetArn == nil {
		v.add("targetArn", "null", "Member must not be null")
	} else if *in.TargetArn == "" {
		v.add("targetArn", "''", "Member must have length greater than or equal to 1")
	}
	v.checkLimit("limit", in.Limit)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := checkBus(in.EventBusName, acc, reg); err != nil {
		return nil, err
	}
	qh := pagetoken.NewHasher().Str(acc).Str(reg).Str(*in.TargetArn).Sum()
	off, err := s.page(pagetoken.KindEventRuleByTarget, qh, in.NextToken)
	if err != nil {
		return nil, err
	}
	names, err := s.rules.RuleNamesByTarget(ctx, acc, reg, *in.TargetArn)
	if err != nil {
		return nil, wire(err)
	}
	lo, hi, next := window(len(names), off, limitOr(in.Limit, 100))
	out := &ListRuleNamesByTargetOutput{RuleNames: append([]string{}, names[lo:hi]...), NextToken: s.issue(pagetoken.KindEventRuleByTarget, qh, next)}
	return out, nil
}
