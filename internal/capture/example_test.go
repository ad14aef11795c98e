package capture_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/capture"
)

func ExampleIdentify() {
	r := httptest.NewRequest("PUT", "http://photos.s3.localhost:7070/2025/cat.jpg?partNumber=1&uploadId=U1", nil)
	c := capture.Identify(r, "s3", nil, nil)
	fmt.Println(c.Protocol, c.Source, c.Name, "readOnly:", c.ReadOnly, "data:", c.Data)
	fmt.Println(c.Params["bucketName"], c.Params["key"], c.Params["partNumber"], c.Params["uploadId"])
	for _, res := range c.Resources {
		fmt.Println(res.Type, res.ARN)
	}

	r = httptest.NewRequest("POST", "https://dynamodb.us-east-1.amazonaws.com/", nil)
	r.Header.Set("X-Amz-Target", "DynamoDB_20120810.GetItem")
	c = capture.Identify(r, "dynamodb", []byte(`{"TableName":"Music"}`), nil)
	fmt.Println(c.Protocol, c.Source, c.Name, "readOnly:", c.ReadOnly, c.Params)
	// Output:
	// s3 s3.amazonaws.com UploadPart readOnly: false data: true
	// photos 2025/cat.jpg 1 U1
	// AWS::S3::Object arn:aws:s3:::photos/2025/cat.jpg
	// AWS::S3::Bucket arn:aws:s3:::photos
	// json dynamodb.amazonaws.com GetItem readOnly: true map[tableName:Music]
}

func ExampleRecord() {
	r := httptest.NewRequest("DELETE", "http://127.0.0.1:7070/photos/2025/cat.jpg", nil)
	ex := &capture.Exchange{
		Call: capture.Identify(r, "s3", nil, nil),
		Principal: &auth.Principal{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", AccountID: "111122223333", Type: "IAMUser",
			UserName: "alice", ARN: "arn:aws:iam::111122223333:user/alice", PrincipalID: "AIDAEXAMPLE"},
		Region: "us-east-1", SourceIP: "192.0.2.7", UserAgent: "aws-cli/2.9.19", Host: r.Host,
		AuthMethod: "AuthHeader", SignatureVersion: "SigV4",
		Time:    time.Date(2025, 6, 13, 7, 42, 48, 0, time.UTC),
		EventID: "85da6631-a4b5-47dc-b296-95574e53b41a",
	}
	// Before forwarding: the intent record, its outcome unknown.
	fmt.Println(string(capture.Record(ex)))
	// After the answer: the final record, with the same eventID.
	ex.Status, ex.RequestID = http.StatusNoContent, "PR6ZGT0VKVR5TKCJ"
	ex.ResponseHeader = http.Header{"X-Amz-Id-2": {"ZDchP4lV"}}
	fmt.Println(string(capture.Record(ex)))
	// Output:
	// {"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAIOSFODNN7EXAMPLE","userName":"alice"},"eventTime":"2025-06-13T07:42:48Z","eventSource":"s3.amazonaws.com","eventName":"DeleteObject","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.7","userAgent":"[aws-cli/2.9.19]","requestParameters":{"Host":"127.0.0.1:7070","bucketName":"photos","key":"2025/cat.jpg"},"responseElements":null,"additionalEventData":{"AuthenticationMethod":"AuthHeader","SignatureVersion":"SigV4","outcome":"unknown"},"eventID":"85da6631-a4b5-47dc-b296-95574e53b41a","readOnly":false,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::photos/2025/cat.jpg"},{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::photos"}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111122223333","eventCategory":"Data"}
	// {"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAIOSFODNN7EXAMPLE","userName":"alice"},"eventTime":"2025-06-13T07:42:48Z","eventSource":"s3.amazonaws.com","eventName":"DeleteObject","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.7","userAgent":"[aws-cli/2.9.19]","requestParameters":{"Host":"127.0.0.1:7070","bucketName":"photos","key":"2025/cat.jpg"},"responseElements":null,"additionalEventData":{"AuthenticationMethod":"AuthHeader","SignatureVersion":"SigV4","bytesTransferredIn":0,"bytesTransferredOut":0,"x-amz-id-2":"ZDchP4lV"},"requestID":"PR6ZGT0VKVR5TKCJ","eventID":"85da6631-a4b5-47dc-b296-95574e53b41a","readOnly":false,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::photos/2025/cat.jpg"},{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::photos"}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111122223333","eventCategory":"Data"}
}
