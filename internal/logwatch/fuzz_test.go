package logwatch

import (
	"strings"
	"testing"
)

// FuzzParseGroupARN: any input is parsed or refused without panicking,
// and an accepted ARN names the group it is rebuilt from.
func FuzzParseGroupARN(f *testing.F) {
	f.Add("arn:aws:logs:us-east-1:111122223333:log-group:CloudTrail/audit:*")
	f.Add("arn:aws:logs:us-east-1:111122223333:log-group:a")
	f.Add("cwllga")
	f.Fuzz(func(t *testing.T, arn string) {
		acc, reg, name, ok := ParseGroupARN(arn)
		if !ok {
			return
		}
		if got := GroupARN(acc, reg, name); got != arn && got+":*" != arn {
			t.Fatalf("%q parsed as (%q, %q, %q), which rebuilds %q", arn, acc, reg, name, got)
		}
	})
}

// FuzzEventID: the digits of event ids and GetLogEvents tokens read back
// what they encode, and nothing else is accepted.
func FuzzEventID(f *testing.F) {
	f.Add(int64(1796378400000), int64(42), "")
	f.Add(int64(0), int64(0), "00000000000000000000000000000000000000000000000000000000")
	f.Add(int64(-5), int64(7), "0000000000000000000x000000000000000000000000000000000000")
	f.Fuzz(func(t *testing.T, ts, k int64, raw string) {
		id := eventID(ts, k)
		if len(id) != 56 || strings.Trim(id, "0123456789") != "" {
			t.Fatalf("eventID(%d, %d) = %q", ts, k, id)
		}
		gts, gk, ok := parseEventID(id)
		if !ok || gts != max(ts, 0) || gk != max(k, 0) {
			t.Fatalf("round trip of (%d, %d): (%d, %d, %v)", ts, k, gts, gk, ok)
		}
		if ts2, k2, ok := parseEventID(raw); ok && eventID(ts2, k2) != raw {
			t.Fatalf("%q accepted as (%d, %d), which encodes %q", raw, ts2, k2, eventID(ts2, k2))
		}
	})
}
