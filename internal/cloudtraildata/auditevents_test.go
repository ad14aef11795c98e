package cloudtraildata

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrail"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/servicetest"
)

// eventData returns a valid integration event with set applied (a nil
// value deletes the member).
func eventData(t testing.TB, uid string, set map[string]any) string {
	t.Helper()
	m := map[string]any{
		"version":             "1.0",
		"userIdentity":        map[string]any{"type": "CustomUser", "principalId": "user-42", "details": map[string]any{"team": "payments"}},
		"userAgent":           "my-app/1.2",
		"eventSource":         "my-app.example.com",
		"eventName":           "TransferFunds",
		"eventTime":           "2024-05-06T11:59:00Z",
		"UID":                 uid,
		"requestParameters":   map[string]any{"amount": 10},
		"responseElements":    map[string]any{"ok": true},
		"sourceIPAddress":     "203.0.113.7",
		"recipientAccountId":  servicetest.AcctA,
		"additionalEventData": map[string]any{"k": "v"},
	}
	for k, v := range set {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type putEntry struct {
	ID        string  `json:"id"`
	EventData *string `json:"eventData,omitempty"`
	Checksum  *string `json:"eventDataChecksum,omitempty"`
}

func putBody(entries ...putEntry) string {
	b, _ := json.Marshal(map[string]any{"auditEvents": entries})
	return string(b)
}

func entry(id, data string) putEntry { return putEntry{ID: id, EventData: &data} }

type putResp struct {
	Successful []struct{ ID, EventID string } `json:"successful"`
	Failed     []struct {
		ID           string `json:"id"`
		ErrorCode    string `json:"errorCode"`
		ErrorMessage string `json:"errorMessage"`
	} `json:"failed"`
}

func decodePut(t *testing.T, status int, body string) putResp {
	t.Helper()
	if status != 200 {
		t.Fatalf("PutAuditEvents: %d %s", status, body)
	}
	var r putResp
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) putOK(account, region, query, body string) putResp {
	e.t.Helper()
	status, b := e.put(account, region, query, body)
	return decodePut(e.t, status, b)
}

func chanQuery(arn string) string { return "channelArn=" + url.QueryEscape(arn) }

func TestPutAuditEventsStoresRecord(t *testing.T) {
	e := newEnv(t, cloudtrail.Options{})
	arn := e.createChannel(servicetest.AcctA, servicetest.RegionA, "app")
	data := eventData(t, "uid-1", map[string]any{"errorCode": "Denied", "errorMessage": "no <access> & more"})
	sum := sha256.Sum256([]byte(data))
	check := base64.StdEncoding.EncodeToString(sum[:])
	status, body := e.put(servicetest.AcctA, servicetest.RegionA, chanQuery(arn)+"&externalId=ext-1", putBody(putEntry{ID: "a", EventData: &data, Checksum: &check}))
	wantID := auditEventID(arn, "uid-1")
	if want := `{"successful":[{"id":"a","eventID":"` + wantID + `"}],"failed":[]}`; status != 200 || body != want {
		t.Fatalf("got %d %s\nwant %s", status, body, want)
	}
	if len(e.st.Events) != 1 {
		t.Fatalf("%d events stored", len(e.st.Events))
	}
	rec := e.st.Events[0].Rec
	want := `{"eventVersion":"1.09","userIdentity":{"type":"CustomUser","principalId":"user-42","details":{"team":"payments"}},` +
		`"eventTime":"2024-05-06T11:59:00Z","eventSource":"my-app.example.com","eventName":"TransferFunds","awsRegion":"eu-central-1",` +
		`"sourceIPAddress":"203.0.113.7","userAgent":"my-app/1.2","errorCode":"Denied","errorMessage":"no <access> & more",` +
		`"requestParameters":{"amount":10},"responseElements":{"ok":true},"additionalEventData":{"k":"v"},` +
		`"eventID":"` + wantID + `","eventType":"ActivityLog","recipientAccountId":"210987654321","eventCategory":"ActivityAuditLog",` +
		`"UID":"uid-1","eventDataVersion":"1.0","metadata":{"ingestionTime":"2024-05-06T12:00:00Z","channelARN":"` + arn + `"}}`
	if string(rec.Raw) != want {
		t.Errorf("record\n got %s\nwant %s", rec.Raw, want)
	}
	if rec.EventCategory != "ActivityAuditLog" || rec.AccountID != servicetest.AcctA || rec.ManagementEvent {
		t.Errorf("indexed fields: %+v", rec)
	}
	// Integration events are part of the event history.
	if r := e.lookupOK(servicetest.AcctA, servicetest.RegionA, `{}`); len(r.Events) != 1 {
		t.Errorf("LookupEvents returned %d integration events, want 1", len(r.Events))
	}

	// Minimal event: optional members absent; times normalised to UTC.
	data = eventData(t, "uid-2", map[string]any{"userAgent": nil, "requestParameters": nil, "responseElements": nil,
		"sourceIPAddress": nil, "additionalEventData": nil, "userIdentity": map[string]any{"type": "T", "principalId": "p"},
		"eventTime": "2024-05-06T13:59:00.75+02:00"})
	e.putOK(servicetest.AcctA, servicetest.RegionA, chanQuery(arn), putBody(entry("b", data)))
	rec = e.st.Events[1].Rec
	if !strings.Contains(string(rec.Raw), `"userIdentity":{"type":"T","principalId":"p"},"eventTime":"2024-05-06T11:59:00Z",`) ||
		!strings.Contains(string(rec.Raw), `"requestParameters":null,"responseElements":null,"eventID"`) ||
		strings.Contains(string(rec.Raw), "sourceIPAddress") {
		t.Errorf("minimal record %s", rec.Raw)
	}
}

func TestPutAuditEventsPerEventFailures(t *testing.T) {
	e := newEnv(t, cloudtrail.Options{})
	arn := e.createChannel(servicetest.AcctA, servicetest.RegionA, "app")
	ident := func(m map[string]any) map[string]any { return map[string]any{"userIdentity": m} }
	bad := "bm90IGEgY2hlY2tzdW0="
	tests := []struct {
		name     string
		data     *string
		checksum *string
		code     string
		msg      string
	}{
		{"no eventData", nil, nil, "FieldNotFound", "The required member eventData is missing."},
		{"wrong checksum", ptr(eventData(t, "u", nil)), &bad, "InvalidChecksum", "eventDataChecksum is not the base64 SHA-256 of eventData."},
		{"checksum not base64", ptr(eventData(t, "u", nil)), ptr("%%%"), "InvalidChecksum", "eventDataChecksum is not the base64 SHA-256 of eventData."},
		{"array", ptr(`[1]`), nil, "InvalidData", "The field eventData must be a JSON object."},
		{"not JSON", ptr(`hello`), nil, "InvalidData", "The field eventData must be a JSON object."},
		{"truncated", ptr(`{"version":"1.0"`), nil, "InvalidData", "eventData is not valid JSON: it ends too early."},
		{"trailing data", ptr(eventData(t, "u", nil) + `{}`), nil, "InvalidData", "eventData has data after the JSON object."},
		{"duplicate key", ptr(`{"UID":"a","UID":"b"}`), nil, "InvalidData", `eventData holds the key "UID" more than once.`},
		{"too deep", ptr(eventData(t, "u", map[string]any{"requestParameters": nest(64)})), nil, "InvalidData",
			"eventData is not valid: JSON nesting deeper than 64 levels."},
		{"no version", ptr(eventData(t, "u", map[string]any{"version": nil})), nil, "FieldNotFound", "The required field version is missing."},
		{"no userIdentity", ptr(eventData(t, "u", map[string]any{"userIdentity": nil})), nil, "FieldNotFound", "The required field userIdentity is missing."},
		{"no type", ptr(eventData(t, "u", ident(map[string]any{"principalId": "p"}))), nil, "FieldNotFound", "The required field userIdentity.type is missing."},
		{"no principalId", ptr(eventData(t, "u", ident(map[string]any{"type": "T"}))), nil, "FieldNotFound", "The required field userIdentity.principalId is missing."},
		{"no eventSource", ptr(eventData(t, "u", map[string]any{"eventSource": nil})), nil, "FieldNotFound", "The required field eventSource is missing."},
		{"no eventName", ptr(eventData(t, "u", map[string]any{"eventName": nil})), nil, "FieldNotFound", "The required field eventName is missing."},
		{"no eventTime", ptr(eventData(t, "u", map[string]any{"eventTime": nil})), nil, "FieldNotFound", "The required field eventTime is missing."},
		{"null UID", ptr(strings.Replace(eventData(t, "u", nil), `"UID":"u"`, `"UID":null`, 1)), nil, "FieldNotFound", "The required field UID is missing."},
		{"no recipient", ptr(eventData(t, "u", map[string]any{"recipientAccountId": nil})), nil, "FieldNotFound", "The required field recipientAccountId is missing."},
		{"numeric eventName", ptr(eventData(t, "u", map[string]any{"eventName": 5})), nil, "InvalidData", "The field eventName must be a string."},
		{"empty eventSource", ptr(eventData(t, "u", map[string]any{"eventSource": ""})), nil, "InvalidData", "The field eventSource must be a non-empty string."},
		{"userIdentity string", ptr(eventData(t, "u", map[string]any{"userIdentity": "me"})), nil, "InvalidData", "The field userIdentity must be a JSON object."},
		{"details array", ptr(eventData(t, "u", ident(map[string]any{"type": "T", "principalId": "p", "details": []int{1}}))), nil, "InvalidData",
			"The field userIdentity.details must be a JSON object."},
		{"requestParameters string", ptr(eventData(t, "u", map[string]any{"requestParameters": "x"})), nil, "InvalidData",
			"The field requestParameters must be a JSON object."},
		{"bad eventTime", ptr(eventData(t, "u", map[string]any{"eventTime": "yesterday"})), nil, "InvalidData",
			"The field eventTime must be a UTC time in yyyy-MM-ddTHH:mm:ss form."},
		{"bad IP", ptr(eventData(t, "u", map[string]any{"sourceIPAddress": "my-host"})), nil, "InvalidData",
			"The field sourceIPAddress must be an IPv4 or IPv6 address."},
		{"bad recipient", ptr(eventData(t, "u", map[string]any{"recipientAccountId": "12"})), nil, "InvalidData",
			"The field recipientAccountId must be a 12-digit account ID."},
		{"other recipient", ptr(eventData(t, "u", map[string]any{"recipientAccountId": servicetest.AcctB})), nil, "InvalidRecipient",
			"recipientAccountId 123456789012 is not the account that owns the channel (210987654321)."},
		{"unknown field", ptr(eventData(t, "u", map[string]any{"eventType": "x"})), nil, "InvalidData",
			"The field eventType is not part of the CloudTrail Lake integration event schema."},
		{"unknown identity field", ptr(eventData(t, "u", ident(map[string]any{"type": "T", "principalId": "p", "arn": "x"}))), nil, "InvalidData",
			"The field userIdentity.arn is not part of the CloudTrail Lake integration event schema."},
		{"long eventName", ptr(eventData(t, "u", map[string]any{"eventName": strings.Repeat("é", 1025)})), nil, "FieldTooLong",
			"The field eventName is longer than 1024 characters."},
		{"long type", ptr(eventData(t, "u", ident(map[string]any{"type": strings.Repeat("t", 129), "principalId": "p"}))), nil, "FieldTooLong",
			"The field userIdentity.type is longer than 128 characters."},
		{"long errorMessage", ptr(eventData(t, "u", map[string]any{"errorMessage": strings.Repeat("m", 257)})), nil, "FieldTooLong",
			"The field errorMessage is longer than 256 characters."},
		{"big requestParameters", ptr(eventData(t, "u", map[string]any{"requestParameters": map[string]string{"x": strings.Repeat("a", 100<<10)}})), nil,
			"FieldTooLong", "The field requestParameters is longer than 100 KB."},
		{"big additionalEventData", ptr(eventData(t, "u", map[string]any{"additionalEventData": map[string]string{"x": strings.Repeat("a", 28<<10)}})), nil,
			"FieldTooLong", "The field additionalEventData is longer than 28 KB."},
		{"record over 256 KB", ptr(eventData(t, "u", map[string]any{
			"requestParameters":   map[string]string{"x": strings.Repeat("a", 99<<10)},
			"responseElements":    map[string]string{"x": strings.Repeat("a", 99<<10)},
			"additionalEventData": map[string]string{"x": strings.Repeat("a", 27<<10)},
			"userIdentity":        map[string]any{"type": "T", "principalId": "p", "details": map[string]string{"x": strings.Repeat("a", 40<<10)}},
		})), nil, "FieldTooLong", "The event is larger than the 256 KB record limit."},
		{"lone surrogate", ptr(eventData(t, "u", map[string]any{"requestParameters": json.RawMessage(`{"s":"\ud800"}`)})), nil, "InvalidData",
			"The event is not a valid record: invalid JSON at byte * (in requestParameters.s): * surrogate*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.st.Events)
			body := putBody(putEntry{ID: "bad", EventData: tt.data, Checksum: tt.checksum}, entry("good", eventData(t, "ok-"+tt.name, nil)))
			r := e.putOK(servicetest.AcctA, servicetest.RegionA, chanQuery(arn), body)
			if len(r.Failed) != 1 || r.Failed[0].ID != "bad" || r.Failed[0].ErrorCode != tt.code || !globMatch(tt.msg, r.Failed[0].ErrorMessage) {
				t.Errorf("failed = %+v\nwant {bad %s %q}", r.Failed, tt.code, tt.msg)
			}
			if len(r.Successful) != 1 || r.Successful[0].ID != "good" {
				t.Errorf("successful = %+v", r.Successful)
			}
			if len(e.st.Events) != before+1 {
				t.Errorf("stored %d events, want 1", len(e.st.Events)-before)
			}
		})
	}
}

// globMatch reports whether s matches pattern, in which * stands for any
// text (used where the wording comes from the record parser).
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return s == ""
}

