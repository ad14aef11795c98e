// Package events serves the EventBridge API (signing name events, AWS JSON
// 1.1, target prefix AWSEvents) for event rules over CloudTrail's events on
// the default bus: PutRule, DescribeRule, ListRules, DeleteRule,
// EnableRule, DisableRule, PutTargets, RemoveTargets, ListTargetsByRule,
// ListRuleNamesByTarget, TestEventPattern and the rules' tags, with
// EventBridge's member names, errors and messages. Patterns are checked
// by internal/eventpattern; rules are kept and run by internal/eventrules,
// reached through the Rules interface declared here. It is not the
// matcher nor the consumer.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/eventrules"
	"github.com/opentrail/opentrail/internal/pagetoken"
)

// Rules is what the service needs of the event rules component
// (*eventrules.Rules implements it).
type Rules interface {
	PutRule(ctx context.Context, in eventrules.Rule) (string, error)
	Rule(ctx context.Context, account, region, name string) (*eventrules.Rule, error)
	List(ctx context.Context, account, region, prefix string) ([]eventrules.Rule, error)
	DeleteRule(ctx context.Context, account, region, name string, force bool) error
	SetState(ctx context.Context, account, region, name, state string) error
	PutTargets(ctx context.Context, account, region, rule string, ts []eventrules.Target) error
	RemoveTargets(ctx context.Context, account, region, rule string, ids []string) ([]string, error)
	TargetsOf(ctx context.Context, account, region, rule string) ([]eventrules.Target, error)
	RuleNamesByTarget(ctx context.Context, account, region, arn string) ([]string, error)
	Tag(ctx context.Context, account, region, name string, add map[string]string, untag []string) error
}

// Config is what New needs.
type Config struct {
	Rules    Rules
	TokenKey []byte // signs NextToken values; at least pagetoken.MinKeyLen bytes
	Logger   *slog.Logger
}

// Service implements the operations.
type Service struct {
	rules  Rules
	tokens pagetoken.Signer
	log    *slog.Logger
}

// New returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Rules == nil {
		return nil, errors.New("events.New: Config.Rules is nil")
	}
	if len(cfg.TokenKey) < pagetoken.MinKeyLen {
		return nil, fmt.Errorf("events.New: the token key must be at least %d bytes", pagetoken.MinKeyLen)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{rules: cfg.Rules, tokens: pagetoken.NewSigner(cfg.TokenKey), log: cfg.Logger}, nil
}

// Register adds the operations to r (a JSON 1.1 router for signing name
// events).
func (s *Service) Register(r *awsapi.Router) {
	awsapi.Register(r, "PutRule", false, s.PutRule)
	awsapi.Register(r, "DescribeRule", true, s.DescribeRule)
	awsapi.Register(r, "ListRules", true, s.ListRules)
	awsapi.Register(r, "DeleteRule", false, s.DeleteRule)
	awsapi.Register(r, "EnableRule", false, s.EnableRule)
	awsapi.Register(r, "DisableRule", false, s.DisableRule)
	awsapi.Register(r, "PutTargets", false, s.PutTargets)
	awsapi.Register(r, "RemoveTargets", false, s.RemoveTargets)
	awsapi.Register(r, "ListTargetsByRule", true, s.ListTargetsByRule)
	awsapi.Register(r, "ListRuleNamesByTarget", true, s.ListRuleNamesByTarget)
	awsapi.Register(r, "TestEventPattern", true, s.TestEventPattern)
	awsapi.Register(r, "TagResource", false, s.TagResource)
	awsapi.Register(r, "UntagResource", false, s.UntagResource)
	awsapi.Register(r, "ListTagsForResource", true, s.ListTagsForResource)
}

// Error codes EventBridge answers with.
const (
	codeValidation = "ValidationException"
	codeNotFound   = "ResourceNotFoundException"
	codePattern    = "InvalidEventPatternException"
)

// wire maps a component error to what the client sees.
func wire(err error) error {
	var e *eventrules.Error
	if errors.As(err, &e) {
		return awsapi.NewError(e.Code, e.Message)
	}
	return err
}

