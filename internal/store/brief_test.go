package store_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// TestBriefLookupsMatchWholeRecords: a Brief lookup finds the same events
// in the same order as a whole one; its columnar events carry exactly the
// whole records' list fields and outcome, and its hot events are whole.
func TestBriefLookupsMatchWholeRecords(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	recs := append(mixedRecords(t, 900), consoleRecs(t, 400)...)
	if _, err := s.Append(ctx, recs, base); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Compact(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	brief := 0
	for _, q := range []store.LookupQuery{
		{Limit: 2000},
		{Failures: true, Limit: 2000},
		{Accounts: []string{"444455556666"}, Region: "eu-west-1", Limit: 50},
		{Attrs: []store.Attr{{Key: "Username", Value: "bob"}}, Limit: 2000},
		{Attrs: []store.Attr{{Key: "EventName", Value: "ConsoleLogin"}}, Failures: true, Limit: 7},
		{Attrs: []store.Attr{{Key: "EventId", Value: "ev-00008000"}}, Limit: 5},
		{Start: base.Add(10 * 3600e9), End: base.Add(30 * 3600e9), Limit: 2000},
	} {
		whole, err := s.Lookup(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		q.Brief = true
		got, err := s.Lookup(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(whole) || len(whole) == 0 {
			t.Fatalf("%+v: %d brief events, %d whole ones (want the same, and some)", q, len(got), len(whole))
		}
		for i, w := range whole {
			g := got[i]
			if g.Seq != w.Seq || !g.IngestTime.Equal(w.IngestTime) {
				t.Fatalf("%+v, event %d: brief seq %d at %v, whole %d at %v", q, i, g.Seq, g.IngestTime, w.Seq, w.IngestTime)
			}
			if g.Failed() != w.Rec.Failed() {
				t.Fatalf("%+v: %s brief Failed %v, whole %v", q, w.Rec.EventID, g.Failed(), w.Rec.Failed())
			}
			if !g.Brief {
				if string(g.Rec.Raw) != string(w.Rec.Raw) {
					t.Fatalf("%+v: hot %s differs", q, w.Rec.EventID)
				}
				continue
			}
			brief++
			if g.Rec.Raw != nil {
				t.Fatalf("%+v: brief %s has Raw", q, w.Rec.EventID)
			}
			want := listFields(w.Rec)
			if have := listFields(g.Rec); !reflect.DeepEqual(have, want) {
				t.Fatalf("%+v: brief %s\n got %+v\nwant %+v", q, w.Rec.EventID, have, want)
			}
		}
	}
	if brief == 0 {
		t.Fatal("no brief event came back: the test compared nothing")
	}
}

// listFields is the part of a record a brief event holds.
func listFields(r *event.Record) event.Record {
	return event.Record{EventID: r.EventID, EventTime: r.EventTime, EventSource: r.EventSource, EventName: r.EventName,
		EventType: r.EventType, EventCategory: r.EventCategory, AWSRegion: r.AWSRegion, SourceIP: r.SourceIP,
		ErrorCode: r.ErrorCode, AccountID: r.AccountID, Username: r.Username, AccessKeyID: r.AccessKeyID,
		ReadOnly: r.ReadOnly, ReadOnlySet: r.ReadOnlySet, Resources: r.Resources}
}
