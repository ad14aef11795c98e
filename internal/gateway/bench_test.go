package gateway

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkSmallCalls measures what the gateway adds to a small S3 call
// (verification, identification, re-signing, the record; the Recorder is
// in memory, so no commit is counted): the same signed GET and PUT sent
// directly to the upstream and through the gateway.
func BenchmarkSmallCalls(b *testing.B) {
	up := newUpstream(b)
	up.objects["/bucket/k"] = []byte("small object")
	g, err := New(Options{Upstream: up.URL, UpstreamAccessKeyID: upKey, UpstreamSecret: upSecret, Directory: testDirectory(), Recorder: newDiscardRecorder()})
	if err != nil {
		b.Fatal(err)
	}
	gw := newServer(b, g)
	for _, target := range []struct {
		name, url, akid, secret string
	}{{"direct", up.URL, upKey, upSecret}, {"gateway", gw.URL, "test", "test"}} {
		for _, method := range []string{"GET", "PUT"} {
			b.Run(target.name+"/"+method, func(b *testing.B) {
				for b.Loop() {
					var body io.Reader
					if method == "PUT" {
						body = strings.NewReader("small object")
					}
					r := signed(b, method, target.url+"/bucket/k", "s3", body, "", nil, target.akid, target.secret)
					resp, err := http.DefaultClient.Do(r)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Fatalf("%s %s: %d", target.name, method, resp.StatusCode)
					}
				}
			})
		}
	}
}
