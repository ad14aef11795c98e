package digest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// KeyBits is the size of signing keys, as CloudTrail's.
const KeyBits = 2048

// DefaultRotation is how long a signing key is the active one.
const DefaultRotation = 30 * 24 * time.Hour

// Key is one signing key of a region. Keys of a region have back-to-back
// validity windows [ValidFrom, ValidTo); a digest is signed with the key
// whose window holds its end time, so every digest stays verifiable with
// a key ListPublicKeys returns for that time.
type Key struct {
	Region      string    `json:"region"`
	Fingerprint string    `json:"fingerprint"`
	Public      []byte    `json:"public"`            // PKCS#1 DER
	Private     []byte    `json:"private,omitempty"` // PKCS#1 DER; never leaves the key ring; nil for a key whose private half is not held
	ValidFrom   time.Time `json:"validFrom"`
	ValidTo     time.Time `json:"validTo"`
}

// PrivateKey parses the key's private part.
func (k *Key) PrivateKey() (*rsa.PrivateKey, error) {
	p, err := x509.ParsePKCS1PrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("parse signing key %s: %w", k.Fingerprint, err)
	}
	return p, nil
}

// PublicKey is a key as ListPublicKeys serves it.
type PublicKey struct {
	Region      string
	Value       []byte // PKCS#1 DER
	Fingerprint string
	ValidFrom   time.Time
	ValidTo     time.Time
}

// KeyRing holds every signing key ever used, per region. The zero value
// is empty and ready; it is not safe for concurrent use.
type KeyRing struct {
	Keys []Key `json:"keys"`
	// Rotation is how long each new key is active (DefaultRotation when
	// zero). It is not stored.
	Rotation time.Duration `json:"-"`
	// Generate makes a new private key (rsa.GenerateKey with KeyBits when
	// nil); tests replace it for speed.
	Generate func() (*rsa.PrivateKey, error) `json:"-"`
}

// DecodeKeyRing reads a stored key ring; nil or empty data is an empty
// ring.
func DecodeKeyRing(b []byte) (*KeyRing, error) {
	r := &KeyRing{}
	if len(b) == 0 {
		return r, nil
	}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("decode signing keys: %w", err)
	}
	return r, nil
}

// Encode returns the ring as stored.
func (r *KeyRing) Encode() []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("encode signing keys: %v", err))
	}
	return b
}

func (r *KeyRing) rotation() time.Duration {
	if r.Rotation > 0 {
		return r.Rotation
	}
	return DefaultRotation
}

func (r *KeyRing) newKey(region string, from, to time.Time) (*Key, error) {
	gen := r.Generate
	if gen == nil {
		gen = func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, KeyBits) }
	}
	priv, err := gen()
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	pub := PublicKeyDER(&priv.PublicKey)
	r.Keys = append(r.Keys, Key{
		Region: region, Fingerprint: Fingerprint(pub), Public: pub, Private: x509.MarshalPKCS1PrivateKey(priv),
		ValidFrom: from.UTC(), ValidTo: to.UTC(),
	})
	r.sort()
	for i := range r.Keys {
		if r.Keys[i].Region == region && r.Keys[i].ValidFrom.Equal(from.UTC()) {
			return &r.Keys[i], nil
		}
	}
	panic("digest: new key lost")
}

func (r *KeyRing) sort() {
	sort.SliceStable(r.Keys, func(i, j int) bool {
		if r.Keys[i].Region != r.Keys[j].Region {
			return r.Keys[i].Region < r.Keys[j].Region
		}
		return r.Keys[i].ValidFrom.Before(r.Keys[j].ValidFrom)
	})
}

// last returns the region's newest key, or nil.
func (r *KeyRing) last(region string) *Key {
	var k *Key
	for i := range r.Keys {
		if r.Keys[i].Region == region {
			k = &r.Keys[i]
		}
	}
	return k
}

// For returns the region's key whose window holds t, making keys as
// needed: the first key of a region starts at t; later keys follow the
// newest one back to back. changed reports that the ring must be saved.
func (r *KeyRing) For(region string, t time.Time) (k *Key, changed bool, err error) {
	t = t.UTC()
	for i := range r.Keys {
		k := &r.Keys[i]
		if k.Region == region && !t.Before(k.ValidFrom) && t.Before(k.ValidTo) {
			return k, false, nil
		}
	}
	last := r.last(region)
	if last == nil {
		k, err := r.newKey(region, t, t.Add(r.rotation()))
		return k, err == nil, err
	}
	if t.Before(last.ValidFrom) {
		// Before the region's first key (windows are back to back): such
		// a digest cannot be signed verifiably after the fact.
		first := last
		for i := range r.Keys {
			if r.Keys[i].Region == region && r.Keys[i].ValidFrom.Before(first.ValidFrom) {
				first = &r.Keys[i]
			}
		}
		return nil, false, fmt.Errorf("no signing key of %s covers %s (the first starts %s)", region, FormatTime(t), FormatTime(first.ValidFrom))
	}
	for {
		from := last.ValidTo
		k, err := r.newKey(region, from, from.Add(r.rotation()))
		if err != nil {
			return nil, false, err
		}
		if t.Before(k.ValidTo) {
			return k, true, nil
		}
		last = r.last(region)
	}
}

// Rotate retires the region's active key at now and starts a new one, so
// digests that end from now on are signed with it. When the newest key
// has expired before now, keys are first made for the windows between,
// so that windows stay back to back and digests ending in them (written
// late) can still be signed.
func (r *KeyRing) Rotate(region string, now time.Time) (*Key, error) {
	now = now.UTC()
	if r.last(region) != nil {
		k, made, err := r.For(region, now)
		if err != nil {
			return nil, fmt.Errorf("rotate %s: %w", region, err)
		}
		if made && k.ValidFrom.Equal(now) {
			return k, nil // a new key starts now anyway
		}
		if !now.After(k.ValidFrom) {
			return nil, fmt.Errorf("rotate %s: the active key started at %s", region, FormatTime(k.ValidFrom))
		}
		k.ValidTo = now
	}
	return r.newKey(region, now, now.Add(r.rotation()))
}

// Public returns the public parts of the region's keys whose windows
// overlap [start, end], oldest first.
func (r *KeyRing) Public(region string, start, end time.Time) []PublicKey {
	var out []PublicKey
	for _, k := range r.Keys {
		if k.Region != region || k.ValidTo.Before(start) || k.ValidFrom.After(end) {
			continue
		}
		out = append(out, PublicKey{Region: k.Region, Value: k.Public, Fingerprint: k.Fingerprint, ValidFrom: k.ValidFrom, ValidTo: k.ValidTo})
	}
	return out
}
