// Package cis is the CIS AWS Foundations Benchmark monitoring pack: the
// catalogue of monitoring controls with each benchmark version's exact
// metric-filter pattern, a positive and a negative CloudTrail record per
// control, the check that decides whether an existing metric filter
// implements a control, the suppression rules, and the plan that enables,
// inspects, tests and disables the pack through an API the caller
// provides (the command line's HTTP client, or the server in-process).
//
// The package is pure: it talks to nothing but the API it is given.
package cis

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Control is one monitoring control of one benchmark version.
type Control struct {
	// Key names the control across versions (e.g. "console-auth-failures");
	// metric filters and alarms are named after it, so re-enabling with
	// another benchmark version replaces the pattern in place.
	Key string
	// ID is the control's number in this version (3.6 in v1.2.0, 4.6 in
	// v1.4.0–v5.0.0, 5.6 in v6.0.0).
	ID string
	// SecurityHub is the AWS Security Hub control (CloudWatch.6), or ""
	// when there is none (AWS Organizations changes).
	SecurityHub string
	// Title is the control's title in this version.
	Title string
	// Pattern is the filter pattern `enable` installs: the benchmark's
	// text byte for byte, except where that text is defective (Defect
	// says why and which text is installed instead).
	Pattern string
	// BenchmarkText is the version's published text when it differs from
	// Pattern (a defective text), else "".
	BenchmarkText string
	// Defect explains why Pattern is not BenchmarkText.
	Defect string
	// Variants are other texts auditors accept as this control's exact
	// pattern: the Security Hub text, and alternatives the benchmark
	// itself lists (v2.0.0+ no-MFA: the SSO-friendly form).
	Variants []string
	// MetricName is the metric the filter emits (value 1 per matching
	// event) in Namespace.
	MetricName string
}

// Namespace is the CloudWatch namespace of every CIS metric.
const Namespace = "CISBenchmark"

// Alarm settings of every CIS alarm: the Sum of the control's metric over
// 300 seconds, one evaluation period, at least one matching event; with no
// events the alarm is not breaching, so it returns to OK.
const (
	AlarmStatistic        = "Sum"
	AlarmPeriod           = 300
	AlarmEvaluation       = 1
	AlarmThreshold        = 1.0
	AlarmComparison       = "GreaterThanOrEqualToThreshold"
	AlarmTreatMissingData = "notBreaching"
)

// Benchmark is one version of the CIS AWS Foundations Benchmark.
type Benchmark struct {
	Version  string // "v3.0.0"
	Controls []Control
}

// Versions are the benchmark versions in the catalogue, oldest first.
var Versions = []string{"v1.2.0", "v1.4.0", "v1.5.0", "v2.0.0", "v3.0.0", "v4.0.0", "v5.0.0", "v6.0.0"}

// DefaultVersion is the version `cis enable` installs without --benchmark:
// the newest in the catalogue.
const DefaultVersion = "v6.0.0"

// NormalizeVersion accepts "v1.2", "v1.2.0", "1.2", "1.2.0" (and "V3")
// and returns the catalogue's spelling, or an error listing the versions.
func NormalizeVersion(s string) (string, error) {
	v := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "v"), "V")
	parts := strings.Split(v, ".")
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	norm := "v" + strings.Join(parts, ".")
	if slices.Contains(Versions, norm) {
		return norm, nil
	}
	return "", fmt.Errorf("unknown CIS benchmark version %q; choose one of %s", s, strings.Join(Versions, ", "))
}

// Lookup returns the benchmark of version (any spelling NormalizeVersion
// accepts).
func Lookup(version string) (Benchmark, error) {
	v, err := NormalizeVersion(version)
	if err != nil {
		return Benchmark{}, err
	}
	b := Benchmark{Version: v}
	for _, t := range topics {
		if c, ok := t.control(v); ok {
			b.Controls = append(b.Controls, c)
		}
	}
	return b, nil
}

