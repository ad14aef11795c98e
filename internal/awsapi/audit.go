package awsapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Auditor receives the self-audit record of every API call. Audit must not
// block the response for long (the server's implementation queues the
// record for the next group commit) and must be safe for concurrent use.
// rec is a complete CloudTrail record in compact JSON; Audit owns it.
type Auditor interface {
	Audit(rec []byte)
}

// CommitAuditor is an Auditor that can also store a record durably before
// the call it records is answered. The routers use it for every call that
// is not read-only, so that a change (StopLogging, DeleteTrail, ...) is
// never acknowledged without its record: a crash right after the answer
// cannot lose it. AuditCommit returns once rec is committed, or with the
// reason it could not be; the call is then answered with
// [AuditUnavailable] instead of its result.
type CommitAuditor interface {
	Auditor
	AuditCommit(ctx context.Context, rec []byte) error
}

// auditCommitTimeout bounds the wait for a record's commit.
const auditCommitTimeout = 30 * time.Second

// AuditUnavailable is the answer to a call whose self-audit record could
// not be stored (fail-closed): 503, which SDKs retry.
func AuditUnavailable() *Error {
	return Unavailable("The call's audit record could not be stored, so the call is reported as failed, though its change may have been applied; check the resource before retrying. See the server's log for the storage error.")
}

// RecordCall hands rec to a, committing it first when the call is not
// read-only and a can commit (see [CommitAuditor]). The context's
// cancellation is ignored: a client that hangs up does not make the record
// optional. A non-nil error means the record was not stored and the call
// must be answered with [AuditUnavailable].
func RecordCall(ctx context.Context, a Auditor, readOnly bool, rec []byte) error {
	if a == nil {
		return nil
	}
	ca, ok := a.(CommitAuditor)
	if readOnly || !ok {
		a.Audit(rec)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditCommitTimeout)
	defer cancel()
	return ca.AuditCommit(ctx, rec)
}

// AuditEventVersion is the eventVersion of the records opentrail writes
// about its own API.
const AuditEventVersion = "1.09"

// maxAuditString is CloudTrail's cap on userAgent, errorCode and
// errorMessage (1 KB); longer values are cut.
const maxAuditString = 1024

// EventSource returns the eventSource recorded for calls to a service with
// the given SigV4 signing name: cloudtrail → cloudtrail.amazonaws.com. A
// name that already contains a dot is returned unchanged.
func EventSource(service string) string {
	if strings.Contains(service, ".") {
		return service
	}
	return service + ".amazonaws.com"
}

type auditIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`
}

type auditRecord struct {
	EventVersion       string          `json:"eventVersion"`
	UserIdentity       auditIdentity   `json:"userIdentity"`
	EventTime          string          `json:"eventTime"`
	EventSource        string          `json:"eventSource"`
	EventName          string          `json:"eventName"`
	AWSRegion          string          `json:"awsRegion"`
	SourceIPAddress    string          `json:"sourceIPAddress"`
	UserAgent          string          `json:"userAgent,omitempty"`
	ErrorCode          string          `json:"errorCode,omitempty"`
	ErrorMessage       string          `json:"errorMessage,omitempty"`
	RequestParameters  json.RawMessage `json:"requestParameters"`
	ResponseElements   json.RawMessage `json:"responseElements"`
	RequestID          string          `json:"requestID,omitempty"`
	EventID            string          `json:"eventID"`
	ReadOnly           bool            `json:"readOnly"`
	EventType          string          `json:"eventType"`
	ManagementEvent    bool            `json:"managementEvent"`
	RecipientAccountID string          `json:"recipientAccountId,omitempty"`
	EventCategory      string          `json:"eventCategory"`
	Resources          []AuditResource `json:"resources,omitempty"`
	TLSDetails         *TLSDetails     `json:"tlsDetails,omitempty"`
}

// AuditResource is one entry of a record's resources list.
type AuditResource struct {
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
}

// AuditCall describes one API call for [AuditCall.Record], for calls
// [AuditRecord] cannot express: data events, resources, and request
// parameters logged with their names as sent.
type AuditCall struct {
	Service          string // SigV4 signing name, see [EventSource]
	Op               string
	ReadOnly         bool
	Params, Response any
	ErrCode, ErrMsg  string
	// Data marks a data event (managementEvent false, eventCategory Data),
	// such as an S3 object read.
	Data      bool
	Resources []AuditResource
	// RawParams logs Params' object keys as they are instead of
	// lower-cameling them (S3 logs its parameters as sent: Host, prefix).
	RawParams bool
}

// AuditRecord builds the CloudTrail record of one API call made by c to
// service (a SigV4 signing name, see [EventSource]) operation op.
//
// params and response are the request members and the response; they are
// encoded as JSON and their object keys lower-cameled (ChannelArn →
// channelArn), as CloudTrail logs them. Pass values whose JSON is the
// exact shape to log; nil, or an empty object, is logged as null.
// responseElements is always null for read-only calls. errCode and errMsg
// are set for failed calls and empty otherwise.
//
// The record gets a fresh random eventID; eventTime is c.Time, or now when
// that is zero. A nil c.Principal is recorded as userIdentity type Unknown.
func AuditRecord(c *Caller, service, op string, readOnly bool, params, response any, errCode, errMsg string) []byte {
	return AuditCall{Service: service, Op: op, ReadOnly: readOnly, Params: params, Response: response, ErrCode: errCode, ErrMsg: errMsg}.Record(c)
}

// Record builds the CloudTrail record of the call made by c, as
// [AuditRecord] does.
func (a AuditCall) Record(c *Caller) []byte {
	service, op, readOnly, params, response, errCode, errMsg := a.Service, a.Op, a.ReadOnly, a.Params, a.Response, a.ErrCode, a.ErrMsg
	if c == nil {
		c = &Caller{}
	}
	t := c.Time
	if t.IsZero() {
		t = time.Now()
	}
	rec := auditRecord{
		EventVersion:      AuditEventVersion,
		UserIdentity:      auditIdentity{Type: "Unknown"},
		EventTime:         t.UTC().Format("2006-01-02T15:04:05Z"),
		EventSource:       EventSource(service),
		EventName:         op,
		AWSRegion:         c.Region,
		SourceIPAddress:   c.SourceIP,
		UserAgent:         cut(c.UserAgent, maxAuditString),
		ErrorCode:         cut(errCode, maxAuditString),
		ErrorMessage:      cut(errMsg, maxAuditString),
		RequestParameters: auditJSON(params),
		RequestID:         c.RequestID,
		EventID:           NewUUID(),
		ReadOnly:          readOnly,
		EventType:         "AwsApiCall",
		ManagementEvent:   true,
		EventCategory:     "Management",
		TLSDetails:        c.TLS,
		Resources:         a.Resources,
	}
	if a.RawParams {
		rec.RequestParameters = rawJSON(params)
	}
	if a.Data {
		rec.ManagementEvent, rec.EventCategory = false, "Data"
	}
	if !readOnly {
		rec.ResponseElements = auditJSON(response)
	}
	if p := c.Principal; p != nil {
		rec.UserIdentity = auditIdentity{
			Type:        p.Type,
			PrincipalID: p.PrincipalID,
			ARN:         p.ARN,
			AccountID:   p.AccountID,
			AccessKeyID: p.AccessKeyID,
			UserName:    p.UserName,
		}
		if rec.UserIdentity.Type == "" {
			rec.UserIdentity.Type = "Unknown"
		}
		rec.RecipientAccountID = p.AccountID
	}
	return marshalCompact(rec)
}

// auditJSON encodes v with lower-cameled object keys; nil, JSON null and
// {} become nil (logged as null).
func auditJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return nil
	}
	tree = lowerCamelKeys(tree)
	if tree == nil {
		return nil
	}
	if m, ok := tree.(map[string]any); ok && len(m) == 0 {
		return nil
	}
	return marshalCompact(tree)
}

// rawJSON encodes v as it is; nil and {} become nil (logged as null).
func rawJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b := marshalCompact(v)
	if b == nil || string(b) == "null" || string(b) == "{}" {
		return nil
	}
	return b
}

// LowerCamelKeys lower-camels the object keys of v, a decoded JSON
// value, at every depth (ChannelArn → channelArn), as CloudTrail logs an
// operation's members. Maps are copied; lists are changed in place.
func LowerCamelKeys(v any) any { return lowerCamelKeys(v) }

// LowerCamel lower-cases s's first letter.
func LowerCamel(s string) string { return lowerCamel(s) }

func lowerCamelKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[lowerCamel(k)] = lowerCamelKeys(val)
		}
		return out
	case []any:
		for i := range x {
			x[i] = lowerCamelKeys(x[i])
		}
		return x
	}
	return v
}

func lowerCamel(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || !unicode.IsUpper(r) {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}

// marshalCompact encodes v as compact JSON without HTML escaping (records
// keep <, > and & as they are).
func marshalCompact(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Do not split a UTF-8 sequence.
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// NewUUID returns a random (version 4) UUID in lowercase 8-4-4-4-12 form.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return FormatUUID(b)
}

// FormatUUID formats 16 bytes as a lowercase 8-4-4-4-12 UUID string.
func FormatUUID(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}
