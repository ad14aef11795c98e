package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// consoleRec is a record with a source IP, an optional errorCode and, for
// ConsoleLogin, its responseElements.
func consoleRec(t *testing.T, i int, name, ip, errorCode, login string) *event.Record {
	t.Helper()
	extra := ""
	if errorCode != "" {
		extra += fmt.Sprintf(`,"errorCode":%q,"errorMessage":"denied"`, errorCode)
	}
	resp := "null"
	if login != "" {
		resp = fmt.Sprintf(`{"ConsoleLogin":%q}`, login)
	}
	raw := fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"},`+
		`"eventTime":%q,"eventSource":"ec2.amazonaws.com","eventName":%q,"awsRegion":"us-east-1","sourceIPAddress":%q,"userAgent":"aws-cli/2.9.19",`+
		`"requestParameters":null,"responseElements":%s,"requestID":"req-%d","eventID":"cev-%08d","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"%s}`,
		base.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), name, ip, resp, i, i, extra)
	r, err := event.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, raw)
	}
	return r
}

// consoleRecs are n consoleRecs a minute apart: of every 20, two from
// 203.0.113.9, two AccessDenied, two ThrottlingException (one of them
// from 203.0.113.9 too), a failed and a successful console sign-in.
func consoleRecs(t *testing.T, n int) []*event.Record {
	var recs []*event.Record
	for i := range n {
		name, ip, code, login := "DescribeInstances", "198.51.100.7", "", ""
		switch {
		case i%10 == 0:
			ip = "203.0.113.9"
		case i%10 == 1:
			code = "AccessDenied"
		case i%10 == 2:
			code = "ThrottlingException"
			ip = "203.0.113.9"
		case i%20 == 3:
			name, login = "ConsoleLogin", "Failure"
		case i%20 == 13:
			name, login = "ConsoleLogin", "Success"
		}
		recs = append(recs, consoleRec(t, i, name, ip, code, login))
	}
	return recs
}

// TestLookupConsoleAttributes: SourceIPAddress, ErrorCode and Failures
// select the same events from the hot tail and from the columnar tier,
// and paging over them with After visits each once.
func TestLookupConsoleAttributes(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	if _, err := s.Append(ctx, consoleRecs(t, 400), base); err != nil {
		t.Fatal(err)
	}
	check := func(tier string) {
		q := func(failures bool, attrs ...store.Attr) store.LookupQuery {
			return store.LookupQuery{Accounts: []string{"111122223333"}, Attrs: attrs, Failures: failures, Limit: 1000}
		}
		for _, c := range []struct {
			name string
			q    store.LookupQuery
			want int
		}{
			{"SourceIPAddress", q(false, store.Attr{Key: "SourceIPAddress", Value: "203.0.113.9"}), 80},
			{"SourceIPAddress unknown", q(false, store.Attr{Key: "SourceIPAddress", Value: "192.0.2.1"}), 0},
			{"ErrorCode", q(false, store.Attr{Key: "ErrorCode", Value: "AccessDenied"}), 40},
			{"ErrorCode and SourceIPAddress", q(false, store.Attr{Key: "ErrorCode", Value: "ThrottlingException"}, store.Attr{Key: "SourceIPAddress", Value: "203.0.113.9"}), 40},
			{"Failures", q(true), 80 + 20},
			{"Failures of one name", q(true, store.Attr{Key: "EventName", Value: "ConsoleLogin"}), 20},
			{"EventId unknown", q(false, store.Attr{Key: "EventId", Value: "cev-99999999"}), 0},
			{"EventId", q(false, store.Attr{Key: "EventId", Value: "cev-00000042"}), 1},
		} {
			evs, err := s.Lookup(ctx, c.q)
			if err != nil {
				t.Fatalf("%s %s: %v", tier, c.name, err)
			}
			if len(evs) != c.want {
				t.Errorf("%s %s: %d events, want %d", tier, c.name, len(evs), c.want)
			}
			for _, e := range evs {
				if c.q.Failures && !e.Rec.Failed() {
					t.Errorf("%s %s: %s is no failure", tier, c.name, e.Rec.EventID)
				}
			}
		}
		// Paging, seven at a time.
		qq := q(false, store.Attr{Key: "SourceIPAddress", Value: "203.0.113.9"})
		qq.Limit = 7
		got := pageAll(t, s, qq)
		for _, e := range got {
			if e.Rec.SourceIP != "203.0.113.9" {
				t.Fatalf("%s paging: %s is from %s", tier, e.Rec.EventID, e.Rec.SourceIP)
			}
		}
		if len(got) != 80 {
			t.Errorf("%s paging saw %d events, want 80", tier, len(got))
		}
		// Failed sign-ins only, three at a time: every one, once.
		qq = q(true, store.Attr{Key: "EventName", Value: "ConsoleLogin"})
		qq.Limit = 3
		if got := pageAll(t, s, qq); len(got) != 20 {
			t.Errorf("%s paging over failed sign-ins saw %d events, want 20", tier, len(got))
		}
	}
	check("hot")
	// Half the events into the columnar tier: each query now spans both.
	if _, err := s.Compact(ctx, 200); err != nil {
		t.Fatal(err)
	}
	if len(s.ColdFiles()) == 0 {
		t.Fatal("nothing was compacted")
	}
	check("hot and columnar")
}

// pageAll pages through q's events q.Limit at a time, resuming each page
// after the last, and fails the test if an event comes twice.
func pageAll(t *testing.T, s *store.Store, q store.LookupQuery) []store.Event {
	t.Helper()
	var all []store.Event
	seen := map[string]bool{}
	for {
		evs, err := s.Lookup(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if seen[e.Rec.EventID] {
				t.Fatalf("%s seen twice", e.Rec.EventID)
			}
			seen[e.Rec.EventID] = true
		}
		all = append(all, evs...)
		if len(evs) < q.Limit {
			return all
		}
		last := evs[len(evs)-1]
		q.After = &store.Position{Time: last.Rec.EventTime, Seq: last.Seq}
	}
}

// TestFailuresOfEventsStoredBeforeTheirOutcome: hot events stored before
// the events table kept whether each is a failed call (failed is NULL)
// get it at the next Open, read from their records, so Failures is exact
// for them too.
func TestFailuresOfEventsStoredBeforeTheirOutcome(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	var recs []*event.Record
	for i := range 60 {
		name, code, login := "DescribeInstances", "", ""
		switch i % 4 {
		case 0:
			name, login = "ConsoleLogin", "Failure"
		case 1:
			name, login = "ConsoleLogin", "Success"
		case 2:
			code = "AccessDenied"
		}
		recs = append(recs, consoleRec(t, i, name, "198.51.100.7", code, login))
	}
	if _, err := s.Append(ctx, recs, base); err != nil {
		t.Fatal(err)
	}
	// What a store written before the column holds.
	if _, err := s.DB().ExecContext(ctx, `UPDATE events SET failed = NULL`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dir)
	var nulls int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM events WHERE failed IS NULL`).Scan(&nulls); err != nil || nulls != 0 {
		t.Fatalf("%d events without their outcome after Open (%v)", nulls, err)
	}
	evs, err := s.Lookup(ctx, store.LookupQuery{Failures: true, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 30 {
		t.Errorf("Failures after the upgrade: %d events, want 30", len(evs))
	}
	for _, e := range evs {
		if !e.Rec.Failed() {
			t.Errorf("%s is no failed call", e.Rec.EventID)
		}
	}
}
