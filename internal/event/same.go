package event

import (
	"bytes"
	"encoding/json"
	"reflect"
)

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
// Parse produces, so whitespace does not count) or, failing that, when they
// hold the same members with the same values in another order (the same
// record exported by another tool); numbers compare as written. For events
// received through a channel (eventCategory ActivityAuditLog) they are
// also the same when they differ only in metadata.ingestionTime, the time
// the retry arrived.
func SameEvent(stored []byte, rec *Record) bool {
	if bytes.Equal(stored, rec.Raw) {
		return true
	}
	channel := rec.EventCategory == CategoryActivityAuditLog
	if channel {
		a, okA := findMember(stored, receiptTime, false)
		b, okB := findMember(rec.Raw, receiptTime, false)
		if okA && okB && bytes.Equal(stored[:a.valStart], rec.Raw[:b.valStart]) && bytes.Equal(stored[a.valEnd:], rec.Raw[b.valEnd:]) {
			return true
		}
	}
	return sameValue(stored, rec.Raw, channel)
}

// sameValue reports whether a and b are the same JSON value with object
// members in any order; numbers compare by their text. With
// ignoreReceipt, metadata.ingestionTime does not count. It runs only when
// the bytes differ, which a retry of the identical record never does.
func sameValue(a, b []byte, ignoreReceipt bool) bool {
	va, okA := decodeValue(a)
	vb, okB := decodeValue(b)
	if !okA || !okB {
		return false
	}
	if ignoreReceipt {
		dropReceipt(va)
		dropReceipt(vb)
	}
	return reflect.DeepEqual(va, vb)
}

func decodeValue(b []byte) (any, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

func dropReceipt(v any) {
	if m, ok := v.(map[string]any); ok {
		if md, ok := m["metadata"].(map[string]any); ok {
			delete(md, "ingestionTime")
		}
	}
}
