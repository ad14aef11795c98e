package e2e

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/objstore"
)

// snsSubscriber is an HTTP endpoint subscribed to a topic: it hands every
// request it gets to the test.
type snsSubscriber struct {
	srv *httptest.Server
	got chan snsDelivery
}

type snsDelivery struct {
	header http.Header
	doc    map[string]string
	raw    []byte
}

func newSNSSubscriber(t *testing.T) *snsSubscriber {
	s := &snsSubscriber{got: make(chan snsDelivery, 16)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var doc map[string]string
		json.Unmarshal(b, &doc)
		s.got <- snsDelivery{r.Header.Clone(), doc, b}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *snsSubscriber) next(t *testing.T, typ string) snsDelivery {
	t.Helper()
	select {
	case d := <-s.got:
		if d.header.Get("x-amz-sns-message-type") != typ || d.doc["Type"] != typ {
			t.Fatalf("got a %s, want a %s: %s", d.header.Get("x-amz-sns-message-type"), typ, d.raw)
		}
		return d
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s arrived", typ)
	}
	return snsDelivery{}
}

// verifySNSSignature checks a message's signature as SNS documents it:
// the certificate from SigningCertURL, the canonical string of the
// signed members, SHA1withRSA (version 1) or SHA256withRSA (version 2).
func verifySNSSignature(t *testing.T, doc map[string]string) {
	t.Helper()
	resp, err := http.Get(doc["SigningCertURL"]) // no credentials: a subscriber has none
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", doc["SigningCertURL"], resp.StatusCode, pemBytes)
	}
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		t.Fatalf("the signing certificate is not PEM: %s", pemBytes)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if doc["Type"] != "Notification" {
		keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	var b strings.Builder
	for _, k := range keys {
		if v, ok := doc[k]; ok {
			b.WriteString(k + "\n" + v + "\n")
		}
	}
	sig, err := base64.StdEncoding.DecodeString(doc["Signature"])
	if err != nil {
		t.Fatal(err)
	}
	var h []byte
	alg := crypto.SHA1
	if doc["SignatureVersion"] == "2" {
		s := sha256.Sum256([]byte(b.String()))
		h, alg = s[:], crypto.SHA256
	} else {
		s := sha1.Sum([]byte(b.String()))
		h = s[:]
	}
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), alg, h, sig); err != nil {
		t.Fatalf("signature of %s does not verify: %v", doc["MessageId"], err)
	}
}

