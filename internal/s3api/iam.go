package s3api

import (
	"errors"
	"net/http"
	"sort"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/s3op"
)

// iam returns the IAM action and resources of the request.
func (rq *request) iam() (string, []string) {
	action := rq.op.iamAction
	if action == "" {
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
	actions := s3op.Actions()
	out := make([]awsapi.IAMOperation, 0, len(actions))
	for name, action := range actions {
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
	for _, r := range s3op.Requests() {
		if r.Name == name {
			return r.Key
		}
	}
	return false
}
