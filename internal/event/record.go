package event

import (
	"time"

	"github.com/valyala/fastjson"
)

// MaxRecordSize is CloudTrail's cap on one event (eventVersion 1.05 and
// later): 256 KB.
const MaxRecordSize = 256 * 1024

// Event categories CloudTrail assigns; Record.EventCategory holds one of
// these unless the record names another (newer records also carry
// "NetworkActivity").
const (
	CategoryManagement = "Management"
	CategoryData       = "Data"
	CategoryInsight    = "Insight"
	// CategoryAggregated is the category of aggregated events (eventType
	// AwsAggregatedEvent).
	CategoryAggregated = "Aggregated"
)

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
	// would give it when the field is absent or empty: CategoryInsight for
	// eventType AwsCloudTrailInsight, else CategoryData when managementEvent
	// is false, else CategoryManagement.
	EventCategory string
	AWSRegion     string
	SourceIP      string
	UserAgent     string
	ErrorCode     string
	// AccountID is the account the event belongs to: recipientAccountId, or
	// userIdentity.accountId when that is absent or empty.
	AccountID string
	// Username is what LookupEvents shows and matches as Username, from
	// userIdentity by its type: Root → "root"; IAMUser → userName;
	// AssumedRole and Role → the session name, the last element of an
	// "assumed-role/<role>/<session>" arn, else sessionContext.sessionIssuer
	// .userName; FederatedUser → the name after "federated-user/" in arn;
	// AWSService → invokedBy. When that is empty (or the type is another),
	// userName, else principalId; "" without userIdentity.
	Username    string
	AccessKeyID string
	// ReadOnly is the record's readOnly; ReadOnlySet is false when the
	// record has no readOnly field.
	ReadOnly    bool
	ReadOnlySet bool
	// ManagementEvent is the record's managementEvent, or when absent
	// whether EventCategory is CategoryManagement.
	ManagementEvent bool
	// Resources are the elements of the record's resources array, in
	// order; nil when it is absent or empty.
	Resources []Resource
}

// Resource is one element of the record's resources array, as LookupEvents
// reports it.
type Resource struct {
	Type string // e.g. AWS::S3::Bucket
	// Name is the element's ARN; without one, the first non-empty of its
	// ARNPrefix, resourceName and name; else "".
	Name string
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

// IDOf returns the eventID of a stored record's bytes without parsing it
// whole: its eventID member, or for an aggregated event (which names it
// eventId) that member. "" when there is none.
func IDOf(raw []byte) string {
	if id := fastjson.GetString(raw, "eventID"); id != "" {
		return id
	}
	if fastjson.GetString(raw, "eventType") == AggregatedEventType {
		return fastjson.GetString(raw, "eventId")
	}
	return ""
}

// FailedSignIn reports whether r is a console sign-in that failed: a
// ConsoleLogin whose responseElements.ConsoleLogin is "Failure" (CloudTrail
// gives a failed sign-in no errorCode).
func (r *Record) FailedSignIn() bool {
	return r.EventName == "ConsoleLogin" && fastjson.GetString(r.Raw, "responseElements", "ConsoleLogin") == "Failure"
}

// Failed reports whether r records a failed call: it has an errorCode, or
// it is a failed console sign-in.
func (r *Record) Failed() bool { return r.ErrorCode != "" || r.FailedSignIn() }
