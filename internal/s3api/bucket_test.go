package s3api_test

import (
	"encoding/xml"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestBucketLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	a, b := e.client(acctA, "us-east-1"), e.client(acctB, "us-east-1")
	bEU := e.client(acctB, "eu-west-1")
	before := time.Now().Add(-time.Second)

	if _, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha-logs")}); err != nil {
		t.Fatalf("CreateBucket(alpha-logs): %v", err)
	}
	out, err := a.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String("beta-logs"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1},
	})
	if err != nil {
		t.Fatalf("CreateBucket(beta-logs, eu-west-1) from us-east-1: %v", err)
	}
	if aws.ToString(out.Location) != "/beta-logs" {
		t.Errorf("CreateBucket Location = %q, want /beta-logs", aws.ToString(out.Location))
	}
	if _, err := bEU.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String("gamma-logs"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1},
	}); err != nil {
		t.Fatalf("CreateBucket(gamma-logs) in eu-west-1: %v", err)
	}

	for _, tc := range []struct {
		what   string
		client *s3.Client
		name   string
		lc     types.BucketLocationConstraint
		code   string
		status int
	}{
		{"own bucket again", a, "alpha-logs", "", "BucketAlreadyOwnedByYou", 409},
		{"another's bucket", b, "alpha-logs", "", "BucketAlreadyExists", 409},
		{"upper case name", a, "Alpha-Logs", "", "InvalidBucketName", 400},
		{"short name", a, "ab", "", "InvalidBucketName", 400},
		{"IP name", a, "10.0.0.1", "", "InvalidBucketName", 400},
		{"no constraint outside us-east-1", bEU, "delta-logs", "", "IllegalLocationConstraintException", 400},
		{"other region's constraint", bEU, "delta-logs", "us-west-2", "IllegalLocationConstraintException", 400},
		{"us-east-1 named", a, "delta-logs", "us-east-1", "InvalidLocationConstraint", 400},
		{"no such region", a, "delta-logs", "moon-base", "InvalidLocationConstraint", 400},
	} {
		in := &s3.CreateBucketInput{Bucket: aws.String(tc.name)}
		if tc.lc != "" {
			in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: tc.lc}
		}
		_, err := tc.client.CreateBucket(ctx, in)
		wantErr(t, "CreateBucket: "+tc.what, err, tc.code, tc.status)
	}
	if resp, body := e.raw("PUT", "/delta-logs", acctA, nil, "<CreateBucketConfiguration><Location"); resp.StatusCode != 400 || !strings.Contains(body, "<Code>MalformedXML</Code>") {
		t.Errorf("CreateBucket with broken XML: %d %s", resp.StatusCode, body)
	}
	if _, err := e.reg.Info(ctx, "delta-logs"); err == nil {
		t.Error("a refused CreateBucket created the bucket")
	}

	// Each account lists its own buckets, in name order.
	for _, tc := range []struct {
		client  *s3.Client
		account string
		names   []string
		regions []string
	}{
		{a, acctA, []string{"alpha-logs", "beta-logs"}, []string{"us-east-1", "eu-west-1"}},
		{b, acctB, []string{"gamma-logs"}, []string{"eu-west-1"}},
		{e.client(acctC, "us-east-1"), acctC, nil, nil},
	} {
		out, err := tc.client.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			t.Fatalf("ListBuckets(%s): %v", tc.account, err)
		}
		var names, regions []string
		for _, bk := range out.Buckets {
			names = append(names, aws.ToString(bk.Name))
			regions = append(regions, aws.ToString(bk.BucketRegion))
			if c := aws.ToTime(bk.CreationDate); c.Before(before) || c.After(time.Now()) {
				t.Errorf("ListBuckets: %s created %v", aws.ToString(bk.Name), c)
			}
		}
		if !slices.Equal(names, tc.names) || !slices.Equal(regions, tc.regions) {
			t.Errorf("ListBuckets(%s) = %q in %q, want %q in %q", tc.account, names, regions, tc.names, tc.regions)
		}
		if out.Owner == nil || aws.ToString(out.Owner.DisplayName) != tc.account || len(aws.ToString(out.Owner.ID)) != 64 {
			t.Errorf("ListBuckets(%s) owner = %+v", tc.account, out.Owner)
		}
	}
	// Paging and filters.
	var paged []string
	p := s3.NewListBucketsPaginator(a, &s3.ListBucketsInput{MaxBuckets: aws.Int32(1)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Buckets) != 1 {
			t.Fatalf("ListBuckets page of %d buckets, want 1", len(out.Buckets))
		}
		paged = append(paged, aws.ToString(out.Buckets[0].Name))
	}
	if want := []string{"alpha-logs", "beta-logs"}; !slices.Equal(paged, want) {
		t.Errorf("ListBuckets pages = %q, want %q", paged, want)
	}
	if out, err := a.ListBuckets(ctx, &s3.ListBucketsInput{Prefix: aws.String("beta")}); err != nil || len(out.Buckets) != 1 || aws.ToString(out.Buckets[0].Name) != "beta-logs" {
		t.Errorf("ListBuckets(prefix beta) = %+v, %v", out, err)
	}
	if out, err := a.ListBuckets(ctx, &s3.ListBucketsInput{BucketRegion: aws.String("eu-west-1")}); err != nil || len(out.Buckets) != 1 || aws.ToString(out.Buckets[0].Name) != "beta-logs" {
		t.Errorf("ListBuckets(region eu-west-1) = %+v, %v", out, err)
	}
	_, err = a.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(0)})
	wantErr(t, "ListBuckets max-buckets 0", err, "InvalidArgument", 400)

	// HeadBucket and GetBucketLocation.
	hb, err := a.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("beta-logs")})
	if err != nil || aws.ToString(hb.BucketRegion) != "eu-west-1" {
		t.Errorf("HeadBucket(beta-logs) = %+v, %v", hb, err)
	}
	_, err = b.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("beta-logs")})
	wantErr(t, "HeadBucket of another's bucket", err, "", 403)
	_, err = a.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("missing")})
	wantErr(t, "HeadBucket(missing)", err, "", 404)
	_, err = a.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha-logs"), ExpectedBucketOwner: aws.String(acctB)})
	wantErr(t, "HeadBucket with the wrong expected owner", err, "", 403)

	for name, want := range map[string]types.BucketLocationConstraint{"alpha-logs": "", "beta-logs": "eu-west-1"} {
		loc, err := a.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(name)})
		if err != nil || loc.LocationConstraint != want {
			t.Errorf("GetBucketLocation(%s) = %+v, %v; want %q", name, loc, err, want)
		}
	}
	if resp, body := e.raw("GET", "/alpha-logs?location", acctA, nil, ""); !strings.Contains(body, `<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></LocationConstraint>`) {
		t.Errorf("GetBucketLocation body for us-east-1: %d %s", resp.StatusCode, body)
	}
	_, err = b.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("alpha-logs")})
	wantErr(t, "GetBucketLocation of another's bucket", err, "AccessDenied", 403)
	_, err = a.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("missing")})
	wantErr(t, "GetBucketLocation(missing)", err, "NoSuchBucket", 404)

	// DeleteBucket: only the owner's, only when empty.
	bk, err := e.reg.Bucket(ctx, "beta-logs")
	if err != nil {
		t.Fatal(err)
	}
	if err := bk.Put(ctx, "AWSLogs/x", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	_, err = a.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("beta-logs")})
	wantErr(t, "DeleteBucket of a bucket with objects", err, "BucketNotEmpty", 409)
	_, err = b.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha-logs")})
	wantErr(t, "DeleteBucket of another's bucket", err, "AccessDenied", 403)
	if _, err := a.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha-logs")}); err != nil {
		t.Fatalf("DeleteBucket(alpha-logs): %v", err)
	}
	_, err = a.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha-logs")})
	wantErr(t, "HeadBucket after DeleteBucket", err, "", 404)
	_, err = a.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha-logs")})
	wantErr(t, "DeleteBucket again", err, "NoSuchBucket", 404)
	if resp, _ := e.raw("DELETE", "/beta-logs", acctA, nil, ""); resp.StatusCode != 409 {
		t.Errorf("raw DeleteBucket of a bucket with objects: %d", resp.StatusCode)
	}
}

