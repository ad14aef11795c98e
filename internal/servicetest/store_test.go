package servicetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/store"
)

// The fake must keep the store's contract, or the services' tests check
// nothing: outcomes of Add, newest-first order with ties by sequence, an
// exclusive cursor, Fail on every method.
func TestStoreKeepsTheLookupContract(t *testing.T) {
	s := NewStore()
	a := Record(t, RecordOpts{ID: "a", Time: Now})
	b := Record(t, RecordOpts{ID: "b", Time: Now})
	old := Record(t, RecordOpts{ID: "old", Time: Now.Add(-time.Hour)})
	if got := s.Add(a, old, b); !slices.Equal(got, []ingest.Outcome{ingest.Accepted, ingest.Accepted, ingest.Accepted}) {
		t.Fatalf("add: %v", got)
	}
	again := Record(t, RecordOpts{ID: "a", Time: Now})
	other := Record(t, RecordOpts{ID: "a", Time: Now, Name: "DeleteTrail"})
	if got := s.Add(again, other); !slices.Equal(got, []ingest.Outcome{ingest.Duplicate, ingest.Conflict}) {
		t.Fatalf("add again: %v", got)
	}
	ids := func(es []store.Event) (out []string) {
		for _, e := range es {
			out = append(out, e.Rec.EventID)
		}
		return out
	}
	all, err := s.Lookup(context.Background(), store.LookupQuery{Limit: 10})
	if err != nil || !slices.Equal(ids(all), []string{"b", "a", "old"}) {
		t.Fatalf("lookup: %v %v", ids(all), err)
	}
	after := &store.Position{Time: all[0].Rec.EventTime, Seq: all[0].Seq}
	rest, err := s.Lookup(context.Background(), store.LookupQuery{Limit: 1, After: after})
	if err != nil || !slices.Equal(ids(rest), []string{"a"}) {
		t.Errorf("after b, limit 1: %v %v", ids(rest), err)
	}
	if s.Lookups != 2 {
		t.Errorf("Lookups = %d, want 2", s.Lookups)
	}
	s.Fail = errors.New("disk gone")
	if _, err := s.Lookup(context.Background(), store.LookupQuery{Limit: 10}); err != s.Fail {
		t.Errorf("lookup with Fail set: %v", err)
	}
	if _, err := s.GetTrail(context.Background(), TrailARNA); err != s.Fail {
		t.Errorf("get trail with Fail set: %v", err)
	}
}

func TestIngesterRefusesOtherSources(t *testing.T) {
	g := &Ingester{Store: NewStore(), Source: "PutAuditEvents"}
	if _, err := g.Submit(context.Background(), "import", []*event.Record{Record(t, RecordOpts{ID: "x"})}); err == nil {
		t.Error("a submit from another source was taken")
	}
	res, err := g.Submit(context.Background(), "PutAuditEvents", []*event.Record{Record(t, RecordOpts{ID: "x"}), Record(t, RecordOpts{ID: "x"})})
	if err != nil || res.Accepted != 1 || res.Duplicates != 1 || len(g.Store.Events) != 1 {
		t.Errorf("submit: %+v %v, %d stored", res, err, len(g.Store.Events))
	}
}
