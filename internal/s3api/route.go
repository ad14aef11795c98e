package s3api

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// target returns the bucket and key r names: from the path for path-style
// requests (/bucket/key), from the Host and the path for virtual-hosted
// style ones (see VirtualHostBucket).
func target(r *http.Request) (bucket, key string) {
	if b, ok := VirtualHostBucket(r.Host); ok {
		return b, strings.TrimPrefix(r.URL.Path, "/")
	}
	return splitPath(r.URL.Path)
}

// VirtualHostBucket returns the bucket a virtual-hosted-style Host names,
// and false for a Host that names none (path-style requests). opentrail
// cannot know every name it is reached by, so it recognises the two forms
// clients reach it with unconfigured:
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

// operation is one S3 operation as this package serves it.
type operation struct {
	// name is the CloudTrail eventName; empty for requests that name no
	// operation (they are answered but not recorded).
	name     string
	readOnly bool
	// data marks object-level operations, which CloudTrail records as
	// data events rather than management events.
	data bool
	// action is the IAM action a bucket policy grants or denies; empty
	// for operations no bucket policy governs.
	action string
	// crossAccount operations may be granted to other accounts by the
	// bucket policy; the rest are the owner's alone.
	crossAccount bool
	// denyExempt operations ignore the policy's Deny statements when the
	// owner calls them, so that the owner can always repair its policy.
	denyExempt bool
	run        func(*request) error
}

// Read-only operations other accounts may be granted.
var (
	opListBuckets       = &operation{name: "ListBuckets", readOnly: true, run: (*request).listBuckets}
	opHeadBucket        = &operation{name: "HeadBucket", readOnly: true, action: "s3:ListBucket", crossAccount: true, run: (*request).headBucket}
	opGetBucketLocation = &operation{name: "GetBucketLocation", readOnly: true, action: "s3:GetBucketLocation", crossAccount: true, run: (*request).getBucketLocation}
	opListObjects       = &operation{name: "ListObjects", readOnly: true, action: "s3:ListBucket", crossAccount: true, run: (*request).listObjectsV1}
	opListObjectsV2     = &operation{name: "ListObjectsV2", readOnly: true, action: "s3:ListBucket", crossAccount: true, run: (*request).listObjectsV2}
	opGetObject         = &operation{name: "GetObject", readOnly: true, data: true, action: "s3:GetObject", crossAccount: true, run: (*request).getObject}
	opHeadObject        = &operation{name: "HeadObject", readOnly: true, data: true, action: "s3:GetObject", crossAccount: true, run: (*request).getObject}
)

// The owner's bucket operations.
var (
	opCreateBucket       = &operation{name: "CreateBucket", run: (*request).createBucket}
	opDeleteBucket       = &operation{name: "DeleteBucket", action: "s3:DeleteBucket", run: (*request).deleteBucket}
	opGetBucketPolicy    = &operation{name: "GetBucketPolicy", readOnly: true, action: "s3:GetBucketPolicy", denyExempt: true, run: (*request).getBucketPolicy}
	opPutBucketPolicy    = &operation{name: "PutBucketPolicy", action: "s3:PutBucketPolicy", denyExempt: true, run: (*request).putBucketPolicy}
	opDeleteBucketPolicy = &operation{name: "DeleteBucketPolicy", action: "s3:DeleteBucketPolicy", denyExempt: true, run: (*request).deleteBucketPolicy}
)

