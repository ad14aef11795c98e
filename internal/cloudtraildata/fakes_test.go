package cloudtraildata

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/cloudtrail"
	"github.com/opentrail/opentrail/internal/servicetest"
)

// env is CloudTrail Data's Service over fakes, with the CloudTrail
// service beside it for the channel operations, and routers around both.
type env struct {
	t     *testing.T
	st    *servicetest.Store
	ing   *servicetest.Ingester
	clock *clock.Fake
	ct    *cloudtrail.Service
	svc   *Service
	json  *awsapi.Router
	rest  *awsapi.RESTRouter
}

func newEnv(t *testing.T, opts cloudtrail.Options) *env {
	t.Helper()
	st := servicetest.NewStore()
	e := &env{t: t, st: st, ing: &servicetest.Ingester{Store: st, Source: SourcePutAuditEvents}, clock: clock.NewFake(servicetest.Now)}
	quiet := slog.New(slog.DiscardHandler)
	ct, err := cloudtrail.New(cloudtrail.Config{Store: st, TokenKey: servicetest.TokenKey, Options: opts, Now: e.clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Channels: st, Ingester: e.ing, Status: ct, Now: e.clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e.ct, e.svc = ct, svc
	e.json = awsapi.NewRouter("cloudtrail", nil, quiet)
	ct.Register(e.json)
	e.rest = awsapi.NewRESTRouter("cloudtrail-data", nil, quiet)
	svc.Register(e.rest)
	return e
}

// call sends a JSON 1.1 request for op as account/region and returns the
// status and body.
func (e *env) call(account, region, op, body string) (int, string) {
	e.t.Helper()
	return servicetest.CallRouter(e.json, account, region, op, body)
}

// put sends PutAuditEvents as account/region.
func (e *env) put(account, region, query, body string) (int, string) {
	e.t.Helper()
	req := httptest.NewRequest("POST", "/PutAuditEvents?"+query, strings.NewReader(body))
	req = req.WithContext(servicetest.CallerContext(req.Context(), account, region))
	w := httptest.NewRecorder()
	e.rest.Handle(w, req, []byte(body))
	return w.Code, w.Body.String()
}

// createChannel creates the channel name as account/region and returns its ARN.
func (e *env) createChannel(account, region, name string) string {
	e.t.Helper()
	return servicetest.CreateChannel(e.t, e.json, account, region, name)
}

func (e *env) lookupOK(account, region, body string) servicetest.LookupResp {
	e.t.Helper()
	status, b := e.call(account, region, "LookupEvents", body)
	return servicetest.DecodeLookup(e.t, status, b)
}
