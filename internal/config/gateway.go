package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
)

// Gateway configures the capture gateway (docs/capture.md): a proxy in
// front of an AWS-protocol service that records every call through it.
// serve runs it beside the server when the section is present.
type Gateway struct {
	// Addr is the host:port the gateway listens on.
	Addr string `yaml:"addr"`
	// Upstream is the service's base URL, e.g. http://127.0.0.1:7070.
	Upstream string `yaml:"upstream"`
	// UpstreamAccessKeyID and the secret in the environment variable
	// UpstreamSecretEnv sign what is forwarded. Without them, requests
	// are forwarded as clients signed them.
	UpstreamAccessKeyID string `yaml:"upstream_access_key_id"`
	UpstreamSecretEnv   string `yaml:"upstream_secret_env"`
	// UpstreamSecret is read from UpstreamSecretEnv by Load.
	UpstreamSecret string `yaml:"-"`
	// FailOpen forwards mutating calls whose record cannot be stored, and
	// records the gap later; the default refuses them with 503.
	FailOpen bool `yaml:"fail_open"`
	// ReadOnly is when read-only calls are recorded: after (the default)
	// or before they are forwarded, like mutating calls.
	ReadOnly string `yaml:"read_only"`
	// PassThroughUnknownKeys forwards requests signed with keys the
	// principals do not hold, unverified, recorded with type Unknown.
	PassThroughUnknownKeys bool `yaml:"pass_through_unknown_keys"`
	// TrustedProxyHeader (e.g. X-Forwarded-For) names the client's address
	// when the peer is in TrustedProxies (CIDRs or addresses).
	TrustedProxyHeader string   `yaml:"trusted_proxy_header"`
	TrustedProxies     []string `yaml:"trusted_proxies"`
	// Account is the account records of calls without a verified
	// principal are stored under (pass_through_unknown_keys, or the
	// upstream's own key when no principal holds it); default the
	// organisation's management account.
	Account string `yaml:"account"`
	// Redact names request parameters recorded as hidden, beyond the
	// built-in list.
	Redact []string `yaml:"redact"`
	// Routes name REST-JSON operations by method and path pattern.
	Routes []GatewayRoute `yaml:"routes"`
	// Lease is how long an intent lives unrenewed (default 60s).
	Lease time.Duration `yaml:"lease"`
	// MaxBodyBytes bounds the JSON and query bodies read to record their
	// input (default 10 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// GatewayRoute names a REST-JSON operation.
type GatewayRoute struct {
	Service  string `yaml:"service"`
	Method   string `yaml:"method"`
	Pattern  string `yaml:"pattern"`
	Name     string `yaml:"name"`
	ReadOnly bool   `yaml:"read_only"`
}

// DefaultGatewayAddr is where the gateway listens without gateway.addr.
const DefaultGatewayAddr = "127.0.0.1:4749"

// LoadSecret reads the upstream secret from UpstreamSecretEnv.
func (g *Gateway) LoadSecret() {
	if g.UpstreamSecret == "" && g.UpstreamSecretEnv != "" {
		g.UpstreamSecret = os.Getenv(g.UpstreamSecretEnv)
	}
}

// Prefixes returns TrustedProxies as prefixes (Validate has checked them).
func (g *Gateway) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range g.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out
}

