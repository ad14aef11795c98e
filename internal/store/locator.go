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
// manifest is loaded and before any compaction. DuckDB reads the files in
// parallel and hashes each eventID through eidHashUDF.
func (s lookups) upgradeLocator(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, locatorSchema); err != nil {
		return fmt.Errorf("create event locator: %w", err)
	}
	if _, err := s.Meta(ctx, metaLocator); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	start := time.Now()
	fail := func(err error) error { return fmt.Errorf("build event locator: %w", err) }
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fail(err)
	}
	defer conn.Close()
	if len(s.cold.files) > 0 {
		if err := duckdb.RegisterScalarUDF(conn, eidHashFunc, eidHashUDF{}); err != nil {
			return fail(err)
		}
	}
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fail(err)
	}
	committed := false
	defer func() {
		if !committed {
			conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if _, err := conn.ExecContext(ctx, `DELETE FROM cold_ids`); err != nil {
		return fail(err)
	}
	var n int64
	if len(s.cold.files) > 0 {
		paths := make([]string, len(s.cold.files))
		for i, f := range s.cold.files {
			paths[i] = s.cold.path(f.Path)
		}
		res, err := conn.ExecContext(ctx, `INSERT INTO cold_ids SELECT `+eidHashFunc+`("eventID"), _seq, "date" FROM `+ParquetSource(paths)+` ORDER BY 1`)
		if err != nil {
			return fail(err)
		}
		n, _ = res.RowsAffected()
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, metaLocator, []byte("1")); err != nil {
		return fail(err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fail(err)
	}
	committed = true
	if n > 0 {
		s.log.Info("built the event locator of the columnar tier", "events", n, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// eidHashFunc is the SQL name of eidHashUDF.
const eidHashFunc = "__ot_eid_hash"

// eidHashUDF is __ot_eid_hash(VARCHAR) → BIGINT: hashID of an eventID as
// eid_hash keeps it (NULL hashes as "").
type eidHashUDF struct{}

func (eidHashUDF) Config() duckdb.ScalarFuncConfig {
	varchar, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	bigint, _ := duckdb.NewTypeInfo(duckdb.TYPE_BIGINT)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{varchar}, ResultTypeInfo: bigint, SpecialNullHandling: true}
}

func (eidHashUDF) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(args []driver.Value) (any, error) {
		id, _ := args[0].(string)
		return int64(hashID(id)), nil
	}}
}
