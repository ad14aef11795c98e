package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// A Notification is what one S3 event notification delivery says: the
// objects created, a test event, or an SNS subscription to confirm.
//
// Three shapes are read, whichever the sender uses:
//   - S3's event message, {"Records":[{"eventName":"ObjectCreated:Put",
//     "s3":{"bucket":{"name":…},"object":{"key":…}}}]}, as S3-compatible
//     servers post it to webhooks (MinIO, Ceph, Versity's gateway) and as
//     AWS S3 sends it through SNS or SQS; also {"Event":"s3:TestEvent"};
//   - an SNS HTTP(S) delivery of one (Type "Notification", the S3 message
//     in Message), or SNS's "SubscriptionConfirmation";
//   - an EventBridge "Object Created" event, as an API destination posts it.
type Notification struct {
	Objects []NotifiedObject
	// Test is set for S3's test event, sent when notifications are
	// configured; it names no object.
	Test bool
	// SubscribeURL and TopicARN are set for an SNS subscription
	// confirmation: a GET of SubscribeURL confirms it.
	SubscribeURL string
	TopicARN     string
}

// NotifiedObject is one created object of a Notification.
type NotifiedObject struct {
	Bucket string
	// Key is the key as sent. AWS S3 URL-encodes keys in its event
	// messages (a space is "+") while some S3-compatible servers send them
	// as they are, so Keys gives both readings.
	Key  string
	Size int64
	ETag string
	// Event is the event name, e.g. "ObjectCreated:Put".
	Event string
}

// Keys returns the keys the object may have: Key, and Key URL-decoded
// when that differs.
func (o NotifiedObject) Keys() []string {
	keys := []string{o.Key}
	if strings.ContainsAny(o.Key, "%+") {
		if k, err := url.QueryUnescape(o.Key); err == nil && k != o.Key {
			keys = append(keys, k)
		}
	}
	return keys
}

// MaxNotificationBytes is the largest notification body read. S3 sends one
// record per message; 1 MiB leaves room for batching senders.
const MaxNotificationBytes = 1 << 20

// maxNotifiedObjects bounds the objects of one notification.
const maxNotifiedObjects = 1000

// ErrNotNotification is wrapped by ParseNotification's errors.
var ErrNotNotification = errors.New("not an S3 event notification")

// ParseNotification reads a notification body in any of the shapes
// Notification describes. Records of other events (removals, restores)
// are left out; a body in none of the shapes is an error wrapping
// ErrNotNotification.
func ParseNotification(body []byte) (*Notification, error) {
	return parseNotification(body, true)
}

func parseNotification(body []byte, outer bool) (*Notification, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, fmt.Errorf("%w: the body is not a JSON object", ErrNotNotification)
	}
	var m struct {
		// S3 event message (and MinIO's extra top-level fields).
		Records []s3EventRecord `json:"Records"`
		Event   string          `json:"Event"`
		// SNS envelope.
		Type         string `json:"Type"`
		Message      string `json:"Message"`
		SubscribeURL string `json:"SubscribeURL"`
		TopicArn     string `json:"TopicArn"`
		// EventBridge event.
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotNotification, err)
	}
	n := &Notification{}
	switch {
	case outer && m.Type == "SubscriptionConfirmation":
		if m.SubscribeURL == "" {
			return nil, fmt.Errorf("%w: an SNS subscription confirmation without SubscribeURL", ErrNotNotification)
		}
		n.SubscribeURL, n.TopicARN = m.SubscribeURL, m.TopicArn
		return n, nil
	case outer && m.Type == "UnsubscribeConfirmation":
		n.TopicARN = m.TopicArn
		return n, nil
	case outer && m.Type == "Notification":
		inner, err := parseNotification([]byte(m.Message), false)
		if err != nil {
			return nil, fmt.Errorf("the SNS message's Message: %w", err)
		}
		inner.TopicARN = m.TopicArn
		return inner, nil
	case m.Event == "s3:TestEvent":
		n.Test = true
		return n, nil
	case m.Source == "aws.s3" && m.DetailType != "":
		if m.DetailType != "Object Created" {
			return n, nil
		}
		var d struct {
			s3Entity
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal(m.Detail, &d); err != nil {
			return nil, fmt.Errorf("%w: the EventBridge event's detail: %v", ErrNotNotification, err)
		}
		if d.Bucket.Name == "" || d.Object.Key == "" {
			return nil, fmt.Errorf("%w: an EventBridge Object Created event without bucket name or object key", ErrNotNotification)
		}
		n.Objects = append(n.Objects, d.object("ObjectCreated:"+d.Reason))
		return n, nil
	case m.Records != nil:
		if len(m.Records) > maxNotifiedObjects {
			return nil, fmt.Errorf("%w: %d records, more than %d", ErrNotNotification, len(m.Records), maxNotifiedObjects)
		}
		for i, r := range m.Records {
			if r.S3 == nil {
				return nil, fmt.Errorf("%w: Records[%d] has no s3 object", ErrNotNotification, i)
			}
			ev := strings.TrimPrefix(r.EventName, "s3:")
			if !strings.HasPrefix(ev, "ObjectCreated:") {
				continue
			}
			if r.S3.Bucket.Name == "" || r.S3.Object.Key == "" {
				return nil, fmt.Errorf("%w: Records[%d] has no bucket name or object key", ErrNotNotification, i)
			}
			n.Objects = append(n.Objects, r.S3.object(ev))
		}
		return n, nil
	}
	return nil, fmt.Errorf("%w: no Records, S3 test event, SNS message or EventBridge event", ErrNotNotification)
}

type s3EventRecord struct {
	EventName string    `json:"eventName"`
	S3        *s3Entity `json:"s3"`
}

// s3Entity is the bucket and object of an S3 event record, and the
// detail of an EventBridge S3 event (which spells the ETag "etag": JSON
// field names match without regard to case).
type s3Entity struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
		ETag string `json:"eTag"`
	} `json:"object"`
}

func (e *s3Entity) object(event string) NotifiedObject {
	return NotifiedObject{Bucket: e.Bucket.Name, Key: e.Object.Key, Size: e.Object.Size,
		ETag: strings.Trim(e.Object.ETag, `"`), Event: event}
}

// snsHostRE matches the hosts of SNS's regional endpoints.
var snsHostRE = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// IsSNSSubscribeURL reports whether u is an https URL of an SNS endpoint
// asking to confirm a subscription — the only URL a notification may make
// the server fetch.
func IsSNSSubscribeURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "https" || p.User != nil || p.Port() != "" {
		return false
	}
	return snsHostRE.MatchString(p.Hostname()) && p.Query().Get("Action") == "ConfirmSubscription"
}
