package demo

import (
	"slices"
	"strings"
	"time"
)

// hostKind says how an op's TLS host header is formed.
type hostKind uint8

const (
	hostRegional hostKind = iota // <endpoint>.<region>.amazonaws.com
	hostGlobal                   // <endpoint>.amazonaws.com (iam, sts global)
	hostS3Bucket                 // <bucket>.s3.<region>.amazonaws.com
	hostS3                       // s3.<region>.amazonaws.com
	hostNone                     // no tlsDetails (console sign-in)
)

// msgKind says how an error's message is written.
type msgKind uint8

const (
	msgFixed   msgKind = iota // the text as given
	msgIAM                    // "User: <arn> is not authorized to perform: <svc>:<action> on resource: <arn> because …"
	msgEncoded                // EC2's "… Encoded authorization failure message: <blob>"
	msgName                   // text followed by the op's resource name
)

type apiErr struct {
	code string
	msg  msgKind
	text string
}

// op is one API call the generator knows how to record.
type op struct {
	source    string // eventSource
	name      string // eventName
	action    string // IAM action when it differs from name
	prefix    string // IAM service prefix
	endpoint  string // host label: kms, ec2, monitoring, …
	host      hostKind
	readOnly  bool
	data      bool
	global    bool // recorded in us-east-1
	mgmtOnly  bool // called only in the first (management) account
	eventType string
	version   string // eventVersion
	callers   actorKind
	weight    float64 // extra factor on the Zipf weight (default 1)
	via       []string
	viaRate   float64
	errRate   float64
	errs      []apiErr
	cli       string // CLI command, e.g. ec2.describe-instances
	sdk       string // SDK service id in user agents, e.g. ec2
	sdkVer    string
	uaFixed   string // user agent that replaces the actor's (agents, runtimes)

	params func(g *gen) // writes the requestParameters value
	resp   func(g *gen) // writes the responseElements value
	extra  func(g *gen) // writes the additionalEventData value
	res    func(g *gen) // writes the elements of resources[]
	arn    func(g *gen) // appends the main resource ARN (errors quote it)
	ident  func(g *gen) // appends the name that msgName errors quote
	login  bool         // ConsoleLogin: rendered by renderLogin
	assume bool         // AssumeRole*: only callers with targets
	idx    int          // position in catalog, -1 for incident-only ops
}

var (
	errThrottle  = apiErr{code: "ThrottlingException", text: "Rate exceeded"}
	errAccessIAM = apiErr{code: "AccessDenied", msg: msgIAM}
	errAccessExc = apiErr{code: "AccessDeniedException", msg: msgIAM}
	errS3Denied  = apiErr{code: "AccessDenied", text: "Access Denied"}
	errEC2Unauth = apiErr{code: "Client.UnauthorizedOperation", msg: msgEncoded}
)

