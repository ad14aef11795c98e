package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/internal/event"
)

// The day index records, for each value of a selective lookup attribute,
// the days (UTC, of eventTime) on which some event carried it, in the
// lookup_days table. A lookup reads the value's days first: a value never
// seen costs one small query instead of a scan of the whole history, and
// the time slices it searches skip days without the value.
//
// Each (value, day) is indexed twice: under a key of the value and the
// event's account, which LookupEvents reads (its caller sees one account,
// so the answer's timing depends only on that account's events: a value
// that exists only in another account answers as fast as one that exists
// nowhere), and under a key of the value alone, which queries across every
// account (the management account's native lookups) read. Keys ignore the
// region, so the days are a superset of what one region saw.

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

// dayKey is the key of a value in every account; it is the only key
// stores made before the index was split by account have.
func dayKey(code byte, value string) int64 {
	h := fnv.New64a()
	h.Write([]byte{code})
	h.Write([]byte(value))
	return int64(h.Sum64())
}

// accountDayKey is the key of a value in one account. Its first byte is
// never an attribute code, so the two kinds of key hash different inputs.
func accountDayKey(code byte, account, value string) int64 {
	h := fnv.New64a()
	h.Write([]byte{accountKeyTag | code})
	h.Write([]byte(account))
	h.Write([]byte{0})
	h.Write([]byte(value))
	return int64(h.Sum64())
}

const accountKeyTag = 0x80

// dayIndexLayout names, in meta, the index layout a store has: "account"
// once it holds per-account keys.
const (
	dayIndexLayoutKey = "day-index-layout"
	dayIndexByAccount = "account"
)

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
			add(accountDayKey(code, rec.AccountID, v), d)
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
// the attribute value was seen in one of accounts (in any account when
// accounts is empty).
func (s lookups) valueDays(ctx context.Context, code byte, accounts []string, value string, lo, hi int32) ([]int32, error) {
	var keys []any
	for _, a := range accounts {
		keys = append(keys, accountDayKey(code, a, value))
	}
	if len(keys) == 0 {
		keys = append(keys, dayKey(code, value))
	}
	args := append(keys, lo, hi)
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT day FROM lookup_days WHERE key IN (`+placeholders(len(keys))+`) AND day BETWEEN ? AND ? ORDER BY day DESC`,
		args...)
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

// dayIndexColumns are the event columns the index covers, by code; list
// columns are unnested.
var dayIndexColumns = []struct {
	code byte
	expr string
}{
	{dayEventName, "event_name"},
	{dayEventSource, "event_source"},
	{dayUsername, "username"},
	{dayAccessKey, "access_key_id"},
	{dayResourceType, "unnest(resource_types)"},
	{dayResourceName, "unnest(resource_names)"},
}

// upgradeDayIndex adds the per-account keys to a store whose index has
// only the all-accounts ones (made before the split), from the events
// themselves, in one transaction; then records the layout. It runs before
// the in-memory set of pairs is loaded.
func (s lookups) upgradeDayIndex(ctx context.Context) error {
	layout, err := s.Meta(ctx, dayIndexLayoutKey)
	if err == nil && string(layout) == dayIndexByAccount {
		return nil
	}
	if err != nil && err != ErrNotFound {
		return err
	}
	start := time.Now()
	// The new rows go in through an appender on a connection of their own,
	// in one transaction with the layout mark.
	conn, err := s.connector.Connect(ctx)
	if err != nil {
		return fmt.Errorf("upgrade day index: %w", err)
	}
	defer conn.Close()
	exec := func(q string, args ...driver.NamedValue) error {
		_, err := conn.(driver.ExecerContext).ExecContext(ctx, q, args)
		return err
	}
	if err := exec("BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("upgrade day index: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			exec("ROLLBACK")
		}
	}()
	app, err := duckdb.NewAppenderFromConn(conn, "", "lookup_days")
	if err != nil {
		return fmt.Errorf("upgrade day index: %w", err)
	}
	n := 0
	for _, c := range dayIndexColumns {
		rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT account, CAST(trunc(epoch(event_time) / 86400) AS INTEGER), v
			FROM (SELECT account, event_time, `+c.expr+` AS v FROM events) WHERE v IS NOT NULL AND v <> ''`)
		if err != nil {
			app.Close()
			return fmt.Errorf("upgrade day index: %w", err)
		}
		for rows.Next() {
			var (
				account, v string
				day        int32
			)
			if err := rows.Scan(&account, &day, &v); err != nil {
				rows.Close()
				app.Close()
				return fmt.Errorf("upgrade day index: %w", err)
			}
			if err := app.AppendRow(accountDayKey(c.code, account, v), day); err != nil {
				rows.Close()
				app.Close()
				return fmt.Errorf("upgrade day index: %w", err)
			}
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			app.Close()
			return fmt.Errorf("upgrade day index: %w", err)
		}
	}
	if err := app.Close(); err != nil { // flushes
		return fmt.Errorf("upgrade day index: %w", err)
	}
	if err := exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		driver.NamedValue{Ordinal: 1, Value: dayIndexLayoutKey}, driver.NamedValue{Ordinal: 2, Value: []byte(dayIndexByAccount)}); err != nil {
		return fmt.Errorf("upgrade day index: %w", err)
	}
	if err := exec("COMMIT"); err != nil {
		return fmt.Errorf("upgrade day index: %w", err)
	}
	committed = true
	if n > 0 {
		s.log.Info("day index now answers each account from its own events", "rows_added", n, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}
