package store

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

func dayRec(t *testing.T, i int, account, user string, at time.Time) *event.Record {
	t.Helper()
	raw := fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","accountId":"%[1]s","userName":"%[2]s"},`+
		`"eventTime":"%[3]s","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-east-1",`+
		`"sourceIPAddress":"198.51.100.7","eventID":"dd-%08[4]d","eventType":"AwsApiCall","recipientAccountId":"%[1]s","eventCategory":"Management"}`,
		account, user, at.UTC().Format(time.RFC3339), i)
	r, err := event.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The day index answers by account: a value present only in account B
// gives account A no days (the empty-days fast path, as for a value that
// exists nowhere), while B, and a query over every account, see its day.
func TestDayIndexByAccount(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	if _, err := s.Append(ctx, []*event.Record{
		dayRec(t, 1, "111111111111", "alice", at),
		dayRec(t, 2, "222222222222", "secret-user", at.Add(48*time.Hour)),
	}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	days := func(accounts []string, v string) []int32 {
		d, err := lookups{s}.valueDays(ctx, dayUsername, accounts, v, math.MinInt32, math.MaxInt32)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := days([]string{"111111111111"}, "secret-user"); len(d) != 0 {
		t.Errorf("account A sees days %v of a value only account B has", d)
	}
	if d := days([]string{"222222222222"}, "secret-user"); len(d) != 1 || d[0] != dayOf(at.Add(48*time.Hour)) {
		t.Errorf("account B: days %v", d)
	}
	if d := days(nil, "secret-user"); len(d) != 1 {
		t.Errorf("every account: days %v", d)
	}
	if d := days([]string{"111111111111", "222222222222"}, "alice"); len(d) != 1 || d[0] != dayOf(at) {
		t.Errorf("two accounts: days %v", d)
	}
}

// A store whose index has only the all-accounts keys (made before the
// split) gets the per-account keys at Open.
func TestDayIndexUpgrade(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	var recs []*event.Record
	for i := 0; i < 50; i++ {
		recs = append(recs, dayRec(t, i, fmt.Sprintf("%012d", 100+i%3), fmt.Sprintf("user-%d", i%7), at.Add(time.Duration(i)*7*time.Hour)))
	}
	if _, err := s.Append(ctx, recs, time.Time{}); err != nil {
		t.Fatal(err)
	}
	var want int
	s.db.QueryRow(`SELECT count(*) FROM lookup_days`).Scan(&want)
	// Make it an old store: only the keys of values alone, no layout mark.
	keep := []any{}
	for _, r := range recs {
		keep = append(keep, dayKey(dayEventName, r.EventName), dayKey(dayEventSource, r.EventSource), dayKey(dayUsername, r.Username))
	}
	if _, err := s.db.Exec(`DELETE FROM lookup_days WHERE key NOT IN (`+placeholders(len(keep))+`)`, keep...); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`DELETE FROM meta WHERE key = ?`, dayIndexLayoutKey); err != nil {
		t.Fatal(err)
	}
	var before int
	s.db.QueryRow(`SELECT count(*) FROM lookup_days`).Scan(&before)
	if before >= want {
		t.Fatalf("the old-layout index has %d rows, the new one %d", before, want)
	}
	s.Close()

	s, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }() // the store open when the test ends: Open runs again below
	var after int
	s.db.QueryRow(`SELECT count(*) FROM lookup_days`).Scan(&after)
	if after != want {
		t.Errorf("after the upgrade the index has %d rows, want %d (as if built by appends)", after, want)
	}
	for i, r := range recs {
		d, err := lookups{s}.valueDays(ctx, dayUsername, []string{r.AccountID}, r.Username, math.MinInt32, math.MaxInt32)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, x := range d {
			found = found || x == dayOf(r.EventTime)
		}
		if !found {
			t.Fatalf("record %d: account %s user %s: days %v lack %d", i, r.AccountID, r.Username, d, dayOf(r.EventTime))
		}
	}
	// A later Open does not rebuild again.
	s.Close()
	s, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var again int
	s.db.QueryRow(`SELECT count(*) FROM lookup_days`).Scan(&again)
	if again != want {
		t.Errorf("second Open: %d rows, want %d", again, want)
	}
}
