// Topics and subscriptions: creation, attributes, listing, deletion.

package topics

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Caller is who asks: the account and region of the request and the
// principal's ARN (named in AuthorizationError messages).
type Caller struct {
	Account string
	Region  string
	ARN     string
}

// Topic is a stored topic.
type Topic struct {
	ARN, Account, Region, Name string
	Attrs                      map[string]string // attributes set by the owner
	Tags                       map[string]string
	DeletedSubs                int64
}

// Subscription is a stored subscription.
type Subscription struct {
	ARN, TopicARN, Account string
	Protocol, Endpoint     string
	Token                  string
	Pending                bool
	Attrs                  map[string]string
}

// Protocols a subscription may use.
const (
	ProtoHTTP      = "http"
	ProtoHTTPS     = "https"
	ProtoEmail     = "email"
	ProtoEmailJSON = "email-json"
)

// PendingConfirmation is the SubscriptionArn Subscribe answers for a
// subscription awaiting confirmation, and ListSubscriptions shows.
const PendingConfirmation = "pending confirmation"

// PendingListed is the SubscriptionArn a pending subscription is listed
// with by ListSubscriptions and ListSubscriptionsByTopic: AWS spells it
// differently from Subscribe's answer.
const PendingListed = "PendingConfirmation"

var topicNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// settableTopicAttrs are the attribute names CreateTopic and
// SetTopicAttributes accept.
var settableTopicAttrs = map[string]bool{
	"DisplayName": true, "Policy": true, "DeliveryPolicy": true, "SignatureVersion": true,
	"TracingConfig": true, "KmsMasterKeyId": true, "DataProtectionPolicy": true, "ArchivePolicy": true,
	"FifoTopic": true, "ContentBasedDeduplication": true,
	"HTTPSuccessFeedbackRoleArn": true, "HTTPFailureFeedbackRoleArn": true, "HTTPSuccessFeedbackSampleRate": true,
}

// TopicARN is the ARN of topic name in account and region.
func TopicARN(region, account, name string) string {
	return "arn:aws:sns:" + region + ":" + account + ":" + name
}

// parseTopicARN splits arn:aws:sns:REGION:ACCOUNT:NAME.
func parseTopicARN(arn string) (region, account, name string, ok bool) {
	p := strings.Split(arn, ":")
	if len(p) != 6 || p[0] != "arn" || p[1] != "aws" || p[2] != "sns" || p[3] == "" || p[4] == "" || !topicNameRE.MatchString(p[5]) {
		return "", "", "", false
	}
	return p[3], p[4], p[5], true
}

func authError(c Caller, action, resource string) *Error {
	return &Error{Code: "AuthorizationError", Status: http.StatusForbidden, Message: fmt.Sprintf(
		"User: %s is not authorized to perform: SNS:%s on resource: %s because no resource-based policy allows the SNS:%s action",
		c.ARN, action, resource, action)}
}

// checkTopicARN checks that arn is a topic ARN the caller may act on in
// its region: a malformed ARN or another region is InvalidParameter,
// another account AuthorizationError.
func checkTopicARN(c Caller, action, param, arn string) error {
	region, account, _, ok := parseTopicARN(arn)
	if !ok || region != c.Region {
		return invalid("Invalid parameter: %s", param)
	}
	if account != c.Account {
		return authError(c, action, arn)
	}
	return nil
}

func validateTopicAttr(name, value string) error {
	if !settableTopicAttrs[name] {
		return invalid("Invalid parameter: AttributeName")
	}
	switch name {
	case "DisplayName":
		if len(value) > 100 {
			return invalid("Invalid parameter: DisplayName Reason: DisplayName must be at most 100 characters long")
		}
	case "Policy", "DeliveryPolicy", "DataProtectionPolicy", "ArchivePolicy":
		if value != "" && !json.Valid([]byte(value)) {
			return invalid("Invalid parameter: %s Error: the value is not valid JSON", name)
		}
		if name == "DeliveryPolicy" && value != "" {
			if _, err := parseDeliveryPolicy(value, DefaultRetry); err != nil {
				return invalid("Invalid parameter: DeliveryPolicy: %s", err)
			}
		}
	case "SignatureVersion":
		if value != "1" && value != "2" {
			return invalid("Invalid parameter: SignatureVersion Reason: SignatureVersion must be 1 or 2")
		}
	case "FifoTopic":
		if strings.EqualFold(value, "true") {
			return invalid("Invalid parameter: Attributes Reason: FIFO topics are not supported by opentrail; create a standard topic")
		}
	}
	return nil
}

