package gateway

import "testing"

// Helpers of this package's tests, for its external tests (which may
// import internal/testserver: this package's own tests may not).
var (
	ChunkedRequest = chunkedRequest
	Signed         = signed
	Do             = do
)

// Serve serves g for a test and returns its URL.
func Serve(t testing.TB, g *Gateway) string { return newServer(t, g).URL }

// NewTestRecorder is a Recorder in memory.
func NewTestRecorder() *recorder { return newRecorder() }
