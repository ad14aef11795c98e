package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Cursor returns the sequence number a consumer has processed through (0
// for a consumer that has never saved one).
func (cat *Catalog) Cursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := cat.db.QueryRowContext(ctx, `SELECT seq FROM cursors WHERE name = ?`, name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cursor %s: %w", name, err)
	}
	return seq, nil
}

// SetCursor durably records that consumer name has processed every event
// through seq.
func (cat *Catalog) SetCursor(ctx context.Context, name string, seq int64) error {
	_, err := cat.db.ExecContext(ctx, `INSERT INTO cursors (name, seq, updated) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated = excluded.updated`,
		name, seq, cat.now().UTC())
	if err != nil {
		return fmt.Errorf("save cursor %s: %w", name, err)
	}
	return nil
}

// Meta returns a stored value, or ErrNotFound.
func (cat *Catalog) Meta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := cat.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read meta %s: %w", key, err)
	}
	return v, nil
}

// SetMeta stores a value durably.
func (cat *Catalog) SetMeta(ctx context.Context, key string, value []byte) error {
	_, err := cat.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("save meta %s: %w", key, err)
	}
	return nil
}

// CreateChannel stores a new channel; ErrExists if its ARN or its name in
// the account and region is taken.
func (cat *Catalog) CreateChannel(ctx context.Context, c Channel) error {
	var n int
	if err := cat.db.QueryRowContext(ctx, `SELECT count(*) FROM channels WHERE arn = ? OR (name = ? AND account = ? AND region = ?)`,
		c.ARN, c.Name, c.Account, c.Region).Scan(&n); err != nil {
		return fmt.Errorf("create channel: %w", err)
	}
	if n > 0 {
		return ErrExists
	}
	_, err := cat.db.ExecContext(ctx, `INSERT INTO channels VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ARN, c.Name, c.Source, c.Account, c.Region, string(c.Destinations), string(c.Tags), c.Created.UTC())
	if err != nil {
		if strings.Contains(err.Error(), "Constraint") {
			return ErrExists
		}
		return fmt.Errorf("create channel: %w", err)
	}
	return nil
}

// GetChannel returns the channel with that ARN, or ErrNotFound.
func (cat *Catalog) GetChannel(ctx context.Context, arn string) (Channel, error) {
	cs, err := cat.channels(ctx, `WHERE arn = ?`, arn)
	if err != nil {
		return Channel{}, err
	}
	if len(cs) == 0 {
		return Channel{}, ErrNotFound
	}
	return cs[0], nil
}

// ListChannels returns the account's channels, oldest first.
func (cat *Catalog) ListChannels(ctx context.Context, account string) ([]Channel, error) {
	return cat.channels(ctx, `WHERE account = ? ORDER BY created, arn`, account)
}

// DeleteChannel removes a channel, or answers ErrNotFound.
func (cat *Catalog) DeleteChannel(ctx context.Context, arn string) error {
	res, err := cat.db.ExecContext(ctx, `DELETE FROM channels WHERE arn = ?`, arn)
	if err != nil {
		return fmt.Errorf("delete channel: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func (cat *Catalog) channels(ctx context.Context, where string, args ...any) ([]Channel, error) {
	rows, err := cat.db.QueryContext(ctx, `SELECT arn, name, source, account, region, destinations, tags, created FROM channels `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read channels: %w", err)
	}
	defer rows.Close()
	var out []Channel
	for rows.Next() {
		var (
			c          Channel
			dest, tags string
		)
		if err := rows.Scan(&c.ARN, &c.Name, &c.Source, &c.Account, &c.Region, &dest, &tags, &c.Created); err != nil {
			return nil, fmt.Errorf("read channels: %w", err)
		}
		c.Destinations, c.Tags, c.Created = []byte(dest), []byte(tags), c.Created.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// ApplyRetention deletes events older than the retention period (by both
// eventTime and ingestion time, so events imported late still reach the
// consumers), except imported events unless Options.RetentionCoversImported,
// and blocks none of whose events remain. In the columnar tier it removes
// whole files: a file goes when all its events are past the cutoff (so an
// event may outlive the period by up to a day of its file). It returns how
// many events it deleted; with no retention configured it does nothing.
func (s *Store) ApplyRetention(ctx context.Context) (int64, error) {
	if s.opts.Retention <= 0 {
		return 0, nil
	}
	cutoff := s.opts.Now().Add(-s.opts.Retention).UTC()
	s.cold.compact.Lock()
	defer s.cold.compact.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.cold.mu.Lock()
	defer s.cold.mu.Unlock()
	q := `DELETE FROM events WHERE event_time < ? AND ingest_time < ?`
	if !s.opts.RetentionCoversImported {
		q += ` AND imported IS NOT TRUE`
	}
	res, err := s.db.ExecContext(ctx, q, cutoff, cutoff)
	if err != nil {
		return 0, fmt.Errorf("apply retention: %w", err)
	}
	n, _ := res.RowsAffected()
	coldN, err := s.cold.expireColdFiles(ctx, cutoff)
	if err != nil {
		return n, err
	}
	n += coldN
	if n == 0 {
		return 0, nil
	}
	// Blocks are kept while an SQL query that began earlier may read them
	// (sweep); retention leaves them to the next sweep when one runs.
	if !s.cold.oldReaders() {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM blocks WHERE block NOT IN (SELECT DISTINCT block FROM events)`); err != nil {
			return n, fmt.Errorf("apply retention: %w", err)
		}
	}
	// Day-index rows older than every remaining event go, and the
	// in-memory set is rebuilt so those days can be indexed again.
	oldest := `(SELECT min(epoch(event_time)) // 86400 FROM events)`
	for _, f := range s.cold.files {
		oldest = fmt.Sprintf("least(%s, %d)", oldest, f.MinTime.Unix()/86400)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM lookup_days WHERE day < coalesce(`+oldest+`, 0)`); err != nil {
		return n, fmt.Errorf("apply retention: %w", err)
	}
	days, err := s.loadDays(ctx)
	if err != nil {
		return n, err
	}
	s.days = days
	// Segment files no block points into any more go too.
	if err := s.cold.dropDeadSegments(ctx); err != nil {
		return n, fmt.Errorf("apply retention: %w", err)
	}
	return n, nil
}

// expireColdFiles removes the columnar files all of whose events are past
// cutoff (sparing files with imported events unless retention covers
// them) and returns how many events they held. The caller holds cold.mu.
func (c *cold) expireColdFiles(ctx context.Context, cutoff time.Time) (int64, error) {
	var gone []ColdFile
	kept := c.files[:0:0]
	for _, f := range c.files {
		if f.MaxTime.Before(cutoff) && f.MaxIngest.Before(cutoff) && (f.ImportedRows == 0 || c.st.opts.RetentionCoversImported) {
			gone = append(gone, f)
		} else {
			kept = append(kept, f)
		}
	}
	if len(gone) == 0 {
		return 0, nil
	}
	tx, err := c.st.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("apply retention: %w", err)
	}
	defer tx.Rollback()
	var n int64
	for _, f := range gone {
		if _, err := tx.ExecContext(ctx, `DELETE FROM columnar_files WHERE path = ?`, f.Path); err != nil {
			return 0, fmt.Errorf("apply retention: %w", err)
		}
		n += f.Rows
	}
	// The locator's rows of the days no file holds any more.
	drop, args := `DELETE FROM cold_ids`, []any{} // every row when no file is left
	if len(kept) > 0 {
		oldest := kept[0].Day
		for _, f := range kept {
			if f.Day.Before(oldest) {
				oldest = f.Day
			}
		}
		drop, args = drop+` WHERE day < ?`, append(args, oldest)
	}
	if _, err := tx.ExecContext(ctx, drop, args...); err != nil {
		return 0, fmt.Errorf("apply retention: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("apply retention: %w", err)
	}
	c.files = kept
	for _, f := range gone {
		c.removeColdFile(c.path(f.Path))
	}
	return n, nil
}

// Stats describes the store for metrics.
type Stats struct {
	Events    int64 // events stored
	DiskBytes int64 // size of the database file, its WAL, the record segments and the columnar files
}

// Stats counts the stored events and measures the files on disk.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&st.Events); err != nil {
		return st, fmt.Errorf("count events: %w", err)
	}
	events, coldBytes := s.cold.totals()
	st.Events += events
	st.DiskBytes += coldBytes
	for _, name := range []string{DBFile, DBFile + ".wal"} {
		if fi, err := os.Stat(filepath.Join(s.dir, name)); err == nil {
			st.DiskBytes += fi.Size()
		}
	}
	st.DiskBytes += s.segs.diskBytes()
	return st, nil
}

// Checkpoint folds the write-ahead log into the database file.
func (s *Store) Checkpoint(ctx context.Context) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := s.db.ExecContext(ctx, `CHECKPOINT`); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// DeleteMeta removes a stored value; removing a missing key is not an
// error.
func (cat *Catalog) DeleteMeta(ctx context.Context, key string) error {
	if _, err := cat.db.ExecContext(ctx, `DELETE FROM meta WHERE key = ?`, key); err != nil {
		return fmt.Errorf("delete meta %s: %w", key, err)
	}
	return nil
}
