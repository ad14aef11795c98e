package cloudtrail

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/cloudtraildata"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/trail"
)

// newBucketEnv is a Service whose trails deliver to the built-in store's
// buckets (owners and policies), with an organisation acctOrg manages.
func newBucketEnv(t *testing.T) (*env, *objstore.FSBuckets) {
	t.Helper()
	bk, err := objstore.OpenFSBuckets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := servicetest.NewStore()
	e := &env{t: t, st: st, ing: &servicetest.Ingester{Store: st, Source: cloudtraildata.SourcePutAuditEvents}, clock: clock.NewFake(servicetest.Now)}
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{Store: st, TokenKey: servicetest.TokenKey, Now: e.clock.Now, Logger: quiet, Buckets: bk,
		Org: &trail.Organization{ID: "o-exampleorg", Management: servicetest.AcctOrg, Members: []string{servicetest.AcctA, servicetest.AcctB}}})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.json = awsapi.NewRouter("cloudtrail", nil, quiet)
	svc.Register(e.json)
	return e, bk
}

// cloudTrailPolicy grants CloudTrail s3:PutObject on resource, with an
// optional condition block.
func cloudTrailPolicy(resource, condition string) string {
	if condition != "" {
		condition = `,"Condition":` + condition
	}
	return `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"AclCheck","Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:GetBucketAcl","Resource":"arn:aws:s3:::shared-logs"},` +
		`{"Sid":"Write","Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"` + resource + `"` + condition + `}]}`
}

