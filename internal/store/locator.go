package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// The event locator says where a columnar event is: the cold_ids table
// holds, for every event in the columnar tier, the hash of its eventID
// (eid_hash, as the events table keeps it), its sequence number and the
// UTC day of its eventTime (its file's partition). A lookup by EventId
// reads the hash's rows and searches only the files of those days whose
// sequence range holds one of those numbers, rather than every eventID of
// every file; a hash with no rows is no columnar event at all.
//
// Compaction writes an event's row in the transaction that lists its
// file and deletes it from the events table, so the locator covers the
// columnar tier exactly at every commit; each compaction's rows go in
// sorted by hash, so a lookup's zone-map pruning reads one row group of
// them per compaction. Retention deletes the rows of the days no file
// holds any more. A store whose columnar tier predates the locator gets
// it from its files at Open (upgradeLocator).

const locatorSchema = `
CREATE TABLE IF NOT EXISTS cold_ids (
	eid_hash BIGINT NOT NULL,
	seq      BIGINT NOT NULL,
	day      DATE NOT NULL
);
`

// metaLocator marks, in meta, a store whose locator covers its columnar
// tier.
const metaLocator = "event-locator"

// eventPlace is one locator row: a columnar event's number and day.
type eventPlace struct {
	seq int64
	day time.Time
}

// locate returns the places of the columnar events whose eventIDs hash as
// ids do. The caller holds cold.mu, so the rows and the manifest are the
// same moment's.
func (c *cold) locate(ctx context.Context, ids []string) ([]eventPlace, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = int64(hashID(id))
	}
	rows, err := c.st.db.QueryContext(ctx, `SELECT seq, day FROM cold_ids WHERE eid_hash IN (`+placeholders(len(args))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("locate events: %w", err)
	}
	defer rows.Close()
	var out []eventPlace
	for rows.Next() {
		var p eventPlace
		if err := rows.Scan(&p.seq, &p.day); err != nil {
			return nil, fmt.Errorf("locate events: %w", err)
		}
		p.day = p.day.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// holds reports whether f may hold an event at one of places.
func (f ColdFile) holds(places []eventPlace) bool {
	for _, p := range places {
		if f.Day.Equal(p.day) && p.seq >= f.MinSeq && p.seq <= f.MaxSeq {
			return true
		}
	}
	return false
}

// locateCompacted adds the locator rows of the events a compaction moves
// (every hot event up to through), in the compaction's transaction.
func locateCompacted(ctx context.Context, tx *sql.Tx, through int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO cold_ids SELECT eid_hash, seq, CAST(event_time AS DATE) FROM events WHERE seq <= ? ORDER BY eid_hash`, through); err != nil {
		return fmt.Errorf("locate compacted events: %w", err)
	}
	return nil
}

// upgradeLocator builds the locator of a store made before it, from the
// columnar files' eventIDs, in one transaction with the meta mark; an
// interrupted upgrade starts again at the next Open. It runs after the
// manifest is loaded and before any compaction.
func (s *Store) upgradeLocator(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, locatorSchema); err != nil {
		return fmt.Errorf("create event locator: %w", err)
	}
	if _, err := s.Meta(ctx, metaLocator); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	start := time.Now()
	conn, err := s.connector.Connect(ctx)
	if err != nil {
		return fmt.Errorf("build event locator: %w", err)
	}
	defer conn.Close()
	exec := func(q string, args ...driver.NamedValue) error {
		_, err := conn.(driver.ExecerContext).ExecContext(ctx, q, args)
		return err
	}
	fail := func(err error) error { return fmt.Errorf("build event locator: %w", err) }
	if err := exec(`CREATE TEMP TABLE locator_build (eid_hash BIGINT, seq BIGINT, day DATE)`); err != nil {
		return fail(err)
	}
	app, err := duckdb.NewAppender(conn, "temp", "main", "locator_build")
	if err != nil {
		return fail(err)
	}
	n := 0
	for _, f := range s.cold.files {
		rows, err := s.db.QueryContext(ctx, `SELECT coalesce("eventID", ''), _seq FROM `+ParquetSource([]string{s.cold.path(f.Path)}))
		if err != nil {
			app.Close()
			return fail(err)
		}
		for rows.Next() {
			var (
				id  string
				seq int64
			)
			if err := rows.Scan(&id, &seq); err != nil {
				rows.Close()
				app.Close()
				return fail(err)
			}
			if err := app.AppendRow(int64(hashID(id)), seq, f.Day); err != nil {
				rows.Close()
				app.Close()
				return fail(err)
			}
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			app.Close()
			return fail(err)
		}
	}
	if err := app.Close(); err != nil { // flushes
		return fail(err)
	}
	if err := exec("BEGIN TRANSACTION"); err != nil {
		return fail(err)
	}
	committed := false
	defer func() {
		if !committed {
			exec("ROLLBACK")
		}
	}()
	if err := exec(`DELETE FROM cold_ids; INSERT INTO cold_ids SELECT * FROM temp.locator_build ORDER BY eid_hash`); err != nil {
		return fail(err)
	}
	if err := exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		driver.NamedValue{Ordinal: 1, Value: metaLocator}, driver.NamedValue{Ordinal: 2, Value: []byte("1")}); err != nil {
		return fail(err)
	}
	if err := exec("COMMIT"); err != nil {
		return fail(err)
	}
	committed = true
	if n > 0 {
		s.log.Info("built the event locator of the columnar tier", "events", n, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}
