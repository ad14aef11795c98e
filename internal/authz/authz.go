// Package authz decides who may do what: each principal's identity
// policies (built-in names, policy files, inline JSON; the configured
// default for a principal that names none) and the organisation's guard
// rails, evaluated as AWS evaluates identity policies and service control
// policies (docs/authorization.md).
//
// New compiles every policy the configuration names once; Authorize then
// only evaluates, but looks (at most every CheckInterval) whether a policy
// file changed, and reads a changed one again: a broken file keeps the
// last good policy and is logged. An Authorizer is safe for concurrent
// use. The server
// and the commands import it; it imports config, auth, clock and
// iampolicy.
package authz

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

	defRef    string   // authorization.default_policy
	guardRefs []string // organization.guard_rails

	// CheckInterval bounds how often Authorize looks at the policy files'
	// modification times and sizes (set before first use; 0 looks at
	// every call). DefaultCheckInterval when made by New.
	CheckInterval time.Duration
	checked       atomic.Int64 // when the files were last looked at (UnixNano)
	log           *slog.Logger

	mu   sync.RWMutex
	refs map[string]compiled // by reference, failures too
}

// DefaultCheckInterval is how often, at most, an Authorizer looks whether
// a policy file changed.
const DefaultCheckInterval = 2 * time.Second

type compiled struct {
	p   *iampolicy.Policy
	err error
	// path and stamp identify the version of a policy file's reference
	// last read or tried (path "" for other references).
	path  string
	stamp fileStamp
}

// fileStamp identifies a version of a policy file.
type fileStamp struct {
	mod  time.Time
	size int64
}

