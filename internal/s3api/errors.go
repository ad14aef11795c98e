package s3api

import (
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/opentrail/opentrail/internal/objstore"
)

// s3Error is an error the client sees, with S3's code, message and
// status. The optional fields become elements of the error body, as S3
// adds them to some errors.
type s3Error struct {
	Code    string
	Message string
	Status  int

	BucketName       string
	Key              string
	Method           string
	ResourceType     string
	RangeRequested   string
	ActualObjectSize string
	Condition        string
	HeadersNotSigned string
}

func (e *s3Error) Error() string { return e.Code + ": " + e.Message }

// errorBody is the XML body of an error response.
type errorBody struct {
	XMLName          xml.Name `xml:"Error"`
	Code             string
	Message          string
	BucketName       string `xml:",omitempty"`
	Key              string `xml:",omitempty"`
	Method           string `xml:",omitempty"`
	ResourceType     string `xml:",omitempty"`
	RangeRequested   string `xml:",omitempty"`
	ActualObjectSize string `xml:",omitempty"`
	Condition        string `xml:",omitempty"`
	HeadersNotSigned string `xml:",omitempty"`
	Resource         string
	RequestID        string `xml:"RequestId"`
}

// Messages S3 sends with its errors.
const (
	msgAccessDenied  = "Access Denied"
	msgNoSuchBucket  = "The specified bucket does not exist"
	msgNoSuchKey     = "The specified key does not exist."
	msgInternal      = "We encountered an internal error. Please try again."
	msgImmutable     = "Access Denied: opentrail's log delivery is the only writer of this bucket, and delivered log files are immutable; objects cannot be written, copied, tagged or deleted through the S3 API."
	msgNotEmpty      = "The bucket you tried to delete is not empty"
	msgNoSuchPolicy  = "The bucket policy does not exist"
	msgInvalidBucket = "The specified bucket is not valid."
)

func accessDenied() *s3Error {
	return &s3Error{Code: "AccessDenied", Message: msgAccessDenied, Status: http.StatusForbidden}
}

func writeDenied() *s3Error {
	return &s3Error{Code: "AccessDenied", Message: msgImmutable, Status: http.StatusForbidden}
}

func noSuchBucket(bucket string) *s3Error {
	return &s3Error{Code: "NoSuchBucket", Message: msgNoSuchBucket, Status: http.StatusNotFound, BucketName: bucket}
}

func noSuchKey(key string) *s3Error {
	return &s3Error{Code: "NoSuchKey", Message: msgNoSuchKey, Status: http.StatusNotFound, Key: key}
}

func invalidArgument(msg string) *s3Error {
	return &s3Error{Code: "InvalidArgument", Message: msg, Status: http.StatusBadRequest}
}

func notImplemented(msg string) *s3Error {
	return &s3Error{Code: "NotImplemented", Message: msg, Status: http.StatusNotImplemented}
}

func methodNotAllowed(method, resourceType string) *s3Error {
	return &s3Error{Code: "MethodNotAllowed", Message: "The specified method is not allowed against this resource.",
		Status: http.StatusMethodNotAllowed, Method: method, ResourceType: resourceType}
}

func internalError() *s3Error {
	return &s3Error{Code: "InternalError", Message: msgInternal, Status: http.StatusInternalServerError}
}

// toS3Error maps any error to the error the client sees. This is the one
// place where store errors become S3 errors; anything unexpected is
// logged with its detail and sent as InternalError.
func (rq *request) toS3Error(err error) *s3Error {
	var se *s3Error
	if errors.As(err, &se) {
		return se
	}
	var exists *objstore.BucketExistsError
	switch {
	case errors.As(err, &exists):
		if exists.OwnedByCaller {
			return &s3Error{Code: "BucketAlreadyOwnedByYou", Status: http.StatusConflict, BucketName: rq.bucket,
				Message: "Your previous request to create the named bucket succeeded and you already own it."}
		}
		return &s3Error{Code: "BucketAlreadyExists", Status: http.StatusConflict, BucketName: rq.bucket,
			Message: "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."}
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return noSuchBucket(rq.bucket)
	case errors.Is(err, objstore.ErrNotFound), errors.Is(err, objstore.ErrInvalidKey):
		// A key the store cannot hold names no object.
		return noSuchKey(rq.key)
	case errors.Is(err, objstore.ErrBucketNotEmpty):
		return &s3Error{Code: "BucketNotEmpty", Message: msgNotEmpty, Status: http.StatusConflict, BucketName: rq.bucket}
	case errors.Is(err, objstore.ErrNoSuchPolicy):
		return &s3Error{Code: "NoSuchBucketPolicy", Message: msgNoSuchPolicy, Status: http.StatusNotFound, BucketName: rq.bucket}
	case errors.Is(err, objstore.ErrMalformedPolicy):
		return &s3Error{Code: "MalformedPolicy", Message: "Policy is malformed", Status: http.StatusBadRequest}
	case errors.Is(err, objstore.ErrInvalidBucketName):
		return &s3Error{Code: "InvalidBucketName", Message: msgInvalidBucket, Status: http.StatusBadRequest, BucketName: rq.bucket}
	case errors.Is(err, objstore.ErrAccessDenied):
		return accessDenied()
	}
	level := slog.LevelError
	if errors.Is(err, context.Canceled) {
		level = slog.LevelDebug // the client went away
	}
	rq.h.logger.Log(rq.r.Context(), level, "s3 request failed",
		slog.String("request_id", rq.reqID), slog.String("operation", rq.op.name),
		slog.String("bucket", rq.bucket), slog.String("key", rq.key), slog.Any("err", err))
	return internalError()
}

// writeError sends e; HEAD responses carry the status and no body.
func (rq *request) writeError(e *s3Error) {
	writeError(rq.w, rq.r, rq.reqID, e)
}

// WriteError answers r with S3's XML error document, for requests refused
// before they reach a Handler (a missing or bad signature, a body too large
// or too slow). headersNotSigned fills the HeadersNotSigned element S3 adds
// to its AccessDenied for unsigned x-amz-* headers; "" leaves it out.
func WriteError(w http.ResponseWriter, r *http.Request, reqID, code, message string, status int, headersNotSigned string) {
	writeError(w, r, reqID, &s3Error{Code: code, Message: message, Status: status, HeadersNotSigned: headersNotSigned})
}

func writeError(w http.ResponseWriter, r *http.Request, reqID string, e *s3Error) {
	h := w.Header()
	h.Set("x-amz-request-id", reqID)
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	b, err := xml.Marshal(errorBody{
		Code:             e.Code,
		Message:          e.Message,
		BucketName:       e.BucketName,
		Key:              e.Key,
		Method:           e.Method,
		ResourceType:     e.ResourceType,
		RangeRequested:   e.RangeRequested,
		ActualObjectSize: e.ActualObjectSize,
		Condition:        e.Condition,
		HeadersNotSigned: e.HeadersNotSigned,
		Resource:         r.URL.Path,
		RequestID:        reqID,
	})
	if err != nil { // cannot happen for strings
		b = []byte("<Error><Code>InternalError</Code></Error>")
	}
	b = append([]byte(xml.Header), b...)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}
