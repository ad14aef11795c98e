package gateway

// Helpers of this package's tests, for its external tests (which may
// import internal/testserver: this package's own tests may not).
var (
	ChunkedRequest = chunkedRequest
	Signed         = signed
	Do             = do
	Serve          = newServer
)

// NewTestRecorder is a Recorder in memory.
func NewTestRecorder() *recorder { return newRecorder() }