// CreateTopic creates topic name in the caller's account and region, or
// returns the ARN of the one already there when its attributes and tags
// are the same (AWS's idempotence); different ones are refused.
func (t *Topics) CreateTopic(ctx context.Context, c Caller, name string, attrs, tags map[string]string) (string, error) {
	if !topicNameRE.MatchString(name) {
		return "", invalid("Invalid parameter: Topic Name")
	}
	for k, v := range attrs {
		if err := validateTopicAttr(k, v); err != nil {
			return "", err
		}
	}
	arn := TopicARN(c.Region, c.Account, name)
	t.mu.Lock()
	defer t.mu.Unlock()
	old, err := t.topic(ctx, arn)
	if err == nil {
		for k, v := range attrs {
			if old.Attrs[k] != v {
				return "", invalid("Invalid parameter: Attributes Reason: Topic already exists with different attributes")
			}
		}
		if len(tags) > 0 && !maps.Equal(tags, old.Tags) {
			return "", invalid("Invalid parameter: Tags Reason: Topic already exists with different tags")
		}
		return arn, nil
	}
	if !errors.Is(err, errTopicNotFound) {
		return "", err
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	if tags == nil {
		tags = map[string]string{}
	}
	_, err = t.db.ExecContext(ctx, `INSERT INTO sns_topics (arn, account, region, name, attrs, tags, deleted_subs, created)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?)`, arn, c.Account, c.Region, name, mustJSON(attrs), mustJSON(tags), t.now())
	if err != nil {
		return "", fmt.Errorf("create topic: %w", err)
	}
	return arn, nil
}

// topic reads one topic, or errTopicNotFound.
func (t *Topics) topic(ctx context.Context, arn string) (*Topic, error) {
	var tp Topic
	var attrs, tags string
	err := t.db.QueryRowContext(ctx, `SELECT arn, account, region, name, attrs, tags, deleted_subs FROM sns_topics WHERE arn = ?`, arn).
		Scan(&tp.ARN, &tp.Account, &tp.Region, &tp.Name, &attrs, &tags, &tp.DeletedSubs)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errTopicNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read topic: %w", err)
	}
	if err := json.Unmarshal([]byte(attrs), &tp.Attrs); err != nil {
		return nil, fmt.Errorf("read topic %s: %w", arn, err)
	}
	if err := json.Unmarshal([]byte(tags), &tp.Tags); err != nil {
		return nil, fmt.Errorf("read topic %s: %w", arn, err)
	}
	return &tp, nil
}

// callerTopic checks arn for the caller and reads the topic.
func (t *Topics) callerTopic(ctx context.Context, c Caller, action, arn string) (*Topic, error) {
	if err := checkTopicARN(c, action, "TopicArn", arn); err != nil {
		return nil, err
	}
	return t.topic(ctx, arn)
}

