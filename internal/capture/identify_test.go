package capture_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/event"
)

func request(method, url string, hdr map[string]string, body string) *http.Request {
	r := httptest.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return r
}

// params compares a call's parameters through JSON, as they are recorded.
func params(t *testing.T, c capture.Call) map[string]any {
	t.Helper()
	b, err := json.Marshal(c.Params)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIdentifyS3(t *testing.T) {
	tests := []struct {
		name           string
		method, url    string
		hdr            map[string]string
		op             string
		readOnly, data bool
		bucket, key    string
		params         map[string]any
		resources      int
	}{
		{"path style object", "GET", "http://127.0.0.1:7070/b/a/b%20c.txt", nil,
			"GetObject", true, true, "b", "a/b c.txt",
			map[string]any{"Host": "127.0.0.1:7070", "bucketName": "b", "key": "a/b c.txt"}, 2},
		{"virtual host object", "HEAD", "http://logs.localhost:7070/k", nil,
			"HeadObject", true, true, "logs", "k",
			map[string]any{"Host": "logs.localhost:7070", "bucketName": "logs", "key": "k"}, 2},
		{"list v2", "GET", "http://127.0.0.1:7070/b?list-type=2&prefix=&delimiter=%2F&encoding-type=url&x-id=ListObjectsV2", nil,
			"ListObjectsV2", true, false, "b", "",
			map[string]any{"Host": "127.0.0.1:7070", "bucketName": "b", "list-type": "2", "prefix": "", "delimiter": "/", "encoding-type": "url"}, 1},
		{"list buckets", "GET", "http://127.0.0.1:7070/", nil,
			"ListBuckets", true, false, "", "", map[string]any{"Host": "127.0.0.1:7070"}, 0},
		{"copy", "PUT", "http://127.0.0.1:7070/b/dst", map[string]string{"x-amz-copy-source": "b/src", "x-amz-metadata-directive": "COPY",
			"x-amz-meta-owner": "alice", "x-amz-security-token": "TOKEN", "x-amz-server-side-encryption-customer-key": "KEY",
			"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": "20250101T000000Z", "x-amz-checksum-crc32": "AAAAAA=="},
			"CopyObject", false, true, "b", "dst",
			map[string]any{"Host": "127.0.0.1:7070", "bucketName": "b", "key": "dst", "x-amz-copy-source": "b/src", "x-amz-metadata-directive": "COPY"}, 2},
		{"create multipart", "POST", "http://127.0.0.1:7070/b/big?uploads", nil,
			"CreateMultipartUpload", false, true, "b", "big",
			map[string]any{"Host": "127.0.0.1:7070", "bucketName": "b", "key": "big", "uploads": ""}, 2},
		{"upload part", "PUT", "http://127.0.0.1:7070/b/big?partNumber=2&uploadId=U1", nil,
			"UploadPart", false, true, "b", "big",
			map[string]any{"Host": "127.0.0.1:7070", "bucketName": "b", "key": "big", "partNumber": "2", "uploadId": "U1"}, 2},
		{"upload part copy", "PUT", "http://127.0.0.1:7070/b/big?partNumber=3&uploadId=U1", map[string]string{"x-amz-copy-source": "b/src", "x-amz-copy-source-range": "bytes=0-9"},
			"UploadPartCopy", false, true, "b", "big",
			map[string]any{"Host": "127.0.0.1:7070", "bucketName": "b", "key": "big", "partNumber": "3", "uploadId": "U1", "x-amz-copy-source": "b/src", "x-amz-copy-source-range": "bytes=0-9"}, 2},
		{"complete multipart", "POST", "http://127.0.0.1:7070/b/big?uploadId=U1", nil,
			"CompleteMultipartUpload", false, true, "b", "big",
			map[string]any{"Host": "127.0.0.1:7070", "bucketName": "b", "key": "big", "uploadId": "U1"}, 2},
		{"abort multipart", "DELETE", "http://127.0.0.1:7070/b/big?uploadId=U1", nil,
			"AbortMultipartUpload", false, true, "b", "big",
			map[string]any{"Host": "127.0.0.1:7070", "bucketName": "b", "key": "big", "uploadId": "U1"}, 2},
		{"list parts", "GET", "http://127.0.0.1:7070/b/big?uploadId=U1", nil,
			"ListParts", true, true, "b", "big",
			map[string]any{"Host": "127.0.0.1:7070", "bucketName": "b", "key": "big", "uploadId": "U1"}, 2},
		{"list uploads", "GET", "http://127.0.0.1:7070/b?uploads", nil,
			"ListMultipartUploads", true, false, "b", "",
			map[string]any{"Host": "127.0.0.1:7070", "bucketName": "b", "uploads": ""}, 1},
		{"delete objects", "POST", "http://127.0.0.1:7070/b?delete", nil,
			"DeleteObjects", false, true, "b", "",
			map[string]any{"Host": "127.0.0.1:7070", "bucketName": "b", "delete": ""}, 1},
		{"put object tagging", "PUT", "http://127.0.0.1:7070/b/k?tagging", nil,
			"PutObjectTagging", false, true, "b", "k",
			map[string]any{"Host": "127.0.0.1:7070", "bucketName": "b", "key": "k", "tagging": ""}, 2},
		{"presigned get", "GET", "http://127.0.0.1:7070/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20250101%2Fus-east-1%2Fs3%2Faws4_request" +
			"&X-Amz-Date=20250101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Security-Token=TOKEN&X-Amz-Signature=abcdef", nil,
			"GetObject", true, true, "b", "k",
			map[string]any{"Host": "127.0.0.1:7070", "bucketName": "b", "key": "k", "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
				"X-Amz-Credential": "AKID/20250101/us-east-1/s3/aws4_request", "X-Amz-Date": "20250101T000000Z", "X-Amz-Expires": "3600", "X-Amz-SignedHeaders": "host"}, 2},
		{"no operation", "PATCH", "http://127.0.0.1:7070/b/k", nil,
			"PATCH /b", false, false, "b", "k",
			map[string]any{"Host": "127.0.0.1:7070", "bucketName": "b", "key": "k"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := capture.Identify(request(tc.method, tc.url, tc.hdr, ""), "s3", nil, nil)
			if c.Name != tc.op || c.ReadOnly != tc.readOnly || c.Data != tc.data || c.Protocol != capture.ProtocolS3 ||
				c.Source != "s3.amazonaws.com" || c.Bucket != tc.bucket || c.Key != tc.key {
				t.Errorf("call %+v; want %s readOnly %v data %v bucket %q key %q", c, tc.op, tc.readOnly, tc.data, tc.bucket, tc.key)
			}
			if got := params(t, c); !reflect.DeepEqual(got, tc.params) {
				t.Errorf("params %v\nwant   %v", got, tc.params)
			}
			if len(c.Resources) != tc.resources {
				t.Errorf("resources %v, want %d", c.Resources, tc.resources)
			}
		})
	}
}

// TestIdentifyS3IgnoresObjectBodies: a body given with an object call is
// never recorded, not even when it parses.
func TestIdentifyS3IgnoresObjectBodies(t *testing.T) {
	body := `<Delete><Object><Key>secret-plans.txt</Key></Object></Delete>`
	for _, url := range []string{"http://h/b/k", "http://h/b?delete"} {
		c := capture.Identify(request("POST", url, nil, body), "s3", []byte(body), nil)
		if b, _ := json.Marshal(c.Params); strings.Contains(string(b), "secret-plans") {
			t.Errorf("%s: %s", url, b)
		}
	}
}

func TestIdentifyJSON(t *testing.T) {
	body := `{"TableName":"Music","Item":{"Artist":{"S":"No One"}},"ConditionExpression":"attribute_not_exists(Artist)",` +
		`"Credentials":{"Password":"hunter2","SessionToken":"tok","NextToken":"page2"},"Limit":10}`
	r := request("POST", "https://dynamodb.us-east-1.amazonaws.com/", map[string]string{
		"X-Amz-Target": "DynamoDB_20120810.PutItem", "Content-Type": "application/x-amz-json-1.0"}, body)
	c := capture.Identify(r, "dynamodb", []byte(body), &capture.Options{Redact: []string{"conditionexpression"}})
	if c.Name != "PutItem" || c.ReadOnly || c.Protocol != capture.ProtocolJSON || c.Source != "dynamodb.amazonaws.com" || c.Data {
		t.Errorf("call %+v", c)
	}
	want := map[string]any{"tableName": "Music", "item": map[string]any{"artist": map[string]any{"s": "No One"}},
		"conditionExpression": capture.Hidden,
		"credentials":         map[string]any{"password": capture.Hidden, "sessionToken": capture.Hidden, "nextToken": "page2"},
		"limit":               float64(10)}
	if got := params(t, c); !reflect.DeepEqual(got, want) {
		t.Errorf("params %v\nwant   %v", got, want)
	}
	for target, readOnly := range map[string]bool{"DynamoDB_20120810.GetItem": true, "DynamoDB_20120810.BatchGetItem": true,
		"DynamoDB_20120810.BatchWriteItem": false, "DynamoDB_20120810.Scan": true, "Logs_20140328.DescribeLogGroups": true,
		"Gateway_1.Getaway": false, "AWSKMS_20141101.Encrypt": false} {
		r := request("POST", "https://x/", map[string]string{"X-Amz-Target": target}, "")
		if c := capture.Identify(r, "x", nil, nil); c.ReadOnly != readOnly || c.Params != nil {
			t.Errorf("%s: readOnly %v params %v, want %v and none", target, c.ReadOnly, c.Params, readOnly)
		}
	}
}

func TestIdentifyQuery(t *testing.T) {
	body := "Action=CreateQueue&Version=2012-11-05&QueueName=orders&Attribute.1.Name=DelaySeconds&Attribute.1.Value=5" +
		"&Tags.member.1.Key=team&Tags.member.1.Value=a&Tags.member.2.Key=env&Tags.member.2.Value=prod" +
		"&Attributes.entry.1.key=Policy&Attributes.entry.1.value=%7B%7D&AWSAccountIds.member.2=222&AWSAccountIds.member.1=111" +
		"&NewPassword=pw"
	r := request("POST", "https://sqs.us-east-1.amazonaws.com/", map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body)
	c := capture.Identify(r, "sqs", []byte(body), nil)
	if c.Name != "CreateQueue" || c.ReadOnly || c.Protocol != capture.ProtocolQuery {
		t.Errorf("call %+v", c)
	}
	want := map[string]any{"queueName": "orders",
		"attribute":     []any{map[string]any{"name": "DelaySeconds", "value": "5"}},
		"tags":          []any{map[string]any{"key": "team", "value": "a"}, map[string]any{"key": "env", "value": "prod"}},
		"attributes":    map[string]any{"Policy": "{}"},
		"aWSAccountIds": []any{"111", "222"},
		"newPassword":   capture.Hidden}
	if got := params(t, c); !reflect.DeepEqual(got, want) {
		t.Errorf("params %v\nwant   %v", got, want)
	}

	r = request("GET", "https://sqs.us-east-1.amazonaws.com/?Action=ListQueues&Version=2012-11-05&QueueNamePrefix=o&X-Amz-Signature=sig", nil, "")
	c = capture.Identify(r, "sqs", nil, nil)
	if c.Name != "ListQueues" || !c.ReadOnly || !reflect.DeepEqual(params(t, c), map[string]any{"queueNamePrefix": "o"}) {
		t.Errorf("call %+v", c)
	}
}

func TestIdentifyRESTJSON(t *testing.T) {
	o := &capture.Options{Routes: []capture.Route{
		{Service: "lambda", Method: "GET", Pattern: "/2015-03-31/functions/{FunctionName}", Name: "GetFunction", ReadOnly: true},
		{Service: "lambda", Method: "POST", Pattern: "/2015-03-31/functions/{FunctionName}/invocations", Name: "Invoke"},
		{Service: "files", Method: "PUT", Pattern: "/v1/files/{Path+}", Name: "PutFile"},
		{Service: "files", Method: "PUT", Pattern: "/v1/files/{Path+}?tagging", Name: "PutFileTagging"},
		{Service: "files", Method: "GET", Pattern: "/v1/files/{Path+}?x-id=GetFileAcl", Name: "GetFileAcl", ReadOnly: true},
		{Service: "lambda", Method: "GET", Pattern: "/2015-03-31/functions/{FunctionName}/{Sub}", Name: "GetFunctionSub", ReadOnly: true},
		{Service: "lambda", Method: "GET", Pattern: "/2015-03-31/functions/{FunctionName}/policy", Name: "GetPolicy", ReadOnly: true},
	}}
	body := `{"Payload":"x","ApiKey":"k"}`
	r := request("POST", "https://lambda/2015-03-31/functions/my-fn/invocations?Qualifier=2", nil, body)
	c := capture.Identify(r, "lambda", []byte(body), &capture.Options{Routes: o.Routes, Redact: []string{"apiKey"}})
	want := map[string]any{"functionName": "my-fn", "qualifier": "2", "payload": "x", "apiKey": capture.Hidden}
	if c.Name != "Invoke" || c.ReadOnly || c.Protocol != capture.ProtocolRESTJSON || !reflect.DeepEqual(params(t, c), want) {
		t.Errorf("call %+v params %v", c, params(t, c))
	}
	c = capture.Identify(request("GET", "https://lambda/2015-03-31/functions/my-fn", nil, ""), "lambda", nil, o)
	if c.Name != "GetFunction" || !c.ReadOnly {
		t.Errorf("call %+v", c)
	}
	c = capture.Identify(request("PUT", "https://files/v1/files/a/b/c.txt", nil, ""), "files", nil, o)
	if c.Name != "PutFile" || !reflect.DeepEqual(params(t, c), map[string]any{"path": "a/b/c.txt"}) {
		t.Errorf("call %+v", c)
	}
	c = capture.Identify(request("PUT", "https://files/v1/files/a/b.txt?tagging", nil, ""), "files", nil, o)
	if c.Name != "PutFileTagging" {
		t.Errorf("query sub-resource route: %+v", c)
	}
	c = capture.Identify(request("GET", "https://files/v1/files/a/b.txt?x-id=GetFileAcl", nil, ""), "files", nil, o)
	if c.Name != "GetFileAcl" || !c.ReadOnly {
		t.Errorf("query value route: %+v", c)
	}
	c = capture.Identify(request("GET", "https://lambda/2015-03-31/functions/my%2Ffn/policy", nil, ""), "lambda", nil, o)
	if c.Name != "GetPolicy" || !reflect.DeepEqual(params(t, c), map[string]any{"functionName": "my/fn"}) {
		t.Errorf("literal segment preferred, escaped slash kept in its segment: %+v %v", c, params(t, c))
	}
	// Another service's route does not match.
	c = capture.Identify(request("GET", "https://x/2015-03-31/functions/my-fn", nil, ""), "other", nil, o)
	if c.Protocol != capture.ProtocolUnknown || c.Name != "GET /2015-03-31" || !c.ReadOnly {
		t.Errorf("call %+v", c)
	}
}

func TestIdentifyUnknown(t *testing.T) {
	body := `{"OrderId":"o-1","Card":{"Number":"4111","Password":"x"}}`
	c := capture.Identify(request("POST", "http://svc/orders?dryRun=true", nil, body), "orders.example.com", []byte(body), nil)
	want := map[string]any{"dryRun": "true", "orderId": "o-1", "card": map[string]any{"number": "4111", "password": capture.Hidden}}
	if c.Name != "POST /orders" || c.Source != "orders.example.com" || !reflect.DeepEqual(params(t, c), want) {
		t.Errorf("unknown call with a JSON body: %+v %v", c, params(t, c))
	}
	for _, tc := range []struct{ method, url, name string }{
		{"GET", "http://svc/users/42?verbose=1", "GET /users"},
		{"POST", "http://svc/", "POST /"},
		{"DELETE", "http://svc/orders", "DELETE /orders"},
		{"GET", "http://svc/users/%2F%2F", "GET /users"},
	} {
		c := capture.Identify(request(tc.method, tc.url, nil, ""), "orders", nil, nil)
		if c.Name != tc.name || c.Protocol != capture.ProtocolUnknown || c.ReadOnly != (tc.method == "GET") {
			t.Errorf("%s %s: %+v, want %s", tc.method, tc.url, c, tc.name)
		}
	}
}

// record writes ex's record, checks that the store would take it
// (event.Parse) and decodes it.
func record(t *testing.T, ex *capture.Exchange) map[string]any {
	t.Helper()
	b := capture.Record(ex)
	if _, err := event.Parse(b); err != nil {
		t.Errorf("the store refuses the record: %v\n%s", err, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("record is not JSON: %v\n%s", err, b)
	}
	return m
}

var alice = &auth.Principal{AccessKeyID: "AKIAALICE", AccountID: "111122223333", Type: "IAMUser", UserName: "alice",
	ARN: "arn:aws:iam::111122223333:user/alice", PrincipalID: "AIDAALICE"}

// TestIntentAndFinalRecords: the intent record says what is known before
// the answer, with its outcome unknown; the final record has the same
// eventID and the answer.
func TestIntentAndFinalRecords(t *testing.T) {
	c := capture.Identify(request("POST", "http://127.0.0.1:7070/b/big?uploads", nil, ""), "s3", nil, nil)
	ex := &capture.Exchange{Call: c, Principal: alice, Region: "us-east-1", EventID: "5f6b2c1e-0000-4000-8000-000000000001",
		AuthMethod: "AuthHeader", SignatureVersion: "SigV4"}
	intent := record(t, ex)
	if intent["errorCode"] != nil || intent["responseElements"] != nil || intent["eventID"] != ex.EventID ||
		intent["recipientAccountId"] != "111122223333" {
		t.Errorf("intent %v", intent)
	}
	add := intent["additionalEventData"].(map[string]any)
	if add["outcome"] != "unknown" || add["SignatureVersion"] != "SigV4" || add["AuthenticationMethod"] != "AuthHeader" || add["bytesTransferredIn"] != nil {
		t.Errorf("intent additionalEventData %v", add)
	}
	ex.Status = 200
	ex.ResponseHeader = http.Header{"X-Amz-Server-Side-Encryption": {"AES256"}, "Content-Type": {"application/xml"}}
	ex.ResponseBody = []byte(`<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
		`<Bucket>b</Bucket><Key>big</Key><UploadId>U1</UploadId></InitiateMultipartUploadResult>`)
	final := record(t, ex)
	want := map[string]any{"x-amz-server-side-encryption": "AES256",
		"CreateMultipartUploadResult": map[string]any{"bucket": "b", "key": "big", "uploadId": "U1"}}
	if final["eventID"] != ex.EventID || !reflect.DeepEqual(final["responseElements"], want) {
		t.Errorf("final eventID %v responseElements %v", final["eventID"], final["responseElements"])
	}
	if _, ok := final["additionalEventData"].(map[string]any)["outcome"]; ok {
		t.Errorf("final record has an outcome: %v", final["additionalEventData"])
	}
	res := final["resources"].([]any)
	if len(res) != 2 || res[1].(map[string]any)["accountId"] != "111122223333" {
		t.Errorf("resources %v", res)
	}

	ex.Status, ex.Err = 0, errors.New("dial tcp 127.0.0.1:9: connection refused")
	failed := record(t, ex)
	add = failed["additionalEventData"].(map[string]any)
	if add["outcome"] != "unknown" || !strings.Contains(add["upstreamError"].(string), "connection refused") || failed["errorCode"] != nil {
		t.Errorf("transport error record %v", failed)
	}
}

func TestErrorCodes(t *testing.T) {
	s3head := capture.Identify(request("HEAD", "http://h/b/k", nil, ""), "s3", nil, nil)
	s3bucket := capture.Identify(request("HEAD", "http://h/b", nil, ""), "s3", nil, nil)
	jsonCall := capture.Identify(request("POST", "http://h/", map[string]string{"X-Amz-Target": "DynamoDB_20120810.GetItem"}, ""), "dynamodb", nil, nil)
	cborCall := capture.Identify(request("POST", "http://h/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
		map[string]string{"Smithy-Protocol": "rpc-v2-cbor"}, ""), "monitoring", nil, nil)
	queryCall := capture.Identify(request("GET", "http://h/?Action=GetQueueUrl&QueueName=q", nil, ""), "sqs", nil, nil)
	for _, tc := range []struct {
		name      string
		call      capture.Call
		status    int
		hdr       http.Header
		body      string
		code, msg string
	}{
		{"HEAD object 404", s3head, 404, nil, "", "NoSuchKey", ""},
		{"HEAD bucket 404", s3bucket, 404, nil, "", "NoSuchBucket", ""},
		{"HEAD 403", s3head, 403, nil, "", "AccessDenied", ""},
		{"S3 XML", s3head, 503, nil, "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>", "SlowDown", "Please reduce your request rate."},
		{"JSON __type with namespace", jsonCall, 400, nil, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}`,
			"ResourceNotFoundException", "Requested resource not found"},
		{"JSON code and Message", jsonCall, 400, nil, `{"code":"ValidationException","Message":"bad"}`, "ValidationException", "bad"},
		{"CBOR error", cborCall, 400, nil, "\xa2f__typex)com.amazonaws.cloudwatch#ResourceNotFoundgmessagegmissing", "ResourceNotFound", "missing"},
		{"x-amzn-ErrorType", jsonCall, 400, http.Header{"X-Amzn-Errortype": {"ThrottlingException:http://internal.amazon.com/"}}, "", "ThrottlingException", ""},
		{"query XML", queryCall, 400, nil, `<ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type>` +
			`<Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>The specified queue does not exist.</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
			"AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist."},
		{"304 is no error", s3head, 304, nil, "", "", ""},
		{"S3 301 without a body", s3head, 301, nil, "", "PermanentRedirect", ""},
		{"a service's own 302 is no error", jsonCall, 302, nil, "", "", ""},
		{"a redirect with an error document", queryCall, 301, nil, "<Error><Code>Moved</Code><Message>m</Message></Error>", "Moved", "m"},
		{"200 is no error", jsonCall, 200, nil, `{"__type":"looks like an error"}`, "", ""},
	} {
		rec := record(t, &capture.Exchange{Call: tc.call, Principal: alice, Status: tc.status, ResponseHeader: tc.hdr, ResponseBody: []byte(tc.body)})
		code, _ := rec["errorCode"].(string)
		msg, _ := rec["errorMessage"].(string)
		if code != tc.code || msg != tc.msg {
			t.Errorf("%s: errorCode %q errorMessage %q, want %q %q", tc.name, code, msg, tc.code, tc.msg)
		}
	}
}

func TestUserIdentity(t *testing.T) {
	c := capture.Identify(request("GET", "http://h/b/k", nil, ""), "s3", nil, nil)
	for _, tc := range []struct {
		name string
		ex   capture.Exchange
		want map[string]any
	}{
		{"verified", capture.Exchange{Principal: alice, AuthMethod: "AuthHeader"},
			map[string]any{"type": "IAMUser", "principalId": "AIDAALICE", "arn": "arn:aws:iam::111122223333:user/alice",
				"accountId": "111122223333", "accessKeyId": "AKIAALICE", "userName": "alice"}},
		{"passed through", capture.Exchange{AccessKeyID: "AKIAUNKNOWN", AuthMethod: "AuthHeader", Account: "111122223333"},
			map[string]any{"type": "Unknown", "accessKeyId": "AKIAUNKNOWN"}},
		{"anonymous", capture.Exchange{Account: "111122223333"},
			map[string]any{"type": "AWSAccount"}},
	} {
		tc.ex.Call = c
		rec := record(t, &tc.ex)
		if !reflect.DeepEqual(rec["userIdentity"], tc.want) {
			t.Errorf("%s: userIdentity %v, want %v", tc.name, rec["userIdentity"], tc.want)
		}
	}
}

// TestGenericResponseElements: a mutating call's small answer is
// recorded, lower-cameled and redacted; a read's is not.
func TestGenericResponseElements(t *testing.T) {
	q := capture.Identify(request("POST", "https://iam/", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, ""), "iam",
		[]byte("Action=CreateAccessKey&UserName=bob"), nil)
	body := `<CreateAccessKeyResponse><CreateAccessKeyResult><AccessKey><UserName>bob</UserName><AccessKeyId>AKIABOB</AccessKeyId>` +
		`<Status>Active</Status><SecretAccessKey>wJalr</SecretAccessKey></AccessKey></CreateAccessKeyResult></CreateAccessKeyResponse>`
	rec := record(t, &capture.Exchange{Call: q, Principal: alice, Status: 200, ResponseBody: []byte(body)})
	want := map[string]any{"accessKey": map[string]any{"userName": "bob", "accessKeyId": "AKIABOB", "status": "Active", "secretAccessKey": capture.Hidden}}
	if !reflect.DeepEqual(rec["responseElements"], want) {
		t.Errorf("responseElements %v, want %v", rec["responseElements"], want)
	}
	j := capture.Identify(request("POST", "https://x/", map[string]string{"X-Amz-Target": "DynamoDB_20120810.DescribeTable"}, ""), "dynamodb", nil, nil)
	rec = record(t, &capture.Exchange{Call: j, Principal: alice, Status: 200, ResponseBody: []byte(`{"Table":{}}`)})
	if rec["responseElements"] != nil {
		t.Errorf("a read's responseElements %v", rec["responseElements"])
	}
}

// TestRecordSize: a call whose input is larger than a record may be is
// recorded with its largest parameters left out, never refused by the
// store for its size.
func TestRecordSize(t *testing.T) {
	big := `{"TableName":"t","Item":{"blob":{"S":"` + strings.Repeat("x", 400<<10) + `"}},"Other":"` + strings.Repeat("y", 200<<10) + `"}`
	r := request("POST", "https://dynamodb/", map[string]string{"X-Amz-Target": "DynamoDB_20120810.PutItem"}, big)
	c := capture.Identify(r, "dynamodb", []byte(big), nil)
	rec := record(t, &capture.Exchange{Call: c, Principal: alice, Status: 200, ResponseBody: []byte(big)})
	p := rec["requestParameters"].(map[string]any)
	if p["tableName"] != "t" || !strings.Contains(p["item"].(string), "bytes left out") {
		t.Errorf("requestParameters %.300v", p)
	}
	if _, ok := c.Params["item"].(map[string]any); !ok {
		t.Errorf("the call's own parameters were changed: %.100v", c.Params["item"])
	}
	if n := len(capture.Record(&capture.Exchange{Call: c, Principal: alice})); n > event.MaxRecordSize {
		t.Errorf("intent record of %d bytes", n)
	}
}

func TestBodyRecorded(t *testing.T) {
	for _, tc := range []struct {
		method, url, service string
		want                 bool
	}{
		{"PUT", "http://h/b?policy", "s3", true},
		{"PUT", "http://h/b", "s3", true},
		{"PUT", "http://b.s3.localhost/?tagging", "s3", true},
		{"POST", "http://h/b?delete", "s3", false},
		{"PUT", "http://h/b/k", "s3", false},
		{"POST", "http://h/b/k?uploadId=u", "s3", false},
		{"GET", "http://h/b?policy", "s3", false},
		{"PATCH", "http://h/b", "s3", false},
		{"POST", "http://h/", "dynamodb", true},
	} {
		if got := capture.BodyRecorded(request(tc.method, tc.url, nil, ""), tc.service); got != tc.want {
			t.Errorf("%s %s (%s): %v, want %v", tc.method, tc.url, tc.service, got, tc.want)
		}
	}
}

// TestCompressedBodies: gzipped inputs and answers are read as the
// SDKs and upstreams send them.
func TestCompressedBodies(t *testing.T) {
	gz := func(s string) string {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.String()
	}
	in := gz(`{"TableName":"t"}`)
	r := request("POST", "https://x/", map[string]string{"X-Amz-Target": "DynamoDB_20120810.DeleteTable", "Content-Encoding": "gzip"}, in)
	c := capture.Identify(r, "dynamodb", []byte(in), nil)
	if !reflect.DeepEqual(params(t, c), map[string]any{"tableName": "t"}) {
		t.Errorf("gzipped input: %v", c.Params)
	}
	hdr := http.Header{"Content-Encoding": {"gzip"}}
	rec := record(t, &capture.Exchange{Call: c, Principal: alice, Status: 400, ResponseHeader: hdr,
		ResponseBody: []byte(gz(`{"__type":"ResourceInUseException","message":"busy"}`))})
	if rec["errorCode"] != "ResourceInUseException" || rec["errorMessage"] != "busy" {
		t.Errorf("gzipped error: %v %v", rec["errorCode"], rec["errorMessage"])
	}
	r = request("POST", "https://x/", map[string]string{"X-Amz-Target": "DynamoDB_20120810.DeleteTable", "Content-Encoding": "br"}, in)
	if c := capture.Identify(r, "dynamodb", []byte(in), nil); c.Params != nil {
		t.Errorf("an encoding not understood is recorded: %v", c.Params)
	}
}
