package keys_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/keys"
	"github.com/opentrail/opentrail/internal/store"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// testKeys hands out the digest package's fixed test keys in turn:
// generating RSA keys is slow, the more so under the race detector.
func testKeys(t *testing.T) func() (*rsa.PrivateKey, error) {
	t.Helper()
	var ks []*rsa.PrivateKey
	for i := 1; i <= 3; i++ {
		b, err := os.ReadFile(fmt.Sprintf("../digest/testdata/keys/key%d.pem", i))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("key%d.pem is not PEM", i)
		}
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			k8, err8 := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err8 != nil {
				t.Fatal(err)
			}
			k = k8.(*rsa.PrivateKey)
		}
		ks = append(ks, k)
	}
	n := 0
	return func() (*rsa.PrivateKey, error) {
		n++
		return ks[(n-1)%len(ks)], nil
	}
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// The key ring lives in the store's meta table under "digest-keys", as
// digest.KeyRing encodes it: a key made once is the key after a restart,
// and a ring stored by an earlier build is read as it is.
func TestKeysAreStoredInTheEventStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir)
	k := keys.New(st, keys.Options{Generate: testKeys(t)})
	made, err := k.Signer(ctx, "eu-west-1", t0)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.Meta(ctx, "digest-keys")
	if err != nil {
		t.Fatalf("meta digest-keys after a key was made: %v", err)
	}
	ring, err := digest.DecodeKeyRing(stored)
	if err != nil {
		t.Fatal(err)
	}
	if pub := ring.Public("eu-west-1", t0, t0); len(pub) != 1 || pub[0].Fingerprint != made.Fingerprint() {
		t.Fatalf("stored ring holds %+v, want the key made (%s)", pub, made.Fingerprint())
	}
	if err := k.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// A second key store over the same meta table (a restart) signs with
	// the same key and makes none.
	again := keys.New(st, keys.Options{Generate: func() (*rsa.PrivateKey, error) {
		return nil, errors.New("a stored key was made again")
	}})
	got, err := again.Signer(ctx, "eu-west-1", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint() != made.Fingerprint() {
		t.Errorf("after a restart the signing key is %s, want %s", got.Fingerprint(), made.Fingerprint())
	}
	if after, _ := st.Meta(ctx, "digest-keys"); !bytes.Equal(after, stored) {
		t.Error("reading the stored ring rewrote it")
	}
}

// Signing, PublicKeys and Rotate share one ring: the key delivery signs
// with is the one ListPublicKeys lists, and a rotation is seen by both.
func TestSigningPublicKeysAndRotateShareOneRing(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0.Add(2 * time.Hour))
	k := keys.New(openStore(t, t.TempDir()), keys.Options{Generate: testKeys(t), Clock: clk, Rotation: 24 * time.Hour})

	first, err := k.Signer(ctx, "eu-west-1", t0)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.PublicKeys(ctx, "eu-west-1", t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(pub) != 1 || pub[0].Fingerprint != first.Fingerprint() {
		t.Fatalf("public keys %+v, want the signing key %s", pub, first.Fingerprint())
	}
	if other, _ := k.PublicKeys(ctx, "us-east-1", t0, t0.Add(time.Hour)); len(other) != 0 {
		t.Errorf("another region lists %d keys, want none", len(other))
	}

	rotated, err := k.Rotate(ctx, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Fingerprint == first.Fingerprint() || !rotated.ValidFrom.Equal(clk.Now()) {
		t.Errorf("rotation gave %s valid from %s, want a new key valid from the clock's now %s", rotated.Fingerprint, rotated.ValidFrom, clk.Now())
	}
	next, err := k.Signer(ctx, "eu-west-1", clk.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if next.Fingerprint() != rotated.Fingerprint {
		t.Errorf("after rotation delivery signs with %s, want the new key %s", next.Fingerprint(), rotated.Fingerprint)
	}
	if old, _ := k.Signer(ctx, "eu-west-1", t0); old.Fingerprint() != first.Fingerprint() {
		t.Errorf("a period before the rotation is signed with %s, want the retired key %s", old.Fingerprint(), first.Fingerprint())
	}
	all, err := k.PublicKeys(ctx, "eu-west-1", time.Time{}, time.Unix(1<<40, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Errorf("after one rotation the region lists %d keys, want 2", len(all))
	}
}

// After Close every call fails with ErrClosed; the keys stay stored.
func TestClosedKeysRefuse(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	k := keys.New(st, keys.Options{Generate: testKeys(t)})
	if _, err := k.Signer(ctx, "eu-west-1", t0); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Signer(ctx, "eu-west-1", t0); !errors.Is(err, keys.ErrClosed) {
		t.Errorf("Signing after Close: %v, want ErrClosed", err)
	}
	if _, err := k.PublicKeys(ctx, "eu-west-1", t0, t0); !errors.Is(err, keys.ErrClosed) {
		t.Errorf("PublicKeys after Close: %v, want ErrClosed", err)
	}
	if _, err := k.Rotate(ctx, "eu-west-1"); !errors.Is(err, keys.ErrClosed) {
		t.Errorf("Rotate after Close: %v, want ErrClosed", err)
	}
	if _, err := st.Meta(ctx, keys.MetaKey); err != nil {
		t.Errorf("the ring is gone from the store after Close: %v", err)
	}
}
