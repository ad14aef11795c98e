package s3api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/objstore"
)

// bucketInfo describes the request's bucket, or fails with NoSuchBucket.
// It also checks x-amz-expected-bucket-owner.
func (rq *request) bucketInfo() (objstore.BucketInfo, error) {
	info, err := rq.h.buckets.Info(rq.r.Context(), rq.bucket)
	if err != nil {
		return objstore.BucketInfo{}, err
	}
	if want := rq.r.Header.Get("x-amz-expected-bucket-owner"); want != "" && want != info.Owner {
		return objstore.BucketInfo{}, accessDenied()
	}
	return info, nil
}

// ownerAccount is the account owning the request's bucket, or "" when
// the bucket does not exist.
func (rq *request) ownerAccount() string {
	info, err := rq.h.buckets.Info(rq.r.Context(), rq.bucket)
	if err != nil {
		return ""
	}
	return info.Owner
}

// bucketARN and objectARN are the resources policies name.
func bucketARN(bucket string) string      { return "arn:aws:s3:::" + bucket }
func objectARN(bucket, key string) string { return "arn:aws:s3:::" + bucket + "/" + key }

// resource is the ARN the request's operation acts on.
func (rq *request) resource() string {
	if rq.key != "" {
		return objectARN(rq.bucket, rq.key)
	}
	return bucketARN(rq.bucket)
}

// policy returns the bucket's parsed policy, or nil when it has none. A
// stored policy that no longer parses is logged and treated as granting
// nothing and denying everything but the owner's policy operations.
func (rq *request) policy() (*policy, error) {
	raw, err := rq.h.buckets.Policy(rq.r.Context(), rq.bucket)
	if errors.Is(err, objstore.ErrNoSuchPolicy) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := parsePolicy(raw, rq.bucket)
	if err != nil {
		rq.h.logger.ErrorContext(rq.r.Context(), "stored bucket policy does not parse", slog.String("bucket", rq.bucket), slog.Any("err", err))
		return denyAll, nil
	}
	return p, nil
}

// evalContext describes the caller to policy evaluation.
func (rq *request) evalContext(action, resource string) evalContext {
	p := rq.caller.Principal
	return evalContext{
		account:  p.AccountID,
		arn:      p.ARN,
		canonID:  canonicalID(p.AccountID),
		action:   action,
		resource: resource,
		secure:   rq.r.TLS != nil || rq.caller.TLS != nil,
	}
}

// allowed decides whether the caller may perform op on resource of the
// bucket described by info.
func (rq *request) allowed(op *operation, info objstore.BucketInfo, resource string) (bool, error) {
	owner := info.Owner == rq.account()
	pol, err := rq.policy()
	if err != nil {
		return false, err
	}
	d := noMatch
	if pol != nil && op.action != "" {
		d = pol.evaluate(rq.evalContext(op.action, resource))
	}
	switch {
	case d == deny && !(owner && op.denyExempt):
		return false, nil
	case owner:
		return true, nil
	}
	return op.crossAccount && d == allow, nil
}

// authorize checks that the bucket exists and that the caller may run the
// request's operation on it.
func (rq *request) authorize() (objstore.BucketInfo, error) {
	info, err := rq.bucketInfo()
	if err != nil {
		return info, err
	}
	ok, err := rq.allowed(rq.op, info, rq.resource())
	if err != nil {
		return info, err
	}
	if !ok {
		return info, accessDenied()
	}
	return info, nil
}

// owner is the Owner element of listings.
type owner struct {
	ID          string
	DisplayName string
}

func ownerOf(account string) *owner {
	return &owner{ID: canonicalID(account), DisplayName: account}
}

// s3Time formats a time as S3's XML documents do.
func s3Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

