package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/metrics"
)

// NotificationsPath is where S3 event notifications for the configured
// sources are posted.
const NotificationsPath = "/v1/s3-notifications"

// notifyTarget is a source that takes event notifications.
type notifyTarget struct {
	name   string
	src    *importer.S3Source
	poller *importer.Poller
	token  string
	region string // the source's bucket region, which its records name
}

// notifyMetrics count the notifications received and the objects they
// named, by what became of them.
type notifyMetrics struct {
	requests *metrics.CounterVec // by result
	objects  *metrics.CounterVec // by result
}

// newNotifyMetrics registers the metrics once some source takes
// notifications.
func newNotifyMetrics(reg *metrics.Registry) notifyMetrics {
	return notifyMetrics{
		requests: reg.NewCounterVec("opentrail_source_notifications_total",
			"S3 event notifications posted to "+NotificationsPath+", by result (accepted, forbidden, malformed, too_large).", "result"),
		objects: reg.NewCounterVec("opentrail_source_notified_objects_total",
			"Objects named by accepted S3 event notifications, by result: queued for import, deferred to the next poll (queue full), or ignored (no source holds them).", "result"),
	}
}

// notifications serves S3 event notifications for the configured
// sources that take them (NotificationsPath). Built in New, it is safe
// for concurrent use once built.
type notifications struct {
	targets []notifyTarget
	metrics notifyMetrics
	// account records the endpoint's calls (ownAccount); audit stores
	// the records; authFails counts wrong and missing tokens.
	account   string
	audit     awsapi.CommitAuditor
	authFails *metrics.Counter
	log       *slog.Logger
	http      *http.Client // confirms SNS subscriptions; nil = a default client
}

// newNotifications serves notifications for targets (none: every
// notification is answered 404), registering their metrics if there are
// any.
func newNotifications(targets []notifyTarget, account string, audit awsapi.CommitAuditor, reg *metrics.Registry, authFails *metrics.Counter, log *slog.Logger) *notifications {
	n := &notifications{targets: targets, account: account, audit: audit, authFails: authFails, log: log}
	if len(targets) > 0 {
		n.metrics = newNotifyMetrics(reg)
	}
	return n
}

// notificationResponse is the JSON answer to an accepted notification.
type notificationResponse struct {
	Queued   int `json:"queued"`
	Deferred int `json:"deferred"`
	Ignored  int `json:"ignored"`
}