// TestSNSWithAWSCLI drives topics with the Debian AWS CLI (the query
// protocol) and an HTTP subscriber: the confirmation handshake through
// SubscribeURL, a signed notification, and the attempts in
// GET /v1/notifications.
func TestSNSWithAWSCLI(t *testing.T) {
	s := startServer(t, "")
	sub := newSNSSubscriber(t)
	const region = "eu-west-1"
	var topic struct{ TopicArn string }
	json.Unmarshal([]byte(s.mustCLI(t, region, "sns", "create-topic", "--name", "security-alerts")), &topic)
	if topic.TopicArn != "arn:aws:sns:eu-west-1:000000000000:security-alerts" {
		t.Fatalf("create-topic: %+v", topic)
	}
	out := s.mustCLI(t, region, "sns", "subscribe", "--topic-arn", topic.TopicArn, "--protocol", "http", "--notification-endpoint", sub.srv.URL+"/sns")
	if !strings.Contains(out, `"SubscriptionArn": "pending confirmation"`) {
		t.Fatalf("subscribe: %s", out)
	}
	conf := sub.next(t, "SubscriptionConfirmation")
	verifySNSSignature(t, conf.doc)
	if !strings.Contains(s.mustCLI(t, region, "sns", "list-subscriptions"), `"SubscriptionArn": "PendingConfirmation"`) {
		t.Fatal("the subscription is not listed as pending")
	}
	resp, err := http.Get(conf.doc["SubscribeURL"]) // as a subscriber confirms: no credentials
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<SubscriptionArn>"+topic.TopicArn+":") {
		t.Fatalf("GET SubscribeURL: %d %s", resp.StatusCode, body)
	}
	var subs struct{ Subscriptions []map[string]string }
	json.Unmarshal([]byte(s.mustCLI(t, region, "sns", "list-subscriptions-by-topic", "--topic-arn", topic.TopicArn)), &subs)
	if len(subs.Subscriptions) != 1 || !strings.HasPrefix(subs.Subscriptions[0]["SubscriptionArn"], topic.TopicArn+":") ||
		subs.Subscriptions[0]["Endpoint"] != sub.srv.URL+"/sns" || subs.Subscriptions[0]["Protocol"] != "http" {
		t.Fatalf("list-subscriptions-by-topic: %+v", subs)
	}
	subARN := subs.Subscriptions[0]["SubscriptionArn"]

	var pub struct{ MessageId string }
	json.Unmarshal([]byte(s.mustCLI(t, region, "sns", "publish", "--topic-arn", topic.TopicArn, "--subject", "Root sign-in",
		"--message", `{"events":["e1"]}`)), &pub)
	n := sub.next(t, "Notification")
	if n.doc["MessageId"] != pub.MessageId || n.doc["Message"] != `{"events":["e1"]}` || n.doc["Subject"] != "Root sign-in" ||
		n.doc["TopicArn"] != topic.TopicArn || n.header.Get("x-amz-sns-subscription-arn") != subARN ||
		!strings.HasPrefix(n.doc["SigningCertURL"], s.url+"/") {
		t.Fatalf("notification: %s %v", n.raw, n.header)
	}
	verifySNSSignature(t, n.doc)

	attrs := s.mustCLI(t, region, "sns", "get-topic-attributes", "--topic-arn", topic.TopicArn)
	if !strings.Contains(attrs, `"SubscriptionsConfirmed": "1"`) || !strings.Contains(attrs, `"SubscriptionsPending": "0"`) {
		t.Fatalf("get-topic-attributes: %s", attrs)
	}
	// AWS's errors and exit codes.
	_, errs, code := s.awsCLI(t, "test", region, "sns", "get-topic-attributes", "--topic-arn", "arn:aws:sns:eu-west-1:000000000000:nope")
	if code != 254 || !strings.Contains(errs, "An error occurred (NotFound) when calling the GetTopicAttributes operation: Topic does not exist") {
		t.Fatalf("missing topic: %d %s", code, errs)
	}
	_, errs, code = s.awsCLI(t, "test", region, "sns", "publish", "--topic-arn", topic.TopicArn, "--message", "m", "--subject", strings.Repeat("s", 101))
	if code != 254 || !strings.Contains(errs, "(InvalidParameter) when calling the Publish operation: Invalid parameter: Subject") {
		t.Fatalf("long subject: %d %s", code, errs)
	}
	_, errs, code = s.awsCLI(t, "210987654321", region, "sns", "publish", "--topic-arn", topic.TopicArn, "--message", "m")
	if code != 254 || !strings.Contains(errs, "(AuthorizationError) when calling the Publish operation: User: arn:aws:iam::210987654321:root is not authorized to perform: SNS:Publish") {
		t.Fatalf("another account: %d %s", code, errs)
	}

	// Every attempt is listed.
	code, raw, _ := do(t, signedRequest(t, creds("test"), "opentrail", region, "GET",
		s.url+"/v1/notifications?topicArn="+topic.TopicArn+"&since=2000-01-01T00:00:00Z", nil, nil))
	var list struct {
		Deliveries []map[string]any `json:"deliveries"`
	}
	if code != 200 || json.Unmarshal(raw, &list) != nil || len(list.Deliveries) != 2 {
		t.Fatalf("GET /v1/notifications: %d %s", code, raw)
	}
	last := list.Deliveries[1]
	if last["messageId"] != pub.MessageId || last["status"] != "delivered" || last["statusCode"] != 200.0 || last["attempt"] != 1.0 ||
		last["subscriptionArn"] != subARN || last["protocol"] != "http" || last["subject"] != "Root sign-in" {
		t.Fatalf("delivery: %s", raw)
	}

	s.mustCLI(t, region, "sns", "unsubscribe", "--subscription-arn", subARN)
	s.mustCLI(t, region, "sns", "delete-topic", "--topic-arn", topic.TopicArn)
	if out := s.mustCLI(t, region, "sns", "list-topics"); strings.Contains(out, "security-alerts") {
		t.Fatalf("list-topics after delete: %s", out)
	}
}

