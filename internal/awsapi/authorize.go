package awsapi

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"github.com/opentrail/opentrail/internal/auth"
)

// Authorizer decides whether a caller may make a call. The routers ask it
// once per call, after the request is decoded (so that the resources can
// be named) and before the operation runs; a refused call never runs.
type Authorizer interface {
	// Authorize returns nil when c may perform action on every resource, else the error to answer (use AccessDenied).
	Authorize(ctx context.Context, c *Caller, action string, resources []string) error
}

// IAMResourcer is implemented by operation inputs: IAMResources returns the
// ARNs the call acts on, with the region and account taken from c when the
// request names a resource by name. nil means the action has no resource
// type (IAM's "*"). Every operation's input implements it, so that each
// operation's mapping is a decision (see [Router.IAMOperations]).
type IAMResourcer interface {
	IAMResources(c *Caller) []string
}

// IAMActioner is implemented by operation inputs whose IAM action is not
// <prefix>:<operation name> (the prefix being the router's, see
// [IAMPrefix]).
type IAMActioner interface {
	IAMAction() string
}

// IAMResourceFormatter is implemented by inputs whose resources are not
// members (a query statement's event data stores): IAMResourceFormats
// describes them for [Router.IAMOperations] and the documentation.
type IAMResourceFormatter interface {
	IAMResourceFormats() []string
}

// RawResources names the ARNs a raw operation (see
// [PathRouter.RegisterRawResources]) acts on; nil means "*".
type RawResources func(c *Caller, req *http.Request) []string

// AuditAccessDenied is the errorCode of a refused call's record, whatever
// the protocol answered (AccessDeniedException, AccessDenied,
// AuthorizationError): CloudTrail records identity-policy denials so, and
// the CIS unauthorised-calls filter ($.errorCode = "AccessDenied*")
// matches it.
const AuditAccessDenied = "AccessDenied"

// CodeAccessDenied is the error code JSON, REST-JSON and CBOR clients read
// for a refused call.
const CodeAccessDenied = "AccessDeniedException"

// AccessDenied is the error of a refused call, message being IAM's text
// ("User: ARN is not authorized to perform: ACTION on resource: ARN
// because ..."). Each router answers it in its protocol's shape:
// AccessDeniedException (HTTP 400) in AWS JSON 1.0/1.1,
// AccessDeniedException (403) in REST-JSON and the native API, the query
// code of the service in the query protocol (AccessDenied, SNS's
// AuthorizationError; 403); the call's record carries errorCode
// AccessDenied.
func AccessDenied(message string) *Error {
	return &Error{Code: CodeAccessDenied, Message: message, Status: http.StatusBadRequest, denied: true}
}

// IsAccessDenied reports whether e is a refusal made by [AccessDenied].
func (e *Error) IsAccessDenied() bool { return e != nil && e.denied }

// denial is how a router answers a refused call.
type denial struct {
	code   string
	status int
}

func (d denial) apply(e *Error) *Error {
	c := *e
	c.Code, c.Status = d.code, d.status
	return &c
}

// IAMPrefix returns the IAM service prefix of the actions of a service
// with the given SigV4 signing name: monitoring → cloudwatch; the others
// (cloudtrail, cloudtrail-data, logs, sns, events, s3, opentrail) are
// their signing name.
func IAMPrefix(service string) string {
	if service == "monitoring" {
		return "cloudwatch"
	}
	return service
}

// authorize asks d's authorizer whether the caller in ctx may call op
// with input in (an IAMResourcer, or nil for none).
func (d *dispatcher) authorize(ctx context.Context, op *operation, in any) error {
	if d.authorizer == nil {
		return nil
	}
	c := CallerFrom(ctx)
	action := IAMPrefix(d.service) + ":" + op.name
	if a, ok := in.(IAMActioner); ok {
		action = a.IAMAction()
	}
	var res []string
	if r, ok := in.(IAMResourcer); ok {
		res = r.IAMResources(c)
	}
	return d.authorizer.Authorize(ctx, c, action, res)
}

// rawInput lets the dispatcher name a raw operation's resources.
type rawInput struct {
	req *http.Request
	res RawResources
}

func (r rawInput) IAMResources(c *Caller) []string {
	if r.res == nil {
		return nil
	}
	return r.res(c, r.req)
}

// SetAuthorizer makes r ask a before every call; nil (the default) allows
// every call. Call it before serving.
func (r *Router) SetAuthorizer(a Authorizer) { r.d.authorizer = a }

// SetAuthorizer is Router.SetAuthorizer for a REST-JSON router.
func (r *RESTRouter) SetAuthorizer(a Authorizer) { r.d.authorizer = a }

// SetAuthorizer is Router.SetAuthorizer for a path router.
func (r *PathRouter) SetAuthorizer(a Authorizer) { r.d.authorizer = a }

