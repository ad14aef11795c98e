package trail_test

import (
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/trail"
)

// TestSelectsTheStopLoggingThatStoppedIt: a stopped trail selects nothing
// ingested after the stop, but SelectsOwnStop takes the record of the
// StopLogging call that stopped it (committed after the call), as
// CloudTrail delivers it, so that a monitor of StopLogging (the CIS
// CloudTrail-changes control) sees the trail's own stop.
func TestSelectsTheStopLoggingThatStoppedIt(t *testing.T) {
	start := time.Date(2024, 5, 6, 6, 0, 0, 0, time.UTC)
	stop := start.Add(time.Hour)
	s := trail.Settings{IsMultiRegionTrail: true, StartLoggingTime: &start, StopLoggingTime: &stop, StopLoggingRequestID: "req-stop-1"}
	after := stop.Add(50 * time.Millisecond)
	own := mustRecord(t, "cloudtrail.amazonaws.com", "StopLogging", "Management", false, "", "", `,"requestID":"req-stop-1"`)
	if !s.SelectsOwnStop("111122223333", "us-east-1", nil, own) {
		t.Error("the trail does not deliver the StopLogging call that stopped it")
	}
	if s.Selects("111122223333", "us-east-1", nil, own, after) {
		t.Error("Selects takes an event ingested after the stop")
	}
	for name, rec := range map[string]string{
		"another StopLogging": `,"requestID":"req-stop-2"`,
		"no requestID":        ``,
	} {
		if s.SelectsOwnStop("111122223333", "us-east-1", nil, mustRecord(t, "cloudtrail.amazonaws.com", "StopLogging", "Management", false, "", "", rec)) {
			t.Errorf("%s after the stop is delivered", name)
		}
	}
	if s.SelectsOwnStop("111122223333", "us-east-1", nil, mustRecord(t, "ec2.amazonaws.com", "StopLogging", "Management", false, "", "", `,"requestID":"req-stop-1"`)) {
		t.Error("another service's event with the stop's requestID is delivered")
	}
	if s.SelectsOwnStop("444455556666", "us-east-1", nil, own) {
		t.Error("another account's trail delivers the record")
	}
	// Logging again: the stop's record is an event like any other.
	s.IsLogging, s.StopLoggingRequestID = true, ""
	later := stop.Add(time.Minute)
	s.StartLoggingTime = &later
	if s.SelectsOwnStop("111122223333", "us-east-1", nil, own) || s.Selects("111122223333", "us-east-1", nil, own, after) {
		t.Error("after a restart, the old stop's record (ingested before the restart) is delivered")
	}
}