// TestSNSWithBoto3 drives the same API with boto3 (botocore's query
// serializer: maps, message attributes, tags) and checks its errors.
func TestSNSWithBoto3(t *testing.T) {
	s := startServer(t, "")
	py := `
import boto3, json, sys
from botocore.exceptions import ClientError
c = boto3.client("sns", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="123456789012", aws_secret_access_key="test")
arn = c.create_topic(Name="alarms", Attributes={"DisplayName": "Alarms"}, Tags=[{"Key": "team", "Value": "sec"}])["TopicArn"]
print(arn)
print(c.create_topic(Name="alarms", Attributes={"DisplayName": "Alarms"})["TopicArn"])
try:
    c.create_topic(Name="alarms", Attributes={"DisplayName": "Other"})
except ClientError as e:
    print(e.response["Error"]["Code"], e.response["Error"]["Message"])
a = c.get_topic_attributes(TopicArn=arn)["Attributes"]
print(a["DisplayName"], a["Owner"], a["SubscriptionsPending"])
c.set_topic_attributes(TopicArn=arn, AttributeName="SignatureVersion", AttributeValue="2")
print(c.get_topic_attributes(TopicArn=arn)["Attributes"]["SignatureVersion"])
print(json.dumps(c.list_tags_for_resource(ResourceArn=arn)["Tags"]))
r = c.subscribe(TopicArn=arn, Protocol="http", Endpoint="http://127.0.0.1:9/none", ReturnSubscriptionArn=True)
print(r["SubscriptionArn"].startswith(arn + ":"))
sa = c.get_subscription_attributes(SubscriptionArn=r["SubscriptionArn"])["Attributes"]
print(sa["PendingConfirmation"], sa["Protocol"], sa["Endpoint"])
m = c.publish(TopicArn=arn, Message="hello", MessageAttributes={"severity": {"DataType": "String", "StringValue": "high"}})
print(len(m["MessageId"]))
for kw in [dict(TopicArn=arn, Message=""), dict(TopicArn=arn, Message="x" * (256 * 1024 + 1)), dict(TopicArn=arn + "x", Message="m")]:
    try:
        c.publish(**kw)
    except ClientError as e:
        print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Message"])
try:
    c.subscribe(TopicArn=arn, Protocol="carrier-pigeon", Endpoint="x")
except ClientError as e:
    print(e.response["Error"]["Code"], e.response["Error"]["Message"])
try:
    c.confirm_subscription(TopicArn=arn, Token="nope")
except ClientError as e:
    print(e.response["Error"]["Code"], e.response["Error"]["Message"])
`
	cmd := exec.Command("python3", "-c", py, s.url)
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	want := `arn:aws:sns:us-east-1:123456789012:alarms
arn:aws:sns:us-east-1:123456789012:alarms
InvalidParameter Invalid parameter: Attributes Reason: Topic already exists with different attributes
Alarms 123456789012 0
2
[{"Key": "team", "Value": "sec"}]
True
true http http://127.0.0.1:9/none
36
InvalidParameter 400 Invalid parameter: Empty message
InvalidParameter 400 Invalid parameter: Message too long
NotFound 404 Topic does not exist
InvalidParameter Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon
InvalidParameter Invalid token`
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("boto3:\n%s\nwant:\n%s", got, want)
	}
}

// TestSNSTrailLogFileNotices: a trail whose SnsTopicName names a topic
// announces each delivered log file there, as CloudTrail does; a topic
// that does not exist is refused.
func TestSNSTrailLogFileNotices(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	reg, err := objstore.OpenFSBuckets(filepath.Join(dir, "buckets"))
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.CreateBucket(ctx, "notice-logs", "000000000000", "us-east-1"); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, dir, "--delivery-interval", "1s")
	sub := newSNSSubscriber(t)
	const region = "us-east-1"
	_, errs, code := s.awsCLI(t, "test", region, "cloudtrail", "create-trail", "--name", "noticed", "--s3-bucket-name", "notice-logs", "--sns-topic-name", "trail-files")
	if code != 254 || !strings.Contains(errs, "(InsufficientSnsTopicPolicyException) when calling the CreateTrail operation: SNS Topic does not exist or the topic policy is incorrect!") {
		t.Fatalf("trail with a missing topic: %d %s", code, errs)
	}
	s.mustCLI(t, region, "sns", "create-topic", "--name", "trail-files")
	topic := "arn:aws:sns:us-east-1:000000000000:trail-files"
	s.mustCLI(t, region, "sns", "subscribe", "--topic-arn", topic, "--protocol", "http", "--notification-endpoint", sub.srv.URL)
	conf := sub.next(t, "SubscriptionConfirmation")
	s.mustCLI(t, region, "sns", "confirm-subscription", "--topic-arn", topic, "--token", conf.doc["Token"])
	out := s.mustCLI(t, region, "cloudtrail", "create-trail", "--name", "noticed", "--s3-bucket-name", "notice-logs", "--sns-topic-name", "trail-files")
	if !strings.Contains(out, `"SnsTopicARN": "`+topic+`"`) {
		t.Fatalf("create-trail: %s", out)
	}
	s.mustCLI(t, region, "cloudtrail", "start-logging", "--name", "noticed")
	if n, _ := s.postEvents(t, "test", [][]byte{record(recOpts{id: uuid("sns-notice", 1), name: "CreateUser", source: "iam.amazonaws.com"})}); n != 1 {
		t.Fatal("event not accepted")
	}
	n := sub.next(t, "Notification")
	var notice struct {
		S3Bucket    string   `json:"s3Bucket"`
		S3ObjectKey []string `json:"s3ObjectKey"`
	}
	if err := json.Unmarshal([]byte(n.doc["Message"]), &notice); err != nil || notice.S3Bucket != "notice-logs" || len(notice.S3ObjectKey) != 1 ||
		!strings.HasPrefix(notice.S3ObjectKey[0], "AWSLogs/000000000000/CloudTrail/us-east-1/") {
		t.Fatalf("notice: %s", n.raw)
	}
	b, _ := reg.Bucket(ctx, "notice-logs")
	if _, _, err := b.Get(ctx, notice.S3ObjectKey[0]); err != nil {
		t.Fatalf("the announced file: %v", err)
	}
	verifySNSSignature(t, n.doc)
}
