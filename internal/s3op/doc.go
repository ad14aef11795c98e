// Package s3op names the S3 operation a REST request asks for, as
// CloudTrail records it: its eventName, whether it is read-only, whether
// it is a data event (object-level) or a management event, and the IAM
// action AWS authorizes it as. It reads only the method, the bucket and
// key, the query string and the request headers: it is pure, and shared by
// opentrail's own S3 API (internal/s3api) and the capture gateway
// (internal/capture), so both name every call alike.
//
// Any package may import it; it imports nothing of opentrail's.
package s3op
