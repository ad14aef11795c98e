package s3api

import (
	"errors"
	"net/http"
	"sort"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// iamActions maps every operation the handler names (its eventName) to
// the IAM action AWS authorizes it as (the Service Authorization
// Reference's names: ListObjectsV2 is s3:ListBucket, HeadObject
// s3:GetObject, the multipart calls s3:PutObject, ...). The resource is
// the object arn:aws:s3:::B/K for requests naming a key, the bucket
// arn:aws:s3:::B otherwise, and "*" for ListBuckets. A name missing here
// fails TestEveryS3OperationIsMapped.
var iamActions = map[string]string{
	"ListBuckets":       "s3:ListAllMyBuckets",
	"HeadBucket":        "s3:ListBucket",
	"GetBucketLocation": "s3:GetBucketLocation",
	"ListObjects":       "s3:ListBucket",
	"ListObjectsV2":     "s3:ListBucket",
	"GetObject":         "s3:GetObject",
	"HeadObject":        "s3:GetObject",
	"CreateBucket":      "s3:CreateBucket",
	"DeleteBucket":      "s3:DeleteBucket",

	"GetBucketPolicy":    "s3:GetBucketPolicy",
	"PutBucketPolicy":    "s3:PutBucketPolicy",
	"DeleteBucketPolicy": "s3:DeleteBucketPolicy",

	"GetBucketAbac":                               "s3:GetBucketAbac",
	"PutBucketAbac":                               "s3:PutBucketAbac",
	"GetBucketAccelerateConfiguration":            "s3:GetAccelerateConfiguration",
	"PutBucketAccelerateConfiguration":            "s3:PutAccelerateConfiguration",
	"GetBucketAcl":                                "s3:GetBucketAcl",
	"PutBucketAcl":                                "s3:PutBucketAcl",
	"GetBucketAnalyticsConfiguration":             "s3:GetAnalyticsConfiguration",
	"PutBucketAnalyticsConfiguration":             "s3:PutAnalyticsConfiguration",
	"DeleteBucketAnalyticsConfiguration":          "s3:PutAnalyticsConfiguration",
	"GetBucketCors":                               "s3:GetBucketCORS",
	"PutBucketCors":                               "s3:PutBucketCORS",
	"DeleteBucketCors":                            "s3:PutBucketCORS",
	"GetBucketEncryption":                         "s3:GetEncryptionConfiguration",
	"PutBucketEncryption":                         "s3:PutEncryptionConfiguration",
	"DeleteBucketEncryption":                      "s3:PutEncryptionConfiguration",
	"GetBucketIntelligentTieringConfiguration":    "s3:GetIntelligentTieringConfiguration",
	"PutBucketIntelligentTieringConfiguration":    "s3:PutIntelligentTieringConfiguration",
	"DeleteBucketIntelligentTieringConfiguration": "s3:PutIntelligentTieringConfiguration",
	"GetBucketInventoryConfiguration":             "s3:GetInventoryConfiguration",
	"PutBucketInventoryConfiguration":             "s3:PutInventoryConfiguration",
	"DeleteBucketInventoryConfiguration":          "s3:PutInventoryConfiguration",
	"GetBucketLifecycleConfiguration":             "s3:GetLifecycleConfiguration",
	"PutBucketLifecycleConfiguration":             "s3:PutLifecycleConfiguration",
	"DeleteBucketLifecycle":                       "s3:PutLifecycleConfiguration",
	"GetBucketLogging":                            "s3:GetBucketLogging",
	"PutBucketLogging":                            "s3:PutBucketLogging",
	"GetBucketMetadataConfiguration":              "s3:GetBucketMetadataTableConfiguration",
	"DeleteBucketMetadataConfiguration":           "s3:DeleteBucketMetadataTableConfiguration",
	"GetBucketMetadataTableConfiguration":         "s3:GetBucketMetadataTableConfiguration",
	"DeleteBucketMetadataTableConfiguration":      "s3:DeleteBucketMetadataTableConfiguration",
	"GetBucketMetricsConfiguration":               "s3:GetMetricsConfiguration",
	"PutBucketMetricsConfiguration":               "s3:PutMetricsConfiguration",
	"DeleteBucketMetricsConfiguration":            "s3:PutMetricsConfiguration",
	"GetBucketNotificationConfiguration":          "s3:GetBucketNotification",
	"PutBucketNotificationConfiguration":          "s3:PutBucketNotification",
	"GetObjectLockConfiguration":                  "s3:GetBucketObjectLockConfiguration",
	"PutObjectLockConfiguration":                  "s3:PutBucketObjectLockConfiguration",
	"GetBucketOwnershipControls":                  "s3:GetBucketOwnershipControls",
	"PutBucketOwnershipControls":                  "s3:PutBucketOwnershipControls",
	"DeleteBucketOwnershipControls":               "s3:PutBucketOwnershipControls",
	"GetBucketPolicyStatus":                       "s3:GetBucketPolicyStatus",
	"GetPublicAccessBlock":                        "s3:GetBucketPublicAccessBlock",
	"PutPublicAccessBlock":                        "s3:PutBucketPublicAccessBlock",
	"DeletePublicAccessBlock":                     "s3:PutBucketPublicAccessBlock",
	"GetBucketReplication":                        "s3:GetReplicationConfiguration",
	"PutBucketReplication":                        "s3:PutReplicationConfiguration",
	"DeleteBucketReplication":                     "s3:PutReplicationConfiguration",
	"GetBucketRequestPayment":                     "s3:GetBucketRequestPayment",
	"PutBucketRequestPayment":                     "s3:PutBucketRequestPayment",
	"CreateSession":                               "s3express:CreateSession",
	"GetBucketTagging":                            "s3:GetBucketTagging",
	"PutBucketTagging":                            "s3:PutBucketTagging",
	"DeleteBucketTagging":                         "s3:PutBucketTagging",
	"ListMultipartUploads":                        "s3:ListBucketMultipartUploads",
	"GetBucketVersioning":                         "s3:GetBucketVersioning",
	"PutBucketVersioning":                         "s3:PutBucketVersioning",
	"ListObjectVersions":                          "s3:ListBucketVersions",
	"GetBucketWebsite":                            "s3:GetBucketWebsite",
	"PutBucketWebsite":                            "s3:PutBucketWebsite",
	"DeleteBucketWebsite":                         "s3:DeleteBucketWebsite",
	"DeleteObjects":                               "s3:DeleteObject",
	"PostObject":                                  "s3:PutObject",

	"ListParts":               "s3:ListMultipartUploadParts",
	"GetObjectAcl":            "s3:GetObjectAcl",
	"GetObjectAnnotation":     "s3:GetObjectAnnotation",
	"GetObjectAttributes":     "s3:GetObjectAttributes",
	"GetObjectLegalHold":      "s3:GetObjectLegalHold",
	"GetObjectRetention":      "s3:GetObjectRetention",
	"GetObjectTagging":        "s3:GetObjectTagging",
	"GetObjectTorrent":        "s3:GetObjectTorrent",
	"UploadPartCopy":          "s3:PutObject",
	"UploadPart":              "s3:PutObject",
	"PutObjectAcl":            "s3:PutObjectAcl",
	"PutObjectTagging":        "s3:PutObjectTagging",
	"PutObjectRetention":      "s3:PutObjectRetention",
	"PutObjectLegalHold":      "s3:PutObjectLegalHold",
	"RenameObject":            "s3:PutObject",
	"PutObjectAnnotation":     "s3:PutObjectAnnotation",
	"UpdateObjectEncryption":  "s3:PutObject",
	"CopyObject":              "s3:PutObject",
	"PutObject":               "s3:PutObject",
	"CreateMultipartUpload":   "s3:PutObject",
	"CompleteMultipartUpload": "s3:PutObject",
	"RestoreObject":           "s3:RestoreObject",
	"SelectObjectContent":     "s3:GetObject",
	"AbortMultipartUpload":    "s3:AbortMultipartUpload",
	"DeleteObjectTagging":     "s3:DeleteObjectTagging",
	"DeleteObject":            "s3:DeleteObject",
}

// iam returns the IAM action and resources of the request.
func (rq *request) iam() (string, []string) {
	action, ok := iamActions[rq.op.name]
	if !ok {
		action = "s3:" + rq.op.name
	}
	switch {
	case rq.op.name == "ListBuckets" || rq.bucket == "":
		return action, nil
	case rq.key != "":
		return action, []string{objectARN(rq.bucket, rq.key)}
	}
	return action, []string{bucketARN(rq.bucket)}
}

// SetAuthorizer makes h ask a before every operation, after the bucket
// policy's owner checks are known and before the operation runs; nil
// (the default) allows every call. A refusal is S3's AccessDenied (403),
// recorded with errorCode AccessDenied.
func (h *Handler) SetAuthorizer(a awsapi.Authorizer) { h.authorizer = a }

// authorizeIdentity asks h's authorizer about rq; a refusal is S3's AccessDenied
// (403) with the authorizer's message.
func (rq *request) authorizeIdentity() *s3Error {
	if rq.h.authorizer == nil || rq.op.name == "" {
		return nil
	}
	action, res := rq.iam()
	err := rq.h.authorizer.Authorize(rq.r.Context(), rq.caller, action, res)
	var ae *awsapi.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae) && ae.IsAccessDenied():
		return &s3Error{Code: "AccessDenied", Message: ae.Message, Status: http.StatusForbidden}
	}
	return rq.toS3Error(err)
}

// IAMOperations lists the operations the handler names, with their IAM
// action and resource format (${Bucket}, ${Key}).
func IAMOperations() []awsapi.IAMOperation {
	out := make([]awsapi.IAMOperation, 0, len(iamActions))
	for name, action := range iamActions {
		o := awsapi.IAMOperation{Name: name, Action: action, Mapped: true}
		switch {
		case name == "ListBuckets":
		case objectOperation(name):
			o.Resources = []string{objectARN("${Bucket}", "${Key}")}
		default:
			o.Resources = []string{bucketARN("${Bucket}")}
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// objectOperation reports whether the operation name is served on an
// object path.
func objectOperation(name string) bool {
	switch name {
	case "GetObject", "HeadObject", "ListParts", "UploadPartCopy", "UploadPart", "CopyObject", "PutObject",
		"CreateMultipartUpload", "CompleteMultipartUpload", "RestoreObject", "SelectObjectContent",
		"AbortMultipartUpload", "DeleteObjectTagging", "DeleteObject":
		return true
	}
	for _, s := range objectReadSubresources {
		if s.name == name {
			return true
		}
	}
	for _, s := range objectWriteSubresources {
		if s.name == name {
			return true
		}
	}
	return false
}
