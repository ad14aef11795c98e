package event

import "time"

// MaxRecordSize is CloudTrail's cap on one event (eventVersion 1.05 and
// later): 256 KB.
const MaxRecordSize = 256 * 1024

// Record is one CloudTrail event. Raw holds the record exactly as the store
// keeps it (compact JSON, every field the sender sent, known or not); the
// other fields are copies of values inside Raw that the store indexes.
type Record struct {
	Raw []byte

	EventID      string
	EventTime    time.Time // eventTime, UTC
	EventVersion string
	EventSource  string
	EventName    string
	EventType    string
	// EventCategory is the record's eventCategory, or the category CloudTrail
	// would give it when the field is absent (Management, Data or Insight).
	EventCategory string
	AWSRegion     string
	SourceIP      string
	UserAgent     string
	ErrorCode     string
	// AccountID is the account the event belongs to: recipientAccountId, or
	// userIdentity.accountId when that is absent.
	AccountID string
	// Username is what LookupEvents shows and matches as Username: "root"
	// for Root, the session name for assumed roles, userName otherwise.
	Username    string
	AccessKeyID string
	// ReadOnly is the record's readOnly; ReadOnlySet is false when the
	// record has no readOnly field.
	ReadOnly    bool
	ReadOnlySet bool
	// ManagementEvent reports whether the event is a management event.
	ManagementEvent bool
	Resources       []Resource
}

// Resource is one element of the record's resources array, as LookupEvents
// reports it.
type Resource struct {
	Type string // e.g. AWS::S3::Bucket
	Name string // the ARN, or the resource name when no ARN is given
}

// ReadOnlyString returns the record's readOnly the way LookupEvents
// reports it: "true" or "false", or "" when the record has no readOnly
// member (Insights events, for one). The spec makes readOnly optional in
// the record and ReadOnly optional in a LookupEvents result, so an absent
// readOnly is not guessed to be "false": callers omit the ReadOnly member
// when this returns "".
func (r *Record) ReadOnlyString() string {
	switch {
	case !r.ReadOnlySet:
		return ""
	case r.ReadOnly:
		return "true"
	default:
		return "false"
	}
}
