package s3op

import (
	"net/http"
	"net/url"
)

// Request is one request that names an S3 operation: its method, whether
// its path names a bucket and a key, its query string and whether it
// carries x-amz-copy-source.
type Request struct {
	Name       string
	ReadOnly   bool
	Method     string
	Bucket     bool
	Key        bool
	Query      string
	CopySource bool
}

// Requests lists every operation [Classify] names, each with the first
// request (over every method, target, sub-resource and copy header it
// tells apart, in a fixed order) that names it: how to reach each
// operation, for the tests that must reach them all.
func Requests() []Request {
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
	var out []Request
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
					op := Classify(method, target[0], target[1], v, hdr)
					if op.Name == "" || seen[op.Name] {
						continue
					}
					seen[op.Name] = true
					out = append(out, Request{Name: op.Name, ReadOnly: op.ReadOnly, Method: method,
						Bucket: target[0] != "", Key: target[1] != "", Query: q, CopySource: copySource})
				}
			}
		}
	}
	return out
}
