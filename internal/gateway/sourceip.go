package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// sourceIP is the client's address: the peer's, or, when the peer is a
// trusted proxy, the address the trusted header names — the right-most
// entry of the header that is not itself a trusted proxy, so that a client
// cannot choose its recorded address by sending the header itself.
func (g *Gateway) sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if g.o.TrustedProxyHeader == "" || !g.trusted(host) {
		return host
	}
	vals := r.Header.Values(g.o.TrustedProxyHeader)
	var hops []string
	for _, v := range vals {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.Trim(hops[i], "[]")
		if a, err := netip.ParseAddr(h); err != nil {
			if ap, err := netip.ParseAddrPort(hops[i]); err == nil {
				h = ap.Addr().String()
			} else {
				return host // not an address: trust nothing further
			}
		} else {
			h = a.Unmap().String()
		}
		if !g.trusted(h) || i == 0 {
			return h
		}
	}
	return host
}

func (g *Gateway) trusted(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range g.o.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