// catalog lists the ops in popularity order (their writers are in
// catalog_<service>.go, one file per service): the i-th op gets Zipf weight
// 1/(i+1), times its own weight factor.
var catalog = []*op{
	{source: "kms.amazonaws.com", name: "Decrypt", prefix: "kms", endpoint: "kms", readOnly: true, version: "1.08",
		callers: kWorkload | kFunction | kHuman | kAdmin | kAuto, via: []string{"secretsmanager.amazonaws.com", "s3.amazonaws.com", "ssm.amazonaws.com"}, viaRate: 0.5,
		errs:   []apiErr{errAccessExc, {code: "InvalidCiphertextException"}, errThrottle},
		params: kmsDecryptParams, res: kmsRes, arn: kmsARN},
	{source: "sts.amazonaws.com", name: "AssumeRole", assume: true, prefix: "sts", endpoint: "sts", readOnly: true, version: "1.08",
		callers: kService | kHuman, errs: []apiErr{errAccessIAM},
		params: assumeRoleParams, resp: assumeRoleResp, res: assumeRoleRes, arn: assumeRoleARN},
	{source: "s3.amazonaws.com", name: "GetObject", prefix: "s3", host: hostS3Bucket, readOnly: true, data: true, version: "1.09",
		callers: kWorkload | kFunction | kHuman | kReader | kAdmin | kAuto, cli: "s3.cp",
		errs:   []apiErr{{code: "NoSuchKey", text: "The specified key does not exist."}, errS3Denied, {code: "SlowDown", text: "Please reduce your request rate."}},
		params: s3ObjectParams, extra: s3Extra, res: s3ObjectRes, arn: s3ObjectARN},
	{source: "ec2.amazonaws.com", name: "DescribeInstances", prefix: "ec2", endpoint: "ec2", readOnly: true, version: "1.09",
		callers: kPeople | kAuto | kWorkload | kRoot, errs: []apiErr{errEC2Unauth, {code: "Client.RequestLimitExceeded", text: "Request limit exceeded."}},
		params: describeInstancesParams},
	{source: "kms.amazonaws.com", name: "GenerateDataKey", prefix: "kms", endpoint: "kms", readOnly: true, version: "1.08",
		callers: kWorkload | kFunction | kAuto, via: []string{"s3.amazonaws.com", "dynamodb.amazonaws.com", "sqs.amazonaws.com"}, viaRate: 0.6,
		errs: []apiErr{errAccessExc, errThrottle}, params: kmsGenerateDataKeyParams, res: kmsRes, arn: kmsARN},
	{source: "sts.amazonaws.com", name: "GetCallerIdentity", prefix: "sts", endpoint: "sts", readOnly: true, version: "1.08",
		callers: kHuman | kReader | kAdmin | kAuto | kWorkload, errs: []apiErr{errThrottle}},
	{source: "logs.amazonaws.com", name: "CreateLogStream", prefix: "logs", endpoint: "logs", version: "1.08",
		callers: kFunction, uaFixed: "awslambda-worker/1.0 rusoto/0.48.0 rust/1.76.0 linux",
		errs:   []apiErr{{code: "ResourceAlreadyExistsException", text: "The specified log stream already exists"}},
		params: createLogStreamParams},
	{source: "s3.amazonaws.com", name: "PutObject", prefix: "s3", host: hostS3Bucket, data: true, version: "1.09",
		callers: kWorkload | kFunction | kHuman | kAuto, cli: "s3.cp",
		errs:   []apiErr{errS3Denied, {code: "NoSuchBucket", text: "The specified bucket does not exist"}},
		params: s3ObjectParams, resp: s3PutResp, extra: s3Extra, res: s3ObjectRes, arn: s3ObjectARN},
	{source: "ssm.amazonaws.com", name: "GetParameter", prefix: "ssm", endpoint: "ssm", readOnly: true, version: "1.08",
		callers: kWorkload | kFunction | kAuto, errs: []apiErr{{code: "ParameterNotFound"}, errAccessExc, errThrottle},
		params: getParameterParams, arn: parameterARN},
	{source: "lambda.amazonaws.com", name: "Invoke", prefix: "lambda", endpoint: "lambda", data: true, version: "1.08",
		callers: kWorkload | kFunction | kHuman | kAuto, via: []string{"apigateway.amazonaws.com", "events.amazonaws.com", "s3.amazonaws.com"}, viaRate: 0.35,
		errs:   []apiErr{{code: "TooManyRequestsException", text: "Rate Exceeded."}, errAccessExc},
		params: invokeParams, extra: invokeExtra, res: lambdaRes, arn: lambdaARN},
	{source: "dynamodb.amazonaws.com", name: "GetItem", prefix: "dynamodb", endpoint: "dynamodb", readOnly: true, data: true, version: "1.08",
		callers: kFunction | kWorkload, errs: []apiErr{{code: "ProvisionedThroughputExceededException", text: "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."}, errAccessExc},
		params: getItemParams, res: tableRes, arn: tableARN},
	{source: "secretsmanager.amazonaws.com", name: "GetSecretValue", prefix: "secretsmanager", endpoint: "secretsmanager", readOnly: true, version: "1.08",
		callers: kWorkload | kFunction | kAuto, errs: []apiErr{{code: "ResourceNotFoundException", text: "Secrets Manager can't find the specified secret."}, errAccessExc},
		params: getSecretParams, arn: secretARN},
	{source: "s3.amazonaws.com", name: "ListBuckets", action: "ListAllMyBuckets", prefix: "s3", host: hostS3, readOnly: true, version: "1.09",
		callers: kPeople | kAuto | kRoot, cli: "s3.ls", errs: []apiErr{errS3Denied},
		params: listBucketsParams, extra: s3Extra},
	{source: "ec2.amazonaws.com", name: "DescribeSecurityGroups", prefix: "ec2", endpoint: "ec2", readOnly: true, version: "1.09",
		callers: kPeople | kAuto, errs: []apiErr{errEC2Unauth}, params: describeSGParams},
	{source: "sqs.amazonaws.com", name: "SendMessage", prefix: "sqs", endpoint: "sqs", data: true, version: "1.09",
		callers: kFunction | kWorkload, errs: []apiErr{{code: "AWS.SimpleQueueService.NonExistentQueue", text: "The specified queue does not exist."}, errAccessIAM},
		params: sendMessageParams, resp: sendMessageResp, res: queueRes, arn: queueARN},
	{source: "cloudtrail.amazonaws.com", name: "LookupEvents", prefix: "cloudtrail", endpoint: "cloudtrail", readOnly: true, version: "1.09",
		callers: kPeople, errs: []apiErr{errThrottle}, params: lookupEventsParams},
	{source: "iam.amazonaws.com", name: "ListRoles", prefix: "iam", endpoint: "iam", host: hostGlobal, readOnly: true, global: true, version: "1.08",
		callers: kPeople | kAuto, errs: []apiErr{errAccessIAM}, params: listRolesParams},
	{source: "dynamodb.amazonaws.com", name: "PutItem", prefix: "dynamodb", endpoint: "dynamodb", data: true, version: "1.08",
		callers: kFunction | kWorkload, errs: []apiErr{{code: "ConditionalCheckFailedException", text: "The conditional request failed"}},
		params: putItemParams, res: tableRes, arn: tableARN},
	{source: "s3.amazonaws.com", name: "HeadObject", action: "GetObject", prefix: "s3", host: hostS3Bucket, readOnly: true, data: true, version: "1.09",
		callers: kWorkload | kFunction | kAuto, cli: "s3api.head-object", errs: []apiErr{{code: "NoSuchKey", text: "The specified key does not exist."}},
		params: s3ObjectParams, extra: s3Extra, res: s3ObjectRes, arn: s3ObjectARN},
	{source: "ec2.amazonaws.com", name: "DescribeVpcs", prefix: "ec2", endpoint: "ec2", readOnly: true, version: "1.09",
		callers: kPeople | kAuto, errs: []apiErr{errEC2Unauth}, params: describeVpcsParams},
	{source: "sns.amazonaws.com", name: "Publish", prefix: "sns", endpoint: "sns", data: true, version: "1.09",
		callers: kFunction | kWorkload, via: []string{"cloudwatch.amazonaws.com"}, viaRate: 0.2,
		errs:   []apiErr{{code: "AuthorizationError", msg: msgIAM}},
		params: publishParams, resp: publishResp, res: topicRes, arn: topicARN},
	{source: "s3.amazonaws.com", name: "GetBucketPolicy", prefix: "s3", host: hostS3Bucket, readOnly: true, version: "1.09",
		callers: kPeople | kAuto, cli: "s3api.get-bucket-policy", errRate: 0.15,
		errs:   []apiErr{{code: "NoSuchBucketPolicy", text: "The bucket policy does not exist"}},
		params: bucketParams("policy"), extra: s3Extra, res: bucketRes, arn: bucketARN},
	{source: "monitoring.amazonaws.com", name: "DescribeAlarms", prefix: "cloudwatch", endpoint: "monitoring", readOnly: true, version: "1.08",
		callers: kPeople | kAuto, errs: []apiErr{errThrottle}, params: describeAlarmsParams},
	{source: "rds.amazonaws.com", name: "DescribeDBInstances", prefix: "rds", endpoint: "rds", readOnly: true, version: "1.08",
		callers: kPeople | kAuto, errs: []apiErr{{code: "DBInstanceNotFoundFault", msg: msgName, text: "DBInstance %s not found."}},
		params: describeDBParams, ident: dbIdent},
	{source: "ec2.amazonaws.com", name: "DescribeSubnets", prefix: "ec2", endpoint: "ec2", readOnly: true, version: "1.09",
		callers: kPeople | kAuto, errs: []apiErr{errEC2Unauth}, params: describeSubnetsParams},
	{source: "lambda.amazonaws.com", name: "ListFunctions20150331", action: "ListFunctions", prefix: "lambda", endpoint: "lambda", readOnly: true, version: "1.08",
		callers: kPeople | kAuto, errs: []apiErr{errAccessExc}},
	{source: "ssm.amazonaws.com", name: "UpdateInstanceInformation", prefix: "ssm", endpoint: "ssm", version: "1.08",
		callers: kWorkload, uaFixed: "aws-sdk-go/1.44.260 (go1.21.9; linux; amd64) amazon-ssm-agent/3.3.40.0",
		errs: []apiErr{errThrottle}, params: updateInstanceInfoParams},
	{source: "s3.amazonaws.com", name: "GetBucketLocation", prefix: "s3", host: hostS3Bucket, readOnly: true, version: "1.09",
		callers: kPeople | kAuto | kWorkload, cli: "s3api.get-bucket-location", errs: []apiErr{errS3Denied},
		params: bucketParams("location"), extra: s3Extra, res: bucketRes, arn: bucketARN},
	{source: "logs.amazonaws.com", name: "DescribeLogGroups", prefix: "logs", endpoint: "logs", readOnly: true, version: "1.08",
		callers: kPeople | kAuto, errs: []apiErr{errThrottle}, params: describeLogGroupsParams},
	{source: "iam.amazonaws.com", name: "GetRole", prefix: "iam", endpoint: "iam", host: hostGlobal, readOnly: true, global: true, version: "1.08",
		callers: kPeople | kAuto, errs: []apiErr{{code: "NoSuchEntityException", msg: msgName, text: "The role with name %s cannot be found."}},
		params: roleNameParams, arn: roleARN, ident: roleIdent},
	{source: "cloudtrail.amazonaws.com", name: "DescribeTrails", prefix: "cloudtrail", endpoint: "cloudtrail", readOnly: true, version: "1.09",
		callers: kPeople | kAuto, errs: []apiErr{errThrottle}, params: describeTrailsParams},
	{source: "iam.amazonaws.com", name: "ListUsers", prefix: "iam", endpoint: "iam", host: hostGlobal, readOnly: true, global: true, version: "1.08",
		callers: kPeople | kAuto | kRoot, errs: []apiErr{errAccessIAM}},
	{source: "ec2.amazonaws.com", name: "DescribeImages", prefix: "ec2", endpoint: "ec2", readOnly: true, version: "1.09",
		callers: kAuto | kPeople, errs: []apiErr{errEC2Unauth}, params: describeImagesParams},
	{source: "sts.amazonaws.com", name: "AssumeRoleWithWebIdentity", assume: true, prefix: "sts", endpoint: "sts", readOnly: true, version: "1.08",
		callers: kWebID, errs: []apiErr{{code: "InvalidIdentityToken", text: "Incorrect token audience"}},
		params: assumeRoleParams, resp: assumeRoleWebIDResp, res: assumeRoleRes, arn: assumeRoleARN},
	{source: "signin.amazonaws.com", name: "ConsoleLogin", host: hostNone, global: true, eventType: "AwsConsoleSignIn", version: "1.09",
		callers: kHuman | kConsole | kRoot, weight: 1.2, login: true},
	{source: "dynamodb.amazonaws.com", name: "Query", prefix: "dynamodb", endpoint: "dynamodb", readOnly: true, data: true, version: "1.08",
		callers: kFunction | kWorkload, errs: []apiErr{errAccessExc}, params: queryParams, res: tableRes, arn: tableARN},
	{source: "cloudtrail.amazonaws.com", name: "GetTrailStatus", prefix: "cloudtrail", endpoint: "cloudtrail", readOnly: true, version: "1.09",
		callers: kPeople | kAuto, errs: []apiErr{{code: "TrailNotFoundException", msg: msgName, text: "Unknown trail: %s"}},
		params: trailNameParams, arn: trailARN, ident: trailIdent},
	{source: "kms.amazonaws.com", name: "ListAliases", prefix: "kms", endpoint: "kms", readOnly: true, version: "1.08",
		callers: kPeople | kAuto, errs: []apiErr{errAccessExc}},
	{source: "ec2.amazonaws.com", name: "DescribeVolumes", prefix: "ec2", endpoint: "ec2", readOnly: true, version: "1.09",
		callers: kPeople | kAuto | kWorkload, errs: []apiErr{errEC2Unauth}, params: describeVolumesParams},
	{source: "secretsmanager.amazonaws.com", name: "ListSecrets", prefix: "secretsmanager", endpoint: "secretsmanager", readOnly: true, version: "1.08",
		callers: kPeople | kAuto, errs: []apiErr{errAccessExc}},
	{source: "iam.amazonaws.com", name: "ListAttachedRolePolicies", prefix: "iam", endpoint: "iam", host: hostGlobal, readOnly: true, global: true, version: "1.08",
		callers: kPeople | kAuto, errs: []apiErr{errAccessIAM}, params: roleNameParams, arn: roleARN},
	{source: "ec2.amazonaws.com", name: "RunInstances", weight: 0.5, prefix: "ec2", endpoint: "ec2", version: "1.09",
		callers: kAuto | kAdmin | kConsole, errs: []apiErr{errEC2Unauth, {code: "Server.InsufficientInstanceCapacity", text: "We currently do not have sufficient capacity in the Availability Zone you requested. Our system will be working on provisioning additional capacity."}},
		params: runInstancesParams, resp: runInstancesResp},
	{source: "ec2.amazonaws.com", name: "CreateTags", prefix: "ec2", endpoint: "ec2", version: "1.09",
		callers: kAuto | kConsole, errs: []apiErr{errEC2Unauth}, params: createTagsParams, resp: ec2ReturnTrue},
	{source: "lambda.amazonaws.com", name: "UpdateFunctionCode20150331v2", action: "UpdateFunctionCode", prefix: "lambda", endpoint: "lambda", version: "1.08",
		callers: kAuto, errs: []apiErr{{code: "ResourceConflictException", msg: msgName, text: "The operation cannot be performed at this time. An update is in progress for resource: %s"}},
		params: updateFunctionCodeParams, resp: updateFunctionCodeResp, arn: lambdaARN, ident: lambdaARN},
	{source: "ec2.amazonaws.com", name: "TerminateInstances", weight: 0.6, prefix: "ec2", endpoint: "ec2", version: "1.09",
		callers: kAuto | kAdmin | kConsole, errs: []apiErr{errEC2Unauth, {code: "Client.InvalidInstanceID.NotFound", msg: msgName, text: "The instance ID '%s' does not exist"}},
		params: instanceIDParams, resp: terminateResp, ident: instanceIdent},
	{source: "monitoring.amazonaws.com", name: "PutMetricAlarm", prefix: "cloudwatch", endpoint: "monitoring", version: "1.08",
		callers: kAuto | kConsole, errs: []apiErr{errAccessIAM}, params: putMetricAlarmParams},
	{source: "iam.amazonaws.com", name: "GetUser", prefix: "iam", endpoint: "iam", host: hostGlobal, readOnly: true, global: true, version: "1.08",
		callers: kHuman | kAuto | kConsole, errs: []apiErr{errAccessIAM}, params: userNameParams, arn: userARN},
	{source: "ec2.amazonaws.com", name: "AuthorizeSecurityGroupIngress", weight: 0.3, prefix: "ec2", endpoint: "ec2", version: "1.09",
		callers: kAuto | kAdmin, errs: []apiErr{{code: "Client.InvalidPermission.Duplicate", text: "the specified rule \"peer: 10.0.0.0/16, TCP, from port: 443, to port: 443, ALLOW\" already exists"}},
		params: authorizeSGParams, resp: authorizeSGResp},
	{source: "rds.amazonaws.com", name: "CreateDBSnapshot", prefix: "rds", endpoint: "rds", version: "1.08",
		callers: kAuto | kConsole, errs: []apiErr{{code: "DBSnapshotAlreadyExistsFault", text: "Cannot create the snapshot because a snapshot with the identifier already exists."}},
		params: createDBSnapshotParams, resp: createDBSnapshotResp},
	{source: "organizations.amazonaws.com", name: "DescribeOrganization", prefix: "organizations", endpoint: "organizations", host: hostRegional, readOnly: true, global: true, mgmtOnly: true, version: "1.08",
		callers: kAdmin | kReader | kAuto, errs: []apiErr{errAccessExc}},
	{source: "organizations.amazonaws.com", name: "ListAccounts", prefix: "organizations", endpoint: "organizations", host: hostRegional, readOnly: true, global: true, mgmtOnly: true, version: "1.08",
		callers: kAdmin | kReader, errs: []apiErr{errAccessExc}, params: maxResultsParams},
	{source: "iam.amazonaws.com", name: "CreateRole", weight: 0.4, prefix: "iam", endpoint: "iam", host: hostGlobal, global: true, version: "1.08",
		callers: kAuto, errs: []apiErr{{code: "EntityAlreadyExistsException", msg: msgName, text: "Role with name %s already exists."}},
		params: createRoleParams, resp: createRoleResp, arn: roleARN, ident: roleIdent},
	{source: "iam.amazonaws.com", name: "AttachRolePolicy", weight: 0.4, prefix: "iam", endpoint: "iam", host: hostGlobal, global: true, version: "1.08",
		callers: kAuto | kAdmin, errs: []apiErr{errAccessIAM}, params: attachRolePolicyParams, arn: roleARN},
	{source: "iam.amazonaws.com", name: "PutRolePolicy", weight: 0.4, prefix: "iam", endpoint: "iam", host: hostGlobal, global: true, version: "1.08",
		callers: kAuto, errs: []apiErr{{code: "MalformedPolicyDocument", text: "Syntax errors in policy."}}, params: putRolePolicyParams, arn: roleARN},
	{source: "logs.amazonaws.com", name: "PutRetentionPolicy", prefix: "logs", endpoint: "logs", version: "1.08",
		callers: kAuto, errs: []apiErr{{code: "ResourceNotFoundException", text: "The specified log group does not exist."}}, params: putRetentionParams},
	{source: "ec2.amazonaws.com", name: "StopInstances", weight: 0.6, prefix: "ec2", endpoint: "ec2", version: "1.09",
		callers: kAdmin | kConsole | kAuto, errs: []apiErr{errEC2Unauth}, params: stopInstancesParams, resp: stopResp},
	{source: "sts.amazonaws.com", name: "GetSessionToken", prefix: "sts", endpoint: "sts", readOnly: true, version: "1.08",
		callers: kHuman, errs: []apiErr{errAccessIAM}, params: getSessionTokenParams, resp: getSessionTokenResp},
	{source: "iam.amazonaws.com", name: "GetAccountSummary", prefix: "iam", endpoint: "iam", host: hostGlobal, readOnly: true, global: true, version: "1.08",
		callers: kAdmin | kConsole | kRoot, errs: []apiErr{errAccessIAM}},
	{source: "sqs.amazonaws.com", name: "CreateQueue", prefix: "sqs", endpoint: "sqs", version: "1.09",
		callers: kAuto, errs: []apiErr{errAccessIAM}, params: createQueueParams, resp: createQueueResp, arn: queueARN},
	{source: "s3.amazonaws.com", name: "PutBucketPolicy", weight: 0.3, prefix: "s3", host: hostS3Bucket, version: "1.09",
		callers: kAuto, cli: "s3api.put-bucket-policy", errs: []apiErr{{code: "MalformedPolicy", text: "Policy has invalid resource"}},
		params: putBucketPolicyParams, extra: s3Extra, res: bucketRes, arn: bucketARN},
	{source: "iam.amazonaws.com", name: "CreateUser", weight: 0.3, prefix: "iam", endpoint: "iam", host: hostGlobal, global: true, version: "1.08",
		callers: kAuto | kAdmin, errs: []apiErr{{code: "EntityAlreadyExistsException", msg: msgName, text: "User with name %s already exists."}},
		params: createUserParams, resp: createUserResp, arn: newUserARN, ident: newUserIdent},
	{source: "iam.amazonaws.com", name: "CreateAccessKey", weight: 0.3, prefix: "iam", endpoint: "iam", host: hostGlobal, global: true, version: "1.08",
		callers: kAdmin | kAuto, errs: []apiErr{{code: "LimitExceeded", text: "Cannot exceed quota for AccessKeysPerUser: 2"}},
		params: newUserNameParams, resp: createAccessKeyResp, arn: newUserARN},
	{source: "kms.amazonaws.com", name: "CreateGrant", prefix: "kms", endpoint: "kms", version: "1.08",
		callers: kAuto | kWorkload, via: []string{"ec2.amazonaws.com", "rds.amazonaws.com"}, viaRate: 0.9,
		errs: []apiErr{errAccessExc}, params: createGrantParams, resp: createGrantResp, res: kmsRes, arn: kmsARN},
}

