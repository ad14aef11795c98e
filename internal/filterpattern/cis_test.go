package filterpattern

import (
	"encoding/json"
	"testing"
)

// cisV3 are the CIS AWS Foundations Benchmark v3.0.0 monitoring filters
// (4.1–4.15), as the benchmark text spells them.
var cisV3 = map[string]string{
	"4.1":  `{ ($.errorCode ="*UnauthorizedOperation") || ($.errorCode ="AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }`,
	"4.2":  `{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }`,
	"4.3":  `{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }`,
	"4.4":  `{($.eventName=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)||($.eventName=DeleteUserPolicy)||($.eventName=PutGroupPolicy)||($.eventName=PutRolePolicy)||($.eventName=PutUserPolicy)||($.eventName=CreatePolicy)||($.eventName=DeletePolicy)||($.eventName=CreatePolicyVersion)||($.eventName=DeletePolicyVersion)||($.eventName=AttachRolePolicy)||($.eventName=DetachRolePolicy)||($.eventName=AttachUserPolicy)||($.eventName=DetachUserPolicy)||($.eventName=AttachGroupPolicy)||($.eventName=DetachGroupPolicy)}`,
	"4.5":  `{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) }`,
	"4.6":  `{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }`,
	"4.7":  `{($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion)) }`,
	"4.8":  `{ ($.eventSource = s3.amazonaws.com) && (($.eventName = PutBucketAcl) || ($.eventName = PutBucketPolicy) || ($.eventName = PutBucketCors) || ($.eventName = PutBucketLifecycle) || ($.eventName = PutBucketReplication) || ($.eventName = DeleteBucketPolicy) || ($.eventName = DeleteBucketCors) || ($.eventName = DeleteBucketLifecycle) || ($.eventName = DeleteBucketReplication)) }`,
	"4.9":  `{ ($.eventSource = config.amazonaws.com) && (($.eventName=StopConfigurationRecorder)||($.eventName=DeleteDeliveryChannel) ||($.eventName=PutDeliveryChannel)||($.eventName=PutConfigurationRecorder)) }`,
	"4.10": `{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }`,
	"4.11": `{ ($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || ($.eventName = DeleteNetworkAcl) || ($.eventName = DeleteNetworkAclEntry) || ($.eventName = ReplaceNetworkAclEntry) || ($.eventName = ReplaceNetworkAclAssociation) }`,
	"4.12": `{ ($.eventName = CreateCustomerGateway) || ($.eventName = DeleteCustomerGateway) || ($.eventName = AttachInternetGateway) || ($.eventName = CreateInternetGateway) || ($.eventName = DeleteInternetGateway) || ($.eventName = DetachInternetGateway) }`,
	"4.13": `{ ($.eventName = CreateRoute) || ($.eventName = CreateRouteTable) || ($.eventName = ReplaceRoute) || ($.eventName = ReplaceRouteTableAssociation) || ($.eventName = DeleteRouteTable) || ($.eventName = DeleteRoute) || ($.eventName = DisassociateRouteTable) }`,
	"4.14": `{ ($.eventName = CreateVpc) || ($.eventName = DeleteVpc) || ($.eventName = ModifyVpcAttribute) || ($.eventName = AcceptVpcPeeringConnection) || ($.eventName = CreateVpcPeeringConnection) || ($.eventName = DeleteVpcPeeringConnection) || ($.eventName = RejectVpcPeeringConnection) || ($.eventName = AttachClassicLinkVpc) || ($.eventName = DetachClassicLinkVpc) || ($.eventName = DisableVpcClassicLink) || ($.eventName = EnableVpcClassicLink) }`,
	"4.15": `{ ($.eventSource = organizations.amazonaws.com) && (($.eventName = "AcceptHandshake") || ($.eventName = "AttachPolicy") || ($.eventName = "CreateAccount") || ($.eventName = "CreateOrganizationalUnit") || ($.eventName = "CreatePolicy") || ($.eventName = "DeclineHandshake") || ($.eventName = "DeleteOrganization") || ($.eventName = "DeleteOrganizationalUnit") || ($.eventName = "DeletePolicy") || ($.eventName = "DetachPolicy") || ($.eventName = "DisablePolicyType") || ($.eventName = "EnablePolicyType") || ($.eventName = "InviteAccountToOrganization") || ($.eventName = "LeaveOrganization") || ($.eventName = "MoveAccount") || ($.eventName = "RemoveAccountFromOrganization") || ($.eventName = "UpdatePolicy") || ($.eventName = "UpdateOrganizationalUnit")) }`,
}