// TopicExists reports whether topic arn exists and belongs to account
// (CloudTrail's SnsTopicName check).
func (t *Topics) TopicExists(ctx context.Context, account, arn string) (bool, error) {
	tp, err := t.topic(ctx, arn)
	if errors.Is(err, errTopicNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return tp.Account == account, nil
}

// DeleteTopic deletes a topic and its subscriptions; deleting a topic
// that does not exist is not an error (as AWS). Queued deliveries of its
// messages are dropped.
func (t *Topics) DeleteTopic(ctx context.Context, c Caller, arn string) error {
	if err := checkTopicARN(c, "DeleteTopic", "TopicArn", arn); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete topic: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`DELETE FROM sns_deliveries WHERE sub_arn IN (SELECT arn FROM sns_subscriptions WHERE topic_arn = ?) AND state = 'pending'`,
		`DELETE FROM sns_subscriptions WHERE topic_arn = ?`,
		`DELETE FROM sns_topics WHERE arn = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, arn); err != nil {
			return fmt.Errorf("delete topic: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete topic: %w", err)
	}
	return nil
}

// ListTopics returns up to limit topic ARNs of the caller's account and
// region after the ARN after ("" for the first page), and the token of
// the next page ("" at the end).
func (t *Topics) ListTopics(ctx context.Context, c Caller, after string, limit int) ([]string, string, error) {
	rows, err := t.db.QueryContext(ctx, `SELECT arn FROM sns_topics WHERE account = ? AND region = ? AND arn > ? ORDER BY arn LIMIT ?`,
		c.Account, c.Region, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list topics: %w", err)
	}
	defer rows.Close()
	var arns []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, "", fmt.Errorf("list topics: %w", err)
		}
		arns = append(arns, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list topics: %w", err)
	}
	next := ""
	if len(arns) > limit {
		arns, next = arns[:limit], arns[limit-1]
	}
	return arns, next, nil
}

// defaultPolicy is the access policy AWS gives a new topic.
func defaultPolicy(arn, account string) string {
	return `{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Sid":"__default_statement_ID","Effect":"Allow","Principal":{"AWS":"*"},"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission","SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe","SNS:ListSubscriptionsByTopic","SNS:Publish"],"Resource":"` +
		arn + `","Condition":{"StringEquals":{"AWS:SourceOwner":"` + account + `"}}}]}`
}

// TopicAttributes returns a topic's attributes as GetTopicAttributes
// shows them: those set, the defaults and the subscription counts.
func (t *Topics) TopicAttributes(ctx context.Context, c Caller, arn string) (map[string]string, error) {
	tp, err := t.callerTopic(ctx, c, "GetTopicAttributes", arn)
	if err != nil {
		return nil, err
	}
	var confirmed, pending int64
	err = t.db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE NOT pending), count(*) FILTER (WHERE pending)
		FROM sns_subscriptions WHERE topic_arn = ?`, arn).Scan(&confirmed, &pending)
	if err != nil {
		return nil, fmt.Errorf("count subscriptions: %w", err)
	}
	out := map[string]string{
		"TopicArn": arn, "Owner": tp.Account, "Policy": defaultPolicy(arn, tp.Account), "DisplayName": "",
		"SubscriptionsConfirmed": strconv.FormatInt(confirmed, 10), "SubscriptionsPending": strconv.FormatInt(pending, 10),
		"SubscriptionsDeleted": strconv.FormatInt(tp.DeletedSubs, 10),
	}
	maps.Copy(out, tp.Attrs)
	pol, err := parseDeliveryPolicy(tp.Attrs["DeliveryPolicy"], t.retry)
	if err != nil {
		return nil, err
	}
	out["EffectiveDeliveryPolicy"] = effectiveDeliveryPolicy(pol)
	return out, nil
}

// SetTopicAttribute sets (or, with an empty value, clears) one attribute.
func (t *Topics) SetTopicAttribute(ctx context.Context, c Caller, arn, name, value string) error {
	if err := checkTopicARN(c, "SetTopicAttributes", "TopicArn", arn); err != nil {
		return err
	}
	if err := validateTopicAttr(name, value); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tp, err := t.topic(ctx, arn)
	if err != nil {
		return err
	}
	if value == "" {
		delete(tp.Attrs, name)
	} else {
		tp.Attrs[name] = value
	}
	if _, err := t.db.ExecContext(ctx, `UPDATE sns_topics SET attrs = ? WHERE arn = ?`, mustJSON(tp.Attrs), arn); err != nil {
		return fmt.Errorf("set topic attributes: %w", err)
	}
	return nil
}

// Tags returns a topic's tags.
func (t *Topics) Tags(ctx context.Context, c Caller, arn string) (map[string]string, error) {
	tp, err := t.resourceTopic(ctx, c, "ListTagsForResource", arn)
	if err != nil {
		return nil, err
	}
	return tp.Tags, nil
}

// resourceTopic is callerTopic for the tagging operations, whose missing
// topic is ResourceNotFound.
func (t *Topics) resourceTopic(ctx context.Context, c Caller, action, arn string) (*Topic, error) {
	if err := checkTopicARN(c, action, "ResourceArn", arn); err != nil {
		return nil, err
	}
	tp, err := t.topic(ctx, arn)
	if errors.Is(err, errTopicNotFound) {
		return nil, &Error{Code: "ResourceNotFound", Message: "Resource does not exist", Status: http.StatusNotFound}
	}
	return tp, err
}

// maxTags is how many tags a topic may have.
const maxTags = 50

// Tag adds tags to a topic and removes the keys in untag.
func (t *Topics) Tag(ctx context.Context, c Caller, arn string, add map[string]string, untag []string) error {
	action := "TagResource"
	if add == nil {
		action = "UntagResource"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tp, err := t.resourceTopic(ctx, c, action, arn)
	if err != nil {
		return err
	}
	maps.Copy(tp.Tags, add)
	for _, k := range untag {
		delete(tp.Tags, k)
	}
	if len(tp.Tags) > maxTags {
		return &Error{Code: "TagLimitExceeded", Message: "Could not complete request: tag quota of per resource exceeded", Status: http.StatusBadRequest}
	}
	if _, err := t.db.ExecContext(ctx, `UPDATE sns_topics SET tags = ? WHERE arn = ?`, mustJSON(tp.Tags), arn); err != nil {
		return fmt.Errorf("tag topic: %w", err)
	}
	return nil
}

// isSlack reports whether endpoint is a Slack-compatible webhook.
func (t *Topics) isSlack(protocol, endpoint string) bool {
	if protocol != ProtoHTTP && protocol != ProtoHTTPS {
		return false
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	for _, h := range t.cfg.SlackHosts {
		if strings.EqualFold(u.Host, h) || strings.EqualFold(u.Hostname(), h) {
			return true
		}
	}
	return false
}

var emailRE = regexp.MustCompile(`^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$`)

// checkEndpoint applies SNS's rules for a protocol's endpoint.
func (t *Topics) checkEndpoint(protocol, endpoint string) error {
	switch protocol {
	case ProtoHTTP, ProtoHTTPS:
		u, err := url.Parse(endpoint)
		if err != nil || u.Scheme != protocol || u.Host == "" {
			return invalid("Invalid parameter: Endpoint must match the specified protocol")
		}
	case ProtoEmail, ProtoEmailJSON:
		if !emailRE.MatchString(endpoint) {
			return invalid("Invalid parameter: Email address")
		}
		if t.cfg.SMTP.Host == "" {
			return invalid("Invalid parameter: Protocol Reason: e-mail delivery is not configured on this server; set notifications.smtp in its configuration")
		}
	case "sqs", "lambda", "sms", "application", "firehose":
		return invalid("Invalid parameter: Protocol Reason: opentrail delivers to http, https (including Slack-compatible webhooks), email and email-json endpoints, not %s", protocol)
	default:
		return invalid("Invalid parameter: Amazon SNS does not support this protocol string: %s", protocol)
	}
	return nil
}

var settableSubAttrs = map[string]bool{"RawMessageDelivery": true, "DeliveryPolicy": true, "FilterPolicy": true,
	"FilterPolicyScope": true, "RedrivePolicy": true, "SubscriptionRoleArn": true}

func validateSubAttr(name, value string) error {
	if !settableSubAttrs[name] {
		return invalid("Invalid parameter: AttributeName")
	}
	switch name {
	case "RawMessageDelivery":
		if value != "true" && value != "false" {
			return invalid("Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [%s]. Must be true or false.", value)
		}
	case "FilterPolicy":
		if value != "" {
			return invalid("Invalid parameter: FilterPolicy: filter policies are not supported by opentrail; every message is delivered to every subscription")
		}
	case "DeliveryPolicy":
		if value != "" {
			if _, err := parseDeliveryPolicy(value, DefaultRetry); err != nil {
				return invalid("Invalid parameter: DeliveryPolicy: %s", err)
			}
		}
	}
	return nil
}

// Subscribe subscribes endpoint to a topic. An http/https endpoint is
// pending until it confirms (a SubscriptionConfirmation is queued to it
// now); e-mail endpoints get a confirmation mail; Slack-compatible
// webhooks are confirmed at once. Subscribing the same protocol and
// endpoint again returns the existing subscription.
func (t *Topics) Subscribe(ctx context.Context, c Caller, topicARN, protocol, endpoint string, attrs map[string]string) (*Subscription, error) {
	if err := checkTopicARN(c, "Subscribe", "TopicArn", topicARN); err != nil {
		return nil, err
	}
	if err := t.checkEndpoint(protocol, endpoint); err != nil {
		return nil, err
	}
	for k, v := range attrs {
		if err := validateSubAttr(k, v); err != nil {
			return nil, err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.topic(ctx, topicARN); err != nil {
		return nil, err
	}
	subs, err := t.subscriptions(ctx, `topic_arn = ? AND protocol = ? AND endpoint = ? ORDER BY arn`, topicARN, protocol, endpoint)
	if err != nil {
		return nil, err
	}
	if len(subs) > 0 {
		return subs[0], nil
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	s := &Subscription{ARN: topicARN + ":" + newUUID(), TopicARN: topicARN, Account: c.Account, Protocol: protocol,
		Endpoint: endpoint, Token: newToken(), Pending: !t.isSlack(protocol, endpoint), Attrs: attrs}
	now := t.now()
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO sns_subscriptions (arn, topic_arn, account, protocol, endpoint, token, pending, attrs, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.ARN, topicARN, c.Account, protocol, endpoint, s.Token, s.Pending, mustJSON(attrs), now)
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	if s.Pending {
		id := newUUID()
		msg := fmt.Sprintf("You have chosen to subscribe to the topic %s.\nTo confirm the subscription, visit the SubscribeURL included in this message.", topicARN)
		if _, err := tx.ExecContext(ctx, `INSERT INTO sns_messages (id, topic_arn, account, dedup_id, kind, subject, message, attrs, created)
			VALUES (?, ?, ?, '', ?, '', ?, '{}', ?)`, id, topicARN, c.Account, kindConfirmation, msg, now); err != nil {
			return nil, fmt.Errorf("subscribe: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sns_deliveries (message_id, sub_arn, attempt, next_at, state) VALUES (?, ?, 0, ?, 'pending')`,
			id, s.ARN, now); err != nil {
			return nil, fmt.Errorf("subscribe: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	t.deliver.kick()
	return s, nil
}

// ConfirmSubscription confirms the subscription of topicARN whose token
// is token and returns its ARN. Confirming twice is not an error. With
// authOnUnsubscribe, only an authenticated Unsubscribe call (not the
// UnsubscribeURL) removes it.
func (t *Topics) ConfirmSubscription(ctx context.Context, topicARN, token string, authOnUnsubscribe bool) (string, error) {
	if _, _, _, ok := parseTopicARN(topicARN); !ok {
		return "", invalid("Invalid parameter: TopicArn")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.topic(ctx, topicARN); err != nil {
		return "", err
	}
	subs, err := t.subscriptions(ctx, `topic_arn = ? AND token = ?`, topicARN, token)
	if err != nil {
		return "", err
	}
	if len(subs) == 0 || token == "" {
		return "", invalid("Invalid token")
	}
	s := subs[0]
	if authOnUnsubscribe {
		s.Attrs["AuthenticateOnUnsubscribe"] = "true"
	}
	if s.Pending || authOnUnsubscribe {
		if _, err := t.db.ExecContext(ctx, `UPDATE sns_subscriptions SET pending = false, attrs = ? WHERE arn = ?`, mustJSON(s.Attrs), s.ARN); err != nil {
			return "", fmt.Errorf("confirm subscription: %w", err)
		}
	}
	return s.ARN, nil
}

// Unsubscribe deletes a subscription; its queued deliveries are dropped.
// A subscription that does not exist (already removed) is no error, as on
// AWS.
func (t *Topics) Unsubscribe(ctx context.Context, c Caller, subARN string) error {
	i := strings.LastIndexByte(subARN, ':')
	if i < 0 {
		return invalid("Invalid parameter: SubscriptionArn")
	}
	if err := checkTopicARN(c, "Unsubscribe", "SubscriptionArn", subARN[:i]); err != nil {
		return err
	}
	return t.unsubscribe(ctx, subARN)
}

func (t *Topics) unsubscribe(ctx context.Context, subARN string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	subs, err := t.subscriptions(ctx, `arn = ?`, subARN)
	if err != nil {
		return err
	}
	if len(subs) == 0 {
		return nil
	}
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`DELETE FROM sns_deliveries WHERE sub_arn = ? AND state = 'pending'`,
		`DELETE FROM sns_subscriptions WHERE arn = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, subARN); err != nil {
			return fmt.Errorf("unsubscribe: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sns_topics SET deleted_subs = deleted_subs + 1 WHERE arn = ?`, subs[0].TopicARN); err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	return tx.Commit()
}

// subscriptions reads the subscriptions matching where, by ARN.
func (t *Topics) subscriptions(ctx context.Context, where string, args ...any) ([]*Subscription, error) {
	rows, err := t.db.QueryContext(ctx, `SELECT arn, topic_arn, account, protocol, endpoint, token, pending, attrs
		FROM sns_subscriptions WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read subscriptions: %w", err)
	}
	defer rows.Close()
	var out []*Subscription
	for rows.Next() {
		var s Subscription
		var attrs string
		if err := rows.Scan(&s.ARN, &s.TopicARN, &s.Account, &s.Protocol, &s.Endpoint, &s.Token, &s.Pending, &attrs); err != nil {
			return nil, fmt.Errorf("read subscriptions: %w", err)
		}
		if err := json.Unmarshal([]byte(attrs), &s.Attrs); err != nil {
			return nil, fmt.Errorf("read subscription %s: %w", s.ARN, err)
		}
		out = append(out, &s)
	}
	return out, rows.Err()
}

// ListSubscriptions returns up to limit subscriptions of the caller's
// account and region (of one topic when topicARN is set) after the ARN
// after, and the next page's token.
func (t *Topics) ListSubscriptions(ctx context.Context, c Caller, topicARN, after string, limit int) ([]*Subscription, string, error) {
	where, args := `account = ? AND topic_arn LIKE ? AND arn > ?`, []any{c.Account, "arn:aws:sns:" + c.Region + ":%", after}
	if topicARN != "" {
		if _, err := t.callerTopic(ctx, c, "ListSubscriptionsByTopic", topicARN); err != nil {
			return nil, "", err
		}
		where, args = `topic_arn = ? AND arn > ?`, []any{topicARN, after}
	}
	subs, err := t.subscriptions(ctx, where+fmt.Sprintf(" ORDER BY arn LIMIT %d", limit+1), args...)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(subs) > limit {
		subs, next = subs[:limit], subs[limit-1].ARN
	}
	return subs, next, nil
}

// SubscriptionAttributes returns a subscription's attributes as
// GetSubscriptionAttributes shows them.
func (t *Topics) SubscriptionAttributes(ctx context.Context, c Caller, subARN string) (map[string]string, error) {
	s, err := t.callerSub(ctx, c, "GetSubscriptionAttributes", subARN)
	if err != nil {
		return nil, err
	}
	out := map[string]string{
		"SubscriptionArn": s.ARN, "TopicArn": s.TopicARN, "Owner": s.Account, "Protocol": s.Protocol, "Endpoint": s.Endpoint,
		"PendingConfirmation": strconv.FormatBool(s.Pending), "ConfirmationWasAuthenticated": strconv.FormatBool(!s.Pending),
		"RawMessageDelivery": "false", "SubscriptionPrincipal": c.ARN,
	}
	maps.Copy(out, s.Attrs)
	if s.Protocol == ProtoHTTP || s.Protocol == ProtoHTTPS {
		tp, err := t.topic(ctx, s.TopicARN)
		if err != nil {
			return nil, err
		}
		pol, err := t.policyFor(tp, s)
		if err != nil {
			return nil, err
		}
		out["EffectiveDeliveryPolicy"] = effectiveDeliveryPolicy(pol)
	}
	return out, nil
}

func (t *Topics) callerSub(ctx context.Context, c Caller, action, subARN string) (*Subscription, error) {
	i := strings.LastIndexByte(subARN, ':')
	if i < 0 {
		return nil, invalid("Invalid parameter: SubscriptionArn")
	}
	if err := checkTopicARN(c, action, "SubscriptionArn", subARN[:i]); err != nil {
		return nil, err
	}
	subs, err := t.subscriptions(ctx, `arn = ?`, subARN)
	if err != nil {
		return nil, err
	}
	if len(subs) == 0 {
		return nil, notFound("Subscription does not exist")
	}
	return subs[0], nil
}

// SetSubscriptionAttribute sets one attribute of a subscription.
func (t *Topics) SetSubscriptionAttribute(ctx context.Context, c Caller, subARN, name, value string) error {
	if err := validateSubAttr(name, value); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.callerSub(ctx, c, "SetSubscriptionAttributes", subARN)
	if err != nil {
		return err
	}
	if value == "" {
		delete(s.Attrs, name)
	} else {
		s.Attrs[name] = value
	}
	if _, err := t.db.ExecContext(ctx, `UPDATE sns_subscriptions SET attrs = ? WHERE arn = ?`, mustJSON(s.Attrs), subARN); err != nil {
		return fmt.Errorf("set subscription attributes: %w", err)
	}
	return nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newToken() string {
	b := make([]byte, 64)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}
