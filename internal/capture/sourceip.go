package capture

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// SourceIP is the address recorded as a call's sourceIPAddress: the
// peer's, or, when the peer is one of trusted and header is set, the
// right-most entry of that header (X-Forwarded-For) that is not itself a
// trusted proxy, so that a client cannot choose its recorded address by
// sending the header itself. An entry that is no address (an address with
// a port or in brackets is one) stops the walk: nothing left of it is
// trusted, and the peer's address is recorded.
func SourceIP(r *http.Request, header string, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if header == "" || !isTrusted(host, trusted) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values(header) {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := hopAddr(hops[i])
		if !ok {
			return host
		}
		if h := a.String(); !isTrusted(h, trusted) || i == 0 {
			return h
		}
	}
	return host
}

// hopAddr reads one entry of a forwarding header: 203.0.113.7,
// 203.0.113.7:5000, 2001:db8::1, [2001:db8::1]:5000.
func hopAddr(h string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func isTrusted(ip string, trusted []netip.Prefix) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
