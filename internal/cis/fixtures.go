package cis

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"
)

// FixtureAccount and FixtureRegion are the account and region of the
// fixtures.
const (
	FixtureAccount = "111122223333"
	FixtureRegion  = "us-east-1"
)

// Fixture returns the control's positive (a record the control must
// match) or negative (a near miss it must not match) CloudTrail record,
// as compact JSON: complete records, as CloudTrail writes them.
func Fixture(key string, positive bool) ([]byte, error) {
	f, ok := fixtures[key]
	if !ok {
		return nil, fmt.Errorf("no fixture for control %q", key)
	}
	m := baseRecord()
	if positive {
		f.pos(m)
	} else {
		f.neg(m)
	}
	return marshal(m)
}

// marshal encodes a record compactly without escaping <, > and & (as
// CloudTrail writes them).
func marshal(m obj) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Synthetic returns the control's positive fixture as a fresh event of
// account in region at now: a new eventID and requestID, and
// additionalEventData.opentrailSynthetic = true so that it is recognisable
// as a test (in lookups, in the log group, in the notification).
func Synthetic(key, account, region string, now time.Time) ([]byte, string, error) {
	raw, err := Fixture(key, true)
	if err != nil {
		return nil, "", err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, "", err
	}
	id := uuid()
	m["eventID"] = id
	m["requestID"] = uuid()
	m["eventTime"] = now.UTC().Format(time.RFC3339)
	m["recipientAccountId"] = account
	m["awsRegion"] = region
	if ui, ok := m["userIdentity"].(map[string]any); ok {
		if _, has := ui["accountId"]; has {
			ui["accountId"] = account
		}
		if arn, ok := ui["arn"].(string); ok {
			ui["arn"] = replaceAccount(arn, account)
		}
	}
	aed, _ := m["additionalEventData"].(map[string]any)
	if aed == nil {
		aed = map[string]any{}
	}
	aed["opentrailSynthetic"] = true
	m["additionalEventData"] = aed
	out, err := marshal(m)
	return out, id, err
}

func replaceAccount(arn, account string) string {
	// arn:aws:iam::111122223333:...
	const prefix = "arn:aws:iam::"
	if len(arn) > len(prefix)+12 && arn[:len(prefix)] == prefix {
		return prefix + account + arn[len(prefix)+12:]
	}
	return arn
}

func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

type obj = map[string]any

// baseRecord is an IAM user's management API call.
func baseRecord() obj {
	return obj{
		"eventVersion": "1.09",
		"userIdentity": obj{
			"type":        "IAMUser",
			"principalId": "AIDAJ45Q7YFFAREXAMPLE",
			"arn":         "arn:aws:iam::111122223333:user/alice",
			"accountId":   FixtureAccount,
			"accessKeyId": "AKIAIOSFODNN7EXAMPLE",
			"userName":    "alice",
		},
		"eventTime":          "2026-11-20T14:03:11Z",
		"eventSource":        "ec2.amazonaws.com",
		"eventName":          "DescribeInstances",
		"awsRegion":          FixtureRegion,
		"sourceIPAddress":    "203.0.113.17",
		"userAgent":          "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/ec2.describe-instances",
		"requestParameters":  nil,
		"responseElements":   nil,
		"requestID":          "6f2c3e1a-9b7d-4c1e-8f3a-2d5b7c9e1f04",
		"eventID":            "0b6f1e9c-5d2a-4f7b-9c3e-8a1d2f4b6c70",
		"readOnly":           false,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": FixtureAccount,
		"eventCategory":      "Management",
		"tlsDetails": obj{
			"tlsVersion":               "TLSv1.3",
			"cipherSuite":              "TLS_AES_128_GCM_SHA256",
			"clientProvidedHostHeader": "ec2.us-east-1.amazonaws.com",
		},
	}
}

// call sets the service and operation of a record.
func call(m obj, source, name string, readOnly bool, req, resp any) {
	m["eventSource"] = source
	m["eventName"] = name
	m["readOnly"] = readOnly
	m["requestParameters"] = req
	m["responseElements"] = resp
	if tls, ok := m["tlsDetails"].(obj); ok {
		host := source[:len(source)-len(".amazonaws.com")]
		if host == "iam" || host == "organizations" {
			tls["clientProvidedHostHeader"] = host + ".amazonaws.com"
		} else {
			tls["clientProvidedHostHeader"] = host + "." + FixtureRegion + ".amazonaws.com"
		}
	}
}

