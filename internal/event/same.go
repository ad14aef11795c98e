package event

import "bytes"

// CategoryActivityAuditLog is the eventCategory of events received through
// a CloudTrail Lake channel (PutAuditEvents).
const CategoryActivityAuditLog = "ActivityAuditLog"

// receiptTime is the path of the member that records when a channel event
// was received: it says nothing about the event itself.
var receiptTime = []pathStep{{key: "metadata"}, {key: "ingestionTime"}}

// SameEvent reports whether stored, the Raw of a stored record, and rec,
// a record with the same account and eventID, are the same event: whether
// rec is a retry of stored rather than a different record reusing its
// eventID. They are the same when their bytes are (Raw is the compact form
// Parse produces, so whitespace does not count), and for events received
// through a channel (eventCategory ActivityAuditLog) also when they differ
// only in metadata.ingestionTime, the time the retry arrived.
func SameEvent(stored []byte, rec *Record) bool {
	if bytes.Equal(stored, rec.Raw) {
		return true
	}
	if rec.EventCategory != CategoryActivityAuditLog {
		return false
	}
	a, ok := findMember(stored, receiptTime, false)
	if !ok {
		return false
	}
	b, ok := findMember(rec.Raw, receiptTime, false)
	if !ok {
		return false
	}
	return bytes.Equal(stored[:a.valStart], rec.Raw[:b.valStart]) && bytes.Equal(stored[a.valEnd:], rec.Raw[b.valEnd:])
}
