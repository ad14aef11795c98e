package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Attempt is one sign-in as the browser made it.
type Attempt struct {
	UserName, Password  string
	SourceIP, UserAgent string
	// LoginTo is the console URL signed in to (additionalEventData.LoginTo).
	LoginTo string
}

// ErrMFARequired is SignIn's answer to a right password of a user with an
// MFA device: SignInMFA must follow with a code.
var ErrMFARequired = errors.New("users: an MFA code is required")

// Refusal says why a sign-in was refused.
type Refusal int

const (
	// WrongPassword: the user name is unknown or the password wrong (the
	// two are not told apart).
	WrongPassword Refusal = iota + 1
	// WrongCode: the MFA code is wrong or was used already.
	WrongCode
	// LockedOut: too many failures for the user name or source address.
	LockedOut
)

// RefusedError is a refused sign-in. RetryAfter is set when the user name
// or address is locked out (by this attempt or before it).
type RefusedError struct {
	Reason     Refusal
	RetryAfter time.Duration
}

func (e *RefusedError) Error() string {
	switch e.Reason {
	case WrongCode:
		return "sign-in refused: wrong MFA code"
	case LockedOut:
		return fmt.Sprintf("sign-in refused: locked out for %s", e.RetryAfter)
	}
	return "sign-in refused: wrong user name or password"
}

// credentials are what SignIn reads of a user.
type credentials struct {
	user     User
	hash     string
	mfa      sql.NullString
	lastStep int64
}

func (s *Store) credentials(ctx context.Context, name string) (*credentials, error) {
	u, err := s.Get(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c := &credentials{user: u}
	err = s.db.QueryRowContext(ctx, `SELECT password_hash, mfa_secret, mfa_last_step FROM cu_users WHERE name = ?`, name).Scan(&c.hash, &c.mfa, &c.lastStep)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("users: get %s: %w", name, err)
	}
	return c, nil
}

// SignIn checks a user name and password. It answers the user when they
// are right and the user has no MFA device; the user and ErrMFARequired
// when they are right and a code must follow (nothing is recorded yet);
// a *RefusedError otherwise. Every answer but ErrMFARequired is recorded
// as a ConsoleLogin event before SignIn returns; an error recording it is
// returned as is, and the sign-in does not succeed.
func (s *Store) SignIn(ctx context.Context, a Attempt) (User, error) {
	now := s.clk.Now()
	keys := []string{userKey(a.UserName), ipKey(a.SourceIP)}
	c, err := s.credentials(ctx, a.UserName)
	if err != nil {
		return User{}, err
	}
	if wait := s.locks.locked(now, keys...); wait > 0 {
		return User{}, s.refuse(ctx, a, c, false, &RefusedError{Reason: LockedOut, RetryAfter: wait})
	}
	var ok bool
	if c == nil {
		s.check(s.dummy, a.Password) // as long as a known name takes
	} else {
		var p HashParams
		ok, p = s.check(c.hash, a.Password)
		if ok && p != s.cfg.Hash {
			s.rehash(ctx, a.UserName, a.Password)
		}
	}
	if !ok {
		wait, err := s.locks.fail(now, keys...)
		if err != nil {
			s.log.Error("console sign-in: failure not counted durably", "user", a.UserName, "err", err)
		}
		return User{}, s.refuse(ctx, a, c, false, &RefusedError{Reason: WrongPassword, RetryAfter: wait})
	}
	if c.mfa.Valid {
		return c.user, ErrMFARequired
	}
	return s.succeed(ctx, a, c, false)
}

// SignInMFA completes a sign-in whose password SignIn found right
// (answering ErrMFARequired) with the user's current MFA code. A code
// counts once. Its answers are recorded as SignIn's are.
func (s *Store) SignInMFA(ctx context.Context, a Attempt, code string) (User, error) {
	now := s.clk.Now()
	keys := []string{userKey(a.UserName), ipKey(a.SourceIP)}
	c, err := s.credentials(ctx, a.UserName)
	if err != nil {
		return User{}, err
	}
	if c == nil || !c.mfa.Valid {
		// Removed, or its device removed, since the password step.
		return User{}, s.refuse(ctx, a, c, true, &RefusedError{Reason: WrongCode})
	}
	if wait := s.locks.locked(now, keys...); wait > 0 {
		return User{}, s.refuse(ctx, a, c, true, &RefusedError{Reason: LockedOut, RetryAfter: wait})
	}
	s.mu.Lock()
	step, ok := s.codeStep(c.mfa.String, code, c.lastStep)
	if ok {
		err = s.exec(ctx, a.UserName, `UPDATE cu_users SET mfa_last_step = ? WHERE name = ? AND mfa_last_step < ?`, step, a.UserName, step)
	}
	s.mu.Unlock()
	if errors.Is(err, ErrNotFound) { // the same code, used at the same moment
		ok = false
	} else if err != nil {
		return User{}, err
	}
	if !ok {
		wait, err := s.locks.fail(now, keys...)
		if err != nil {
			s.log.Error("console sign-in: failure not counted durably", "user", a.UserName, "err", err)
		}
		return User{}, s.refuse(ctx, a, c, true, &RefusedError{Reason: WrongCode, RetryAfter: wait})
	}
	return s.succeed(ctx, a, c, true)
}

func (s *Store) refuse(ctx context.Context, a Attempt, c *credentials, mfa bool, refusal *RefusedError) error {
	var u *User
	if c != nil {
		u = &c.user
	}
	if err := s.record(ctx, a, u, false, mfa); err != nil {
		return err
	}
	return refusal
}

func (s *Store) succeed(ctx context.Context, a Attempt, c *credentials, mfa bool) (User, error) {
	if err := s.record(ctx, a, &c.user, true, mfa); err != nil {
		return User{}, err
	}
	if err := s.locks.reset(userKey(a.UserName)); err != nil {
		s.log.Warn("console sign-in: failure count not reset", "user", a.UserName, "err", err)
	}
	now := s.clk.Now()
	if _, err := s.db.ExecContext(ctx, `UPDATE cu_users SET last_signin = ? WHERE name = ?`, now.UnixNano(), a.UserName); err != nil {
		s.log.Warn("console sign-in: last sign-in time not kept", "user", a.UserName, "err", err)
	}
	u := c.user
	u.LastSignIn = now.UTC()
	return u, nil
}

// rehash stores a password's hash under the current parameters after a
// sign-in proved it.
func (s *Store) rehash(ctx context.Context, name, password string) {
	h := s.hash(password)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.db.ExecContext(ctx, `UPDATE cu_users SET password_hash = ? WHERE name = ?`, h, name); err != nil {
		s.log.Warn("console sign-in: password not rehashed", "user", name, "err", err)
	}
}

func (s *Store) record(ctx context.Context, a Attempt, u *User, success, mfa bool) error {
	rec, err := s.LoginRecord(a, u, success, mfa)
	if err != nil {
		return err
	}
	if err := s.cfg.Recorder.Append(ctx, Source, rec); err != nil {
		return fmt.Errorf("record the sign-in: %w", err)
	}
	return nil
}
