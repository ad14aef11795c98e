// Package authz decides who may do what: each principal's identity
// policies (built-in names, policy files, inline JSON; the configured
// default for a principal that names none) and the organisation's guard
// rails, evaluated as AWS evaluates identity policies and service control
// policies (docs/authorization.md).
//
// New compiles every policy the configuration names once; Authorize then
// only evaluates. An Authorizer is safe for concurrent use. The server
// and the commands import it; it imports config, auth, clock and
// iampolicy.
package authz

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/iampolicy"
)

// Authorizer holds the compiled policies.
type Authorizer struct {
	baseDir    string
	management string // the organisation's management account ("" for none)
	orgID      string
	clock      clock.Clock

	def   []*iampolicy.Policy // authorization.default_policy
	guard []*iampolicy.Policy // organization.guard_rails
	// guardCtx is true when a guard rail reads the request context.
	guardCtx bool

	mu   sync.RWMutex
	refs map[string]compiled // by reference, failures too
}

type compiled struct {
	p   *iampolicy.Policy
	err error
}

// New compiles every policy the configuration names: the default policy,
// the guard rails and each principal's policies. Files are read relative
// to baseDir, the configuration file's directory (c.BaseDir when c came
// from config.Load). Errors name the principal (or setting) and the
// reference.
func New(c *config.Config, baseDir string) (*Authorizer, error) {
	a := &Authorizer{baseDir: baseDir, clock: clock.Real{}, refs: map[string]compiled{}}
	if o := c.Organization; o != nil {
		a.management, a.orgID = o.ManagementAccount, o.ID
	} else if c.LocalMode() {
		a.management = auth.LocalAccount
	}
	ref := c.Authorization.DefaultPolicy
	if ref == "" {
		ref = "administrator"
	}
	p, err := a.compile(ref, "authorization.default_policy")
	if err != nil {
		return nil, fmt.Errorf("authorization.default_policy: policy %q: %w", clipRef(ref), err)
	}
	a.def = []*iampolicy.Policy{p}
	if o := c.Organization; o != nil {
		for i, ref := range o.GuardRails {
			field := fmt.Sprintf("organization.guard_rails[%d]", i)
			p, err := a.compile(ref, field)
			if err != nil {
				return nil, fmt.Errorf("%s: policy %q: %w", field, clipRef(ref), err)
			}
			a.guard = append(a.guard, p)
			a.guardCtx = a.guardCtx || p.UsesContext()
		}
	}
	for i, pr := range c.Principals {
		for j, ref := range pr.Policies {
			field := fmt.Sprintf("principals[%d].policies[%d]", i, j)
			if _, err := a.compile(ref, field); err != nil {
				return nil, fmt.Errorf("principal %s (%s): policy %q: %w", pr.AccessKeyID, field, clipRef(ref), err)
			}
		}
	}
	return a, nil
}

// SetClock sets the clock aws:CurrentTime and aws:EpochTime are read
// from (the system clock by default). Call it before Authorize.
func (a *Authorizer) SetClock(c clock.Clock) { a.clock = c }

// Compile resolves one policy reference (a built-in name, a file
// relative to the configuration's directory, an inline JSON document)
// and keeps it for Authorize: console users' policy lists are compiled
// so when they are set. The error says what is wrong with the reference.
func (a *Authorizer) Compile(ref string) error {
	_, err := a.compile(ref, "inline")
	return err
}

// compile returns the policy a reference names, compiling it once (a
// failure too: files are read once, as at start-up); name names an
// inline document.
func (a *Authorizer) compile(ref, name string) (*iampolicy.Policy, error) {
	a.mu.RLock()
	c, ok := a.refs[ref]
	a.mu.RUnlock()
	if ok {
		return c.p, c.err
	}
	p, err := a.resolve(ref, name)
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.refs[ref]; ok {
		return c.p, c.err
	}
	a.refs[ref] = compiled{p, err}
	return p, err
}

