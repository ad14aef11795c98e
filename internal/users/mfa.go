package users

import (
	"bytes"
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"image/png"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Issuer names opentrail in authenticator apps.
const Issuer = "opentrail"

const totpPeriod = 30

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Enrolment is an MFA device being enrolled: the secret to enter into an
// authenticator app, as text and as an otpauth:// URI (and its QR code as
// a PNG), waiting for a code from the device to confirm it.
type Enrolment struct {
	Secret string
	URI    string
	QRPNG  []byte // nil when the code could not be drawn
}

// BeginMFA starts enrolling a new MFA device for a user: a fresh secret,
// kept aside until ConfirmMFA confirms it. An enrolled device stays in use
// until then; a second BeginMFA replaces the waiting secret.
func (s *Store) BeginMFA(ctx context.Context, name string) (Enrolment, error) {
	u, err := s.Get(ctx, name)
	if err != nil {
		return Enrolment{}, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: Issuer, AccountName: u.Name + "@" + u.Account, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return Enrolment{}, fmt.Errorf("users: make an MFA secret: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.exec(ctx, name, `UPDATE cu_users SET mfa_pending = ? WHERE name = ?`, key.Secret(), name); err != nil {
		return Enrolment{}, err
	}
	return enrolment(key), nil
}

func enrolment(key *otp.Key) Enrolment {
	e := Enrolment{Secret: key.Secret(), URI: key.URL()}
	if img, err := key.Image(240, 240); err == nil {
		var b bytes.Buffer
		if png.Encode(&b, img) == nil {
			e.QRPNG = b.Bytes()
		}
	}
	return e
}

// PendingMFA returns the enrolment waiting for its code (ErrNoEnrolment
// when none is).
func (s *Store) PendingMFA(ctx context.Context, name string) (Enrolment, error) {
	u, err := s.Get(ctx, name)
	if err != nil {
		return Enrolment{}, err
	}
	var secret sql.NullString
	if err := s.db.QueryRowContext(ctx, `SELECT mfa_pending FROM cu_users WHERE name = ?`, name).Scan(&secret); err != nil {
		return Enrolment{}, fmt.Errorf("users: get %s: %w", name, err)
	}
	if !secret.Valid {
		return Enrolment{}, ErrNoEnrolment
	}
	key, err := otp.NewKeyFromURL(fmt.Sprintf("otpauth://totp/%s:%s@%s?secret=%s&issuer=%s&period=30&digits=6&algorithm=SHA1",
		Issuer, u.Name, u.Account, secret.String, Issuer))
	if err != nil {
		return Enrolment{}, err
	}
	return enrolment(key), nil
}

// ConfirmMFA enrols the waiting device once code is one it shows now
// (ErrWrongCode otherwise; ErrNoEnrolment when none waits).
func (s *Store) ConfirmMFA(ctx context.Context, name, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var secret sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT mfa_pending FROM cu_users WHERE name = ?`, name).Scan(&secret)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("users: get %s: %w", name, err)
	}
	if !secret.Valid {
		return ErrNoEnrolment
	}
	step, ok := s.codeStep(secret.String, code, 0)
	if !ok {
		return ErrWrongCode
	}
	return s.exec(ctx, name, `UPDATE cu_users SET mfa_secret = mfa_pending, mfa_pending = NULL, mfa_last_step = ? WHERE name = ?`, step, name)
}

// RemoveMFA removes a user's MFA device (and any waiting enrolment).
func (s *Store) RemoveMFA(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exec(ctx, name, `UPDATE cu_users SET mfa_secret = NULL, mfa_pending = NULL, mfa_last_step = 0 WHERE name = ?`, name)
}

// codeStep checks a TOTP code against secret at the clock's time, one
// period either side, and returns the time step it belongs to; a step at
// or before after (a code already used) does not count.
func (s *Store) codeStep(secret, code string, after int64) (int64, bool) {
	if len(code) != 6 {
		return 0, false
	}
	now := s.clk.Now()
	for _, skew := range []int64{0, -1, 1} {
		t := now.Add(time.Duration(skew*totpPeriod) * time.Second)
		want, err := totp.GenerateCodeCustom(secret, t, totpOpts)
		if err != nil {
			return 0, false
		}
		step := t.Unix() / totpPeriod
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > after {
			return step, true
		}
	}
	return 0, false
}