// Find returns the control named by ref: its ID in this version ("4.6"),
// its Security Hub id ("CloudWatch.6", any case) or its Key.
func (b Benchmark) Find(ref string) (Control, bool) {
	for _, c := range b.Controls {
		if c.ID == ref || c.Key == ref || (c.SecurityHub != "" && strings.EqualFold(c.SecurityHub, ref)) {
			return c, true
		}
	}
	return Control{}, false
}

// Refs lists the controls' IDs, for error messages.
func (b Benchmark) Refs() string {
	ids := make([]string, len(b.Controls))
	for i, c := range b.Controls {
		ids[i] = c.ID
	}
	return strings.Join(ids, ", ")
}

// era is which group of benchmark versions a text belongs to.
func era(v string) int {
	switch v {
	case "v1.2.0":
		return 12
	case "v1.4.0", "v1.5.0":
		return 14
	case "v2.0.0", "v3.0.0", "v4.0.0":
		return 20
	case "v5.0.0":
		return 50
	}
	return 60
}

// topic is one monitoring control across versions.
type topic struct {
	key, securityHub, metric string
	num                      int    // the number after "3." / "4." / "5."
	since                    string // first version with the control
	oldTitle, newTitle       string // titles up to v1.5.0, and from v2.0.0
	pattern                  func(v string) string
	benchmark                func(v string) (text, defect string) // a defective published text
	variants                 func(v string) []string
}

func (t topic) control(v string) (Control, bool) {
	if slices.Index(Versions, v) < slices.Index(Versions, t.since) {
		return Control{}, false
	}
	section := "4"
	switch era(v) {
	case 12:
		section = "3"
	case 60:
		section = "5"
	}
	title := t.newTitle
	if era(v) < 20 {
		title = t.oldTitle
	}
	c := Control{
		Key: t.key, ID: fmt.Sprintf("%s.%d", section, t.num), SecurityHub: t.securityHub,
		Title: title, Pattern: t.pattern(v), MetricName: t.metric,
	}
	if t.benchmark != nil {
		c.BenchmarkText, c.Defect = t.benchmark(v)
	}
	if t.variants != nil {
		c.Variants = t.variants(v)
	}
	if sh := securityHubText[t.securityHub]; sh != "" && sh != c.Pattern && !slices.Contains(c.Variants, sh) {
		c.Variants = append(c.Variants, sh)
	}
	return c, true
}

func same(s string) func(string) string { return func(string) string { return s } }

// Security Hub's texts (AWS Security Hub user guide, cloudwatch-controls),
// accepted as exact: Security Hub's own check compares against these.
var securityHubText = map[string]string{
	"CloudWatch.1":  `{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}`,
	"CloudWatch.2":  `{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}`,
	"CloudWatch.3":  noMFASSO,
	"CloudWatch.4":  `{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || ($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || ($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}`,
	"CloudWatch.5":  `{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || ($.eventName=StartLogging) || ($.eventName=StopLogging)}`,
	"CloudWatch.6":  `{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}`,
	"CloudWatch.7":  `{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}`,
	"CloudWatch.8":  `{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || ($.eventName=PutBucketPolicy) || ($.eventName=PutBucketCors) || ($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || ($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || ($.eventName=DeleteBucketLifecycle) || ($.eventName=DeleteBucketReplication))}`,
	"CloudWatch.9":  `{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || ($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || ($.eventName=PutConfigurationRecorder))}`,
	"CloudWatch.10": `{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || ($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || ($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}`,
	"CloudWatch.11": `{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || ($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || ($.eventName=ReplaceNetworkAclAssociation)}`,
	"CloudWatch.12": `{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || ($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || ($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}`,
	"CloudWatch.13": `{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || ($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || ($.eventName=DisassociateRouteTable)}`,
	"CloudWatch.14": `{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || ($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || ($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || ($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || ($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}`,
}

