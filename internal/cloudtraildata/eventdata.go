package cloudtraildata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrailarn"
	"github.com/opentrail/opentrail/internal/event"
)

// lakeFailure is a per-event PutAuditEvents failure.
type lakeFailure struct{ code, msg string }

func notFound(field string) *lakeFailure {
	return &lakeFailure{codeFieldNotFound, fmt.Sprintf("The required field %s is missing.", field)}
}

func invalid(field, want string) *lakeFailure {
	return &lakeFailure{codeInvalidData, fmt.Sprintf("The field %s must be %s.", field, want)}
}

func tooLong(field string, max int, unit string) *lakeFailure {
	return &lakeFailure{codeFieldTooLong, fmt.Sprintf("The field %s is longer than %d %s.", field, max, unit)}
}

// lakeField describes one member of the integration event schema's
// eventData (or of its userIdentity).
type lakeField struct {
	name     string
	object   bool // a JSON object; otherwise a string
	required bool
	max      int // characters for strings, bytes of JSON text for objects
}

// eventDataSchema is the eventData of the CloudTrail Lake integrations
// event schema, in the order fields are checked.
var eventDataSchema = []lakeField{
	{name: "version", required: true, max: 256},
	{name: "userIdentity", object: true, required: true},
	{name: "userAgent", max: 1024},
	{name: "eventSource", required: true, max: 1024},
	{name: "eventName", required: true, max: 1024},
	{name: "eventTime", required: true},
	{name: "UID", required: true, max: 1024},
	{name: "requestParameters", object: true, max: 100 << 10},
	{name: "responseElements", object: true, max: 100 << 10},
	{name: "errorCode", max: 256},
	{name: "errorMessage", max: 256},
	{name: "sourceIPAddress"},
	{name: "recipientAccountId", required: true},
	{name: "additionalEventData", object: true, max: 28 << 10},
}

var userIdentitySchema = []lakeField{
	{name: "type", required: true, max: 128},
	{name: "principalId", required: true, max: 1024},
	{name: "details", object: true},
}

// lakeIdentity is the record's userIdentity.
type lakeIdentity struct {
	Type        string          `json:"type"`
	PrincipalID string          `json:"principalId"`
	Details     json.RawMessage `json:"details,omitempty"`
}

type lakeMetadata struct {
	IngestionTime string `json:"ingestionTime"`
	ChannelARN    string `json:"channelARN"`
}

// lakeRecord is the CloudTrail record opentrail stores for an event
// received through PutAuditEvents: the record fields CloudTrail fills in
// after ingestion plus the eventData members at the top level.
type lakeRecord struct {
	EventVersion        string          `json:"eventVersion"`
	UserIdentity        lakeIdentity    `json:"userIdentity"`
	EventTime           string          `json:"eventTime"`
	EventSource         string          `json:"eventSource"`
	EventName           string          `json:"eventName"`
	AWSRegion           string          `json:"awsRegion"`
	SourceIPAddress     string          `json:"sourceIPAddress,omitempty"`
	UserAgent           string          `json:"userAgent,omitempty"`
	ErrorCode           string          `json:"errorCode,omitempty"`
	ErrorMessage        string          `json:"errorMessage,omitempty"`
	RequestParameters   json.RawMessage `json:"requestParameters"`
	ResponseElements    json.RawMessage `json:"responseElements"`
	AdditionalEventData json.RawMessage `json:"additionalEventData,omitempty"`
	EventID             string          `json:"eventID"`
	EventType           string          `json:"eventType"`
	RecipientAccountID  string          `json:"recipientAccountId"`
	EventCategory       string          `json:"eventCategory"`
	UID                 string          `json:"UID"`
	EventDataVersion    string          `json:"eventDataVersion"`
	Metadata            lakeMetadata    `json:"metadata"`
}

// lakeConverter turns eventData into records for one request.
type lakeConverter struct {
	channelARN string
	account    string // the channel owner
	region     string
	// mayWrite reports whether the caller may write events for an
	// account other than the channel owner.
	mayWrite   func(account string) bool
	ingestTime time.Time
}

