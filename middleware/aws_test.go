package middleware

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// awsConfig is a client configuration for a test server: static keys, one
// attempt (so a 503 is seen, not retried).
func awsConfig(url, akid, secret string) aws.Config {
	return aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, ""),
		BaseEndpoint:     aws.String(url),
		RetryMaxAttempts: 1,
	}
}

// service answers every AWS call with an empty success in the protocol's
// shape, after reading the whole body (to check the middleware gave the
// handler the bytes it read for the record).
func service(t *testing.T, bodies chan<- string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		if bodies != nil {
			bodies <- string(b)
		}
		switch {
		case r.Header.Get("X-Amz-Target") != "":
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.Header().Set("x-amzn-RequestId", "json-req-1")
			io.WriteString(w, `{}`)
		case strings.Contains(string(b), "Action="):
			w.Header().Set("Content-Type", "text/xml")
			io.WriteString(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>q-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
		default:
			w.Header().Set("x-amz-request-id", "s3-req-1")
			w.Header().Set("ETag", `"abc"`)
		}
	})
}

func TestAWSProtocolIdentifiesCalls(t *testing.T) {
	mem := newMem()
	m := newTest(t, mem, Options{AWSProtocol: true, Service: "logs"})
	bodies := make(chan string, 4)
	srv := httptest.NewServer(m.Wrap(service(t, bodies)))
	defer srv.Close()
	ctx := context.Background()
	cfg := awsConfig(srv.URL, "AKIDCLIENT", "secret")

	logs := cloudwatchlogs.NewFromConfig(cfg)
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	mem.all() // records in the order of the calls
	if got := <-bodies; !strings.Contains(got, `"logGroupName":"app"`) {
		t.Errorf("the handler read %q: the body read for the record must reach it unchanged", got)
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("k/1.txt"), Body: strings.NewReader("hello")}); err != nil {
		t.Fatal(err)
	}
	if got := <-bodies; !strings.Contains(got, "hello") {
		t.Errorf("the S3 handler read %q", got)
	}
	recs := mem.all()
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	want(t, recs[0], map[string]any{
		"eventSource":                    "logs.amazonaws.com",
		"eventName":                      "CreateLogGroup",
		"readOnly":                       false,
		"awsRegion":                      "eu-west-1",
		"requestParameters.logGroupName": "app",
		"userIdentity.type":              "Unknown",
		"userIdentity.accessKeyId":       "AKIDCLIENT",
		"requestID":                      "json-req-1",
		"recipientAccountId":             account,
	})
	want(t, recs[1], map[string]any{
		"eventSource":                            "s3.amazonaws.com",
		"eventName":                              "PutObject",
		"eventCategory":                          "Data",
		"managementEvent":                        false,
		"requestParameters.bucketName":           "b",
		"requestParameters.key":                  "k/1.txt",
		"additionalEventData.SignatureVersion":   "SigV4",
		"additionalEventData.bytesTransferredIn": 5,
		"requestID":                              "s3-req-1",
	})
}

// TestAWSProtocolFailClosedShapes refuses calls while the store is down and
// checks that each AWS SDK client reads the refusal as the protocol's
// ServiceUnavailable error.
func TestAWSProtocolFailClosedShapes(t *testing.T) {
	mem := newMem()
	mem.setDown(errors.New("store down"))
	m := newTest(t, mem, Options{AWSProtocol: true, Service: "logs", ReadOnlyBefore: true})
	reached := false
	srv := httptest.NewServer(m.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })))
	defer srv.Close()
	ctx := context.Background()
	cfg := awsConfig(srv.URL, "AKIDCLIENT", "secret")

	_, errJSON := cloudwatchlogs.NewFromConfig(cfg).CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("app")})
	_, errS3 := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).
		PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("k"), Body: strings.NewReader("x")})
	_, errQuery := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	for _, c := range []struct {
		name string
		err  error
		code string
	}{
		{"JSON 1.1 (logs)", errJSON, "ServiceUnavailableException"},
		{"S3", errS3, "ServiceUnavailable"},
		{"query (sts)", errQuery, "ServiceUnavailable"},
	} {
		var ae smithy.APIError
		if !errors.As(c.err, &ae) {
			t.Errorf("%s: %v, want an API error", c.name, c.err)
			continue
		}
		if ae.ErrorCode() != c.code || !strings.Contains(ae.ErrorMessage(), "audit record cannot be stored") {
			t.Errorf("%s: code %q message %q, want %s and the reason", c.name, ae.ErrorCode(), ae.ErrorMessage(), c.code)
		}
		var re interface{ HTTPStatusCode() int }
		if errors.As(c.err, &re) && re.HTTPStatusCode() != http.StatusServiceUnavailable {
			t.Errorf("%s: status %d, want 503", c.name, re.HTTPStatusCode())
		}
	}
	if reached {
		t.Error("a refused call reached the service")
	}
}

// TestAWSProtocolVerifiesSignatures checks SigV4 with Options.Credentials:
// a good signature is recorded with its principal, a bad one refused in
// the protocol's shape and recorded with its error.
func TestAWSProtocolVerifiesSignatures(t *testing.T) {
	mem := newMem()
	alice := &Principal{Type: "IAMUser", UserName: "alice", AccountID: account,
		ARN: "arn:aws:iam::123456789012:user/alice", PrincipalID: "AIDAALICE"}
	m := newTest(t, mem, Options{AWSProtocol: true, Service: "logs", Credentials: func(akid string) (string, *Principal, bool) {
		if akid == "AKIDALICE" {
			return "alice-secret", alice, true
		}
		return "", nil, false
	}})
	srv := httptest.NewServer(m.Wrap(service(t, nil)))
	defer srv.Close()
	ctx := context.Background()
	good := cloudwatchlogs.NewFromConfig(awsConfig(srv.URL, "AKIDALICE", "alice-secret"))
	if _, err := good.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	mem.all() // records in the order of the calls
	bad := cloudwatchlogs.NewFromConfig(awsConfig(srv.URL, "AKIDALICE", "wrong"))
	_, err := bad.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("app")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("bad signature: %v, want InvalidSignatureException", err)
	}
	s3bad := s3.NewFromConfig(awsConfig(srv.URL, "AKIDNOBODY", "x"), func(o *s3.Options) { o.UsePathStyle = true })
	_, err = s3bad.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("k"), Body: strings.NewReader("x")})
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidAccessKeyId" {
		t.Fatalf("unknown key on S3: %v, want InvalidAccessKeyId", err)
	}
	recs := mem.all()
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	want(t, recs[0], map[string]any{
		"userIdentity.type":        "IAMUser",
		"userIdentity.userName":    "alice",
		"userIdentity.accessKeyId": "AKIDALICE",
		"errorCode":                nil,
	})
	want(t, recs[1], map[string]any{"eventName": "CreateLogGroup", "errorCode": "InvalidSignatureException", "userIdentity.accessKeyId": "AKIDALICE"})
	want(t, recs[2], map[string]any{"eventName": "PutObject", "errorCode": "InvalidAccessKeyId", "userIdentity.accessKeyId": "AKIDNOBODY"})
}
