package sigma

import (
	"path/filepath"
	"strings"
	"testing"
)

// ev builds a CloudTrail record from eventSource, eventName and extra
// top-level JSON members.
func ev(source, name string, extra ...string) string {
	parts := []string{`"eventVersion":"1.08"`, `"eventSource":"` + source + `"`, `"eventName":"` + name + `"`,
		`"eventID":"e1"`, `"eventTime":"2024-07-31T13:06:24Z"`, `"awsRegion":"us-east-1"`,
		`"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","userName":"alice"}`}
	parts = append(parts, extra...)
	return "{" + strings.Join(parts, ",") + "}"
}

// evUI is ev with its own userIdentity.
func evUI(source, name, ui string, extra ...string) string {
	parts := []string{`"eventSource":"` + source + `"`, `"eventName":"` + name + `"`, `"eventID":"e1"`, `"userIdentity":` + ui}
	parts = append(parts, extra...)
	return "{" + strings.Join(parts, ",") + "}"
}

// ruleCases is, per SigmaHQ CloudTrail rule (file stem), a record it must
// flag and one it must not.
var ruleCases = map[string]struct{ pos, neg string }{
	"aws_cloudtrail_bedrock_guardrail_deleted": {ev("bedrock.amazonaws.com", "DeleteGuardrail"), ev("bedrock.amazonaws.com", "GetGuardrail")},
	"aws_cloudtrail_bedrock_guardrail_updated": {ev("bedrock.amazonaws.com", "updateguardrail"), ev("iam.amazonaws.com", "UpdateGuardrail")},
	"aws_cloudtrail_bucket_deleted":            {ev("s3.amazonaws.com", "DeleteBucket"), ev("s3.amazonaws.com", "DeleteBucket", `"errorCode":"NoSuchBucket"`)},
	"aws_cloudtrail_console_login_failed_authentication": {ev("signin.amazonaws.com", "ConsoleLogin", `"errorMessage":"Failed authentication"`, `"responseElements":{"ConsoleLogin":"Failure"}`),
		ev("signin.amazonaws.com", "ConsoleLogin", `"responseElements":{"ConsoleLogin":"Success"}`)},
	"aws_cloudtrail_console_login_success_without_mfa": {ev("signin.amazonaws.com", "ConsoleLogin", `"additionalEventData":{"MFAUsed":"No"}`, `"responseElements":{"ConsoleLogin":"Success"}`),
		ev("signin.amazonaws.com", "ConsoleLogin", `"additionalEventData":{"MFAUsed":"Yes"}`, `"responseElements":{"ConsoleLogin":"Success"}`)},
	"aws_cloudtrail_disable_logging": {ev("cloudtrail.amazonaws.com", "StopLogging"), ev("cloudtrail.amazonaws.com", "StartLogging")},
	"aws_cloudtrail_guardduty_detector_deleted_or_updated": {ev("guardduty.amazonaws.com", "UpdateDetector", `"requestParameters":{"detectorId":"d","enable":false}`),
		ev("guardduty.amazonaws.com", "UpdateDetector", `"requestParameters":{"detectorId":"d","enable":true}`)},
	"aws_cloudtrail_imds_malicious_usage": {evUI("s3.amazonaws.com", "ListBuckets", `{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/aws:ec2-instance/i-0abc"}`, `"sourceIPAddress":"203.0.113.9"`),
		evUI("ssm.amazonaws.com", "UpdateInstanceInformation", `{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/aws:ec2-instance/i-0abc"}`, `"sourceIPAddress":"203.0.113.9"`)},
	"aws_cloudtrail_new_acl_entries":                      {ev("ec2.amazonaws.com", "CreateNetworkAclEntry"), ev("ec2.amazonaws.com", "DeleteNetworkAclEntry")},
	"aws_cloudtrail_new_route_added":                      {ev("ec2.amazonaws.com", "CreateRoute"), ev("ec2.amazonaws.com", "CreateRouteTable")},
	"aws_cloudtrail_pua_trufflehog":                       {ev("s3.amazonaws.com", "ListBuckets", `"userAgent":"trufflehog"`), ev("s3.amazonaws.com", "ListBuckets", `"userAgent":"TruffleHog/3.0"`)},
	"aws_cloudtrail_region_enabled":                       {ev("account.amazonaws.com", "EnableRegion"), ev("account.amazonaws.com", "DisableRegion")},
	"aws_cloudtrail_security_group_change_ingress_egress": {ev("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"), ev("ec2.amazonaws.com", "DescribeSecurityGroups")},
	"aws_cloudtrail_security_group_change_loadbalancer":   {ev("elasticloadbalancing.amazonaws.com", "SetSecurityGroups"), ev("ec2.amazonaws.com", "SetSecurityGroups")},
	"aws_cloudtrail_security_group_change_rds":            {ev("rds.amazonaws.com", "CreateDBSecurityGroup"), ev("rds.amazonaws.com", "DescribeDBSecurityGroups")},
	"aws_cloudtrail_ssm_malicious_usage":                  {ev("ssm.amazonaws.com", "SendCommand", `"errorCode":"Success"`), ev("ssm.amazonaws.com", "SendCommand", `"errorCode":"AccessDenied"`)},
	"aws_cloudtrail_vpc_flow_logs_deleted":                {ev("ec2.amazonaws.com", "DeleteFlowLogs", `"errorCode":null`), ev("ec2.amazonaws.com", "DeleteFlowLogs", `"errorCode":"Client.UnauthorizedOperation"`)},
	"aws_config_disable_recording":                        {ev("config.amazonaws.com", "StopConfigurationRecorder"), ev("config.amazonaws.com", "StartConfigurationRecorder")},
	"aws_console_getsignintoken": {ev("signin.amazonaws.com", "GetSigninToken", `"userAgent":"python-requests/2.31"`),
		ev("signin.amazonaws.com", "GetSigninToken", `"userAgent":"Jersey/${project.version} (HttpUrlConnection 1.8.0_382)"`)},
	"aws_delete_identity":      {ev("ses.amazonaws.com", "DeleteIdentity"), ev("ses.amazonaws.com", "VerifyEmailIdentity")},
	"aws_delete_saml_provider": {ev("iam.amazonaws.com", "DeleteSAMLProvider", `"status":"Success"`), ev("iam.amazonaws.com", "DeleteSAMLProvider", `"status":"failure"`)},
	"aws_disable_bucket_versioning": {ev("s3.amazonaws.com", "PutBucketVersioning", `"requestParameters":{"bucketName":"b","VersioningConfiguration":{"Status":"Suspended"}}`),
		ev("s3.amazonaws.com", "PutBucketVersioning", `"requestParameters":{"bucketName":"b","VersioningConfiguration":{"Status":"Enabled"}}`)},
	"aws_ec2_disable_encryption":       {ev("ec2.amazonaws.com", "DisableEbsEncryptionByDefault"), ev("ec2.amazonaws.com", "EnableEbsEncryptionByDefault")},
	"aws_ec2_import_key_pair_activity": {ev("ec2.amazonaws.com", "ImportKeyPair"), ev("ec2.amazonaws.com", "CreateKeyPair")},
	"aws_ec2_startup_script_change": {ev("ec2.amazonaws.com", "ModifyInstanceAttribute", `"requestParameters":{"instanceId":"i-1","attribute":"userData"}`),
		ev("ec2.amazonaws.com", "ModifyInstanceAttribute", `"requestParameters":{"instanceId":"i-1","attribute":"instanceType"}`)},
	"aws_ec2_vm_export_failure": {ev("ec2.amazonaws.com", "CreateInstanceExportTask", `"responseElements":{"exportTask":{"state":"active"}}`),
		ev("ec2.amazonaws.com", "CreateInstanceExportTask", `"errorCode":"InvalidParameter"`, `"errorMessage":"bad"`)},
	"aws_ecs_task_definition_cred_endpoint_query": {ev("ecs.amazonaws.com", "RegisterTaskDefinition", `"requestParameters":{"containerDefinitions":[{"name":"a","command":["sh"]},{"name":"b","command":["sh","-c","curl 169.254.170.2$aws_container_credentials_relative_uri"]}]}`),
		ev("ecs.amazonaws.com", "RegisterTaskDefinition", `"requestParameters":{"containerDefinitions":[{"name":"a","command":["sh","-c","sleep 1"]}],"family":"$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"}`)},
	"aws_efs_fileshare_modified_or_deleted":              {ev("elasticfilesystem.amazonaws.com", "DeleteFileSystem"), ev("elasticfilesystem.amazonaws.com", "CreateFileSystem")},
	"aws_efs_fileshare_mount_modified_or_deleted":        {ev("elasticfilesystem.amazonaws.com", "DeleteMountTarget"), ev("elasticfilesystem.amazonaws.com", "DeleteFileSystemPolicy")},
	"aws_eks_cluster_created_or_deleted":                 {ev("eks.amazonaws.com", "DeleteCluster"), ev("eks.amazonaws.com", "DescribeCluster")},
	"aws_elasticache_security_group_created":             {ev("elasticache.amazonaws.com", "CreateCacheSecurityGroup"), ev("elasticache.amazonaws.com", "CreateCacheCluster")},
	"aws_elasticache_security_group_modified_or_deleted": {ev("elasticache.amazonaws.com", "RevokeCacheSecurityGroupIngress"), ev("elasticache.amazonaws.com", "CreateCacheSecurityGroup")},
	"aws_enum_buckets":                                   {ev("s3.amazonaws.com", "ListBuckets"), evUI("s3.amazonaws.com", "ListBuckets", `{"type":"AssumedRole"}`)},
	"aws_guardduty_disruption":                           {ev("guardduty.amazonaws.com", "CreateIPSet"), ev("guardduty.amazonaws.com", "ListIPSets")},
	// The rule as written compares the arn with the literal text
	// "responseElements.accessKey.userName" (no fieldref modifier).
	"aws_iam_backdoor_users_keys": {ev("iam.amazonaws.com", "CreateAccessKey", `"responseElements":{"accessKey":{"userName":"bob"}}`),
		evUI("iam.amazonaws.com", "CreateAccessKey", `{"type":"IAMUser","arn":"arn:aws:iam::1:user/responseElements.accessKey.userName"}`)},
	"aws_iam_s3browser_loginprofile_creation": {ev("iam.amazonaws.com", "CreateLoginProfile", `"userAgent":"S3 Browser 11.4.5 https://s3browser.com"`),
		ev("iam.amazonaws.com", "CreateLoginProfile", `"userAgent":"aws-cli/2.9.19"`)},
	"aws_iam_s3browser_templated_s3_bucket_policy_creation": {ev("iam.amazonaws.com", "PutUserPolicy", `"userAgent":"S3 Browser 11.4.5 https://s3browser.com"`,
		`"requestParameters":{"userName":"u","policyName":"p","policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::<YOUR-BUCKET-NAME>/*\"]}]}"}`),
		ev("iam.amazonaws.com", "PutUserPolicy", `"userAgent":"S3 Browser 11.4.5 https://s3browser.com"`,
			`"requestParameters":{"userName":"u","policyName":"p","policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::my-bucket/*\"]}]}"}`)},
	"aws_iam_s3browser_user_or_accesskey_creation": {ev("iam.amazonaws.com", "CreateUser", `"userAgent":"S3 BROWSER 9"`), ev("iam.amazonaws.com", "DeleteUser", `"userAgent":"S3 Browser 9"`)},
	"aws_kms_import_key_material":                  {ev("kms.amazonaws.com", "ImportKeyMaterial"), ev("kms.amazonaws.com", "GetParametersForImport")},
	"aws_lambda_function_url":                      {ev("lambda.amazonaws.com", "CreateFunctionUrlConfig"), ev("lambda.amazonaws.com", "GetFunctionUrlConfig")},
	"aws_new_lambda_layer_attached": {ev("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", `"requestParameters":{"functionName":"f","layers":["arn:aws:lambda:us-east-1:1:layer:x:1"]}`),
		ev("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", `"requestParameters":{"functionName":"f","timeout":30}`)},
	"aws_passed_role_to_glue_development_endpoint": {ev("glue.amazonaws.com", "CreateDevEndpoint"), ev("glue.amazonaws.com", "GetDevEndpoint")},
	"aws_rds_change_master_password": {ev("rds.amazonaws.com", "ModifyDBInstance", `"responseElements":{"pendingModifiedValues":{"masterUserPassword":"****"}}`),
		ev("rds.amazonaws.com", "ModifyDBInstance", `"responseElements":{"pendingModifiedValues":{}}`)},
	"aws_rds_dbcluster_actions": {ev("rds.amazonaws.com", "DeleteDBCluster"), ev("rds.amazonaws.com", "CreateDBCluster")},
	"aws_rds_public_db_restore": {ev("rds.amazonaws.com", "RestoreDBInstanceFromDBSnapshot", `"responseElements":{"publiclyAccessible":true}`),
		ev("rds.amazonaws.com", "RestoreDBInstanceFromDBSnapshot", `"responseElements":{"publiclyAccessible":false}`)},
	"aws_root_account_usage": {evUI("iam.amazonaws.com", "ListUsers", `{"type":"Root","arn":"arn:aws:iam::1:root"}`, `"eventType":"AwsApiCall"`),
		evUI("iam.amazonaws.com", "ListUsers", `{"type":"Root","arn":"arn:aws:iam::1:root"}`, `"eventType":"AwsServiceEvent"`)},
	"aws_route_53_domain_transferred_lock_disabled":      {ev("route53.amazonaws.com", "DisableDomainTransferLock"), ev("route53.amazonaws.com", "EnableDomainTransferLock")},
	"aws_route_53_domain_transferred_to_another_account": {ev("route53.amazonaws.com", "TransferDomainToAnotherAwsAccount"), ev("route53.amazonaws.com", "TransferDomain")},
	"aws_s3_data_management_tampering":                   {ev("s3.amazonaws.com", "PutBucketLogging"), ev("s3.amazonaws.com", "GetBucketLogging")},
	"aws_securityhub_finding_evasion":                    {ev("securityhub.amazonaws.com", "BatchUpdateFindings"), ev("securityhub.amazonaws.com", "GetFindings")},
	"aws_snapshot_backup_exfiltration":                   {ev("ec2.amazonaws.com", "ModifySnapshotAttribute"), ev("ec2.amazonaws.com", "DescribeSnapshotAttribute")},
	"aws_sso_idp_change":                                 {ev("sso-directory.amazonaws.com", "DisableExternalIdPConfigurationForDirectory"), ev("iam.amazonaws.com", "AssociateDirectory")},
	"aws_sts_assumerole_misuse": {evUI("s3.amazonaws.com", "ListBuckets", `{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"type":"Role"}}}`),
		evUI("s3.amazonaws.com", "ListBuckets", `{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"type":"User"}}}`)},
	"aws_sts_getcalleridentity_trufflehog": {ev("sts.amazonaws.com", "GetCallerIdentity", `"userAgent":"trufflehog/v3 aws-sdk-go"`), ev("sts.amazonaws.com", "GetCallerIdentity", `"userAgent":"aws-cli/2"`)},
	"aws_sts_getsessiontoken_misuse":       {ev("sts.amazonaws.com", "GetSessionToken"), evUI("sts.amazonaws.com", "GetSessionToken", `{"type":"Root"}`)},
	"aws_susp_saml_activity":               {ev("iam.amazonaws.com", "UpdateSAMLProvider"), ev("sts.amazonaws.com", "UpdateSAMLProvider")},
	// The fieldref rule: changing another user's password is flagged, one's own is not.
	"aws_update_login_profile": {evUI("iam.amazonaws.com", "UpdateLoginProfile", `{"type":"IAMUser","arn":"arn:aws:iam::1:user/admin"}`, `"requestParameters":{"userName":"victim"}`),
		evUI("iam.amazonaws.com", "UpdateLoginProfile", `{"type":"IAMUser","arn":"Victim"}`, `"requestParameters":{"userName":"victim"}`)},
}

