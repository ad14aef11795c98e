// Package users keeps the web console's users: their names, accounts and
// administrator flags, argon2id password hashes (salted, with their cost
// parameters stored beside them), optional TOTP MFA devices (enrolled only
// once a code from the device confirms them), creation and last sign-in
// times; it checks sign-ins, locks a user name or source address out with
// backoff after repeated failures, and records every completed sign-in
// attempt as a CloudTrail ConsoleLogin event through a Recorder before it
// answers.
//
// Users live in the event store's DuckDB (tables cu_*). Each user acts as
// an IAM user of their account (Store.Principal); the organisation's
// management account sees every account. In local mode a documented
// default user admin / opentrail (administrator of the local account)
// exists; outside local mode there is none, and a first administrator is
// added with the CLI. A Store is safe for concurrent use. Only
// internal/server (which builds it), internal/console (its pages and
// sign-in) and internal/native (/v1/console/users) import it.
package users

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
)

// Local mode's default user.
const (
	DefaultUser     = "admin"
	DefaultPassword = "opentrail"
)

// MinPasswordLen is the shortest password a user may set (the local-mode
// default is the one exception).
const MinPasswordLen = 12

// maxPasswordLen bounds what is hashed.
const maxPasswordLen = 1024

// User is a console user.
type User struct {
	Name    string
	Account string // 12 digits
	Admin   bool
	// PrincipalID is the user's IAM-style unique id (AIDA…), fixed at
	// creation.
	PrincipalID string
	// MFA is true once an MFA device is enrolled and confirmed;
	// MFAPending while an enrolment waits for its confirming code.
	MFA, MFAPending bool
	Created         time.Time
	LastSignIn      time.Time // zero: never
	// LockedFor is how long the user name stays locked out (0: not).
	LockedFor time.Duration
	// Default marks local mode's default user, still on its documented
	// password.
	Default bool
	// Policies are the policy references (built-in names, files, inline
	// JSON) that decide what the user may do; empty means the configured
	// default. An admin's list holds administrator.
	Policies []string
}

// Recorder stores CloudTrail records durably before it returns (the
// server's generated-record appender: the ingester, fsynced).
type Recorder interface {
	Append(ctx context.Context, source string, recs []*event.Record) error
}

// Source is the ingest source of the ConsoleLogin records.
const Source = "console-signin"

// Config configures a Store.
type Config struct {
	// DB is the event store's database; the Store creates its cu_*
	// tables in it. Required.
	DB *sql.DB
	// Recorder stores each sign-in's ConsoleLogin record. Required.
	Recorder Recorder
	// Local is local mode: the default user exists.
	Local bool
	// ManagementAccount is the organisation's management account (the
	// local account in local mode); its users see every account.
	ManagementAccount string
	// HomeAccount is the account a sign-in by an unknown user name is
	// recorded in (the management account, or the only one configured).
	HomeAccount string
	// Region is the records' awsRegion (us-east-1 when empty).
	Region string
	Clock  clock.Clock // clock.Real when nil
	Hash   HashParams  // DefaultHashParams when zero
	// Lockout is the failed sign-in lockout (DefaultLockout when zero).
	Lockout Lockout
	Logger  *slog.Logger
	// CheckPolicy says whether a policy reference can be used (the
	// authorizer compiles it); nil accepts any non-empty reference.
	CheckPolicy func(ref string) error
}

// Store is the console users.
type Store struct {
	cfg   Config
	db    *sql.DB
	clk   clock.Clock
	log   *slog.Logger
	locks *lockouts
	mu    sync.Mutex // serialises changes and MFA steps
	// hashing bounds the argon2id computations running at once (each
	// takes Hash.Memory).
	hashing chan struct{}
	signOut func(name string) // OnSignOut's hook
	// dummy is a hash to check unknown user names against, so they take
	// as long as known ones.
	dummy string
}

// Errors callers branch on.
var (
	ErrNotFound      = errors.New("no such user")
	ErrExists        = errors.New("a user with this name exists")
	ErrWrongPassword = errors.New("the current password is wrong")
	ErrWrongCode     = errors.New("the MFA code is wrong")
	ErrNoEnrolment   = errors.New("no MFA enrolment is waiting for its code")
)