func ptr[T any](v T) *T { return &v }

// nest returns an object nested n levels deep.
func nest(n int) json.RawMessage {
	return json.RawMessage(strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n))
}

func TestPutAuditEventsRequestErrors(t *testing.T) {
	e := newEnv(t, cloudtrail.Options{})
	arn := e.createChannel(servicetest.AcctA, servicetest.RegionA, "app")
	otherRegion := e.createChannel(servicetest.AcctA, servicetest.RegionB, "app")
	one := putBody(entry("a", eventData(t, "u", nil)))
	many := make([]putEntry, 101)
	for i := range many {
		many[i] = entry(fmt.Sprintf("e%d", i), "{}")
	}
	big := strings.Repeat("x", 600<<10)
	tests := []struct {
		name, query, body string
		status            int
		code, msg         string
	}{
		{"no channel", "", one, 400, "InvalidChannelARN", "The channelArn query parameter is required."},
		{"malformed ARN", "channelArn=arn:aws:s3:::bucket", one, 400, "InvalidChannelARN", `"arn:aws:s3:::bucket" is not a valid channel ARN.`},
		{"bad chars", "channelArn=" + url.QueryEscape("a b c"), one, 400, "InvalidChannelARN", `"a b c" is not a valid channel ARN or ID.`},
		{"other account", chanQuery(strings.Replace(arn, servicetest.AcctA, servicetest.AcctB, 1)), one, 400, "ChannelInsufficientPermission",
			"The caller's account ID must be the same as the channel owner's account ID."},
		{"unknown id", "channelArn=0f5e3c2a-1111-4222-8333-444455556666", one, 400, "ChannelNotFound",
			"Channel arn:aws:cloudtrail:eu-central-1:210987654321:channel/0f5e3c2a-1111-4222-8333-444455556666 does not exist."},
		{"other region", chanQuery(otherRegion), one, 400, "ChannelNotFound", "Channel " + otherRegion + " does not exist."},
		{"no events", chanQuery(arn), `{"auditEvents":[]}`, 400, "ValidationException", "auditEvents must hold 1 to 100 events; got 0."},
		{"no body", chanQuery(arn), ``, 400, "ValidationException", "auditEvents must hold 1 to 100 events; got 0."},
		{"too many", chanQuery(arn), putBody(many...), 400, "ValidationException", "auditEvents must hold 1 to 100 events; got 101."},
		{"no id", chanQuery(arn), `{"auditEvents":[{"eventData":"{}"}]}`, 400, "ValidationException", "auditEvents[0] has no id."},
		{"bad id", chanQuery(arn), putBody(entry("a b", "{}")), 400, "ValidationException",
			`auditEvents[0].id "a b" is not valid: use 1 to 128 letters, digits, hyphens and underscores.`},
		{"duplicate id", chanQuery(arn), putBody(entry("a", "{}"), entry("b", "{}"), entry("a", "{}")), 400, "DuplicatedAuditEventId",
			"Two or more entries in the request have the same event ID: a."},
		{"over 1 MB", chanQuery(arn), putBody(entry("a", big), entry("b", big)), 400, "ValidationException",
			"The events in one request may hold at most 1 MB of eventData; this one holds 1228800 bytes."},
		{"bad externalId", chanQuery(arn) + "&externalId=x", one, 400, "ValidationException",
			"externalId must be 2 to 1224 characters of letters, digits and +=,.@:/-_."},
		{"body not object", chanQuery(arn), `[]`, 400, "SerializationException", "The request body must be a JSON object."},
		{"eventData not string", chanQuery(arn), `{"auditEvents":[{"id":"a","eventData":{}}]}`, 400, "SerializationException",
			"Cannot deserialize auditEvents.eventData: expected a string, found a JSON object."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.put(servicetest.AcctA, servicetest.RegionA, tt.query, tt.body)
			servicetest.WantError(t, status, body, tt.status, tt.code, tt.msg)
		})
	}
	if len(e.st.Events) != 0 || e.ing.Submits != 0 {
		t.Errorf("request errors stored %d events in %d submits", len(e.st.Events), e.ing.Submits)
	}
}

