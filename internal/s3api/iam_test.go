package s3api_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// denyResources refuses the listed action+resource pairs.
type denyResources map[string]bool

func (d denyResources) Authorize(_ context.Context, c *awsapi.Caller, action string, res []string) error {
	if len(res) == 0 {
		res = []string{"*"}
	}
	for _, r := range res {
		if d[action+" "+r] {
			return awsapi.AccessDenied(awsapi.DeniedMessage(c.Principal.ARN, action, r))
		}
	}
	return nil
}

func TestIdentityPolicyDenial(t *testing.T) {
	e := newEnv(t)
	e.bucket("logs", acctA, map[string]string{"a/secret": "s", "b/open": "o"})
	e.h.SetAuthorizer(denyResources{
		"s3:GetObject arn:aws:s3:::logs/a/secret": true,
		"s3:ListBucket arn:aws:s3:::logs":         true,
		"s3:ListAllMyBuckets *":                   true,
	})
	c := e.client(acctA, "us-east-1")
	ctx := t.Context()
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("a/secret")})
	msg := wantErr(t, "GetObject", err, "AccessDenied", http.StatusForbidden)
	if want := "User: arn:aws:iam::111111111111:root is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::logs/a/secret because no identity-based policy allows the s3:GetObject action"; msg != want {
		t.Errorf("message %q", msg)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("logs"), Key: aws.String("a/secret")})
	wantErr(t, "HeadObject", err, "", http.StatusForbidden)
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("logs")})
	wantErr(t, "ListObjectsV2", err, "AccessDenied", http.StatusForbidden)
	_, err = c.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantErr(t, "ListBuckets", err, "AccessDenied", http.StatusForbidden)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("b/open")})
	if err != nil {
		t.Fatalf("allowed GetObject: %v", err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "o" {
		t.Errorf("body %q", b)
	}
	evs := e.audit.events(t)
	if len(evs) != 5 {
		t.Fatalf("%d records", len(evs))
	}
	for i, name := range []string{"GetObject", "HeadObject", "ListObjectsV2", "ListBuckets"} {
		if evs[i]["eventName"] != name || evs[i]["errorCode"] != "AccessDenied" {
			t.Errorf("record %d: %v", i, evs[i])
		}
	}
	if evs[0]["errorMessage"] != msg || evs[4]["errorCode"] != nil {
		t.Errorf("records %v / %v", evs[0], evs[4])
	}
}
