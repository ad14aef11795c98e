package eventpattern

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	"github.com/valyala/fastjson"
)

// Detail types CloudTrail gives its events on EventBridge's default bus.
//
// Checked against AWS's documentation ("AWS service events delivered via
// AWS CloudTrail" in the EventBridge user guide: the five kinds, the
// source aws.<service> with detail.eventSource <service>.amazonaws.com, and
// detail = the CloudTrail record; the EventBridge event structure
// reference: the envelope's members version, id, detail-type, source,
// account, time, region, resources, detail in that order) and against the
// patterns practitioners deploy: sign-in events arrive as
// "AWS Console Sign In via CloudTrail" (the user guide's list spells it
// "Signin", but that value matches nothing), Insights events come from
// source aws.cloudtrail, and network activity events (eventCategory
// NetworkActivity) are "AWS Network Activity Event via CloudTrail".
const (
	DetailTypeAPICall       = "AWS API Call via CloudTrail"
	DetailTypeConsoleSignIn = "AWS Console Sign In via CloudTrail"
	DetailTypeConsoleAction = "AWS Console Action via CloudTrail"
	DetailTypeServiceEvent  = "AWS Service Event via CloudTrail"
	DetailTypeInsight       = "AWS Insight via CloudTrail"
	DetailTypeNetwork       = "AWS Network Activity Event via CloudTrail"
)

// idNamespace makes the envelope ids of this package distinct from other
// name-based UUIDs made from the same eventIDs.
var idNamespace = []byte("opentrail eventbridge envelope\x00")

// CloudTrailEvent wraps a CloudTrail record (a JSON object) in the envelope
// EventBridge uses for CloudTrail events on the default bus:
//
//	{"version":"0","id":…,"detail-type":…,"source":"aws.<service>",
//	 "account":<recipientAccountId>,"time":<eventTime>,"region":<awsRegion>,
//	 "resources":[],"detail":<the record>}
//
// detail-type follows eventType (AwsApiCall, AwsConsoleSignIn,
// AwsConsoleAction, AwsServiceEvent; Insights records, eventCategory
// "Insight", give "AWS Insight via CloudTrail" from aws.cloudtrail;
// eventCategory NetworkActivity gives "AWS Network Activity Event via
// CloudTrail"; other kinds are API calls); source is "aws." and the first
// label of eventSource (iam.amazonaws.com gives aws.iam,
// signin.amazonaws.com aws.signin; aws.cloudtrail when there is none); account is
// recipientAccountId, or userIdentity.accountId when absent. id is a UUID
// derived from the record's eventID, so the same record always gets the
// same id. The record is embedded byte for byte (surrounding white space
// removed).
func CloudTrailEvent(raw []byte) ([]byte, error) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	if err := sc.load(envelopeFields.reg, raw); err != nil {
		if err == errNotObject {
			return nil, errors.New("eventpattern: the CloudTrail record is not a JSON object")
		}
		return nil, errors.New("eventpattern: the CloudTrail record " + strings.TrimPrefix(err.Error(), "eventpattern: the event "))
	}
	h := envelopeOf(sc.leaves)
	var b bytes.Buffer
	b.Grow(len(raw) + 256)
	member := func(name, val string, first bool) {
		if !first {
			b.WriteByte(',')
		}
		q, _ := json.Marshal(name)
		b.Write(q)
		b.WriteByte(':')
		q, _ = json.Marshal(val)
		b.Write(q)
	}
	b.WriteByte('{')
	member("version", "0", true)
	member("id", envelopeID(h.eventID), false)
	member("detail-type", h.detailType, false)
	member("source", "aws."+h.service, false)
	member("account", h.account, false)
	member("time", h.time, false)
	member("region", h.region, false)
	b.WriteString(`,"resources":[],"detail":`)
	b.Write(bytes.TrimSpace(raw))
	b.WriteByte('}')
	return b.Bytes(), nil
}

// The members of a record the envelope is made from, by their ids in
// every registry made by newRecordRegistry.
const (
	fieldAccount = iota
	fieldAccountID
	fieldSource
	fieldEventType
	fieldCategory
	fieldEventID
	fieldTime
	fieldRegion
	numEnvelopeFields
)

// newRecordRegistry returns a registry of a record's paths that starts
// with the members the envelope is made from, under the field* ids.
func newRecordRegistry() *registry {
	reg := newRegistry()
	for _, path := range [numEnvelopeFields]string{
		fieldAccount:   "recipientAccountId",
		fieldAccountID: "userIdentity.accountId",
		fieldSource:    "eventSource",
		fieldEventType: "eventType",
		fieldCategory:  "eventCategory",
		fieldEventID:   "eventID",
		fieldTime:      "eventTime",
		fieldRegion:    "awsRegion",
	} {
		reg.add(path)
	}
	return reg
}

// envelopeFields is the registry CloudTrailEvent reads a record with.
var envelopeFields = struct{ reg *registry }{newRecordRegistry()}

// envelope is what the envelope's members are made of, derived from a
// record. Its strings alias the scratch the record was read into.
type envelope struct {
	detailType string
	service    string // source without "aws."
	account    string
	time       string
	region     string
	eventID    string
}

// envelopeOf derives the envelope's members from the leaves of a record
// read with a registry made by newRecordRegistry. CloudTrailEvent and
// Set.MatchesCloudTrail both use it, so the envelope a pattern is matched
// against in place is the one CloudTrailEvent builds.
func envelopeOf(leaves [][]leaf) envelope {
	str := func(id int) string {
		for _, l := range leaves[id] {
			if l.typ == fastjson.TypeString {
				return l.s
			}
		}
		return ""
	}
	h := envelope{account: str(fieldAccount), time: str(fieldTime), region: str(fieldRegion), eventID: str(fieldEventID)}
	if h.account == "" {
		h.account = str(fieldAccountID)
	}
	h.service = str(fieldSource)
	if i := strings.IndexByte(h.service, '.'); i >= 0 {
		h.service = h.service[:i]
	}
	h.detailType = DetailTypeAPICall
	switch eventType, category := str(fieldEventType), str(fieldCategory); {
	case category == "Insight" || eventType == "AwsCloudTrailInsight":
		h.detailType, h.service = DetailTypeInsight, "cloudtrail"
	case category == "NetworkActivity":
		h.detailType = DetailTypeNetwork
	case eventType == "AwsConsoleSignIn":
		h.detailType = DetailTypeConsoleSignIn
	case eventType == "AwsConsoleAction":
		h.detailType = DetailTypeConsoleAction
	case eventType == "AwsServiceEvent":
		h.detailType = DetailTypeServiceEvent
	}
	if h.service == "" {
		h.service = "cloudtrail"
	}
	return h
}

// envelopeID is a version-5-style UUID (SHA-1 of a fixed namespace and the
// eventID).
func envelopeID(eventID string) string {
	h := sha1.New()
	h.Write(idNamespace)
	h.Write([]byte(eventID))
	sum := h.Sum(nil)
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	var buf [36]byte
	hex.Encode(buf[0:8], sum[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], sum[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], sum[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], sum[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:36], sum[10:16])
	return string(buf[:])
}