type listAllMyBucketsResult struct {
	XMLName           xml.Name     `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
	Owner             *owner       `xml:"Owner"`
	Buckets           []bucketElem `xml:"Buckets>Bucket"`
	ContinuationToken string       `xml:",omitempty"`
	Prefix            string       `xml:",omitempty"`
}

type bucketElem struct {
	Name         string
	CreationDate string
	BucketRegion string
}

func (rq *request) listBuckets() error {
	q := rq.query
	prefix, region := q.Get("prefix"), q.Get("bucket-region")
	limit := 0
	if q.Has("max-buckets") {
		n, err := strconv.Atoi(q.Get("max-buckets"))
		if err != nil || n < 1 || n > 10000 {
			return invalidArgument("max-buckets must be an integer between 1 and 10000")
		}
		limit = n
	}
	after := ""
	if q.Has("continuation-token") {
		t, err := decodeToken(q.Get("continuation-token"))
		if err != nil {
			return invalidArgument("The continuation token provided is incorrect")
		}
		after = t
	}
	all, err := rq.h.buckets.ListBuckets(rq.r.Context())
	if err != nil {
		return err
	}
	res := listAllMyBucketsResult{Owner: ownerOf(rq.account()), Prefix: prefix, Buckets: []bucketElem{}}
	for _, b := range all {
		if b.Owner != rq.account() || !strings.HasPrefix(b.Name, prefix) || b.Name <= after ||
			region != "" && b.Region != region {
			continue
		}
		if limit > 0 && len(res.Buckets) == limit {
			res.ContinuationToken = encodeToken(res.Buckets[len(res.Buckets)-1].Name)
			break
		}
		res.Buckets = append(res.Buckets, bucketElem{Name: b.Name, CreationDate: s3Time(b.Created), BucketRegion: b.Region})
	}
	return rq.writeXML(http.StatusOK, res)
}

// regionPattern is the shape of an AWS region name.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

type createBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string
}

func (rq *request) createBucket() error {
	if err := objstore.ValidateBucketName(rq.bucket); err != nil {
		return err
	}
	var conf createBucketConfiguration
	if len(bytes.TrimSpace(rq.body)) > 0 {
		if err := xml.Unmarshal(rq.body, &conf); err != nil {
			return &s3Error{Code: "MalformedXML", Status: http.StatusBadRequest,
				Message: "The XML you provided was not well-formed or did not validate against our published schema"}
		}
		rq.params["CreateBucketConfiguration"] = map[string]string{"LocationConstraint": conf.LocationConstraint}
	}
	region, err := bucketRegion(conf.LocationConstraint, rq.region())
	if err != nil {
		return err
	}
	if err := rq.h.buckets.CreateBucket(rq.r.Context(), rq.bucket, rq.account(), region); err != nil {
		return err
	}
	rq.w.Header().Set("Location", "/"+rq.bucket)
	rq.writeEmpty(http.StatusOK)
	return nil
}

// bucketRegion returns the region of a bucket created with location
// constraint lc through the regional endpoint of endpoint, as S3 decides
// it: us-east-1 takes any region but its own name; other endpoints take
// their own region only.
func bucketRegion(lc, endpoint string) (string, error) {
	if lc == "EU" {
		lc = "eu-west-1"
	}
	switch {
	case lc == "" && endpoint == "us-east-1":
		return "us-east-1", nil
	case lc == "":
		return "", &s3Error{Code: "IllegalLocationConstraintException", Status: http.StatusBadRequest,
			Message: "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to."}
	case lc == "us-east-1" || !regionPattern.MatchString(lc):
		return "", &s3Error{Code: "InvalidLocationConstraint", Status: http.StatusBadRequest,
			Message: "The specified location-constraint is not valid"}
	case endpoint != "us-east-1" && lc != endpoint:
		return "", &s3Error{Code: "IllegalLocationConstraintException", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("The %s location constraint is incompatible for the region specific endpoint this request was sent to.", lc)}
	}
	return lc, nil
}

func (rq *request) headBucket() error {
	info, err := rq.authorize()
	if err != nil {
		return err
	}
	h := rq.w.Header()
	h.Set("x-amz-bucket-region", info.Region)
	h.Set("x-amz-access-point-alias", "false")
	rq.writeEmpty(http.StatusOK)
	return nil
}

type locationConstraint struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LocationConstraint"`
	Region  string   `xml:",chardata"`
}

func (rq *request) getBucketLocation() error {
	info, err := rq.authorize()
	if err != nil {
		return err
	}
	lc := info.Region
	if lc == "us-east-1" {
		lc = ""
	}
	return rq.writeXML(http.StatusOK, locationConstraint{Region: lc})
}

func (rq *request) deleteBucket() error {
	if _, err := rq.authorize(); err != nil {
		return err
	}
	if err := rq.h.buckets.DeleteBucket(rq.r.Context(), rq.bucket); err != nil {
		return err
	}
	rq.writeEmpty(http.StatusNoContent)
	return nil
}

func (rq *request) getBucketPolicy() error {
	if _, err := rq.authorize(); err != nil {
		return err
	}
	p, err := rq.h.buckets.Policy(rq.r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	h := rq.w.Header()
	h.Set("x-amz-request-id", rq.reqID)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(p)))
	rq.w.WriteHeader(http.StatusOK)
	_, _ = rq.w.Write(p)
	return nil
}

func (rq *request) putBucketPolicy() error {
	if json.Valid(rq.body) {
		rq.params["bucketPolicy"] = json.RawMessage(rq.body)
	}
	if _, err := rq.authorize(); err != nil {
		return err
	}
	if _, err := parsePolicy(rq.body, rq.bucket); err != nil {
		return err
	}
	if err := rq.h.buckets.PutPolicy(rq.r.Context(), rq.bucket, rq.body); err != nil {
		return err
	}
	rq.writeEmpty(http.StatusNoContent)
	return nil
}

func (rq *request) deleteBucketPolicy() error {
	if _, err := rq.authorize(); err != nil {
		return err
	}
	if err := rq.h.buckets.DeletePolicy(rq.r.Context(), rq.bucket); err != nil {
		return err
	}
	rq.writeEmpty(http.StatusNoContent)
	return nil
}

// encodeToken and decodeToken make the opaque continuation tokens of
// listings: the last name or key of the previous page, base64-encoded.
func encodeToken(last string) string {
	return base64.StdEncoding.EncodeToString([]byte(tokenMagic + last))
}

const tokenMagic = "ot1:"

func decodeToken(tok string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || !bytes.HasPrefix(b, []byte(tokenMagic)) {
		return "", errors.New("invalid continuation token")
	}
	return string(b[len(tokenMagic):]), nil
}
