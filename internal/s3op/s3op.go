package s3op

import (
	"net/http"
	"net/url"
)

// Op is the S3 operation a request names.
type Op struct {
	// Name is the CloudTrail eventName (PutObject, ListObjectsV2, ...);
	// empty when the request names no operation (a method S3 does not
	// serve on the target, or the root path without ListBuckets' query).
	Name     string
	ReadOnly bool
	// Data marks object-level operations, which CloudTrail records as
	// data events (managementEvent false, eventCategory Data) rather than
	// management events.
	Data bool
	// Action is the IAM action AWS authorizes the operation as
	// (s3:ListBucket for ListObjectsV2, s3:PutObject for UploadPart, ...);
	// empty when Name is.
	Action string
	// Subresource is the query sub-resource that named the operation
	// (acl, tagging, uploads, ...); empty for none. It is set, with Name
	// empty, for a bucket sub-resource the method names no operation of.
	Subresource string
}

// Classify names the operation of an S3 REST request: its method, the
// bucket and key it targets (see [Target]; both empty for the service,
// key empty for a bucket), its query and its headers (only
// x-amz-copy-source is read). It never fails: a request that names no
// operation gets an Op with an empty Name.
func Classify(method, bucket, key string, q url.Values, h http.Header) Op {
	var op Op
	switch {
	case bucket == "":
		if method == http.MethodGet && listBucketsQuery(q) {
			op = Op{Name: "ListBuckets", ReadOnly: true}
		}
	case key == "":
		op = classifyBucket(method, q)
	default:
		op = classifyObject(method, q, h)
	}
	if op.Name != "" {
		op.Action = actions[op.Name]
	}
	return op
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

// bucketSubresources names, for each bucket sub-resource, the operations
// of GET, PUT and DELETE on it.
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

// objectReadSubresources are the object sub-resources of GET.
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

func classifyBucket(method string, q url.Values) Op {
	switch method {
	case http.MethodGet:
		switch {
		case q.Has("location"):
			return Op{Name: "GetBucketLocation", ReadOnly: true, Subresource: "location"}
		case q.Has("policy"):
			return Op{Name: "GetBucketPolicy", ReadOnly: true, Subresource: "policy"}
		}
		if op, ok := bucketSubresource(q, 0); ok {
			return op
		}
		if q.Get("list-type") == "2" {
			return Op{Name: "ListObjectsV2", ReadOnly: true}
		}
		return Op{Name: "ListObjects", ReadOnly: true}
	case http.MethodHead:
		return Op{Name: "HeadBucket", ReadOnly: true}
	case http.MethodPut:
		if q.Has("policy") {
			return Op{Name: "PutBucketPolicy", Subresource: "policy"}
		}
		if op, ok := bucketSubresource(q, 1); ok {
			return op
		}
		return Op{Name: "CreateBucket"}
	case http.MethodDelete:
		if q.Has("policy") {
			return Op{Name: "DeleteBucketPolicy", Subresource: "policy"}
		}
		if op, ok := bucketSubresource(q, 2); ok {
			return op
		}
		return Op{Name: "DeleteBucket"}
	case http.MethodPost:
		if q.Has("delete") {
			return Op{Name: "DeleteObjects", Data: true, Subresource: "delete"}
		}
		if op, ok := bucketSubresource(q, 1); ok {
			return op
		}
		return Op{Name: "PostObject", Data: true}
	}
	return Op{}
}

// bucketSubresource returns the operation of the first bucket
// sub-resource in q, for GET (0), PUT or POST (1) or DELETE (2).
func bucketSubresource(q url.Values, verb int) (Op, bool) {
	for _, br := range bucketSubresources {
		if q.Has(br.sub) {
			return Op{Name: br.names[verb], ReadOnly: verb == 0, Subresource: br.sub}, true
		}
	}
	return Op{}, false
}

func classifyObject(method string, q url.Values, h http.Header) Op {
	switch method {
	case http.MethodGet:
		if q.Has("uploadId") {
			return Op{Name: "ListParts", ReadOnly: true, Data: true}
		}
		for _, or := range objectReadSubresources {
			if q.Has(or.sub) {
				return Op{Name: or.name, ReadOnly: true, Data: true, Subresource: or.sub}
			}
		}
		return Op{Name: "GetObject", ReadOnly: true, Data: true}
	case http.MethodHead:
		return Op{Name: "HeadObject", ReadOnly: true, Data: true}
	case http.MethodPut:
		copySource := h.Get("x-amz-copy-source") != ""
		switch {
		case q.Has("uploadId") && copySource:
			return Op{Name: "UploadPartCopy", Data: true}
		case q.Has("uploadId"):
			return Op{Name: "UploadPart", Data: true}
		}
		for _, ow := range objectWriteSubresources {
			if q.Has(ow.sub) {
				return Op{Name: ow.name, Data: true, Subresource: ow.sub}
			}
		}
		if copySource {
			return Op{Name: "CopyObject", Data: true}
		}
		return Op{Name: "PutObject", Data: true}
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return Op{Name: "CreateMultipartUpload", Data: true, Subresource: "uploads"}
		case q.Has("uploadId"):
			return Op{Name: "CompleteMultipartUpload", Data: true}
		case q.Has("restore"):
			return Op{Name: "RestoreObject", Data: true, Subresource: "restore"}
		case q.Has("select"):
			return Op{Name: "SelectObjectContent", ReadOnly: true, Data: true, Subresource: "select"}
		}
		return Op{Name: "PostObject", Data: true}
	case http.MethodDelete:
		switch {
		case q.Has("uploadId"):
			return Op{Name: "AbortMultipartUpload", Data: true}
		case q.Has("tagging"):
			return Op{Name: "DeleteObjectTagging", Data: true, Subresource: "tagging"}
		}
		return Op{Name: "DeleteObject", Data: true}
	}
	return Op{}
}
