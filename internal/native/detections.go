package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/eventrules"
	"github.com/opentrail/opentrail/internal/sigmawatch"
)

// SigmaRunner runs the Sigma rule set over stored history
// (*sigmawatch.Watch implements it).
type SigmaRunner interface {
	Run(ctx context.Context, since, until time.Time, progress func(sigmawatch.Progress)) (*sigmawatch.RunResult, error)
}

// EventRuleRunner runs the enabled event rules over stored history
// (*eventrules.Rules implements it).
type EventRuleRunner interface {
	Run(ctx context.Context, since, until time.Time, progress func(eventrules.Progress)) (*eventrules.RunResult, error)
}

// Detections are the detectors POST /v1/detections/runs runs; a nil one
// is not offered.
type Detections struct {
	Sigma      SigmaRunner
	EventRules EventRuleRunner
}

// Detector names of POST /v1/detections/runs.
const (
	detectorSigma     = "sigma"
	detectorEventRule = "eventrule"
)

// detectionsRunRequest is the body of POST /v1/detections/runs.
type detectionsRunRequest struct {
	Since     string
	Until     string
	Detectors []string
}

// detectorRun is what one detector's run found.
type detectorRun struct {
	Detector string
	Read     int64 // stored events read
	InRange  int64 // of those, events whose eventTime is in the range
	Signals  int   // signals reported
	New      int   // of those, not recorded before
	Findings int   // findings opened
	Seconds  float64
	// Skipped says why a detector the request did not name ran nothing
	// (it has no rules).
	Skipped string `json:",omitempty"`
}

// detectionsRunResponse reports a finished run.
type detectionsRunResponse struct {
	Since, Until string `json:",omitempty"`
	Runs         []detectorRun
	Signals, New int
	Findings     int
	Seconds      float64
}

// runDetections serves POST /v1/detections/runs {"Since": RFC3339,
// "Until"?, "Detectors"?: ["sigma","eventrule"]}: the detectors' current
// rules run over the stored events whose eventTime is in the range (both
// storage tiers), their signals recorded as findings; a run over history
// already matched records nothing new, and event rules' targets are sent
// nothing. A detector the request does not name and that has no rules is
// skipped, saying so. It covers every account, so only the management account may
// run it. Progress goes to the server log every second; the answer comes
// when the run is done.
func (n *Native) runDetections(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	var in detectionsRunRequest
	if err := json.Unmarshal(req.Body, &in); err != nil {
		req.Params = map[string]any{}
		return nil, badParam("The body must be a JSON object such as {\"Since\":\"2024-01-01T00:00:00Z\",\"Detectors\":[\"sigma\",\"eventrule\"]}: %s.", awsapi.Clip(err.Error(), 128))
	}
	req.Params = map[string]any{"since": in.Since, "until": in.Until, "detectors": in.Detectors}
	if !p.Management {
		return nil, &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden,
			Message: "Only the organisation's management account may run detections over history, which covers every account."}
	}
	since, err := time.Parse(time.RFC3339, in.Since)
	if err != nil {
		return nil, badParam("Since %q is not an RFC 3339 time such as 2024-01-01T00:00:00Z.", awsapi.Clip(in.Since, 64))
	}
	var until time.Time
	if in.Until != "" {
		if until, err = time.Parse(time.RFC3339, in.Until); err != nil {
			return nil, badParam("Until %q is not an RFC 3339 time such as 2024-02-01T00:00:00Z.", awsapi.Clip(in.Until, 64))
		}
		if !until.After(since) {
			return nil, badParam("Until %s is not after Since %s.", in.Until, in.Since)
		}
	}
	dets := in.Detectors
	named := len(dets) > 0
	if !named {
		if n.detections.Sigma != nil {
			dets = append(dets, detectorSigma)
		}
		if n.detections.EventRules != nil {
			dets = append(dets, detectorEventRule)
		}
	}
	seen := map[string]bool{}
	for _, d := range dets {
		switch {
		case seen[d]:
			return nil, badParam("Detector %q is named twice.", awsapi.Clip(d, 64))
		case d == detectorSigma && n.detections.Sigma != nil, d == detectorEventRule && n.detections.EventRules != nil:
		default:
			return nil, badParam("Detector %q is not one of sigma, eventrule.", awsapi.Clip(d, 64))
		}
		seen[d] = true
	}
	out := detectionsRunResponse{Since: in.Since, Until: in.Until, Runs: []detectorRun{}}
	t0 := time.Now()
	for _, d := range dets {
		t1 := time.Now()
		run := detectorRun{Detector: d}
		switch d {
		case detectorSigma:
			res, err := n.detections.Sigma.Run(ctx, since, until, func(pr sigmawatch.Progress) {
				n.logger.Info("detections run", "detector", d, "since", in.Since, "read", pr.Read, "inRange", pr.InRange, "signals", pr.Signals, "done", pr.Done)
			})
			if errors.Is(err, sigmawatch.ErrNoRules) && !named {
				run.Skipped = err.Error()
				break
			}
			if errors.Is(err, sigmawatch.ErrNoRules) {
				return nil, badParam("sigma: %v.", err)
			}
			if err != nil {
				return nil, fmt.Errorf("sigma run: %w", err) // logged; a 500
			}
			run.Read, run.InRange, run.Signals, run.New, run.Findings = res.Read, res.InRange, res.Signals, res.New, res.Created
		case detectorEventRule:
			res, err := n.detections.EventRules.Run(ctx, since, until, func(pr eventrules.Progress) {
				n.logger.Info("detections run", "detector", d, "since", in.Since, "read", pr.Read, "inRange", pr.InRange, "signals", pr.Signals, "done", pr.Done)
			})
			if errors.Is(err, eventrules.ErrNoRules) && !named {
				run.Skipped = err.Error()
				break
			}
			if errors.Is(err, eventrules.ErrNoRules) {
				return nil, badParam("eventrule: %v.", err)
			}
			if err != nil {
				return nil, fmt.Errorf("eventrule run: %w", err) // logged; a 500
			}
			run.Read, run.InRange, run.Signals, run.New, run.Findings = res.Read, res.InRange, res.Signals, res.New, res.Created
		}
		run.Seconds = time.Since(t1).Seconds()
		out.Runs = append(out.Runs, run)
		out.Signals += run.Signals
		out.New += run.New
		out.Findings += run.Findings
	}
	out.Seconds = time.Since(t0).Seconds()
	return jsonResponse(out)
}
