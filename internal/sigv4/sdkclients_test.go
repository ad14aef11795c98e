package sigv4_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudtraildata"
	ctdtypes "github.com/aws/aws-sdk-go-v2/service/cloudtraildata/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/sigv4"
)

// seen is what the verifying server observed of one request.
type seen struct {
	auth    *sigv4.Auth
	path    string
	query   string
	payload []byte
}

// verifyingServer answers every request after verifying its signature;
// requests that fail get a 403 and fail the test.
func verifyingServer(t *testing.T, useTLS bool, reply func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var log []seen
	v := &sigv4.Verifier{Credentials: testCredentials}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
			return
		}
		a, err := sigv4.Parse(r)
		if err == nil {
			var payload []byte
			if payload, err = v.VerifyPayload(r, a, body); err == nil {
				mu.Lock()
				log = append(log, seen{auth: a, path: r.URL.Path, query: r.URL.RawQuery, payload: payload})
				mu.Unlock()
				reply(w, r)
				return
			}
		}
		t.Errorf("%s %s: %v", r.Method, r.RequestURI, err)
		http.Error(w, err.Error(), http.StatusForbidden)
	})
	var srv *httptest.Server
	if useTLS {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), log...)
	}
}

var staticCreds = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, Source: "test"}, nil
})

func TestRealClientCloudTrail(t *testing.T) {
	srv, log := verifyingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		io.WriteString(w, `{"Events":[]}`)
	})
	c := cloudtrail.New(cloudtrail.Options{Region: "eu-west-1", Credentials: staticCreds, BaseEndpoint: aws.String(srv.URL),
		HTTPClient: srv.Client(), RetryMaxAttempts: 1})
	_, err := c.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("ConsoleLogin")}},
		StartTime:        aws.Time(time.Now().Add(-time.Hour)),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := log()
	if len(got) != 1 || got[0].auth.Service != "cloudtrail" || got[0].auth.Region != "eu-west-1" ||
		!strings.Contains(string(got[0].payload), "ConsoleLogin") {
		t.Errorf("server saw %+v", got)
	}
}

func TestRealClientCloudTrailData(t *testing.T) {
	srv, log := verifyingServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"successful":[],"failed":[]}`)
	})
	c := cloudtraildata.New(cloudtraildata.Options{Region: "us-east-1", Credentials: staticCreds, BaseEndpoint: aws.String(srv.URL),
		HTTPClient: srv.Client(), RetryMaxAttempts: 1})
	_, err := c.PutAuditEvents(context.Background(), &cloudtraildata.PutAuditEventsInput{
		ChannelArn: aws.String(channelARN),
		ExternalId: aws.String("ext id+/&=é"),
		AuditEvents: []ctdtypes.AuditEvent{{Id: aws.String("e1"),
			EventData: aws.String(`{"version":"1.0","userIdentity":{"type":"x","principalId":"p"},"eventName":"Héllo"}`)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := log()
	if len(got) != 1 || got[0].auth.Service != "cloudtrail-data" || !strings.Contains(got[0].query, "channelArn=arn%3Aaws%3A") {
		t.Errorf("server saw %+v", got)
	}
}

func TestRealClientS3(t *testing.T) {
	tests := []struct {
		name     string
		useTLS   bool
		checksum aws.RequestChecksumCalculation
		// mode is the payload hash PutObject is expected to sign with; ""
		// means the SHA-256 of the body.
		mode string
	}{
		{"http", false, aws.RequestChecksumCalculationWhenSupported, ""},
		{"https", true, aws.RequestChecksumCalculationWhenSupported, sigv4.StreamingUnsignedTrailer},
		{"https without checksum", true, aws.RequestChecksumCalculationWhenRequired, sigv4.UnsignedPayload},
	}
	for _, tc := range tests {
		useTLS := tc.useTLS
		t.Run(tc.name, func(t *testing.T) {
			srv, log := verifyingServer(t, useTLS, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodPut:
					w.Header().Set("ETag", `"e"`)
				case r.URL.Query().Has("list-type"):
					w.Header().Set("Content-Type", "application/xml")
					io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>ct-bucket</Name><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>`)
				default:
					io.WriteString(w, "object bytes")
				}
			})
			c := s3.New(s3.Options{Region: "us-east-1", Credentials: staticCreds, BaseEndpoint: aws.String(srv.URL),
				HTTPClient: srv.Client(), RetryMaxAttempts: 1, UsePathStyle: true,
				RequestChecksumCalculation: tc.checksum})
			ctx := context.Background()
			payload := strings.Repeat(`{"eventName":"PutObject"}`+"\n", 500)
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ct-bucket"), Key: aws.String(unicodeKey),
				Body: strings.NewReader(payload), Metadata: map[string]string{"signature": "abcd", "signature-algorithm": "SHA256withRSA"}}); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ct-bucket"), Key: aws.String(unicodeKey)}); err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("ct-bucket"),
				Prefix: aws.String("AWSLogs/123456789012/CloudTrail/"), StartAfter: aws.String("a b+c")}); err != nil {
				t.Fatalf("ListObjectsV2: %v", err)
			}
			pre, err := s3.NewPresignClient(c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ct-bucket"), Key: aws.String(unicodeKey)},
				s3.WithPresignExpires(10*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(pre.Method, pre.URL, nil)
			for k, v := range pre.SignedHeader {
				if k != "Host" {
					req.Header[k] = v
				}
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("presigned GET: %s", resp.Status)
			}

			got := log()
			if len(got) != 4 {
				t.Fatalf("server verified %d requests, want 4", len(got))
			}
			put := got[0]
			if string(put.payload) != payload {
				t.Errorf("PutObject payload: %d bytes, want %d", len(put.payload), len(payload))
			}
			if put.path != "/ct-bucket/"+unicodeKey {
				t.Errorf("PutObject path = %q", put.path)
			}
			if mode := tc.mode; mode == "" && put.auth.ContentSHA256 != sha256Hex([]byte(payload)) ||
				mode != "" && put.auth.ContentSHA256 != mode {
				t.Errorf("PutObject signed payload hash %q, want %q (or the body's hash if empty)", put.auth.ContentSHA256, mode)
			}
			if !got[3].auth.Presigned {
				t.Errorf("last request not presigned")
			}
		})
	}
}
