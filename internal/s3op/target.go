package s3op

import (
	"net"
	"strings"
)

// Target returns the bucket and key a request names: from the Host and
// the path for virtual-hosted-style requests (see [VirtualHostBucket]),
// from the path alone (/bucket/key) otherwise. path is the decoded URL
// path.
func Target(host, path string) (bucket, key string) {
	if b, ok := VirtualHostBucket(host); ok {
		return b, strings.TrimPrefix(path, "/")
	}
	path = strings.TrimPrefix(path, "/")
	bucket, key, _ = strings.Cut(path, "/")
	return bucket, key
}

// VirtualHostBucket returns the bucket a virtual-hosted-style Host names,
// and false for a Host that names none (path-style requests). A server
// cannot know every name it is reached by, so it recognises the two forms
// clients use unconfigured:
//
//   - <bucket>.localhost (any port): SDKs given the endpoint
//     http://localhost:PORT address buckets so unless told to use path
//     style, and *.localhost resolves to the loopback address;
//   - <bucket>.s3.<domain> (the last "s3" label, as in
//     <bucket>.s3.us-east-1.amazonaws.com or
//     <bucket>.s3.localhost.localstack.cloud): S3's own endpoint form.
//
// Anything else — an IP address, localhost, s3.<domain>, any other name —
// is path style. Bucket names may contain dots; they are lower case.
func VirtualHostBucket(host string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" || net.ParseIP(host) != nil {
		return "", false
	}
	labels := strings.Split(host, ".")
	if labels[0] == "s3" || labels[0] == "" {
		return "", false
	}
	for i := len(labels) - 1; i >= 1; i-- {
		if labels[i] == "s3" {
			return strings.Join(labels[:i], "."), true
		}
	}
	if b, ok := strings.CutSuffix(host, ".localhost"); ok && b != "" {
		return b, true
	}
	return "", false
}
