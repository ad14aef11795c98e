package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
)

// postEventsResponse is the answer to POST /v1/events. An event is
// identified by its account and eventID: duplicates are records already
// stored exactly so (retries), conflicts records whose account and eventID
// are stored with other content, which are not stored; ConflictIDs lists
// the eventIDs of the first ingest.MaxConflictIDs of them.
type postEventsResponse struct {
	Accepted    int      `json:"accepted"`
	Duplicates  int      `json:"duplicates"`
	Conflicts   int      `json:"conflicts"`
	ConflictIDs []string `json:"conflictIds,omitempty"`
}

// postEvents ingests a body of NDJSON records or one {"Records":[...]}
// document, gzip accepted. The batch is all or nothing: one invalid record
// rejects it with a message naming the record, and nothing is stored.
// Records whose account and eventID are stored already are not stored
// again, and are answered as duplicates or conflicts (postEventsResponse).
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request, body []byte) {
	c := awsapi.CallerFrom(r.Context())
	response := func(res ingest.Result, recs []*event.Record) postEventsResponse {
		return postEventsResponse{Accepted: res.Accepted, Duplicates: res.Duplicates, Conflicts: res.Conflicts,
			ConflictIDs: ingest.ConflictIDs(res, recs, ingest.MaxConflictIDs)}
	}
	// A successful call's own record is made and committed by the
	// committer right after the events (ingest.SubmitAudited), before the
	// answer.
	var recs []*event.Record
	audit := func(res ingest.Result) (*event.Record, error) {
		return event.Parse(awsapi.AuditRecord(c, "opentrail", "PutEvents", false, putEventsParams(r, len(recs)), response(res, recs), "", ""))
	}
	res, recs, err := s.ingestBody(r, body, &recs, audit)
	if errors.Is(err, ingest.ErrAuditNotStored) {
		s.log.Error("self-audit record not stored; answering 503", "operation", "PutEvents", "request_id", c.RequestID, "err", err)
		awsapi.WriteRESTJSONError(w, c.RequestID, awsapi.AuditUnavailable())
		return
	}
	if err != nil {
		// A failed call changed nothing; its record is still committed
		// before the answer.
		e := awsapi.AsError(r.Context(), s.log, c.RequestID, err)
		rec := awsapi.AuditRecord(c, "opentrail", "PutEvents", false, putEventsParams(r, len(recs)), nil, e.Code, e.Message)
		if aerr := awsapi.RecordCall(r.Context(), s, false, rec); aerr != nil {
			s.log.Error("self-audit record not stored; answering 503", "operation", "PutEvents", "request_id", c.RequestID, "err", aerr)
			e = awsapi.AuditUnavailable()
		}
		awsapi.WriteRESTJSONError(w, c.RequestID, e)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", c.RequestID)
	json.NewEncoder(w).Encode(response(res, recs))
}

// ingestBody parses and stores a body; recs are the records read (all of
// them when err is nil, those before the bad one otherwise).
//
// parsed, when not nil, is set to the records before they are submitted,
// so that audit (which makes the call's record from the result, see
// ingest.SubmitAudited) can describe them.
func (s *Server) ingestBody(r *http.Request, body []byte, parsed *[]*event.Record, audit ingest.AuditFunc) (ingest.Result, []*event.Record, error) {
	c := awsapi.CallerFrom(r.Context())
	imported, err := importedParam(r)
	if err != nil {
		return ingest.Result{}, nil, err
	}
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))) {
	case "", "identity":
	case "gzip", "x-gzip":
		var err error
		if body, err = gunzip(body, s.cfg.Limits.MaxBodyBytes); err != nil {
			var tl *bodyTooLargeError
			if errors.As(err, &tl) {
				err = &awsapi.Error{Code: "RequestEntityTooLargeException", Message: "decompressed " + tl.Error(), Status: http.StatusRequestEntityTooLarge}
			}
			return ingest.Result{}, nil, err
		}
	default:
		return ingest.Result{}, nil, badRequest("Content-Encoding %q is not supported; send the body plain or gzip-compressed", r.Header.Get("Content-Encoding"))
	}

	var recs []*event.Record
	err = event.SplitBody(body, s.cfg.Limits.MaxEventsPerRequest, func(raw []byte) error {
		rec, err := event.Parse(raw)
		if err != nil {
			return err
		}
		if !s.dir.CanWrite(c.Principal, rec.AccountID) {
			return &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden, Message: fmt.Sprintf(
				"record %d (eventID %s) belongs to account %s; %s may only write events for account %s",
				len(recs)+1, rec.EventID, rec.AccountID, c.Principal.ARN, c.Principal.AccountID)}
		}
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		var ae *awsapi.Error
		if errors.As(err, &ae) {
			return ingest.Result{}, recs, ae
		}
		return ingest.Result{}, recs, badRequest("%s; nothing from this request was stored", err)
	}
	if len(recs) == 0 {
		return ingest.Result{}, nil, badRequest("the body holds no events; send NDJSON records or one {\"Records\":[...]} document")
	}
	if parsed != nil {
		*parsed = recs
	}
	// The outcome is awaited even if the client hangs up: the events and
	// the record are committed either way, and the record says how.
	res, err := s.ingester.SubmitAudited(context.WithoutCancel(r.Context()), "v1/events", recs, imported, audit)
	if errors.Is(err, ingest.ErrAuditNotStored) {
		return res, recs, err
	}
	if err != nil {
		if errors.Is(err, ingest.ErrUnavailable) || errors.Is(err, ingest.ErrClosed) {
			return res, recs, awsapi.Unavailable("the event store could not commit the events, so none were stored; retry later")
		}
		return res, recs, err
	}
	return res, recs, nil
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
