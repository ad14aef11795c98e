package findings_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/findings"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

type published struct{ account, topic, subject, message, dedup string }

type fakePublisher struct {
	mu   sync.Mutex
	fail bool
	got  []published
}

func (p *fakePublisher) Publish(_ context.Context, account, topic, subject, message, dedup string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return "", errors.New("topic unavailable")
	}
	for _, g := range p.got {
		if g.topic == topic && g.dedup == dedup {
			return "m-" + dedup, nil
		}
	}
	p.got = append(p.got, published{account, topic, subject, message, dedup})
	return "m-" + dedup, nil
}

const topic = "arn:aws:sns:us-east-1:111122223333:alerts"

func openStore(t *testing.T, pub findings.Publisher, db *sql.DB) (*findings.Store, *clock.Fake, *sql.DB) {
	t.Helper()
	if db == nil {
		var err error
		db, err = sql.Open("duckdb", "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
	}
	clk := clock.NewFake(t0.Add(24 * time.Hour))
	cfg := findings.Config{DB: db, Clock: clk, Logger: slog.New(slog.DiscardHandler), BaseURL: "http://ot:4747"}
	if pub != nil {
		cfg.Notify, cfg.Publisher = topic, pub
	}
	s, err := findings.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, clk, db
}

func sig(key string, at time.Time, mod ...func(*findings.Signal)) findings.Signal {
	s := findings.Signal{Detector: findings.DetectorSigma, RuleID: "4db60cc0-36fb-42b7-9b58-a5b53019fb74",
		Title: "AWS CloudTrail Important Change", Author: "vitaliy0x1", Severity: findings.SeverityMedium,
		Account: "111122223333", Region: "us-east-1", Principal: "arn:aws:iam::111122223333:user/alice",
		SourceIP: "198.51.100.9", EventIDs: []string{"ev-" + key}, EventTime: at, Key: "ev-" + key}
	for _, m := range mod {
		m(&s)
	}
	return s
}

func list(t *testing.T, s *findings.Store, f findings.Filter) []*findings.Finding {
	t.Helper()
	fs, _, err := s.List(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestRecordGroupsWithinTheDedupWindow(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openStore(t, nil, nil)
	err := s.Record(ctx, []findings.Signal{
		sig("1", t0),
		sig("2", t0.Add(50*time.Minute), func(s *findings.Signal) { s.SourceIP = "203.0.113.7"; s.Severity = findings.SeverityHigh }),
		sig("3", t0.Add(110*time.Minute)), // 60 min after the last: still within the hour
	})
	if err != nil {
		t.Fatal(err)
	}
	fs := list(t, s, findings.Filter{})
	if len(fs) != 1 {
		t.Fatalf("%d findings, want 1", len(fs))
	}
	f := fs[0]
	if f.Count != 3 || f.EventTotal != 3 || !f.FirstSeen.Equal(t0) || !f.LastSeen.Equal(t0.Add(110*time.Minute)) {
		t.Errorf("count %d, events %d, first %v, last %v", f.Count, f.EventTotal, f.FirstSeen, f.LastSeen)
	}
	if f.Severity != findings.SeverityHigh {
		t.Errorf("severity %q, want the highest signal's, high", f.Severity)
	}
	if f.Author != "vitaliy0x1" || f.Title != "AWS CloudTrail Important Change" || f.State != findings.StateNew {
		t.Errorf("finding %+v", f)
	}
	if strings.Join(f.SourceIPs, ",") != "198.51.100.9,203.0.113.7" || strings.Join(f.EventIDs, ",") != "ev-1,ev-2,ev-3" {
		t.Errorf("source IPs %v, events %v", f.SourceIPs, f.EventIDs)
	}
	// More than an hour after the last seen: a new finding, in a later call.
	if err := s.Record(ctx, []findings.Signal{sig("4", t0.Add(171*time.Minute))}); err != nil {
		t.Fatal(err)
	}
	if fs := list(t, s, findings.Filter{}); len(fs) != 2 || fs[0].Count != 1 || fs[1].ID != f.ID {
		t.Fatalf("after the window: %d findings", len(fs))
	}
	// Another group key, account or rule: findings of their own.
	err = s.Record(ctx, []findings.Signal{
		sig("5", t0, func(s *findings.Signal) { s.GroupKey = "bob" }),
		sig("6", t0, func(s *findings.Signal) { s.Account = "444455556666" }),
		sig("7", t0, func(s *findings.Signal) { s.RuleID = "other" }),
	})
	if err != nil {
		t.Fatal(err)
	}
	if fs := list(t, s, findings.Filter{}); len(fs) != 5 {
		t.Fatalf("%d findings, want 5", len(fs))
	}
}

// TestRecordUpdatesFindingsInPlace: a signal joining an existing finding
// updates its row where it is (the same rowid, many times over, while
// another connection holds a read transaction open), and the store stays
// usable. Deleting the row and inserting it again in one transaction, as
// Record once did, puts the key twice in fd_findings' primary-key index
// for a while; a later commit inserting the key again then invalidated
// the whole database ("Corrupted unique ART index ... gated leaf"), and
// every read and write of the server failed until a restart.
func TestRecordUpdatesFindingsInPlace(t *testing.T) {
	ctx := context.Background()
	s, _, db := openStore(t, nil, nil)
	rowid := func() (id string, rid int64) {
		t.Helper()
		if err := db.QueryRowContext(ctx, `SELECT id, rowid FROM fd_findings`).Scan(&id, &rid); err != nil {
			t.Fatal(err)
		}
		return id, rid
	}
	if err := s.Record(ctx, []findings.Signal{sig("0", t0)}); err != nil {
		t.Fatal(err)
	}
	id, first := rowid()
	reader, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := reader.ExecContext(ctx, `BEGIN TRANSACTION READ ONLY`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRowContext(ctx, `SELECT count(*) FROM fd_findings WHERE id = ?`, id).Scan(&n); err != nil || n != 1 {
		t.Fatalf("reader: %d findings, %v", n, err)
	}
	for i := 1; i <= 20; i++ {
		if err := s.Record(ctx, []findings.Signal{sig(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second))}); err != nil {
			t.Fatalf("record signal %d of the finding: %v", i, err)
		}
		if gotID, rid := rowid(); gotID != id || rid != first {
			t.Fatalf("after signal %d the finding is %s at rowid %d, want %s still at rowid %d: Record deleted and re-inserted it rather than updating it in place", i, gotID, rid, id, first)
		}
	}
	reader.ExecContext(ctx, `ROLLBACK`)
	if fs := list(t, s, findings.Filter{}); len(fs) != 1 || fs[0].Count != 21 {
		t.Fatalf("%d findings (count %v), want 1 of 21 signals", len(fs), fs)
	}
}

func TestRecordIsIdempotent(t *testing.T) {
	ctx := context.Background()
	pub := &fakePublisher{}
	s, _, _ := openStore(t, pub, nil)
	batch := []findings.Signal{sig("1", t0), sig("2", t0.Add(time.Minute)), sig("2", t0.Add(time.Minute))}
	for range 3 {
		if err := s.Record(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	fs := list(t, s, findings.Filter{})
	if len(fs) != 1 || fs[0].Count != 2 || fs[0].EventTotal != 2 {
		t.Fatalf("replayed signals counted again: %d findings, %+v", len(fs), fs[0])
	}
	if len(pub.got) != 1 {
		t.Fatalf("%d notifications, want 1", len(pub.got))
	}
	// A signal without a Key is not deduplicated.
	noKey := sig("x", t0.Add(2*time.Minute), func(s *findings.Signal) { s.Key = "" })
	s.Record(ctx, []findings.Signal{noKey})
	s.Record(ctx, []findings.Signal{noKey})
	if f := list(t, s, findings.Filter{})[0]; f.Count != 4 {
		t.Errorf("count %d, want 4", f.Count)
	}
}

func TestStatesAndSuppression(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openStore(t, nil, nil)
	if err := s.Record(ctx, []findings.Signal{sig("1", t0)}); err != nil {
		t.Fatal(err)
	}
	id := list(t, s, findings.Filter{})[0].ID
	clk.Advance(time.Minute)
	f, err := s.SetState(ctx, id, findings.StateAcknowledged, "looking", "alice")
	if err != nil || f.State != findings.StateAcknowledged || f.StateBy != "alice" || !f.StateAt.Equal(clk.Now()) {
		t.Fatalf("acknowledge: %+v %v", f, err)
	}
	// An acknowledged finding still absorbs its rule's signals.
	s.Record(ctx, []findings.Signal{sig("2", t0.Add(time.Minute))})
	if fs := list(t, s, findings.Filter{}); len(fs) != 1 || fs[0].Count != 2 {
		t.Fatalf("acknowledged finding did not absorb: %d findings", len(fs))
	}
	// A resolved finding is closed: the rule firing again opens a new one.
	if _, err := s.SetState(ctx, id, findings.StateResolved, "", "alice"); err != nil {
		t.Fatal(err)
	}
	s.Record(ctx, []findings.Signal{sig("3", t0.Add(2*time.Minute))})
	fs := list(t, s, findings.Filter{})
	if len(fs) != 2 || fs[0].ID == id || fs[0].State != findings.StateNew {
		t.Fatalf("after resolve: %d findings", len(fs))
	}
	// Suppression needs a reason; a suppressed finding absorbs its
	// rule's signals whenever they come.
	var se *findings.StateError
	if _, err := s.SetState(ctx, fs[0].ID, findings.StateSuppressed, " ", "bob"); !errors.As(err, &se) {
		t.Fatalf("suppress without a reason: %v", err)
	}
	if _, err := s.SetState(ctx, fs[0].ID, "closed", "", "bob"); !errors.As(err, &se) {
		t.Fatalf("unknown state: %v", err)
	}
	if _, err := s.SetState(ctx, fs[0].ID, findings.StateSuppressed, "the CI role does this nightly", "bob"); err != nil {
		t.Fatal(err)
	}
	s.Record(ctx, []findings.Signal{sig("4", t0.Add(48*time.Hour))})
	sup := list(t, s, findings.Filter{States: []string{findings.StateSuppressed}})
	if len(sup) != 1 || sup[0].Count != 2 || sup[0].StateReason != "the CI role does this nightly" {
		t.Fatalf("suppressed: %+v", sup)
	}
	if _, err := s.SetState(ctx, "fd-nope", findings.StateNew, "", "x"); !errors.Is(err, findings.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	if len(list(t, s, findings.Filter{})) != 2 {
		t.Error("suppressed signal opened a finding")
	}
	// Every change is kept, oldest first, with who, when, why and the
	// state it left; a refused change is not.
	h, err := s.StateHistory(ctx, id)
	if err != nil || len(h) != 2 || h[0].State != findings.StateAcknowledged || h[0].Previous != findings.StateNew ||
		h[0].Reason != "looking" || h[0].By != "alice" || !h[0].At.Equal(t0.Add(24*time.Hour+time.Minute)) ||
		h[1].State != findings.StateResolved || h[1].Previous != findings.StateAcknowledged {
		t.Fatalf("state history of %s: %+v %v", id, h, err)
	}
	if h, _ := s.StateHistory(ctx, fs[0].ID); len(h) != 1 || h[0].By != "bob" || h[0].Reason != "the CI role does this nightly" {
		t.Fatalf("state history of %s: %+v", fs[0].ID, h)
	}
}

func TestListFiltersAndPages(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openStore(t, nil, nil)
	var sigs []findings.Signal
	for i := range 7 {
		sigs = append(sigs, sig(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Minute), func(s *findings.Signal) {
			s.GroupKey = fmt.Sprint(i)
			if i%2 == 0 {
				s.Severity = findings.SeverityCritical
				s.Detector = findings.DetectorCIS
			}
		}))
	}
	if err := s.Record(ctx, sigs); err != nil {
		t.Fatal(err)
	}
	var got []string
	next := ""
	for {
		fs, n, err := s.List(ctx, findings.Filter{Limit: 3, Next: next})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			got = append(got, f.GroupKey)
		}
		if next = n; next == "" {
			break
		}
	}
	if strings.Join(got, "") != "6543210" {
		t.Errorf("pages gave %v", got)
	}
	if fs := list(t, s, findings.Filter{Severity: findings.SeverityHigh}); len(fs) != 4 {
		t.Errorf("high or above: %d", len(fs))
	}
	if fs := list(t, s, findings.Filter{Detectors: []string{findings.DetectorSigma}}); len(fs) != 3 {
		t.Errorf("sigma: %d", len(fs))
	}
	if fs := list(t, s, findings.Filter{Since: t0.Add(5 * time.Minute)}); len(fs) != 2 {
		t.Errorf("since: %d", len(fs))
	}
	if fs := list(t, s, findings.Filter{Accounts: []string{"999999999999"}}); len(fs) != 0 {
		t.Errorf("other account: %d", len(fs))
	}
	if _, _, err := s.List(ctx, findings.Filter{Next: "garbage"}); !errors.Is(err, findings.ErrBadToken) {
		t.Errorf("bad token: %v", err)
	}
}

func TestNotificationNamesRuleAndAuthorAndSurvivesAFailedPublish(t *testing.T) {
	ctx := context.Background()
	pub := &fakePublisher{fail: true}
	s, _, db := openStore(t, pub, nil)
	if err := s.Record(ctx, []findings.Signal{sig("1", t0)}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Pending(ctx); n != 1 {
		t.Fatalf("pending %d, want the failed notification kept", n)
	}
	// A store opened again over the same database (a restart) sends it.
	pub.fail = false
	s2, _, _ := openStore(t, pub, db)
	s2.Drain(ctx)
	if len(pub.got) != 1 {
		t.Fatalf("%d notifications", len(pub.got))
	}
	p := pub.got[0]
	f := list(t, s2, findings.Filter{})[0]
	if p.dedup != f.ID || p.account != "111122223333" || p.topic != topic {
		t.Errorf("published %+v", p)
	}
	var n findings.Notification
	if err := json.Unmarshal([]byte(p.message), &n); err != nil {
		t.Fatal(err)
	}
	if n.RuleID != f.RuleID || n.Author != "vitaliy0x1" || n.Severity != "medium" || n.Count != 1 ||
		n.Principal != "arn:aws:iam::111122223333:user/alice" || len(n.Events) != 1 ||
		n.Events[0] != "http://ot:4747/v1/events?EventId=ev-1&region=us-east-1&category=all" {
		t.Errorf("message %+v", n)
	}
	if !strings.Contains(p.subject, "AWS CloudTrail Important Change") || !strings.Contains(p.subject, "vitaliy0x1") {
		t.Errorf("subject %q", p.subject)
	}
	if n, _ := s2.Pending(ctx); n != 0 {
		t.Errorf("pending %d after a publish", n)
	}
}

func TestEventIDsKeepTheFirstAndCountAll(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openStore(t, nil, nil)
	var sigs []findings.Signal
	for i := range findings.MaxEventIDs + 20 {
		sigs = append(sigs, sig(fmt.Sprint(i), t0))
	}
	if err := s.Record(ctx, sigs); err != nil {
		t.Fatal(err)
	}
	f := list(t, s, findings.Filter{})[0]
	if len(f.EventIDs) != findings.MaxEventIDs || f.EventTotal != int64(findings.MaxEventIDs+20) || f.EventIDs[0] != "ev-0" {
		t.Errorf("kept %d ids of %d, first %s", len(f.EventIDs), f.EventTotal, f.EventIDs[0])
	}
	g, err := s.Get(ctx, f.ID)
	if err != nil || g.Count != f.Count {
		t.Errorf("get: %v %v", g, err)
	}
}
