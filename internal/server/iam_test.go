package server

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/s3api"
)

// iamRouters builds a server as serve does and lists every operation of
// every router with its authorization mapping, by router.
func iamRouters(t *testing.T) []iamRouter {
	t.Helper()
	s := buildServer(t, localConfig(t))
	t.Cleanup(func() { _ = s.Close() })
	return []iamRouter{
		{"cloudtrail", s.cloudtrail.IAMOperations()},
		{"cloudtrail-data", s.cloudtrailData.IAMOperations()},
		{"monitoring", s.monitoring.IAMOperations()},
		{"logs", s.logs.IAMOperations()},
		{"sns", s.sns.IAMOperations()},
		{"events", s.events.IAMOperations()},
		{"opentrail", s.native.IAMOperations()},
	}
}

type iamRouter struct {
	service string
	ops     []awsapi.IAMOperation
}

// TestEveryOperationIsMapped fails for an operation whose IAM action and
// resources were not decided.
func TestEveryOperationIsMapped(t *testing.T) {
	for _, r := range iamRouters(t) {
		if len(r.ops) == 0 {
			t.Errorf("%s: no operations", r.service)
		}
		for _, op := range r.ops {
			if !op.Mapped {
				t.Errorf("%s %s: no IAM resources decided (implement awsapi.IAMResourcer on its input, or register it with RegisterRawResources)", r.service, op.Name)
			}
		}
	}
}

var updateDoc = flag.Bool("update-authorization-doc", false, "rewrite docs/authorization.md's Actions and resources section from the mapping")

// actionsSection is the heading of docs/authorization.md's section that
// TestAuthorizationDocMatchesMapping writes.
const actionsSection = "## Actions and resources"

// actionsTable renders every operation's mapping as the doc shows it.
func actionsTable(t *testing.T) string {
	var b strings.Builder
	b.WriteString(actionsSection + "\n\n")
	b.WriteString(`Every call is authorized, after its request is decoded and before it runs, as one IAM action on
the resources it names: every resource must be allowed. A refused call never runs; the client gets
the refusal in its protocol's shape (AccessDeniedException, HTTP 400, over AWS JSON 1.1 — CloudTrail,
CloudWatch Logs, EventBridge; AccessDeniedException 403 over REST-JSON — CloudTrail Data — and the
native API; CloudWatch answers AccessDenied 403 over the query protocol, and AccessDeniedException
with x-amzn-query-error AccessDenied;Sender over JSON 1.0 and CBOR; SNS AuthorizationError 403; S3
AccessDenied 403), and the call is recorded like any other with errorCode AccessDenied and the
refusal's message as errorMessage, so the CIS unauthorised-API-calls filter
($.errorCode = "AccessDenied*") matches it. A request that cannot be decoded at all (malformed JSON,
an unknown operation) is answered with that error first, as there is nothing to authorize yet.
sts:GetCallerIdentity is never refused, as on AWS.

Resources use the Service Authorization Reference's ARN formats. ${Region} is the request's
region (of its SigV4 credential scope), ${Account} the caller's account; a resource the request
names by ARN is that ARN (a trail, event data store or channel named by ARN keeps its region and
account), and ${member} stands for the request member of that name. "*" means the action has no
resource type (AWS lists none, or the resource does not exist before the call, as for
CreateChannel). Native API actions are opentrail:<operation>; findings are
arn:aws:opentrail:${Region}:${Account}:finding/${id}, and a console user is the IAM user ARN it
signs in as. This table is generated from the code (go test ./internal/server -run
TestAuthorizationDocMatchesMapping -update-authorization-doc).
`)
	routers := iamRouters(t)
	routers = append(routers, iamRouter{"s3", s3api.IAMOperations()})
	titles := map[string]string{"cloudtrail": "CloudTrail and CloudTrail Lake (cloudtrail)", "cloudtrail-data": "CloudTrail Data (cloudtrail-data)",
		"monitoring": "CloudWatch (monitoring)", "logs": "CloudWatch Logs (logs)", "sns": "SNS (sns)", "events": "EventBridge (events)",
		"opentrail": "Native API (/v1)", "s3": "S3 (the built-in object store; ${Bucket}, ${Key})"}
	for _, r := range routers {
		fmt.Fprintf(&b, "\n### %s\n\n| Operation | Action | Resources |\n| --- | --- | --- |\n", titles[r.service])
		for _, op := range r.ops {
			res := "*"
			if len(op.Resources) > 0 {
				res = "`" + strings.Join(op.Resources, "`, `") + "`"
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s |\n", op.Name, op.Action, res)
		}
	}
	b.WriteString("\n### STS (sts)\n\n| Operation | Action | Resources |\n| --- | --- | --- |\n| GetCallerIdentity | never refused | * |\n")
	return b.String()
}

// TestAuthorizationDocMatchesMapping fails when docs/authorization.md's
// table of actions and resources differs from the code's mapping.
func TestAuthorizationDocMatchesMapping(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "authorization.md")
	want := actionsTable(t)
	doc, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, actionsSection+"\n")
	var got, before, after string
	if start < 0 {
		before = text
		if before != "" && !strings.HasSuffix(before, "\n\n") {
			before = strings.TrimRight(before, "\n") + "\n\n"
		}
	} else {
		before = text[:start]
		rest := text[start+len(actionsSection):]
		end := len(rest)
		if i := strings.Index(rest, "\n## "); i >= 0 {
			end = i + 1
		}
		got = text[start : start+len(actionsSection)+end]
		after = rest[end:]
	}
	if strings.TrimSpace(got) == strings.TrimSpace(want) {
		return
	}
	if !*updateDoc {
		t.Fatalf("%s's %q section differs from the mapping; rewrite it with go test ./internal/server -run TestAuthorizationDocMatchesMapping -update-authorization-doc", path, actionsSection)
	}
	sep := ""
	if after != "" {
		sep = "\n"
	}
	if err := os.WriteFile(path, []byte(before+want+sep+after), 0o644); err != nil {
		t.Fatal(err)
	}
}
