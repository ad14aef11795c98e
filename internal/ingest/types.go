package ingest

// Outcome is what happened to one submitted record.
type Outcome int

const (
	Accepted  Outcome = iota // stored now
	Duplicate                // the same event (same account, eventID and content) was already stored; nothing written
	// Conflict: an event with the record's account and eventID but
	// different content was already stored (or came earlier in the same
	// group commit). The stored one is kept; nothing is written.
	Conflict
)

// Result reports a submission: Outcomes[i] belongs to the i-th record.
type Result struct {
	Outcomes   []Outcome
	Accepted   int
	Duplicates int
	Conflicts  int
}
