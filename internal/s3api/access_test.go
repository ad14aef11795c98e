package s3api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestWritesDenied(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	b := e.bucket("logs", acctA, map[string]string{"k": "delivered"})
	a := e.client(acctA, "us-east-1")
	bkt, key := aws.String("logs"), aws.String("k")
	body := func() io.Reader { return strings.NewReader("new content") }

	writes := []struct {
		name string
		call func(c *s3.Client, bucket *string) error
	}{
		{"PutObject", func(c *s3.Client, bk *string) error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bk, Key: key, Body: body()})
			return err
		}},
		{"PutObject new key", func(c *s3.Client, bk *string) error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bk, Key: aws.String("new"), Body: body()})
			return err
		}},
		{"CopyObject", func(c *s3.Client, bk *string) error {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bk, Key: aws.String("copy"), CopySource: aws.String("logs/k")})
			return err
		}},
		{"DeleteObject", func(c *s3.Client, bk *string) error {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bk, Key: key})
			return err
		}},
		{"DeleteObjects", func(c *s3.Client, bk *string) error {
			_, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: bk, Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: key}}}})
			return err
		}},
		{"CreateMultipartUpload", func(c *s3.Client, bk *string) error {
			_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bk, Key: key})
			return err
		}},
		{"UploadPart", func(c *s3.Client, bk *string) error {
			_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bk, Key: key, UploadId: aws.String("u"), PartNumber: aws.Int32(1), Body: body()})
			return err
		}},
		{"CompleteMultipartUpload", func(c *s3.Client, bk *string) error {
			_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bk, Key: key, UploadId: aws.String("u")})
			return err
		}},
		{"AbortMultipartUpload", func(c *s3.Client, bk *string) error {
			_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bk, Key: key, UploadId: aws.String("u")})
			return err
		}},
		{"PutObjectAcl", func(c *s3.Client, bk *string) error {
			_, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: bk, Key: key, ACL: types.ObjectCannedACLPublicRead})
			return err
		}},
		{"PutObjectTagging", func(c *s3.Client, bk *string) error {
			_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: bk, Key: key, Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}})
			return err
		}},
		{"DeleteObjectTagging", func(c *s3.Client, bk *string) error {
			_, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: bk, Key: key})
			return err
		}},
		{"RestoreObject", func(c *s3.Client, bk *string) error {
			_, err := c.RestoreObject(ctx, &s3.RestoreObjectInput{Bucket: bk, Key: key})
			return err
		}},
	}
	for _, w := range writes {
		msg := wantErr(t, w.name, w.call(a, bkt), "AccessDenied", 403)
		if !strings.Contains(msg, "only writer") || !strings.Contains(msg, "immutable") {
			t.Errorf("%s: message %q does not say why", w.name, msg)
		}
		wantErr(t, w.name+" by another account", w.call(e.client(acctB, "us-east-1"), bkt), "AccessDenied", 403)
		wantErr(t, w.name+" to a missing bucket", w.call(a, aws.String("missing")), "NoSuchBucket", 404)
	}
	data, _, err := b.Get(ctx, "k")
	if err != nil || string(data) != "delivered" {
		t.Errorf("object after refused writes = %q, %v", data, err)
	}
	if objs, _, _ := b.List(ctx, "", "", 0); len(objs) != 1 {
		t.Errorf("bucket holds %d objects after refused writes, want 1", len(objs))
	}
}