// serve takes an S3 event notification: the objects it names
// that a source holds are imported now instead of at the next poll.
//
// Webhook senders cannot sign with SigV4, so the request carries a
// source's notification_token instead, in the token query parameter or
// as "Authorization: Bearer <token>". A notification only hastens what
// polling does anyway — the objects are read from the bucket with the
// source's own credentials, and only under its prefix — so a forged one
// can at most make the server look up a key early. Every call is
// recorded in the audit trail, accepted or not.
func (ns *notifications) serve(w http.ResponseWriter, r *http.Request) {
	reqID := awsapi.NewUUID()
	c := &awsapi.Caller{Region: "us-east-1", Service: "opentrail", SourceIP: sourceIP(r), UserAgent: r.UserAgent(),
		RequestID: reqID, Time: time.Now().UTC(), TLS: awsapi.TLSDetailsFrom(r)}
	c.Principal = &auth.Principal{Type: "Unknown", AccountID: ns.account}
	fail := func(result string, err *awsapi.Error) {
		if ns.metrics.requests != nil {
			ns.metrics.requests.Add(result, 1)
		}
		ns.audit.Audit(awsapi.AuditRecord(c, "opentrail", "PostS3Notification", false, nil, nil, err.Code, err.Message))
		awsapi.WriteRESTJSONError(w, reqID, err)
	}
	if len(ns.targets) == 0 {
		fail("forbidden", &awsapi.Error{Code: "ResourceNotFoundException", Status: http.StatusNotFound,
			Message: "no configured source takes S3 event notifications; set notification_token on a source in the config (docs/import.md)"})
		return
	}
	token := r.URL.Query().Get("token")
	if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && token == "" {
		token = strings.TrimSpace(h)
	}
	var targets []notifyTarget
	for _, t := range ns.targets {
		if subtle.ConstantTimeCompare([]byte(token), []byte(t.token)) == 1 {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		ns.authFails.Add(1)
		what := "wrong"
		if token == "" {
			what = "missing"
		}
		fail("forbidden", &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden,
			Message: "the notification token is " + what + "; post to " + NotificationsPath + "?token=<a source's notification_token>, or send it as Authorization: Bearer <token>"})
		return
	}
	c.Region = targets[0].region
	body, err := io.ReadAll(io.LimitReader(r.Body, importer.MaxNotificationBytes+1))
	if err != nil {
		fail("malformed", &awsapi.Error{Code: "SerializationException", Status: http.StatusBadRequest, Message: "could not read the request body: " + err.Error()})
		return
	}
	if len(body) > importer.MaxNotificationBytes {
		fail("too_large", &awsapi.Error{Code: "RequestEntityTooLargeException", Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("a notification is at most %d bytes", importer.MaxNotificationBytes)})
		return
	}
	n, err := importer.ParseNotification(body)
	if err != nil {
		fail("malformed", &awsapi.Error{Code: "ValidationException", Status: http.StatusBadRequest, Message: err.Error()})
		return
	}
	params := map[string]any{"sources": targetNames(targets)}
	var resp notificationResponse
	switch {
	case n.SubscribeURL != "":
		if !importer.IsSNSSubscribeURL(n.SubscribeURL) {
			fail("malformed", &awsapi.Error{Code: "ValidationException", Status: http.StatusBadRequest,
				Message: "the SNS subscription confirmation's SubscribeURL is not an https URL of an SNS endpoint; confirm the subscription with aws sns confirm-subscription instead"})
			return
		}
		params["topicArn"] = n.TopicARN
		go ns.confirmSubscription(n.SubscribeURL, n.TopicARN)
	case n.Test:
		params["testEvent"] = true
		ns.log.Info("S3 test event received; notifications reach the server", "sources", targetNames(targets))
	default:
		keys := make([]string, 0, len(n.Objects))
		for _, o := range n.Objects {
			keys = append(keys, o.Bucket+"/"+o.Key)
			switch ns.queueNotified(targets, o) {
			case "queued":
				resp.Queued++
			case "deferred":
				resp.Deferred++
			default:
				resp.Ignored++
			}
		}
		if len(keys) > 10 {
			keys = keys[:10]
		}
		params["objects"] = keys
		if n.TopicARN != "" {
			params["topicArn"] = n.TopicARN
		}
		if m := ns.metrics.objects; m != nil {
			m.Add("queued", uint64(resp.Queued))
			m.Add("deferred", uint64(resp.Deferred))
			m.Add("ignored", uint64(resp.Ignored))
		}
	}
	ns.metrics.requests.Add("accepted", 1)
	// An accepted notification queues imports: its record is committed
	// before the answer.
	if err := awsapi.RecordCall(r.Context(), ns.audit, false, awsapi.AuditRecord(c, "opentrail", "PostS3Notification", false, params, resp, "", "")); err != nil {
		ns.log.Error("self-audit record not stored; answering 503", "operation", "PostS3Notification", "request_id", reqID, "err", err)
		awsapi.WriteRESTJSONError(w, reqID, awsapi.AuditUnavailable())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", reqID)
	json.NewEncoder(w).Encode(resp)
}

// queueNotified hands o to every target source that holds it; it says
// "queued" if one took it now, "deferred" if one holds it but its queue
// is full, and "ignored" if none holds it.
func (ns *notifications) queueNotified(targets []notifyTarget, o importer.NotifiedObject) string {
	result := "ignored"
	keys := o.Keys()
	for _, t := range targets {
		held := false
		for _, k := range keys {
			held = held || t.src.Holds(o.Bucket, k)
		}
		if !held {
			continue
		}
		if t.poller.Notify(keys) {
			result = "queued"
		} else if result != "queued" {
			result = "deferred"
			ns.log.Warn("notification queue full; the object waits for the next poll", "source", t.name, "key", o.Key)
		}
	}
	return result
}

// confirmSubscription confirms an SNS subscription of the notifications
// endpoint by getting its SubscribeURL (already checked to be SNS's).
func (ns *notifications) confirmSubscription(url, topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = ns.snsClient().Do(req); err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
	}
	if err != nil {
		ns.log.Error("could not confirm the SNS subscription; confirm it with aws sns confirm-subscription", "topic", topic, "err", err)
		return
	}
	ns.log.Info("confirmed the SNS subscription", "topic", topic)
}

// snsClient is the HTTP client that confirms SNS subscriptions; tests
// replace it.
func (ns *notifications) snsClient() *http.Client {
	if ns.http != nil {
		return ns.http
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func targetNames(ts []notifyTarget) []string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.name
	}
	return names
}

// ownAccount is the account the server records its own unsigned calls
// in: the organisation's management account, the local account in local
// mode, or else the first configured principal's.
func ownAccount(cfg *config.Config) string {
	switch {
	case cfg.Organization != nil && cfg.Organization.ManagementAccount != "":
		return cfg.Organization.ManagementAccount
	case cfg.LocalMode() || len(cfg.Principals) == 0:
		return auth.LocalAccount
	default:
		return cfg.Principals[0].Account
	}
}
