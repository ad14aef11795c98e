package iampolicy

import (
	"sort"
	"strings"
)

// The built-in policies, by name. Their documents are reproduced in
// docs/authorization.md (a test keeps them the same).
var builtinDocs = map[string]string{
	// administrator may do everything.
	"administrator": `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AllowEverything",
      "Effect": "Allow",
      "Action": "*",
      "Resource": "*"
    }
  ]
}`,
	// read-only is an auditor's: every read of every service opentrail
	// speaks, queries included, nothing that changes state.
	"read-only": `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "ReadEverything",
      "Effect": "Allow",
      "Action": [
        "cloudtrail:Describe*",
        "cloudtrail:Get*",
        "cloudtrail:List*",
        "cloudtrail:LookupEvents",
        "cloudtrail:StartQuery",
        "cloudtrail:CancelQuery",
        "logs:Describe*",
        "logs:Get*",
        "logs:List*",
        "logs:FilterLogEvents",
        "logs:StartQuery",
        "logs:StopQuery",
        "logs:TestMetricFilter",
        "cloudwatch:Describe*",
        "cloudwatch:Get*",
        "cloudwatch:List*",
        "sns:Get*",
        "sns:List*",
        "events:Describe*",
        "events:List*",
        "events:TestEventPattern",
        "s3:Get*",
        "s3:List*",
        "sts:GetCallerIdentity",
        "opentrail:Get*",
        "opentrail:List*",
        "opentrail:Lookup*"
      ],
      "Resource": "*"
    }
  ]
}`,
	// ingest-only writes events and nothing else (capture gateways and
	// middleware record calls with it too).
	"ingest-only": `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "WriteEvents",
      "Effect": "Allow",
      "Action": [
        "cloudtrail-data:PutAuditEvents",
        "opentrail:PutEvents",
        "opentrail:PutCaptureIntents",
        "opentrail:RenewCaptureIntents",
        "opentrail:CompleteCaptureRecords"
      ],
      "Resource": "*"
    }
  ]
}`,
	// trail-protector may do everything but stop, delete or re-point
	// what records activity, or destroy what was recorded.
	"trail-protector": protectingPolicy("AllowEverything"),
	// protect-trails is the guard rail form of trail-protector: as a
	// service control policy it must allow what it does not deny, or it
	// would block everything in the member accounts.
	"protect-trails": protectingPolicy("FullAccess"),
}

// protectedActions are what trail-protector and protect-trails deny.
var protectedActions = []string{
	"cloudtrail:StopLogging",
	"cloudtrail:DeleteTrail",
	"cloudtrail:UpdateTrail",
	"cloudtrail:PutEventSelectors",
	"cloudtrail:PutInsightSelectors",
	"cloudtrail:DeleteEventDataStore",
	"cloudtrail:UpdateEventDataStore",
	"cloudtrail:StopEventDataStoreIngestion",
	"logs:DeleteLogGroup",
	"logs:DeleteLogStream",
	"logs:PutRetentionPolicy",
	"logs:DeleteSubscriptionFilter",
}

// protectingPolicy is the document that allows everything (in a
// statement of that Sid) but the protected actions.
func protectingPolicy(allowSid string) string {
	return `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "` + allowSid + `",
      "Effect": "Allow",
      "Action": "*",
      "Resource": "*"
    },
    {
      "Sid": "ProtectTrails",
      "Effect": "Deny",
      "Action": [
        "` + strings.Join(protectedActions, "\",\n        \"") + `"
      ],
      "Resource": "*"
    }
  ]
}`
}

var builtins = func() map[string]*Policy {
	m := make(map[string]*Policy, len(builtinDocs))
	for name, doc := range builtinDocs {
		p, err := Parse([]byte(doc))
		if err != nil {
			panic("iampolicy: built-in " + name + ": " + err.Error())
		}
		p.Name = name
		m[name] = p
	}
	return m
}()

// Builtin returns the built-in policy of that name: "administrator",
// "read-only", "ingest-only", "trail-protector", or the guard rail
// "protect-trails". The policy is shared: do not modify it.
func Builtin(name string) (*Policy, bool) {
	p, ok := builtins[name]
	return p, ok
}

// BuiltinNames returns the built-in policies' names, sorted.
func BuiltinNames() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// BuiltinDocument returns the JSON document of a built-in policy.
func BuiltinDocument(name string) (string, bool) {
	d, ok := builtinDocs[name]
	return d, ok
}

// IsBuiltin reports whether name is a built-in policy's name.
func IsBuiltin(name string) bool {
	_, ok := builtins[name]
	return ok
}
