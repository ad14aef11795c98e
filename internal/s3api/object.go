package s3api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/objstore"
)

// listBucketCheck is the permission that lets a caller learn that a key
// does not exist: without it S3 answers AccessDenied rather than NoSuchKey.
var listBucketCheck = &operation{action: "s3:ListBucket", crossAccount: true}

// responseOverrides are the query parameters of GetObject that set
// response headers.
var responseOverrides = []struct{ param, header string }{
	{"response-cache-control", "Cache-Control"},
	{"response-content-disposition", "Content-Disposition"},
	{"response-content-encoding", "Content-Encoding"},
	{"response-content-language", "Content-Language"},
	{"response-content-type", "Content-Type"},
	{"response-expires", "Expires"},
}

// getObject serves GetObject and, for HEAD requests, HeadObject.
func (rq *request) getObject() error {
	head := rq.r.Method == http.MethodHead
	if len(rq.key) > objstore.MaxKeyLen {
		return &s3Error{Code: "KeyTooLongError", Message: "Your key is too long", Status: http.StatusBadRequest}
	}
	info, err := rq.authorize()
	if err != nil {
		return err
	}
	if rq.query.Has("versionId") && rq.query.Get("versionId") != "null" {
		return invalidArgument("Invalid version id specified")
	}
	b, err := rq.h.buckets.Bucket(rq.r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	var (
		data []byte
		oi   *objstore.Info
	)
	if head {
		oi, err = b.Head(rq.r.Context(), rq.key)
	} else {
		data, oi, err = b.Get(rq.r.Context(), rq.key)
	}
	if errors.Is(err, objstore.ErrNotFound) || errors.Is(err, objstore.ErrInvalidKey) {
		ok, aerr := rq.allowed(listBucketCheck, info, bucketARN(rq.bucket))
		switch {
		case aerr != nil:
			return aerr
		case !ok:
			return accessDenied()
		}
		return noSuchKey(rq.key)
	}
	if err != nil {
		return err
	}
	if pn := rq.query.Get("partNumber"); rq.query.Has("partNumber") && pn != "1" {
		// Delivered objects are single-part: part 1 is the whole object.
		return &s3Error{Code: "InvalidPartNumber", Message: "The requested partnumber is not satisfiable", Status: http.StatusRequestedRangeNotSatisfiable}
	}

	h := rq.w.Header()
	etag := `"` + oi.ETag + `"`
	h.Set("x-amz-request-id", rq.reqID)
	h.Set("ETag", etag)
	h.Set("Last-Modified", oi.Modified.UTC().Format(http.TimeFormat))
	switch status, cond := preconditions(rq.r.Header, oi.ETag, oi.Modified); status {
	case http.StatusNotModified:
		rq.w.WriteHeader(http.StatusNotModified)
		return nil
	case http.StatusPreconditionFailed:
		h.Del("ETag")
		h.Del("Last-Modified")
		return &s3Error{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold",
			Status: http.StatusPreconditionFailed, Condition: cond}
	}

	rangeHdr := rq.r.Header.Get("Range")
	start, end, partial, err := parseRange(rangeHdr, oi.Size)
	if err != nil {
		h.Del("ETag")
		h.Del("Last-Modified")
		return &s3Error{Code: "InvalidRange", Message: "The requested range is not satisfiable",
			Status: http.StatusRequestedRangeNotSatisfiable, RangeRequested: rangeHdr, ActualObjectSize: strconv.FormatInt(oi.Size, 10)}
	}
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", "application/octet-stream")
	for k, v := range oi.Meta {
		// Lower-case on the wire, as S3 sends them: botocore keys the
		// Metadata dict by the header name as received, and
		// validate-logs looks up "signature".
		h["x-amz-meta-"+k] = []string{v}
	}
	for _, o := range responseOverrides {
		if v := rq.query.Get(o.param); v != "" {
			h.Set(o.header, v)
		}
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, oi.Size))
	} else {
		start, end = 0, oi.Size-1
	}
	h.Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	rq.w.WriteHeader(status)
	if !head && end >= start {
		_, _ = rq.w.Write(data[start : end+1])
	}
	return nil
}

// errUnsatisfiable reports a Range no byte of the object satisfies.
var errUnsatisfiable = errors.New("range not satisfiable")

// parseRange reads a Range header for an object of size bytes. It
// returns the first and last byte to send and partial = true for a
// single satisfiable range. An absent, malformed or multi-range header
// gives partial = false (send the whole object, as S3 does); a
// well-formed single range that selects no byte gives errUnsatisfiable.
func parseRange(h string, size int64) (start, end int64, partial bool, err error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, false, nil
	}
	num := func(s string) (int64, bool) {
		if s == "" || len(s) > 19 {
			return 0, false
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	if first == "" {
		// bytes=-n: the last n bytes.
		n, ok := num(last)
		if !ok {
			return 0, 0, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, errUnsatisfiable
		}
		return size - min(n, size), size - 1, true, nil
	}
	a, ok := num(first)
	if !ok {
		return 0, 0, false, nil
	}
	b := size - 1
	if last != "" {
		if b, ok = num(last); !ok || b < a {
			return 0, 0, false, nil
		}
	}
	if a >= size {
		return 0, 0, false, errUnsatisfiable
	}
	return a, min(b, size-1), true, nil
}

// preconditions evaluates the conditional request headers against an
// object (RFC 9110 order: If-Match, If-Unmodified-Since, If-None-Match,
// If-Modified-Since). It returns 0 to go on, 304 or 412, and the header
// that failed.
func preconditions(h http.Header, etag string, modified time.Time) (int, string) {
	mod := modified.Truncate(time.Second)
	if im := h.Get("If-Match"); im != "" {
		if !etagListMatches(im, etag) {
			return http.StatusPreconditionFailed, "If-Match"
		}
	} else if ius := h.Get("If-Unmodified-Since"); ius != "" {
		if t, err := http.ParseTime(ius); err == nil && mod.After(t) {
			return http.StatusPreconditionFailed, "If-Unmodified-Since"
		}
	}
	if inm := h.Get("If-None-Match"); inm != "" {
		if etagListMatches(inm, etag) {
			return http.StatusNotModified, "If-None-Match"
		}
	} else if ims := h.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !mod.After(t) {
			return http.StatusNotModified, "If-Modified-Since"
		}
	}
	return 0, ""
}

// etagListMatches reports whether a comma-separated list of entity tags
// (quoted or not, weak or not, or "*") names etag.
func etagListMatches(list, etag string) bool {
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if t == "*" || strings.Trim(t, `"`) == etag {
			return true
		}
	}
	return false
}
