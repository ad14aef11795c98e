package iampolicy

import (
	"strings"
	"testing"
)

const (
	trailMain  = "arn:aws:cloudtrail:us-east-1:123456789012:trail/main"
	trailOther = "arn:aws:cloudtrail:us-east-1:123456789012:trail/other"
	logGroup   = "arn:aws:logs:us-east-1:123456789012:log-group:audit"
)

func mustParse(t testing.TB, name, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse %s: %v", name, err)
	}
	p.Name = name
	return p
}

func ctx(kv ...string) map[string][]string {
	m := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = append(m[kv[i]], kv[i+1])
	}
	return m
}

func tags(keys ...string) map[string][]string { return map[string][]string{"aws:TagKeys": keys} }

// TestEvaluate is the evaluation table: one or more policies, a request,
// the effect and the deciding statement.
func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policies []string
		req      Request
		want     Effect
		sid      string
	}{
		{
			name:     "allow",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"cloudtrail:LookupEvents","Resource":"*"}}`},
			req:      Request{Action: "cloudtrail:LookupEvents", Resource: "*"},
			want:     Allow, sid: "A",
		},
		{
			name:     "no statement matches: implicit deny",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"cloudtrail:LookupEvents","Resource":"*"}}`},
			req:      Request{Action: "cloudtrail:StopLogging", Resource: trailMain},
			want:     ImplicitDeny,
		},
		{
			name: "no policies: implicit deny",
			req:  Request{Action: "cloudtrail:StopLogging", Resource: trailMain},
			want: ImplicitDeny,
		},
		{
			name:     "deny",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"D","Effect":"Deny","Action":"cloudtrail:StopLogging","Resource":"*"}}`},
			req:      Request{Action: "cloudtrail:StopLogging", Resource: trailMain},
			want:     ExplicitDeny, sid: "D",
		},
		{
			name: "explicit deny beats allow in the same policy",
			policies: []string{`{"Version":"2012-10-17","Statement":[
				{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},
				{"Sid":"D","Effect":"Deny","Action":"cloudtrail:StopLogging","Resource":"*"}]}`},
			req:  Request{Action: "cloudtrail:StopLogging", Resource: trailMain},
			want: ExplicitDeny, sid: "D",
		},
		{
			name: "explicit deny beats allow across policies",
			policies: []string{
				`{"Version":"2012-10-17","Statement":{"Sid":"D","Effect":"Deny","Action":"cloudtrail:Stop*","Resource":"*"}}`,
				`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"}}`,
			},
			req:  Request{Action: "cloudtrail:StopLogging", Resource: trailMain},
			want: ExplicitDeny, sid: "D",
		},
		{
			name:     "action case-insensitive",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"CloudTrail:stoplogging","Resource":"*"}}`},
			req:      Request{Action: "cloudtrail:StopLogging", Resource: trailMain},
			want:     Allow, sid: "A",
		},
		{
			name:     "action wildcard *",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"cloudtrail:Lookup*","Resource":"*"}}`},
			req:      Request{Action: "cloudtrail:LookupEvents", Resource: "*"},
			want:     Allow, sid: "A",
		},
		{
			name:     "action wildcard does not cross services",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"logs:*","Resource":"*"}}`},
			req:      Request{Action: "cloudtrail:LookupEvents", Resource: "*"},
			want:     ImplicitDeny,
		},
		{
			name:     "action wildcard ?",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"cloudtrail:?etTrail","Resource":"*"}}`},
			req:      Request{Action: "cloudtrail:GetTrail", Resource: trailMain},
			want:     Allow, sid: "A",
		},
		{
			name:     "NotAction allows everything else",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","NotAction":["cloudtrail:StopLogging","cloudtrail:Delete*"],"Resource":"*"}}`},
			req:      Request{Action: "logs:CreateLogGroup", Resource: logGroup},
			want:     Allow, sid: "A",
		},
		{
			name:     "NotAction does not allow what it names",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","NotAction":["cloudtrail:StopLogging","cloudtrail:Delete*"],"Resource":"*"}}`},
			req:      Request{Action: "cloudtrail:DeleteTrail", Resource: trailMain},
			want:     ImplicitDeny,
		},
		{
			name:     "resource wildcard",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"cloudtrail:*","Resource":"arn:aws:cloudtrail:*:123456789012:trail/ma*"}}`},
			req:      Request{Action: "cloudtrail:StopLogging", Resource: trailMain},
			want:     Allow, sid: "A",
		},
		{
			name:     "resource wildcard no match",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"cloudtrail:*","Resource":"arn:aws:cloudtrail:*:123456789012:trail/ma*"}}`},
			req:      Request{Action: "cloudtrail:StopLogging", Resource: trailOther},
			want:     ImplicitDeny,
		},
		{
			name:     "resources are case-sensitive",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"cloudtrail:*","Resource":"arn:aws:cloudtrail:us-east-1:123456789012:trail/MAIN"}}`},
			req:      Request{Action: "cloudtrail:StopLogging", Resource: trailMain},
			want:     ImplicitDeny,
		},
		{
			name:     "an ARN resource does not match a resource-less action",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"cloudtrail:*","Resource":"arn:aws:cloudtrail:*:*:trail/*"}}`},
			req:      Request{Action: "cloudtrail:DescribeTrails", Resource: "*"},
			want:     ImplicitDeny,
		},
		{
			name:     "NotResource",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"D","Effect":"Deny","Action":"cloudtrail:*","NotResource":"arn:aws:cloudtrail:*:*:trail/sandbox-*"}}`},
			req:      Request{Action: "cloudtrail:DeleteTrail", Resource: trailMain},
			want:     ExplicitDeny, sid: "D",
		},
		{
			name: "NotResource leaves the named resources alone",
			policies: []string{`{"Version":"2012-10-17","Statement":[
				{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},
				{"Sid":"D","Effect":"Deny","Action":"cloudtrail:*","NotResource":"arn:aws:cloudtrail:*:*:trail/sandbox-*"}]}`},
			req:  Request{Action: "cloudtrail:DeleteTrail", Resource: "arn:aws:cloudtrail:us-east-1:123456789012:trail/sandbox-1"},
			want: Allow, sid: "A",
		},
		{
			name:     "policy variable aws:username",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"Own","Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:*:*:log-group:${aws:username}-*"}}`},
			req:      Request{Action: "logs:DeleteLogGroup", Resource: "arn:aws:logs:us-east-1:123456789012:log-group:alice-app", Context: ctx("aws:username", "alice")},
			want:     Allow, sid: "Own",
		},
		{
			name:     "policy variable of another user",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"Own","Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:*:*:log-group:${aws:username}-*"}}`},
			req:      Request{Action: "logs:DeleteLogGroup", Resource: "arn:aws:logs:us-east-1:123456789012:log-group:alice-app", Context: ctx("aws:username", "bob")},
			want:     ImplicitDeny,
		},
		{
			name:     "policy variable missing: no match",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"Own","Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:*:*:log-group:${aws:username}-*"}}`},
			req:      Request{Action: "logs:DeleteLogGroup", Resource: "arn:aws:logs:us-east-1:123456789012:log-group:alice-app"},
			want:     ImplicitDeny,
		},
		{
			name:     "policy variable with a wildcard value matches nothing",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"Own","Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:*:*:log-group:${aws:username}"}}`},
			req:      Request{Action: "logs:DeleteLogGroup", Resource: logGroup, Context: ctx("aws:username", "*")},
			want:     ImplicitDeny,
		},
		{
			name:     "2008-10-17: variables are text",
			policies: []string{`{"Version":"2008-10-17","Statement":{"Sid":"Own","Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:*:*:log-group:${aws:username}"}}`},
			req:      Request{Action: "logs:DeleteLogGroup", Resource: "arn:aws:logs:us-east-1:123456789012:log-group:${aws:username}", Context: ctx("aws:username", "alice")},
			want:     Allow, sid: "Own",
		},
		{
			name: "condition decides: deny without TLS",
			policies: []string{`{"Version":"2012-10-17","Statement":[
				{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},
				{"Sid":"TLS","Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`},
			req:  Request{Action: "cloudtrail:LookupEvents", Resource: "*", Context: ctx("aws:SecureTransport", "false")},
			want: ExplicitDeny, sid: "TLS",
		},
		{
			name: "condition decides: allow with TLS",
			policies: []string{`{"Version":"2012-10-17","Statement":[
				{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},
				{"Sid":"TLS","Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`},
			req:  Request{Action: "cloudtrail:LookupEvents", Resource: "*", Context: ctx("aws:SecureTransport", "true")},
			want: Allow, sid: "A",
		},
		{
			name: "deny without MFA (BoolIfExists): long-term key without the key",
			policies: []string{`{"Version":"2012-10-17","Statement":[
				{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},
				{"Sid":"MFA","Effect":"Deny","Action":"cloudtrail:StopLogging","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`},
			req:  Request{Action: "cloudtrail:StopLogging", Resource: trailMain},
			want: ExplicitDeny, sid: "MFA",
		},
		{
			name: "deny without MFA (BoolIfExists): with MFA",
			policies: []string{`{"Version":"2012-10-17","Statement":[
				{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},
				{"Sid":"MFA","Effect":"Deny","Action":"cloudtrail:StopLogging","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`},
			req:  Request{Action: "cloudtrail:StopLogging", Resource: trailMain, Context: ctx("aws:MultiFactorAuthPresent", "true")},
			want: Allow, sid: "A",
		},
		{
			name: "Bool without IfExists: a missing key does not match",
			policies: []string{`{"Version":"2012-10-17","Statement":[
				{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},
				{"Sid":"MFA","Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}`},
			req:  Request{Action: "cloudtrail:StopLogging", Resource: trailMain},
			want: Allow, sid: "A",
		},
		{
			name: "several conditions are ANDed",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*","Condition":{
				"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:SecureTransport":"true"}}}}`},
			req:  Request{Action: "logs:GetLogEvents", Resource: logGroup, Context: ctx("aws:SourceIp", "10.1.2.3", "aws:SecureTransport", "false")},
			want: ImplicitDeny,
		},
		{
			name: "several conditions all hold",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*","Condition":{
				"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:SecureTransport":"true"}}}}`},
			req:  Request{Action: "logs:GetLogEvents", Resource: logGroup, Context: ctx("aws:SourceIp", "10.1.2.3", "aws:SecureTransport", "true")},
			want: Allow, sid: "A",
		},
		{
			name:     "condition keys are case-insensitive",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"AWS:REQUESTEDREGION":"eu-west-1"}}}}`},
			req:      Request{Action: "logs:GetLogEvents", Resource: logGroup, Context: ctx("aws:RequestedRegion", "eu-west-1")},
			want:     Allow, sid: "A",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ps []*Policy
			for i, doc := range tc.policies {
				ps = append(ps, mustParse(t, "p"+string(rune('1'+i)), doc))
			}
			d := Evaluate(ps, tc.req)
			if d.Effect != tc.want || d.Sid != tc.sid {
				t.Errorf("Evaluate = %v (Sid %q), want %v (Sid %q)", d.Effect, d.Sid, tc.want, tc.sid)
			}
			if (d.Effect == ImplicitDeny) != (d.Policy == "") {
				t.Errorf("Evaluate = %+v: the deciding policy is named exactly when a statement decided", d)
			}
		})
	}
}

// TestConditionOperators checks each operator alone: one condition,
// the context, whether it holds.
func TestConditionOperators(t *testing.T) {
	for _, tc := range []struct {
		op, key string
		values  []string
		ctx     map[string][]string
		want    bool
	}{
		// Strings.
		{"StringEquals", "aws:username", []string{"alice"}, ctx("aws:username", "alice"), true},
		{"StringEquals", "aws:username", []string{"alice"}, ctx("aws:username", "Alice"), false},
		{"StringEquals", "aws:username", []string{"bob", "alice"}, ctx("aws:username", "alice"), true}, // values OR
		{"StringEquals", "aws:username", []string{"alice"}, nil, false},                                // missing key
		{"StringNotEquals", "aws:username", []string{"alice"}, ctx("aws:username", "bob"), true},
		{"StringNotEquals", "aws:username", []string{"alice", "bob"}, ctx("aws:username", "bob"), false},
		{"StringNotEquals", "aws:username", []string{"alice"}, nil, true}, // missing key satisfies a negated operator
		{"StringEqualsIgnoreCase", "aws:username", []string{"ALICE"}, ctx("aws:username", "alice"), true},
		{"StringNotEqualsIgnoreCase", "aws:username", []string{"ALICE"}, ctx("aws:username", "alice"), false},
		{"StringLike", "aws:PrincipalArn", []string{"arn:aws:iam::*:user/ops-*"}, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:user/ops-eve"), true},
		{"StringLike", "aws:PrincipalArn", []string{"arn:aws:iam::*:user/ops-?"}, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:user/ops-eve"), false},
		{"StringNotLike", "aws:PrincipalArn", []string{"*:user/ops-*"}, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:user/app"), true},
		{"StringLike", "aws:userid", []string{"${aws:username}*"}, ctx("aws:userid", "alice-1", "aws:username", "alice"), true},
		// ARNs: each part matched separately.
		{"ArnEquals", "aws:PrincipalArn", []string{"arn:aws:iam::123456789012:user/app"}, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:user/app"), true},
		{"ArnLike", "aws:PrincipalArn", []string{"arn:aws:iam::*:user/*"}, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:user/app"), true},
		{"ArnLike", "aws:PrincipalArn", []string{"arn:aws:iam::*:role/*"}, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:user/app"), false},
		{"ArnLike", "aws:PrincipalArn", []string{"arn:aws:*:*:123456789012:user/app"}, ctx("aws:PrincipalArn", "arn:aws:iam::extra:123456789012:user/app"), false}, // * stays within its part
		{"ArnNotEquals", "aws:PrincipalArn", []string{"arn:aws:iam::123456789012:root"}, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:user/app"), true},
		{"ArnNotLike", "aws:PrincipalArn", []string{"arn:aws:iam::*:user/*"}, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:user/app"), false},
		{"ArnLike", "aws:PrincipalArn", []string{"arn:aws:iam::*:user/*"}, ctx("aws:PrincipalArn", "not-an-arn"), false},
		// IP addresses, v4 and v6, CIDR blocks and single addresses.
		{"IpAddress", "aws:SourceIp", []string{"203.0.113.0/24"}, ctx("aws:SourceIp", "203.0.113.9"), true},
		{"IpAddress", "aws:SourceIp", []string{"203.0.113.0/24"}, ctx("aws:SourceIp", "203.0.114.9"), false},
		{"IpAddress", "aws:SourceIp", []string{"203.0.113.7"}, ctx("aws:SourceIp", "203.0.113.7"), true},
		{"IpAddress", "aws:SourceIp", []string{"2001:db8::/32"}, ctx("aws:SourceIp", "2001:db8:1::5"), true},
		{"IpAddress", "aws:SourceIp", []string{"2001:db8::/32"}, ctx("aws:SourceIp", "2001:db9::5"), false},
		{"IpAddress", "aws:SourceIp", []string{"2001:db8::/32"}, ctx("aws:SourceIp", "203.0.113.9"), false},
		{"IpAddress", "aws:SourceIp", []string{"10.0.0.0/8"}, ctx("aws:SourceIp", "::ffff:10.1.1.1"), true}, // IPv4-mapped
		{"IpAddress", "aws:SourceIp", []string{"10.0.0.0/8", "2001:db8::/32"}, ctx("aws:SourceIp", "2001:db8::1"), true},
		{"IpAddress", "aws:SourceIp", []string{"10.0.0.0/8"}, ctx("aws:SourceIp", "bogus"), false},
		{"IpAddress", "aws:SourceIp", []string{"10.0.0.0/8"}, nil, false},
		{"NotIpAddress", "aws:SourceIp", []string{"10.0.0.0/8"}, ctx("aws:SourceIp", "192.0.2.1"), true},
		{"NotIpAddress", "aws:SourceIp", []string{"10.0.0.0/8"}, ctx("aws:SourceIp", "10.0.0.1"), false},
		// Bool on the keys people use.
		{"Bool", "aws:SecureTransport", []string{"true"}, ctx("aws:SecureTransport", "true"), true},
		{"Bool", "aws:SecureTransport", []string{"true"}, ctx("aws:SecureTransport", "false"), false},
		{"Bool", "aws:SecureTransport", []string{"false"}, ctx("aws:SecureTransport", "FALSE"), true},
		{"Bool", "aws:MultiFactorAuthPresent", []string{"true"}, ctx("aws:MultiFactorAuthPresent", "true"), true},
		{"Bool", "aws:MultiFactorAuthPresent", []string{"true"}, nil, false},
		{"Bool", "aws:MultiFactorAuthPresent", []string{"false"}, nil, false},
		{"BoolIfExists", "aws:MultiFactorAuthPresent", []string{"false"}, nil, true},
		{"BoolIfExists", "aws:MultiFactorAuthPresent", []string{"false"}, ctx("aws:MultiFactorAuthPresent", "true"), false},
		// Null.
		{"Null", "aws:MultiFactorAuthPresent", []string{"true"}, nil, true},
		{"Null", "aws:MultiFactorAuthPresent", []string{"true"}, ctx("aws:MultiFactorAuthPresent", "true"), false},
		{"Null", "aws:MultiFactorAuthPresent", []string{"false"}, ctx("aws:MultiFactorAuthPresent", "true"), true},
		{"Null", "aws:MultiFactorAuthPresent", []string{"false"}, nil, false},
		// Numbers.
		{"NumericEquals", "aws:MultiFactorAuthAge", []string{"300"}, ctx("aws:MultiFactorAuthAge", "300"), true},
		{"NumericNotEquals", "aws:MultiFactorAuthAge", []string{"300"}, ctx("aws:MultiFactorAuthAge", "300"), false},
		{"NumericLessThan", "aws:MultiFactorAuthAge", []string{"3600"}, ctx("aws:MultiFactorAuthAge", "60"), true},
		{"NumericLessThan", "aws:MultiFactorAuthAge", []string{"3600"}, ctx("aws:MultiFactorAuthAge", "3600"), false},
		{"NumericLessThanEquals", "aws:MultiFactorAuthAge", []string{"3600"}, ctx("aws:MultiFactorAuthAge", "3600"), true},
		{"NumericGreaterThan", "aws:MultiFactorAuthAge", []string{"3600"}, ctx("aws:MultiFactorAuthAge", "3601"), true},
		{"NumericGreaterThanEquals", "aws:MultiFactorAuthAge", []string{"3600"}, ctx("aws:MultiFactorAuthAge", "3599"), false},
		{"NumericLessThan", "aws:MultiFactorAuthAge", []string{"3600"}, ctx("aws:MultiFactorAuthAge", "soon"), false},
		{"NumericLessThanIfExists", "aws:MultiFactorAuthAge", []string{"3600"}, nil, true},
		// Dates: RFC 3339 and epoch seconds.
		{"DateLessThan", "aws:CurrentTime", []string{"2027-01-01T00:00:00Z"}, ctx("aws:CurrentTime", "2026-12-05T11:00:00Z"), true},
		{"DateLessThan", "aws:CurrentTime", []string{"2026-01-01T00:00:00Z"}, ctx("aws:CurrentTime", "2026-12-05T11:00:00Z"), false},
		{"DateGreaterThan", "aws:CurrentTime", []string{"2026-01-01"}, ctx("aws:CurrentTime", "2026-12-05T11:00:00Z"), true},
		{"DateGreaterThanEquals", "aws:EpochTime", []string{"1700000000"}, ctx("aws:EpochTime", "1700000000"), true},
		{"DateLessThanEquals", "aws:CurrentTime", []string{"2026-12-05T11:00:00Z"}, ctx("aws:CurrentTime", "2026-12-05T12:00:00+01:00"), true},
		{"DateEquals", "aws:CurrentTime", []string{"2026-12-05T11:00:00Z"}, ctx("aws:CurrentTime", "2026-12-05T11:00:00Z"), true},
		{"DateNotEquals", "aws:CurrentTime", []string{"2026-12-05T11:00:00Z"}, ctx("aws:CurrentTime", "2026-12-05T11:00:01Z"), true},
		// IfExists.
		{"StringEqualsIfExists", "aws:RequestedRegion", []string{"eu-west-1"}, nil, true},
		{"StringEqualsIfExists", "aws:RequestedRegion", []string{"eu-west-1"}, ctx("aws:RequestedRegion", "us-east-1"), false},
		{"StringNotEqualsIfExists", "aws:RequestedRegion", []string{"eu-west-1"}, nil, true},
		{"IpAddressIfExists", "aws:SourceIp", []string{"10.0.0.0/8"}, nil, true},
		{"ArnLikeIfExists", "aws:PrincipalArn", []string{"arn:aws:iam::*:user/*"}, ctx("aws:PrincipalArn", "arn:aws:iam::1:role/x"), false},
		// Sets.
		{"ForAnyValue:StringEquals", "aws:TagKeys", []string{"team", "env"}, tags("owner", "env"), true},
		{"ForAnyValue:StringEquals", "aws:TagKeys", []string{"team"}, tags("owner", "env"), false},
		{"ForAnyValue:StringEquals", "aws:TagKeys", []string{"team"}, nil, false},
		{"ForAnyValue:StringNotEquals", "aws:TagKeys", []string{"team"}, tags("team", "env"), true},
		{"ForAllValues:StringEquals", "aws:TagKeys", []string{"team", "env"}, tags("team", "env"), true},
		{"ForAllValues:StringEquals", "aws:TagKeys", []string{"team", "env"}, tags("team", "owner"), false},
		{"ForAllValues:StringEquals", "aws:TagKeys", []string{"team"}, nil, true}, // vacuous
		{"ForAllValues:StringNotLike", "aws:TagKeys", []string{"aws:*"}, tags("team", "env"), true},
		{"ForAnyValue:StringLikeIfExists", "aws:TagKeys", []string{"t*"}, nil, true},
	} {
		c, err := ParseCondition(tc.op, tc.key, tc.values, true)
		if err != nil {
			t.Errorf("ParseCondition(%s, %s, %q): %v", tc.op, tc.key, tc.values, err)
			continue
		}
		if got := c.Holds(tc.ctx); got != tc.want {
			t.Errorf("%s %s %q with %v = %v, want %v", tc.op, tc.key, tc.values, tc.ctx, got, tc.want)
		}
	}
}

// TestParseErrors checks that a malformed document is refused with a
// message naming the statement and element.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{``, "Syntax errors in policy"},
		{`[]`, "Syntax errors in policy"},
		{`{"Version":"2012-10-17","Statement":`, "Syntax errors in policy"},
		{`{"Version":"2013-01-01","Statement":[]}`, "Version: The policy must contain a valid version string"},
		{`{"Version":"2012-10-17"}`, "Missing required field Statement"},
		{`{"Version":"2012-10-17","Statement":[]}`, "Statement: must be an object or a non-empty array"},
		{`{"Version":"2012-10-17","Statements":[]}`, "Unknown field Statements"},
		{`{"Version":"2012-10-17","Statement":{"Action":"*","Resource":"*"}}`, "statement 1: Effect: Missing required field Effect"},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"X","Effect":"Permit","Action":"*","Resource":"*"}]}`, `statement 2 (Sid "X"): Effect: Invalid effect: "Permit"`},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}`, "Action: Policy statement must contain actions"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*"}}`, "Resource: Policy statement must contain resources"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}}`, "may not have both Action and NotAction"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"StopLogging","Resource":"*"}}`, "Action: Actions/Conditions must be prefaced by a vendor"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"cloudtrail:Stop Logging","Resource":"*"}}`, `Action "cloudtrail:Stop Logging" is not`},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}`, "Action: must not be an empty array"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"trail/main"}}`, `Resource: Resource trail/main must be in ARN format or "*"`},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}}`, "Principal: Policy document should not specify a principal"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqual":{"aws:username":"a"}}}}`, `Condition: unknown condition operator "StringEqual"`},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}}`, `"10.0.0.0/33" is not an IP address or CIDR block`},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}}`, `"yes" is not true or false`},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"SecureTransport":"true"}}}}`, "must be prefaced by a vendor"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":{"a":1}}}}}`, "values must be strings, numbers or booleans"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}}`, `"tomorrow" is not a date`},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:logs:*:*:log-group:${*}"}}`, "policy variable ${*} is not supported"},
		{`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]}`, "Statement IDs (SID) in a single policy must be unique"},
	} {
		_, err := Parse([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s) = %v, want an error containing %q", tc.doc, err, tc.want)
		}
	}
}

func TestParseResourcePrincipal(t *testing.T) {
	p, err := ParseResource([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::210987654321:root"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Statements[0].Principal["AWS"]; len(got) != 2 {
		t.Errorf("Principal AWS = %q", got)
	}
	if _, err := ParseResource([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}}`)); err == nil || !strings.Contains(err.Error(), "Missing required field Principal") {
		t.Errorf("ParseResource without Principal: %v", err)
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		fold, want bool
	}{
		{"*", "", false, true},
		{"*", "anything", false, true},
		{"a*c", "abbbc", false, true},
		{"a*c", "abbb", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"a?c", "aéc", false, true}, // ? is one character
		{"*:trail/*", "arn:aws:cloudtrail:us-east-1:1:trail/x", false, true},
		{"CloudTrail:Stop*", "cloudtrail:stoplogging", true, true},
		{"CloudTrail:Stop*", "cloudtrail:stoplogging", false, false},
		{"**a**", "xxa", false, true},
	} {
		if got := Match(tc.pattern, tc.s, tc.fold); got != tc.want {
			t.Errorf("Match(%q, %q, %v) = %v, want %v", tc.pattern, tc.s, tc.fold, got, tc.want)
		}
	}
}
