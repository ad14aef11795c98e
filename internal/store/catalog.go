package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// Catalog is the store's small tables beside the events: trails, Lake
// channels, consumers' cursors and meta values. A Store embeds one, so
// its methods are the Store's.
type Catalog struct {
	db *sql.DB
	// trailsGen counts committed changes to the trails table, so that
	// readers holding trail settings can tell cheaply that theirs may be
	// stale.
	trailsGen atomic.Int64
	now       func() time.Time
}

// Trail is a CloudTrail trail as the control plane stores it. The store
// keeps Doc, the trail's settings (bucket, prefix, selectors, tags,
// logging state, ...), as an opaque JSON document that the API layer
// defines.
type Trail struct {
	ARN        string
	Name       string
	Account    string
	HomeRegion string
	Doc        []byte // JSON object
	Created    time.Time
	Updated    time.Time
}

// CreateTrail stores a new trail; ErrExists if its ARN is taken.
func (cat *Catalog) CreateTrail(ctx context.Context, t Trail) error {
	var n int
	if err := cat.db.QueryRowContext(ctx, `SELECT count(*) FROM trails WHERE arn = ?`, t.ARN).Scan(&n); err != nil {
		return fmt.Errorf("create trail: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("create trail %s: %w", t.ARN, ErrExists)
	}
	_, err := cat.db.ExecContext(ctx, `INSERT INTO trails VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ARN, t.Name, t.Account, t.HomeRegion, string(t.Doc), t.Created.UTC(), t.Updated.UTC())
	if err != nil {
		if strings.Contains(err.Error(), "Constraint") {
			return fmt.Errorf("create trail %s: %w", t.ARN, ErrExists)
		}
		return fmt.Errorf("create trail: %w", err)
	}
	cat.trailsGen.Add(1)
	return nil
}

// GetTrail returns the trail with that ARN, or ErrNotFound.
func (cat *Catalog) GetTrail(ctx context.Context, arn string) (Trail, error) {
	ts, err := cat.trails(ctx, `WHERE arn = ?`, arn)
	if err != nil {
		return Trail{}, err
	}
	if len(ts) == 0 {
		return Trail{}, fmt.Errorf("get trail %s: %w", arn, ErrNotFound)
	}
	return ts[0], nil
}

// ListTrails returns the account's trails in every region, ordered by ARN.
func (cat *Catalog) ListTrails(ctx context.Context, account string) ([]Trail, error) {
	return cat.trails(ctx, `WHERE account = ? ORDER BY arn`, account)
}

// UpdateTrail replaces the settings document of the trail with t.ARN and
// sets its update time; ErrNotFound if there is no such trail. Name,
// account, home region and creation time do not change.
func (cat *Catalog) UpdateTrail(ctx context.Context, t Trail) error {
	res, err := cat.db.ExecContext(ctx, `UPDATE trails SET doc = ?, updated = ? WHERE arn = ?`,
		string(t.Doc), t.Updated.UTC(), t.ARN)
	if err != nil {
		return fmt.Errorf("update trail: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update trail %s: %w", t.ARN, ErrNotFound)
	}
	cat.trailsGen.Add(1)
	return nil
}

// TrailsGeneration counts the trail changes committed since the store was
// opened. A change committed before a call is counted in its answer.
func (cat *Catalog) TrailsGeneration() int64 { return cat.trailsGen.Load() }

// DeleteTrail removes a trail, or answers ErrNotFound.
func (cat *Catalog) DeleteTrail(ctx context.Context, arn string) error {
	res, err := cat.db.ExecContext(ctx, `DELETE FROM trails WHERE arn = ?`, arn)
	if err != nil {
		return fmt.Errorf("delete trail: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete trail %s: %w", arn, ErrNotFound)
	}
	cat.trailsGen.Add(1)
	return nil
}

func (cat *Catalog) trails(ctx context.Context, where string, args ...any) ([]Trail, error) {
	rows, err := cat.db.QueryContext(ctx, `SELECT arn, name, account, home_region, doc, created, updated FROM trails `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read trails: %w", err)
	}
	defer rows.Close()
	var out []Trail
	for rows.Next() {
		var (
			t   Trail
			doc string
		)
		if err := rows.Scan(&t.ARN, &t.Name, &t.Account, &t.HomeRegion, &doc, &t.Created, &t.Updated); err != nil {
			return nil, fmt.Errorf("read trails: %w", err)
		}
		t.Doc, t.Created, t.Updated = []byte(doc), t.Created.UTC(), t.Updated.UTC()
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read trails: %w", err)
	}
	return out, nil
}

// AllTrails returns every account's trails, ordered by ARN.
func (cat *Catalog) AllTrails(ctx context.Context) ([]Trail, error) {
	return cat.trails(ctx, `ORDER BY arn`)
}
