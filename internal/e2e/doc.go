// Package e2e holds opentrail's end-to-end tests: they start the real
// server as a separate process (the test binary re-executed as
// `opentrail serve`), drive it over HTTP with aws-sdk-go-v2, the AWS CLI
// and signed raw requests, and kill it with SIGKILL to test durability.
// The package has no non-test code.
package e2e
