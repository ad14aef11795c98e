package reliability

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/s3api"
	"github.com/opentrail/opentrail/internal/server"
	"github.com/opentrail/opentrail/internal/testserver"
)

// t14Operations lists every operation of the server's routers, from the
// code: a server is built in-process and asked.
func t14Operations(t *testing.T) []awsapi.OperationInfo {
	cfg := config.Default()
	cfg.Data = t.TempDir()
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	return srv.Operations()
}

// t14Call calls op once with a minimal input ({} or no parameters) as
// access key akid and returns the status and body; a failing call is fine
// (it is audited too).
func t14Call(t *testing.T, s *testserver.Server, akid string, op awsapi.OperationInfo) (int, []byte) {
	c := testserver.Creds(akid)
	switch {
	case op.Method != "":
		path := regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(op.Path, "t14-missing")
		service := op.Service
		var body []byte
		if op.Method != "GET" && op.Method != "DELETE" {
			body = []byte("{}")
		}
		req := testserver.Sign(t, c, service, "us-east-1", op.Method, s.URL+path, http.Header{"Content-Type": {"application/json"}}, body)
		code, out, _ := testserver.Do(t, req)
		return code, out
	case op.Service == "sns" || op.Service == "monitoring":
		version := map[string]string{"sns": "2010-03-31", "monitoring": "2010-08-01"}[op.Service]
		return awsTry(t, s, c, "us-east-1", op.Service, "", "", url.Values{"Action": {op.Name}, "Version": {version}}.Encode())
	}
	return awsTry(t, s, c, "us-east-1", op.Service, op.Name, "", map[string]any{})
}

func TestT14SelfAudit(t *testing.T) {
	describe(t, "T14", "Every mutating operation of every API router (CloudTrail and Lake, CloudTrail Data, CloudWatch, CloudWatch "+
		"Logs, SNS, EventBridge, the native API), listed from the code (a server built in-process lists its routers' operations), is "+
		"called once against the real server with a minimal input — a failing call counts, as AWS records failed calls — and a "+
		"self-audit record with its eventSource and eventName must exist afterwards. A sample of read-only calls that succeed is "+
		"checked the same way. The S3 API's mutating operations (s3api.OperationRequests: a request that reaches each) are called "+
		"and checked too; STS has one read-only operation.")
	ops := t14Operations(t)
	s := startServer(t, "")
	var mutating, readOnly []awsapi.OperationInfo
	services := map[string]bool{}
	for _, op := range ops {
		services[op.Service] = true
		if op.ReadOnly {
			readOnly = append(readOnly, op)
		} else {
			mutating = append(mutating, op)
		}
	}
	if len(services) < 7 || len(mutating) < 50 {
		t.Fatalf("the routers list %d services and %d mutating operations: the listing is incomplete", len(services), len(mutating))
	}
	statuses := map[string]int{}
	for _, op := range mutating {
		statuses[op.Service+"."+op.Name], _ = t14Call(t, s, "test", op)
	}
	var sampled []awsapi.OperationInfo
	for _, op := range readOnly {
		if code, _ := t14Call(t, s, "test", op); code == 200 {
			sampled = append(sampled, op)
		}
	}
	audited := func(op awsapi.OperationInfo) bool {
		out := awsCallNative(t, s, "/v1/events?category=all&region=*&limit=50&EventName="+url.QueryEscape(op.Name)+"&EventSource="+op.Service+".amazonaws.com")
		return strings.Contains(out, `"eventSource":"`+op.Service+`.amazonaws.com"`) && strings.Contains(out, `"eventName":"`+op.Name+`"`)
	}
	auditedMut := 0
	for _, op := range mutating {
		if audited(op) {
			auditedMut++
		} else {
			t.Errorf("%s %s (answered %d) left no self-audit record", op.Service, op.Name, statuses[op.Service+"."+op.Name])
		}
	}
	auditedRO := 0
	for _, op := range sampled {
		if audited(op) {
			auditedRO++
		} else {
			t.Errorf("read-only %s %s succeeded and left no self-audit record", op.Service, op.Name)
		}
	}
	// The S3 API routes by method, path and sub-resource: every mutating
	// operation it names, each by a request that reaches it.
	var s3Mutating []s3api.OperationRequest
	for _, r := range s3api.OperationRequests() {
		if !r.ReadOnly {
			s3Mutating = append(s3Mutating, r)
			t14S3Call(t, s, "test", r)
		}
	}
	auditedS3 := 0
	for _, r := range s3Mutating {
		if audited(awsapi.OperationInfo{Service: "s3", Name: r.Name}) {
			auditedS3++
		} else {
			t.Errorf("S3 %s (%s ?%s) left no self-audit record", r.Name, r.Method, r.Query)
		}
	}
	figure(t, "T14", "services", float64(len(services)), "", "≥ 7")
	figure(t, "T14", "S3 API mutating operations", float64(len(s3Mutating)), "", "informational")
	figure(t, "T14", "S3 API mutating operations audited", float64(auditedS3), "", fmt.Sprintf("= %d (all)", len(s3Mutating)))
	figure(t, "T14", "mutating operations", float64(len(mutating)), "", "informational")
	figure(t, "T14", "mutating operations audited", float64(auditedMut), "", fmt.Sprintf("= %d (all)", len(mutating)))
	figure(t, "T14", "read-only operations that succeeded with an empty input", float64(len(sampled)), "", "informational")
	figure(t, "T14", "of those, audited", float64(auditedRO), "", fmt.Sprintf("= %d", len(sampled)))
}

// t14S3Call sends the S3 request r (on bucket t14-bucket, key t14-key) as
// access key akid and returns the status and body.
func t14S3Call(t *testing.T, s *testserver.Server, akid string, r s3api.OperationRequest) (int, []byte) {
	path := "/"
	if r.Bucket {
		path += "t14-bucket"
	}
	if r.Key {
		path += "/t14-key"
	}
	if r.Query != "" {
		path += "?" + r.Query
	}
	hdr := http.Header{"X-Amz-Content-Sha256": {emptyPayloadSHA256}}
	if r.CopySource {
		hdr.Set("X-Amz-Copy-Source", "t14-bucket/other")
	}
	code, body, _ := testserver.Do(t, testserver.Sign(t, testserver.Creds(akid), "s3", "us-east-1", r.Method, s.URL+path, hdr, nil))
	return code, body
}
