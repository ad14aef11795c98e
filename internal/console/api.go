package console

import (
	"context"
	"net/http"

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
	return awsapi.WithCaller(r.Context(), &awsapi.Caller{
		Principal: s.User.Principal,
		Region:    c.cfg.DefaultRegion,
		SourceIP:  clientIP(r),
		UserAgent: UserAgent,
		RequestID: awsapi.NewUUID(),
	})
}

// call runs one API operation as the signed-in user.
func (c *Console) call(r *http.Request, s *Session, service, op string, in, out any) error {
	ctx := c.as(r, s)
	if cl := awsapi.CallerFrom(ctx); cl != nil {
		cl.Service = service
	}
	return c.cfg.API.Call(ctx, service, op, in, out)
}
