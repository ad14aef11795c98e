package cloudtraildata

import (
	"errors"
	"testing"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/servicetest"
)

// FuzzEventData converts arbitrary eventData: no panics, and every event
// it accepts is a record event.Parse accepts.
func FuzzEventData(f *testing.F) {
	f.Add([]byte(`{"version":"1.0","userIdentity":{"type":"T","principalId":"p","details":{"a":[1]}},"eventSource":"s","eventName":"n",` +
		`"eventTime":"2024-05-06T11:59:00Z","UID":"u","recipientAccountId":"210987654321","requestParameters":{"x":"\u00e9"}}`))
	f.Add([]byte(`{"UID":"a","UID":"b"}`))
	f.Add([]byte(`{"version":"1.0","userIdentity":{"type":"T","principalId":"p"},"eventSource":"s","eventName":"n",` +
		`"eventTime":"2024-05-06T11:59:00","UID":"u","recipientAccountId":"210987654321","sourceIPAddress":"::1"}`))
	lc := lakeConverter{channelARN: "arn:aws:cloudtrail:eu-central-1:210987654321:channel/c", account: servicetest.AcctA, region: servicetest.RegionA, ingestTime: servicetest.Now}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, id, _, fail := lc.convert(data)
		if fail != nil {
			if fail.code == "" || fail.msg == "" {
				t.Fatalf("empty failure for %q", data)
			}
			return
		}
		if len(id) != 36 {
			t.Fatalf("eventID %q", id)
		}
		if len(raw) > event.MaxRecordSize {
			return // PutAuditEvents reports FieldTooLong from event.Parse
		}
		if _, err := event.Parse(raw); err != nil && !isParserOnlyFault(err) {
			t.Fatalf("converted record rejected: %v\n%s", err, raw)
		}
	})
}

// isParserOnlyFault reports faults only the strict record parser detects
// (lone surrogates, duplicate keys in nested objects); PutAuditEvents
// reports them as InvalidData.
func isParserOnlyFault(err error) bool {
	var se *event.SyntaxError
	return errors.As(err, &se)
}