func loadRules(t testing.TB) *Ruleset {
	t.Helper()
	rs, errs, err := LoadDir(rulesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("load error: %v", e)
	}
	return rs
}

func stem(r *Rule) string { return strings.TrimSuffix(filepath.Base(r.File), ".yml") }

// TestEveryRulePositiveNegative evaluates each of the 57 rules on a record
// it must flag and one it must not, through the index and by brute force.
func TestEveryRulePositiveNegative(t *testing.T) {
	rs := loadRules(t)
	if len(rs.Rules()) != 57 || len(ruleCases) != 57 {
		t.Fatalf("%d rules loaded, %d cases; want 57 each", len(rs.Rules()), len(ruleCases))
	}
	has := func(list []*Rule, r *Rule) bool {
		for _, x := range list {
			if x == r {
				return true
			}
		}
		return false
	}
	for _, r := range rs.Rules() {
		c, ok := ruleCases[stem(r)]
		if !ok {
			t.Errorf("no case for rule %s", stem(r))
			continue
		}
		pos, neg := rs.Match([]byte(c.pos), nil), rs.Match([]byte(c.neg), nil)
		if !has(pos, r) {
			t.Errorf("%s: positive record not flagged: %s", stem(r), c.pos)
		}
		if has(neg, r) {
			t.Errorf("%s: negative record flagged: %s", stem(r), c.neg)
		}
		if !has(rs.matchAll([]byte(c.pos), nil), r) || has(rs.matchAll([]byte(c.neg), nil), r) {
			t.Errorf("%s: brute force disagrees", stem(r))
		}
	}
}
