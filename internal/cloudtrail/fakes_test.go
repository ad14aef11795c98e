package cloudtrail

import (
	"log/slog"
	"testing"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/cloudtraildata"
	"github.com/opentrail/opentrail/internal/servicetest"
)

// env is a Service over fakes with a router around it.
type env struct {
	t     *testing.T
	st    *servicetest.Store
	ing   *servicetest.Ingester
	clock *clock.Fake
	svc   *Service
	json  *awsapi.Router
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	st := servicetest.NewStore()
	e := &env{t: t, st: st, ing: &servicetest.Ingester{Store: st, Source: cloudtraildata.SourcePutAuditEvents}, clock: clock.NewFake(servicetest.Now)}
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{Store: st, TokenKey: servicetest.TokenKey, Options: opts, Now: e.clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.json = awsapi.NewRouter("cloudtrail", nil, quiet)
	svc.Register(e.json)
	return e
}

// call sends a JSON 1.1 request for op as account/region and returns the
// status and body.
func (e *env) call(account, region, op, body string) (int, string) {
	e.t.Helper()
	return servicetest.CallRouter(e.json, account, region, op, body)
}

func ptr[T any](v T) *T { return &v }
