package server

import (
	"context"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/authz"
	"github.com/opentrail/opentrail/internal/awsapi"
)

// cisActions are what setting up the CIS pack calls (cis.Enable through
// cisclient): the server sets it up with a key of the account whose
// policies allow all of them.
var cisActions = []string{
	"cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:UpdateTrail",
	"logs:CreateLogGroup", "logs:DescribeLogGroups", "logs:PutMetricFilter", "logs:DescribeMetricFilters",
	"cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms",
	"sns:CreateTopic", "sns:Subscribe", "sns:ListSubscriptionsByTopic",
}

// mayAll returns a test of whether a principal's policies allow every
// one of actions in region (on any resource the policies name with "*").
func mayAll(a *authz.Authorizer, region string, actions []string) func(*auth.Principal) bool {
	return func(p *auth.Principal) bool {
		for _, act := range actions {
			if !a.Authorize(authz.Request{Principal: p, Action: act, Region: region, SecureTransport: true}).Allowed {
				return false
			}
		}
		return true
	}
}

// callAuthorizer asks authz about every API call the routers and the S3
// API dispatch (awsapi.Authorizer): the caller's principal and policies,
// and the request's region, source address, transport and MFA as the
// condition keys.
type callAuthorizer struct{ a *authz.Authorizer }

func (z callAuthorizer) Authorize(_ context.Context, c *awsapi.Caller, action string, resources []string) error {
	r := z.a.Authorize(authz.Request{Principal: c.Principal, Action: action, Resources: resources, Region: c.Region,
		SourceIP: c.SourceIP, SecureTransport: c.TLS != nil, MFA: c.MFA})
	if r.Allowed {
		return nil
	}
	return awsapi.AccessDenied(r.Message(c.Principal.ARN))
}
