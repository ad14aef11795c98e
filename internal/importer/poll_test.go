package importer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/store"
)

// memLedger is an in-memory Ledger.
type memLedger struct {
	mu   sync.Mutex
	m    map[string][]byte
	sets int
}

func (l *memLedger) Meta(_ context.Context, key string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.m[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return v, nil
}

func (l *memLedger) SetMeta(_ context.Context, key string, v []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[key] = append([]byte(nil), v...)
	l.sets++
	return nil
}

// countSink stores eventIDs, deduping, and can be made to fail.
type countSink struct {
	mu     sync.Mutex
	ids    map[string]int // eventID → times written
	writes int
	fail   bool
}

func (s *countSink) Write(_ context.Context, recs []*event.Record) (importer.WriteResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return importer.WriteResult{}, fmt.Errorf("sink down: %w", importer.ErrPermanent)
	}
	s.writes++
	added := 0
	for _, r := range recs {
		if s.ids[r.EventID] == 0 {
			added++
		}
		s.ids[r.EventID]++
	}
	return importer.WriteResult{Added: added, Duplicates: len(recs) - added}, nil
}

func (s *countSink) stored() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

func TestPollerBookkeeping(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	day := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	logFile := func(n int, ids ...string) string {
		var recs []string
		for _, id := range ids {
			recs = append(recs, rec(id, day, "111122223333", "us-east-1"))
		}
		p := filepath.Join(dir, fmt.Sprintf("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1000Z_%016d.json.gz", n))
		writeGz(t, p, `{"Records":[`+strings.Join(recs, ",")+`]}`)
		return p
	}
	logFile(1, "p-1", "p-2")
	logFile(2, "p-3")
	bad := filepath.Join(dir, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1000Z_bad.json")
	writeFile(t, bad, []byte(`{"Records":[{"eventVersion":`))
	writeGz(t, filepath.Join(dir, "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240501T100000Z.json.gz"), `{}`)

	src, err := importer.NewLocalFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	ledger := &memLedger{m: map[string][]byte{}}
	sink := &countSink{ids: map[string]int{}}
	var results []importer.FileResult
	newPoller := func() *importer.Poller {
		return importer.NewPoller(importer.PollOptions{Source: src, Sink: sink, Ledger: ledger,
			OnFile: func(fr importer.FileResult) { results = append(results, fr) }})
	}
	p := newPoller()

	res, err := p.PollOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 2 || res.Bad != 1 || res.Added != 3 || sink.stored() != 3 {
		t.Fatalf("first poll: %+v, %d stored", res, sink.stored())
	}
	if len(results) != 3 || results[0].Bad || !results[2].Bad || results[2].Path != bad || !strings.Contains(results[2].Reason, "not terminated") {
		t.Fatalf("results: %+v", results)
	}
	if ledger.sets != 3 {
		t.Fatalf("%d ledger entries written, want 3 (digest files are not recorded)", ledger.sets)
	}

	// Nothing new: nothing read, the bad file not retried.
	writes := sink.writes
	res, err = p.PollOnce(ctx)
	if err != nil || res != (importer.PollResult{}) || sink.writes != writes || ledger.sets != 3 {
		t.Fatalf("second poll: %+v %v, %d writes", res, err, sink.writes-writes)
	}

	// A restarted poller (same ledger) reads nothing either.
	p = newPoller()
	res, err = p.PollOnce(ctx)
	if err != nil || res != (importer.PollResult{}) || sink.writes != writes {
		t.Fatalf("after restart: %+v %v", res, err)
	}

	// A new file while the sink fails: not recorded, retried next poll.
	logFile(3, "p-4", "p-5")
	sink.fail = true
	if _, err := p.PollOnce(ctx); err == nil || !strings.Contains(err.Error(), "sink down") {
		t.Fatalf("poll with a failing sink: %v", err)
	}
	if ledger.sets != 3 {
		t.Fatalf("a file the sink failed on was recorded")
	}
	sink.fail = false
	res, err = p.PollOnce(ctx)
	if err != nil || res.Files != 1 || res.Added != 2 {
		t.Fatalf("retry: %+v %v", res, err)
	}

	// The bad file is fixed (it changes size): read again.
	if err := os.WriteFile(bad, []byte(`{"Records":[`+rec("p-6", day, "111122223333", "us-east-1")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = p.PollOnce(ctx)
	if err != nil || res.Files != 1 || res.Bad != 0 || res.Added != 1 {
		t.Fatalf("fixed file: %+v %v", res, err)
	}
	for id, n := range sink.ids {
		if n != 1 {
			t.Errorf("%s written %d times", id, n)
		}
	}
	if sink.stored() != 6 {
		t.Errorf("%d events stored, want 6", sink.stored())
	}
}

func TestPollerRetriesUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1000Z_x.json")
	writeFile(t, p, []byte(`{"Records":[`+rec("u-1", time.Now(), "111122223333", "us-east-1")+`]}`))
	src, _ := importer.NewLocalFiles(dir)
	ledger := &memLedger{m: map[string][]byte{}}
	sink := &countSink{ids: map[string]int{}}
	poller := importer.NewPoller(importer.PollOptions{Source: failingOpen{src}, Sink: sink, Ledger: ledger})
	if _, err := poller.PollOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err = %v", err)
	}
	if ledger.sets != 0 {
		t.Fatal("a file that could not be read was recorded")
	}
	poller = importer.NewPoller(importer.PollOptions{Source: src, Sink: sink, Ledger: ledger})
	if res, err := poller.PollOnce(context.Background()); err != nil || res.Files != 1 || sink.stored() != 1 {
		t.Fatalf("retry: %+v %v", res, err)
	}
}

type failingOpen struct{ importer.Source }

func (f failingOpen) Open(context.Context, importer.Object) (io.ReadCloser, error) {
	return nil, errors.New("connection reset")
}