func TestBucketPolicyOperations(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.bucket("logs", acctA, nil)
	a, b := e.client(acctA, "us-east-1"), e.client(acctB, "us-east-1")

	_, err := a.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("logs")})
	wantErr(t, "GetBucketPolicy without a policy", err, "NoSuchBucketPolicy", 404)
	_, err = a.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("missing")})
	wantErr(t, "GetBucketPolicy(missing)", err, "NoSuchBucket", 404)

	for _, tc := range []struct{ policy, msg string }{
		{`not json`, "valid JSON"},
		{`["Statement"]`, "first byte must be '{'"},
		{`{"Version":"2012-10-17"}`, "Missing required field Statement"},
		{`{"Statement":[]}`, "non-empty array"},
		{`{"Statement":[{"Effect":"Permit","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}]}`, "Invalid effect"},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}]}`, "Missing required field Principal"},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Resource":"arn:aws:s3:::logs/*"}]}`, "Missing required field Action"},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}`, "Missing required field Resource"},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}`, "Policy has invalid resource"},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ec2:RunInstances","Resource":"arn:aws:s3:::logs/*"}]}`, "Policy has invalid action"},
		{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}]}`, "Invalid principal in policy"},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*","Extra":1}]}`, "Unknown field Extra"},
		{`{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}]}`, "Invalid policy version"},
	} {
		_, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("logs"), Policy: aws.String(tc.policy)})
		if msg := wantErr(t, "PutBucketPolicy "+tc.policy, err, "MalformedPolicy", 400); !strings.Contains(msg, tc.msg) {
			t.Errorf("PutBucketPolicy %s: message %q, want it to mention %q", tc.policy, msg, tc.msg)
		}
	}
	policy := `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
     "Action": "s3:PutObject", "Resource": "arn:aws:s3:::logs/AWSLogs/111111111111/*",
     "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
    {"Effect": "Allow", "Principal": {"AWS": ["222222222222"]}, "Action": ["s3:GetObject", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"]}
  ]
}`
	if _, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("logs"), Policy: aws.String(policy)}); err != nil {
		t.Fatalf("PutBucketPolicy: %v", err)
	}
	got, err := a.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("logs")})
	if err != nil || aws.ToString(got.Policy) != policy {
		t.Errorf("GetBucketPolicy = %q, %v; want the policy as stored", aws.ToString(got.Policy), err)
	}
	// A policy grants other accounts reads, never the policy itself.
	_, err = b.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("logs")})
	wantErr(t, "GetBucketPolicy by another account", err, "AccessDenied", 403)
	_, err = b.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("logs"), Policy: aws.String(policy)})
	wantErr(t, "PutBucketPolicy by another account", err, "AccessDenied", 403)
	_, err = b.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("logs")})
	wantErr(t, "DeleteBucketPolicy by another account", err, "AccessDenied", 403)

	if _, err := a.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("logs")}); err != nil {
		t.Fatalf("DeleteBucketPolicy: %v", err)
	}
	_, err = a.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("logs")})
	wantErr(t, "GetBucketPolicy after DeleteBucketPolicy", err, "NoSuchBucketPolicy", 404)
	if _, err := a.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("logs")}); err != nil {
		t.Errorf("DeleteBucketPolicy without a policy: %v", err)
	}
	_, err = a.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("missing")})
	wantErr(t, "DeleteBucketPolicy(missing)", err, "NoSuchBucket", 404)
}

func TestUnsupported(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.bucket("logs", acctA, map[string]string{"k": "v"})
	a := e.client(acctA, "us-east-1")
	bkt, key := aws.String("logs"), aws.String("k")

	notImpl := map[string]func() error{
		"GetBucketAcl": func() error { _, err := a.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: bkt}); return err },
		"GetBucketVersioning": func() error {
			_, err := a.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: bkt})
			return err
		},
		"PutBucketVersioning": func() error {
			_, err := a.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bkt,
				VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
			return err
		},
		"GetBucketTagging": func() error { _, err := a.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: bkt}); return err },
		"DeleteBucketCors": func() error { _, err := a.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: bkt}); return err },
		"GetBucketEncryption": func() error {
			_, err := a.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: bkt})
			return err
		},
		"ListObjectVersions": func() error {
			_, err := a.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: bkt})
			return err
		},
		"ListMultipartUploads": func() error {
			_, err := a.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bkt})
			return err
		},
		"GetObjectAcl": func() error { _, err := a.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: bkt, Key: key}); return err },
		"GetObjectTagging": func() error {
			_, err := a.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: bkt, Key: key})
			return err
		},
	}
	for name, call := range notImpl {
		msg := wantErr(t, name, call(), "NotImplemented", 501)
		if !strings.Contains(msg, "not implemented") {
			t.Errorf("%s: message %q does not say what is not implemented", name, msg)
		}
	}
	_, err := a.ListParts(ctx, &s3.ListPartsInput{Bucket: bkt, Key: key, UploadId: aws.String("u")})
	wantErr(t, "ListParts", err, "NoSuchUpload", 404)
	_, err = a.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("missing")})
	wantErr(t, "GetBucketAcl(missing)", err, "NoSuchBucket", 404)

	for _, tc := range []struct{ method, path, resourceType string }{
		{"PUT", "/", "SERVICE"},
		{"PATCH", "/logs", "BUCKET"},
		{"PATCH", "/logs/k", "OBJECT"},
	} {
		resp, body := e.raw(tc.method, tc.path, acctA, nil, "")
		var eb struct {
			Code, Method, ResourceType string
		}
		if err := xml.Unmarshal([]byte(body), &eb); err != nil || resp.StatusCode != http.StatusMethodNotAllowed ||
			eb.Code != "MethodNotAllowed" || eb.Method != tc.method || eb.ResourceType != tc.resourceType {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, body)
		}
	}
}