func TestPutAuditEventsIdempotentRetry(t *testing.T) {
	e := newEnv(t, cloudtrail.Options{})
	arn := e.createChannel(servicetest.AcctA, servicetest.RegionA, "app")
	_, id := arn[:strings.LastIndexByte(arn, '/')], arn[strings.LastIndexByte(arn, '/')+1:]
	body := putBody(entry("a", eventData(t, "uid-a", nil)), entry("b", eventData(t, "uid-b", nil)),
		entry("c", eventData(t, "uid-c", map[string]any{"version": nil})))
	first := e.putOK(servicetest.AcctA, servicetest.RegionA, chanQuery(arn), body)
	// The retry names the channel by id; the eventIDs stay the same.
	second := e.putOK(servicetest.AcctA, servicetest.RegionA, "channelArn="+id, body)
	if fmt.Sprint(first) != fmt.Sprint(second) || len(first.Successful) != 2 || len(first.Failed) != 1 {
		t.Errorf("first %+v\nsecond %+v", first, second)
	}
	if len(e.st.Events) != 2 || e.ing.Submits != 2 {
		t.Errorf("%d events stored in %d submits, want 2 in 2", len(e.st.Events), e.ing.Submits)
	}
	// A new request id (the caller's id) with the same UID is the same event.
	third := e.putOK(servicetest.AcctA, servicetest.RegionA, chanQuery(arn), putBody(entry("zzz", eventData(t, "uid-a", nil))))
	if third.Successful[0].EventID != first.Successful[0].EventID || len(e.st.Events) != 2 {
		t.Errorf("third %+v", third)
	}
	// The same UID on another channel is another event.
	arn2 := e.createChannel(servicetest.AcctA, servicetest.RegionA, "app2")
	fourth := e.putOK(servicetest.AcctA, servicetest.RegionA, chanQuery(arn2), putBody(entry("a", eventData(t, "uid-a", nil))))
	if fourth.Successful[0].EventID == first.Successful[0].EventID || len(e.st.Events) != 3 {
		t.Errorf("fourth %+v", fourth)
	}

	// GetChannel reports the latest ingestion.
	_, got := e.call(servicetest.AcctA, servicetest.RegionA, "GetChannel", fmt.Sprintf(`{"Channel":%q}`, arn))
	var gc struct{ IngestionStatus map[string]any }
	if err := json.Unmarshal([]byte(got), &gc); err != nil {
		t.Fatal(err)
	}
	st := gc.IngestionStatus
	if st["LatestIngestionSuccessEventID"] != first.Successful[0].EventID || st["LatestIngestionAttemptEventID"] != first.Successful[0].EventID ||
		st["LatestIngestionErrorCode"] != "FieldNotFound" || st["LatestIngestionSuccessTime"] != float64(servicetest.Now.Unix()) ||
		st["LatestIngestionAttemptTime"] != float64(servicetest.Now.Unix()) {
		t.Errorf("IngestionStatus %v", st)
	}
}

