// Package keys is the store of digest signing keys: one RSA key ring
// (digest.KeyRing) per server, or an external signing command. Where the
// private keys live is the operator's choice (docs/security.md):
//
//   - in the event store's meta table under "digest-keys" (the default:
//     a copy of the data directory can sign);
//   - in a key file of its own, owner-only ([Options.File]), so a copy of
//     the event store alone cannot sign;
//   - nowhere in opentrail: a command signs ([Options.SignCommand]) and
//     a public keys file lists its keys ([Options.PublicKeysFile]).
//
// When the keys live outside the store, the store keeps their public
// halves and where the private ones are (meta "digest-public-keys"), so
// a server started on a copy of the store without them refuses to start
// rather than signing the old trails' chains with a new key unannounced.
//
// Trail delivery signs digests with [Keys.Signer]; ListPublicKeys and GET
// /v1/keys list the public halves with [Keys.PublicKeys]; POST
// /v1/keys/rotate retires a region's active key with [Keys.Rotate]. All
// three share one [Keys], so a key made or rotated by one is the key the
// others see.
//
// It is not the digest format or the signature (internal/digest). It
// runs no goroutines (a signing command runs for the call that needs
// it): New makes it, Open (or first use) loads it, Close ends its use.
// It is safe for concurrent use.
package keys

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/store"
)

// MetaKey is the event store's meta key of the key ring (when it is kept
// in the store).
const MetaKey = "digest-keys"

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("digest signing keys are closed (the server is shutting down); retry against the running server")

// ErrExternalRotation is returned by Rotate when an external command
// signs: opentrail holds no private key to retire.
var ErrExternalRotation = errors.New("the digest signing keys are held by an external signer (keys.sign_command): rotate the key in the signer, then append its public key to keys.public_keys_file with valid_from set to when the signer starts using it (docs/security.md#rotation)")

// Meta is the part of the event store the key ring and its public record
// live in (*store.Store implements it). Meta returns store.ErrNotFound
// for a key never set.
type Meta interface {
	Meta(ctx context.Context, key string) ([]byte, error)
	SetMeta(ctx context.Context, key string, value []byte) error
	DeleteMeta(ctx context.Context, key string) error
}

// DefaultSignTimeout bounds one run of the signing command.
const DefaultSignTimeout = 10 * time.Second

// Options configure Keys. At most one of File and SignCommand is set;
// neither keeps the ring in the event store.
type Options struct {
	// Rotation is how long a signing key stays active (default
	// digest.DefaultRotation, 30 days).
	Rotation time.Duration
	// Generate makes a new signing key (2048-bit RSA when nil); tests pass
	// pre-made keys, since generating one is slow.
	Generate func() (*rsa.PrivateKey, error)
	// Clock is when Rotate retires a key; nil means clock.Real.
	Clock clock.Clock
	// Logger is told of a migration and of a new key file; nil means
	// slog.Default().
	Logger *slog.Logger

	// File keeps the ring in this file (mode 0600, written atomically)
	// instead of the event store. A ring still in the store moves to it
	// the first time it is opened.
	File string
	// NewRing lets File start a new ring when the store's keys were kept
	// in a key file that is missing (lost, or a copy of the store without
	// it): the old keys' public halves stay listed, new digests are
	// signed with new keys. Without it such a start is refused.
	NewRing bool

	// SignCommand is an external signer: argv of a command that reads
	// the string to sign on stdin and writes its SHA256withRSA signature
	// (hex or base64) on stdout. See docs/security.md#external-signer.
	SignCommand []string
	// PublicKeysFile lists the signer's public keys (required with
	// SignCommand).
	PublicKeysFile string
	// SignTimeout bounds one run of SignCommand (DefaultSignTimeout).
	SignTimeout time.Duration
}

// backend is where the keys are: a ring (in the store or a file) or a
// signing command.
type backend interface {
	signer(ctx context.Context, region string, t time.Time) (digest.Signer, error)
	public(ctx context.Context, region string, start, end time.Time) ([]digest.PublicKey, error)
	rotate(ctx context.Context, region string, now time.Time) (digest.PublicKey, error)
}

// Keys is the signing-key store. Create it with New.
type Keys struct {
	meta Meta
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	b      backend // loaded on first use
	closed bool
}

// New returns the key store over meta. It reads nothing until first use
// (or Open).
func New(meta Meta, opts Options) *Keys {
	if opts.Rotation <= 0 {
		opts.Rotation = digest.DefaultRotation
	}
	if opts.SignTimeout <= 0 {
		opts.SignTimeout = DefaultSignTimeout
	}
	opts.Clock = clock.Or(opts.Clock)
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Keys{meta: meta, opts: opts, log: log}
}