// Ops that incidents use but the background never records.
var (
	opStopLogging = &op{source: "cloudtrail.amazonaws.com", name: "StopLogging", prefix: "cloudtrail", endpoint: "cloudtrail", version: "1.09",
		params: trailNameParams, arn: trailARN}
	opDeleteTrail = &op{source: "cloudtrail.amazonaws.com", name: "DeleteTrail", prefix: "cloudtrail", endpoint: "cloudtrail", version: "1.09",
		params: trailNameParams, arn: trailARN}
)

// stsGlobalShare is the share of STS calls that use the global endpoint
// (recorded in us-east-1); the rest use regional endpoints.
const stsGlobalShare = 0.5

var opByName = map[string]*op{}

func init() {
	opStopLogging.idx, opDeleteTrail.idx = -1, -1
	for i, o := range catalog {
		o.idx = i
	}
	for _, o := range append(slices.Clip(catalog), opStopLogging, opDeleteTrail) {
		opByName[o.source+" "+o.name] = o
		if o.eventType == "" {
			o.eventType = "AwsApiCall"
		}
		if o.weight == 0 {
			o.weight = 1
		}
		if o.errRate == 0 {
			o.errRate = 0.025
		}
		if o.action == "" {
			o.action = o.name
		}
		svc := o.prefix
		switch svc {
		case "cloudwatch":
			o.sdk = "cloudwatch"
		case "logs":
			o.sdk = "cloudwatchlogs"
		default:
			o.sdk = svc
		}
		o.sdkVer = sdkVersions[len(o.sdk)%len(sdkVersions)]
		if o.cli == "" {
			o.cli = svc + "." + kebab(o.action)
		}
	}
}

