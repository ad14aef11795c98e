// Package rollup keeps hourly rollups of the committed event stream for
// the console's built-in dashboards (overview and CIS), so that a page
// over 24 hours, 7 or 30 days reads a few thousand rows instead of every
// event of the range.
//
// A stream consumer reads the committed events by a durable cursor and
// keeps, per account:
//
//   - ru_hourly (account, hour, dim, value, n): per UTC hour the number of
//     events by category ("category"), by outcome ("errored": "true" or
//     "false"), by readOnly ("readonly": "true", "false" or "unknown"), by
//     eventSource ("source"), eventName ("name"), user as event history's
//     Username filter derives it ("user"), sourceIPAddress ("ip", "" when
//     absent) and, for failed calls, errorCode ("error");
//   - ru_cis: one row per event any CIS monitoring panel counts (failed
//     console logins, logins without MFA, root use, unauthorised calls, the
//     change controls' events, the KMS key events), with its exact
//     eventTime and the fields those panels show, under the event view's
//     column names (eventTime, eventName, eventSource, sourceIPAddress,
//     errorCode, recipientAccountId, eventID) plus username, keyId and one
//     flag per panel (failed_login, no_mfa, root, unauth, change, kms).
//
// The counts and the cursor commit in one transaction, so a replay after
// a crash counts nothing twice. The consumer is not on the ingest path: it
// follows the stream, and Fresh tells a reader whether the rollups hold
// every event committed so far (catching up first when only a little
// behind). docs/console.md, Dashboards, describes how pages use them.
package rollup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/poll"
	"github.com/opentrail/opentrail/internal/store"
)

// Table names, for the console's queries.
const (
	HourlyTable = "ru_hourly"
	CISTable    = "ru_cis"
)

// Dimensions of ru_hourly.
const (
	DimCategory = "category"
	DimErrored  = "errored"
	DimReadOnly = "readonly"
	DimSource   = "source"
	DimName     = "name"
	DimUser     = "user"
	DimIP       = "ip"
	DimError    = "error"
)

var schema = []string{
	`CREATE TABLE IF NOT EXISTS ru_hourly (account VARCHAR NOT NULL, hour TIMESTAMP NOT NULL, dim VARCHAR NOT NULL,
		value VARCHAR NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (account, hour, dim, value))`,
	`CREATE TABLE IF NOT EXISTS ru_cis (seq BIGINT NOT NULL, recipientAccountId VARCHAR NOT NULL, eventTime TIMESTAMP NOT NULL,
		eventID VARCHAR, eventName VARCHAR, eventSource VARCHAR, eventType VARCHAR, username VARCHAR, sourceIPAddress VARCHAR,
		errorCode VARCHAR, keyId VARCHAR, failed_login BOOLEAN, no_mfa BOOLEAN, root BOOLEAN, unauth BOOLEAN,
		change BOOLEAN, kms BOOLEAN)`,
	`CREATE TABLE IF NOT EXISTS ru_state (name VARCHAR PRIMARY KEY, v BIGINT NOT NULL)`,
}

// Defaults for Config.
const (
	DefaultSyncLimit = 5_000
	readBatch        = 20_000
)

// Config configures the rollups. Zero values take the defaults.
type Config struct {
	Store  *store.Store
	Clock  clock.Clock
	Logger *slog.Logger
	// Poll is how often the stream is read (1s).
	Poll time.Duration
	// SyncLimit is how many events behind Fresh still catches up before
	// answering; further behind, it reports the rollups not fresh
	// (DefaultSyncLimit).
	SyncLimit int64
	// Retention is the store's retention period (0: none). Ranges
	// starting before now − Retention may hold events retention removed,
	// which the rollups still count: Covers says no for them.
	Retention time.Duration
}

// Rollups is the component.
type Rollups struct {
	cfg Config
	st  *store.Store
	db  *sql.DB
	clk clock.Clock
	log *slog.Logger
	cis cisMatcher

	syncMu sync.Mutex // serialises steps
	logged time.Time  // the last progress line (under syncMu)
	mu     sync.Mutex // guards cur, loaded
	cur    int64
	loaded bool

	loop *poll.Loop
}

