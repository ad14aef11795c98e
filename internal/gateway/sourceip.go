package gateway

import (
	"net/http"

	"github.com/opentrail/opentrail/internal/capture"
)

// sourceIP is the client's address as capture.SourceIP reads it with the
// gateway's trusted proxy header and proxies.
func (g *Gateway) sourceIP(r *http.Request) string {
	return capture.SourceIP(r, g.o.TrustedProxyHeader, g.o.TrustedProxies)
}