// caller returns the caller's account and the request's region.
func caller(ctx context.Context) (account, region string, err error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return "", "", err
	}
	return p.AccountID, c.Region, nil
}

// validationErrors gathers model-validation failures into EventBridge's
// "N validation error(s) detected: …" ValidationException.
type validationErrors []string

func (v *validationErrors) add(member, value, constraint string) {
	*v = append(*v, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", value, member, constraint))
}

func (v validationErrors) err() error {
	switch len(v) {
	case 0:
		return nil
	case 1:
		return awsapi.NewError(codeValidation, "1 validation error detected: "+v[0])
	}
	msg := strconv.Itoa(len(v)) + " validation errors detected: "
	for i, x := range v {
		if i > 0 {
			msg += "; "
		}
		msg += x
	}
	return awsapi.NewError(codeValidation, msg)
}

var namePattern = regexp.MustCompile(`^[\.\-_A-Za-z0-9]+$`)

// checkName validates a RuleName or TargetId member.
func (v *validationErrors) checkName(member string, name *string, required bool) {
	if name == nil {
		if required {
			v.add(member, "null", "Member must not be null")
		}
		return
	}
	val := "'" + *name + "'"
	if !namePattern.MatchString(*name) {
		v.add(member, val, `Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+`)
	}
	if len(*name) < 1 {
		v.add(member, val, "Member must have length greater than or equal to 1")
	}
	if len(*name) > 64 {
		v.add(member, val, "Member must have length less than or equal to 64")
	}
}

func (v *validationErrors) checkMax(member string, s *string, max int) {
	if s != nil && len(*s) > max {
		v.add(member, "'"+*s+"'", "Member must have length less than or equal to "+strconv.Itoa(max))
	}
}

func (v *validationErrors) checkLimit(member string, n *int32) {
	if n == nil {
		return
	}
	if *n < 1 {
		v.add(member, "'"+strconv.Itoa(int(*n))+"'", "Member must have value greater than or equal to 1")
	}
	if *n > 100 {
		v.add(member, "'"+strconv.Itoa(int(*n))+"'", "Member must have value less than or equal to 100")
	}
}

var busARN = regexp.MustCompile(`^arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus/(.+)$`)

// checkBus accepts the default bus, by name or ARN (of the caller's account
// and region); any other bus does not exist here.
func checkBus(bus *string, account, region string) error {
	if bus == nil {
		return nil
	}
	name := *bus
	if m := busARN.FindStringSubmatch(name); m != nil {
		if name == "arn:aws:events:"+region+":"+account+":event-bus/"+eventrules.DefaultBus {
			return nil
		}
		name = m[1]
	} else if name == eventrules.DefaultBus {
		return nil
	}
	return awsapi.NewError(codeNotFound, "Event bus "+name+" does not exist.")
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// page opens an offset token of kind for request hash qh.
func (s *Service) page(kind byte, qh [pagetoken.HashLen]byte, tok *string) (int, error) {
	if tok == nil {
		return 0, nil
	}
	b, err := s.tokens.Open(kind, qh, *tok)
	if err == nil {
		if n, err := strconv.Atoi(string(b)); err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, awsapi.NewError(codeValidation, "The NextToken is not valid: pass the NextToken of the previous answer to the same request, unchanged.")
}

// window returns items [off, off+lim) of a list of n and the next offset
// (0 = none).
func window(n, off, lim int) (lo, hi, next int) {
	lo = min(off, n)
	hi = min(lo+lim, n)
	if hi < n {
		next = hi
	}
	return lo, hi, next
}

func (s *Service) issue(kind byte, qh [pagetoken.HashLen]byte, next int) *string {
	if next == 0 {
		return nil
	}
	t := s.tokens.Issue(kind, qh, []byte(strconv.Itoa(next)))
	return &t
}

func limitOr(n *int32, def int) int {
	if n == nil {
		return def
	}
	return int(*n)
}
