package cloudtraildata

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrailarn"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/store"
)

// CloudTrail Data request-level error codes (from the cloudtrail-data
// model; the service names them without an Exception suffix).
const (
	codeChannelInsufficientPermission = "ChannelInsufficientPermission"
	codeDataChannelNotFound           = "ChannelNotFound"
	codeInvalidChannelARN             = "InvalidChannelARN"
	codeDuplicatedAuditEventID        = "DuplicatedAuditEventId"
)

// Per-event error codes of PutAuditEvents.
const (
	codeFieldTooLong     = "FieldTooLong"
	codeFieldNotFound    = "FieldNotFound"
	codeInvalidChecksum  = "InvalidChecksum"
	codeInvalidData      = "InvalidData"
	codeInvalidRecipient = "InvalidRecipient"
)

// PutAuditEvents limits.
const (
	maxAuditEvents     = 100
	maxAuditPayload    = 1 << 20 // total eventData bytes per request
	maxAuditIDLen      = 128
	minExternalIDLen   = 2
	maxExternalIDLen   = 1224
	auditRecordVersion = "1.09"
	auditEventType     = "ActivityLog"
)

// AuditEvent is one entry of a PutAuditEvents request.
type AuditEvent struct {
	ID                *string `json:"id,omitempty"`
	EventData         *string `json:"eventData,omitempty"`
	EventDataChecksum *string `json:"eventDataChecksum,omitempty"`
}

// PutAuditEventsInput is the PutAuditEvents request: channelArn and
// externalId come from the query string, auditEvents from the body.
type PutAuditEventsInput struct {
	ChannelARN  string       `json:"-"`
	ExternalID  *string      `json:"-"`
	AuditEvents []AuditEvent `json:"auditEvents"`
}

// BindQuery takes channelArn and externalId from the query string.
func (in *PutAuditEventsInput) BindQuery(q url.Values) error {
	in.ChannelARN = q.Get("channelArn")
	if q.Has("externalId") {
		v := q.Get("externalId")
		in.ExternalID = &v
	}
	return nil
}

// AuditParams logs the channel, the external ID and the number of events,
// never the event payloads.
func (in *PutAuditEventsInput) AuditParams() any {
	p := map[string]any{"channelArn": in.ChannelARN, "auditEventCount": len(in.AuditEvents)}
	if in.ExternalID != nil {
		p["externalId"] = *in.ExternalID
	}
	return p
}

// AuditEventResult is a stored event: the caller's id and the eventID
// opentrail gave it.
type AuditEventResult struct {
	ID      string `json:"id"`
	EventID string `json:"eventID"`
}