func statPolicy(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

// New compiles every policy the configuration names: the default policy,
// the guard rails and each principal's policies. Files are read relative
// to baseDir, the configuration file's directory (c.BaseDir when c came
// from config.Load). Errors name the principal (or setting) and the
// reference.
func New(c *config.Config, baseDir string) (*Authorizer, error) {
	a := &Authorizer{baseDir: baseDir, clock: clock.Real{}, refs: map[string]compiled{}, CheckInterval: DefaultCheckInterval,
		log: slog.New(slog.DiscardHandler)}
	a.checked.Store(time.Now().UnixNano())
	if o := c.Organization; o != nil {
		a.management, a.orgID = o.ManagementAccount, o.ID
	} else if c.LocalMode() {
		a.management = auth.LocalAccount
	}
	ref := c.Authorization.DefaultPolicy
	if ref == "" {
		ref = "administrator"
	}
	if _, err := a.compile(ref, "authorization.default_policy"); err != nil {
		return nil, fmt.Errorf("authorization.default_policy: policy %q: %w", clipRef(ref), err)
	}
	a.defRef = ref
	if o := c.Organization; o != nil {
		for i, ref := range o.GuardRails {
			field := fmt.Sprintf("organization.guard_rails[%d]", i)
			if _, err := a.compile(ref, field); err != nil {
				return nil, fmt.Errorf("%s: policy %q: %w", field, clipRef(ref), err)
			}
			a.guardRefs = append(a.guardRefs, ref)
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

// SetLogger sets where reloaded and broken policy files are reported
// (nowhere by default). Call it before Authorize.
func (a *Authorizer) SetLogger(l *slog.Logger) { a.log = l }

// Reload reads again every policy file whose modification time or size
// changed since it was last read or tried. A file that now parses
// replaces its policy; one that does not (or cannot be read) keeps the
// last good policy, and the reason is logged once per change. It returns
// how many policies were replaced. Authorize calls it at most every
// CheckInterval; it is safe to call at any time.
func (a *Authorizer) Reload() int {
	a.mu.RLock()
	files := map[string]compiled{}
	for ref, c := range a.refs {
		if c.path != "" {
			files[ref] = c
		}
	}
	a.mu.RUnlock()
	replaced := 0
	for ref, old := range files {
		st, err := statPolicy(old.path)
		if err == nil && st == old.stamp {
			continue
		}
		var p *iampolicy.Policy
		if err == nil {
			p, _, err = a.resolve(ref, ref)
		}
		a.mu.Lock()
		c := a.refs[ref]
		if c.stamp != old.stamp { // read meanwhile by another Reload
			a.mu.Unlock()
			continue
		}
		c.stamp = st
		switch {
		case err == nil:
			c.p, c.err = p, nil
			replaced++
			a.log.Info("authorization: policy file reloaded", "policy", ref, "file", old.path)
		case c.p != nil:
			a.log.Warn("authorization: the changed policy file does not load; the last good version stays in force until it is fixed",
				"policy", ref, "file", old.path, "err", err)
		default:
			c.err = err
			a.log.Warn("authorization: policy file still does not load; it allows nothing", "policy", ref, "file", old.path, "err", err)
		}
		a.refs[ref] = c
		a.mu.Unlock()
	}
	return replaced
}

// maybeReload calls Reload when CheckInterval has passed since the last
// look (one caller at a time).
func (a *Authorizer) maybeReload() {
	now := time.Now().UnixNano()
	last := a.checked.Load()
	if now-last < int64(a.CheckInterval) || !a.checked.CompareAndSwap(last, now) {
		return
	}
	a.Reload()
}

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
	p, c, err := a.resolve(ref, name)
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.refs[ref]; ok {
		return c.p, c.err
	}
	c.p, c.err = p, err
	a.refs[ref] = c
	return p, err
}

// ErrUnknownPolicy is returned for a reference that is neither a
// built-in's name, nor a file, nor an inline document.
var ErrUnknownPolicy = errors.New("not a built-in policy")

// resolve compiles a reference; for a policy file it also returns the
// file's path and the version read (stat before the read, so a change
// during it is seen at the next look).
func (a *Authorizer) resolve(ref, name string) (*iampolicy.Policy, compiled, error) {
	switch {
	case config.IsInlinePolicy(ref):
		p, err := iampolicy.Parse([]byte(ref))
		if err != nil {
			return nil, compiled{}, err
		}
		p.Name = name
		return p, compiled{}, nil
	case config.IsPolicyFile(ref):
		path := ref
		if !filepath.IsAbs(path) {
			path = filepath.Join(a.baseDir, path)
		}
		c := compiled{path: path}
		c.stamp, _ = statPolicy(path)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, c, fmt.Errorf("read policy file (relative references start at the configuration file's directory): %w", err)
		}
		p, err := iampolicy.Parse(b)
		if err != nil {
			return nil, c, fmt.Errorf("%s: %w", path, err)
		}
		p.Name = ref
		return p, c, nil
	}
	p, ok := iampolicy.Builtin(ref)
	if !ok {
		return nil, compiled{}, fmt.Errorf("%w (%s); a policy file's reference contains a / or ends in .json, e.g. ./extra-policy.json", ErrUnknownPolicy, strings.Join(iampolicy.BuiltinNames(), ", "))
	}
	return p, compiled{}, nil
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
	a.maybeReload()
	var buf, gbuf [maxPolicies]*iampolicy.Policy
	ps := buf[:0]
	useCtx := false
	refs := []string{a.defRef}
	if r.Principal != nil && len(r.Principal.Policies) > 0 {
		refs = r.Principal.Policies
	}
	for _, ref := range refs {
		p, err := a.compile(ref, "inline")
		if err != nil {
			continue
		}
		ps = append(ps, p)
		useCtx = useCtx || p.UsesContext()
	}
	guard := gbuf[:0]
	guarded := len(a.guardRefs) > 0 && !a.isManagement(r.Principal)
	if guarded {
		for _, ref := range a.guardRefs {
			if p, err := a.compile(ref, ref); err == nil {
				guard = append(guard, p)
				useCtx = useCtx || p.UsesContext()
			}
		}
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
			g = iampolicy.Evaluate(guard, req)
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
