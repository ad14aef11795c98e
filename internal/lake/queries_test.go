package lake

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/store"
)

// queryAs runs statement through StartQuery as account (the organisation's
// management account if management) and returns its rows once finished.
func queryAs(t *testing.T, svc *Service, account string, management bool, statement string) [][]map[string]string {
	t.Helper()
	p := servicetest.Principal(account)
	p.Management = management
	ctx := awsapi.WithCaller(context.Background(), &awsapi.Caller{Principal: p, Region: servicetest.RegionA, RequestID: "req"})
	started, err := svc.StartQuery(ctx, &StartQueryInput{QueryStatement: statement})
	if err != nil {
		t.Fatalf("StartQuery(%s): %v", statement, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		d, err := svc.DescribeQuery(ctx, &DescribeQueryInput{QueryId: started.QueryId})
		if err != nil {
			t.Fatal(err)
		}
		if d.QueryStatus == queryQueued || d.QueryStatus == queryRunning {
			if time.Now().After(deadline) {
				t.Fatalf("query %s still %s", statement, d.QueryStatus)
			}
			continue
		}
		if d.QueryStatus != queryFinished {
			t.Fatalf("query %s: %s: %s", statement, d.QueryStatus, d.ErrorMessage)
		}
		break
	}
	r, err := svc.GetQueryResults(ctx, &GetQueryResultsInput{QueryId: started.QueryId})
	if err != nil {
		t.Fatal(err)
	}
	return r.QueryResultRows
}

// serviceWith returns a Service over a new store holding one event of
// each account listed, an hour before servicetest.Now.
func serviceWith(t *testing.T, accounts []string, now func() time.Time) *Service {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var recs []*event.Record
	for i, acct := range accounts {
		recs = append(recs, servicetest.Record(t, servicetest.RecordOpts{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Account: acct, Time: servicetest.Now.Add(-time.Hour)}))
	}
	if _, err := st.Append(ctx, recs, servicetest.Now); err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Meta: st, Engine: StoreEngine(st), TokenKey: servicetest.TokenKey, Now: now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestQueryScopeManagementSeesEveryAccount: StartQuery as the
// organisation's management account reads the events of every account; a
// member account reads only its own, whatever its SQL asks for.
func TestQueryScopeManagementSeesEveryAccount(t *testing.T) {
	svc := serviceWith(t, []string{servicetest.AcctA, servicetest.AcctA, servicetest.AcctB, servicetest.AcctOrg},
		func() time.Time { return servicetest.Now })
	const q = `SELECT recipientAccountId AS a, count(*) AS n FROM cloudtrail_events GROUP BY 1 ORDER BY 1`
	counts := func(rows [][]map[string]string) string {
		var out []string
		for _, r := range rows {
			out = append(out, r[0]["a"]+"="+r[1]["n"])
		}
		return strings.Join(out, " ")
	}
	if got, want := counts(queryAs(t, svc, servicetest.AcctOrg, true, q)), servicetest.AcctB+"=1 "+servicetest.AcctA+"=2 "+servicetest.AcctOrg+"=1"; got != want {
		t.Errorf("management account sees %s, want %s", got, want)
	}
	if got, want := counts(queryAs(t, svc, servicetest.AcctA, false, q)), servicetest.AcctA+"=2"; got != want {
		t.Errorf("member account sees %s, want %s", got, want)
	}
	// The member's filter on another account finds nothing.
	if got := queryAs(t, svc, servicetest.AcctB, false, `SELECT eventID FROM cloudtrail_events WHERE recipientAccountId = '`+servicetest.AcctA+`'`); len(got) != 0 {
		t.Errorf("member account read another account's events: %v", got)
	}
}

// TestFinishedResultsKeptWithinTheirBudget: the results kept in memory
// stay within maxResultBytes however many queries finish; the oldest are
// dropped first (their ids are then unknown) and the newest stays readable.
func TestFinishedResultsKeptWithinTheirBudget(t *testing.T) {
	ctx := context.Background()
	// The service's clock is the real one: the queries' end times order them.
	svc := serviceWith(t, slices.Repeat([]string{servicetest.AcctA}, 50), time.Now)
	// One result of 50 rows is about 7 KB: the budget holds two.
	old := maxResultBytes
	maxResultBytes = 16 << 10
	t.Cleanup(func() { maxResultBytes = old })
	const q = `SELECT eventID, eventName, eventSource FROM cloudtrail_events`
	var ids []string
	for range 6 {
		if rows := queryAs(t, svc, servicetest.AcctA, false, q); len(rows) != 50 {
			t.Fatalf("%d rows, want 50", len(rows))
		}
		svc.queries.mu.Lock()
		if svc.queries.bytes > maxResultBytes {
			t.Errorf("%d bytes of results kept, over the budget of %d", svc.queries.bytes, maxResultBytes)
		}
		var newest *lakeQuery
		for _, lq := range svc.queries.m {
			if newest == nil || lq.done.After(newest.done) {
				newest = lq
			}
		}
		ids = append(ids, newest.id)
		kept := len(svc.queries.m)
		svc.queries.mu.Unlock()
		if want := min(len(ids), 2); kept != want {
			t.Errorf("after %d queries %d kept, want %d", len(ids), kept, want)
		}
	}
	p := servicetest.Principal(servicetest.AcctA)
	cctx := awsapi.WithCaller(ctx, &awsapi.Caller{Principal: p, Region: servicetest.RegionA, RequestID: "req"})
	if _, err := svc.GetQueryResults(cctx, &GetQueryResultsInput{QueryId: ids[0]}); err == nil || !strings.Contains(err.Error(), codeQueryIDNotFound) {
		t.Errorf("the oldest query's results: %v, want %s (dropped for the budget)", err, codeQueryIDNotFound)
	}
	if r, err := svc.GetQueryResults(cctx, &GetQueryResultsInput{QueryId: ids[len(ids)-1]}); err != nil || len(r.QueryResultRows) != 50 {
		t.Errorf("the newest query's results: %v, %d rows, want 50", err, len(r.QueryResultRows))
	}
}
