package reliability

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/iampolicy"
	"github.com/opentrail/opentrail/internal/s3api"
)

// t8Denials is T8's policy sweep: with read-only as every principal's
// policy, every mutating operation is refused and recorded, and no read
// is refused.
func t8Denials(t *testing.T) {
	cfg := writeServerConfig(t, "authorization:\n  default_policy: read-only\n")
	s := startServer(t, "", "--config", cfg)
	// read-only allows a few calls that change nothing stored on purpose
	// (starting and cancelling queries); those are not to be refused.
	readOnly, _ := iampolicy.Builtin("read-only")
	var mutating, reads []awsapi.OperationInfo
	for _, op := range t14Operations(t) {
		allowed := iampolicy.Evaluate([]*iampolicy.Policy{readOnly},
			iampolicy.Request{Action: awsapi.IAMPrefix(op.Service) + ":" + op.Name, Resource: "*"}).Effect == iampolicy.Allow
		if op.ReadOnly || allowed {
			reads = append(reads, op)
		} else {
			mutating = append(mutating, op)
		}
	}
	// What each protocol answers a refused call with.
	deniedCode := func(body []byte) bool {
		b := string(body)
		return strings.Contains(b, "AccessDeniedException") || strings.Contains(b, "<Code>AccessDenied</Code>") ||
			strings.Contains(b, "<Code>AuthorizationError</Code>")
	}
	refused := 0
	for _, op := range mutating {
		code, body := t14Call(t, s, "test", op)
		if code != 400 && code != 403 || !deniedCode(body) || !strings.Contains(string(body), "is not authorized to perform") {
			t.Errorf("%s %s as a read-only principal: %d %s; want AccessDenied", op.Service, op.Name, code, clip300(body))
			continue
		}
		refused++
	}
	recorded := 0
	for _, op := range mutating {
		out := awsCallNative(t, s, "/v1/events?category=all&region=*&limit=50&EventName="+url.QueryEscape(op.Name)+
			"&EventSource="+op.Service+".amazonaws.com")
		if strings.Contains(out, `"eventName":"`+op.Name+`"`) && strings.Contains(out, `"errorCode":"AccessDenied"`) {
			recorded++
		} else {
			t.Errorf("the refused %s %s is not in the history with errorCode AccessDenied", op.Service, op.Name)
		}
	}
	wrongly := 0
	for _, op := range reads {
		if code, body := t14Call(t, s, "test", op); deniedCode(body) {
			wrongly++
			t.Errorf("read-only %s %s refused to a read-only principal: %d %s", op.Service, op.Name, code, clip300(body))
		}
	}
	// The S3 API: every mutating operation read-only does not allow,
	// refused with S3's AccessDenied and recorded so.
	s3Actions := map[string]string{}
	for _, o := range s3api.IAMOperations() {
		s3Actions[o.Name] = o.Action
	}
	s3Refused, s3Recorded, s3Calls := 0, 0, 0
	for _, r := range s3api.OperationRequests() {
		if r.ReadOnly || iampolicy.Evaluate([]*iampolicy.Policy{readOnly},
			iampolicy.Request{Action: s3Actions[r.Name], Resource: "*"}).Effect == iampolicy.Allow {
			continue
		}
		s3Calls++
		code, body := t14S3Call(t, s, "test", r)
		if code != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") || !strings.Contains(string(body), "is not authorized to perform") {
			t.Errorf("S3 %s as a read-only principal: %d %s; want AccessDenied", r.Name, code, clip300(body))
			continue
		}
		s3Refused++
		out := awsCallNative(t, s, "/v1/events?category=all&region=*&limit=50&EventName="+url.QueryEscape(r.Name)+"&EventSource=s3.amazonaws.com")
		if strings.Contains(out, `"errorCode":"AccessDenied"`) {
			s3Recorded++
		} else {
			t.Errorf("the refused S3 %s is not in the history with errorCode AccessDenied", r.Name)
		}
	}
	figure(t, "T8", "mutating operations called as a read-only principal", float64(len(mutating)), "", "informational")
	figure(t, "T8", "S3 API mutating operations called as a read-only principal", float64(s3Calls), "", "informational")
	figure(t, "T8", "S3 refusals with AccessDenied, recorded so", float64(min(s3Refused, s3Recorded)), "", fmt.Sprintf("= %d (all)", s3Calls))
	figure(t, "T8", "refused with the protocol's AccessDenied", float64(refused), "", fmt.Sprintf("= %d (all)", len(mutating)))
	figure(t, "T8", "refusals recorded with errorCode AccessDenied", float64(recorded), "", fmt.Sprintf("= %d (all)", len(mutating)))
	figure(t, "T8", "read operations (and query starts) refused", float64(wrongly), "", "= 0")
}
