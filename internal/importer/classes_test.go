package importer_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/store"
)

// classesDir holds one small file for each kind of input an import must
// neither invent from nor silently drop (see testdata/classes):
//
//	logstash.ndjson      2 records with @timestamp instead of eventTime
//	accounts.ndjson      2 records of two accounts sharing one eventID
//	conflict.ndjson      a record, its identical copy, and a different
//	                     record with its account and eventID
//	notes/digest.json    a digest file, pretty-printed, outside a digest path
//	pretty-record.json   one pretty-printed record
//	pretty-records.json  a pretty-printed {"Records":[…]} document (2)
//	records-later.json   a Records document whose first member is another (1)
//	mixed.ndjson         a record and an object that is not a record
//	status.json          an object that is not a record, alone
//	notes/readme.json    plain text
//	notime.ndjson        a record with no time at all, and a good one
//	AWSLogs/…/2024/03/05/…_notime.json  a record with no time in a date folder
const classesDir = "testdata/classes"

// TestImportClasses imports the fixtures, then imports them again.
func TestImportClasses(t *testing.T) {
	src, err := importer.NewLocalFiles(classesDir)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, t.TempDir())
	var probs problems
	s, err := run(t, importer.Options{Source: src, Sink: importer.StoreSink{Store: st}, Parallel: 3, Report: probs.report})
	if err != nil {
		t.Fatal(err)
	}
	s.ConflictIDs = nil
	want := importer.Snapshot{
		FilesListed: 12, FilesDone: 12, FilesLog: 9, FilesDigest: 1, FilesBad: 2,
		Events: 16, Added: 12, Duplicates: 1, Conflicts: 1, Repaired: 3, Rejected: 2,
	}
	s.BytesListed, s.BytesDone, s.ListingDone = 0, 0, false
	if fmt.Sprintf("%+v", s) != fmt.Sprintf("%+v", want) {
		t.Errorf("stats\n got %+v\nwant %+v", s, want)
	}

	// Each problem is one line naming the file, and the record if it is one.
	abs, _ := filepath.Abs(classesDir)
	var got []string
	for _, p := range probs.list {
		got = append(got, strings.TrimPrefix(p.String(), abs+"/"))
	}
	sort.Strings(got)
	wantProbs := []struct {
		prefix string
		err    error
	}{
		{"mixed.ndjson: record 2: not a CloudTrail record", event.ErrNotRecord},
		{"notes/readme.json: not a CloudTrail log: neither NDJSON", importer.ErrNotLog},
		{"notime.ndjson: record 1: eventTime: no time for the record", event.ErrNoEventTime},
		{"status.json: not a CloudTrail log: it is JSON but holds no CloudTrail record (record 1: not a CloudTrail record", importer.ErrNotLog},
	}
	if len(got) != len(wantProbs) {
		t.Fatalf("problems:\n%s", strings.Join(got, "\n"))
	}
	for i, w := range wantProbs {
		if !strings.HasPrefix(got[i], w.prefix) {
			t.Errorf("problem %d: %s\nwant it to start %q", i, got[i], w.prefix)
		}
	}
	if !strings.HasSuffix(got[2], `(eventID "notime-0001")`) {
		t.Errorf("the rejection does not name the record's eventID: %s", got[2])
	}
	for _, p := range probs.list {
		ok := false
		for _, w := range wantProbs {
			ok = ok || errors.Is(p.Err, w.err)
		}
		if !ok {
			t.Errorf("problem %s: not one of the expected errors", p)
		}
	}

	lookup := func(acct, id string) []store.Event {
		t.Helper()
		evs, err := st.Lookup(context.Background(), store.LookupQuery{Accounts: []string{acct}, Attrs: []store.Attr{{Key: "EventId", Value: id}}, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	one := func(acct, id string) *event.Record {
		t.Helper()
		evs := lookup(acct, id)
		if len(evs) != 1 {
			t.Fatalf("%s in %s: %d events, want 1", id, acct, len(evs))
		}
		return evs[0].Rec
	}
	// Logstash's records take their time from @timestamp, and say so.
	if r := one("111111111111", "logstash-0001"); !r.EventTime.Equal(time.Date(2023, 2, 3, 4, 5, 1, 250e6, time.UTC)) ||
		!strings.Contains(string(r.Raw), `"opentrailRepairs":[{"field":"eventTime","was":"","now":"\"2023-02-03T04:05:01.25Z\""}]`) {
		t.Errorf("logstash record: %v %s", r.EventTime, r.Raw)
	}
	// A record without a time in a date folder takes the folder's day.
	if r := one("111111111111", "dayfolder-0001"); !r.EventTime.Equal(time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date folder record: %v", r.EventTime)
	}
	// Both accounts keep their record with the shared eventID.
	if a, b := one("111111111111", "shared-0001"), one("222222222222", "shared-0001"); a.EventName != "GetObject" || b.EventName != "PutObject" {
		t.Errorf("shared eventID: %s and %s", a.EventName, b.EventName)
	}
	// The first of the conflicting records is kept.
	if r := one("111111111111", "dup-0001"); r.EventName != "GetObject" {
		t.Errorf("conflict kept %s, want the first record, GetObject", r.EventName)
	}
	for _, id := range []string{"pretty-0001", "pretty-0002", "pretty-0003", "later-0001", "mixed-0001", "notime-0002"} {
		one("111111111111", id)
	}
	if n := len(lookup("111111111111", "notime-0001")); n != 0 {
		t.Errorf("the record without a time was stored")
	}
	var unknown int
	if err := st.DB().QueryRow(`SELECT count(*) FROM events WHERE event_name = 'unknown' OR event_source = 'unknown'`).Scan(&unknown); err != nil || unknown != 0 {
		t.Errorf("%d events stored as unknown (%v)", unknown, err)
	}

	// Again, with the conflict's eventID reported: nothing new.
	probs = problems{}
	s, err = run(t, importer.Options{Source: src, Sink: importer.StoreSink{Store: st}, Parallel: 2, Report: probs.report})
	if err != nil {
		t.Fatal(err)
	}
	if s.Added != 0 || s.Duplicates != 12+1 || s.Conflicts != 1 || strings.Join(s.ConflictIDs, ",") != "dup-0001" || len(probs.list) != 4 {
		t.Errorf("second import: %+v, %d problems", s, len(probs.list))
	}
}
