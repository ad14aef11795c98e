package importer_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/importer"
)

// awsS3Message is an event message as AWS S3 sends it (version 2.1),
// with its URL-encoded key.
const awsS3Message = `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1",
 "eventTime":"2026-11-26T06:05:12.345Z","eventName":"ObjectCreated:Put",
 "userIdentity":{"principalID":"AWS:AROAEXAMPLE:regionalDeliverySession"},
 "requestParameters":{"sourceIPAddress":"10.0.0.1"},
 "responseElements":{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
 "s3":{"s3SchemaVersion":"1.0","configurationId":"trail-logs",
  "bucket":{"name":"org-trail","ownerIdentity":{"principalId":"A3NL1KOZZKExample"},"arn":"arn:aws:s3:::org-trail"},
  "object":{"key":"my+trail/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/26/111122223333_CloudTrail_eu-west-1_20261126T0605Z_aBcD.json.gz",
   "size":1024,"eTag":"d41d8cd98f00b204e9800998ecf8427e","sequencer":"0055AED6DCD90281E5"}}}]}`

// versitygwMessage is what Versity's S3 gateway posted to a webhook (its
// eventName carries the "s3:" prefix, its key is not encoded).
const versitygwMessage = `{"Records":[{"eventVersion":"2.2","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-11-26T06:29:44Z","eventName":"s3:ObjectCreated:Put","userIdentity":{"PrincipalId":"AK"},"requestParameters":{"sourceIPAddress":"127.0.0.1"},"responseElements":{"x-amz-request-id":"","x-amz-id-2":""},"s3":{"s3SchemaVersion":"1.0","configurationId":"webhook-global","bucket":{"name":"logs","ownerIdentity":{"PrincipalId":"AK"},"arn":"arn:aws:s3:::/logs/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/26/x.json.gz"},"object":{"key":"AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/26/x.json.gz","size":3,"eTag":"\"764efa883dda1e11db47671c4a3bbd9e\"","versionId":null,"sequencer":"1"}},"glacierEventData":{"restoreEventData":{"lifecycleRestorationExpiryTime":"","lifecycleRestoreStorageClass":""}}}]}`

