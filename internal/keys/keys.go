// Package keys is the store of digest signing keys: one RSA key ring
// (digest.KeyRing) per server, kept in the event store's meta table under
// "digest-keys" and loaded on first use. Trail delivery signs digests with
// [Keys.Signing]; ListPublicKeys and GET /v1/keys list the public halves
// with [Keys.PublicKeys]; POST /v1/keys/rotate retires a region's active
// key with [Keys.Rotate]. All three share one [Keys], so a key made or
// rotated by one is the key the others see.
//
// It is not the digest format or the signature (internal/digest), and it
// runs no goroutines: New opens it, Close ends its use. It is safe for
// concurrent use.
package keys

import (
	"context"
	"crypto/rsa"
	"errors"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/store"
)

// MetaKey is the event store's meta key of the key ring.
const MetaKey = "digest-keys"

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("digest signing keys are closed (the server is shutting down); retry against the running server")

// Meta is the part of the event store the key ring lives in
// (*store.Store implements it). Meta returns store.ErrNotFound for a key
// never set.
type Meta interface {
	Meta(ctx context.Context, key string) ([]byte, error)
	SetMeta(ctx context.Context, key string, value []byte) error
}

// Options configure Keys.
type Options struct {
	// Rotation is how long a signing key stays active (default
	// digest.DefaultRotation, 30 days).
	Rotation time.Duration
	// Generate makes a new signing key (2048-bit RSA when nil); tests pass
	// pre-made keys, since generating one is slow.
	Generate func() (*rsa.PrivateKey, error)
	// Clock is when Rotate retires a key; nil means clock.Real.
	Clock clock.Clock
}

// Keys is the signing-key store. Create it with New.
type Keys struct {
	meta Meta
	opts Options

	mu     sync.Mutex
	ring   *digest.KeyRing // loaded on first use
	closed bool
}

// New returns the key store over meta. It reads nothing until first use.
func New(meta Meta, opts Options) *Keys {
	if opts.Rotation <= 0 {
		opts.Rotation = digest.DefaultRotation
	}
	opts.Clock = clock.Or(opts.Clock)
	return &Keys{meta: meta, opts: opts}
}

// Close ends the use of the store: the private keys are dropped from
// memory and every later call returns ErrClosed. The keys stay stored.
func (k *Keys) Close(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ring, k.closed = nil, true
	return nil
}

// load reads the key ring once. The caller holds k.mu.
func (k *Keys) load(ctx context.Context) error {
	if k.closed {
		return ErrClosed
	}
	if k.ring != nil {
		return nil
	}
	b, err := k.meta.Meta(ctx, MetaKey)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	r, err := digest.DecodeKeyRing(b)
	if err != nil {
		return err
	}
	r.Rotation = k.opts.Rotation
	r.Generate = k.opts.Generate
	k.ring = r
	return nil
}

// Signing returns a copy of the key of region whose window holds t,
// making (and saving) one when the region has none for t yet.
func (k *Keys) Signing(ctx context.Context, region string, t time.Time) (*digest.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.load(ctx); err != nil {
		return nil, err
	}
	key, changed, err := k.ring.For(region, t)
	if err != nil {
		return nil, err
	}
	if changed {
		if err := k.meta.SetMeta(ctx, MetaKey, k.ring.Encode()); err != nil {
			return nil, err
		}
	}
	kc := *key
	return &kc, nil
}

// PublicKeys returns the public keys of region whose validity overlaps
// [start, end], oldest first.
func (k *Keys) PublicKeys(ctx context.Context, region string, start, end time.Time) ([]digest.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.load(ctx); err != nil {
		return nil, err
	}
	return k.ring.Public(region, start, end), nil
}

// Rotate retires region's active signing key now and starts a new one,
// which it returns.
func (k *Keys) Rotate(ctx context.Context, region string) (digest.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.load(ctx); err != nil {
		return digest.PublicKey{}, err
	}
	key, err := k.ring.Rotate(region, k.opts.Clock.Now())
	if err != nil {
		return digest.PublicKey{}, err
	}
	if err := k.meta.SetMeta(ctx, MetaKey, k.ring.Encode()); err != nil {
		return digest.PublicKey{}, err
	}
	return digest.PublicKey{Region: key.Region, Value: key.Public, Fingerprint: key.Fingerprint, ValidFrom: key.ValidFrom, ValidTo: key.ValidTo}, nil
}
