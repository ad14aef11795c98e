// Package dashboards keeps the console's saved dashboards in the store's
// DuckDB (table db_dashboards): a dashboard is a title and widgets, each
// widget a SQL query over cloudtrail_events, a chart type and how a data
// point links to the events behind it — as CloudTrail Lake's dashboards
// are. A dashboard belongs to one account and is seen by that account's
// console users (and the management account's, who see every account).
//
// The package stores and loads; it does not run or check queries (the
// console does, through internal/query). A Store is safe for concurrent
// use. It is imported by the console and the server's wiring.
package dashboards

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Chart types a widget may draw.
const (
	ChartBar   = "bar"   // bars over time: rows (time, [series,] value)
	ChartLine  = "line"  // lines over time: rows (time, [series,] value)
	ChartTopN  = "topn"  // horizontal bars: rows (label, value)
	ChartPie   = "pie"   // a donut: rows (label, value)
	ChartTable = "table" // the rows as they are
)

// Charts are the chart types in the order the form offers them.
var Charts = []string{ChartBar, ChartLine, ChartTopN, ChartPie, ChartTable}

// LinkKeys are the event-history filters a widget's labels (or series)
// may link through: a point labelled "alice" with LinkKey "Username"
// links to /events?Username=alice.
var LinkKeys = []string{"", "EventName", "EventSource", "Username", "SourceIPAddress", "ErrorCode", "AccessKeyId", "ResourceType", "ResourceName", "EventId"}

// ErrNotFound is returned for a dashboard that does not exist or that
// the caller's accounts may not see.
var ErrNotFound = errors.New("dashboard not found")

// Widget is one chart of a dashboard.
type Widget struct {
	Title string `json:"title"`
	// SQL is the query; $StartTime$ and $EndTime$ stand for the chosen
	// range's ends (TIMESTAMP literals).
	SQL   string `json:"sql"`
	Chart string `json:"chart"`
	// LinkKey is the event-history filter labels link through ("" for
	// none); LinkFilters are more filters every link carries
	// ("errors=1&EventSource=iam.amazonaws.com").
	LinkKey     string `json:"linkKey,omitempty"`
	LinkFilters string `json:"linkFilters,omitempty"`
}

// Dashboard is a saved dashboard.
type Dashboard struct {
	ID      string
	Account string
	Owner   string // the creator's principal ARN
	Title   string
	Widgets []Widget
	Created time.Time
}

// Validate checks what can be checked without running the queries.
func (d *Dashboard) Validate() error {
	if d.Title == "" || len(d.Title) > 200 {
		return errors.New("give the dashboard a title (at most 200 characters)")
	}
	if len(d.Widgets) == 0 || len(d.Widgets) > 20 {
		return errors.New("a dashboard needs 1 to 20 widgets")
	}
	for i, w := range d.Widgets {
		switch {
		case w.Title == "":
			return fmt.Errorf("widget %d: give it a title", i+1)
		case w.SQL == "":
			return fmt.Errorf("widget %d: write its SQL query", i+1)
		case len(w.SQL) > 10000:
			return fmt.Errorf("widget %d: the query is longer than 10,000 characters", i+1)
		case !slices.Contains(Charts, w.Chart):
			return fmt.Errorf("widget %d: chart type %q is not one of %v", i+1, w.Chart, Charts)
		case !slices.Contains(LinkKeys, w.LinkKey):
			return fmt.Errorf("widget %d: link filter %q is not one of %v", i+1, w.LinkKey, LinkKeys[1:])
		}
	}
	return nil
}

// Store keeps dashboards in a DuckDB database.
type Store struct{ db *sql.DB }

// Open creates the table if needed.
func Open(ctx context.Context, db *sql.DB) (*Store, error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS db_dashboards (id VARCHAR PRIMARY KEY, account VARCHAR NOT NULL,
		owner VARCHAR NOT NULL, title VARCHAR NOT NULL, widgets VARCHAR NOT NULL, created TIMESTAMP NOT NULL)`); err != nil {
		return nil, fmt.Errorf("create db_dashboards: %w", err)
	}
	return &Store{db: db}, nil
}

// Create validates and saves d with a new ID (set on d).
func (s *Store) Create(ctx context.Context, d *Dashboard) error {
	if err := d.Validate(); err != nil {
		return err
	}
	var id [8]byte
	rand.Read(id[:])
	d.ID = "d-" + hex.EncodeToString(id[:])
	w, err := json.Marshal(d.Widgets)
	if err != nil {
		return err
	}
	if d.Created.IsZero() {
		d.Created = time.Now().UTC()
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO db_dashboards VALUES (?, ?, ?, ?, ?, ?)`, d.ID, d.Account, d.Owner, d.Title, string(w), d.Created.UTC())
	if err != nil {
		return fmt.Errorf("save dashboard: %w", err)
	}
	return nil
}

// visible is the SQL condition limiting rows to accounts (nil: all).
func visible(accounts []string) (string, []any) {
	if accounts == nil {
		return "TRUE", nil
	}
	if len(accounts) == 0 {
		return "FALSE", nil
	}
	args := make([]any, len(accounts))
	q := "account IN (?"
	for i, a := range accounts {
		args[i] = a
		if i > 0 {
			q += ", ?"
		}
	}
	return q + ")", args
}

// List returns the dashboards of accounts (nil: every account), newest
// first.
func (s *Store) List(ctx context.Context, accounts []string) ([]Dashboard, error) {
	cond, args := visible(accounts)
	rows, err := s.db.QueryContext(ctx, `SELECT id, account, owner, title, widgets, created FROM db_dashboards WHERE `+cond+` ORDER BY created DESC, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	defer rows.Close()
	var out []Dashboard
	for rows.Next() {
		d, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Get returns dashboard id if one of accounts (nil: any) owns it.
func (s *Store) Get(ctx context.Context, id string, accounts []string) (Dashboard, error) {
	cond, args := visible(accounts)
	rows, err := s.db.QueryContext(ctx, `SELECT id, account, owner, title, widgets, created FROM db_dashboards WHERE id = ? AND `+cond, append([]any{id}, args...)...)
	if err != nil {
		return Dashboard{}, fmt.Errorf("get dashboard: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Dashboard{}, err
		}
		return Dashboard{}, ErrNotFound
	}
	return scan(rows)
}

// Delete removes dashboard id if one of accounts (nil: any) owns it.
func (s *Store) Delete(ctx context.Context, id string, accounts []string) error {
	cond, args := visible(accounts)
	res, err := s.db.ExecContext(ctx, `DELETE FROM db_dashboards WHERE id = ? AND `+cond, append([]any{id}, args...)...)
	if err != nil {
		return fmt.Errorf("delete dashboard: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func scan(rows *sql.Rows) (Dashboard, error) {
	var d Dashboard
	var w string
	if err := rows.Scan(&d.ID, &d.Account, &d.Owner, &d.Title, &w, &d.Created); err != nil {
		return d, fmt.Errorf("read dashboard: %w", err)
	}
	if err := json.Unmarshal([]byte(w), &d.Widgets); err != nil {
		return d, fmt.Errorf("read dashboard %s: widgets: %w", d.ID, err)
	}
	return d, nil
}