func TestParseNotification(t *testing.T) {
	snsEnvelope := `{"Type":"Notification","MessageId":"22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324","TopicArn":"arn:aws:sns:eu-west-1:111122223333:trail-logs",
	 "Subject":"Amazon S3 Notification","Message":` + quote(awsS3Message) + `,"Timestamp":"2026-11-26T06:05:13.000Z","SignatureVersion":"1",
	 "Signature":"EXAMPLE","SigningCertURL":"https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem","UnsubscribeURL":"https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe"}`
	awsObj := importer.NotifiedObject{Bucket: "org-trail",
		Key:  "my+trail/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/26/111122223333_CloudTrail_eu-west-1_20261126T0605Z_aBcD.json.gz",
		Size: 1024, ETag: "d41d8cd98f00b204e9800998ecf8427e", Event: "ObjectCreated:Put"}
	for _, c := range []struct {
		name, body string
		want       importer.Notification
	}{
		{"AWS S3", awsS3Message, importer.Notification{Objects: []importer.NotifiedObject{awsObj}}},
		{"versitygw webhook", versitygwMessage, importer.Notification{Objects: []importer.NotifiedObject{{Bucket: "logs",
			Key: "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/26/x.json.gz", Size: 3, ETag: "764efa883dda1e11db47671c4a3bbd9e", Event: "ObjectCreated:Put"}}}},
		{"SNS notification", snsEnvelope, importer.Notification{Objects: []importer.NotifiedObject{awsObj}, TopicARN: "arn:aws:sns:eu-west-1:111122223333:trail-logs"}},
		{"SNS subscription", `{"Type":"SubscriptionConfirmation","Token":"t","TopicArn":"arn:aws:sns:us-east-1:111122223333:x","SubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t"}`,
			importer.Notification{SubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t", TopicARN: "arn:aws:sns:us-east-1:111122223333:x"}},
		{"S3 test event", `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-26T06:00:00.000Z","Bucket":"org-trail","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}`,
			importer.Notification{Test: true}},
		{"SNS test event", `{"Type":"Notification","TopicArn":"arn:aws:sns:us-east-1:111122223333:x","Message":"{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\"}"}`,
			importer.Notification{Test: true, TopicARN: "arn:aws:sns:us-east-1:111122223333:x"}},
		{"EventBridge", `{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":"Object Created","source":"aws.s3","account":"111122223333","time":"2026-11-26T06:05:12Z","region":"us-east-1",
		 "resources":["arn:aws:s3:::org-trail"],"detail":{"version":"0","bucket":{"name":"org-trail"},"object":{"key":"AWSLogs/a.json.gz","size":5,"etag":"b1946ac92492d2347c6235b4d2611184","sequencer":"00617F08299329D189"},"request-id":"N4N7GDK58NMKJ12R","requester":"111122223333","reason":"PutObject"}}`,
			importer.Notification{Objects: []importer.NotifiedObject{{Bucket: "org-trail", Key: "AWSLogs/a.json.gz", Size: 5, ETag: "b1946ac92492d2347c6235b4d2611184", Event: "ObjectCreated:PutObject"}}}},
		{"EventBridge deletion", `{"detail-type":"Object Deleted","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{"key":"k"}}}`, importer.Notification{}},
		{"removals only", `{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`, importer.Notification{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, err := importer.ParseNotification([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*n, c.want) {
				t.Fatalf("got  %+v\nwant %+v", *n, c.want)
			}
		})
	}

	for _, bad := range []string{``, `[]`, `{`, `{"x":1}`, `{"Records":[{"eventName":"ObjectCreated:Put"}]}`,
		`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":""},"object":{"key":"k"}}}]}`,
		`{"Type":"Notification","Message":"not json"}`, `{"Type":"SubscriptionConfirmation"}`,
		`{"Type":"Notification","Message":` + quote(`{"Type":"SubscriptionConfirmation","SubscribeURL":"https://sns.us-east-1.amazonaws.com/"}`) + `}`,
		`{"Records":[` + strings.Repeat(`{"eventName":"x","s3":{}},`, 1000) + `{"eventName":"x","s3":{}}]}`,
	} {
		if _, err := importer.ParseNotification([]byte(bad)); !errors.Is(err, importer.ErrNotNotification) {
			t.Errorf("ParseNotification(%.60q) = %v, want ErrNotNotification", bad, err)
		}
	}
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func TestNotifiedObjectKeys(t *testing.T) {
	for key, want := range map[string][]string{
		"AWSLogs/1/CloudTrail/x.json.gz": {"AWSLogs/1/CloudTrail/x.json.gz"},
		"my+trail/a%3Ab.json.gz":         {"my+trail/a%3Ab.json.gz", "my trail/a:b.json.gz"},
		"bad%zz+":                        {"bad%zz+"},
	} {
		if got := (importer.NotifiedObject{Key: key}).Keys(); !reflect.DeepEqual(got, want) {
			t.Errorf("Keys(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestIsSNSSubscribeURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=a&Token=b":    true,
		"https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription&Token=b":           true,
		"http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription":                        false,
		"https://sns.us-east-1.amazonaws.com.evil.example/?Action=ConfirmSubscription":          false,
		"https://sns.us-east-1.amazonaws.com:8443/?Action=ConfirmSubscription":                  false,
		"https://user@sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription":                  false,
		"https://sns.us-east-1.amazonaws.com/?Action=Publish":                                   false,
		"https://169.254.169.254/latest/meta-data/?Action=ConfirmSubscription":                  false,
		"https://sqs.us-east-1.amazonaws.com/?Action=ConfirmSubscription":                       false,
		"https://sns.us-east-1.amazonaws.com\\@evil.example/?Action=ConfirmSubscription":        false,
		"https://evil.example/#https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription": false,
	} {
		if got := importer.IsSNSSubscribeURL(u); got != want {
			t.Errorf("IsSNSSubscribeURL(%q) = %v, want %v", u, got, want)
		}
	}
}

// TestPollerNotify: between polls, a Poller imports the files Notify names
// (the first of their keys that exists), once, and skips what polling
// would skip.
func TestPollerNotify(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	rel := func(n int) string {
		return "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1000Z_" + strings.Repeat("0", 15) + string(rune('0'+n)) + ".json.gz"
	}
	put := func(n int, id string) {
		writeGz(t, filepath.Join(dir, filepath.FromSlash(rel(n))), `{"Records":[`+rec(id, day, "111122223333", "us-east-1")+`]}`)
	}
	src, err := importer.NewLocalFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	sink := &countSink{ids: map[string]int{}}
	files := make(chan importer.FileResult, 10)
	p := importer.NewPoller(importer.PollOptions{Source: src, Sink: sink, Ledger: &memLedger{m: map[string][]byte{}},
		Interval: time.Hour, OnFile: func(fr importer.FileResult) { files <- fr }})
	put(1, "n-1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	next := func() importer.FileResult {
		t.Helper()
		select {
		case fr := <-files:
			return fr
		case <-time.After(10 * time.Second):
			t.Fatal("no file imported")
		}
		return importer.FileResult{}
	}
	if fr := next(); fr.Added != 1 { // the first poll, at once
		t.Fatalf("%+v", fr)
	}

	put(2, "n-2")
	put(3, "n-3")
	digest := "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/d.json.gz"
	writeGz(t, filepath.Join(dir, filepath.FromSlash(digest)), `{}`)
	for _, keys := range [][]string{
		{"AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/gone.json.gz"}, // no such file
		{digest},            // not a log file
		{"../outside.json"}, // not under the source
		{"no+such", rel(2)}, // the second reading exists
		{rel(1)},            // already imported
		{rel(3)},
	} {
		if !p.Notify(keys) {
			t.Fatalf("Notify(%q) refused", keys)
		}
	}
	if fr := next(); fr.Added != 1 || !strings.HasSuffix(fr.Path, filepath.FromSlash(rel(2))) {
		t.Fatalf("%+v", fr)
	}
	if fr := next(); fr.Added != 1 || !strings.HasSuffix(fr.Path, filepath.FromSlash(rel(3))) {
		t.Fatalf("%+v", fr)
	}
	select {
	case fr := <-files:
		t.Fatalf("unexpected import %+v", fr)
	case <-time.After(200 * time.Millisecond):
	}
	if sink.stored() != 3 {
		t.Fatalf("%d events stored, want 3", sink.stored())
	}
	if p.Notify(nil) {
		t.Fatal("Notify(nil) accepted")
	}
}

// A source that cannot look up one object takes no notifications.
func TestPollerNotifyNeedsStat(t *testing.T) {
	src, _ := importer.NewLocalFiles(t.TempDir())
	p := importer.NewPoller(importer.PollOptions{Source: failingOpen{src}, Sink: &countSink{ids: map[string]int{}}, Ledger: &memLedger{m: map[string][]byte{}}})
	if p.Notify([]string{"a"}) {
		t.Fatal("Notify accepted by a source without Stat")
	}
}

func FuzzParseNotification(f *testing.F) {
	f.Add([]byte(awsS3Message))
	f.Add([]byte(versitygwMessage))
	f.Add([]byte(`{"Type":"Notification","Message":` + quote(awsS3Message) + `}`))
	f.Add([]byte(`{"Type":"SubscriptionConfirmation","SubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"}`))
	f.Add([]byte(`{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{"key":"k%20+"}}}`))
	f.Add([]byte(`{"Event":"s3:TestEvent"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := importer.ParseNotification(body)
		if err != nil {
			if !errors.Is(err, importer.ErrNotNotification) {
				t.Fatalf("error %v does not wrap ErrNotNotification", err)
			}
			return
		}
		if len(n.Objects) > 1000 {
			t.Fatalf("%d objects", len(n.Objects))
		}
		for _, o := range n.Objects {
			if o.Bucket == "" || o.Key == "" || !strings.HasPrefix(o.Event, "ObjectCreated:") {
				t.Fatalf("object %+v", o)
			}
			if keys := o.Keys(); keys[0] != o.Key || len(keys) > 2 {
				t.Fatalf("keys %q of %q", keys, o.Key)
			}
		}
		if n.SubscribeURL != "" && (n.Test || len(n.Objects) > 0) {
			t.Fatalf("a confirmation with objects: %+v", n)
		}
		importer.IsSNSSubscribeURL(n.SubscribeURL)
	})
}
