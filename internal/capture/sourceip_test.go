package capture

import (
	"encoding/json"
	"net"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestSourceIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("192.0.2.1/32")}
	for _, c := range []struct{ peer, xff, want string }{
		{"10.1.2.3:5000", "203.0.113.7", "203.0.113.7"},
		{"10.1.2.3:5000", "198.51.100.1, 203.0.113.7, 10.9.9.9", "203.0.113.7"}, // right-most untrusted hop
		{"10.1.2.3:5000", "10.2.2.2, 10.9.9.9", "10.2.2.2"},                     // all trusted: the left-most
		{"192.0.2.1:80", "203.0.113.8:4711", "203.0.113.8"},
		{"[2001:db8::5]:443", "[2001:db8:1::9]:1234, 2a00::1", "2a00::1"},
		{"[::ffff:10.1.2.3]:80", "::ffff:203.0.113.9", "203.0.113.9"},
		{"198.51.100.9:5000", "203.0.113.7", "198.51.100.9"}, // peer not trusted: header ignored
		{"10.1.2.3:5000", "", "10.1.2.3"},
		{"10.1.2.3:5000", "203.0.113.7, junk", "10.1.2.3"}, // a malformed hop: nothing left of it trusted
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := SourceIP(r, "X-Forwarded-For", trusted); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
		if host, _, _ := net.SplitHostPort(c.peer); SourceIP(r, "", trusted) != host {
			t.Errorf("no header configured: %s from peer %s, want the peer's address", SourceIP(r, "", trusted), c.peer)
		}
	}
}

func TestGapRecord(t *testing.T) {
	first := time.Date(2026, 12, 5, 14, 0, 1, 0, time.UTC)
	rec := GapRecord(Gap{Account: "123456789012", First: first, Last: first.Add(time.Minute),
		CallsForwarded: 5, RecordsRecoveredLate: 3, RecordsLost: 2, Reason: "store: disk full"},
		"6f1c1b34-3a5e-4c8e-9d55-0d1f6d5e2f10", first.Add(2*time.Minute))
	var got map[string]any
	if err := json.Unmarshal(rec, &got); err != nil {
		t.Fatal(err)
	}
	want := `{"awsRegion":"us-east-1","eventCategory":"Management","eventID":"6f1c1b34-3a5e-4c8e-9d55-0d1f6d5e2f10",` +
		`"eventName":"CaptureGap","eventSource":"capture.opentrail","eventTime":"2026-12-05T14:02:01Z","eventType":"AwsServiceEvent",` +
		`"eventVersion":"1.09","managementEvent":true,"readOnly":false,"recipientAccountId":"123456789012","requestParameters":null,` +
		`"responseElements":null,"serviceEventDetails":{"callsForwarded":5,"firstUnrecordedTime":"2026-12-05T14:00:01Z",` +
		`"lastUnrecordedTime":"2026-12-05T14:01:01Z","reason":"store: disk full","recordsLost":2,"recordsRecoveredLate":3},` +
		`"sourceIPAddress":"capture.opentrail","userAgent":"capture.opentrail","userIdentity":{"accountId":"123456789012","invokedBy":"capture.opentrail"}}`
	if b, _ := json.Marshal(got); string(b) != want {
		t.Errorf("gap record\n%s\nwant\n%s", b, want)
	}
}
