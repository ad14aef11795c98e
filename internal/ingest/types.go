package ingest

// Outcome is what happened to one submitted record.
type Outcome int

const (
	Accepted  Outcome = iota // stored now
	Duplicate                // an event with this eventID was already stored; nothing written
)

// Result reports a submission: Outcomes[i] belongs to the i-th record.
type Result struct {
	Outcomes   []Outcome
	Accepted   int
	Duplicates int
}
