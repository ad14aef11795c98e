package cis

import (
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

func parseRecord(raw []byte) (*event.Record, error) { return event.Parse(raw) }

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func match(pattern string, rec []byte) bool { return Matches(pattern, rec) }
