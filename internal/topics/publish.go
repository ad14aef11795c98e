// Publish: validation, deduplication and the durable queue.

package topics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Message kinds (the Type of the SNS message document).
const (
	kindNotification = "Notification"
	kindConfirmation = "SubscriptionConfirmation"
)

// Publish limits (SNS's).
const (
	MaxMessageBytes = 256 * 1024
	MaxSubjectLen   = 100
)

// MessageAttribute is one of a message's MessageAttributes.
type MessageAttribute struct {
	DataType    string
	StringValue string
	BinaryValue []byte
}

// PublishInput is what the Publish operation publishes.
type PublishInput struct {
	Subject    string
	Message    string
	Attributes map[string]MessageAttribute
	// DedupID, when set, makes Publish idempotent per topic: a second
	// message with the same DedupID returns the first one's id and sends
	// nothing.
	DedupID string
	// Structured is MessageStructure=json: Message is a JSON object of
	// strings, "default" and optionally one per protocol (http, https,
	// email, email-json), each subscription getting its protocol's.
	Structured bool
}

// checkStructured applies SNS's rules to a MessageStructure=json message.
func checkStructured(msg string) error {
	var m map[string]any
	if err := json.Unmarshal([]byte(msg), &m); err != nil {
		return invalid("Invalid parameter: Message Structure - JSON message body failed to parse")
	}
	if _, ok := m["default"].(string); !ok {
		return invalid("Invalid parameter: Message Structure - No default entry in JSON message body")
	}
	for k, v := range m {
		if _, ok := v.(string); !ok {
			return invalid("Invalid parameter: Message Structure - The value of %s must be a string", k)
		}
	}
	return nil
}

// forProtocol is the text a subscription of protocol gets.
func forProtocol(msg string, structured bool, protocol string) string {
	if !structured {
		return msg
	}
	var m map[string]string
	if json.Unmarshal([]byte(msg), &m) != nil {
		return msg
	}
	if v, ok := m[protocol]; ok {
		return v
	}
	return m["default"]
}

// Publish is the notification contract of alarms, log subscription
// filters and CloudTrail's log-file notices: it publishes message to
// topicARN, which must belong to account, and returns the message id once
// the message and its deliveries are committed. A second Publish with the
// same non-empty dedupID on the topic returns the first message id and
// sends nothing.
func (t *Topics) Publish(ctx context.Context, account, topicARN, subject, message, dedupID string) (string, error) {
	region, acct, _, ok := parseTopicARN(topicARN)
	if !ok {
		return "", invalid("Invalid parameter: TopicArn")
	}
	if acct != account {
		return "", authError(Caller{Account: account, Region: region, ARN: "arn:aws:iam::" + account + ":root"}, "Publish", topicARN)
	}
	return t.publish(ctx, topicARN, PublishInput{Subject: subject, Message: message, DedupID: dedupID})
}

// PublishAs is the Publish operation: the caller publishes in to
// topicARN.
func (t *Topics) PublishAs(ctx context.Context, c Caller, topicARN string, in PublishInput) (string, error) {
	if err := checkTopicARN(c, "Publish", "TopicArn", topicARN); err != nil {
		return "", err
	}
	return t.publish(ctx, topicARN, in)
}

// validSubject applies SNS's rule: ASCII text starting with a letter,
// digit or punctuation, no line breaks or control characters, at most
// 100 characters.
func validSubject(s string) bool {
	if s == "" || len(s) > MaxSubjectLen {
		return false
	}
	for i, r := range s {
		if r > unicode.MaxASCII || unicode.IsControl(r) || i == 0 && r == ' ' {
			return false
		}
	}
	return true
}

func messageSize(in PublishInput) int {
	n := len(in.Message)
	for k, a := range in.Attributes {
		n += len(k) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	return n
}

func checkAttributes(attrs map[string]MessageAttribute) error {
	if len(attrs) > 10 {
		return invalid("Invalid parameter: MessageAttributes Reason: Number of message attributes [%d] exceeds the allowed maximum [10].", len(attrs))
	}
	for k, a := range attrs {
		if k == "" || len(k) > 256 || strings.HasPrefix(strings.ToLower(k), "aws.") || strings.HasPrefix(strings.ToLower(k), "amazon.") {
			return invalid("Invalid parameter: MessageAttributes Reason: message attribute name '%s' is not valid", k)
		}
		base, _, _ := strings.Cut(a.DataType, ".")
		switch base {
		case "String", "Number", "String.Array":
			if a.StringValue == "" {
				return invalid("Invalid parameter: MessageAttributes Reason: The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", k, a.DataType)
			}
		case "Binary":
			if len(a.BinaryValue) == 0 {
				return invalid("Invalid parameter: MessageAttributes Reason: The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", k, a.DataType)
			}
		default:
			return invalid("Invalid parameter: MessageAttributes Reason: The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", k)
		}
	}
	return nil
}

func (t *Topics) publish(ctx context.Context, topicARN string, in PublishInput) (string, error) {
	if in.Message == "" {
		return "", invalid("Invalid parameter: Empty message")
	}
	if in.Subject != "" && !validSubject(in.Subject) {
		return "", invalid("Invalid parameter: Subject")
	}
	if in.Structured {
		if err := checkStructured(in.Message); err != nil {
			return "", err
		}
	}
	if err := checkAttributes(in.Attributes); err != nil {
		return "", err
	}
	if messageSize(in) > MaxMessageBytes {
		return "", invalid("Invalid parameter: Message too long")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tp, err := t.topic(ctx, topicARN)
	if err != nil {
		return "", err
	}
	if in.DedupID != "" {
		var id string
		err := t.db.QueryRowContext(ctx, `SELECT id FROM sns_messages WHERE topic_arn = ? AND dedup_id = ?`, topicARN, in.DedupID).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !isNoRows(err) {
			return "", fmt.Errorf("publish: %w", err)
		}
	}
	subs, err := t.subscriptions(ctx, `topic_arn = ? AND NOT pending ORDER BY arn`, topicARN)
	if err != nil {
		return "", err
	}
	id := newUUID()
	now := t.now()
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	defer tx.Rollback()
	attrs := map[string]MessageAttribute{}
	for k, v := range in.Attributes {
		attrs[k] = v
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sns_messages (id, topic_arn, account, dedup_id, kind, subject, message, attrs, created, structured)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, topicARN, tp.Account, in.DedupID, kindNotification, in.Subject, in.Message, mustJSON(attrs), now, in.Structured); err != nil {
		return "", fmt.Errorf("publish: store message: %w", err)
	}
	for _, s := range subs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sns_deliveries (message_id, sub_arn, attempt, next_at, state) VALUES (?, ?, 0, ?, 'pending')`,
			id, s.ARN, now); err != nil {
			return "", fmt.Errorf("publish: queue delivery: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("publish: commit: %w", err)
	}
	t.deliver.kick()
	return id, nil
}

func isNoRows(err error) bool { return errors.Is(err, errNoRows) }
