package lake

import (
	"context"
	"fmt"
	"log/slog"
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

// TestQueryScopeManagementSeesEveryAccount: StartQuery as the
// organisation's management account reads the events of every account; a
// member account reads only its own, whatever its SQL asks for.
func TestQueryScopeManagementSeesEveryAccount(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var recs []*event.Record
	for i, acct := range []string{servicetest.AcctA, servicetest.AcctA, servicetest.AcctB, servicetest.AcctOrg} {
		recs = append(recs, servicetest.Record(t, servicetest.RecordOpts{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Account: acct, Time: servicetest.Now.Add(-time.Hour)}))
	}
	if _, err := st.Append(ctx, recs, servicetest.Now); err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Meta: st, Engine: StoreEngine(st), TokenKey: servicetest.TokenKey, Now: func() time.Time { return servicetest.Now }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
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
