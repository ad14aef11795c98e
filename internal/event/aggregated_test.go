package event_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// aggregated is an aggregated event in the shape CloudTrail documents
// (userguide: aggregating-data-events, "Example: API_ACTIVITY aggregated
// event"): eventId, accountId and timeWindow instead of eventID,
// recipientAccountId and eventTime.
const aggregated = `{"eventVersion":"1.0","accountId":"210987654321","eventId":"5b0e0f7a-4f1d-5c3e-9a2b-7d6c5e4f3a21",` +
	`"eventCategory":"Aggregated","eventType":"AwsAggregatedEvent","awsRegion":"eu-west-1","eventSource":"s3.amazonaws.com",` +
	`"timeWindow":{"windowStart":"2026-03-02T10:15:00Z","windowEnd":"2026-03-02T10:20:00Z","windowSize":"PT5M"},` +
	`"summary":{"primaryDimension":{"dimension":"eventName","statistics":[{"name":"GetObject","value":42}],"aggregationType":"Count"},` +
	`"details":[{"dimension":"resourceARN","statistics":[{"name":"arn:aws:s3:::reports","value":40},{"name":"arn:aws:s3:::logs","value":2}],"aggregationType":"Count"}]}}`

func TestParseAggregated(t *testing.T) {
	rec, err := event.Parse([]byte(aggregated))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC)
	if rec.EventID != "5b0e0f7a-4f1d-5c3e-9a2b-7d6c5e4f3a21" || !rec.EventTime.Equal(want) || rec.AccountID != "210987654321" ||
		rec.EventCategory != event.CategoryAggregated || rec.EventSource != "s3.amazonaws.com" || rec.EventName != "" ||
		rec.AWSRegion != "eu-west-1" || rec.ManagementEvent {
		t.Fatalf("record = %+v", rec)
	}
	if string(rec.Raw) != aggregated {
		t.Fatalf("Raw changed:\n%s", rec.Raw)
	}
	// Without eventCategory the category is still Aggregated.
	rec, err = event.Parse([]byte(strings.Replace(aggregated, `"eventCategory":"Aggregated",`, "", 1)))
	if err != nil || rec.EventCategory != event.CategoryAggregated {
		t.Fatalf("no eventCategory: %v %+v", err, rec)
	}
}

func TestParseAggregatedErrors(t *testing.T) {
	for _, tc := range []struct{ old, new, field string }{
		{`"eventId":"5b0e0f7a-4f1d-5c3e-9a2b-7d6c5e4f3a21",`, ``, "eventId"},
		{`"eventId":"5b0e0f7a-4f1d-5c3e-9a2b-7d6c5e4f3a21"`, `"eventId":"a b"`, "eventId"},
		{`"accountId":"210987654321"`, `"accountId":"x"`, "accountId"},
		{`"windowStart":"2026-03-02T10:15:00Z",`, ``, "timeWindow.windowStart"},
		{`"windowStart":"2026-03-02T10:15:00Z"`, `"windowStart":"yesterday"`, "timeWindow.windowStart"},
		{`"eventSource":"s3.amazonaws.com",`, ``, "eventSource"},
		{`"awsRegion":"eu-west-1",`, ``, "awsRegion"},
	} {
		src := strings.Replace(aggregated, tc.old, tc.new, 1)
		if src == aggregated {
			t.Fatalf("edit %q did not apply", tc.old)
		}
		_, err := event.Parse([]byte(src))
		var ve *event.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%s → %s: err = %v, want a ValidationError on %s", tc.old, tc.new, err, tc.field)
		}
	}
	// The members aggregated events use are not checked in other records.
	if _, err := event.Parse([]byte(edit(`"eventCategory":"Management"`, `"eventCategory":"Management","accountId":7,"eventId":null,"timeWindow":"x"`))); err != nil {
		t.Fatalf("regular record with extra members: %v", err)
	}
}

func TestIDOf(t *testing.T) {
	for raw, want := range map[string]string{
		aggregated:        "5b0e0f7a-4f1d-5c3e-9a2b-7d6c5e4f3a21",
		base:              "0d4c9e61-3b0f-4a8e-b1f5-7c2e9d3a4b5c",
		`{"eventId":"x"}`: "",
	} {
		if got := event.IDOf([]byte(raw)); got != want {
			t.Errorf("IDOf(%.40s…) = %q, want %q", raw, got, want)
		}
	}
}