// TestPutAuditEventsConflictingUID: a retry arriving later (its record's
// metadata.ingestionTime differs) is the same event and succeeds with the
// same eventID; another eventData with a UID the channel already holds is
// refused as a Failed entry, InvalidData, and the stored event is kept.
func TestPutAuditEventsConflictingUID(t *testing.T) {
	e := newEnv(t, cloudtrail.Options{})
	arn := e.createChannel(servicetest.AcctA, servicetest.RegionA, "app")
	first := e.putOK(servicetest.AcctA, servicetest.RegionA, chanQuery(arn), putBody(entry("a", eventData(t, "uid-a", nil))))
	e.clock.Advance(time.Hour)
	retry := e.putOK(servicetest.AcctA, servicetest.RegionA, chanQuery(arn), putBody(entry("a", eventData(t, "uid-a", nil))))
	if len(retry.Successful) != 1 || len(retry.Failed) != 0 || retry.Successful[0].EventID != first.Successful[0].EventID {
		t.Fatalf("retry an hour later: %+v, first %+v", retry, first)
	}
	other := e.putOK(servicetest.AcctA, servicetest.RegionA, chanQuery(arn), putBody(
		entry("x", eventData(t, "uid-a", map[string]any{"eventName": "DeleteAccount"})),
		entry("y", eventData(t, "uid-y", nil))))
	if len(other.Successful) != 1 || other.Successful[0].ID != "y" || len(other.Failed) != 1 {
		t.Fatalf("conflicting UID: %+v", other)
	}
	f := other.Failed[0]
	if f.ID != "x" || f.ErrorCode != "InvalidData" || !strings.Contains(f.ErrorMessage, "uid-a") ||
		!strings.Contains(f.ErrorMessage, first.Successful[0].EventID) || !strings.Contains(f.ErrorMessage, "different content") {
		t.Errorf("failed entry %+v", f)
	}
	if len(e.st.Events) != 2 || e.st.Events[0].Rec.EventName != "TransferFunds" {
		t.Errorf("stored %d events; first %s", len(e.st.Events), e.st.Events[0].Rec.EventName)
	}
}