// InputError is a refused value: the message says which and why.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

var schema = []string{
	`CREATE TABLE IF NOT EXISTS cu_users (name VARCHAR PRIMARY KEY, account VARCHAR NOT NULL, admin BOOLEAN NOT NULL,
		principal_id VARCHAR NOT NULL, password_hash VARCHAR NOT NULL, mfa_secret VARCHAR, mfa_pending VARCHAR,
		mfa_last_step BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL, last_signin BIGINT NOT NULL DEFAULT 0,
		is_default BOOLEAN NOT NULL DEFAULT false)`,
	// policies came later: a JSON array of policy references, NULL for
	// none (stores made before have no such column).
	`ALTER TABLE cu_users ADD COLUMN IF NOT EXISTS policies VARCHAR`,
}

// Open creates the tables if needed. In local mode it adds the default
// user unless a user of that name exists; outside local mode it removes a
// default user still on the documented password.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.DB == nil || cfg.Recorder == nil {
		return nil, errors.New("users: Config.DB and Config.Recorder are required")
	}
	if cfg.Hash.Memory == 0 {
		cfg.Hash = DefaultHashParams
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{cfg: cfg, db: cfg.DB, clk: clock.Or(cfg.Clock), log: cfg.Logger, hashing: make(chan struct{}, 4)}
	s.dummy = hashPassword(randomString(), cfg.Hash)
	for _, q := range schema {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("users: create tables: %w", err)
		}
	}
	var err error
	if s.locks, err = openLockouts(ctx, s.db, cfg.Lockout, s.log, s.clk.Now()); err != nil {
		return nil, err
	}
	if err := s.openSessions(ctx); err != nil {
		return nil, err
	}
	if cfg.Local {
		_, err := s.Get(ctx, DefaultUser)
		if errors.Is(err, ErrNotFound) {
			_, err = s.add(ctx, NewUser{Name: DefaultUser, Account: cfg.ManagementAccount, Admin: true, Password: DefaultPassword}, true)
		}
		if err != nil {
			return nil, fmt.Errorf("users: the local-mode default user: %w", err)
		}
	} else {
		res, err := s.db.ExecContext(ctx, `DELETE FROM cu_users WHERE is_default`)
		if err != nil {
			return nil, fmt.Errorf("users: remove the local-mode default user: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			s.log.Info("removed local mode's default console user: it exists in local mode only", "user", DefaultUser)
		}
	}
	return s, nil
}

func randomString() string {
	b := make([]byte, 20)
	rand.Read(b)
	return base32.StdEncoding.EncodeToString(b)
}

// newPrincipalID makes an IAM-style user id: AIDA and 17 characters.
func newPrincipalID() string {
	return "AIDA" + randomString()[:17]
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_+=,.@-]{1,64}$`)
var accountRE = regexp.MustCompile(`^\d{12}$`)

// NewUser is a user to add.
type NewUser struct {
	Name, Account string
	Admin         bool
	Password      string
	// Policies are the user's policy references (see User.Policies).
	Policies []string
}

// Add adds a user; the name must be new.
func (s *Store) Add(ctx context.Context, u NewUser) (User, error) {
	return s.add(ctx, u, false)
}

func (s *Store) add(ctx context.Context, u NewUser, isDefault bool) (User, error) {
	if !nameRE.MatchString(u.Name) {
		return User{}, &InputError{"A user name is 1 to 64 letters, digits and _+=,.@- characters."}
	}
	if !accountRE.MatchString(u.Account) {
		return User{}, &InputError{fmt.Sprintf("The account must be a 12-digit account ID; got %q.", clip(u.Account))}
	}
	if !isDefault {
		if err := checkNewPassword(u.Password); err != nil {
			return User{}, err
		}
	}
	policies, err := s.checkPolicies(u.Admin, u.Policies)
	if err != nil {
		return User{}, err
	}
	h := s.hash(u.Password)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.get(ctx, u.Name); err == nil {
		return User{}, ErrExists
	} else if !errors.Is(err, ErrNotFound) {
		return User{}, err
	}
	now := s.clk.Now()
	out := User{Name: u.Name, Account: u.Account, Admin: u.Admin, PrincipalID: newPrincipalID(), Created: now.UTC(), Default: isDefault,
		Policies: policies}
	_, err = s.db.ExecContext(ctx, `INSERT INTO cu_users (name, account, admin, principal_id, password_hash, created, is_default, policies)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, out.Name, out.Account, out.Admin, out.PrincipalID, h, now.UnixNano(), isDefault, policiesColumn(policies))
	if err != nil {
		return User{}, fmt.Errorf("users: add %s: %w", u.Name, err)
	}
	return out, nil
}

