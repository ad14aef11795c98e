package gateway

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestSourceIP(t *testing.T) {
	g := &Gateway{o: Options{TrustedProxyHeader: "X-Forwarded-For",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	cases := []struct {
		peer, xff, want string
	}{
		{"192.0.2.7:5000", "", "192.0.2.7"},
		{"192.0.2.7:5000", "203.0.113.9", "192.0.2.7"},           // not from a trusted proxy: header ignored
		{"10.1.2.3:5000", "203.0.113.9", "203.0.113.9"},          // from the proxy
		{"10.1.2.3:5000", "1.1.1.1, 203.0.113.9", "203.0.113.9"}, // the client cannot choose: right-most untrusted
		{"10.1.2.3:5000", "203.0.113.9, 10.9.9.9", "203.0.113.9"},
		{"10.1.2.3:5000", "10.9.9.9", "10.9.9.9"},
		{"10.1.2.3:5000", "junk", "10.1.2.3"},
		{"[2001:db8::1]:443", "", "2001:db8::1"},
	}
	for _, tc := range cases {
		r, _ := http.NewRequest("GET", "http://gw/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := g.sourceIP(r); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}