func TestPutAuditEventsManagementAccount(t *testing.T) {
	e := newEnv(t, cloudtrail.Options{})
	arn := e.createChannel(servicetest.AcctOrg, servicetest.RegionA, "org")
	p := servicetest.Principal(servicetest.AcctOrg)
	p.Management = true
	req := httptest.NewRequest("POST", "/PutAuditEvents?"+chanQuery(arn),
		strings.NewReader(putBody(entry("a", eventData(t, "u", map[string]any{"recipientAccountId": servicetest.AcctB})))))
	req = req.WithContext(awsapi.WithCaller(req.Context(), &awsapi.Caller{Principal: p, Region: servicetest.RegionA}))
	w := httptest.NewRecorder()
	e.rest.Handle(w, req, []byte(putBody(entry("a", eventData(t, "u", map[string]any{"recipientAccountId": servicetest.AcctB})))))
	r := decodePut(t, w.Code, w.Body.String())
	if len(r.Successful) != 1 || len(e.st.Events) != 1 || e.st.Events[0].Rec.AccountID != servicetest.AcctB {
		t.Errorf("management account write: %+v", r)
	}
}

func TestPutAuditEventsSubmitFailure(t *testing.T) {
	e := newEnv(t, cloudtrail.Options{})
	arn := e.createChannel(servicetest.AcctA, servicetest.RegionA, "app")
	e.ing.Fail = errors.New("append: no space left on device")
	status, body := e.put(servicetest.AcctA, servicetest.RegionA, chanQuery(arn), putBody(entry("a", eventData(t, "u", nil))))
	servicetest.WantError(t, status, body, 503, "ServiceUnavailableException", "The events could not be stored and none was acknowledged; retry the request.")
	// A request with no valid event never reaches the ingester.
	e.ing.Fail = nil
	submits := e.ing.Submits
	r := e.putOK(servicetest.AcctA, servicetest.RegionA, chanQuery(arn), putBody(entry("a", "{}")))
	if len(r.Failed) != 1 || e.ing.Submits != submits {
		t.Errorf("all-invalid request: %+v, submits %d→%d", r, submits, e.ing.Submits)
	}
}