// consoleLogin makes the record a console sign-in.
func consoleLogin(m obj, success bool, mfa string) {
	m["eventSource"] = "signin.amazonaws.com"
	m["eventName"] = "ConsoleLogin"
	m["eventVersion"] = "1.08"
	m["userAgent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
	m["requestParameters"] = nil
	delete(m, "readOnly")
	delete(m, "tlsDetails")
	delete(m["userIdentity"].(obj), "accessKeyId")
	m["additionalEventData"] = obj{
		"LoginTo":       "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
		"MobileVersion": "No",
		"MFAUsed":       mfa,
	}
	if success {
		m["responseElements"] = obj{"ConsoleLogin": "Success"}
	} else {
		m["responseElements"] = obj{"ConsoleLogin": "Failure"}
		m["errorMessage"] = "Failed authentication"
	}
}

type fixture struct{ pos, neg func(obj) }

var fixtures = map[string]fixture{
	"unauthorized-api-calls": {
		pos: func(m obj) {
			call(m, "ec2.amazonaws.com", "RunInstances", false, obj{"instancesSet": obj{"items": []any{obj{"imageId": "ami-0abcdef1234567890", "minCount": 1, "maxCount": 1}}}, "instanceType": "t3.micro"}, nil)
			m["errorCode"] = "Client.UnauthorizedOperation"
			m["errorMessage"] = "You are not authorized to perform this operation. User: arn:aws:iam::111122223333:user/alice is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-east-1:111122223333:instance/* because no identity-based policy allows the ec2:RunInstances action."
		},
		neg: func(m obj) {
			call(m, "ec2.amazonaws.com", "DescribeInstances", true, obj{"instancesSet": obj{}, "filterSet": obj{}}, nil)
			m["errorCode"] = "Client.RequestLimitExceeded"
			m["errorMessage"] = "Request limit exceeded."
		},
	},
	"console-signin-without-mfa": {
		pos: func(m obj) { consoleLogin(m, true, "No") },
		neg: func(m obj) { consoleLogin(m, true, "Yes") },
	},
	"root-account-usage": {
		pos: func(m obj) {
			m["userIdentity"] = obj{"type": "Root", "principalId": FixtureAccount, "arn": "arn:aws:iam::111122223333:root", "accountId": FixtureAccount, "accessKeyId": "ASIAQWERTYUIOPEXAMPLE",
				"sessionContext": obj{"attributes": obj{"creationDate": "2026-11-20T13:58:40Z", "mfaAuthenticated": "false"}}}
			call(m, "iam.amazonaws.com", "CreateAccessKey", false, obj{}, obj{"accessKey": obj{"accessKeyId": "AKIAI44QH8DHBEXAMPLE", "status": "Active", "createDate": "Nov 20, 2026 2:03:11 PM"}})
		},
		neg: func(m obj) {
			m["userIdentity"] = obj{"type": "Root", "principalId": FixtureAccount, "arn": "arn:aws:iam::111122223333:root", "accountId": FixtureAccount, "invokedBy": "support.amazonaws.com"}
			call(m, "iam.amazonaws.com", "GetAccountSummary", true, nil, nil)
			m["sourceIPAddress"] = "support.amazonaws.com"
			m["userAgent"] = "support.amazonaws.com"
		},
	},
	"iam-policy-changes": {
		pos: func(m obj) {
			call(m, "iam.amazonaws.com", "AttachUserPolicy", false, obj{"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, nil)
		},
		neg: func(m obj) {
			call(m, "iam.amazonaws.com", "GetPolicyVersion", true, obj{"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess", "versionId": "v1"}, nil)
		},
	},
	"cloudtrail-config-changes": {
		pos: func(m obj) {
			call(m, "cloudtrail.amazonaws.com", "StopLogging", false, obj{"name": "arn:aws:cloudtrail:us-east-1:111122223333:trail/management-events"}, nil)
		},
		neg: func(m obj) {
			call(m, "cloudtrail.amazonaws.com", "GetTrailStatus", true, obj{"name": "arn:aws:cloudtrail:us-east-1:111122223333:trail/management-events"}, nil)
		},
	},
	"console-auth-failures": {
		pos: func(m obj) { consoleLogin(m, false, "No") },
		neg: func(m obj) { consoleLogin(m, true, "Yes") },
	},
	"cmk-disable-or-deletion": {
		pos: func(m obj) {
			call(m, "kms.amazonaws.com", "ScheduleKeyDeletion", false, obj{"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "pendingWindowInDays": 7},
				obj{"keyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "deletionDate": "Nov 27, 2026, 12:00:00 AM", "keyState": "PendingDeletion", "pendingWindowInDays": 7})
			m["resources"] = []any{obj{"accountId": FixtureAccount, "type": "AWS::KMS::Key", "ARN": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}
		},
		neg: func(m obj) {
			call(m, "kms.amazonaws.com", "DisableKeyRotation", false, obj{"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}, nil)
			m["resources"] = []any{obj{"accountId": FixtureAccount, "type": "AWS::KMS::Key", "ARN": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}
		},
	},
	"s3-bucket-policy-changes": {
		pos: func(m obj) {
			call(m, "s3.amazonaws.com", "PutBucketPolicy", false, obj{"bucketName": "example-reports", "Host": "example-reports.s3.us-east-1.amazonaws.com", "policy": ""}, nil)
			m["resources"] = []any{obj{"accountId": FixtureAccount, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::example-reports"}}
		},
		neg: func(m obj) {
			call(m, "s3.amazonaws.com", "GetBucketPolicy", true, obj{"bucketName": "example-reports", "Host": "example-reports.s3.us-east-1.amazonaws.com", "policy": ""}, nil)
			m["resources"] = []any{obj{"accountId": FixtureAccount, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::example-reports"}}
		},
	},
	"config-changes": {
		pos: func(m obj) {
			call(m, "config.amazonaws.com", "StopConfigurationRecorder", false, obj{"configurationRecorderName": "default"}, nil)
		},
		neg: func(m obj) {
			call(m, "config.amazonaws.com", "DescribeConfigurationRecorderStatus", true, obj{"configurationRecorderNames": []any{"default"}}, nil)
		},
	},
	"security-group-changes": {
		pos: func(m obj) {
			call(m, "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", false,
				obj{"groupId": "sg-0123456789abcdef0", "ipPermissions": obj{"items": []any{obj{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": obj{"items": []any{obj{"cidrIp": "0.0.0.0/0"}}}}}}},
				obj{"requestId": "6f2c3e1a-9b7d-4c1e-8f3a-2d5b7c9e1f04", "_return": true})
		},
		neg: func(m obj) {
			call(m, "ec2.amazonaws.com", "DescribeSecurityGroups", true, obj{"securityGroupSet": obj{}, "securityGroupIdSet": obj{"items": []any{obj{"groupId": "sg-0123456789abcdef0"}}}}, nil)
		},
	},
	"nacl-changes": {
		pos: func(m obj) {
			call(m, "ec2.amazonaws.com", "CreateNetworkAclEntry", false,
				obj{"networkAclId": "acl-0123456789abcdef0", "ruleNumber": 100, "egress": false, "ruleAction": "allow", "icmpTypeCode": obj{}, "portRange": obj{"from": 22, "to": 22}, "aclProtocol": "6", "cidrBlock": "0.0.0.0/0"},
				obj{"requestId": "6f2c3e1a-9b7d-4c1e-8f3a-2d5b7c9e1f04", "_return": true})
		},
		neg: func(m obj) {
			call(m, "ec2.amazonaws.com", "DescribeNetworkAcls", true, obj{"networkAclIdSet": obj{}, "filterSet": obj{}}, nil)
		},
	},
	"network-gateway-changes": {
		pos: func(m obj) {
			call(m, "ec2.amazonaws.com", "AttachInternetGateway", false, obj{"internetGatewayId": "igw-0123456789abcdef0", "vpcId": "vpc-0123456789abcdef0"},
				obj{"requestId": "6f2c3e1a-9b7d-4c1e-8f3a-2d5b7c9e1f04", "_return": true})
		},
		neg: func(m obj) {
			call(m, "ec2.amazonaws.com", "DescribeInternetGateways", true, obj{"internetGatewayIdSet": obj{}, "filterSet": obj{}}, nil)
		},
	},
	"route-table-changes": {
		pos: func(m obj) {
			call(m, "ec2.amazonaws.com", "CreateRoute", false, obj{"routeTableId": "rtb-0123456789abcdef0", "destinationCidrBlock": "0.0.0.0/0", "gatewayId": "igw-0123456789abcdef0"},
				obj{"requestId": "6f2c3e1a-9b7d-4c1e-8f3a-2d5b7c9e1f04", "_return": true})
		},
		neg: func(m obj) {
			call(m, "ec2.amazonaws.com", "DescribeRouteTables", true, obj{"routeTableIdSet": obj{}, "filterSet": obj{}}, nil)
		},
	},
	"vpc-changes": {
		pos: func(m obj) {
			call(m, "ec2.amazonaws.com", "CreateVpcPeeringConnection", false, obj{"vpcId": "vpc-0123456789abcdef0", "peerVpcId": "vpc-0fedcba9876543210", "peerOwnerId": "444455556666"},
				obj{"requestId": "6f2c3e1a-9b7d-4c1e-8f3a-2d5b7c9e1f04", "vpcPeeringConnection": obj{"vpcPeeringConnectionId": "pcx-0123456789abcdef0"}})
		},
		neg: func(m obj) {
			call(m, "ec2.amazonaws.com", "DescribeVpcs", true, obj{"vpcSet": obj{}, "filterSet": obj{}}, nil)
		},
	},
	"organizations-changes": {
		pos: func(m obj) {
			call(m, "organizations.amazonaws.com", "LeaveOrganization", false, nil, nil)
		},
		neg: func(m obj) {
			call(m, "organizations.amazonaws.com", "DescribeOrganization", true, nil, nil)
		},
	},
}
