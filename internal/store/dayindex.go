package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// The day index records, for each value of a selective lookup attribute,
// the days (UTC, of eventTime) on which some event carried it, in the
// lookup_days table. A lookup reads the value's days first: a value never
// seen costs one small query instead of a scan of the whole history, and
// the time slices it searches skip days without the value. Keys ignore
// account and region, so the days are a superset of what one account and
// region saw, which keeps the table small and the answer exact.

// Attribute codes in day-index keys.
const (
	dayEventName byte = iota + 1
	dayEventSource
	dayUsername
	dayAccessKey
	dayResourceType
	dayResourceName
)

// dayAttr maps a LookupEvents attribute key to its day-index code.
var dayAttr = map[string]byte{
	"EventName":    dayEventName,
	"EventSource":  dayEventSource,
	"Username":     dayUsername,
	"AccessKeyId":  dayAccessKey,
	"ResourceType": dayResourceType,
	"ResourceName": dayResourceName,
}

func dayKey(code byte, value string) int64 {
	h := fnv.New64a()
	h.Write([]byte{code})
	h.Write([]byte(value))
	return int64(h.Sum64())
}

func dayOf(t time.Time) int32 { return int32(t.UTC().Unix() / 86400) }

// dayPair packs a key and a day for the in-memory set of pairs present.
func dayPair(key int64, day int32) uint64 {
	return mix(uint64(key)^uint64(uint32(day))*0x9e3779b97f4a7c15) | 1
}

// dayRows lists the (key, day) pairs rec adds to the index; types and
// names are resourceColumns(rec.Resources).
func dayRows(rec *event.Record, types, names []string, add func(key int64, day int32)) {
	d := dayOf(rec.EventTime)
	put := func(code byte, v string) {
		if v != "" {
			add(dayKey(code, v), d)
		}
	}
	put(dayEventName, rec.EventName)
	put(dayEventSource, rec.EventSource)
	put(dayUsername, rec.Username)
	put(dayAccessKey, rec.AccessKeyID)
	for _, t := range types {
		put(dayResourceType, t)
	}
	for _, n := range names {
		put(dayResourceName, n)
	}
}

// loadDays fills the in-memory set of indexed pairs.
func (s *Store) loadDays(ctx context.Context) (*idSet, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM lookup_days`).Scan(&n); err != nil {
		return nil, fmt.Errorf("count day index: %w", err)
	}
	set := newIDSet(int(n))
	rows, err := s.db.QueryContext(ctx, `SELECT key, day FROM lookup_days`)
	if err != nil {
		return nil, fmt.Errorf("load day index: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			key int64
			day int32
		)
		if err := rows.Scan(&key, &day); err != nil {
			return nil, fmt.Errorf("load day index: %w", err)
		}
		set.add(dayPair(key, day))
	}
	return set, rows.Err()
}

// valueDays returns the days, newest first, within [lo, hi], on which
// the attribute value was seen.
func (s *Store) valueDays(ctx context.Context, code byte, value string, lo, hi int32) ([]int32, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT day FROM lookup_days WHERE key = ? AND day BETWEEN ? AND ? ORDER BY day DESC`,
		dayKey(code, value), lo, hi)
	if err != nil {
		return nil, fmt.Errorf("read day index: %w", err)
	}
	defer rows.Close()
	var days []int32
	for rows.Next() {
		var d int32
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("read day index: %w", err)
		}
		days = append(days, d)
	}
	return days, rows.Err()
}