// IAMOperation is one registered operation's authorization mapping.
type IAMOperation struct {
	// Name is the operation (the record's eventName).
	Name string
	// Action is the IAM action the call is authorized as.
	Action string
	// Mapped is false for an operation whose input names no resources
	// (implements no IAMResourcer): a mapping decision is missing.
	Mapped bool
	// Resources are the ARN formats the call is authorized on, with
	// ${Region}, ${Account} and ${member} for the request's members
	// (nil: "*").
	Resources []string
}

// exampleCaller fills a Caller with placeholders, to show resource
// formats.
var exampleCaller = &Caller{Region: "${Region}", Principal: &auth.Principal{AccountID: "${Account}"}}

// iamOperation describes op for the listings.
func (d *dispatcher) iamOperation(op *operation) IAMOperation {
	o := IAMOperation{Name: op.name, Action: IAMPrefix(d.service) + ":" + op.name}
	var in any
	switch {
	case op.inType != nil:
		v := reflect.New(op.inType)
		fillPlaceholders(v.Elem())
		in = v.Interface()
	case op.raw:
		o.Mapped = op.rawMapped
		in = rawInput{req: examplePathRequest(op.pattern), res: op.rawRes}
	}
	if a, ok := in.(IAMActioner); ok {
		o.Action = a.IAMAction()
	}
	if r, ok := in.(IAMResourcer); ok {
		if op.inType != nil {
			o.Mapped = true
		}
		o.Resources = r.IAMResources(exampleCaller)
	}
	if f, ok := in.(IAMResourceFormatter); ok {
		o.Resources = f.IAMResourceFormats()
	}
	return o
}

// fillPlaceholders sets v's string members (top level, and strings in
// pointers and slices) to ${jsonName}.
func fillPlaceholders(v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			fillPlaceholders(v.Field(i))
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			name = f.Name
		}
		ph := "${" + name + "}"
		fv := v.Field(i)
		switch {
		case f.Type.Kind() == reflect.String:
			fv.SetString(ph)
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.String:
			p := reflect.New(f.Type.Elem())
			p.Elem().SetString(ph)
			fv.Set(p)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
			s := reflect.MakeSlice(f.Type, 1, 1)
			s.Index(0).SetString(ph)
			fv.Set(s)
		}
	}
}

// examplePathRequest is a request matching pattern ("GET /v1/x/{id}")
// whose path values are ${name} placeholders.
func examplePathRequest(pattern string) *http.Request {
	method, path, _ := strings.Cut(pattern, " ")
	req, err := http.NewRequest(method, "http://localhost"+path, nil)
	if err != nil {
		req = &http.Request{Method: method}
	}
	for rest := path; ; {
		i := strings.IndexByte(rest, '{')
		j := strings.IndexByte(rest, '}')
		if i < 0 || j < i {
			break
		}
		name := strings.TrimSuffix(rest[i+1:j], "...")
		req.SetPathValue(name, "${"+name+"}")
		rest = rest[j+1:]
	}
	return req
}

func (d *dispatcher) listing(ops []*operation) []IAMOperation {
	out := make([]IAMOperation, 0, len(ops))
	for _, op := range ops {
		out = append(out, d.iamOperation(op))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// IAMOperations lists r's operations with their authorization mapping,
// by name.
func (r *Router) IAMOperations() []IAMOperation {
	ops := make([]*operation, 0, len(r.ops))
	for _, op := range r.ops {
		ops = append(ops, op)
	}
	return r.d.listing(ops)
}

// IAMOperations is Router.IAMOperations for a REST-JSON router.
func (r *RESTRouter) IAMOperations() []IAMOperation {
	ops := make([]*operation, 0, len(r.routes))
	for _, op := range r.routes {
		ops = append(ops, op)
	}
	return r.d.listing(ops)
}

// IAMOperations is Router.IAMOperations for a path router; a raw
// operation is mapped when registered with RegisterRawResources.
func (r *PathRouter) IAMOperations() []IAMOperation {
	return r.d.listing(r.ops)
}

// DeniedMessage is IAM's message for a call no identity-based policy
// allows, for authorizers and tests that build one.
func DeniedMessage(principalARN, action, resource string) string {
	if resource == "" {
		resource = "*"
	}
	return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
		principalARN, action, resource, action)
}

// ARN returns arn:aws:<service>:<c's region>:<c's account>:<resource>,
// the ARN of a resource the request names by name.
func (c *Caller) ARN(service, resource string) string {
	account := ""
	if c.Principal != nil {
		account = c.Principal.AccountID
	}
	return "arn:aws:" + service + ":" + c.Region + ":" + account + ":" + resource
}

// NameOrARN returns nameOrARN when it is an ARN (a request may name a
// trail either way), else c.ARN(service, prefix+nameOrARN).
func (c *Caller) NameOrARN(service, prefix, nameOrARN string) string {
	if strings.HasPrefix(nameOrARN, "arn:") {
		return nameOrARN
	}
	return c.ARN(service, prefix+nameOrARN)
}

// Value returns *p, or "" for nil: inputs' optional members, for
// IAMResources.
func Value(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
