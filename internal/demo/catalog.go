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

// catalog lists the ops in popularity order: the i-th op gets Zipf weight
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

// ---- helpers shared by the writers ----

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

// ---- KMS ----

func kmsARN(g *gen) {
	g.appendARN("arn:aws:kms:", g.reg.name, ":", g.acct.id, ":key/")
	g.b = g.acct.appendKMSKeyID(g.b, g.reg, g.pickN(0, 4))
}

func kmsRes(g *gen) { g.resourceARN("AWS::KMS::Key", true, kmsARN) }

func kmsDecryptParams(g *gen) {
	g.open()
	switch g.via {
	case "secretsmanager.amazonaws.com":
		g.obj("encryptionContext")
		g.key("SecretARN")
		g.q()
		secretARN(g)
		g.q()
		g.uuidValue("SecretVersionId")
		g.close()
	case "s3.amazonaws.com":
		g.obj("encryptionContext")
		g.key("aws:s3:arn")
		g.q()
		g.appendARN("arn:aws:s3:::", g.pick(1, g.acct.buckets))
		g.q()
		g.close()
	case "ssm.amazonaws.com":
		g.obj("encryptionContext")
		g.strs("PARAMETER_ARN", "arn:aws:ssm:", g.reg.name, ":", g.acct.id, ":parameter", g.pick(1, parameters))
		g.close()
	}
	g.str("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
	g.close()
}

func kmsGenerateDataKeyParams(g *gen) {
	g.open()
	g.arnValue("keyId", kmsARN)
	if g.via == "s3.amazonaws.com" {
		g.obj("encryptionContext")
		g.strs("aws:s3:arn", "arn:aws:s3:::", g.pick(1, g.acct.buckets))
		g.close()
	}
	g.str("keySpec", "AES_256")
	g.close()
}

func createGrantParams(g *gen) {
	g.open()
	g.arnValue("keyId", kmsARN)
	g.strs("granteePrincipal", "arn:aws:iam::", g.acct.id, ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
	g.arr("operations")
	for _, s := range []string{"Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GenerateDataKeyWithoutPlaintext", "DescribeKey"} {
		g.elemStr(s)
	}
	g.closeArr()
	g.obj("constraints")
	g.obj("encryptionContextSubset")
	g.strs("aws:ebs:id", "vol-0", g.pick(2, g.acct.instances)[3:])
	g.close()
	g.close()
	g.close()
}

func createGrantResp(g *gen) {
	g.open()
	g.key("grantId")
	g.q()
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.q()
	g.close()
}

// ---- STS ----

// target is the actor whose role an AssumeRole call assumes.
func (g *gen) assumeTarget() *actor {
	if g.target != nil {
		return g.target
	}
	t := g.a.t.targets
	if len(t) == 0 {
		return g.acct.actors[tAdminRole]
	}
	return g.acct.actors[t[g.pickN(3, len(t))]]
}

func assumeRoleARN(g *gen) { g.b = append(g.b, g.assumeTarget().roleArn...) }

func assumeRoleParams(g *gen) {
	tg := g.assumeTarget()
	g.open()
	g.str("roleArn", tg.roleArn)
	g.str("roleSessionName", tg.session)
	g.num("durationSeconds", tg.t.sessLen)
	g.close()
}

func (g *gen) credentials(key uint64, created, life int64) {
	g.obj("credentials")
	g.key("accessKeyId")
	g.q()
	g.b = appendSessionKey(g.b, key)
	g.q()
	g.key("sessionToken")
	g.q()
	g.b = append(g.b, "IQoJb3JpZ2luX2VjE"...)
	g.b = appendChars(g.b, key^0x746f6b656e, 180, base64Chars)
	g.b = append(g.b, '=', '=')
	g.q()
	g.dateValue("expiration", created+life)
	g.close()
}

func (g *gen) assumedRoleUser(tg *actor) {
	g.obj("assumedRoleUser")
	g.str("assumedRoleId", tg.principal)
	g.str("arn", tg.arn)
	g.close()
}

func assumeRoleResp(g *gen) {
	tg := g.assumeTarget()
	key, _ := tg.sessionAt(g.t + 1)
	g.open()
	g.credentials(key, g.t, tg.t.sessLen)
	g.assumedRoleUser(tg)
	g.close()
}

func assumeRoleWebIDResp(g *gen) {
	tg := g.assumeTarget()
	key, _ := tg.sessionAt(g.t + 1)
	g.open()
	g.credentials(key, g.t, tg.t.sessLen)
	g.str("subjectFromWebIdentityToken", "repo:acme/infrastructure:ref:refs/heads/main")
	g.assumedRoleUser(tg)
	g.strs("provider", "arn:aws:iam::", g.acct.id, ":oidc-provider/token.actions.githubusercontent.com")
	g.str("audience", "sts.amazonaws.com")
	g.close()
}

func assumeRoleRes(g *gen) {
	g.resource("AWS::IAM::Role", g.assumeTarget().roleArn)
}

func getSessionTokenParams(g *gen) {
	g.open()
	g.num("durationSeconds", 43200)
	g.close()
}

func getSessionTokenResp(g *gen) {
	g.open()
	g.credentials(g.r.Uint64(), g.t, 43200)
	g.close()
}

// ---- S3 ----

var s3Prefixes = []string{"images/", "exports/orders/", "uploads/", "reports/daily/", "artifacts/build-", "logs/app/"}
var s3Suffixes = []string{".jpg", ".parquet", ".pdf", ".csv.gz", ".tar.gz", ".json"}

func (g *gen) appendS3Key() {
	i := g.pickN(1, len(s3Prefixes))
	g.b = append(g.b, s3Prefixes[i]...)
	y, m, d := civil(g.t / 86400)
	g.b = append4(g.b, y)
	g.b = append(g.b, '/')
	g.b = append2(g.b, m)
	g.b = append(g.b, '/')
	g.b = append2(g.b, d)
	g.b = append(g.b, '/')
	g.b = appendHex(g.b, g.p[2], 12, false)
	g.b = append(g.b, s3Suffixes[i]...)
}

func s3ObjectARN(g *gen) {
	g.appendARN("arn:aws:s3:::", g.pick(0, g.acct.buckets), "/")
	g.appendS3Key()
}

func bucketARN(g *gen) { g.appendARN("arn:aws:s3:::", g.pick(0, g.acct.buckets)) }

func (g *gen) s3Host() {
	g.strs("Host", g.pick(0, g.acct.buckets), ".s3.", g.reg.name, ".amazonaws.com")
}

func s3ObjectParams(g *gen) {
	g.open()
	g.str("bucketName", g.pick(0, g.acct.buckets))
	g.s3Host()
	g.key("key")
	g.q()
	g.appendS3Key()
	g.q()
	if g.op.name == "PutObject" {
		g.str("x-amz-server-side-encryption", "aws:kms")
	}
	g.close()
}

func bucketParams(sub string) func(g *gen) {
	return func(g *gen) {
		g.open()
		g.str("bucketName", g.pick(0, g.acct.buckets))
		g.s3Host()
		g.str(sub, "")
		g.close()
	}
}

func listBucketsParams(g *gen) {
	g.open()
	g.strs("Host", "s3.", g.reg.name, ".amazonaws.com")
	g.close()
}

func putBucketPolicyParams(g *gen) {
	b := g.pick(0, g.acct.buckets)
	g.open()
	g.str("bucketName", b)
	g.s3Host()
	g.obj("bucketPolicy")
	g.str("Version", "2012-10-17")
	g.arr("Statement")
	g.elemObj()
	g.str("Sid", "DenyInsecureTransport")
	g.str("Effect", "Deny")
	g.str("Principal", "*")
	g.str("Action", "s3:*")
	g.arr("Resource")
	g.elemStr("arn:aws:s3:::" + b)
	g.elemStr("arn:aws:s3:::" + b + "/*")
	g.closeArr()
	g.raw("Condition", `{"Bool":{"aws:SecureTransport":"false"}}`)
	g.close()
	g.closeArr()
	g.close()
	g.str("policy", "")
	g.close()
}

func s3PutResp(g *gen) {
	g.open()
	g.str("x-amz-server-side-encryption", "aws:kms")
	g.key("x-amz-server-side-encryption-aws-kms-key-id")
	g.q()
	g.appendARN("arn:aws:kms:", g.reg.name, ":", g.acct.id, ":key/")
	g.b = g.acct.appendKMSKeyID(g.b, g.reg, 0)
	g.q()
	g.str("x-amz-server-side-encryption-bucket-key-enabled", "true")
	g.key("x-amz-version-id")
	g.q()
	g.b = appendChars(g.b, g.p[3], 32, base64Chars[:62])
	g.q()
	g.close()
}

func s3Extra(g *gen) {
	g.open()
	g.str("SignatureVersion", "SigV4")
	g.str("CipherSuite", g.cipher)
	in, out := int64(0), int64(0)
	switch g.op.name {
	case "PutObject":
		in = int64(g.p[3]%4_000_000) + 512
	case "GetObject":
		out = int64(g.p[3]%4_000_000) + 512
	case "ListBuckets":
		out = 1200 + int64(len(g.acct.buckets))*110
	case "PutBucketPolicy":
		in = 412
	case "GetBucketPolicy":
		out = 412
	case "GetBucketLocation":
		out = 137
	}
	g.num("bytesTransferredIn", in)
	g.str("AuthenticationMethod", "AuthHeader")
	g.key("x-amz-id-2")
	g.q()
	g.b = appendChars(g.b, g.r.Uint64(), 76, base64Chars)
	g.q()
	g.num("bytesTransferredOut", out)
	g.close()
}

func s3ObjectRes(g *gen) {
	g.resourceARN("AWS::S3::Object", false, s3ObjectARN)
	g.resourceARN("AWS::S3::Bucket", true, bucketARN)
}

func bucketRes(g *gen) { g.resourceARN("AWS::S3::Bucket", true, bucketARN) }

// ---- EC2 ----

func (g *gen) emptySets(names ...string) {
	for _, n := range names {
		g.raw(n, "{}")
	}
}

func (g *gen) filter(name, value string) {
	g.obj("filterSet")
	g.arr("items")
	g.elemObj()
	g.str("name", name)
	g.obj("valueSet")
	g.arr("items")
	g.elemObj()
	g.str("value", value)
	g.close()
	g.closeArr()
	g.close()
	g.close()
	g.closeArr()
	g.close()
}

func (g *gen) instanceItems(k string, ids int) {
	g.obj(k)
	g.arr("items")
	for i := range ids {
		g.elemObj()
		g.str("instanceId", g.acct.instances[(int(g.p[1]%97)+i)%len(g.acct.instances)])
		g.close()
	}
	g.closeArr()
	g.close()
}

func describeInstancesParams(g *gen) {
	g.open()
	if g.p[2]%3 == 0 {
		g.instanceItems("instancesSet", 1)
		g.raw("filterSet", "{}")
	} else {
		g.raw("instancesSet", "{}")
		g.filter("instance-state-name", "running")
	}
	g.close()
}

func describeSGParams(g *gen) {
	g.open()
	g.emptySets("securityGroupSet", "securityGroupIdSet")
	g.filter("vpc-id", g.acct.vpc)
	g.close()
}

func describeVpcsParams(g *gen) {
	g.open()
	g.emptySets("vpcSet", "filterSet")
	g.close()
}

func describeSubnetsParams(g *gen) {
	g.open()
	g.raw("subnetSet", "{}")
	g.filter("vpc-id", g.acct.vpc)
	g.close()
}

func describeImagesParams(g *gen) {
	g.open()
	g.emptySets("executableBySet", "imagesSet")
	g.raw("ownersSet", `{"items":[{"owner":"amazon"}]}`)
	g.filter("name", "al2023-ami-2023.*-x86_64")
	g.close()
}

func describeVolumesParams(g *gen) {
	g.open()
	g.raw("volumeSet", "{}")
	g.filter("attachment.instance-id", g.pick(1, g.acct.instances))
	g.close()
}

var instanceTypes = []string{"t3.medium", "t3.large", "m6i.large", "c6i.xlarge", "t3.small", "r6i.large"}

func runInstancesParams(g *gen) {
	typ := g.instanceType
	if typ == "" {
		typ = g.pick(2, instanceTypes)
	}
	g.open()
	g.obj("instancesSet")
	g.arr("items")
	g.elemObj()
	g.str("imageId", g.pick(1, g.acct.amis))
	g.num("minCount", 1)
	g.num("maxCount", 1)
	g.close()
	g.closeArr()
	g.close()
	g.str("instanceType", typ)
	g.raw("blockDeviceMapping", "{}")
	g.raw("monitoring", `{"enabled":false}`)
	g.boolean("disableApiTermination", false)
	g.boolean("disableApiStop", false)
	g.uuidValue("clientToken")
	g.str("subnetId", g.pick(3, g.acct.subnets))
	g.obj("iamInstanceProfile")
	g.str("name", "web-app-role")
	g.close()
	g.raw("tagSpecificationSet", `{"items":[{"resourceType":"instance","tags":[{"key":"Name","value":"web-app"},{"key":"team","value":"platform"}]}]}`)
	g.close()
}

func runInstancesResp(g *gen) {
	typ := g.instanceType
	if typ == "" {
		typ = g.pick(2, instanceTypes)
	}
	az := g.reg.azs[g.pickN(3, 3)]
	ip1, ip2 := itoa(1+g.pickN(3, 3)), itoa(int(g.r.Uint64()%250)+4)
	g.open()
	g.uuidValue("requestId")
	g.key("reservationId")
	g.q()
	g.b = append(g.b, "r-0"...)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.q()
	g.str("ownerId", g.acct.id)
	g.raw("groupSet", "{}")
	g.obj("instancesSet")
	g.arr("items")
	g.elemObj()
	g.key("instanceId")
	g.q()
	g.b = append(g.b, "i-0"...)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.q()
	g.str("imageId", g.pick(1, g.acct.amis))
	g.str("currentInstanceBootMode", "legacy-bios")
	g.raw("instanceState", `{"code":0,"name":"pending"}`)
	g.strs("privateDnsName", "ip-10-0-", ip1, "-", ip2, ".ec2.internal")
	g.num("amiLaunchIndex", 0)
	g.raw("productCodes", "{}")
	g.str("instanceType", typ)
	g.num("launchTime", g.t*1000)
	g.obj("placement")
	g.str("availabilityZone", az)
	g.str("tenancy", "default")
	g.close()
	g.raw("monitoring", `{"state":"disabled"}`)
	g.str("subnetId", g.pick(3, g.acct.subnets))
	g.str("vpcId", g.acct.vpc)
	g.strs("privateIpAddress", "10.0.", ip1, ".", ip2)
	g.raw("stateReason", `{"code":"pending","message":"pending"}`)
	g.str("architecture", "x86_64")
	g.str("rootDeviceType", "ebs")
	g.str("rootDeviceName", "/dev/xvda")
	g.raw("blockDeviceMapping", "{}")
	g.str("virtualizationType", "hvm")
	g.str("hypervisor", "xen")
	g.obj("groupSet")
	g.arr("items")
	g.elemObj()
	g.str("groupId", g.acct.sgs[0])
	g.str("groupName", "web-app")
	g.close()
	g.closeArr()
	g.close()
	g.boolean("sourceDestCheck", true)
	g.raw("cpuOptions", `{"coreCount":1,"threadsPerCore":2}`)
	g.raw("metadataOptions", `{"state":"pending","httpTokens":"required","httpPutResponseHopLimit":2,"httpEndpoint":"enabled","httpProtocolIpv4":"enabled","httpProtocolIpv6":"disabled","instanceMetadataTags":"disabled"}`)
	g.raw("enclaveOptions", `{"enabled":false}`)
	g.close()
	g.closeArr()
	g.close()
	g.close()
}

func createTagsParams(g *gen) {
	g.open()
	g.obj("resourcesSet")
	g.arr("items")
	g.elemObj()
	g.str("resourceId", g.pick(1, g.acct.instances))
	g.close()
	g.closeArr()
	g.close()
	g.raw("tagSet", `{"items":[{"key":"owner","value":"platform-team"},{"key":"cost-center","value":"cc-1042"}]}`)
	g.close()
}

func ec2ReturnTrue(g *gen) {
	g.open()
	g.uuidValue("requestId")
	g.boolean("_return", true)
	g.close()
}

func instanceIDParams(g *gen) {
	g.open()
	g.instanceItems("instancesSet", 1)
	g.close()
}

func stopInstancesParams(g *gen) {
	g.open()
	g.instanceItems("instancesSet", 1)
	g.boolean("force", false)
	g.close()
}

func (g *gen) stateChange(code int64, name string, prevCode int64, prev string) {
	g.open()
	g.uuidValue("requestId")
	g.obj("instancesSet")
	g.arr("items")
	g.elemObj()
	g.str("instanceId", g.acct.instances[int(g.p[1]%97)%len(g.acct.instances)])
	g.obj("currentState")
	g.num("code", code)
	g.str("name", name)
	g.close()
	g.obj("previousState")
	g.num("code", prevCode)
	g.str("name", prev)
	g.close()
	g.close()
	g.closeArr()
	g.close()
	g.close()
}

func terminateResp(g *gen) { g.stateChange(32, "shutting-down", 16, "running") }
func stopResp(g *gen)      { g.stateChange(64, "stopping", 16, "running") }

func authorizeSGParams(g *gen) {
	g.open()
	g.str("groupId", g.pick(1, g.acct.sgs))
	g.raw("ipPermissions", `{"items":[{"ipProtocol":"tcp","fromPort":443,"toPort":443,"groups":{},"ipRanges":{"items":[{"cidrIp":"10.0.0.0/16","description":"internal https"}]},"ipv6Ranges":{},"prefixListIds":{}}]}`)
	g.close()
}

func authorizeSGResp(g *gen) {
	g.open()
	g.uuidValue("requestId")
	g.boolean("_return", true)
	g.obj("securityGroupRuleSet")
	g.arr("items")
	g.elemObj()
	g.str("groupOwnerId", g.acct.id)
	g.str("groupId", g.pick(1, g.acct.sgs))
	g.key("securityGroupRuleId")
	g.q()
	g.b = append(g.b, "sgr-0"...)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.q()
	g.boolean("isEgress", false)
	g.str("ipProtocol", "tcp")
	g.num("fromPort", 443)
	g.num("toPort", 443)
	g.str("cidrIpv4", "10.0.0.0/16")
	g.str("description", "internal https")
	g.close()
	g.closeArr()
	g.close()
	g.close()
}

// ---- IAM ----

func roleARN(g *gen) { g.appendARN("arn:aws:iam::", g.acct.id, ":role/", g.pick(1, roleNames)) }
func userARN(g *gen) { g.appendARN("arn:aws:iam::", g.acct.id, ":user/", g.pick(1, userNames)) }

var newUsers = []string{"svc-reporting", "svc-backup", "frank", "grace", "svc-etl", "heidi"}

func newUserARN(g *gen) { g.appendARN("arn:aws:iam::", g.acct.id, ":user/", g.pick(1, newUsers)) }

func roleNameParams(g *gen) {
	g.open()
	g.str("roleName", g.pick(1, roleNames))
	g.close()
}

func userNameParams(g *gen) {
	g.open()
	g.str("userName", g.pick(1, userNames))
	g.close()
}

func newUserNameParams(g *gen) {
	g.open()
	g.str("userName", g.pick(1, newUsers))
	g.close()
}

func listRolesParams(g *gen) {
	if g.p[2]%2 == 0 {
		g.b = append(g.b, "null"...)
		return
	}
	g.open()
	g.num("maxItems", 1000)
	g.close()
}

var managedPolicies = []string{"arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
	"arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy", "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}

func attachRolePolicyParams(g *gen) {
	g.open()
	g.str("roleName", g.pick(1, roleNames))
	g.str("policyArn", g.pick(2, managedPolicies))
	g.close()
}

const trustPolicy = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Principal\": {\"Service\": \"lambda.amazonaws.com\"},\n      \"Action\": \"sts:AssumeRole\"\n    }\n  ]\n}"

func putRolePolicyParams(g *gen) {
	g.open()
	g.str("roleName", g.pick(1, roleNames))
	g.str("policyName", "inline-s3-access")
	g.key("policyDocument")
	g.b = appendJSONString(g.b, "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": [\"s3:GetObject\", \"s3:PutObject\"], \"Resource\": \"arn:aws:s3:::"+g.pick(0, g.acct.buckets)+"/*\"}]\n}")
	g.close()
}

func createRoleParams(g *gen) {
	g.open()
	g.str("roleName", g.pick(1, roleNames))
	g.str("assumeRolePolicyDocument", trustPolicy)
	g.str("description", "Managed by Terraform")
	g.raw("tags", `[{"key":"managed-by","value":"terraform"}]`)
	g.close()
}

func createRoleResp(g *gen) {
	g.open()
	g.obj("role")
	g.str("path", "/")
	g.str("roleName", g.pick(1, roleNames))
	g.key("roleId")
	g.q()
	g.b = append(g.b, "AROA"...)
	g.b = appendChars(g.b, g.r.Uint64(), 17, base32Upper)
	g.q()
	g.arnValue("arn", roleARN)
	g.dateValue("createDate", g.t)
	g.str("assumeRolePolicyDocument", "%7B%0A%20%20%22Version%22%3A%20%222012-10-17%22%2C%0A%20%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Principal%22%3A%20%7B%22Service%22%3A%20%22lambda.amazonaws.com%22%7D%2C%20%22Action%22%3A%20%22sts%3AAssumeRole%22%7D%5D%0A%7D")
	g.raw("tags", `[{"key":"managed-by","value":"terraform"}]`)
	g.close()
	g.close()
}

func createUserParams(g *gen) {
	g.open()
	g.str("userName", g.pick(1, newUsers))
	g.raw("tags", `[{"key":"team","value":"data"}]`)
	g.close()
}

func createUserResp(g *gen) {
	g.open()
	g.obj("user")
	g.str("path", "/")
	g.str("userName", g.pick(1, newUsers))
	g.key("userId")
	g.q()
	g.b = append(g.b, "AIDA"...)
	g.b = appendChars(g.b, g.r.Uint64(), 17, base32Upper)
	g.q()
	g.arnValue("arn", newUserARN)
	g.dateValue("createDate", g.t)
	g.raw("tags", `[{"key":"team","value":"data"}]`)
	g.close()
	g.close()
}

func createAccessKeyResp(g *gen) {
	g.open()
	g.obj("accessKey")
	g.str("userName", g.pick(1, newUsers))
	g.key("accessKeyId")
	g.q()
	g.b = append(g.b, "AKIA"...)
	g.b = appendChars(g.b, g.r.Uint64(), 16, base32Upper)
	g.q()
	g.str("status", "Active")
	g.dateValue("createDate", g.t)
	g.close()
	g.close()
}

// ---- Lambda ----

func lambdaARN(g *gen) {
	g.appendARN("arn:aws:lambda:", g.reg.name, ":", g.acct.id, ":function:", g.pick(1, functions))
}

func lambdaRes(g *gen) { g.resourceARN("AWS::Lambda::Function", true, lambdaARN) }

func invokeParams(g *gen) {
	g.open()
	g.arnValue("functionName", lambdaARN)
	if g.via != "" {
		g.str("invocationType", "Event")
	}
	g.close()
}

func invokeExtra(g *gen) {
	g.open()
	g.key("functionVersion")
	g.q()
	lambdaARN(g)
	g.b = append(g.b, ":$LATEST"...)
	g.q()
	g.close()
}

func updateFunctionCodeParams(g *gen) {
	fn := g.pick(1, functions)
	g.open()
	g.str("functionName", fn)
	g.str("s3Bucket", g.acct.buckets[5])
	g.strs("s3Key", "lambda/", fn, ".zip")
	g.boolean("publish", true)
	g.boolean("dryRun", false)
	g.close()
}

func updateFunctionCodeResp(g *gen) {
	fn := g.pick(1, functions)
	g.open()
	g.str("functionName", fn)
	g.arnValue("functionArn", lambdaARN)
	g.str("runtime", "python3.12")
	g.strs("role", "arn:aws:iam::", g.acct.id, ":role/", fn, "-role")
	g.str("handler", "app.handler")
	g.num("codeSize", int64(g.p[3]%9_000_000)+20_000)
	g.str("description", "")
	g.num("timeout", 30)
	g.num("memorySize", 512)
	g.key("lastModified")
	g.q()
	n := len(g.b)
	g.b = appendTime(g.b, g.t)[:n+19]
	g.b = append(g.b, ".000+0000"...)
	g.q()
	g.key("codeSha256")
	g.q()
	g.b = appendChars(g.b, g.r.Uint64(), 43, base64Chars)
	g.b = append(g.b, '=')
	g.q()
	g.strs("version", itoa(2+g.pickN(3, 40)))
	g.raw("tracingConfig", `{"mode":"PassThrough"}`)
	g.uuidValue("revisionId")
	g.str("state", "Active")
	g.str("lastUpdateStatus", "InProgress")
	g.str("lastUpdateStatusReason", "The function is being created.")
	g.str("lastUpdateStatusReasonCode", "Creating")
	g.str("packageType", "Zip")
	g.raw("architectures", `["x86_64"]`)
	g.raw("ephemeralStorage", `{"size":512}`)
	g.raw("snapStart", `{"applyOn":"None","optimizationStatus":"Off"}`)
	g.close()
}

// ---- DynamoDB ----

func tableARN(g *gen) {
	g.appendARN("arn:aws:dynamodb:", g.reg.name, ":", g.acct.id, ":table/", g.pick(1, tables))
}

func tableRes(g *gen) { g.resourceARN("AWS::DynamoDB::Table", true, tableARN) }

const hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

func getItemParams(g *gen) {
	g.open()
	g.str("tableName", g.pick(1, tables))
	g.obj("key")
	g.str("pk", hidden)
	g.str("sk", hidden)
	g.close()
	g.boolean("consistentRead", g.p[2]%4 == 0)
	g.close()
}

func putItemParams(g *gen) {
	g.open()
	g.str("tableName", g.pick(1, tables))
	g.obj("key")
	g.str("pk", hidden)
	g.str("sk", hidden)
	g.close()
	g.raw("item", `["pk","sk","status","updatedAt","total"]`)
	g.str("conditionExpression", "attribute_not_exists(pk)")
	g.str("returnValues", "NONE")
	g.close()
}

func queryParams(g *gen) {
	g.open()
	g.str("tableName", g.pick(1, tables))
	g.str("keyConditionExpression", "pk = :pk AND begins_with(sk, :prefix)")
	g.num("limit", 50)
	g.boolean("scanIndexForward", false)
	g.boolean("consistentRead", false)
	g.close()
}

// ---- Secrets Manager, SSM ----

func secretARN(g *gen) {
	g.appendARN("arn:aws:secretsmanager:", g.reg.name, ":", g.acct.id, ":secret:", g.pick(1, secrets), "-")
	g.b = appendChars(g.b, g.acct.seed^g.p[1]%uint64(len(secrets)), 6, base64Chars[:62])
}

func getSecretParams(g *gen) {
	g.open()
	if g.p[2]%2 == 0 {
		g.str("secretId", g.pick(1, secrets))
	} else {
		g.arnValue("secretId", secretARN)
	}
	g.close()
}

func parameterARN(g *gen) {
	g.appendARN("arn:aws:ssm:", g.reg.name, ":", g.acct.id, ":parameter", g.pick(1, parameters))
}

func getParameterParams(g *gen) {
	g.open()
	g.str("name", g.pick(1, parameters))
	g.boolean("withDecryption", g.p[2]%3 != 0)
	g.close()
}

func updateInstanceInfoParams(g *gen) {
	az := g.reg.azs[g.pickN(3, 3)]
	ip := itoa(int(g.a.seed % 250))
	g.open()
	g.str("instanceId", g.a.instance)
	g.str("agentVersion", "3.3.40.0")
	g.str("agentStatus", "Active")
	g.str("platformType", "Linux")
	g.str("platformName", "Amazon Linux")
	g.str("platformVersion", "2023")
	g.strs("iPAddress", "10.0.1.", ip)
	g.strs("computerName", "ip-10-0-1-", ip, ".ec2.internal")
	g.str("agentName", "amazon-ssm-agent")
	g.str("availabilityZone", az)
	g.close()
}

// ---- SQS, SNS ----

func queueARN(g *gen) {
	g.appendARN("arn:aws:sqs:", g.reg.name, ":", g.acct.id, ":", g.pick(1, queues))
}

func queueRes(g *gen) { g.resourceARN("AWS::SQS::Queue", true, queueARN) }

func (g *gen) queueURL() {
	g.strs("queueUrl", "https://sqs.", g.reg.name, ".amazonaws.com/", g.acct.id, "/", g.pick(1, queues))
}

func sendMessageParams(g *gen) {
	g.open()
	g.queueURL()
	g.str("messageBody", hidden)
	g.close()
}

func sendMessageResp(g *gen) {
	g.open()
	g.key("mD5OfMessageBody")
	g.q()
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.q()
	g.uuidValue("messageId")
	g.close()
}

func createQueueParams(g *gen) {
	g.open()
	g.str("queueName", g.pick(1, queues))
	g.raw("attributes", `{"VisibilityTimeout":"60","MessageRetentionPeriod":"345600","SqsManagedSseEnabled":"true"}`)
	g.close()
}

func createQueueResp(g *gen) {
	g.open()
	g.queueURL()
	g.close()
}

func topicARN(g *gen) {
	g.appendARN("arn:aws:sns:", g.reg.name, ":", g.acct.id, ":", g.pick(1, topics))
}

func topicRes(g *gen) { g.resourceARN("AWS::SNS::Topic", true, topicARN) }

func publishParams(g *gen) {
	g.open()
	g.arnValue("topicArn", topicARN)
	g.str("message", hidden)
	g.str("subject", hidden)
	g.close()
}

func publishResp(g *gen) {
	g.open()
	g.uuidValue("messageId")
	g.close()
}

// ---- CloudTrail, CloudWatch, Logs, RDS, Organizations ----

func trailARN(g *gen) {
	g.appendARN("arn:aws:cloudtrail:", g.reg.name, ":", g.acct.id, ":trail/", g.acct.trailName)
}

func trailNameParams(g *gen) {
	g.open()
	g.arnValue("name", trailARN)
	g.close()
}

func describeTrailsParams(g *gen) {
	g.open()
	g.raw("trailNameList", "[]")
	g.boolean("includeShadowTrails", true)
	g.close()
}

var lookupAttrs = [][2]string{{"EventName", "ConsoleLogin"}, {"Username", "alice"}, {"EventSource", "iam.amazonaws.com"},
	{"ResourceType", "AWS::EC2::SecurityGroup"}, {"ReadOnly", "false"}}

func lookupEventsParams(g *gen) {
	a := lookupAttrs[g.pickN(1, len(lookupAttrs))]
	g.open()
	g.arr("lookupAttributes")
	g.elemObj()
	g.str("attributeKey", a[0])
	g.str("attributeValue", a[1])
	g.close()
	g.closeArr()
	g.dateValue("startTime", g.t-86400)
	g.dateValue("endTime", g.t)
	g.num("maxResults", 50)
	g.close()
}

func describeAlarmsParams(g *gen) {
	g.open()
	if g.p[2]%2 == 0 {
		g.str("stateValue", "ALARM")
	} else {
		g.arr("alarmNames")
		g.elemStr(g.pick(1, alarms))
		g.closeArr()
	}
	g.num("maxRecords", 100)
	g.close()
}

func putMetricAlarmParams(g *gen) {
	g.open()
	g.str("alarmName", g.pick(1, alarms))
	g.str("metricName", "5XXError")
	g.str("namespace", "AWS/ApiGateway")
	g.str("statistic", "Sum")
	g.raw("dimensions", `[{"name":"ApiName","value":"orders"}]`)
	g.num("period", 60)
	g.num("evaluationPeriods", 5)
	g.float("threshold", 10)
	g.str("comparisonOperator", "GreaterThanThreshold")
	g.arr("alarmActions")
	g.elemStr("arn:aws:sns:" + g.reg.name + ":" + g.acct.id + ":alerts")
	g.closeArr()
	g.str("treatMissingData", "notBreaching")
	g.close()
}

func createLogStreamParams(g *gen) {
	g.open()
	g.strs("logGroupName", "/aws/lambda/", g.a.t.session)
	g.key("logStreamName")
	g.q()
	y, m, d := civil(g.t / 86400)
	g.b = append4(g.b, y)
	g.b = append(g.b, '/')
	g.b = append2(g.b, m)
	g.b = append(g.b, '/')
	g.b = append2(g.b, d)
	g.b = append(g.b, "/[$LATEST]"...)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.q()
	g.close()
}

func describeLogGroupsParams(g *gen) {
	g.open()
	g.str("logGroupNamePrefix", "/aws/lambda/")
	g.close()
}

func putRetentionParams(g *gen) {
	g.open()
	g.str("logGroupName", g.pick(1, logGroups))
	g.num("retentionInDays", 30)
	g.close()
}

func describeDBParams(g *gen) {
	if g.p[2]%2 == 0 {
		g.b = append(g.b, "null"...)
		return
	}
	g.open()
	g.str("dBInstanceIdentifier", g.pick(1, dbs))
	g.close()
}

func createDBSnapshotParams(g *gen) {
	db := g.pick(1, dbs)
	g.open()
	g.key("dBSnapshotIdentifier")
	g.q()
	g.b = append(g.b, db...)
	g.b = append(g.b, "-manual-"...)
	n := len(g.b)
	g.b = appendTime(g.b, g.t)[:n+10]
	g.q()
	g.str("dBInstanceIdentifier", db)
	g.close()
}

func createDBSnapshotResp(g *gen) {
	db := g.pick(1, dbs)
	g.open()
	g.key("dBSnapshotIdentifier")
	g.q()
	g.b = append(g.b, db...)
	g.b = append(g.b, "-manual-"...)
	n := len(g.b)
	g.b = appendTime(g.b, g.t)[:n+10]
	g.q()
	g.str("dBInstanceIdentifier", db)
	g.str("engine", "postgres")
	g.num("allocatedStorage", 100)
	g.str("status", "creating")
	g.num("port", 5432)
	g.str("availabilityZone", g.reg.azs[0])
	g.str("vpcId", g.acct.vpc)
	g.str("instanceCreateTime", "Mar 14, 2023, 9:26:53 AM")
	g.str("masterUsername", "app")
	g.str("engineVersion", "16.2")
	g.str("licenseModel", "postgresql-license")
	g.str("snapshotType", "manual")
	g.num("percentProgress", 0)
	g.str("storageType", "gp3")
	g.boolean("encrypted", true)
	g.key("kmsKeyId")
	g.q()
	g.appendARN("arn:aws:kms:", g.reg.name, ":", g.acct.id, ":key/")
	g.b = g.acct.appendKMSKeyID(g.b, g.reg, 1)
	g.q()
	g.str("snapshotTarget", "region")
	g.num("storageThroughput", 125)
	g.close()
}

func maxResultsParams(g *gen) {
	g.open()
	g.num("maxResults", 20)
	g.close()
}

func roleIdent(g *gen)    { g.b = append(g.b, g.pick(1, roleNames)...) }
func newUserIdent(g *gen) { g.b = append(g.b, g.pick(1, newUsers)...) }
func dbIdent(g *gen)      { g.b = append(g.b, g.pick(1, dbs)...) }
func instanceIdent(g *gen) {
	g.b = append(g.b, g.acct.instances[int(g.p[1]%97)%len(g.acct.instances)]...)
}

func trailIdent(g *gen) {
	trailARN(g)
	g.b = append(g.b, " for the user: "...)
	g.b = append(g.b, g.acct.id...)
}