// securityHub are the CloudWatch.1–14 filters of the Security Hub user
// guide, spelled as it spells them.
var securityHub = []string{
	`{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}`,
	`{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}`,
	`{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }`,
	`{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || ($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || ($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}`,
	`{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || ($.eventName=StartLogging) || ($.eventName=StopLogging)}`,
	`{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}`,
	`{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}`,
	`{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || ($.eventName=PutBucketPolicy) || ($.eventName=PutBucketCors) || ($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || ($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || ($.eventName=DeleteBucketLifecycle) || ($.eventName=DeleteBucketReplication))}`,
	`{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || ($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || ($.eventName=PutConfigurationRecorder))}`,
	`{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || ($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || ($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}`,
	`{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || ($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || ($.eventName=ReplaceNetworkAclAssociation)}`,
	`{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || ($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || ($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}`,
	`{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || ($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || ($.eventName=DisassociateRouteTable)}`,
	`{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || ($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || ($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || ($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || ($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}`,
}

// baseRecord is a realistic CloudTrail management event; record replaces
// or adds top-level members (a nil value removes one).
const baseRecord = `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE","userName":"alice"},"eventTime":"2024-05-01T12:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.10","userAgent":"aws-cli/2.15.0","requestParameters":{"instancesSet":{}},"responseElements":null,"requestID":"1c3f8a","eventID":"9d2e4b","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`

