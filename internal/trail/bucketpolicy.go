package trail

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/opentrail/opentrail/internal/iampolicy"
	"github.com/opentrail/opentrail/internal/layout"
)

// cloudTrailPrincipal is the service principal CloudTrail writes log files
// as.
const cloudTrailPrincipal = "cloudtrail.amazonaws.com"

// DeliveryTarget is where a trail writes, as far as a bucket policy is
// concerned: the bucket, the trail's key prefix and the account (or, for
// an organisation trail, the organisation) folder under AWSLogs/.
type DeliveryTarget struct {
	Bucket   string
	Prefix   string // S3KeyPrefix; "" for none
	Account  string // the trail's account
	OrgID    string // "o-…" for an organisation trail delivering to the organisation layout, else ""
	TrailARN string // aws:SourceArn of CloudTrail's writes
	Region   string // the trail's home region
}

// Resource is the object ARN pattern a bucket policy must grant
// s3:PutObject on, as CloudTrail's documentation writes it:
// arn:aws:s3:::bucket/[prefix/]AWSLogs/[o-id|account]/*.
func (d DeliveryTarget) Resource() string {
	folder := d.Account
	if d.OrgID != "" {
		folder = d.OrgID
	}
	return "arn:aws:s3:::" + d.Bucket + "/" + layout.Root(d.Prefix) + folder + "/*"
}

// PolicyAllowsDelivery reports whether a bucket policy lets CloudTrail
// (the service principal cloudtrail.amazonaws.com) put the trail's log
// files: some Allow statement grants s3:PutObject on d.Resource() (a
// resource pattern that covers it, such as bucket/* or
// bucket/AWSLogs/account/*) and no Deny statement takes it away.
// Conditions are evaluated for the keys CloudTrail's writes carry
// (aws:SourceArn, aws:SourceAccount, s3:x-amz-acl, aws:SecureTransport);
// an Allow with any other condition key grants nothing, and a Deny with
// one applies, so an unknown policy never grants more than it says. The
// error is for a policy that is not JSON of a policy's shape.
func PolicyAllowsDelivery(policy []byte, d DeliveryTarget) (bool, error) {
	var doc struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal(policy, &doc); err != nil {
		return false, fmt.Errorf("bucket policy: %w", err)
	}
	var list []policyStatement
	var one policyStatement
	if err := json.Unmarshal(doc.Statement, &list); err != nil {
		if err := json.Unmarshal(doc.Statement, &one); err != nil {
			return false, fmt.Errorf("bucket policy: Statement: %w", err)
		}
		list = []policyStatement{one}
	}
	req := deliveryRequest{resource: d.Resource(), trailARN: d.TrailARN, account: d.Account}
	allowed := false
	for _, st := range list {
		switch st.Effect {
		case "Allow":
			if st.applies(req, false) {
				allowed = true
			}
		case "Deny":
			if st.applies(req, true) {
				return false, nil
			}
		default:
			return false, fmt.Errorf("bucket policy: Effect %q is neither Allow nor Deny", st.Effect)
		}
	}
	return allowed, nil
}

// deliveryRequest is one CloudTrail write, as policy evaluation sees it.
type deliveryRequest struct {
	resource string
	trailARN string
	account  string
}

type policyStatement struct {
	Effect       string
	Principal    json.RawMessage
	NotPrincipal json.RawMessage
	Action       stringList
	NotAction    stringList
	Resource     stringList
	NotResource  stringList
	Condition    map[string]map[string]stringList
}

// applies reports whether the statement covers req. An unknown condition
// key makes it apply when failClosed (a Deny) and not otherwise.
func (st policyStatement) applies(req deliveryRequest, failClosed bool) bool {
	switch {
	case st.Principal != nil && !principalIsCloudTrail(st.Principal):
		return false
	case st.NotPrincipal != nil && principalIsCloudTrail(st.NotPrincipal):
		return false
	case st.Principal == nil && st.NotPrincipal == nil:
		return false
	case st.Action != nil && !anyGlob(st.Action, "s3:PutObject", true):
		return false
	case st.NotAction != nil && anyGlob(st.NotAction, "s3:PutObject", true):
		return false
	case st.Action == nil && st.NotAction == nil:
		return false
	case st.Resource != nil && !anyGlob(st.Resource, req.resource, false):
		return false
	case st.NotResource != nil && anyGlob(st.NotResource, req.resource, false):
		return false
	case st.Resource == nil && st.NotResource == nil:
		return false
	}
	for op, keys := range st.Condition {
		for key, vals := range keys {
			holds, known := conditionHolds(op, key, vals, req)
			if !known {
				if failClosed {
					continue
				}
				return false
			}
			if !holds {
				return false
			}
		}
	}
	return true
}

// conditionHolds evaluates one condition for a CloudTrail write.
func conditionHolds(op, key string, vals []string, req deliveryRequest) (holds, known bool) {
	var v string
	switch strings.ToLower(key) {
	case "aws:sourcearn":
		v = req.trailARN
	case "aws:sourceaccount":
		v = req.account
	case "s3:x-amz-acl":
		v = "bucket-owner-full-control"
	case "aws:securetransport":
		v = "true"
	default:
		return false, false
	}
	c, err := iampolicy.ParseCondition(op, key, vals, false)
	if err != nil {
		return false, false // an operator or value the policy language refuses
	}
	return c.Holds(map[string][]string{key: {v}}), true
}

// principalIsCloudTrail reports whether a Principal element names
// CloudTrail's service principal or everyone.
func principalIsCloudTrail(raw json.RawMessage) bool {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		return star == "*"
	}
	var m map[string]stringList
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	for _, id := range m["AWS"] {
		if id == "*" {
			return true
		}
	}
	for _, id := range m["Service"] {
		if id == cloudTrailPrincipal || id == "*" {
			return true
		}
	}
	return false
}

// stringList is a policy value written as a string or a list of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("must be a string or a list of strings")
	}
	*l = many
	return nil
}

// anyGlob reports whether s matches one of the policy patterns, where
// '*' is any run of characters and '?' any one character. Matching the
// resource pattern against the trail's own pattern (…/AWSLogs/account/*)
// means a policy grants the whole folder only if its pattern covers the
// '*' too.
func anyGlob(patterns []string, s string, foldCase bool) bool {
	for _, p := range patterns {
		if iampolicy.Match(p, s, foldCase) {
			return true
		}
	}
	return false
}