// The benchmark texts (CIS AWS Foundations Benchmark PDFs as transcribed
// in detection.md §2.2; see docs/cis.md).
const (
	unauthorizedV12 = `{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }`
	unauthorizedV14 = `{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") || ($.sourceIPAddress!="delivery.logs.amazonaws.com") || ($.eventName!="HeadBucket") }`
	unauthorizedV20 = `{ ($.errorCode ="*UnauthorizedOperation") || ($.errorCode ="AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }`

	noMFAV12 = `{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }`
	noMFAV14 = `{($.eventName="ConsoleLogin") && ($.additionalEventData.MFAUsed !="Yes")}`
	noMFASSO = `{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }`

	rootText      = `{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }`
	rootTypoV14   = `{ $.userIdentity.type = "Root" && $.userIdentity.invokedByNOT EXISTS && $.eventType != "AwsServiceEvent" }`
	iamText       = `{($.eventName=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)||($.eventName=DeleteUserPolicy)||($.eventName=PutGroupPolicy)||($.eventName=PutRolePolicy)||($.eventName=PutUserPolicy)||($.eventName=CreatePolicy)||($.eventName=DeletePolicy)||($.eventName=CreatePolicyVersion)||($.eventName=DeletePolicyVersion)||($.eventName=AttachRolePolicy)||($.eventName=DetachRolePolicy)||($.eventName=AttachUserPolicy)||($.eventName=DetachUserPolicy)||($.eventName=AttachGroupPolicy)||($.eventName=DetachGroupPolicy)}`
	trailText     = `{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) }`
	authFailText  = `{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }`
	cmkText       = `{($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion)) }`
	s3Text        = `{ ($.eventSource = s3.amazonaws.com) && (($.eventName = PutBucketAcl) || ($.eventName = PutBucketPolicy) || ($.eventName = PutBucketCors) || ($.eventName = PutBucketLifecycle) || ($.eventName = PutBucketReplication) || ($.eventName = DeleteBucketPolicy) || ($.eventName = DeleteBucketCors) || ($.eventName = DeleteBucketLifecycle) || ($.eventName = DeleteBucketReplication)) }`
	configText    = `{ ($.eventSource = config.amazonaws.com) && (($.eventName=StopConfigurationRecorder)||($.eventName=DeleteDeliveryChannel) ||($.eventName=PutDeliveryChannel)||($.eventName=PutConfigurationRecorder)) }`
	sgText        = `{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }`
	sgTextV50     = `{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) || ($.eventName = ModifySecurityGroupRules) }`
	naclText      = `{ ($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || ($.eventName = DeleteNetworkAcl) || ($.eventName = DeleteNetworkAclEntry) || ($.eventName = ReplaceNetworkAclEntry) || ($.eventName = ReplaceNetworkAclAssociation) }`
	gatewayText   = `{ ($.eventName = CreateCustomerGateway) || ($.eventName = DeleteCustomerGateway) || ($.eventName = AttachInternetGateway) || ($.eventName = CreateInternetGateway) || ($.eventName = DeleteInternetGateway) || ($.eventName = DetachInternetGateway) }`
	routeText     = `{ ($.eventName = CreateRoute) || ($.eventName = CreateRouteTable) || ($.eventName = ReplaceRoute) || ($.eventName = ReplaceRouteTableAssociation) || ($.eventName = DeleteRouteTable) || ($.eventName = DeleteRoute) || ($.eventName = DisassociateRouteTable) }`
	vpcText       = `{ ($.eventName = CreateVpc) || ($.eventName = DeleteVpc) || ($.eventName = ModifyVpcAttribute) || ($.eventName = AcceptVpcPeeringConnection) || ($.eventName = CreateVpcPeeringConnection) || ($.eventName = DeleteVpcPeeringConnection) || ($.eventName = RejectVpcPeeringConnection) || ($.eventName = AttachClassicLinkVpc) || ($.eventName = DetachClassicLinkVpc) || ($.eventName = DisableVpcClassicLink) || ($.eventName = EnableVpcClassicLink) }`
	orgsText      = `{ ($.eventSource = organizations.amazonaws.com) && (($.eventName = "AcceptHandshake") || ($.eventName = "AttachPolicy") || ($.eventName = "CreateAccount") || ($.eventName = "CreateOrganizationalUnit") || ($.eventName = "CreatePolicy") || ($.eventName = "DeclineHandshake") || ($.eventName = "DeleteOrganization") || ($.eventName = "DeleteOrganizationalUnit") || ($.eventName = "DeletePolicy") || ($.eventName = "DetachPolicy") || ($.eventName = "DisablePolicyType") || ($.eventName = "EnablePolicyType") || ($.eventName = "InviteAccountToOrganization") || ($.eventName = "LeaveOrganization") || ($.eventName = "MoveAccount") || ($.eventName = "RemoveAccountFromOrganization") || ($.eventName = "UpdatePolicy") || ($.eventName = "UpdateOrganizationalUnit")) }`
	titleOld      = "Ensure a log metric filter and alarm exist for "
	titleNewStart = "Ensure "
)

