package users

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Lockout is how repeated failed sign-ins lock a user name and a source
// address out: after Failures failures in a row, the key is locked for
// Base, then twice as long after each further run of Failures, up to Max.
// A key with no failure for Forget starts over. The zero value means
// DefaultLockout.
type Lockout struct {
	Failures int
	Base     time.Duration
	Max      time.Duration
	Forget   time.Duration
}

// DefaultLockout locks after 5 failures for 1 minute, doubling to at most
// 30 minutes, and forgets a quiet key after an hour.
var DefaultLockout = Lockout{Failures: 5, Base: time.Minute, Max: 30 * time.Minute, Forget: time.Hour}

// maxKeys bounds the lockout table; past it, keys neither locked nor
// failing recently are dropped first.
const maxKeys = 100_000

type lockState struct {
	failures    int // in a row since the last lock
	locks       int // locks so far
	lockedUntil time.Time
	last        time.Time // last failure
}

// lockouts counts failures by key ("user:NAME", "ip:ADDR"). The table
// cu_lockouts keeps every change before the sign-in is answered, so a
// restart keeps the counts and locks; the map is its copy in memory.
type lockouts struct {
	cfg Lockout
	db  *sql.DB
	log *slog.Logger
	mu  sync.Mutex
	m   map[string]*lockState
}

// lockoutSchema is the table of failure counts and locks (times in Unix
// nanoseconds).
const lockoutSchema = `CREATE TABLE IF NOT EXISTS cu_lockouts (key VARCHAR PRIMARY KEY, failures INTEGER NOT NULL,
	locks INTEGER NOT NULL, locked_until BIGINT NOT NULL, last_failure BIGINT NOT NULL)`

// openLockouts loads the failure counts and locks kept in db, forgetting
// those quiet for longer than cfg.Forget and no longer locked at now.
func openLockouts(ctx context.Context, db *sql.DB, cfg Lockout, log *slog.Logger, now time.Time) (*lockouts, error) {
	if cfg.Failures <= 0 {
		cfg = DefaultLockout
	}
	l := &lockouts{cfg: cfg, db: db, log: log, m: map[string]*lockState{}}
	if _, err := db.ExecContext(ctx, lockoutSchema); err != nil {
		return nil, fmt.Errorf("users: create the lockout table: %w", err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM cu_lockouts WHERE locked_until <= ? AND last_failure < ?`,
		now.UnixNano(), now.Add(-cfg.Forget).UnixNano()); err != nil {
		return nil, fmt.Errorf("users: forget old sign-in failures: %w", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT key, failures, locks, locked_until, last_failure FROM cu_lockouts`)
	if err != nil {
		return nil, fmt.Errorf("users: read the sign-in lockouts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var s lockState
		var until, last int64
		if err := rows.Scan(&k, &s.failures, &s.locks, &until, &last); err != nil {
			return nil, fmt.Errorf("users: read the sign-in lockouts: %w", err)
		}
		s.lockedUntil, s.last = time.Unix(0, until), time.Unix(0, last)
		l.m[k] = &s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("users: read the sign-in lockouts: %w", err)
	}
	return l, nil
}

// save keeps key's state in the table. The lock is held.
func (l *lockouts) save(key string, s *lockState) error {
	_, err := l.db.Exec(`INSERT OR REPLACE INTO cu_lockouts (key, failures, locks, locked_until, last_failure) VALUES (?, ?, ?, ?, ?)`,
		key, s.failures, s.locks, s.lockedUntil.UnixNano(), s.last.UnixNano())
	if err != nil {
		return fmt.Errorf("users: keep the sign-in failure count: %w", err)
	}
	return nil
}

// locked returns how long the longest lock among keys still lasts at now
// (0 when none is locked).
func (l *lockouts) locked(now time.Time, keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var d time.Duration
	for _, k := range keys {
		if s, ok := l.m[k]; ok && s.lockedUntil.After(now) {
			d = max(d, s.lockedUntil.Sub(now))
		}
	}
	return d
}

// fail counts a failure for each key and returns how long the longest
// lock it started lasts (0 when none). The counts are kept in the table
// before it returns; an error keeping them is returned with the lock
// (the sign-in is refused either way).
func (l *lockouts) fail(now time.Time, keys ...string) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) >= maxKeys {
		l.sweepLocked(now)
	}
	var d time.Duration
	var err error
	for _, k := range keys {
		s := l.m[k]
		if s == nil || now.Sub(s.last) > l.cfg.Forget && !s.lockedUntil.After(now) {
			s = &lockState{}
			l.m[k] = s
		}
		s.last = now
		s.failures++
		if s.failures >= l.cfg.Failures {
			s.failures = 0
			s.locks++
			lock := l.cfg.Base
			for i := 1; i < s.locks && lock < l.cfg.Max; i++ {
				lock *= 2
			}
			lock = min(lock, l.cfg.Max)
			s.lockedUntil = now.Add(lock)
			d = max(d, lock)
		}
		if e := l.save(k, s); e != nil && err == nil {
			err = e
		}
	}
	return d, err
}

// reset forgets keys (a successful sign-in, an administrator's unlock),
// in memory and in the table.
func (l *lockouts) reset(keys ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.m, k)
		if _, err := l.db.Exec(`DELETE FROM cu_lockouts WHERE key = ?`, k); err != nil {
			return fmt.Errorf("users: forget the sign-in failures of %s: %w", k, err)
		}
	}
	return nil
}

// sweepLocked drops keys neither locked nor failing recently, and when
// still full whatever is not locked, from memory and the table.
func (l *lockouts) sweepLocked(now time.Time) {
	var gone []string
	for k, s := range l.m {
		if !s.lockedUntil.After(now) && now.Sub(s.last) > l.cfg.Base {
			delete(l.m, k)
			gone = append(gone, k)
		}
	}
	for k, s := range l.m { // still full: drop whatever is not locked
		if len(l.m) < maxKeys {
			break
		}
		if !s.lockedUntil.After(now) {
			delete(l.m, k)
			gone = append(gone, k)
		}
	}
	for _, k := range gone {
		if _, err := l.db.Exec(`DELETE FROM cu_lockouts WHERE key = ?`, k); err != nil {
			l.log.Warn("console sign-in: a swept lockout key stays in the table", "key", k, "err", err)
			return
		}
	}
}

func userKey(name string) string { return "user:" + name }
func ipKey(ip string) string     { return "ip:" + ip }
