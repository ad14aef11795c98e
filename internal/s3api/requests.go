package s3api

import (
	"net/http"
	"net/url"
)

// OperationRequest is one request that names an S3 operation: its
// method, whether its path names a bucket and a key, its query string
// and whether it carries x-amz-copy-source.
type OperationRequest struct {
	Name       string
	ReadOnly   bool
	Method     string
	Bucket     bool
	Key        bool
	Query      string
	CopySource bool
}

// OperationRequests lists every operation the handler routes, each with
// the first request (over every method, target, sub-resource and copy
// header the router tells apart, in a fixed order) that names it: how to
// reach each operation, for the tests that must reach them all.
func OperationRequests() []OperationRequest {
	queries := []string{"", "location", "policy", "list-type=2", "uploads", "uploadId=u", "partNumber=1&uploadId=u",
		"delete", "restore", "select", "x-id=ListBuckets"}
	for _, br := range bucketSubresources {
		queries = append(queries, br.sub)
	}
	for _, s := range objectReadSubresources {
		queries = append(queries, s.sub)
	}
	for _, s := range objectWriteSubresources {
		queries = append(queries, s.sub)
	}
	var out []OperationRequest
	seen := map[string]bool{}
	for _, method := range []string{"GET", "HEAD", "PUT", "POST", "DELETE"} {
		for _, target := range [][2]string{{"", ""}, {"b", ""}, {"b", "k"}} {
			for _, q := range queries {
				for _, copySource := range []bool{false, true} {
					v, _ := url.ParseQuery(q)
					hdr := http.Header{}
					if copySource {
						hdr.Set("x-amz-copy-source", "b/x")
					}
					op := route(method, target[0], target[1], v, hdr)
					if op.name == "" || seen[op.name] {
						continue
					}
					seen[op.name] = true
					out = append(out, OperationRequest{Name: op.name, ReadOnly: op.readOnly, Method: method,
						Bucket: target[0] != "", Key: target[1] != "", Query: q, CopySource: copySource})
				}
			}
		}
	}
	return out
}
