package trail_test

import (
	"testing"

	"github.com/opentrail/opentrail/internal/trail"
)

func TestPolicyAllowsDelivery(t *testing.T) {
	target := trail.DeliveryTarget{Bucket: "logs", Prefix: "team", Account: "111122223333",
		TrailARN: "arn:aws:cloudtrail:eu-west-1:111122223333:trail/audit", Region: "eu-west-1"}
	if got, want := target.Resource(), "arn:aws:s3:::logs/team/AWSLogs/111122223333/*"; got != want {
		t.Errorf("Resource = %s, want %s", got, want)
	}
	org := target
	org.OrgID = "o-exampleorg"
	if got, want := org.Resource(), "arn:aws:s3:::logs/team/AWSLogs/o-exampleorg/*"; got != want {
		t.Errorf("org Resource = %s, want %s", got, want)
	}
	ct := `"Principal":{"Service":"cloudtrail.amazonaws.com"}`
	cases := []struct {
		name   string
		policy string
		want   bool
	}{
		{"documented policy", `{"Statement":[{"Effect":"Allow",` + ct + `,"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/team/AWSLogs/111122223333/*"}]}`, true},
		{"single statement object", `{"Statement":{"Effect":"Allow",` + ct + `,"Action":["s3:GetBucketAcl","s3:PutObject"],"Resource":["arn:aws:s3:::logs","arn:aws:s3:::logs/*"]}}`, true},
		{"wildcards", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::logs/*/AWSLogs/*"}]}`, true},
		{"action case", `{"Statement":[{"Effect":"Allow",` + ct + `,"Action":"S3:putobject","Resource":"arn:aws:s3:::logs/*"}]}`, true},
		{"other account's folder", `{"Statement":[{"Effect":"Allow",` + ct + `,"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/team/AWSLogs/444455556666/*"}]}`, false},
		{"no prefix", `{"Statement":[{"Effect":"Allow",` + ct + `,"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/AWSLogs/111122223333/*"}]}`, false},
		{"GetBucketAcl only", `{"Statement":[{"Effect":"Allow",` + ct + `,"Action":"s3:GetBucketAcl","Resource":"arn:aws:s3:::logs"}]}`, false},
		{"other principal", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*"}]}`, false},
		{"NotPrincipal CloudTrail", `{"Statement":[{"Effect":"Allow","NotPrincipal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*"}]}`, false},
		{"NotAction PutObject", `{"Statement":[{"Effect":"Allow",` + ct + `,"NotAction":"s3:PutObject","Resource":"arn:aws:s3:::logs/*"}]}`, false},
		{"deny wins", `{"Statement":[{"Effect":"Allow",` + ct + `,"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*"},` +
			`{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::logs/team/*"}]}`, false},
		{"deny elsewhere", `{"Statement":[{"Effect":"Allow",` + ct + `,"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*"},` +
			`{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::logs/private/*"}]}`, true},
		{"deny without TLS does not apply", `{"Statement":[{"Effect":"Allow",` + ct + `,"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*"},` +
			`{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::logs/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, true},
		{"deny on an unknown key applies", `{"Statement":[{"Effect":"Allow",` + ct + `,"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*"},` +
			`{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::logs/*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`, false},
		{"source ARN", `{"Statement":[{"Effect":"Allow",` + ct + `,"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*",` +
			`"Condition":{"StringEquals":{"aws:SourceArn":"arn:aws:cloudtrail:eu-west-1:111122223333:trail/audit","aws:SourceAccount":"111122223333"}}}]}`, true},
		{"source ARN like", `{"Statement":[{"Effect":"Allow",` + ct + `,"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*",` +
			`"Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:cloudtrail:*:111122223333:trail/*"}}}]}`, true},
		{"other source ARN", `{"Statement":[{"Effect":"Allow",` + ct + `,"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*",` +
			`"Condition":{"StringEquals":{"aws:SourceArn":"arn:aws:cloudtrail:eu-west-1:111122223333:trail/other"}}}]}`, false},
		{"unknown condition key", `{"Statement":[{"Effect":"Allow",` + ct + `,"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*",` +
			`"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}]}`, false},
		{"no statement", `{"Statement":[]}`, false},
	}
	for _, c := range cases {
		got, err := trail.PolicyAllowsDelivery([]byte(c.policy), target)
		if err != nil || got != c.want {
			t.Errorf("%s: got %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	for _, bad := range []string{`[]`, `{"Statement":"x"}`, `{"Statement":[{"Effect":"Maybe"}]}`, `not json`} {
		if ok, err := trail.PolicyAllowsDelivery([]byte(bad), target); err == nil || ok {
			t.Errorf("%s: got %v, %v; want an error", bad, ok, err)
		}
	}
}

func FuzzPolicyAllowsDelivery(f *testing.F) {
	f.Add(`{"Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*"}]}`)
	f.Add(`{"Statement":{"Effect":"Deny","Principal":"*","NotAction":["s3:*"],"NotResource":"*","Condition":{"StringLike":{"aws:SourceArn":"a*?"}}}}`)
	target := trail.DeliveryTarget{Bucket: "logs", Account: "111122223333", TrailARN: "arn:aws:cloudtrail:eu-west-1:111122223333:trail/audit"}
	f.Fuzz(func(t *testing.T, policy string) {
		ok, err := trail.PolicyAllowsDelivery([]byte(policy), target)
		if err != nil && ok {
			t.Fatalf("allowed with an error: %v", err)
		}
	})
}