// TestPutAuditEventsUnavailableRule: every Submit failure means nothing
// was stored and is 503 (as on POST /v1/events, see
// native.TestPutEventsUnavailable), whatever its cause; an ingester that
// answers for the wrong number of events is a bug, InternalFailure/500.
func TestPutAuditEventsUnavailableRule(t *testing.T) {
	for _, fail := range []error{ingest.ErrClosed, fmt.Errorf("%w: disk full", ingest.ErrUnavailable), context.DeadlineExceeded} {
		e := newEnv(t, cloudtrail.Options{})
		arn := e.createChannel(servicetest.AcctA, servicetest.RegionA, "app")
		e.ing.Fail = fail
		status, body := e.put(servicetest.AcctA, servicetest.RegionA, chanQuery(arn), putBody(entry("a", eventData(t, "u", nil))))
		servicetest.WantError(t, status, body, 503, "ServiceUnavailableException", "The events could not be stored and none was acknowledged; retry the request.")
	}
	e := newEnv(t, cloudtrail.Options{})
	arn := e.createChannel(servicetest.AcctA, servicetest.RegionA, "app")
	e.ing.Short = true
	status, body := e.put(servicetest.AcctA, servicetest.RegionA, chanQuery(arn), putBody(entry("a", eventData(t, "u", nil))))
	servicetest.WantError(t, status, body, 500, "InternalFailure", "We encountered an internal error. Please try again.")
}

