package iampolicy

import (
	"testing"
)

var fuzzSeeds = []string{
	`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
	`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","NotAction":["cloudtrail:Stop*","logs:Delete*"],"Resource":"*"},
	  {"Sid":"D","Effect":"Deny","Action":"cloudtrail:*","NotResource":"arn:aws:cloudtrail:*:*:trail/${aws:username}-*"}]}`,
	`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{
	  "NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},"BoolIfExists":{"aws:MultiFactorAuthPresent":false},
	  "ForAnyValue:StringLike":{"aws:TagKeys":["a*"]},"NumericLessThan":{"n:x":3},"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"},
	  "Null":{"aws:username":"true"},"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}}}`,
	`{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:Get?bject","Resource":"arn:aws:s3:::b/${x}"}}`,
	`{"Statement":[]}`,
	`{`,
}

// FuzzParse checks that Parse never panics, and that what it accepts
// evaluates without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	for _, name := range BuiltinNames() {
		d, _ := BuiltinDocument(name)
		f.Add([]byte(d))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Parse(doc)
		if err != nil {
			if p != nil {
				t.Fatal("Parse returned a policy and an error")
			}
			return
		}
		d := p.Evaluate(Request{Action: "cloudtrail:StopLogging", Resource: "arn:aws:cloudtrail:us-east-1:123456789012:trail/main",
			Context: map[string][]string{"aws:SourceIp": {"10.1.2.3"}, "aws:username": {"alice"}}})
		if d.Effect != ImplicitDeny && d.Statement == 0 {
			t.Fatalf("decision %+v names no statement", d)
		}
	})
}

// FuzzEvaluate evaluates seed policies against fuzzed requests: it never
// panics, a Deny statement's match is never overridden, and an explicit
// deny of "*" denies everything.
func FuzzEvaluate(f *testing.F) {
	f.Add("cloudtrail:StopLogging", "arn:aws:cloudtrail:us-east-1:123456789012:trail/main", "10.0.0.1", "alice", "true")
	f.Add("logs:DeleteLogGroup", "*", "2001:db8::1", "${aws:username}", "false")
	f.Add("", "", "", "", "")
	f.Add("S3:GETOBJECT", "arn:aws:s3:::b/k?*", "::ffff:10.0.0.1", "*", "TRUE")
	var ps []*Policy
	for _, s := range fuzzSeeds {
		if p, err := Parse([]byte(s)); err == nil {
			ps = append(ps, p)
		}
	}
	denyAll, _ := Parse([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`))
	f.Fuzz(func(t *testing.T, action, resource, ip, user, mfa string) {
		r := Request{Action: action, Resource: resource, Context: map[string][]string{
			"aws:SourceIp": {ip}, "aws:username": {user}, "aws:MultiFactorAuthPresent": {mfa}, "aws:TagKeys": {user, ip},
		}}
		Evaluate(ps, r)
		if d := Evaluate(append(append([]*Policy{}, ps...), denyAll), r); d.Effect != ExplicitDeny {
			t.Fatalf("with a Deny of everything, %q on %q = %v", action, resource, d.Effect)
		}
	})
}
