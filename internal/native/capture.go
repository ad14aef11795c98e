package native

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/intents"
)

// Capture is the durable intent table and the ingester behind the capture
// endpoints (*intents.Local implements it).
type Capture interface {
	// PutIntents commits intent records with a lease, and the call's own
	// record (then) in the same commit, returning once they are fsynced;
	// intents.ErrIDTaken when an eventID is held by an intent of another
	// account.
	PutIntents(ctx context.Context, recs []*event.Record, lease time.Duration, then []*event.Record) error
	// RenewIntents extends the leases of live intents among ids, after
	// check accepted each one's account.
	RenewIntents(ctx context.Context, ids []string, lease time.Duration, check func(account string) error) (int, error)
	// CompleteRecords commits final records (and the call's own record,
	// made by audit) and drops their intents.
	CompleteRecords(ctx context.Context, recs []*event.Record, audit ingest.AuditFunc) (ingest.Result, error)
}

// maxLeaseSeconds is the longest lease a capture intent may ask for.
const maxLeaseSeconds = int(intents.MaxLease / time.Second)

// registerCapture binds the capture endpoints, with which a capture
// gateway or middleware records the calls it forwards
// (docs/capture.md).
func (n *Native) registerCapture(r *awsapi.PathRouter) {
	r.RegisterRawResources("POST /v1/capture/intents", "PutCaptureIntents", false, nil, n.putCaptureIntents)
	r.RegisterRawResources("POST /v1/capture/renew", "RenewCaptureIntents", false, nil, n.renewCaptureIntents)
	r.RegisterRawResources("POST /v1/capture/complete", "CompleteCaptureRecords", false, nil, n.completeCaptureRecords)
}

// captureRequest is the body of the three capture endpoints.
type captureRequest struct {
	LeaseSeconds int               `json:"leaseSeconds"`
	Records      []json.RawMessage `json:"records"`
	EventIDs     []string          `json:"eventIds"`
}

// decodeCapture reads a capture call's caller and body, checking the
// lease when withLease.
func (n *Native) decodeCapture(ctx context.Context, body []byte, withLease bool) (*awsapi.Caller, *captureRequest, error) {
	c, _, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, nil, err
	}
	in, err := decodeCaptureBody(body, withLease, n.maxEvents)
	return c, in, err
}

func decodeCaptureBody(body []byte, withLease bool, maxEvents int) (*captureRequest, error) {
	var in captureRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, &awsapi.Error{Code: "SerializationException", Status: http.StatusBadRequest,
			Message: "the body is not the JSON object this endpoint takes: " + err.Error()}
	}
	if withLease && (in.LeaseSeconds < 1 || in.LeaseSeconds > maxLeaseSeconds) {
		return nil, awsapi.Errorf(awsapi.CodeValidation, "leaseSeconds must be from 1 to %d; got %d.", maxLeaseSeconds, in.LeaseSeconds)
	}
	if len(in.Records)+len(in.EventIDs) > maxEvents {
		return nil, awsapi.Errorf(awsapi.CodeValidation, "a request may carry at most %d records or eventIds; send fewer at a time.", maxEvents)
	}
	return &in, nil
}