func checkNewPassword(p string) error {
	switch {
	case len([]rune(p)) < MinPasswordLen:
		return &InputError{fmt.Sprintf("A password must be at least %d characters long.", MinPasswordLen)}
	case len(p) > maxPasswordLen:
		return &InputError{fmt.Sprintf("A password may be at most %d bytes long.", maxPasswordLen)}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// hash hashes a password, at most a few at once.
func (s *Store) hash(p string) string {
	s.hashing <- struct{}{}
	defer func() { <-s.hashing }()
	return hashPassword(p, s.cfg.Hash)
}

func (s *Store) check(h, p string) (bool, HashParams) {
	s.hashing <- struct{}{}
	defer func() { <-s.hashing }()
	return checkPassword(h, p)
}

const userCols = `name, account, admin, principal_id, mfa_secret IS NOT NULL, mfa_pending IS NOT NULL, created, last_signin, is_default, policies`

type scanner interface{ Scan(...any) error }

func (s *Store) scan(r scanner) (User, error) {
	var u User
	var created, last int64
	var policies sql.NullString
	if err := r.Scan(&u.Name, &u.Account, &u.Admin, &u.PrincipalID, &u.MFA, &u.MFAPending, &created, &last, &u.Default, &policies); err != nil {
		return User{}, err
	}
	if policies.Valid {
		if err := json.Unmarshal([]byte(policies.String), &u.Policies); err != nil {
			return User{}, fmt.Errorf("users: policies of %s: %w", u.Name, err)
		}
	}
	if u.Admin && !slices.Contains(u.Policies, AdminPolicy) {
		u.Policies = append([]string{AdminPolicy}, u.Policies...)
	}
	u.Created = time.Unix(0, created).UTC()
	if last != 0 {
		u.LastSignIn = time.Unix(0, last).UTC()
	}
	u.LockedFor = (s.locks.locked(s.clk.Now(), userKey(u.Name)) + time.Second - 1).Truncate(time.Second)
	return u, nil
}

// Get returns a user, or ErrNotFound.
func (s *Store) Get(ctx context.Context, name string) (User, error) {
	return s.get(ctx, name)
}

func (s *Store) get(ctx context.Context, name string) (User, error) {
	u, err := s.scan(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM cu_users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("users: get %s: %w", name, err)
	}
	return u, nil
}

// List returns every user by name.
func (s *Store) List(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM cu_users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("users: list: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := s.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("users: list: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Remove removes a user (and their MFA device).
func (s *Store) Remove(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.exec(ctx, name, `DELETE FROM cu_users WHERE name = ?`, name); err != nil {
		return err
	}
	if err := s.locks.reset(userKey(name)); err != nil {
		s.log.Warn("console user removed; their failure count stays until it expires", "user", name, "err", err)
	}
	if err := s.DeleteUserSessions(ctx, name); err != nil {
		s.log.Warn("console user removed; their sessions stay in the table, unusable, until they expire", "user", name, "err", err)
	}
	s.signedOut(name)
	return nil
}

// exec runs a statement that changes user name's row; ErrNotFound when
// it changed none.
func (s *Store) exec(ctx context.Context, name, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("users: change %s: %w", name, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return nil
}

// SetPassword sets a user's password (an administrator's reset) and
// unlocks the user name.
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	if err := checkNewPassword(password); err != nil {
		return err
	}
	h := s.hash(password)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.exec(ctx, name, `UPDATE cu_users SET password_hash = ?, is_default = false WHERE name = ?`, h, name); err != nil {
		return err
	}
	if err := s.DeleteUserSessions(ctx, name); err != nil {
		return fmt.Errorf("password set, but the user's browsers are still signed in: %w", err)
	}
	if err := s.locks.reset(userKey(name)); err != nil {
		return fmt.Errorf("password set, but the user name is still locked out: %w", err)
	}
	s.signedOut(name)
	return nil
}

// ChangePassword changes a user's own password, which needs the current
// one (ErrWrongPassword otherwise).
func (s *Store) ChangePassword(ctx context.Context, name, current, password string) error {
	h, err := s.passwordHash(ctx, name)
	if err != nil {
		return err
	}
	if ok, _ := s.check(h, current); !ok {
		return ErrWrongPassword
	}
	return s.SetPassword(ctx, name, password)
}

func (s *Store) passwordHash(ctx context.Context, name string) (string, error) {
	var h string
	err := s.db.QueryRowContext(ctx, `SELECT password_hash FROM cu_users WHERE name = ?`, name).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("users: get %s: %w", name, err)
	}
	return h, nil
}

// OnSignOut sets fn to be called after a user is removed or their
// password set, so that their signed-in browsers are signed out (the
// console's sessions). Set it before serving.
func (s *Store) OnSignOut(fn func(name string)) { s.signOut = fn }

func (s *Store) signedOut(name string) {
	if s.signOut != nil {
		s.signOut(name)
	}
}

// Unlock ends a user name's lockout.
func (s *Store) Unlock(name string) error { return s.locks.reset(userKey(name)) }

// Principal is who a user acts as: an IAM user of their account, under
// the user's policies (nil: the configured default).
func (s *Store) Principal(u User) *auth.Principal {
	var policies []string
	if len(u.Policies) > 0 {
		policies = slices.Clone(u.Policies)
	}
	if u.Admin && !slices.Contains(policies, AdminPolicy) {
		policies = append([]string{AdminPolicy}, policies...)
	}
	return &auth.Principal{
		Type: "IAMUser", AccountID: u.Account, UserName: u.Name, PrincipalID: u.PrincipalID,
		ARN:        "arn:aws:iam::" + u.Account + ":user/" + u.Name,
		Management: s.cfg.ManagementAccount != "" && u.Account == s.cfg.ManagementAccount,
		Policies:   policies,
	}
}

// AdminPolicy is the built-in policy every admin user has.
const AdminPolicy = "administrator"

// maxPolicies bounds a user's policy list.
const maxPolicies = 20

// checkPolicies validates a user's policy references (trimmed, no
// duplicates, each accepted by Config.CheckPolicy) and puts
// administrator first for an admin.
func (s *Store) checkPolicies(admin bool, refs []string) ([]string, error) {
	var out []string
	for _, r := range refs {
		r = strings.TrimSpace(r)
		if r == "" || slices.Contains(out, r) {
			continue
		}
		if s.cfg.CheckPolicy != nil {
			if err := s.cfg.CheckPolicy(r); err != nil {
				return nil, &InputError{fmt.Sprintf("Policy %s cannot be used: %v.", clip(r), err)}
			}
		}
		out = append(out, r)
	}
	if len(out) > maxPolicies {
		return nil, &InputError{fmt.Sprintf("A user has at most %d policies; got %d.", maxPolicies, len(out))}
	}
	if admin && !slices.Contains(out, AdminPolicy) {
		out = append([]string{AdminPolicy}, out...)
	}
	return out, nil
}

// policiesColumn is the policies column's value: a JSON array, or NULL
// for none.
func policiesColumn(p []string) any {
	if len(p) == 0 {
		return nil
	}
	b, _ := json.Marshal(p) // strings always encode
	return string(b)
}

// SetPolicies replaces a user's policy references; an empty list means
// the configured default (an admin keeps administrator).
func (s *Store) SetPolicies(ctx context.Context, name string, refs []string) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.get(ctx, name)
	if err != nil {
		return User{}, err
	}
	policies, err := s.checkPolicies(u.Admin, refs)
	if err != nil {
		return User{}, err
	}
	if err := s.exec(ctx, name, `UPDATE cu_users SET policies = ? WHERE name = ?`, policiesColumn(policies), name); err != nil {
		return User{}, err
	}
	u.Policies = policies
	return u, nil
}

// IsManagement reports whether account is the organisation's management
// account (whose users see every account).
func (s *Store) IsManagement(account string) bool {
	return s.cfg.ManagementAccount != "" && account == s.cfg.ManagementAccount
}
