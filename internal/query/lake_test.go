package query_test

import (
	"context"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/query"
)

var updateLake = flag.Bool("update-lake", false, "rewrite testdata/lake/*.csv from the queries' results (check them by hand)")

// lakeEDS is the event data store id the corpus queries name, as Lake's
// console writes them.
const lakeEDS = "4f8a1c2e-9b3d-4e5f-8a7b-1c2d3e4f5a6b"

const acctExt = "333333333333"

func assumedRole(account, role, session string) map[string]any {
	return map[string]any{
		"type": "AssumedRole", "principalId": "AROA" + strings.ToUpper(role) + ":" + session,
		"arn":       "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + session,
		"accountId": account, "accessKeyId": "ASIA" + strings.ToUpper(session) + "0000000000",
		"sessionContext": map[string]any{
			"attributes":    map[string]any{"creationDate": "2026-03-01T11:00:00Z", "mfaAuthenticated": "true"},
			"sessionIssuer": map[string]any{"type": "Role", "principalId": "AROA" + strings.ToUpper(role), "arn": "arn:aws:iam::" + account + ":role/" + role, "accountId": account, "userName": role},
		},
	}
}

func tls(v string) map[string]any {
	return map[string]any{"tlsVersion": v, "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "example.amazonaws.com"}
}

// with merges top-level fields into an event's extra fields.
func with(e ev, kv ...any) ev {
	m := map[string]any{}
	for k, v := range e.extra {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	e.extra = m
	return e
}

// lakeEvents is the history the Lake query corpus runs over: account
// 111111111111's console logins, bucket and security group changes, IAM
// key activity, cross-account calls from 333333333333, errors and TLS
// versions, 1–5 March 2026; and account 222222222222's events, which the
// corpus (run as 111111111111) never sees.
func lakeEvents() []ev {
	alice := iamUser(acctA, "alice", "AKIAALICE00000000001")
	bob := iamUser(acctA, "bob", "AKIABOB0000000000002")
	carol := assumedRole(acctA, "Admin", "carol")
	dave := assumedRole(acctExt, "Auditor", "dave")
	h := time.Hour
	day := 24 * h
	s3res := func(bucket string) map[string]any {
		return map[string]any{"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + bucket, "accountId": acctA}
	}
	login := func(id map[string]any, mfa, result string, at time.Duration, ip string) ev {
		e := ev{name: "ConsoleLogin", source: "signin.amazonaws.com", identity: id, ip: ip, at: at}
		e = with(e, "additionalEventData", map[string]any{"MFAUsed": mfa, "LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No"},
			"responseElements", map[string]any{"ConsoleLogin": result}, "userAgent", "Mozilla/5.0 (X11; Linux x86_64)", "tlsDetails", tls("TLSv1.3"))
		if result == "Failure" {
			e = with(e, "errorMessage", "Failed authentication")
		}
		return e
	}
	evs := []ev{
		login(root(acctA), "No", "Success", 0, "203.0.113.5"),
		login(alice, "No", "Failure", 4*time.Minute, "198.51.100.9"),
		login(alice, "No", "Success", 5*time.Minute, "198.51.100.9"),
		login(bob, "Yes", "Success", 10*time.Minute, "192.0.2.10"),
		with(ev{name: "CreateBucket", source: "s3.amazonaws.com", identity: alice, at: h, params: map[string]any{"bucketName": "logs-alice", "Host": "logs-alice.s3.amazonaws.com"}},
			"resources", []any{s3res("logs-alice")}, "tlsDetails", tls("TLSv1.2")),
		with(ev{name: "PutBucketPublicAccessBlock", source: "s3.amazonaws.com", identity: alice, at: h + time.Minute,
			params: map[string]any{"bucketName": "logs-alice", "PublicAccessBlockConfiguration": map[string]any{"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}}},
			"resources", []any{s3res("logs-alice")}, "tlsDetails", tls("TLSv1.2")),
		ev{name: "CreateBucket", source: "s3.amazonaws.com", identity: alice, at: h + 5*time.Minute, errorCode: "AccessDenied", params: map[string]any{"bucketName": "forbidden"}},
		with(ev{name: "CreateSecurityGroup", identity: bob, at: h + 30*time.Minute, params: map[string]any{"groupName": "web", "groupDescription": "web tier", "vpcId": "vpc-0123"}},
			"responseElements", map[string]any{"_return": true, "groupId": "sg-0ccc"}),
		ev{name: "AuthorizeSecurityGroupIngress", identity: alice, at: 2 * h, params: map[string]any{"groupId": "sg-0aaa",
			"ipPermissions": map[string]any{"items": []any{map[string]any{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": map[string]any{"items": []any{map[string]any{"cidrIp": "0.0.0.0/0"}}}}}}}},
		ev{name: "AuthorizeSecurityGroupIngress", identity: bob, at: 2*h + 5*time.Minute, params: map[string]any{"groupId": "sg-0bbb",
			"ipPermissions": map[string]any{"items": []any{map[string]any{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": map[string]any{"items": []any{map[string]any{"cidrIp": "10.0.0.0/8"}}}}}}}},
		ev{name: "RevokeSecurityGroupIngress", identity: alice, at: 3 * h, params: map[string]any{"groupId": "sg-0aaa",
			"ipPermissions": map[string]any{"items": []any{map[string]any{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": map[string]any{"items": []any{map[string]any{"cidrIp": "0.0.0.0/0"}}}}}}}},
		with(ev{name: "CreateAccessKey", source: "iam.amazonaws.com", identity: root(acctA), ip: "203.0.113.5", at: 4 * h, params: map[string]any{"userName": "bob"}},
			"responseElements", map[string]any{"accessKey": map[string]any{"accessKeyId": "AKIANEWKEY0000000004", "status": "Active", "userName": "bob", "createDate": "Mar 1, 2026 4:00:00 PM"}}),
		ev{name: "UpdateAccessKey", source: "iam.amazonaws.com", identity: alice, at: 4*h + 10*time.Minute, params: map[string]any{"userName": "bob", "accessKeyId": "AKIABOB0000000000002", "status": "Inactive"}},
		ev{name: "DeleteAccessKey", source: "iam.amazonaws.com", identity: alice, at: 4*h + 20*time.Minute, params: map[string]any{"userName": "bob", "accessKeyId": "AKIABOB0000000000002"}},
		with(ev{name: "ListAccessKeys", source: "iam.amazonaws.com", identity: bob, at: 4*h + 30*time.Minute, params: map[string]any{"userName": "bob"}}, "readOnly", true),
		with(ev{name: "AssumeRole", source: "sts.amazonaws.com", identity: iamUser(acctExt, "dave", "AKIADAVE000000000005"), ip: "100.64.0.1", at: 5 * h,
			params: map[string]any{"roleArn": "arn:aws:iam::111111111111:role/Auditor", "roleSessionName": "dave"}},
			"resources", []any{map[string]any{"type": "AWS::IAM::Role", "ARN": "arn:aws:iam::111111111111:role/Auditor", "accountId": acctA}, map[string]any{"type": "AWS::STS::AssumeRoleSession", "ARN": "arn:aws:sts::111111111111:assumed-role/Auditor/dave", "accountId": acctA}},
			"sharedEventID", "5d1e6f7a-0000-4000-8000-000000000001"),
		with(ev{name: "GetObject", source: "s3.amazonaws.com", identity: dave, ip: "100.64.0.1", at: 5*h + 10*time.Minute, params: map[string]any{"bucketName": "logs-alice", "key": "2026/03/01/a.log"}},
			"readOnly", true, "eventCategory", "Data", "managementEvent", false, "tlsDetails", tls("TLSv1.2"),
			"resources", []any{map[string]any{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::logs-alice/2026/03/01/a.log"}, s3res("logs-alice")}),
		with(ev{name: "ListBuckets", source: "s3.amazonaws.com", identity: dave, ip: "100.64.0.1", at: 5*h + 20*time.Minute}, "readOnly", true),
	}
	for i := 0; i < 6; i++ {
		evs = append(evs, with(ev{name: "RunInstances", identity: bob, region: "us-west-2", errorCode: "Client.UnauthorizedOperation", at: 6*h + time.Duration(i)*time.Minute,
			params: map[string]any{"instanceType": "p4d.24xlarge"}}, "userAgent", "aws-cli/2.9.19 Python/3.11.2 Linux/6.1 exe/x86_64.debian.12 prompt/off command/ec2.run-instances", "tlsDetails", tls("TLSv1.3")))
	}
	for i := 0; i < 3; i++ {
		evs = append(evs, with(ev{name: "DescribeInstances", identity: alice, errorCode: "Client.RequestLimitExceeded", at: 7*h - time.Duration(3-i)*time.Minute}, "readOnly", true))
	}
	for i := 0; i < 10; i++ {
		evs = append(evs, with(ev{name: "DescribeInstances", identity: alice, at: 7*h + time.Duration(i)*time.Minute},
			"readOnly", true, "userAgent", "aws-cli/2.9.19 Python/3.11.2 Linux/6.1 exe/x86_64.debian.12 prompt/off command/ec2.describe-instances", "tlsDetails", tls("TLSv1.2")))
	}
	for i := 0; i < 3; i++ {
		evs = append(evs, with(ev{name: "GetObject", source: "s3.amazonaws.com", identity: alice, errorCode: "NoSuchKey", at: 8*h + time.Duration(i)*time.Minute,
			params: map[string]any{"bucketName": "logs-alice", "key": "missing-" + string(rune('a'+i))}},
			"readOnly", true, "eventCategory", "Data", "managementEvent", false))
	}
	for i, ip := range []string{"192.0.2.77", "192.0.2.78", "192.0.2.77"} {
		evs = append(evs, with(ev{name: "GetCallerIdentity", source: "sts.amazonaws.com", identity: bob, ip: ip, at: 9*h + time.Duration(i)*time.Minute},
			"readOnly", true, "userAgent", "Boto3/1.26.0 Python/3.8.10 Linux/5.4 Botocore/1.29.0", "tlsDetails", tls("TLSv1")))
	}
	evs = append(evs,
		with(ev{name: "CreateBucket", source: "s3.amazonaws.com", identity: bob, region: "eu-west-1", at: day - 3*h, params: map[string]any{"bucketName": "data-bob"}},
			"resources", []any{s3res("data-bob")}, "tlsDetails", tls("TLSv1.3")),
		with(ev{name: "DeleteBucketPublicAccessBlock", source: "s3.amazonaws.com", identity: bob, region: "eu-west-1", at: day - 3*h + 10*time.Minute, params: map[string]any{"bucketName": "data-bob"}},
			"resources", []any{s3res("data-bob")}),
		with(ev{name: "PutBucketPolicy", source: "s3.amazonaws.com", identity: bob, region: "eu-west-1", at: day - 3*h + 20*time.Minute, params: map[string]any{"bucketName": "data-bob",
			"bucketPolicy": map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-bob/*"}}}}},
			"resources", []any{s3res("data-bob")}),
		with(ev{name: "PutBucketAcl", source: "s3.amazonaws.com", identity: bob, region: "eu-west-1", at: day - 3*h + 25*time.Minute, params: map[string]any{"bucketName": "data-bob", "x-amz-acl": []any{"public-read"}}},
			"resources", []any{s3res("data-bob")}),
		with(ev{name: "CreateBucket", source: "s3.amazonaws.com", identity: carol, at: 4*day - 2*h, params: map[string]any{"bucketName": "tmp-carol"}},
			"resources", []any{s3res("tmp-carol")}),
		with(ev{name: "TerminateInstances", identity: carol, at: 4*day - h, params: map[string]any{"instancesSet": map[string]any{"items": []any{map[string]any{"instanceId": "i-0abc"}, map[string]any{"instanceId": "i-0def"}}}}},
			"tlsDetails", tls("TLSv1.3")),
	)
	for i := 0; i < 5; i++ {
		evs = append(evs, ev{account: acctB, name: "DeleteBucket", source: "s3.amazonaws.com", identity: iamUser(acctB, "mallory", "AKIAMALLORY000000003"), errorCode: "AccessDenied", at: time.Duration(i) * time.Minute})
	}
	return evs
}

// TestLakeCorpus runs queries written for CloudTrail Lake, in the style of
// AWS's documentation and sample queries, unchanged against lakeEvents and
// compares each result (columns and rows, as Lake's text) with its .csv.
func TestLakeCorpus(t *testing.T) {
	st := openStore(t, lakeEvents())
	files, err := filepath.Glob("testdata/lake/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("the corpus has %d queries, want at least 25", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sql")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := query.Run(context.Background(), st, string(b), query.Options{Accounts: []string{acctA}})
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			got := append([][]string{res.Columns}, res.Rows...)
			golden := strings.TrimSuffix(f, ".sql") + ".csv"
			if *updateLake {
				var sb strings.Builder
				w := csv.NewWriter(&sb)
				w.WriteAll(got)
				if err := os.WriteFile(golden, []byte(sb.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			g, err := os.Open(golden)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			r := csv.NewReader(g)
			r.FieldsPerRecord = -1
			want, err := r.ReadAll()
			if err != nil {
				t.Fatalf("%s: %v", golden, err)
			}
			if len(got) < 2 {
				t.Errorf("%s returned no rows; every corpus query should match something", name)
			}
			if len(got) != len(want) {
				t.Fatalf("%d rows (with header), want %d:\n got %q\nwant %q", len(got), len(want), got, want)
			}
			for i := range want {
				if strings.Join(got[i], "\x1f") != strings.Join(want[i], "\x1f") {
					t.Errorf("row %d = %q, want %q", i, got[i], want[i])
				}
			}
		})
	}
}
