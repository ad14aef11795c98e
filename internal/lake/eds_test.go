package lake

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/store"
)

// edsEnv is a Service over a real store in dir, with the JSON router.
type edsEnv struct {
	st   *store.Store
	json *awsapi.Router
}

func newEDSEnv(t *testing.T, dir string, opts Options, now time.Time) *edsEnv {
	t.Helper()
	st, err := store.Open(context.Background(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{Meta: st, Engine: StoreEngine(st), TokenKey: servicetest.TokenKey, Options: opts, Now: func() time.Time { return now }, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r := awsapi.NewRouter("cloudtrail", nil, quiet)
	svc.Register(r)
	return &edsEnv{st: st, json: r}
}

func (e *edsEnv) call(account, region, op, body string) (int, string) {
	return servicetest.CallRouter(e.json, account, region, op, body)
}

type edsJSON struct {
	EventDataStoreArn, Name, Status         string
	MultiRegionEnabled, OrganizationEnabled bool
	TerminationProtectionEnabled            bool
	RetentionPeriod                         *int
	CreatedTimestamp, UpdatedTimestamp      float64
	AdvancedEventSelectors                  []struct {
		Name           string
		FieldSelectors []struct {
			Field  string
			Equals []string
		}
	}
}

func TestEventDataStore(t *testing.T) {
	dir := t.TempDir()
	created := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	e := newEDSEnv(t, dir, Options{StoreRetention: 400 * 24 * time.Hour}, created)

	code, body := e.call(servicetest.AcctA, "eu-west-1", "ListEventDataStores", `{}`)
	var list struct {
		EventDataStores []edsJSON
		NextToken       *string
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil || len(list.EventDataStores) != 1 || list.NextToken != nil {
		t.Fatalf("ListEventDataStores: %d %s", code, body)
	}
	d := list.EventDataStores[0]
	id, ok := strings.CutPrefix(d.EventDataStoreArn, "arn:aws:cloudtrail:eu-west-1:"+servicetest.AcctA+":eventdatastore/")
	if !ok || !query.IsEventDataStoreID(id) {
		t.Fatalf("ARN %q", d.EventDataStoreArn)
	}
	if d.Name != "opentrail" || d.Status != "ENABLED" || !d.MultiRegionEnabled || d.OrganizationEnabled || !d.TerminationProtectionEnabled ||
		d.RetentionPeriod == nil || *d.RetentionPeriod != 400 || d.CreatedTimestamp != float64(created.Unix()) || d.UpdatedTimestamp != d.CreatedTimestamp ||
		len(d.AdvancedEventSelectors) != 1 || d.AdvancedEventSelectors[0].FieldSelectors[0].Field != "eventCategory" {
		t.Errorf("event data store: %s", body)
	}

	// By ARN (any region's) and by id, in upper case too.
	for _, ref := range []string{d.EventDataStoreArn, "arn:aws:cloudtrail:us-east-1:" + servicetest.AcctA + ":eventdatastore/" + id, id, strings.ToUpper(id)} {
		code, body := e.call(servicetest.AcctA, "eu-west-1", "GetEventDataStore", `{"EventDataStore":"`+ref+`"}`)
		var got edsJSON
		if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || got.EventDataStoreArn != d.EventDataStoreArn {
			t.Errorf("GetEventDataStore %s: %d %s", ref, code, body)
		}
	}
	// Another account sees its own ARN with the same id, and not ours.
	code, body = e.call(servicetest.AcctB, "us-west-2", "GetEventDataStore", `{"EventDataStore":"`+id+`"}`)
	if code != http.StatusOK || !strings.Contains(body, `"arn:aws:cloudtrail:us-west-2:`+servicetest.AcctB+`:eventdatastore/`+id+`"`) {
		t.Errorf("other account: %d %s", code, body)
	}
	code, body = e.call(servicetest.AcctB, "us-west-2", "GetEventDataStore", `{"EventDataStore":"`+d.EventDataStoreArn+`"}`)
	servicetest.WantError(t, code, body, 400, "EventDataStoreNotFoundException", "The event data store was not found.")

	for _, c := range []struct{ body, code, msg string }{
		{`{"EventDataStore":"00000000-0000-4000-8000-000000000000"}`, "EventDataStoreNotFoundException", "The event data store was not found."},
		{`{"EventDataStore":"arn:aws:cloudtrail:eu-west-1:` + servicetest.AcctA + `:eventdatastore/00000000-0000-4000-8000-000000000000"}`, "EventDataStoreNotFoundException", "The event data store was not found."},
		{`{}`, "InvalidParameterException", "EventDataStore is required."},
		{`{"EventDataStore":"a b"}`, "EventDataStoreARNInvalidException", `"a b" is not a valid event data store ARN or ID.`},
		{`{"EventDataStore":"arn:aws:cloudtrail:eu-west-1:` + servicetest.AcctA + `:trail/x"}`, "EventDataStoreARNInvalidException",
			`"arn:aws:cloudtrail:eu-west-1:` + servicetest.AcctA + `:trail/x" is not a valid event data store ARN.`},
	} {
		code, body := e.call(servicetest.AcctA, "eu-west-1", "GetEventDataStore", c.body)
		servicetest.WantError(t, code, body, 400, c.code, c.msg)
	}
	code, body = e.call(servicetest.AcctA, "eu-west-1", "ListEventDataStores", `{"MaxResults":0}`)
	servicetest.WantError(t, code, body, 400, "InvalidMaxResultsException", "MaxResults must be between 1 and 1000; got 0.")
	code, body = e.call(servicetest.AcctA, "eu-west-1", "ListEventDataStores", `{"NextToken":"abc"}`)
	servicetest.WantError(t, code, body, 400, "InvalidNextTokenException", "The NextToken is not valid: there is only one event data store, so there is no next page.")

	// The id and creation time survive a restart; retention forever leaves
	// RetentionPeriod out.
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	e = newEDSEnv(t, dir, Options{}, created.Add(48*time.Hour))
	defer e.st.Close()
	code, body = e.call(servicetest.AcctA, "eu-west-1", "GetEventDataStore", `{"EventDataStore":"`+id+`"}`)
	var again edsJSON
	if code != http.StatusOK || json.Unmarshal([]byte(body), &again) != nil || again.EventDataStoreArn != d.EventDataStoreArn ||
		again.CreatedTimestamp != d.CreatedTimestamp || again.RetentionPeriod != nil || strings.Contains(body, "RetentionPeriod") {
		t.Errorf("after reopening: %d %s", code, body)
	}
}

// A Service without the store has no event data store.
func TestEventDataStoreUnsupported(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{TokenKey: servicetest.TokenKey, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r := awsapi.NewRouter("cloudtrail", nil, quiet)
	svc.Register(r)
	code, body := servicetest.CallRouter(r, servicetest.AcctA, "eu-west-1", "ListEventDataStores", `{}`)
	servicetest.WantError(t, code, body, 400, "UnsupportedOperationException", "Event data stores are not available on this server.")
}