var sdkVersions = []string{"1.53.1", "1.157.0", "1.31.1", "1.28.6", "1.45.2", "1.37.0"}

// kebab turns ListFunctions into list-functions.
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ---- helpers shared by the writers (catalog_<service>.go) ----

func (g *gen) pick(slot int, list []string) string {
	return list[g.p[slot]%uint64(len(list))]
}

func (g *gen) pickN(slot int, n int) int {
	return int(g.p[slot] % uint64(n))
}

// resource writes one resources[] element with accountId, type and an ARN
// built from parts.
func (g *gen) resource(typ string, parts ...string) {
	g.elemObj()
	g.str("accountId", g.acct.id)
	g.str("type", typ)
	g.key("ARN")
	g.q()
	for _, p := range parts {
		g.b = append(g.b, p...)
	}
	g.q()
	g.close()
}

// resourceARN writes one resources[] element whose ARN is appended by fn.
func (g *gen) resourceARN(typ string, withAccount bool, fn func(g *gen)) {
	g.elemObj()
	if withAccount {
		g.str("accountId", g.acct.id)
	}
	g.str("type", typ)
	g.key("ARN")
	g.q()
	fn(g)
	g.q()
	g.close()
}

// arnValue writes the member k whose value is the op's main ARN.
func (g *gen) arnValue(k string, fn func(g *gen)) {
	g.key(k)
	g.q()
	fn(g)
	g.q()
}

func (g *gen) appendARN(parts ...string) {
	for _, p := range parts {
		g.b = append(g.b, p...)
	}
}

// appendDate appends t in the "Jan 2, 2006, 3:04:05 PM" form CloudTrail
// uses inside IAM and STS responseElements.
func (g *gen) appendDate(t int64) {
	g.b = time.Unix(t, 0).UTC().AppendFormat(g.b, "Jan 2, 2006, 3:04:05 PM")
}

func (g *gen) dateValue(k string, t int64) {
	g.key(k)
	g.q()
	g.appendDate(t)
	g.q()
}

func (g *gen) uuidValue(k string) {
	g.key(k)
	g.q()
	g.b = appendUUID(g.b, g.r.Uint64(), g.r.Uint64())
	g.q()
}

// hidden is what CloudTrail records in place of a sensitive value.
const hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"
