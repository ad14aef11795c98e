package console

import (
	"context"
	"net/http"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
)

// API runs AWS API operations in process: the console calls the same
// operations the CLI does, with their validation, error messages and
// self-audit records. service is the signing name (cloudtrail, monitoring,
// logs, events, sns); in and out are the operation's JSON shapes. A
// refused call returns the operation's *awsapi.Error.
type API interface {
	Call(ctx context.Context, service, operation string, in, out any) error
}

// UserAgent is the userAgent of the records of calls made from the
// console, as AWS records its own console's calls.
const UserAgent = "opentrail-console"

// as returns ctx carrying the signed-in user as the caller of API
// operations made for this request.
func (c *Console) as(r *http.Request, s *Session) context.Context {
	return c.asIn(r, s.User.Principal, c.cfg.DefaultRegion)
}

// asIn is as with the caller p in region. A user who signed in with an
// MFA code calls with MFA (aws:MultiFactorAuthPresent).
func (c *Console) asIn(r *http.Request, p *auth.Principal, region string) context.Context {
	s := c.session(r)
	return awsapi.WithCaller(r.Context(), &awsapi.Caller{
		Principal: p,
		Region:    region,
		SourceIP:  clientIP(r),
		UserAgent: UserAgent,
		RequestID: awsapi.NewUUID(),
		MFA:       s != nil && s.User.MFA && p != nil && s.User.Principal.ARN == p.ARN,
	})
}

// call runs one API operation as the signed-in user, in the console's
// default region.
func (c *Console) call(r *http.Request, s *Session, service, op string, in, out any) error {
	return c.callAs(r, s.User.Principal, c.cfg.DefaultRegion, service, op, in, out)
}

// callIn is call made in region: CloudTrail answers by the caller's
// region (a trail is changed only from its home region).
func (c *Console) callIn(r *http.Request, s *Session, region, service, op string, in, out any) error {
	return c.callAs(r, s.User.Principal, region, service, op, in, out)
}

// callAs runs one API operation as principal p in region. Pages pass the
// signed-in user's principal, or the one it acts as in another account
// (see trailPrincipal).
func (c *Console) callAs(r *http.Request, p *auth.Principal, region, service, op string, in, out any) error {
	if region == "" {
		region = c.cfg.DefaultRegion
	}
	ctx := c.asIn(r, p, region)
	if cl := awsapi.CallerFrom(ctx); cl != nil {
		cl.Service = service
	}
	return c.cfg.API.Call(ctx, service, op, in, out)
}