func record(t testing.TB, over map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(baseRecord), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCISPatterns(t *testing.T) {
	root := map[string]any{"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"}
	iamUser := map[string]any{"type": "IAMUser", "userName": "alice", "arn": "arn:aws:iam::111122223333:user/alice"}
	cases := []struct {
		control string
		rec     map[string]any
		want    bool
	}{
		// 4.1, v2.0+: && binds tighter than ||.
		{"4.1", map[string]any{"errorCode": "Client.UnauthorizedOperation"}, true},
		{"4.1", map[string]any{"errorCode": "Client.UnauthorizedOperation", "sourceIPAddress": "delivery.logs.amazonaws.com"}, true},
		{"4.1", map[string]any{"errorCode": "AccessDenied"}, true},
		{"4.1", map[string]any{"errorCode": "AccessDeniedException", "eventName": "GetObject"}, true},
		{"4.1", map[string]any{"errorCode": "AccessDenied", "sourceIPAddress": "delivery.logs.amazonaws.com"}, false},
		{"4.1", map[string]any{"errorCode": "AccessDenied", "eventName": "HeadBucket"}, false},
		{"4.1", map[string]any{"errorCode": "ThrottlingException"}, false},
		{"4.1", map[string]any{}, false},
		{"4.2", map[string]any{"eventName": "ConsoleLogin", "additionalEventData": map[string]any{"MFAUsed": "No"}}, true},
		{"4.2", map[string]any{"eventName": "ConsoleLogin", "additionalEventData": map[string]any{"MFAUsed": "Yes"}}, false},
		// != on a missing key is false, as AWS has it.
		{"4.2", map[string]any{"eventName": "ConsoleLogin"}, false},
		{"4.3", map[string]any{"userIdentity": root}, true},
		{"4.3", map[string]any{"userIdentity": map[string]any{"type": "Root", "invokedBy": "support.amazonaws.com"}}, false},
		{"4.3", map[string]any{"userIdentity": root, "eventType": "AwsServiceEvent"}, false},
		{"4.3", map[string]any{"userIdentity": root, "eventType": nil}, false},
		{"4.3", map[string]any{"userIdentity": iamUser}, false},
		{"4.4", map[string]any{"eventName": "PutUserPolicy", "eventSource": "iam.amazonaws.com"}, true},
		{"4.4", map[string]any{"eventName": "ListPolicies"}, false},
		{"4.5", map[string]any{"eventName": "StopLogging"}, true},
		{"4.5", map[string]any{"eventName": "StopLoggingX"}, false},
		{"4.6", map[string]any{"eventName": "ConsoleLogin", "errorMessage": "Failed authentication"}, true},
		{"4.6", map[string]any{"eventName": "ConsoleLogin"}, false},
		{"4.7", map[string]any{"eventSource": "kms.amazonaws.com", "eventName": "ScheduleKeyDeletion"}, true},
		{"4.7", map[string]any{"eventSource": "kms.amazonaws.com", "eventName": "Decrypt"}, false},
		{"4.7", map[string]any{"eventSource": "ec2.amazonaws.com", "eventName": "DisableKey"}, false},
		{"4.8", map[string]any{"eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy"}, true},
		{"4.8", map[string]any{"eventSource": "s3.amazonaws.com", "eventName": "GetBucketPolicy"}, false},
		{"4.9", map[string]any{"eventSource": "config.amazonaws.com", "eventName": "StopConfigurationRecorder"}, true},
		{"4.10", map[string]any{"eventName": "AuthorizeSecurityGroupIngress"}, true},
		{"4.11", map[string]any{"eventName": "ReplaceNetworkAclAssociation"}, true},
		{"4.12", map[string]any{"eventName": "AttachInternetGateway"}, true},
		{"4.13", map[string]any{"eventName": "DisassociateRouteTable"}, true},
		{"4.14", map[string]any{"eventName": "EnableVpcClassicLink"}, true},
		{"4.14", map[string]any{"eventName": "DescribeVpcs"}, false},
		{"4.15", map[string]any{"eventSource": "organizations.amazonaws.com", "eventName": "LeaveOrganization"}, true},
		{"4.15", map[string]any{"eventSource": "iam.amazonaws.com", "eventName": "CreatePolicy"}, false},
	}
	compiled := map[string]*Pattern{}
	for id, text := range cisV3 {
		p, err := Compile(text)
		if err != nil {
			t.Fatalf("CIS %s: %v", id, err)
		}
		compiled[id] = p
	}
	for _, c := range cases {
		msg := record(t, c.rec)
		if got := compiled[c.control].Match(msg); got != c.want {
			t.Errorf("CIS %s on %s: got %v, want %v", c.control, msg, got, c.want)
		}
	}
	for i, text := range securityHub {
		if _, err := Compile(text); err != nil {
			t.Errorf("CloudWatch.%d: %v", i+1, err)
		}
	}
	// CloudWatch.3 needs the SSO-friendly clauses.
	p := MustCompile(securityHub[2])
	ok := record(t, map[string]any{"eventName": "ConsoleLogin", "userIdentity": iamUser, "additionalEventData": map[string]any{"MFAUsed": "No"}, "responseElements": map[string]any{"ConsoleLogin": "Success"}})
	failed := record(t, map[string]any{"eventName": "ConsoleLogin", "userIdentity": iamUser, "additionalEventData": map[string]any{"MFAUsed": "No"}, "responseElements": map[string]any{"ConsoleLogin": "Failure"}})
	if !p.Match(ok) || p.Match(failed) {
		t.Errorf("CloudWatch.3: success %v failure %v", p.Match(ok), p.Match(failed))
	}
}

// TestUnauthorizedVariants: the same event under the benchmark's
// spellings of the unauthorized-calls filter.
func TestUnauthorizedVariants(t *testing.T) {
	v12 := MustCompile(`{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }`)
	v14 := MustCompile(`{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") || ($.sourceIPAddress!="delivery.logs.amazonaws.com") || ($.eventName!="HeadBucket") }`)
	v20 := MustCompile(cisV3["4.1"])
	tf := MustCompile(`{(($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*")) && (($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket"))}`)
	plain := record(t, nil)
	if v12.Match(plain) || !v14.Match(plain) || v20.Match(plain) || tf.Match(plain) {
		t.Error("a call without an error: only the v1.4 remediation text (all ||) matches it")
	}
	// Unauthorized from delivery.logs: v2.0's precedence keeps it, the
	// Terraform rewrite drops it.
	ua := record(t, map[string]any{"errorCode": "Client.UnauthorizedOperation", "sourceIPAddress": "delivery.logs.amazonaws.com"})
	if !v12.Match(ua) || !v20.Match(ua) || tf.Match(ua) {
		t.Errorf("UnauthorizedOperation from delivery.logs: v1.2 %v v2.0 %v terraform %v", v12.Match(ua), v20.Match(ua), tf.Match(ua))
	}
}
