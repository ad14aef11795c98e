package native

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/cloudtrail"
	"github.com/opentrail/opentrail/internal/servicetest"
)

// env is the native API over fakes, with the CloudTrail service beside it
// (trails, and LookupEvents to compare with) and a router around that.
type env struct {
	t     *testing.T
	st    *servicetest.Store
	ing   *servicetest.Ingester
	clock *clock.Fake
	ct    *cloudtrail.Service
	nat   *Native
	json  *awsapi.Router
	rest  *awsapi.PathRouter // the native API
}

func newEnv(t *testing.T, opts cloudtrail.Options) *env {
	t.Helper()
	return newEnvWith(t, opts, nil)
}

// newEnvWith is newEnv with delivery d (nil for none) behind both.
func newEnvWith(t *testing.T, opts cloudtrail.Options, d *servicetest.Delivery) *env {
	t.Helper()
	st := servicetest.NewStore()
	e := &env{t: t, st: st, ing: &servicetest.Ingester{Store: st}, clock: clock.NewFake(servicetest.Now)}
	quiet := slog.New(slog.DiscardHandler)
	cfg := cloudtrail.Config{Store: st, TokenKey: servicetest.TokenKey, Options: opts, Now: e.clock.Now, Logger: quiet}
	ncfg := Config{Store: st, TokenKey: servicetest.TokenKey, Logger: quiet}
	if d != nil {
		cfg.Delivery, ncfg.Delivery = d, d
		cfg.Buckets = servicetest.Buckets{"audit-logs": nil}
	}
	ct, err := cloudtrail.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nat, err := New(ncfg)
	if err != nil {
		t.Fatal(err)
	}
	e.ct, e.nat = ct, nat
	e.json = awsapi.NewRouter("cloudtrail", nil, quiet)
	ct.Register(e.json)
	e.rest = awsapi.NewPathRouter(Service, nil, quiet, NotFound("/v1/s3-notifications"))
	nat.Register(e.rest)
	return e
}

// call sends a JSON 1.1 request for op as account/region and returns the
// status and body.
func (e *env) call(account, region, op, body string) (int, string) {
	e.t.Helper()
	return servicetest.CallRouter(e.json, account, region, op, body)
}

func (e *env) lookupOK(account, region, body string) servicetest.LookupResp {
	e.t.Helper()
	status, b := e.call(account, region, "LookupEvents", body)
	return servicetest.DecodeLookup(e.t, status, b)
}

var errSecret = fmt.Errorf("secret internal detail")
