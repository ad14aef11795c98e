package s3api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/opentrail/opentrail/internal/s3op"
)

// target returns the bucket and key r names: from the path for path-style
// requests (/bucket/key), from the Host and the path for virtual-hosted
// style ones (see VirtualHostBucket).
func target(r *http.Request) (bucket, key string) { return s3op.Target(r.Host, r.URL.Path) }

// VirtualHostBucket returns the bucket a virtual-hosted-style Host names,
// and false for a Host that names none (path-style requests); see
// [s3op.VirtualHostBucket], which it is.
func VirtualHostBucket(host string) (string, bool) { return s3op.VirtualHostBucket(host) }

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
	// iamAction is the IAM action an identity policy is asked about
	// (s3op's Op.Action).
	iamAction string
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

// route picks the operation a request names (s3op.Classify names it; this
// package decides how it is answered). It never returns nil.
func route(method, bucket, key string, q url.Values, hdr http.Header) *operation {
	c := s3op.Classify(method, bucket, key, q, hdr)
	switch {
	case c.Name == "" && c.Subresource != "":
		// A bucket sub-resource the method names no operation of.
		return bucketSubresource(c)
	case c.Name == "" && bucket == "" && method == http.MethodGet:
		// A bucket operation without a bucket: a virtual-hosted-style
		// request whose Host opentrail does not read buckets from.
		return opNoBucket
	case c.Name == "":
		level := "OBJECT"
		switch {
		case bucket == "":
			level = "SERVICE"
		case key == "":
			level = "BUCKET"
		}
		return unsupportedMethod(method, level)
	}
	if op, ok := served[c.Name]; ok {
		return op
	}
	switch {
	case c.Name == "ListParts":
		return &operation{name: c.Name, readOnly: true, data: true, iamAction: c.Action, run: (*request).noSuchUpload}
	case c.Name == "SelectObjectContent":
		return &operation{name: c.Name, readOnly: true, data: true, iamAction: c.Action, run: func(rq *request) error {
			if _, err := rq.bucketInfo(); err != nil {
				return err
			}
			return notImplemented("SelectObjectContent is not implemented by opentrail's built-in object store.")
		}}
	case c.Data && !c.ReadOnly:
		return deniedWrite(c)
	case key != "":
		sub := c.Subresource
		return &operation{name: c.Name, readOnly: true, data: true, iamAction: c.Action, run: func(rq *request) error {
			if _, err := rq.bucketInfo(); err != nil {
				return err
			}
			return notImplemented(fmt.Sprintf("The object %s sub-resource is not implemented: opentrail's built-in object store keeps no object %s.", sub, sub))
		}}
	}
	return bucketSubresource(c)
}

// served are the operations opentrail's object store serves, by name.
var served = map[string]*operation{}

func init() {
	for _, op := range []*operation{opListBuckets, opHeadBucket, opGetBucketLocation, opListObjects, opListObjectsV2,
		opGetObject, opHeadObject, opCreateBucket, opDeleteBucket, opGetBucketPolicy, opPutBucketPolicy, opDeleteBucketPolicy} {
		op.iamAction = s3op.Actions()[op.name]
		served[op.name] = op
	}
}

// opNoBucket answers a request to the root path that is not ListBuckets.
var opNoBucket = &operation{run: func(rq *request) error {
	return &s3Error{Code: "InvalidRequest", Status: http.StatusBadRequest, Message: "This request names no bucket: its path is / and opentrail " +
		"reads buckets from the Host only for <bucket>.localhost and <bucket>.s3.<domain>, not " + strconv.Quote(rq.r.Host) +
		". Use path-style addressing (http://host:port/<bucket>/<key>): addressing_style = path in the AWS CLI's s3 configuration, " +
		"UsePathStyle in aws-sdk-go-v2, Config(s3={\"addressing_style\": \"path\"}) in boto3."}
}}

// bucketSubresource is the NotImplemented operation of a bucket
// sub-resource opentrail does not keep.
func bucketSubresource(c s3op.Op) *operation {
	sub := c.Subresource
	return &operation{name: c.Name, readOnly: c.ReadOnly, iamAction: c.Action, run: func(rq *request) error {
		if _, err := rq.bucketInfo(); err != nil {
			return err
		}
		return notImplemented(fmt.Sprintf("The %s sub-resource is not implemented: opentrail's built-in object store keeps bucket policies, not bucket %s configuration.", sub, sub))
	}}
}

// deniedWrite is an operation that would write or delete objects: it is
// refused once the bucket is known to exist.
func deniedWrite(c s3op.Op) *operation {
	return &operation{name: c.Name, data: true, iamAction: c.Action, run: func(rq *request) error {
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
