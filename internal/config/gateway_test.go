package config_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/config"
)

func TestGatewaySection(t *testing.T) {
	t.Setenv("OT_TEST_UPSTREAM_SECRET", "versity-secret")
	c, err := config.Load("testdata/gateway/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	g := c.Gateway
	if g.UpstreamSecret != "versity-secret" || !g.FailOpen || g.ReadOnly != "before" || !g.PassThroughUnknownKeys ||
		g.Lease != 30*time.Second || g.MaxBodyBytes != 1<<20 || len(g.Prefixes()) != 2 || g.Routes[0].Method != "POST" {
		t.Errorf("gateway: %+v", g)
	}
	d, _ := config.Load("testdata/gateway/defaults.yml")
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if g := d.Gateway; g.Addr != config.DefaultGatewayAddr || g.ReadOnly != "after" || g.Lease != time.Minute || g.MaxBodyBytes != 10<<20 {
		t.Errorf("defaults: %+v", g)
	}
	if config.Default().Gateway != nil {
		t.Error("the gateway runs only when configured")
	}
}

func TestGatewayValidation(t *testing.T) {
	want := map[string]string{
		"local-nonloopback": `gateway.addr "0.0.0.0:4748": without configured principals`,
		"no-upstream":       `gateway.upstream "": want the service's base URL`,
		"secret-unset":      `gateway.upstream_secret_env "OT_TEST_UNSET_VARIABLE": names an environment variable that is unset or empty`,
		"read-only":         `gateway.read_only "never": want after`,
		"bad-proxy":         `gateway.trusted_proxies[0] "10.0.0.0/33": want a CIDR`,
		"bad-route":         `gateway.routes[0].pattern "functions": want a path pattern starting with /`,
		"short-lease":       `gateway.lease "1s": must be between 3s and 1h`,
		"bad-account":       `gateway.account "12345": must be a 12-digit account id`,
		"plain-nonloopback": `gateway.addr "0.0.0.0:4749": principals are configured and the gateway's address is not loopback`,
	}
	files, _ := filepath.Glob("testdata/gateway/*.yml")
	n := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yml")
		w, ok := want[name]
		if !ok {
			continue
		}
		n++
		c, err := config.Load(f)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %v, want %q", name, err, w)
		}
	}
	if n != len(want) {
		t.Errorf("%d bad fixtures found, %d expected", n, len(want))
	}
}
