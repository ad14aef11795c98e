package s3api

import "github.com/opentrail/opentrail/internal/s3op"

// OperationRequest is one request that names an S3 operation: its
// method, whether its path names a bucket and a key, its query string
// and whether it carries x-amz-copy-source.
type OperationRequest = s3op.Request

// OperationRequests lists every operation the handler routes, each with
// the first request that names it (see [s3op.Requests]): how to reach
// each operation, for the tests that must reach them all.
func OperationRequests() []OperationRequest { return s3op.Requests() }
