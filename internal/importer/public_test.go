package importer_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/store"
)

const public = "../../../shared/testdata/public"

// publicSources are the record files of shared/testdata/public (see its
// SOURCES.md): not panther_cloudtrail_rule_tests.ndjson, whose lines wrap
// each record in a labelled test.
func publicSources(t *testing.T) []importer.Source {
	t.Helper()
	paths := []string{filepath.Join(public, "stratus-red-team"), filepath.Join(public, "panther-analysis/panther_cloudtrail_rule_test_records.ndjson")}
	scen, err := filepath.Glob(filepath.Join(public, "panther-analysis/scenario_*.json"))
	if err != nil || len(scen) != 4 {
		t.Fatalf("scenario files: %v %v", scen, err)
	}
	var out []importer.Source
	for _, p := range append(paths, scen...) {
		s, err := importer.NewLocalFiles(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestImportPublicData(t *testing.T) {
	st := openStore(t, t.TempDir())
	var probs problems
	var total importer.Snapshot
	for _, src := range publicSources(t) {
		s, err := run(t, importer.Options{Source: src, Sink: importer.StoreSink{Store: st}, Parallel: 2, Report: probs.report})
		if err != nil {
			t.Fatal(err)
		}
		total.Events += s.Events
		total.Added += s.Added
		total.Duplicates += s.Duplicates
		total.Conflicts += s.Conflicts
		total.Rejected += s.Rejected
		total.Repaired += s.Repaired
		total.FilesBad += s.FilesBad
		total.FilesDone += s.FilesDone
	}
	// 19 panther records have no readable eventTime, and their file no
	// date folder: they are rejected, not given the time of the import.
	for _, p := range probs.list {
		if !errors.Is(p.Err, event.ErrNoEventTime) {
			t.Errorf("problem: %s", p)
		}
	}
	// 801 records (310 Stratus, 464 panther, 27 panther scenarios), 19
	// rejected. panther's records reuse eventIDs (its scenarios number
	// theirs "1", "2", …; several rule tests copy one record) in one
	// account: the first record with an account and eventID is stored, a
	// later identical one is a duplicate, and a later different one a
	// conflicting duplicate, reported and not stored.
	if total.FilesDone != 40 || total.FilesBad != 0 || total.Events != 801 || total.Rejected != 19 || len(probs.list) != 19 ||
		total.Added != 475 || total.Duplicates != 10 || total.Conflicts != 297 || total.Repaired != 170 {
		t.Fatalf("totals: %+v", total)
	}

	byID := func(id string) *store.Event {
		t.Helper()
		evs, err := st.Lookup(context.Background(), store.LookupQuery{Attrs: []store.Attr{{Key: "EventId", Value: id}}, Limit: 2})
		if err != nil || len(evs) != 1 {
			t.Fatalf("lookup %s: %v, %d events", id, err, len(evs))
		}
		return &evs[0]
	}
	// Stratus Red Team's console login without MFA, stored as is.
	if e := byID("865d9377-9c6b-4fd7-8aad-725e95f6a140"); e.Rec.EventName != "ConsoleLogin" || !bytes.Contains(e.Rec.Raw, []byte(`"MFAUsed":"No"`)) {
		t.Errorf("ConsoleLogin: %s", e.Rec.Raw)
	}
	// A panther record with a "2025-01-21 17:49:47.000000000" eventTime:
	// read as UTC, and the original kept in the repairs.
	e := byID("28773860-a4fd-47c7-a215-6f0e6e6e532f")
	if want := time.Date(2025, 1, 21, 17, 49, 47, 0, time.UTC); !e.Rec.EventTime.Equal(want) ||
		!bytes.Contains(e.Rec.Raw, []byte(`"opentrailRepairs":[{"field":"eventTime","was":"\"2025-01-21 17:49:47.000000000\""`)) {
		t.Errorf("repaired time: %v %s", e.Rec.EventTime, e.Rec.Raw)
	}
	// Three panther tests share one eventID: the first (GetGroup) is kept.
	if e := byID("883efb94-aa58-4512-beb7-10a5fffa33e4"); e.Rec.EventName != "GetGroup" {
		t.Errorf("reused eventID kept %s, want the first record, GetGroup", e.Rec.EventName)
	}

	// A second import adds nothing.
	var again importer.Snapshot
	for _, src := range publicSources(t) {
		s, err := run(t, importer.Options{Source: src, Sink: importer.StoreSink{Store: st}})
		if err != nil {
			t.Fatal(err)
		}
		again.Added += s.Added
		again.Duplicates += s.Duplicates
		again.Conflicts += s.Conflicts
	}
	if again.Added != 0 || again.Duplicates != 475+10 || again.Conflicts != 297 {
		t.Fatalf("re-import: %+v", again)
	}
}