// ErrUnknownPolicy is returned for a reference that is neither a
// built-in's name, nor a file, nor an inline document.
var ErrUnknownPolicy = errors.New("not a built-in policy")

func (a *Authorizer) resolve(ref, name string) (*iampolicy.Policy, error) {
	switch {
	case config.IsInlinePolicy(ref):
		p, err := iampolicy.Parse([]byte(ref))
		if err != nil {
			return nil, err
		}
		p.Name = name
		return p, nil
	case config.IsPolicyFile(ref):
		path := ref
		if !filepath.IsAbs(path) {
			path = filepath.Join(a.baseDir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read policy file (relative references start at the configuration file's directory): %w", err)
		}
		p, err := iampolicy.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		p.Name = ref
		return p, nil
	}
	p, ok := iampolicy.Builtin(ref)
	if !ok {
		return nil, fmt.Errorf("%w (%s); a policy file's reference contains a / or ends in .json, e.g. ./extra-policy.json", ErrUnknownPolicy, strings.Join(iampolicy.BuiltinNames(), ", "))
	}
	return p, nil
}

func clipRef(ref string) string {
	if len(ref) > 60 {
		return ref[:60] + "..."
	}
	return ref
}

// Request is one call to authorize.
type Request struct {
	// Principal is the caller; its Policies field lists the references
	// that apply (nil: the configured default). A nil Principal gets the
	// default policy and the guard rails.
	Principal *auth.Principal
	Action    string   // "cloudtrail:StopLogging"
	Resources []string // ARNs; every one must be allowed; empty means "*"
	Region    string   // aws:RequestedRegion
	SourceIP  string   // aws:SourceIp
	// SecureTransport is aws:SecureTransport: the call came over TLS.
	SecureTransport bool
	// MFA is aws:MultiFactorAuthPresent: a console user signed in with
	// MFA. Without MFA the key is absent, as for AWS's long-term access
	// keys: write BoolIfExists to deny calls without MFA.
	MFA bool
}

// Result is Authorize's decision.
type Result struct {
	Allowed  bool
	Action   string // the action as requested
	Resource string // the resource that was refused ("*" when none); "" when allowed
	// Reason is why the call was refused: "no identity-based policy
	// allows the <action> action", "with an explicit deny in an
	// identity-based policy", "with an explicit deny in a service control
	// policy" or "no service control policy allows the <action> action".
	Reason string
	// Policy and Sid name the deciding statement: the denying one, or the
	// identity statement that allowed; both empty when nothing matched.
	// Statement is its 1-based position in the policy.
	Policy    string
	Sid       string
	Statement int
}

// Reasons.
const (
	ReasonIdentityDeny = "with an explicit deny in an identity-based policy"
	ReasonSCPDeny      = "with an explicit deny in a service control policy"
)

// Message is AWS's text for a refusal: "User: <principal ARN> is not
// authorized to perform: <action> on resource: <resource> because no
// identity-based policy allows the <action> action" (or "... with an
// explicit deny in ..."). It is "" for an allowed call.
func (r Result) Message(principalARN string) string {
	if r.Allowed {
		return ""
	}
	sep := " because "
	if strings.HasPrefix(r.Reason, "with ") {
		sep = " "
	}
	return "User: " + principalARN + " is not authorized to perform: " + r.Action + " on resource: " + r.Resource + sep + r.Reason
}

var everything = []string{"*"}

// maxPolicies is how many policies of one principal Authorize evaluates
// without allocating.
const maxPolicies = 8

// Authorize decides whether r.Principal may perform r.Action on every
// resource of r.Resources: the guard rails (for principals of accounts
// other than the management account) and the principal's identity
// policies are evaluated for each resource; an explicit deny in either
// refuses, then a guard rail that allows nothing, then identity policies
// that allow nothing. A policy reference that cannot be compiled
// contributes nothing (so it refuses, never allows).
func (a *Authorizer) Authorize(r Request) Result {
	var buf [maxPolicies]*iampolicy.Policy
	ps := buf[:0]
	useCtx := false
	var refs []string
	if r.Principal != nil {
		refs = r.Principal.Policies
	}
	if len(refs) == 0 {
		ps = append(ps, a.def...)
	}
	for _, ref := range refs {
		p, err := a.compile(ref, "inline")
		if err != nil {
			continue
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		useCtx = useCtx || p.UsesContext()
	}
	guarded := len(a.guard) > 0 && !a.isManagement(r.Principal)
	if guarded {
		useCtx = useCtx || a.guardCtx
	}
	var ctx map[string][]string
	if useCtx {
		ctx = a.context(r)
	}
	resources := r.Resources
	if len(resources) == 0 {
		resources = everything
	}
	var allowed iampolicy.Decision
	for _, res := range resources {
		req := iampolicy.Request{Action: r.Action, Resource: res, Context: ctx}
		id := iampolicy.Evaluate(ps, req)
		var g iampolicy.Decision
		if guarded {
			g = iampolicy.Evaluate(a.guard, req)
		}
		switch {
		case guarded && g.Effect == iampolicy.ExplicitDeny:
			return refused(r.Action, res, ReasonSCPDeny, g)
		case id.Effect == iampolicy.ExplicitDeny:
			return refused(r.Action, res, ReasonIdentityDeny, id)
		case guarded && g.Effect != iampolicy.Allow:
			return refused(r.Action, res, "no service control policy allows the "+r.Action+" action", g)
		case id.Effect != iampolicy.Allow:
			return refused(r.Action, res, "no identity-based policy allows the "+r.Action+" action", id)
		}
		allowed = id
	}
	return Result{Allowed: true, Action: r.Action, Policy: allowed.Policy, Sid: allowed.Sid, Statement: allowed.Statement}
}

func refused(action, resource, reason string, d iampolicy.Decision) Result {
	return Result{Action: action, Resource: resource, Reason: reason, Policy: d.Policy, Sid: d.Sid, Statement: d.Statement}
}

func (a *Authorizer) isManagement(p *auth.Principal) bool {
	return p != nil && (p.Management || a.management != "" && p.AccountID == a.management)
}

var (
	trueValue  = []string{"true"}
	falseValue = []string{"false"}
)

// principalTypes maps userIdentity types to aws:PrincipalType values.
var principalTypes = map[string][]string{
	"Root":        {"Account"},
	"IAMUser":     {"User"},
	"AssumedRole": {"AssumedRole"},
}

// context is the request context the condition keys read.
func (a *Authorizer) context(r Request) map[string][]string {
	now := a.clock.Now().UTC()
	m := make(map[string][]string, 14)
	m["aws:SecureTransport"] = falseValue
	if r.SecureTransport {
		m["aws:SecureTransport"] = trueValue
	}
	if r.MFA {
		m["aws:MultiFactorAuthPresent"] = trueValue
	}
	if r.SourceIP != "" {
		m["aws:SourceIp"] = []string{r.SourceIP}
	}
	if r.Region != "" {
		m["aws:RequestedRegion"] = []string{r.Region}
	}
	m["aws:CurrentTime"] = []string{now.Format(time.RFC3339)}
	m["aws:EpochTime"] = []string{strconv.FormatInt(now.Unix(), 10)}
	if p := r.Principal; p != nil {
		if p.ARN != "" {
			m["aws:PrincipalArn"] = []string{p.ARN}
		}
		if p.AccountID != "" {
			m["aws:PrincipalAccount"] = []string{p.AccountID}
		}
		if p.PrincipalID != "" {
			m["aws:userid"] = []string{p.PrincipalID}
		}
		if p.Type == "IAMUser" && p.UserName != "" {
			m["aws:username"] = []string{p.UserName}
		}
		if t, ok := principalTypes[p.Type]; ok {
			m["aws:PrincipalType"] = t
		}
		if a.orgID != "" {
			m["aws:PrincipalOrgID"] = []string{a.orgID}
		}
	}
	return m
}