var topics = []topic{
	{
		key: "unauthorized-api-calls", securityHub: "CloudWatch.2", metric: "UnauthorizedAPICalls", num: 1, since: "v1.2.0",
		oldTitle: titleOld + "unauthorized API calls", newTitle: titleNewStart + "unauthorized API calls are monitored",
		pattern: func(v string) string {
			if era(v) >= 20 {
				return unauthorizedV20
			}
			return unauthorizedV12
		},
		benchmark: func(v string) (string, string) {
			if era(v) == 14 {
				return unauthorizedV14, "the benchmark's remediation text joins the two exclusions with ||, so it matches almost every event; " +
					"its audit text shows the two-clause form of v1.2.0, which is installed"
			}
			return "", ""
		},
	},
	{
		key: "console-signin-without-mfa", securityHub: "CloudWatch.3", metric: "ConsoleSigninWithoutMFA", num: 2, since: "v1.2.0",
		oldTitle: titleOld + "Management Console sign-in without MFA", newTitle: titleNewStart + "management console sign-in without MFA is monitored",
		pattern: func(v string) string {
			if era(v) == 14 {
				return noMFAV14
			}
			return noMFAV12
		},
		variants: func(v string) []string {
			if era(v) >= 20 {
				return []string{noMFASSO}
			}
			return nil
		},
	},
	{
		key: "root-account-usage", securityHub: "CloudWatch.1", metric: "RootAccountUsage", num: 3, since: "v1.2.0",
		oldTitle: titleOld + "usage of \"root\" account", newTitle: titleNewStart + "usage of the \"root\" account is monitored",
		pattern: same(rootText),
		benchmark: func(v string) (string, string) {
			if era(v) == 14 {
				return rootTypoV14, "the benchmark's text has the typo \"invokedByNOT EXISTS\", which is not a valid pattern; " +
					"the text of every other version is installed"
			}
			return "", ""
		},
	},
	{
		key: "iam-policy-changes", securityHub: "CloudWatch.4", metric: "IAMPolicyChanges", num: 4, since: "v1.2.0",
		oldTitle: titleOld + "IAM policy changes", newTitle: titleNewStart + "IAM policy changes are monitored",
		pattern: same(iamText),
	},
	{
		key: "cloudtrail-config-changes", securityHub: "CloudWatch.5", metric: "CloudTrailConfigChanges", num: 5, since: "v1.2.0",
		oldTitle: titleOld + "CloudTrail configuration changes", newTitle: titleNewStart + "CloudTrail configuration changes are monitored",
		pattern: same(trailText),
	},
	{
		key: "console-auth-failures", securityHub: "CloudWatch.6", metric: "ConsoleAuthenticationFailures", num: 6, since: "v1.2.0",
		oldTitle: titleOld + "AWS Management Console authentication failures", newTitle: titleNewStart + "AWS Management Console authentication failures are monitored",
		pattern: same(authFailText),
	},
	{
		key: "cmk-disable-or-deletion", securityHub: "CloudWatch.7", metric: "CMKDisableOrScheduledDeletion", num: 7, since: "v1.2.0",
		oldTitle: titleOld + "disabling or scheduled deletion of customer created CMKs", newTitle: titleNewStart + "disabling or scheduled deletion of customer created CMKs is monitored",
		pattern: same(cmkText),
	},
	{
		key: "s3-bucket-policy-changes", securityHub: "CloudWatch.8", metric: "S3BucketPolicyChanges", num: 8, since: "v1.2.0",
		oldTitle: titleOld + "S3 bucket policy changes", newTitle: titleNewStart + "S3 bucket policy changes are monitored",
		pattern: same(s3Text),
	},
	{
		key: "config-changes", securityHub: "CloudWatch.9", metric: "AWSConfigChanges", num: 9, since: "v1.2.0",
		oldTitle: titleOld + "AWS Config configuration changes", newTitle: titleNewStart + "AWS Config configuration changes are monitored",
		pattern: same(configText),
	},
	{
		key: "security-group-changes", securityHub: "CloudWatch.10", metric: "SecurityGroupChanges", num: 10, since: "v1.2.0",
		oldTitle: titleOld + "security group changes", newTitle: titleNewStart + "security group changes are monitored",
		pattern: func(v string) string {
			if era(v) >= 50 {
				return sgTextV50
			}
			return sgText
		},
	},
	{
		key: "nacl-changes", securityHub: "CloudWatch.11", metric: "NACLChanges", num: 11, since: "v1.2.0",
		oldTitle: titleOld + "changes to Network Access Control Lists (NACL)", newTitle: titleNewStart + "Network Access Control Lists (NACL) changes are monitored",
		pattern: same(naclText),
	},
	{
		key: "network-gateway-changes", securityHub: "CloudWatch.12", metric: "NetworkGatewayChanges", num: 12, since: "v1.2.0",
		oldTitle: titleOld + "changes to network gateways", newTitle: titleNewStart + "changes to network gateways are monitored",
		pattern: same(gatewayText),
	},
	{
		key: "route-table-changes", securityHub: "CloudWatch.13", metric: "RouteTableChanges", num: 13, since: "v1.2.0",
		oldTitle: titleOld + "route table changes", newTitle: titleNewStart + "route table changes are monitored",
		pattern: same(routeText),
	},
	{
		key: "vpc-changes", securityHub: "CloudWatch.14", metric: "VPCChanges", num: 14, since: "v1.2.0",
		oldTitle: titleOld + "VPC changes", newTitle: titleNewStart + "VPC changes are monitored",
		pattern: same(vpcText),
	},
	{
		key: "organizations-changes", metric: "OrganizationsChanges", num: 15, since: "v1.4.0",
		oldTitle: titleOld + "AWS Organizations changes", newTitle: titleNewStart + "AWS Organizations changes are monitored",
		pattern: same(orgsText),
	},
}

