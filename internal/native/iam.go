package native

import (
	"net/http"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// The IAM mapping of the native API: actions opentrail:<operation>
// (opentrail:PutEvents, opentrail:LookupEvents, ...). Findings are
// resources arn:aws:opentrail:R:A:finding/ID; a console user is the IAM
// user ARN it signs in as, arn:aws:iam::A:user/NAME (so that a policy can
// name ${aws:username}); every other operation has no resource type
// ("*"), CreateConsoleUser and ListConsoleUsers included.

// findingResource is the finding in the path.
func findingResource(c *awsapi.Caller, req *http.Request) []string {
	return []string{c.ARN(Service, "finding/"+req.PathValue("id"))}
}

// consoleUserResource is the console user in the path, in the caller's
// account.
func consoleUserResource(c *awsapi.Caller, req *http.Request) []string {
	account := ""
	if c.Principal != nil {
		account = c.Principal.AccountID
	}
	return []string{"arn:aws:iam::" + account + ":user/" + req.PathValue("name")}
}