// policyDoc builds a bucket policy for bucket "logs" from statements.
func policyDoc(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

func TestCrossAccountAccess(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.bucket("logs", acctA, map[string]string{
		"AWSLogs/111111111111/CloudTrail/f.json.gz": "log",
		"private/secret": "secret",
	})
	a, b, c := e.client(acctA, "us-east-1"), e.client(acctB, "us-east-1"), e.client(acctC, "us-east-1")
	logs := aws.String("logs")
	logFile := aws.String("AWSLogs/111111111111/CloudTrail/f.json.gz")

	setPolicy := func(p string) {
		t.Helper()
		if _, err := a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: logs, Policy: aws.String(p)}); err != nil {
			t.Fatalf("PutBucketPolicy(%s): %v", p, err)
		}
	}
	get := func(cl *s3.Client, key string) error {
		out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: logs, Key: aws.String(key)})
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	// reads tries every read another account may be granted and returns
	// which ones succeeded.
	reads := func(cl *s3.Client) map[string]bool {
		ok := map[string]bool{}
		ok["GetObject"] = get(cl, *logFile) == nil
		_, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: logs, Key: logFile})
		ok["HeadObject"] = err == nil
		_, err = cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: logs})
		ok["ListObjectsV2"] = err == nil
		_, err = cl.ListObjects(ctx, &s3.ListObjectsInput{Bucket: logs})
		ok["ListObjects"] = err == nil
		_, err = cl.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: logs})
		ok["GetBucketLocation"] = err == nil
		_, err = cl.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: logs})
		ok["HeadBucket"] = err == nil
		return ok
	}
	all := map[string]bool{"GetObject": true, "HeadObject": true, "ListObjectsV2": true, "ListObjects": true, "GetBucketLocation": true, "HeadBucket": true}
	none := map[string]bool{"GetObject": false, "HeadObject": false, "ListObjectsV2": false, "ListObjects": false, "GetBucketLocation": false, "HeadBucket": false}
	check := func(what string, cl *s3.Client, want map[string]bool) {
		t.Helper()
		got := reads(cl)
		for op, w := range want {
			if got[op] != w {
				t.Errorf("%s: %s allowed = %v, want %v", what, op, got[op], w)
			}
		}
	}

	check("owner without a policy", a, all)
	check("other account without a policy", b, none)
	err := get(b, *logFile)
	wantErr(t, "GetObject by another account", err, "AccessDenied", 403)

	readStmt := `{"Effect":"Allow","Principal":{"AWS":%s},"Action":["s3:GetObject","s3:ListBucket","s3:GetBucketLocation"],"Resource":["arn:aws:s3:::logs","arn:aws:s3:::logs/AWSLogs/*"]}`
	for _, tc := range []struct {
		principal string
		b, c      bool
	}{
		{`"222222222222"`, true, false},
		{`"arn:aws:iam::222222222222:root"`, true, false},
		{`["333333333333","arn:aws:iam::222222222222:root"]`, true, true},
		{`"*"`, true, true},
		{`"arn:aws:iam::222222222222:user/alice"`, false, false}, // local-mode callers are root
	} {
		setPolicy(policyDoc(strings.Replace(readStmt, "%s", tc.principal, 1)))
		wantB, wantC := none, none
		if tc.b {
			wantB = all
		}
		if tc.c {
			wantC = all
		}
		check("Principal "+tc.principal+", account B", b, wantB)
		check("Principal "+tc.principal+", account C", c, wantC)
		check("Principal "+tc.principal+", owner", a, all)
	}
	setPolicy(policyDoc(`{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::logs","arn:aws:s3:::logs/AWSLogs/*"]}`))
	check(`Principal "*" and s3:*`, b, all)
	// Granted objects only; NoSuchKey only with s3:ListBucket.
	wantErr(t, "GetObject outside the granted prefix", get(b, "private/secret"), "AccessDenied", 403)
	wantErr(t, "GetObject of a missing granted key", get(b, "AWSLogs/missing"), "NoSuchKey", 404)
	// Never the owner's operations, whatever the policy says.
	_, err = b.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: logs})
	wantErr(t, "DeleteBucket granted by s3:*", err, "AccessDenied", 403)
	_, err = b.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: logs})
	wantErr(t, "GetBucketPolicy granted by s3:*", err, "AccessDenied", 403)

	setPolicy(policyDoc(`{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"s3:Get*","Resource":"arn:aws:s3:::logs/*"}`))
	if err := get(b, *logFile); err != nil {
		t.Errorf("GetObject granted by s3:Get*: %v", err)
	}
	wantErr(t, "GetObject of a missing key without s3:ListBucket", get(b, "AWSLogs/missing"), "AccessDenied", 403)
	_, err = b.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: logs})
	wantErr(t, "ListObjectsV2 without s3:ListBucket", err, "AccessDenied", 403)
	if err := get(a, "AWSLogs/missing"); err == nil || !strings.Contains(err.Error(), "NoSuchKey") {
		t.Errorf("owner's GetObject of a missing key: %v, want NoSuchKey", err)
	}

	// Statements that never match callers of this API.
	for _, st := range []string{
		`{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:*","Resource":"arn:aws:s3:::logs/*"}`,
		`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*","Condition":{"StringEquals":{"aws:PrincipalAccount":"222222222222"}}}`,
		`{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*"}`,
		`{"Effect":"Allow","Principal":"*","NotAction":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}`,
		`{"Effect":"Allow","NotPrincipal":{"AWS":"222222222222"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}`,
	} {
		setPolicy(policyDoc(st))
		wantErr(t, "GetObject under "+st, get(b, *logFile), "AccessDenied", 403)
	}

	// An explicit Deny wins, over the owner too, but never locks the
	// owner out of its policy.
	setPolicy(policyDoc(
		`{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::logs","arn:aws:s3:::logs/*"]}`,
		`{"Sid":"NoSecrets","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/private/*"}`,
		`{"Effect":"Deny","Principal":"*","Action":"s3:*Policy","Resource":"arn:aws:s3:::logs"}`,
	))
	wantErr(t, "owner's GetObject under a Deny", get(a, "private/secret"), "AccessDenied", 403)
	wantErr(t, "other's GetObject under a Deny", get(b, "private/secret"), "AccessDenied", 403)
	if err := get(b, *logFile); err != nil {
		t.Errorf("GetObject beside the Deny: %v", err)
	}
	if _, err := a.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: logs}); err != nil {
		t.Errorf("owner's GetBucketPolicy under a Deny of it: %v", err)
	}
	setPolicy(policyDoc(`{"Effect":"Deny","Principal":{"AWS":"111111111111"},"Action":["s3:ListBucket","s3:DeleteBucket"],"Resource":"arn:aws:s3:::logs"}`))
	_, err = a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: logs})
	wantErr(t, "owner's ListObjectsV2 under a Deny", err, "AccessDenied", 403)
	_, err = a.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: logs})
	wantErr(t, "owner's DeleteBucket under a Deny", err, "AccessDenied", 403)
	wantErr(t, "owner's GetObject of a missing key without s3:ListBucket", get(a, "AWSLogs/missing"), "AccessDenied", 403)

	// Deny conditions: this server speaks plain HTTP, so a Deny of
	// insecure transport applies; an unknown condition fails closed; a
	// condition that does not hold lifts the Deny.
	for _, tc := range []struct {
		cond   string
		denied bool
	}{
		{`{"Bool":{"aws:SecureTransport":"false"}}`, true},
		{`{"Bool":{"aws:SecureTransport":true}}`, false},
		{`{"StringEquals":{"aws:SourceVpce":"vpce-1"}}`, true},
		{`{"StringNotEquals":{"aws:PrincipalAccount":["111111111111"]}}`, false},
		{`{"StringNotEqualsIfExists":{"aws:PrincipalAccount":"999999999999"}}`, true},
		{`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111111111111:*"}}`, true},
	} {
		setPolicy(policyDoc(`{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*","Condition":` + tc.cond + `}`))
		err := get(a, *logFile)
		if denied := err != nil; denied != tc.denied {
			t.Errorf("owner's GetObject under Deny with Condition %s: err = %v, want denied %v", tc.cond, err, tc.denied)
		}
	}
	// The owner can always repair the policy.
	if _, err := a.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: logs}); err != nil {
		t.Fatal(err)
	}
	check("owner after DeleteBucketPolicy", a, all)
	check("other account after DeleteBucketPolicy", b, none)
}