// captureRecords parses the records of a capture request, each of which
// the caller must be allowed to write.
func (n *Native) captureRecords(p *auth.Principal, raws []json.RawMessage) ([]*event.Record, error) {
	if len(raws) == 0 {
		return nil, badRequest("records is empty; send at least one record")
	}
	recs := make([]*event.Record, 0, len(raws))
	for i, raw := range raws {
		rec, err := event.Parse(raw)
		if err != nil {
			return nil, badRequest("record %d: %s; nothing from this request was stored", i+1, err)
		}
		if rec.EventID == "" {
			return nil, badRequest("record %d has no eventID; nothing from this request was stored", i+1)
		}
		if err := n.mayWrite(p, rec.AccountID, fmt.Sprintf("record %d (eventID %s)", i+1, rec.EventID)); err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

func (n *Native) mayWrite(p *auth.Principal, account, what string) error {
	if n.canWrite(p, account) {
		return nil
	}
	return &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden, Message: fmt.Sprintf(
		"%s belongs to account %s; %s may only write events for account %s", what, account, p.ARN, p.AccountID)}
}

// putCaptureIntents serves POST /v1/capture/intents
// {"leaseSeconds":N,"records":[…]}: the intent records of calls about to
// be forwarded, answered {"stored":N} once they are fsynced.
func (n *Native) putCaptureIntents(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	c, in, err := n.decodeCapture(ctx, req.Body, true)
	if err != nil {
		return nil, err
	}
	req.Params = map[string]any{"leaseSeconds": in.LeaseSeconds, "recordCount": len(in.Records)}
	if len(in.EventIDs) > 0 {
		return nil, badRequest("eventIds belongs to /v1/capture/renew; send records here")
	}
	recs, err := n.captureRecords(c.Principal, in.Records)
	if err != nil {
		return nil, err
	}
	// The call's own record commits with the intents, in the journal, and
	// is ingested from there at once: no second commit on the path of
	// every captured call. If the intents fail, so does it, and the
	// router records the failure as usual.
	answer := map[string]any{"stored": len(recs)}
	own, err := event.Parse(awsapi.AuditRecord(c, n.service, "PutCaptureIntents", false, req.Params, answer, "", ""))
	if err != nil {
		return nil, fmt.Errorf("make the PutCaptureIntents record: %w", err)
	}
	// Stored or not, the answer must say which: wait even if the client
	// hangs up.
	err = n.capture.PutIntents(context.WithoutCancel(ctx), recs, time.Duration(in.LeaseSeconds)*time.Second, []*event.Record{own})
	switch {
	case errors.Is(err, intents.ErrIDTaken):
		return nil, &awsapi.Error{Code: "ConflictException", Status: http.StatusConflict,
			Message: err.Error() + "; eventIDs must be unique: give the call a new one. Nothing from this request was stored."}
	case err != nil:
		return nil, awsapi.NotStored("the intents could not be committed, so none was stored: do not forward the calls; retry later", err)
	}
	out, err := captureResponse(answer)
	if err != nil {
		return nil, err
	}
	out.Audited = true
	return out, nil
}

// renewCaptureIntents serves POST /v1/capture/renew
// {"leaseSeconds":N,"eventIds":[…]}: the leases of intents of calls still
// in flight, answered {"renewed":N} (IDs without a live intent are
// skipped).
func (n *Native) renewCaptureIntents(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	c, in, err := n.decodeCapture(ctx, req.Body, true)
	if err != nil {
		return nil, err
	}
	req.Params = map[string]any{"leaseSeconds": in.LeaseSeconds, "eventIdCount": len(in.EventIDs)}
	if len(in.Records) > 0 || len(in.EventIDs) == 0 {
		return nil, badRequest("send eventIds (and no records) to renew intents")
	}
	check := func(account string) error { return n.mayWrite(c.Principal, account, "an intent") }
	renewed, err := n.capture.RenewIntents(context.WithoutCancel(ctx), in.EventIDs, time.Duration(in.LeaseSeconds)*time.Second, check)
	var ae *awsapi.Error
	switch {
	case errors.As(err, &ae):
		return nil, ae
	case err != nil:
		return nil, awsapi.NotStored("the leases could not be renewed; retry", err)
	}
	return captureResponse(map[string]any{"renewed": renewed})
}

// completeCaptureRecords serves POST /v1/capture/complete {"records":[…]}:
// calls' final records, each replacing its intent, answered as POST
// /v1/events is once they are fsynced (with the call's own record, in the
// same group commit).
func (n *Native) completeCaptureRecords(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	c, in, err := n.decodeCapture(ctx, req.Body, false)
	if err != nil {
		return nil, err
	}
	req.Params = map[string]any{"recordCount": len(in.Records)}
	if len(in.EventIDs) > 0 || in.LeaseSeconds != 0 {
		return nil, badRequest("send only records to complete calls")
	}
	recs, err := n.captureRecords(c.Principal, in.Records)
	if err != nil {
		return nil, err
	}
	response := func(res ingest.Result) putEventsResponse {
		return putEventsResponse{Accepted: res.Accepted, Duplicates: res.Duplicates, Conflicts: res.Conflicts,
			ConflictIDs: ingest.ConflictIDs(res, recs, ingest.MaxConflictIDs)}
	}
	audit := func(res ingest.Result) (*event.Record, error) {
		return event.Parse(awsapi.AuditRecord(c, n.service, "CompleteCaptureRecords", false, req.Params, response(res), "", ""))
	}
	res, err := n.capture.CompleteRecords(context.WithoutCancel(ctx), recs, audit)
	if errors.Is(err, ingest.ErrAuditNotStored) {
		return nil, awsapi.AuditNotStored(err)
	}
	if err != nil {
		return nil, awsapi.NotStored("the event store could not commit the records, so none was stored; retry later", err)
	}
	out, err := jsonResponse(response(res))
	if err != nil {
		return nil, fmt.Errorf("encode complete response: %w", err)
	}
	out.Audited = true
	return out, nil
}

func captureResponse(v map[string]any) (*awsapi.RawResponse, error) {
	out, err := jsonResponse(v)
	if err != nil {
		return nil, err
	}
	out.Response = v
	return out, nil
}
