package query_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/store"
)

// variedRecords are the public CloudTrail records of ../shared/testdata,
// demo activity and a few odd records: unknown and deeply nested fields,
// numbers beyond float64, escapes.
func variedRecords(t *testing.T) []*event.Record {
	t.Helper()
	var recs []*event.Record
	seen := map[string]bool{}
	add := func(r *event.Record) {
		if k := r.AccountID + "/" + r.EventID; !seen[k] {
			seen[k] = true
			recs = append(recs, r)
		}
	}
	files, _ := filepath.Glob("../../../shared/testdata/public/*/*.json")
	more, _ := filepath.Glob("../../../shared/testdata/public/*/*_records.ndjson")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no files under ../../../shared/testdata/public")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		event.ParseBody(b, 0, event.LenientOptions{}, func(r *event.Record, _ []event.Repair, err error) error {
			if err == nil {
				add(r)
			}
			return nil
		})
	}
	opts := demo.Options{Seed: 7, Events: 3000, Start: base.Add(-48 * time.Hour), Duration: 48 * time.Hour}
	if err := demo.Generate(opts, func(raw []byte) error {
		r, err := event.Parse(raw)
		if err != nil {
			return err
		}
		add(r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, raw := range []string{
		`{"eventVersion":"1.09","userIdentity":{"type":"WebIdentityUser","future":{"x":[1,2]},"sessionContext":{"webIdFederationData":{"federatedProvider":"p","attributes":{"n":-1e999999}}}},"eventTime":"2026-03-01T12:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithWebIdentity","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.5","userAgent":"caf\u00e9 \/ agent","requestParameters":{"deep":` + strings.Repeat(`{"a":[`, 25) + `123456789012345678901234567890` + strings.Repeat(`]}`, 25) + `},"responseElements":null,"eventID":"odd-1","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111111111111","eventCategory":"Management","newTopLevel":{"k":1E+2}}`,
		`{"eventVersion":"1.08","userIdentity":{"type":"Root","arn":"arn:aws:iam::222222222222:root","accountId":"222222222222"},"eventTime":"2026-03-01T12:00:01.500Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.1","additionalEventData":{"MFAUsed":"No","LoginTo":"https://console.aws.amazon.com"},"responseElements":{"ConsoleLogin":"Success"},"eventID":"odd-2","eventType":"AwsConsoleSignIn","recipientAccountId":"222222222222","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.2","cipherSuite":"ECDHE-RSA-AES128-GCM-SHA256","clientProvidedHostHeader":"signin.aws.amazon.com"}}`,
	} {
		r, err := event.Parse([]byte(raw))
		if err != nil {
			t.Fatalf("odd record %d: %v", i, err)
		}
		add(r)
	}
	return recs
}

// tierQueries touch every column, nested fields, maps, lists and the
// whole record.
var tierQueries = []string{
	`SELECT count(*), count(DISTINCT eventID), min(eventTime), max(eventTime) FROM cloudtrail_events`,
	`SELECT eventSource, eventName, count(*) AS n FROM cloudtrail_events GROUP BY ALL ORDER BY n DESC, eventSource, eventName`,
	`SELECT userIdentity.arn, userIdentity.type, count(*) AS n FROM cloudtrail_events GROUP BY ALL ORDER BY n DESC, 1, 2`,
	`SELECT userIdentity.sessionContext.sessionIssuer.userName AS u, userIdentity.sessionContext.attributes.mfaAuthenticated AS m, count(*) FROM cloudtrail_events GROUP BY ALL ORDER BY ALL`,
	`SELECT eventID, requestParameters, responseElements, additionalEventData, serviceEventDetails FROM cloudtrail_events ORDER BY eventID, eventJson::VARCHAR`,
	`SELECT eventID, resources, tlsDetails, userIdentity FROM cloudtrail_events ORDER BY eventID, eventJson::VARCHAR`,
	`SELECT eventID, eventVersion, eventTime, awsRegion, sourceIPAddress, userAgent, errorCode, errorMessage, requestID, readOnly, eventType, apiVersion, managementEvent, recipientAccountId, sharedEventID, vpcEndpointId, eventCategory, sessionCredentialFromConsole FROM cloudtrail_events ORDER BY eventID, eventJson::VARCHAR`,
	`SELECT eventID, eventJson FROM cloudtrail_events ORDER BY eventID, eventJson::VARCHAR`,
	`SELECT count(*) FROM cloudtrail_events WHERE eventName = 'ConsoleLogin' AND additionalEventData['MFAUsed'] = 'No'`,
	`SELECT eventJson->>'$.requestParameters.bucketName' AS b, count(*) FROM cloudtrail_events WHERE eventSource = 's3.amazonaws.com' GROUP BY ALL ORDER BY ALL`,
	`SELECT errorCode, count(*) FROM cloudtrail_events WHERE errorCode IS NOT NULL GROUP BY ALL ORDER BY ALL`,
}

func runAll(t *testing.T, st *store.Store, opts query.Options) [][][]string {
	t.Helper()
	var out [][][]string
	for _, q := range tierQueries {
		res, err := query.Run(context.Background(), st, q, opts)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out = append(out, append([][]string{res.Columns}, res.Rows...))
	}
	return out
}

// TestSQLSameOverBothTiers checks that every query answers the same
// before, during and after compaction, for the whole store and for one
// account.
func TestSQLSameOverBothTiers(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs := variedRecords(t)
	if len(recs) < 3100 {
		t.Fatalf("only %d records", len(recs))
	}
	for i := 0; i < len(recs); i += 500 {
		if _, err := st.Append(ctx, recs[i:min(i+500, len(recs))], base); err != nil {
			t.Fatal(err)
		}
	}
	scopes := []query.Options{{AllAccounts: true}, {Accounts: []string{"111111111111"}}, {Accounts: []string{recs[0].AccountID}}}
	var before [][][][]string
	for _, o := range scopes {
		before = append(before, runAll(t, st, o))
	}
	for _, through := range []int64{st.LastSeq() / 3, st.LastSeq()} {
		if _, err := st.Compact(ctx, through); err != nil {
			t.Fatal(err)
		}
		for i, o := range scopes {
			after := runAll(t, st, o)
			for j := range after {
				if !reflect.DeepEqual(after[j], before[i][j]) {
					a, b := after[j], before[i][j]
					for k := range min(len(a), len(b)) {
						if !reflect.DeepEqual(a[k], b[k]) {
							t.Fatalf("compacted through %d, scope %+v, %s:\nrow %d after  %q\nrow %d before %q", through, o, tierQueries[j], k, a[k], k, b[k])
						}
					}
					t.Fatalf("compacted through %d, scope %+v, %s: %d rows after, %d before", through, o, tierQueries[j], len(a), len(b))
				}
			}
		}
	}
	if len(st.ColdFiles()) == 0 {
		t.Fatal("no columnar files")
	}
}

// TestQueriesRaceCompactions runs queries while compactions move events
// between the tiers: every query sees every event exactly once.
func TestQueriesRaceCompactions(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs := variedRecords(t)
	for i := 0; i < len(recs); i += 250 {
		if _, err := st.Append(ctx, recs[i:min(i+250, len(recs))], base); err != nil {
			t.Fatal(err)
		}
	}
	want := int64(len(recs))
	var stop atomic.Bool
	var wg sync.WaitGroup
	var runs atomic.Int64
	errs := make(chan error, 4)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				res, err := query.Run(ctx, st, `SELECT count(*), count(DISTINCT eventID || recipientAccountId), sum(length(eventJson::VARCHAR)) > 0 FROM cloudtrail_events`, query.Options{AllAccounts: true})
				if err != nil {
					errs <- err
					return
				}
				if got := res.Rows[0][0]; got != itoa(want) || res.Rows[0][1] != itoa(want) {
					errs <- errorf("a query during compaction saw %s events (%s distinct), want %d", got, res.Rows[0][1], want)
					return
				}
				runs.Add(1)
			}
		}()
	}
	last := st.LastSeq()
	for through := int64(97); ; through += 397 {
		if _, err := st.Compact(ctx, min(through, last)); err != nil {
			t.Fatal(err)
		}
		if through >= last {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for runs.Load() < 4 {
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
