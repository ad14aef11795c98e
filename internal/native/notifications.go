package native

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/topics"
)

// Notifications lists SNS delivery attempts (*topics.Topics implements it).
type Notifications interface {
	// Attempts returns account's attempts at or after since, of one topic
	// when topicARN is set, oldest first.
	Attempts(ctx context.Context, account, topicARN string, since time.Time) ([]topics.Attempt, error)
}

// listNotifications serves GET /v1/notifications?topicArn=ARN&since=RFC3339:
// every delivery attempt of the caller's account (of one topic when
// topicArn is given) since the time given (default: the last 24 hours),
// oldest first.
func (n *Native) listNotifications(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	q := req.HTTP.URL.Query()
	topic, sinceText := q.Get("topicArn"), q.Get("since")
	req.Params = map[string]any{"topicArn": topic, "since": sinceText}
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	since := time.Now().Add(-24 * time.Hour)
	if sinceText != "" {
		if since, err = time.Parse(time.RFC3339, sinceText); err != nil {
			return nil, &awsapi.Error{Code: "InvalidParameterValueException", Status: http.StatusBadRequest,
				Message: fmt.Sprintf("since %q is not an RFC 3339 time such as 2026-12-04T10:00:00Z", awsapi.Clip(sinceText, 64))}
		}
	}
	as, err := n.notifications.Attempts(ctx, p.AccountID, topic, since)
	if err != nil {
		return nil, fmt.Errorf("list delivery attempts: %w", err)
	}
	return jsonResponse(struct {
		Deliveries []topics.Attempt `json:"deliveries"`
	}{as})
}
