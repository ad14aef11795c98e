package users

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Session is a signed-in browser as the table cu_sessions keeps it. The
// session id (the browser's cookie) is never stored: only its SHA-256,
// so a copy of the database signs nobody in.
type Session struct {
	// IDHash is SessionIDHash of the session id.
	IDHash string
	User   string
	// MFA says the sign-in used an MFA code.
	MFA bool
	// CSRF is the token the session's forms post back.
	CSRF     string
	Created  time.Time
	LastUsed time.Time
	// SourceIP and UserAgent are the browser's at sign-in.
	SourceIP, UserAgent string
}

// SessionIDHash is what the table keeps of a session id: its SHA-256 in
// hex. Session ids are 256 random bits, so no salt is needed.
func SessionIDHash(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

const sessionSchema = `CREATE TABLE IF NOT EXISTS cu_sessions (id_hash VARCHAR PRIMARY KEY, user_name VARCHAR NOT NULL,
	mfa BOOLEAN NOT NULL, csrf VARCHAR NOT NULL, created BIGINT NOT NULL, last_used BIGINT NOT NULL,
	source_ip VARCHAR NOT NULL, user_agent VARCHAR NOT NULL)`

func (s *Store) openSessions(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, sessionSchema); err != nil {
		return fmt.Errorf("users: create the session table: %w", err)
	}
	return nil
}

// SaveSession keeps a new session (or replaces one with the same IDHash).
func (s *Store) SaveSession(ctx context.Context, ss Session) error {
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO cu_sessions (id_hash, user_name, mfa, csrf, created, last_used, source_ip, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, ss.IDHash, ss.User, ss.MFA, ss.CSRF, ss.Created.UnixNano(), ss.LastUsed.UnixNano(), ss.SourceIP, ss.UserAgent)
	if err != nil {
		return fmt.Errorf("users: keep the session of %s: %w", ss.User, err)
	}
	return nil
}

// LoadSession returns the session kept under idHash, or ErrNotFound.
// Whether it has expired is the caller's to decide (LastUsed).
func (s *Store) LoadSession(ctx context.Context, idHash string) (Session, error) {
	ss := Session{IDHash: idHash}
	var created, used int64
	err := s.db.QueryRowContext(ctx, `SELECT user_name, mfa, csrf, created, last_used, source_ip, user_agent FROM cu_sessions WHERE id_hash = ?`,
		idHash).Scan(&ss.User, &ss.MFA, &ss.CSRF, &created, &used, &ss.SourceIP, &ss.UserAgent)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("users: read a session: %w", err)
	}
	ss.Created, ss.LastUsed = time.Unix(0, created).UTC(), time.Unix(0, used).UTC()
	return ss, nil
}

// TouchSession sets when a session was last used.
func (s *Store) TouchSession(ctx context.Context, idHash string, used time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE cu_sessions SET last_used = ? WHERE id_hash = ?`, used.UnixNano(), idHash); err != nil {
		return fmt.Errorf("users: keep a session's last use: %w", err)
	}
	return nil
}

// DeleteSession forgets one session (a sign-out).
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM cu_sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("users: forget a session: %w", err)
	}
	return nil
}

// DeleteUserSessions forgets every session of a user (removed, password
// or policies changed).
func (s *Store) DeleteUserSessions(ctx context.Context, name string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM cu_sessions WHERE user_name = ?`, name); err != nil {
		return fmt.Errorf("users: sign %s out: %w", name, err)
	}
	return nil
}

// DeleteSessionsUsedBefore forgets the sessions last used before t
// (expired).
func (s *Store) DeleteSessionsUsedBefore(ctx context.Context, t time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM cu_sessions WHERE last_used < ?`, t.UnixNano()); err != nil {
		return fmt.Errorf("users: forget expired sessions: %w", err)
	}
	return nil
}