func TestAudit(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.bucket("logs", acctA, map[string]string{"k": "v"})
	a := e.client(acctA, "us-east-1")
	e.audit.events(t) // forget set-up

	out, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	_, _ = a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("missing")})
	_, _ = a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("logs"), Prefix: aws.String("AWSLogs/")})
	_, _ = a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("logs"), Key: aws.String("k"), Body: bytes.NewReader([]byte("x"))})
	_, _ = a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("new-bucket")})
	_, _ = a.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("logs")})
	e.raw("PATCH", "/logs", acctA, nil, "") // names no operation: not recorded

	evs := e.audit.events(t)
	want := []struct {
		name     string
		readOnly bool
		code     string
		params   map[string]any
	}{
		{"GetObject", true, "", map[string]any{"bucketName": "logs", "key": "k"}},
		{"GetObject", true, "NoSuchKey", map[string]any{"bucketName": "logs", "key": "missing"}},
		{"ListObjectsV2", true, "", map[string]any{"bucketName": "logs", "prefix": "AWSLogs/", "list-type": "2"}},
		{"PutObject", false, "AccessDenied", map[string]any{"bucketName": "logs", "key": "k"}},
		{"CreateBucket", false, "", map[string]any{"bucketName": "new-bucket"}},
		{"GetBucketLocation", true, "", map[string]any{"bucketName": "logs", "location": ""}},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d audit records, want %d: %v", len(evs), len(want), evs)
	}
	for i, w := range want {
		ev := evs[i]
		if ev["eventName"] != w.name || ev["readOnly"] != w.readOnly || ev["eventSource"] != "s3.amazonaws.com" ||
			ev["awsRegion"] != "us-east-1" || ev["requestID"] == "" || ev["requestID"] == nil {
			t.Errorf("record %d = %v, want %s readOnly %v", i, ev, w.name, w.readOnly)
		}
		if code, _ := ev["errorCode"].(string); code != w.code {
			t.Errorf("record %d (%s): errorCode %q, want %q", i, w.name, code, w.code)
		}
		if w.code != "" && ev["errorMessage"] == nil {
			t.Errorf("record %d (%s) has no errorMessage", i, w.name)
		}
		ui, _ := ev["userIdentity"].(map[string]any)
		if ui["accountId"] != acctA {
			t.Errorf("record %d (%s): userIdentity %v", i, w.name, ui)
		}
		params, _ := ev["requestParameters"].(map[string]any)
		for k, v := range w.params {
			if params[k] != v {
				t.Errorf("record %d (%s): requestParameters[%s] = %v, want %v (all: %v)", i, w.name, k, params[k], v, params)
			}
		}
		if params["x-id"] != nil {
			t.Errorf("record %d (%s) logs the SDK's x-id", i, w.name)
		}
		// Object-level calls are data events naming the object and its
		// bucket; the rest are management events.
		data := w.name == "GetObject" || w.name == "PutObject"
		if ev["managementEvent"] != !data || (ev["eventCategory"] == "Data") != data {
			t.Errorf("record %d (%s): managementEvent %v, eventCategory %v", i, w.name, ev["managementEvent"], ev["eventCategory"])
		}
		if data {
			res, _ := json.Marshal(ev["resources"])
			// (keys sorted: the record was decoded into maps)
			want := `[{"ARN":"arn:aws:s3:::logs/` + params["key"].(string) + `","type":"AWS::S3::Object"},` +
				`{"ARN":"arn:aws:s3:::logs","accountId":"` + acctA + `","type":"AWS::S3::Bucket"}]`
			if string(res) != want {
				t.Errorf("record %d (%s): resources %s, want %s", i, w.name, res, want)
			}
		}
	}
}
