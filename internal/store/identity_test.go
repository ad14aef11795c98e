package store_test

import (
	"context"
	"testing"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// TestIdentityIsAccountAndEventID: an event is its account and eventID.
// Two accounts' records with one eventID are both stored, and each is
// found by EventId in its own account only; within one account a record
// with a stored eventID is a duplicate when its content is the same and a
// conflict when it differs, in the store or earlier in the same call, and
// before and after a reopen (which reloads the eventID set).
func TestIdentityIsAccountAndEventID(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	inB := func(m map[string]string) { m["account"] = "444455556666" }
	a, b := rec(t, 1, nil), rec(t, 1, inB) // same eventID "ev-00000001"
	if a.EventID != b.EventID || a.AccountID == b.AccountID {
		t.Fatal("test records do not share an eventID across accounts")
	}
	out, err := s.Append(ctx, []*event.Record{a, b}, base)
	if err != nil {
		t.Fatal(err)
	}
	if out[0] != store.Stored || out[1] != store.Stored {
		t.Fatalf("two accounts, one eventID: %v, want both stored", out)
	}
	// Stored alone, b is still kept when a comes first in another call.
	c := rec(t, 2, nil)
	if out, err = s.Append(ctx, []*event.Record{c}, base); err != nil || out[0] != store.Stored {
		t.Fatalf("append: %v %v", out, err)
	}
	if out, err = s.Append(ctx, []*event.Record{rec(t, 2, inB)}, base); err != nil || out[0] != store.Stored {
		t.Fatalf("the second account's record after the first's was %v (%v), want stored", out, err)
	}

	for _, acct := range []string{a.AccountID, b.AccountID} {
		evs, err := s.Lookup(ctx, store.LookupQuery{Accounts: []string{acct}, Attrs: []store.Attr{{Key: "EventId", Value: a.EventID}}, Limit: 5})
		if err != nil || len(evs) != 1 || evs[0].Rec.AccountID != acct {
			t.Fatalf("lookup EventId in %s: %v, %d events", acct, err, len(evs))
		}
	}

	other := rec(t, 1, func(m map[string]string) { m["name"] = "TerminateInstances" }) // a's account and eventID, other content
	check := func(when string) {
		t.Helper()
		out, err := s.Append(ctx, []*event.Record{a, other, b, rec(t, 3, nil), rec(t, 3, nil), rec(t, 3, func(m map[string]string) { m["user"] = "mallory" })}, base)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Outcome{store.Duplicate, store.Conflict, store.Duplicate, store.Stored, store.Duplicate, store.Conflict}
		if when == "after reopen" {
			want[3], want[4] = store.Duplicate, store.Duplicate
		}
		for i := range want {
			if out[i] != want[i] {
				t.Fatalf("%s: outcome %d = %v, want %v (all %v)", when, i, out[i], want[i], out)
			}
		}
		evs, err := s.Lookup(ctx, store.LookupQuery{Accounts: []string{a.AccountID}, Attrs: []store.Attr{{Key: "EventId", Value: a.EventID}}, Limit: 5})
		if err != nil || len(evs) != 1 || evs[0].Rec.EventName != a.EventName {
			t.Fatalf("%s: the stored event changed: %v %d", when, err, len(evs))
		}
	}
	check("open")
	s.Close()
	s = open(t, dir)
	check("after reopen")
	if got := s.LastSeq(); got != 5 {
		t.Fatalf("LastSeq = %d, want 5 (a, b, c, b's twin, ev-3)", got)
	}
}
