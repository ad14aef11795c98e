package iampolicy_test

import (
	"fmt"

	"github.com/opentrail/opentrail/internal/iampolicy"
)

// An application's policy: write events, read its own trail, and never
// from outside the office network.
func ExampleEvaluate() {
	p, err := iampolicy.Parse([]byte(`{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Sid": "Read", "Effect": "Allow", "Action": ["cloudtrail:Get*", "cloudtrail:Describe*"],
	     "Resource": "arn:aws:cloudtrail:*:123456789012:trail/app-*"},
	    {"Sid": "Office", "Effect": "Deny", "Action": "*", "Resource": "*",
	     "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}}}
	  ]
	}`))
	if err != nil {
		panic(err)
	}
	p.Name = "app"
	office := map[string][]string{"aws:SourceIp": {"203.0.113.7"}}
	home := map[string][]string{"aws:SourceIp": {"198.51.100.1"}}
	for _, r := range []iampolicy.Request{
		{Action: "cloudtrail:GetTrail", Resource: "arn:aws:cloudtrail:us-east-1:123456789012:trail/app-main", Context: office},
		{Action: "cloudtrail:GetTrail", Resource: "arn:aws:cloudtrail:us-east-1:123456789012:trail/app-main", Context: home},
		{Action: "cloudtrail:StopLogging", Resource: "arn:aws:cloudtrail:us-east-1:123456789012:trail/app-main", Context: office},
	} {
		d := iampolicy.Evaluate([]*iampolicy.Policy{p}, r)
		fmt.Printf("%s from %s: %v %s\n", r.Action, r.Context["aws:SourceIp"][0], d.Effect, d.Sid)
	}
	// Output:
	// cloudtrail:GetTrail from 203.0.113.7: Allow Read
	// cloudtrail:GetTrail from 198.51.100.1: ExplicitDeny Office
	// cloudtrail:StopLogging from 203.0.113.7: ImplicitDeny
}

// The built-in trail-protector allows everything but tampering with
// trails.
func ExampleBuiltin() {
	p, _ := iampolicy.Builtin("trail-protector")
	for _, action := range []string{"cloudtrail:CreateTrail", "cloudtrail:StopLogging"} {
		d := p.Evaluate(iampolicy.Request{Action: action, Resource: "arn:aws:cloudtrail:us-east-1:123456789012:trail/main"})
		fmt.Println(action, d.Effect, d.Sid)
	}
	fmt.Println(iampolicy.BuiltinNames())
	// Output:
	// cloudtrail:CreateTrail Allow AllowEverything
	// cloudtrail:StopLogging ExplicitDeny ProtectTrails
	// [administrator ingest-only protect-trails read-only trail-protector]
}

// A malformed document is refused with the statement and element named.
func ExampleParse() {
	_, err := iampolicy.Parse([]byte(`{"Version": "2012-10-17", "Statement": [
	  {"Sid": "Stop", "Effect": "Allow", "Action": "StopLogging", "Resource": "*"}]}`))
	fmt.Println(err)
	// Output:
	// malformed policy document: statement 1 (Sid "Stop"): Action: Actions/Conditions must be prefaced by a vendor, e.g., cloudtrail, logs, s3: "StopLogging"
}

// Conditions can be compiled on their own, for a caller with its own
// statement model.
func ExampleParseCondition() {
	c, _ := iampolicy.ParseCondition("BoolIfExists", "aws:MultiFactorAuthPresent", []string{"false"}, false)
	fmt.Println(c.Holds(nil), c.Holds(map[string][]string{"aws:MultiFactorAuthPresent": {"true"}}))
	// Output:
	// true false
}
