package native

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
)

// putEventsResponse is the answer to POST /v1/events. An event is
// identified by its account and eventID: duplicates are records already
// stored exactly so (retries), conflicts records whose account and eventID
// are stored with other content, which are not stored; ConflictIDs lists
// the eventIDs of the first ingest.MaxConflictIDs of them.
type putEventsResponse struct {
	Accepted    int      `json:"accepted"`
	Duplicates  int      `json:"duplicates"`
	Conflicts   int      `json:"conflicts"`
	ConflictIDs []string `json:"conflictIds,omitempty"`
}

// errNoIngester is an internal error: POST /v1/events is registered only
// with an Ingester.
var errNoIngester = errors.New("native API: POST /v1/events without an Ingester")

// putEvents serves POST /v1/events: a body of NDJSON records or one
// {"Records":[...]} document, gzip accepted. The batch is all or nothing:
// one invalid record rejects it with a message naming the record, and
// nothing is stored. Records whose account and eventID are stored already
// are not stored again, and are answered as duplicates or conflicts
// (putEventsResponse). A successful call's own record is made and
// committed by the committer right after the events
// (ingest.Ingester.SubmitAudited), before the answer; a failed call's is
// committed by the router.
func (n *Native) putEvents(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	c, _, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if n.ingester == nil {
		return nil, errNoIngester
	}
	r := req.HTTP
	req.Params = putEventsParams(r, 0)
	response := func(res ingest.Result, recs []*event.Record) putEventsResponse {
		return putEventsResponse{Accepted: res.Accepted, Duplicates: res.Duplicates, Conflicts: res.Conflicts,
			ConflictIDs: ingest.ConflictIDs(res, recs, ingest.MaxConflictIDs)}
	}
	var recs []*event.Record
	audit := func(res ingest.Result) (*event.Record, error) {
		return event.Parse(awsapi.AuditRecord(c, n.service, "PutEvents", false, putEventsParams(r, len(recs)), response(res, recs), "", ""))
	}
	res, err := n.ingestBody(ctx, r, req.Body, &recs, audit)
	req.Params = putEventsParams(r, len(recs))
	if errors.Is(err, ingest.ErrAuditNotStored) {
		return nil, awsapi.AuditNotStored(err)
	}
	if err != nil {
		return nil, err
	}
	out, err := jsonResponse(response(res, recs))
	if err != nil {
		return nil, fmt.Errorf("encode put events response: %w", err)
	}
	out.Audited = true
	return out, nil
}

// ingestBody parses and stores a body. *parsed is set to the records read
// (all of them when err is nil, those before the bad one otherwise),
// before they are submitted, so that audit (which makes the call's record
// from the result, see ingest.Ingester.SubmitAudited) can describe them.
func (n *Native) ingestBody(ctx context.Context, r *http.Request, body []byte, parsed *[]*event.Record, audit ingest.AuditFunc) (ingest.Result, error) {
	c := awsapi.CallerFrom(ctx)
	imported, err := importedParam(r)
	if err != nil {
		return ingest.Result{}, err
	}
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))) {
	case "", "identity":
	case "gzip", "x-gzip":
		if body, err = gunzip(body, n.maxBody); err != nil {
			return ingest.Result{}, err
		}
	default:
		return ingest.Result{}, badRequest("Content-Encoding %q is not supported; send the body plain or gzip-compressed", r.Header.Get("Content-Encoding"))
	}

	var recs []*event.Record
	err = event.SplitBody(body, n.maxEvents, func(raw []byte) error {
		rec, err := event.Parse(raw)
		if err != nil {
			return err
		}
		if !n.canWrite(c.Principal, rec.AccountID) {
			return &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden, Message: fmt.Sprintf(
				"record %d (eventID %s) belongs to account %s; %s may only write events for account %s",
				len(recs)+1, rec.EventID, rec.AccountID, c.Principal.ARN, c.Principal.AccountID)}
		}
		recs = append(recs, rec)
		*parsed = recs
		return nil
	})
	if err != nil {
		var ae *awsapi.Error
		if errors.As(err, &ae) {
			return ingest.Result{}, ae
		}
		return ingest.Result{}, badRequest("%s; nothing from this request was stored", err)
	}
	if len(recs) == 0 {
		return ingest.Result{}, badRequest("the body holds no events; send NDJSON records or one {\"Records\":[...]} document")
	}
	// The outcome is awaited even if the client hangs up: the events and
	// the record are committed either way, and the record says how.
	res, err := n.ingester.SubmitAudited(context.WithoutCancel(ctx), "v1/events", recs, imported, audit)
	if err != nil && !errors.Is(err, ingest.ErrAuditNotStored) {
		return res, awsapi.NotStored("the event store could not commit the events, so none were stored; retry later", err)
	}
	return res, err
}

// importedParam reads the query parameter imported=true|false, with which
// `opentrail import` marks events it imports from existing CloudTrail
// logs: retention spares them (history.retention_covers_imported).
func importedParam(r *http.Request) (bool, error) {
	switch v := r.URL.Query().Get("imported"); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, badRequest("imported=%q: want true or false", v)
	}
}

func badRequest(format string, args ...any) *awsapi.Error {
	return &awsapi.Error{Code: "InvalidEventException", Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// putEventsParams are the requestParameters of a PutEvents record.
func putEventsParams(r *http.Request, count int) map[string]any {
	p := map[string]any{"eventCount": count, "contentEncoding": r.Header.Get("Content-Encoding")}
	if imported, err := importedParam(r); err == nil && imported {
		p["imported"] = true
	}
	return p
}

// gunzip inflates a gzip body, refusing to inflate past limit bytes.
func gunzip(body []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, &awsapi.Error{Code: "SerializationException", Message: "Content-Encoding is gzip but the body is not gzip data: " + err.Error(), Status: http.StatusBadRequest}
	}
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, &awsapi.Error{Code: "SerializationException", Message: "the gzip body is corrupt: " + err.Error(), Status: http.StatusBadRequest}
	}
	if int64(len(out)) > limit {
		return nil, &awsapi.Error{Code: "RequestEntityTooLargeException", Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("decompressed request body is larger than %d bytes; send fewer events per request (or raise limits.max_body_bytes)", limit)}
	}
	return out, nil
}