// bucketSubresources names, for each bucket sub-resource opentrail does
// not keep, the operations of GET, PUT and DELETE on it.
var bucketSubresources = []struct {
	sub   string
	names [3]string
}{
	{"abac", [3]string{"GetBucketAbac", "PutBucketAbac", ""}},
	{"accelerate", [3]string{"GetBucketAccelerateConfiguration", "PutBucketAccelerateConfiguration", ""}},
	{"acl", [3]string{"GetBucketAcl", "PutBucketAcl", ""}},
	{"analytics", [3]string{"GetBucketAnalyticsConfiguration", "PutBucketAnalyticsConfiguration", "DeleteBucketAnalyticsConfiguration"}},
	{"cors", [3]string{"GetBucketCors", "PutBucketCors", "DeleteBucketCors"}},
	{"encryption", [3]string{"GetBucketEncryption", "PutBucketEncryption", "DeleteBucketEncryption"}},
	{"intelligent-tiering", [3]string{"GetBucketIntelligentTieringConfiguration", "PutBucketIntelligentTieringConfiguration", "DeleteBucketIntelligentTieringConfiguration"}},
	{"inventory", [3]string{"GetBucketInventoryConfiguration", "PutBucketInventoryConfiguration", "DeleteBucketInventoryConfiguration"}},
	{"lifecycle", [3]string{"GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration", "DeleteBucketLifecycle"}},
	{"logging", [3]string{"GetBucketLogging", "PutBucketLogging", ""}},
	{"metadataConfiguration", [3]string{"GetBucketMetadataConfiguration", "", "DeleteBucketMetadataConfiguration"}},
	{"metadataTable", [3]string{"GetBucketMetadataTableConfiguration", "", "DeleteBucketMetadataTableConfiguration"}},
	{"metrics", [3]string{"GetBucketMetricsConfiguration", "PutBucketMetricsConfiguration", "DeleteBucketMetricsConfiguration"}},
	{"notification", [3]string{"GetBucketNotificationConfiguration", "PutBucketNotificationConfiguration", ""}},
	{"object-lock", [3]string{"GetObjectLockConfiguration", "PutObjectLockConfiguration", ""}},
	{"ownershipControls", [3]string{"GetBucketOwnershipControls", "PutBucketOwnershipControls", "DeleteBucketOwnershipControls"}},
	{"policyStatus", [3]string{"GetBucketPolicyStatus", "", ""}},
	{"publicAccessBlock", [3]string{"GetPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock"}},
	{"replication", [3]string{"GetBucketReplication", "PutBucketReplication", "DeleteBucketReplication"}},
	{"requestPayment", [3]string{"GetBucketRequestPayment", "PutBucketRequestPayment", ""}},
	{"session", [3]string{"CreateSession", "", ""}},
	{"tagging", [3]string{"GetBucketTagging", "PutBucketTagging", "DeleteBucketTagging"}},
	{"uploads", [3]string{"ListMultipartUploads", "", ""}},
	{"versioning", [3]string{"GetBucketVersioning", "PutBucketVersioning", ""}},
	{"versions", [3]string{"ListObjectVersions", "", ""}},
	{"website", [3]string{"GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"}},
}

// objectReadSubresources are object sub-resources that read something
// opentrail does not keep.
var objectReadSubresources = []struct{ sub, name string }{
	{"acl", "GetObjectAcl"},
	{"annotation", "GetObjectAnnotation"},
	{"attributes", "GetObjectAttributes"},
	{"legal-hold", "GetObjectLegalHold"},
	{"retention", "GetObjectRetention"},
	{"tagging", "GetObjectTagging"},
	{"torrent", "GetObjectTorrent"},
}

// objectWriteSubresources are the object sub-resources of PUT.
var objectWriteSubresources = []struct{ sub, name string }{
	{"acl", "PutObjectAcl"},
	{"tagging", "PutObjectTagging"},
	{"retention", "PutObjectRetention"},
	{"legal-hold", "PutObjectLegalHold"},
	{"renameObject", "RenameObject"},
	{"annotation", "PutObjectAnnotation"},
	{"encryption", "UpdateObjectEncryption"},
}

// route picks the operation a request names. It never returns nil.
func route(method, bucket, key string, q url.Values, hdr http.Header) *operation {
	switch {
	case bucket == "":
		if method != http.MethodGet {
			return unsupportedMethod(method, "SERVICE")
		}
		if listBucketsQuery(q) {
			return opListBuckets
		}
		// A bucket operation without a bucket: a virtual-hosted-style
		// request whose Host opentrail does not read buckets from.
		return opNoBucket
	case key == "":
		return routeBucket(method, q)
	}
	return routeObject(method, q, hdr)
}