// convert validates eventData against the integration event schema and
// returns the CloudTrail record, its eventID and the event's UID.
func (lc *lakeConverter) convert(data []byte) ([]byte, string, string, *lakeFailure) {
	top, f := readObject(data, "eventData")
	if f != nil {
		return nil, "", "", f
	}
	strs := make(map[string]string)
	objs := make(map[string]json.RawMessage)
	if f := checkFields(top, eventDataSchema, "", strs, objs); f != nil {
		return nil, "", "", f
	}
	ident, f := readObject(objs["userIdentity"], "userIdentity")
	if f != nil {
		return nil, "", "", f
	}
	if f := checkFields(ident, userIdentitySchema, "userIdentity.", strs, objs); f != nil {
		return nil, "", "", f
	}
	t, err := parseEventTime(strs["eventTime"])
	if err != nil {
		return nil, "", "", invalid("eventTime", "a UTC time in yyyy-MM-ddTHH:mm:ss form")
	}
	if ip := strs["sourceIPAddress"]; ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			return nil, "", "", invalid("sourceIPAddress", "an IPv4 or IPv6 address")
		}
	}
	recipient := strs["recipientAccountId"]
	if !cloudtrailarn.IsAccountID(recipient) {
		return nil, "", "", invalid("recipientAccountId", "a 12-digit account ID")
	}
	if recipient != lc.account && (lc.mayWrite == nil || !lc.mayWrite(recipient)) {
		return nil, "", "", &lakeFailure{codeInvalidRecipient, fmt.Sprintf(
			"recipientAccountId %s is not the account that owns the channel (%s).", recipient, lc.account)}
	}
	eventID := auditEventID(lc.channelARN, strs["UID"])
	rec := lakeRecord{
		EventVersion: auditRecordVersion,
		UserIdentity: lakeIdentity{
			Type:        strs["userIdentity.type"],
			PrincipalID: strs["userIdentity.principalId"],
			Details:     objs["userIdentity.details"],
		},
		EventTime:           t.UTC().Format("2006-01-02T15:04:05Z"),
		EventSource:         strs["eventSource"],
		EventName:           strs["eventName"],
		AWSRegion:           lc.region,
		SourceIPAddress:     strs["sourceIPAddress"],
		UserAgent:           strs["userAgent"],
		ErrorCode:           strs["errorCode"],
		ErrorMessage:        strs["errorMessage"],
		RequestParameters:   objs["requestParameters"],
		ResponseElements:    objs["responseElements"],
		AdditionalEventData: objs["additionalEventData"],
		EventID:             eventID,
		EventType:           auditEventType,
		RecipientAccountID:  recipient,
		EventCategory:       event.CategoryActivityAuditLog,
		UID:                 strs["UID"],
		EventDataVersion:    strs["version"],
		Metadata: lakeMetadata{
			IngestionTime: lc.ingestTime.Format("2006-01-02T15:04:05Z"),
			ChannelARN:    lc.channelARN,
		},
	}
	raw, err := marshalNoEscape(rec)
	if err != nil {
		return nil, "", "", &lakeFailure{codeInvalidData, "The event could not be encoded: " + err.Error()}
	}
	return raw, eventID, strs["UID"], nil
}

// checkFields checks the members of one object against schema, storing
// strings in strs and objects in objs under prefix+name. Members the
// schema does not know are rejected.
func checkFields(members map[string]json.RawMessage, schema []lakeField, prefix string, strs map[string]string, objs map[string]json.RawMessage) *lakeFailure {
	known := make(map[string]bool, len(schema))
	for _, fd := range schema {
		known[fd.name] = true
		path := prefix + fd.name
		v, present := members[fd.name]
		if !present || string(v) == "null" {
			if fd.required {
				return notFound(path)
			}
			continue
		}
		if fd.object {
			if v[0] != '{' {
				return invalid(path, "a JSON object")
			}
			if fd.max > 0 && len(v) > fd.max {
				return tooLong(path, fd.max>>10, "KB")
			}
			objs[path] = v
			continue
		}
		var s string
		if v[0] != '"' || json.Unmarshal(v, &s) != nil {
			return invalid(path, "a string")
		}
		if fd.required && s == "" {
			return invalid(path, "a non-empty string")
		}
		if fd.max > 0 && utf8.RuneCountInString(s) > fd.max {
			return tooLong(path, fd.max, "characters")
		}
		strs[path] = s
	}
	for name := range members {
		if !known[name] {
			return &lakeFailure{codeInvalidData, fmt.Sprintf(
				"The field %s%s is not part of the CloudTrail Lake integration event schema.", prefix, awsapi.Clip(name, 64))}
		}
	}
	return nil
}

// readObject reads one JSON object's members without decoding their
// values. Duplicate keys, trailing data and nesting beyond
// awsapi.MaxJSONDepth are rejected.
func readObject(data []byte, what string) (map[string]json.RawMessage, *lakeFailure) {
	data = awsapi.TrimJSONSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, invalid(what, "a JSON object")
	}
	if err := awsapi.CheckDepth(data, awsapi.MaxJSONDepth); err != nil {
		return nil, &lakeFailure{codeInvalidData, fmt.Sprintf("%s is not valid: %v.", what, err)}
	}
	bad := func(err error) *lakeFailure {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return &lakeFailure{codeInvalidData, what + " is not valid JSON: it ends too early."}
		}
		return &lakeFailure{codeInvalidData, fmt.Sprintf("%s is not valid JSON: %v.", what, err)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return nil, bad(err)
	}
	members := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, bad(err)
		}
		if _, dup := members[key]; dup {
			return nil, &lakeFailure{codeInvalidData, fmt.Sprintf("%s holds the key %q more than once.", what, awsapi.Clip(key, 64))}
		}
		members[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &lakeFailure{codeInvalidData, what + " has data after the JSON object."}
	}
	return members, nil
}

// parseEventTime accepts the schema's yyyy-MM-ddTHH:mm:ss (UTC) with or
// without a zone designator and fractional seconds.
func parseEventTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02T15:04:05.999999999", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse event time %q: %w", s, err)
	}
	return t, nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