// New creates the rollup tables in the store's database when missing.
func New(cfg Config) (*Rollups, error) {
	if cfg.Store == nil {
		return nil, errors.New("rollup: no store")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.SyncLimit <= 0 {
		cfg.SyncLimit = DefaultSyncLimit
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newCISMatcher()
	if err != nil {
		return nil, err
	}
	r := &Rollups{cfg: cfg, st: cfg.Store, db: cfg.Store.DB(), clk: clock.Or(cfg.Clock), log: cfg.Logger, cis: m}
	for _, q := range schema {
		if _, err := r.db.Exec(q); err != nil {
			return nil, fmt.Errorf("rollup: create tables: %w", err)
		}
	}
	return r, nil
}

// Start runs the consumer in the background.
func (r *Rollups) Start() {
	r.loop = poll.New(poll.Config{
		Name:    "rollup",
		Clock:   r.clk,
		Every:   r.cfg.Poll,
		Step:    r.Sync,
		OnError: func(err error) { r.log.Error("rollup: update the dashboards' rollups", "err", err) },
	})
	r.loop.Start()
}

// Close stops the consumer; counts already committed stay.
func (r *Rollups) Close(ctx context.Context) error {
	if r == nil || r.loop == nil {
		return nil
	}
	return r.loop.Close(ctx)
}

// Cursor is the sequence number through which every committed event is
// counted.
func (r *Rollups) Cursor(ctx context.Context) (int64, error) {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	if err := r.load(ctx); err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur, nil
}

// Sync counts the committed stream up to its end.
func (r *Rollups) Sync(ctx context.Context) error {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	for {
		n, err := r.step(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
}

// Fresh reports whether the rollups count every event committed before
// the call: at once when the consumer has caught up; after a Sync when it
// is at most SyncLimit events behind; false (read the events instead)
// when it is further behind, as right after a large import.
func (r *Rollups) Fresh(ctx context.Context) (bool, error) {
	last := r.st.CommittedSeq()
	r.mu.Lock()
	cur, loaded := r.cur, r.loaded
	r.mu.Unlock()
	if loaded && cur >= last {
		return true, nil
	}
	if loaded && last-cur > r.cfg.SyncLimit {
		return false, nil
	}
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	if err := r.load(ctx); err != nil {
		return false, err
	}
	for {
		r.mu.Lock()
		cur = r.cur
		r.mu.Unlock()
		if cur >= last {
			return true, nil
		}
		if last-cur > r.cfg.SyncLimit {
			return false, nil
		}
		n, err := r.step(ctx)
		if err != nil {
			return false, err
		}
		if n == 0 {
			r.mu.Lock()
			cur = r.cur
			r.mu.Unlock()
			return cur >= last, nil
		}
	}
}

// Progress reports, without waiting for a step in progress, the sequence
// number the rollups have counted through and the newest committed one;
// known is false before the consumer has read its cursor.
func (r *Rollups) Progress() (counted, committed int64, known bool) {
	committed = r.st.CommittedSeq()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur, committed, r.loaded
}

// Covers reports whether the rollups count exactly the stored events of
// ranges starting at start: with retention, events older than its period
// may have been removed from the store but not from the counts.
func (r *Rollups) Covers(start time.Time) bool {
	return r.cfg.Retention <= 0 || !start.Before(r.clk.Now().Add(-r.cfg.Retention))
}

func (r *Rollups) load(ctx context.Context) error {
	r.mu.Lock()
	loaded := r.loaded
	r.mu.Unlock()
	if loaded {
		return nil
	}
	var cur int64
	err := r.db.QueryRowContext(ctx, `SELECT v FROM ru_state WHERE name = 'cursor'`).Scan(&cur)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("rollup: read cursor: %w", err)
	}
	r.mu.Lock()
	r.cur, r.loaded = cur, true
	r.mu.Unlock()
	return nil
}

// step counts one batch of events; the counts and the cursor commit
// together. A failed step forgets the position in memory, so the next
// starts again from the durable cursor.
func (r *Rollups) step(ctx context.Context) (n int, err error) {
	defer func() {
		if err != nil {
			r.mu.Lock()
			r.loaded = false
			r.mu.Unlock()
		}
	}()
	if err := r.load(ctx); err != nil {
		return 0, err
	}
	r.mu.Lock()
	cur := r.cur
	r.mu.Unlock()
	last := r.st.CommittedSeq()
	if cur >= last {
		return 0, nil
	}
	b := newBatch()
	// Far behind, inside the columnar tier (a first build over a
	// compacted history), a whole compaction run at a time: ScanRun reads
	// each of its files once, where windows in sequence order would read
	// them all again for every window. The counts do not depend on order.
	// A short way behind (Fresh catching up), the next events in order.
	var newCur int64
	cold := false
	if last-cur > readBatch {
		newCur, err = r.st.ScanRun(ctx, cur, func(evs []store.Event) error {
			for i := range evs {
				b.add(evs[i].Seq, evs[i].Rec, &r.cis)
			}
			n += len(evs)
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("rollup: %w", err)
		}
		cold = newCur > 0
	}
	if newCur == 0 {
		evs, err := r.st.ReadAfter(ctx, cur, readBatch)
		if err != nil {
			return 0, fmt.Errorf("rollup: %w", err)
		}
		newCur = last // nothing after cur: every number through last was removed
		if len(evs) > 0 {
			newCur = evs[len(evs)-1].Seq
		}
		for i := range evs {
			b.add(evs[i].Seq, evs[i].Rec, &r.cis)
		}
		n = len(evs)
	}
	if err := r.commit(ctx, b, cur, newCur); err != nil {
		if errors.Is(err, errMoved) {
			// Another consumer counted past cur: start again from the
			// durable cursor.
			r.mu.Lock()
			r.loaded = false
			r.mu.Unlock()
			return 1, nil
		}
		return 0, err
	}
	r.mu.Lock()
	r.cur = newCur
	r.mu.Unlock()
	if cold && r.clk.Now().Sub(r.logged) >= 10*time.Second {
		// A first build over a large history takes minutes, while the
		// dashboards read the events instead: say how far it is.
		r.logged = r.clk.Now()
		r.log.Info("rollup: counting the stored history for the dashboards; until it is done they read the events",
			"counted through", newCur, "of", last)
	}
	return max(n, 1), nil
}

// errMoved means the durable cursor is not where the step began.
var errMoved = errors.New("rollup: the cursor moved")

// commit writes the batch's counts and rows and moves the cursor from
// from to cur, in one transaction; if the durable cursor is not at from,
// it writes nothing and returns errMoved.
func (r *Rollups) commit(ctx context.Context, b *batch, from, cur int64) error {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("rollup: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("rollup: %w", err)
	}
	var durable int64
	err = conn.QueryRowContext(ctx, `SELECT v FROM ru_state WHERE name = 'cursor'`).Scan(&durable)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("rollup: read cursor: %w", err)
	}
	if durable != from {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return errMoved
	}
	if err := b.write(ctx, conn); err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("rollup: %w", err)
	}
	if beforeCommit != nil {
		if err := beforeCommit(); err != nil {
			conn.ExecContext(context.Background(), "ROLLBACK")
			return fmt.Errorf("rollup: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, `INSERT OR REPLACE INTO ru_state VALUES ('cursor', ?)`, cur); err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("rollup: save cursor: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("rollup: %w", err)
	}
	return nil
}

// beforeCommit, when set (by tests), runs after a step wrote its counts
// and before the cursor and commit; an error fails the step there.
var beforeCommit func() error

// Scope is the SQL condition limiting a rollup table to accounts (nil:
// every account), on the account column col.
func Scope(col string, accounts []string) string {
	if accounts == nil {
		return "TRUE"
	}
	if len(accounts) == 0 {
		return "FALSE"
	}
	q := make([]string, len(accounts))
	for i, a := range accounts {
		q[i] = "'" + strings.ReplaceAll(a, "'", "''") + "'"
	}
	return col + " IN (" + strings.Join(q, ", ") + ")"
}

// Query runs a read-only query over the rollup tables and returns its
// rows as the event queries render them: NULL as "", times as
// "2006-01-02 15:04:05.000", numbers in decimal. The caller limits it to
// the reader's accounts with Scope.
func (r *Rollups) Query(ctx context.Context, q string, args ...any) ([][]string, error) {
	rows, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("rollup: query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("rollup: query: %w", err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out [][]string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("rollup: query: %w", err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = format(v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rollup: query: %w", err)
	}
	return out, nil
}

func format(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.UTC().Format("2006-01-02 15:04:05.000")
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case *big.Int:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}