// Accepted reports whether text is one of the control's exact texts: the
// installed pattern, the published text or an accepted variant.
func (c Control) Accepted(text string) bool {
	return text == c.Pattern || (c.BenchmarkText != "" && text == c.BenchmarkText) || slices.Contains(c.Variants, text)
}

// eventFieldRE matches a pattern's equality tests on eventName and
// eventSource (not their negations): `$.eventName = CreateTrail`,
// `($.eventName="ConsoleLogin")`.
var eventFieldRE = regexp.MustCompile(`\$\.(eventName|eventSource)\s*=\s*"?([A-Za-z0-9.*_-]+)"?`)

// EventNames are the event names and sources the control's pattern tests
// for equality, in the pattern's order without repeats: what a dashboard
// counts as the control's events (the IAM policy changes, the KMS key
// events). A pattern that tests no event name (root usage, unauthorised
// calls) gives none.
func (c Control) EventNames() (sources, names []string) {
	for _, m := range eventFieldRE.FindAllStringSubmatch(c.Pattern, -1) {
		if m[1] == "eventSource" {
			if !slices.Contains(sources, m[2]) {
				sources = append(sources, m[2])
			}
		} else if !slices.Contains(names, m[2]) {
			names = append(names, m[2])
		}
	}
	return sources, names
}
