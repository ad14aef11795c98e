package store

import (
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// Attr is one lookup condition. Key is a LookupEvents AttributeKey
// (EventId, EventName, ReadOnly, Username, ResourceType, ResourceName,
// EventSource, AccessKeyId) or one of the console's further keys,
// SourceIPAddress and ErrorCode (indexed columns the day index does not
// cover: they narrow by column scan, newest first); Value must match
// exactly (case-sensitive).
type Attr struct {
	Key   string
	Value string
}

// Position is a place in the newest-first order of a lookup: events sort
// by eventTime descending, then by sequence number descending.
type Position struct {
	Time time.Time
	Seq  int64
}

// LookupQuery selects events for the event history. Zero values mean "no
// restriction" except Limit, which must be > 0.
type LookupQuery struct {
	Accounts   []string  // the event's account is one of these; empty = any
	Region     string    // awsRegion; "" = any
	Start, End time.Time // eventTime within [Start, End], inclusive; zero = open
	Attrs      []Attr    // all must match
	// Categories restricts eventCategory (Management, Data, Insight);
	// empty = any.
	Categories []string
	// Failures keeps only failed calls (event.Record.Failed): those with
	// an errorCode, and failed console sign-ins, which have none (their
	// responseElements.ConsoleLogin is "Failure").
	Failures bool
	After    *Position // only events strictly after this position (older)
	Limit    int
	// Brief asks only for the fields a list of events shows: the
	// columnar tier's events are then read from those columns alone
	// (reading a whole record decompresses every column of its row
	// group, most of a lookup's cost) and come marked Brief. Hot events
	// come whole either way.
	Brief bool
}

// Event is one stored event as lookups return it.
type Event struct {
	Seq        int64
	IngestTime time.Time
	Rec        *event.Record // Raw and the indexed fields
	// Brief marks an event a Brief lookup read from the columnar tier:
	// Rec holds only EventID, EventTime, EventSource, EventName,
	// EventType, EventCategory, AWSRegion, SourceIP, ErrorCode,
	// AccountID, Username, AccessKeyID, ReadOnly and Resources, and Raw
	// is nil; Failed answers from the stored outcome.
	Brief  bool
	failed bool
}

// Failed reports whether the event is a failed call, as
// event.Record.Failed does, for brief events too.
func (e Event) Failed() bool {
	if e.Brief {
		return e.failed
	}
	return e.Rec.Failed()
}

// Channel is a CloudTrail Lake channel that PutAuditEvents writes through.
type Channel struct {
	ARN          string
	Name         string
	Source       string
	Account      string
	Region       string
	Destinations []byte // JSON array as the API received it
	Tags         []byte // JSON array as the API received it
	Created      time.Time
}
