package native

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/insights"
)

// InsightsRunner recomputes Insights over stored history
// (*insights.Detector implements it).
type InsightsRunner interface {
	Run(ctx context.Context, since, until time.Time, progress func(insights.Progress)) (*insights.RunResult, error)
}

// insightsRunRequest is the body of POST /v1/insights/runs.
type insightsRunRequest struct {
	Since string
	Until string
}

// insightsRunResponse reports a finished run.
type insightsRunResponse struct {
	Since, Until   string `json:",omitempty"`
	Read, Analysed int64
	Starts, Ends   int
	EventIDs       []string // of the Start and End records, in order
	Seconds        float64
}

// runInsights serves POST /v1/insights/runs {"Since": RFC3339, "Until"?}:
// Insights recomputed over the stored events whose eventTime is in the
// range (the baseline from the days before Since), the records of the
// insights that start in it appended (idempotently: the same history
// gives the same records, which the store keeps once). It covers every
// account, so only the management account may run it. Progress goes to
// the server log every second; the answer comes when the run is done.
func (n *Native) runInsights(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return &awsapi.Error{Code: "InvalidParameterValueException", Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
	}
	var in insightsRunRequest
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, bad("the body is not a JSON object such as {\"Since\":\"2024-01-01T00:00:00Z\"}: %v", err)
	}
	req.Params = map[string]any{"since": in.Since, "until": in.Until}
	if !p.Management {
		return nil, &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden,
			Message: "Only the organisation's management account may run Insights over history, which covers every account."}
	}
	since, err := time.Parse(time.RFC3339, in.Since)
	if err != nil {
		return nil, bad("Since %q is not an RFC 3339 time such as 2024-01-01T00:00:00Z", awsapi.Clip(in.Since, 64))
	}
	var until time.Time
	if in.Until != "" {
		if until, err = time.Parse(time.RFC3339, in.Until); err != nil {
			return nil, bad("Until %q is not an RFC 3339 time such as 2024-02-01T00:00:00Z", awsapi.Clip(in.Until, 64))
		}
		if !until.After(since) {
			return nil, bad("Until %s is not after Since %s", in.Until, in.Since)
		}
	}
	t0 := time.Now()
	res, err := n.insights.Run(ctx, since, until, func(pr insights.Progress) {
		n.logger.Info("insights run", "since", in.Since, "read", pr.Read, "analysed", pr.Analysed, "records", pr.Insights, "done", pr.Done)
	})
	if err != nil {
		return nil, bad("%v", err)
	}
	out := insightsRunResponse{Since: in.Since, Until: in.Until, Read: res.Read, Analysed: res.Analysed, Starts: res.Starts,
		Ends: res.Ends, EventIDs: []string{}, Seconds: time.Since(t0).Seconds()}
	for _, r := range res.Records {
		out.EventIDs = append(out.EventIDs, r.EventID)
	}
	return jsonResponse(out)
}