// Validate checks the section and fills its defaults. localMode is the
// server's: in local mode the gateway, which accepts the secret "test",
// binds loopback only.
func (g *Gateway) Validate(localMode bool) error {
	if g.Addr == "" {
		g.Addr = DefaultGatewayAddr
	}
	host, port, err := net.SplitHostPort(g.Addr)
	if err != nil || port == "" {
		return &ValidationError{"gateway.addr", g.Addr, "want host:port, e.g. " + DefaultGatewayAddr}
	}
	if localMode && !isLoopback(host) {
		return &ValidationError{"gateway.addr", g.Addr, "without configured principals the gateway accepts the well-known secret \"test\" and so binds loopback only; configure principals or listen on 127.0.0.1"}
	}
	u, err := url.Parse(g.Upstream)
	if g.Upstream == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return &ValidationError{"gateway.upstream", g.Upstream, "want the service's base URL, e.g. http://127.0.0.1:7070"}
	}
	g.LoadSecret()
	switch {
	case g.UpstreamAccessKeyID != "" && g.UpstreamSecretEnv == "":
		return &ValidationError{"gateway.upstream_secret_env", "", "name the environment variable holding the secret of gateway.upstream_access_key_id"}
	case g.UpstreamAccessKeyID != "" && g.UpstreamSecret == "":
		return &ValidationError{"gateway.upstream_secret_env", g.UpstreamSecretEnv, "names an environment variable that is unset or empty"}
	case g.UpstreamAccessKeyID == "" && g.UpstreamSecretEnv != "":
		return &ValidationError{"gateway.upstream_access_key_id", "", "is required with gateway.upstream_secret_env"}
	}
	switch g.ReadOnly {
	case "":
		g.ReadOnly = "after"
	case "after", "before":
	default:
		return &ValidationError{"gateway.read_only", g.ReadOnly, "want after (read-only calls recorded once answered) or before (recorded before they are forwarded, like mutating calls)"}
	}
	if g.Account != "" && !accountRE.MatchString(g.Account) {
		return &ValidationError{"gateway.account", g.Account, "must be a 12-digit account id"}
	}
	if g.TrustedProxyHeader == "" && len(g.TrustedProxies) > 0 {
		return &ValidationError{"gateway.trusted_proxy_header", "", "name the header (e.g. X-Forwarded-For) the trusted proxies set"}
	}
	for i, s := range g.TrustedProxies {
		if _, err := netip.ParsePrefix(s); err != nil {
			if _, err := netip.ParseAddr(s); err != nil {
				return &ValidationError{fmt.Sprintf("gateway.trusted_proxies[%d]", i), s, "want a CIDR (10.0.0.0/8) or an address"}
			}
		}
	}
	for i, r := range g.Routes {
		f := func(name string) string { return fmt.Sprintf("gateway.routes[%d].%s", i, name) }
		switch {
		case r.Service == "":
			return &ValidationError{f("service"), "", "is required: the SigV4 signing name of the service (lambda, execute-api, ...)"}
		case r.Method == "":
			return &ValidationError{f("method"), "", "is required (GET, POST, ...)"}
		case !strings.HasPrefix(r.Pattern, "/"):
			return &ValidationError{f("pattern"), r.Pattern, "want a path pattern starting with /, e.g. /2015-03-31/functions/{FunctionName}"}
		case r.Name == "":
			return &ValidationError{f("name"), "", "is required: the operation's name, recorded as eventName"}
		}
		g.Routes[i].Method = strings.ToUpper(r.Method)
	}
	if g.Lease == 0 {
		g.Lease = time.Minute
	}
	if g.Lease < 3*time.Second || g.Lease > time.Hour {
		return &ValidationError{"gateway.lease", g.Lease.String(), "must be between 3s and 1h"}
	}
	if g.MaxBodyBytes == 0 {
		g.MaxBodyBytes = 10 << 20
	}
	if g.MaxBodyBytes < 1<<10 || g.MaxBodyBytes > 1<<30 {
		return &ValidationError{"gateway.max_body_bytes", fmt.Sprint(g.MaxBodyBytes), "must be between 1 KiB and 1 GiB"}
	}
	return nil
}

// validateGatewayTLS refuses what the server's own address refuses: with
// principals configured, a gateway on a non-loopback address serves HTTPS
// (the tls: section; serve shares its certificate, opentrail gateway takes
// --tls-cert/--tls-key) unless tls.allow_plain_http says a TLS-terminating
// proxy is in front.
func (c *Config) validateGatewayTLS() error {
	host, _, _ := net.SplitHostPort(c.Gateway.Addr)
	if c.LocalMode() || isLoopback(host) || c.TLS.Enabled() || c.TLS.AllowPlainHTTP {
		return nil
	}
	return &ValidationError{"gateway.addr", c.Gateway.Addr, "principals are configured and the gateway's address is not loopback, so calls, " +
		"signatures and their records would cross the network in clear text; configure tls (tls.cert_file and tls.key_file; " +
		"opentrail gateway --tls-cert/--tls-key), or, when a TLS-terminating proxy is in front, set tls.allow_plain_http: true; see docs/tls.md"}
}