// AuditEventError is an event that was not stored.
type AuditEventError struct {
	ID           string `json:"id"`
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

// PutAuditEventsOutput is the PutAuditEvents response; both lists are
// always present and keep the request's order.
type PutAuditEventsOutput struct {
	Successful []AuditEventResult `json:"successful"`
	Failed     []AuditEventError  `json:"failed"`
}

// AuditResponse logs counts, not the per-event lists.
func (o *PutAuditEventsOutput) AuditResponse() any {
	return map[string]int{"successfulCount": len(o.Successful), "failedCount": len(o.Failed)}
}

// isAuditIDChar matches the model's Uuid pattern ^[-_A-Za-z0-9]+$.
func isAuditIDChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// isExternalIDChar matches ^[\w+=,.@:\/-]*$.
func isExternalIDChar(r rune) bool {
	return isAuditIDChar(r) || strings.ContainsRune("+=,.@:/", r)
}

// auditChannel resolves the channelArn query parameter to a channel the
// caller may write to.
func (s *Service) auditChannel(ctx context.Context, c *awsapi.Caller, p *auth.Principal, ref string) (store.Channel, error) {
	if ref == "" {
		return store.Channel{}, awsapi.NewError(codeInvalidChannelARN, "The channelArn query parameter is required.")
	}
	r, err := cloudtrailarn.ResolveChannel(c.Region, p.AccountID, ref)
	if err != nil {
		return store.Channel{}, awsapi.NewError(codeInvalidChannelARN, err.Error())
	}
	if r.Parts.Account != p.AccountID {
		return store.Channel{}, awsapi.NewError(codeChannelInsufficientPermission,
			"The caller's account ID must be the same as the channel owner's account ID.")
	}
	notFound := awsapi.Errorf(codeDataChannelNotFound, "Channel %s does not exist.", r.ARN)
	if r.Foreign { // same account, another region
		return store.Channel{}, notFound
	}
	ch, err := s.channels.GetChannel(ctx, r.ARN)
	if errors.Is(err, store.ErrNotFound) {
		return store.Channel{}, notFound
	}
	if err != nil {
		return store.Channel{}, fmt.Errorf("get channel: %w", err)
	}
	if ch.Account != p.AccountID {
		return store.Channel{}, awsapi.NewError(codeChannelInsufficientPermission,
			"The caller's account ID must be the same as the channel owner's account ID.")
	}
	if ch.Region != c.Region {
		return store.Channel{}, notFound
	}
	return ch, nil
}

func validateAuditRequest(in *PutAuditEventsInput) error {
	if in.ExternalID != nil {
		x := *in.ExternalID
		if n := len(x); n < minExternalIDLen || n > maxExternalIDLen || !allRunes(x, isExternalIDChar) {
			return awsapi.Errorf(awsapi.CodeValidation,
				"externalId must be %d to %d characters of letters, digits and +=,.@:/-_.", minExternalIDLen, maxExternalIDLen)
		}
	}
	n := len(in.AuditEvents)
	if n < 1 || n > maxAuditEvents {
		return awsapi.Errorf(awsapi.CodeValidation, "auditEvents must hold 1 to %d events; got %d.", maxAuditEvents, n)
	}
	seen := make(map[string]bool, n)
	size := 0
	for i, ev := range in.AuditEvents {
		if ev.ID == nil {
			return awsapi.Errorf(awsapi.CodeValidation, "auditEvents[%d] has no id.", i)
		}
		id := *ev.ID
		if len(id) < 1 || len(id) > maxAuditIDLen || !allRunes(id, isAuditIDChar) {
			return awsapi.Errorf(awsapi.CodeValidation,
				"auditEvents[%d].id %q is not valid: use 1 to %d letters, digits, hyphens and underscores.", i, awsapi.Clip(id, 64), maxAuditIDLen)
		}
		if seen[id] {
			return awsapi.Errorf(codeDuplicatedAuditEventID, "Two or more entries in the request have the same event ID: %s.", id)
		}
		seen[id] = true
		if ev.EventData != nil {
			size += len(*ev.EventData)
		}
	}
	if size > maxAuditPayload {
		return awsapi.Errorf(awsapi.CodeValidation,
			"The events in one request may hold at most 1 MB of eventData; this one holds %d bytes.", size)
	}
	return nil
}

// PutAuditEvents ingests events from outside AWS through a channel. Each
// valid eventData becomes one CloudTrail record whose eventID is derived
// from the channel and the event's UID, so a retried request stores
// nothing twice and reports the same eventIDs. An event whose UID the
// channel already holds with other eventData is refused (a Failed entry,
// InvalidData), the stored one kept. All valid events of a request are
// committed together.
func (s *Service) PutAuditEvents(ctx context.Context, in *PutAuditEventsInput) (*PutAuditEventsOutput, error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := s.auditChannel(ctx, c, p, in.ChannelARN)
	if err != nil {
		return nil, err
	}
	if err := validateAuditRequest(in); err != nil {
		return nil, err
	}
	if s.ingester == nil {
		return nil, errors.New("put audit events: no ingester configured")
	}
	now := s.now().UTC()
	conv := lakeConverter{
		channelARN: ch.ARN,
		account:    ch.Account,
		region:     c.Region,
		mayWrite:   func(acct string) bool { return s.canWrite(p, acct) },
		ingestTime: now,
	}
	type pending struct {
		id, eventID, uid string
	}
	out := &PutAuditEventsOutput{Successful: []AuditEventResult{}, Failed: []AuditEventError{}}
	var recs []*event.Record
	var ok []pending
	var lastErr string
	fail := func(id, code, msg string) {
		out.Failed = append(out.Failed, AuditEventError{ID: id, ErrorCode: code, ErrorMessage: msg})
		lastErr = code
	}
	for _, ev := range in.AuditEvents {
		id := *ev.ID
		if ev.EventData == nil {
			fail(id, codeFieldNotFound, "The required member eventData is missing.")
			continue
		}
		data := *ev.EventData
		if ev.EventDataChecksum != nil && !checksumMatches(*ev.EventDataChecksum, data) {
			fail(id, codeInvalidChecksum, "eventDataChecksum is not the base64 SHA-256 of eventData.")
			continue
		}
		raw, eventID, uid, f := conv.convert([]byte(data))
		if f != nil {
			fail(id, f.code, f.msg)
			continue
		}
		rec, err := event.Parse(raw)
		if err != nil {
			if errors.Is(err, event.ErrTooLarge) {
				fail(id, codeFieldTooLong, "The event is larger than the 256 KB record limit.")
			} else {
				fail(id, codeInvalidData, "The event is not a valid record: "+err.Error())
			}
			continue
		}
		recs = append(recs, rec)
		ok = append(ok, pending{id: id, eventID: eventID, uid: uid})
	}
	lastID, okID := "", ""
	if len(recs) > 0 {
		lastID = ok[len(ok)-1].eventID
		res, err := s.ingester.Submit(ctx, SourcePutAuditEvents, recs)
		if err != nil {
			// Nothing was stored: 503, as on the other ingest door
			// (awsapi.NotStored).
			s.logger.ErrorContext(ctx, "put audit events: submit failed",
				slog.String("channel", ch.ARN), slog.Int("events", len(recs)), slog.Any("err", err))
			s.status.RecordIngestion(ch.ARN, now, lastID, "", awsapi.CodeInternalFailure)
			return nil, awsapi.NotStored("The events could not be stored and none was acknowledged; retry the request.", err)
		}
		if len(res.Outcomes) != len(recs) {
			// A bug, not the store failing: InternalFailure/500.
			s.status.RecordIngestion(ch.ARN, now, lastID, "", awsapi.CodeInternalFailure)
			return nil, fmt.Errorf("put audit events: ingester reported %d outcomes for %d records", len(res.Outcomes), len(recs))
		}
		for i, pe := range ok {
			switch res.Outcomes[i] {
			case ingest.Accepted, ingest.Duplicate:
				out.Successful = append(out.Successful, AuditEventResult{ID: pe.id, EventID: pe.eventID})
				okID = pe.eventID
			case ingest.Conflict:
				// The channel already holds an event with this UID and
				// other content: the stored one is kept, and this one is
				// refused like other eventData the service cannot take.
				fail(pe.id, codeInvalidData, fmt.Sprintf("An event with UID %s was already stored through this channel "+
					"(eventID %s) with different content; the stored event is kept. Give a new event a new UID.", pe.uid, pe.eventID))
			default:
				fail(pe.id, awsapi.CodeInternalFailure, "The event could not be stored.")
			}
		}
	}
	s.status.RecordIngestion(ch.ARN, now, lastID, okID, lastErr)
	sortByRequest(out, in.AuditEvents)
	return out, nil
}

// sortByRequest orders the failed list as the events appear in the
// request (failures found after Submit were appended last).
func sortByRequest(out *PutAuditEventsOutput, evs []AuditEvent) {
	if len(out.Failed) < 2 {
		return
	}
	pos := make(map[string]int, len(evs))
	for i, ev := range evs {
		pos[*ev.ID] = i
	}
	failed := out.Failed
	for i := 1; i < len(failed); i++ { // insertion sort: short, nearly sorted
		for j := i; j > 0 && pos[failed[j].ID] < pos[failed[j-1].ID]; j-- {
			failed[j], failed[j-1] = failed[j-1], failed[j]
		}
	}
}

func checksumMatches(checksum, data string) bool {
	want := sha256.Sum256([]byte(data))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if got, err := enc.DecodeString(checksum); err == nil {
			return bytes.Equal(got, want[:])
		}
	}
	return false
}

// auditEventID derives the eventID of an event received through a
// channel from the channel ARN and the event's UID: the first 16 bytes of
// their SHA-256, formatted as a version 8 (custom) UUID.
func auditEventID(channelARN, uid string) string {
	h := sha256.New()
	h.Write([]byte("opentrail PutAuditEvents\x00"))
	h.Write([]byte(channelARN))
	h.Write([]byte{0})
	h.Write([]byte(uid))
	var b [16]byte
	copy(b[:], h.Sum(nil))
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return awsapi.FormatUUID(b)
}