// Open returns the key store over meta, loaded: a key file that others
// may read, a ring both in the store and in the key file, keys kept
// outside the store that are not there, or a public keys file that does
// not parse is an error now rather than at the first digest.
func Open(ctx context.Context, meta Meta, opts Options) (*Keys, error) {
	k := New(meta, opts)
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.load(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// Close ends the use of the store: the private keys are dropped from
// memory and every later call returns ErrClosed. The keys stay stored.
func (k *Keys) Close(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.b, k.closed = nil, true
	return nil
}

// load opens the backend once. The caller holds k.mu.
func (k *Keys) load(ctx context.Context) error {
	if k.closed {
		return ErrClosed
	}
	if k.b != nil {
		return nil
	}
	stored, err := k.meta.Meta(ctx, MetaKey)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	rec, err := readRecord(ctx, k.meta)
	if err != nil {
		return err
	}
	var b backend
	switch {
	case len(k.opts.SignCommand) > 0:
		b, err = k.openCommand(ctx, stored, rec)
	case k.opts.File != "":
		b, err = k.openFile(ctx, stored, rec)
	default:
		b, err = k.openStored(stored, rec)
	}
	if err != nil {
		return err
	}
	k.b = b
	return nil
}

// openStored keeps the ring in the event store.
func (k *Keys) openStored(stored []byte, rec *record) (backend, error) {
	if len(stored) == 0 && rec != nil {
		return nil, fmt.Errorf("this event store's digest signing keys are kept outside it (%s; %d keys, newest %s), and none is configured: "+
			"configure that key file (keys.file, serve --keys-file) or signer (keys.sign_command) again. "+
			"A copy of the event store alone cannot sign its trails' digests", rec.where(), len(rec.Keys), rec.newest())
	}
	r, err := k.decode(stored)
	if err != nil {
		return nil, err
	}
	return &ringBackend{ring: r, save: func(ctx context.Context, r *digest.KeyRing) error {
		return k.meta.SetMeta(ctx, MetaKey, r.Encode())
	}}, nil
}

func (k *Keys) decode(b []byte) (*digest.KeyRing, error) {
	r, err := digest.DecodeKeyRing(b)
	if err != nil {
		return nil, err
	}
	r.Rotation = k.opts.Rotation
	r.Generate = k.opts.Generate
	return r, nil
}

// Signer returns the signer of region's key whose window holds t, making
// (and saving) a key when a ring has none for t yet.
func (k *Keys) Signer(ctx context.Context, region string, t time.Time) (digest.Signer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.load(ctx); err != nil {
		return nil, err
	}
	return k.b.signer(ctx, region, t)
}

// PublicKeys returns the public keys of region whose validity overlaps
// [start, end], oldest first.
func (k *Keys) PublicKeys(ctx context.Context, region string, start, end time.Time) ([]digest.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.load(ctx); err != nil {
		return nil, err
	}
	return k.b.public(ctx, region, start, end)
}

// Rotate retires region's active signing key now and starts a new one,
// which it returns. With a signing command it returns
// ErrExternalRotation.
func (k *Keys) Rotate(ctx context.Context, region string) (digest.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.load(ctx); err != nil {
		return digest.PublicKey{}, err
	}
	return k.b.rotate(ctx, region, k.opts.Clock.Now())
}

// ringBackend is a key ring and how to save it.
type ringBackend struct {
	ring *digest.KeyRing
	save func(ctx context.Context, r *digest.KeyRing) error
}

func (b *ringBackend) signer(ctx context.Context, region string, t time.Time) (digest.Signer, error) {
	key, changed, err := b.ring.For(region, t)
	if err != nil {
		return nil, err
	}
	if changed {
		if err := b.save(ctx, b.ring); err != nil {
			return nil, err
		}
	}
	if len(key.Private) == 0 {
		return nil, fmt.Errorf("the private half of signing key %s of %s is not in the key ring (the ring was started anew); a digest ending at %s, in that key's window, cannot be signed",
			key.Fingerprint, region, digest.FormatTime(t))
	}
	priv, err := key.PrivateKey()
	if err != nil {
		return nil, err
	}
	return &keySigner{fp: key.Fingerprint, priv: priv}, nil
}

func (b *ringBackend) public(ctx context.Context, region string, start, end time.Time) ([]digest.PublicKey, error) {
	return b.ring.Public(region, start, end), nil
}

func (b *ringBackend) rotate(ctx context.Context, region string, now time.Time) (digest.PublicKey, error) {
	key, err := b.ring.Rotate(region, now)
	if err != nil {
		return digest.PublicKey{}, err
	}
	if err := b.save(ctx, b.ring); err != nil {
		return digest.PublicKey{}, err
	}
	return publicOf(key), nil
}

func publicOf(k *digest.Key) digest.PublicKey {
	return digest.PublicKey{Region: k.Region, Value: k.Public, Fingerprint: k.Fingerprint, ValidFrom: k.ValidFrom, ValidTo: k.ValidTo}
}

// keySigner signs in process with a ring's key.
type keySigner struct {
	fp   string
	priv *rsa.PrivateKey
}

func (s *keySigner) Fingerprint() string { return s.fp }

func (s *keySigner) Sign(ctx context.Context, str string) (string, error) {
	return digest.Sign(s.priv, str)
}