func TestTrailBucketOwnerAndPolicy(t *testing.T) {
	e, bk := newBucketEnv(t)
	ctx := t.Context()
	for name, owner := range map[string]string{"a-logs": servicetest.AcctA, "b-logs": servicetest.AcctB, "shared-logs": servicetest.AcctA} {
		if err := bk.CreateBucket(ctx, name, owner, servicetest.RegionA); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(what, op, body, bucket string) {
		t.Helper()
		status, got := e.call(servicetest.AcctB, servicetest.RegionA, op, body)
		servicetest.WantError(t, status, got, 400, "InsufficientS3BucketPolicyException", "Incorrect S3 bucket policy is detected for bucket: "+bucket)
		if t.Failed() {
			t.Logf("case: %s", what)
		}
	}
	allowed := func(what, account, op, body string) {
		t.Helper()
		if status, got := e.call(account, servicetest.RegionA, op, body); status != 200 {
			t.Errorf("%s: %d %s", what, status, got)
		}
	}
	setPolicy := func(p string) {
		t.Helper()
		if err := bk.PutPolicy(ctx, "shared-logs", []byte(p)); err != nil {
			t.Fatal(err)
		}
	}

	// The bucket's owner needs no policy.
	allowed("owner", servicetest.AcctA, "CreateTrail", `{"Name":"own","S3BucketName":"a-logs"}`)
	// Another account's bucket without a policy is refused.
	refused("no policy", "CreateTrail", `{"Name":"b-trail","S3BucketName":"shared-logs"}`, "shared-logs")
	allowed("B's own trail", servicetest.AcctB, "CreateTrail", `{"Name":"b-trail","S3BucketName":"b-logs","S3KeyPrefix":"x"}`)
	refused("update into A's bucket", "UpdateTrail", `{"Name":"b-trail","S3BucketName":"shared-logs"}`, "shared-logs")

	// A policy for A's folder only does not let B write.
	setPolicy(cloudTrailPolicy("arn:aws:s3:::shared-logs/AWSLogs/"+servicetest.AcctA+"/*", ""))
	refused("policy for another account", "CreateTrail", `{"Name":"bee-2","S3BucketName":"shared-logs"}`, "shared-logs")
	// A policy naming another service, or a narrower folder, grants nothing.
	setPolicy(strings.Replace(cloudTrailPolicy("arn:aws:s3:::shared-logs/*", ""), `"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject"`,
		`"Service":"config.amazonaws.com"},"Action":"s3:PutObject"`, 1))
	refused("other service", "CreateTrail", `{"Name":"bee-2","S3BucketName":"shared-logs"}`, "shared-logs")
	setPolicy(cloudTrailPolicy("arn:aws:s3:::shared-logs/AWSLogs/"+servicetest.AcctB+"/CloudTrail/*", ""))
	refused("narrower folder", "CreateTrail", `{"Name":"bee-2","S3BucketName":"shared-logs"}`, "shared-logs")

	// The documented policy for B's folder lets B's trail deliver there,
	// but not under a prefix the policy does not cover.
	setPolicy(cloudTrailPolicy("arn:aws:s3:::shared-logs/AWSLogs/"+servicetest.AcctB+"/*", ""))
	allowed("proper policy", servicetest.AcctB, "CreateTrail", `{"Name":"bee-2","S3BucketName":"shared-logs"}`)
	refused("prefix outside the policy", "UpdateTrail", `{"Name":"bee-2","S3KeyPrefix":"other"}`, "shared-logs")
	allowed("update into the bucket", servicetest.AcctB, "UpdateTrail", `{"Name":"b-trail","S3BucketName":"shared-logs","S3KeyPrefix":""}`)

	// aws:SourceArn conditions name the trails that may write.
	arnB := "arn:aws:cloudtrail:" + servicetest.RegionA + ":" + servicetest.AcctB + ":trail/"
	setPolicy(cloudTrailPolicy("arn:aws:s3:::shared-logs/p/AWSLogs/"+servicetest.AcctB+"/*", `{"StringEquals":{"aws:SourceArn":"`+arnB+`bee-3","s3:x-amz-acl":"bucket-owner-full-control"}}`))
	refused("other trail than the condition names", "CreateTrail", `{"Name":"bee-4","S3BucketName":"shared-logs","S3KeyPrefix":"p"}`, "shared-logs")
	allowed("trail the condition names", servicetest.AcctB, "CreateTrail", `{"Name":"bee-3","S3BucketName":"shared-logs","S3KeyPrefix":"p"}`)
	// An Allow with a condition key CloudTrail's writes do not carry grants nothing.
	setPolicy(cloudTrailPolicy("arn:aws:s3:::shared-logs/*", `{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}`))
	refused("unknown condition", "CreateTrail", `{"Name":"bee-4","S3BucketName":"shared-logs"}`, "shared-logs")

	// A Deny takes precedence over an Allow.
	setPolicy(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::shared-logs/*"},` +
		`{"Effect":"Deny","Principal":{"Service":["cloudtrail.amazonaws.com"]},"Action":"s3:PutObject","Resource":"arn:aws:s3:::shared-logs/AWSLogs/` + servicetest.AcctB + `/*"}]}`)
	refused("deny", "CreateTrail", `{"Name":"bee-4","S3BucketName":"shared-logs"}`, "shared-logs")

	// An organisation trail writes under the organisation's folder, which
	// the policy must grant; the management account's own folder is not
	// enough.
	org := servicetest.CallerContext(ctx, servicetest.AcctOrg, servicetest.RegionA)
	awsapi.CallerFrom(org).Principal.Management = true
	yes := true
	setPolicy(cloudTrailPolicy("arn:aws:s3:::shared-logs/AWSLogs/"+servicetest.AcctOrg+"/*", ""))
	_, err := e.svc.CreateTrail(org, &CreateTrailInput{Name: ptr("org-trail"), S3BucketName: ptr("shared-logs"), IsOrganizationTrail: &yes})
	if ae := (*awsapi.Error)(nil); !errors.As(err, &ae) || ae.Code != "InsufficientS3BucketPolicyException" {
		t.Errorf("org trail, account folder only: %v", err)
	}
	setPolicy(cloudTrailPolicy("arn:aws:s3:::shared-logs/AWSLogs/o-exampleorg/*", ""))
	if _, err := e.svc.CreateTrail(org, &CreateTrailInput{Name: ptr("org-trail"), S3BucketName: ptr("shared-logs"), IsOrganizationTrail: &yes}); err != nil {
		t.Errorf("org trail, organisation folder: %v", err)
	}
}