type auditSink struct {
	mu   sync.Mutex
	recs []string
}

func (a *auditSink) Audit(rec []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, string(rec))
}

func TestPutAuditEventsSelfAudit(t *testing.T) {
	e := newEnv(t, cloudtrail.Options{})
	arn := e.createChannel(servicetest.AcctA, servicetest.RegionA, "app")
	sink := &auditSink{}
	r := awsapi.NewRESTRouter("cloudtrail-data", sink, slog.New(slog.DiscardHandler))
	e.svc.Register(r)
	secret := eventData(t, "u", map[string]any{"requestParameters": map[string]any{"password": "hunter2"}})
	body := putBody(entry("a", secret), entry("b", "{}"))
	req := httptest.NewRequest("POST", "/PutAuditEvents?"+chanQuery(arn)+"&externalId=ext-1", strings.NewReader(body))
	req = req.WithContext(awsapi.WithCaller(req.Context(), &awsapi.Caller{Principal: servicetest.Principal(servicetest.AcctA), Region: servicetest.RegionA, RequestID: "r-1"}))
	r.Handle(httptest.NewRecorder(), req, []byte(body))
	if len(sink.recs) != 1 {
		t.Fatalf("%d audit records", len(sink.recs))
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(sink.recs[0]), &m); err != nil {
		t.Fatal(err)
	}
	params, _ := json.Marshal(m["requestParameters"])
	resp, _ := json.Marshal(m["responseElements"])
	if string(params) != `{"auditEventCount":2,"channelArn":"`+arn+`","externalId":"ext-1"}` ||
		string(resp) != `{"failedCount":1,"successfulCount":1}` || m["eventName"] != "PutAuditEvents" ||
		m["eventSource"] != "cloudtrail-data.amazonaws.com" || m["readOnly"] != false {
		t.Errorf("audit record %s", sink.recs[0])
	}
	if strings.Contains(sink.recs[0], "hunter2") {
		t.Error("payload leaked into the audit record")
	}
}

func TestAuditEventID(t *testing.T) {
	a := auditEventID("arn:aws:cloudtrail:eu-central-1:210987654321:channel/x", "uid")
	if a != auditEventID("arn:aws:cloudtrail:eu-central-1:210987654321:channel/x", "uid") {
		t.Error("not deterministic")
	}
	if len(a) != 36 || a[14] != '8' || !strings.ContainsRune("89ab", rune(a[19])) {
		t.Errorf("%s is not a version 8 UUID", a)
	}
	for _, other := range []string{
		auditEventID("arn:aws:cloudtrail:eu-central-1:210987654321:channel/x", "uid2"),
		auditEventID("arn:aws:cloudtrail:eu-central-1:210987654321:channel/xu", "id"),
	} {
		if other == a {
			t.Error("collision")
		}
	}
}