// listBucketsQuery reports whether q holds only ListBuckets' parameters.
func listBucketsQuery(q url.Values) bool {
	for k := range q {
		switch k {
		case "max-buckets", "continuation-token", "prefix", "bucket-region":
		case "x-id":
			if q.Get(k) != "ListBuckets" {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// opNoBucket answers a request to the root path that is not ListBuckets.
var opNoBucket = &operation{run: func(rq *request) error {
	return &s3Error{Code: "InvalidRequest", Status: http.StatusBadRequest, Message: "This request names no bucket: its path is / and opentrail " +
		"reads buckets from the Host only for <bucket>.localhost and <bucket>.s3.<domain>, not " + strconv.Quote(rq.r.Host) +
		". Use path-style addressing (http://host:port/<bucket>/<key>): addressing_style = path in the AWS CLI's s3 configuration, " +
		"UsePathStyle in aws-sdk-go-v2, Config(s3={\"addressing_style\": \"path\"}) in boto3."}
}}

func routeBucket(method string, q url.Values) *operation {
	switch method {
	case http.MethodGet:
		switch {
		case q.Has("location"):
			return opGetBucketLocation
		case q.Has("policy"):
			return opGetBucketPolicy
		}
		if op := bucketSubresource(q, 0); op != nil {
			return op
		}
		if q.Get("list-type") == "2" {
			return opListObjectsV2
		}
		return opListObjects
	case http.MethodHead:
		return opHeadBucket
	case http.MethodPut:
		if q.Has("policy") {
			return opPutBucketPolicy
		}
		if op := bucketSubresource(q, 1); op != nil {
			return op
		}
		return opCreateBucket
	case http.MethodDelete:
		if q.Has("policy") {
			return opDeleteBucketPolicy
		}
		if op := bucketSubresource(q, 2); op != nil {
			return op
		}
		return opDeleteBucket
	case http.MethodPost:
		if q.Has("delete") {
			return deniedWrite("DeleteObjects")
		}
		if op := bucketSubresource(q, 1); op != nil {
			return op
		}
		return deniedWrite("PostObject")
	}
	return unsupportedMethod(method, "BUCKET")
}

// bucketSubresource returns the NotImplemented operation for the first
// unsupported sub-resource in q, for GET (0), PUT (1) or DELETE (2).
func bucketSubresource(q url.Values, verb int) *operation {
	for _, br := range bucketSubresources {
		sub := br.sub
		if !q.Has(sub) {
			continue
		}
		name := br.names[verb]
		return &operation{name: name, readOnly: verb == 0, run: func(rq *request) error {
			if _, err := rq.bucketInfo(); err != nil {
				return err
			}
			return notImplemented(fmt.Sprintf("The %s sub-resource is not implemented: opentrail's built-in object store keeps bucket policies, not bucket %s configuration.", sub, sub))
		}}
	}
	return nil
}

func routeObject(method string, q url.Values, hdr http.Header) *operation {
	switch method {
	case http.MethodGet:
		if q.Has("uploadId") {
			return &operation{name: "ListParts", readOnly: true, data: true, run: (*request).noSuchUpload}
		}
		for _, or := range objectReadSubresources {
			if sub := or.sub; q.Has(sub) {
				return &operation{name: or.name, readOnly: true, data: true, run: func(rq *request) error {
					if _, err := rq.bucketInfo(); err != nil {
						return err
					}
					return notImplemented(fmt.Sprintf("The object %s sub-resource is not implemented: opentrail's built-in object store keeps no object %s.", sub, sub))
				}}
			}
		}
		return opGetObject
	case http.MethodHead:
		return opHeadObject
	case http.MethodPut:
		copySource := hdr.Get("x-amz-copy-source") != ""
		switch {
		case q.Has("uploadId") && copySource:
			return deniedWrite("UploadPartCopy")
		case q.Has("uploadId"):
			return deniedWrite("UploadPart")
		}
		for _, ow := range objectWriteSubresources {
			if q.Has(ow.sub) {
				return deniedWrite(ow.name)
			}
		}
		if copySource {
			return deniedWrite("CopyObject")
		}
		return deniedWrite("PutObject")
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return deniedWrite("CreateMultipartUpload")
		case q.Has("uploadId"):
			return deniedWrite("CompleteMultipartUpload")
		case q.Has("restore"):
			return deniedWrite("RestoreObject")
		case q.Has("select"):
			return &operation{name: "SelectObjectContent", readOnly: true, data: true, run: func(rq *request) error {
				if _, err := rq.bucketInfo(); err != nil {
					return err
				}
				return notImplemented("SelectObjectContent is not implemented by opentrail's built-in object store.")
			}}
		}
		return deniedWrite("PostObject")
	case http.MethodDelete:
		switch {
		case q.Has("uploadId"):
			return deniedWrite("AbortMultipartUpload")
		case q.Has("tagging"):
			return deniedWrite("DeleteObjectTagging")
		}
		return deniedWrite("DeleteObject")
	}
	return unsupportedMethod(method, "OBJECT")
}

// deniedWrite is an operation that would write or delete objects: it is
// refused once the bucket is known to exist.
func deniedWrite(name string) *operation {
	return &operation{name: name, data: true, run: func(rq *request) error {
		if _, err := rq.bucketInfo(); err != nil {
			return err
		}
		return writeDenied()
	}}
}

func unsupportedMethod(method, resourceType string) *operation {
	return &operation{run: func(*request) error { return methodNotAllowed(method, resourceType) }}
}

func (rq *request) noSuchUpload() error {
	if _, err := rq.bucketInfo(); err != nil {
		return err
	}
	return &s3Error{Code: "NoSuchUpload", Status: http.StatusNotFound, Key: rq.key,
		Message: "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."}
}
