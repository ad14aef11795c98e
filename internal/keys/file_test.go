package keys_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/keys"
	"github.com/opentrail/opentrail/internal/store"
)

func logTo(buf *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

// With keys.file the ring lives in that file, owner-only, and not in the
// store; the store keeps only the public halves. A restart signs with the
// same key.
func TestKeyFileHoldsTheRing(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	file := filepath.Join(t.TempDir(), "secret", "digest-keys.json")
	var log bytes.Buffer
	k, err := keys.Open(ctx, st, keys.Options{File: file, Generate: testKeys(t), Logger: logTo(&log)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "created the digest signing key file") {
		t.Errorf("no word of the new key file in the log:\n%s", log.String())
	}
	s, err := k.Signer(ctx, "eu-west-1", t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, filepath.Dir(file)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v, want owner-only", p, fi.Mode().Perm())
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := digest.DecodeKeyRing(b)
	if err != nil || len(ring.Keys) != 1 || ring.Keys[0].Fingerprint != s.Fingerprint() || len(ring.Keys[0].Private) == 0 {
		t.Fatalf("key file holds %d keys (%v), want the signing key %s with its private half", len(ring.Keys), err, s.Fingerprint())
	}
	if _, err := st.Meta(ctx, keys.MetaKey); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the store holds a ring too: %v", err)
	}
	rec, err := st.Meta(ctx, keys.RecordKey)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rec), s.Fingerprint()) || bytes.Contains(rec, []byte(`"private"`)) {
		t.Errorf("the store's record is %s; want the key's fingerprint and no private half", rec)
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Errorf("the key file's directory holds %d entries, want the key file alone (no temporary files left)", len(entries))
	}
	k.Close(ctx)

	again, err := keys.Open(ctx, st, keys.Options{File: file, Generate: func() (*rsaKey, error) { return nil, errors.New("a stored key was made again") }})
	if err != nil {
		t.Fatal(err)
	}
	if s2, err := again.Signer(ctx, "eu-west-1", t0.Add(time.Hour)); err != nil || s2.Fingerprint() != s.Fingerprint() {
		t.Fatalf("after a restart: %v, %v; want key %s", s2, err, s.Fingerprint())
	}
	sig, err := s.Sign(ctx, "string to sign")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := digest.ParsePublicKey(ring.Keys[0].Public)
	if err := digest.Verify(pub, "string to sign", sig); err != nil {
		t.Errorf("the ring's signature does not verify: %v", err)
	}
}

// Rotation rewrites the key file (and the store's public record), never
// the store's ring.
func TestRotateWritesTheKeyFile(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	file := filepath.Join(t.TempDir(), "keys.json")
	clk := clock.NewFake(t0.Add(2 * time.Hour))
	k, err := keys.Open(ctx, st, keys.Options{File: file, Generate: testKeys(t), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Signer(ctx, "eu-west-1", t0); err != nil {
		t.Fatal(err)
	}
	rotated, err := k.Rotate(ctx, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	if !strings.Contains(string(b), rotated.Fingerprint) {
		t.Error("the key file does not hold the rotated key")
	}
	rec, _ := st.Meta(ctx, keys.RecordKey)
	if !strings.Contains(string(rec), rotated.Fingerprint) {
		t.Error("the store's public record does not list the rotated key")
	}
	if _, err := st.Meta(ctx, keys.MetaKey); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotation wrote a ring into the store: %v", err)
	}
}

// A ring in the store moves to a configured key file that does not exist
// yet, and leaves the store; the log says so.
func TestRingMovesFromStoreToKeyFile(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	old := keys.New(st, keys.Options{Generate: testKeys(t)})
	s, err := old.Signer(ctx, "eu-west-1", t0)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := st.Meta(ctx, keys.MetaKey)
	old.Close(ctx)

	file := filepath.Join(t.TempDir(), "keys.json")
	var log bytes.Buffer
	k, err := keys.Open(ctx, st, keys.Options{File: file, Logger: logTo(&log)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "moved the digest signing keys from the event store into the key file") {
		t.Errorf("the log does not tell of the move:\n%s", log.String())
	}
	if b, _ := os.ReadFile(file); !bytes.Equal(b, stored) {
		t.Error("the key file does not hold the store's ring as it was")
	}
	if _, err := st.Meta(ctx, keys.MetaKey); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the ring is still in the store after the move: %v", err)
	}
	if got, err := k.Signer(ctx, "eu-west-1", t0.Add(time.Minute)); err != nil || got.Fingerprint() != s.Fingerprint() {
		t.Errorf("after the move: %v, %v; want the same key %s", got, err, s.Fingerprint())
	}
}

// A ring both in the store and in the key file: the same keys (a move cut
// short after the file was written) finish the move; different ones are
// refused, naming both places.
func TestRingInBothPlaces(t *testing.T) {
	ctx := context.Background()
	gen := testKeys(t)
	st := openStore(t, t.TempDir())
	old := keys.New(st, keys.Options{Generate: gen})
	if _, err := old.Signer(ctx, "eu-west-1", t0); err != nil {
		t.Fatal(err)
	}
	stored, _ := st.Meta(ctx, keys.MetaKey)

	file := filepath.Join(t.TempDir(), "keys.json")
	if err := keys.WriteKeyFile(file, stored); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Open(ctx, st, keys.Options{File: file}); err != nil {
		t.Fatalf("a move cut short is not finished: %v", err)
	}
	if _, err := st.Meta(ctx, keys.MetaKey); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the ring is still in the store: %v", err)
	}

	// Another ring in the store than in the file.
	st2 := openStore(t, t.TempDir())
	other := keys.New(st2, keys.Options{Generate: gen})
	if _, err := other.Signer(ctx, "eu-west-1", t0); err != nil {
		t.Fatal(err)
	}
	_, err := keys.Open(ctx, st2, keys.Options{File: file})
	if err == nil || !strings.Contains(err.Error(), "both in the key file "+file) || !strings.Contains(err.Error(), "digest-keys") {
		t.Fatalf("a different ring in both places: %v; want a refusal naming both", err)
	}
}

// A key file its group or others may read is refused, naming chmod 600.
func TestKeyFileOpenToOthersIsRefused(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	file := filepath.Join(t.TempDir(), "keys.json")
	if _, err := keys.Open(ctx, st, keys.Options{File: file, Generate: testKeys(t)}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
		os.Chmod(file, mode)
		_, err := keys.Open(ctx, st, keys.Options{File: file})
		if err == nil || !strings.Contains(err.Error(), "chmod 600 "+file) {
			t.Errorf("key file mode %04o: %v; want a refusal naming chmod 600 %s", mode, err, file)
		}
	}
}

// A copy of a store whose keys are in a key file: without the key file
// (nothing configured, or a new key file path) it refuses to start, naming
// where the keys were; another store's key file is refused too; with
// NewRing a new ring starts that still lists the old public keys.
func TestStoreCopyWithoutKeyFileCannotSign(t *testing.T) {
	ctx := context.Background()
	gen := testKeys(t)
	dir := t.TempDir()
	st := openStore(t, dir)
	file := filepath.Join(t.TempDir(), "keys.json")
	k, err := keys.Open(ctx, st, keys.Options{File: file, Generate: gen})
	if err != nil {
		t.Fatal(err)
	}
	first, err := k.Signer(ctx, "eu-west-1", t0)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := keys.Open(ctx, st, keys.Options{}); err == nil || !strings.Contains(err.Error(), "in the key file "+file) {
		t.Errorf("no key configuration on a store whose keys are in a key file: %v; want a refusal naming the file", err)
	}
	lost := filepath.Join(t.TempDir(), "new-keys.json")
	if _, err := keys.Open(ctx, st, keys.Options{File: lost}); err == nil || !strings.Contains(err.Error(), "restore the key file") {
		t.Errorf("a missing key file for a store whose keys were in one: %v; want a refusal", err)
	}
	if _, err := os.Stat(lost); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused start made the key file: %v", err)
	}

	// Another server's key file.
	foreign := filepath.Join(t.TempDir(), "foreign.json")
	fk, err := keys.Open(ctx, openStore(t, t.TempDir()), keys.Options{File: foreign, Generate: gen})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fk.Signer(ctx, "us-east-1", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Open(ctx, st, keys.Options{File: foreign}); err == nil || !strings.Contains(err.Error(), "not this store's key file") {
		t.Errorf("another store's key file: %v; want a refusal", err)
	}

	// A deliberate new ring.
	clk := clock.NewFake(t0.Add(3 * time.Hour))
	var log bytes.Buffer
	nk, err := keys.Open(ctx, st, keys.Options{File: lost, NewRing: true, Generate: gen, Clock: clk, Logger: logTo(&log)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "started new digest signing keys") {
		t.Errorf("the log does not tell of the new ring:\n%s", log.String())
	}
	pub, err := nk.PublicKeys(ctx, "eu-west-1", time.Time{}, t0.Add(1000*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(pub) != 2 || pub[0].Fingerprint != first.Fingerprint() || !pub[0].ValidTo.Equal(clk.Now()) {
		t.Fatalf("after a new ring the region lists %+v; want the old key (ending now) and a new one", pub)
	}
	if s, err := nk.Signer(ctx, "eu-west-1", clk.Now().Add(time.Minute)); err != nil || s.Fingerprint() != pub[1].Fingerprint {
		t.Errorf("a new digest is signed with %v (%v), want the new key %s", s, err, pub[1].Fingerprint)
	}
	if _, err := nk.Signer(ctx, "eu-west-1", t0.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "private half") {
		t.Errorf("a digest in the lost key's window: %v; want an error saying its private half is gone", err)
	}
}

type rsaKey = rsa.PrivateKey

// A key file restored from a backup older than the newest key is refused
// (it is not lost, it is stale); with NewRing the missing key stays
// listed and a new one signs.
func TestStaleKeyFileBackup(t *testing.T) {
	ctx := context.Background()
	gen := testKeys(t)
	st := openStore(t, t.TempDir())
	file := filepath.Join(t.TempDir(), "keys.json")
	clk := clock.NewFake(t0.Add(2 * time.Hour))
	k, err := keys.Open(ctx, st, keys.Options{File: file, Generate: gen, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Signer(ctx, "eu-west-1", t0); err != nil {
		t.Fatal(err)
	}
	backup, _ := os.ReadFile(file)
	rotated, err := k.Rotate(ctx, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	k.Close(ctx)
	if err := keys.WriteKeyFile(file, backup); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Open(ctx, st, keys.Options{File: file}); err == nil || !strings.Contains(err.Error(), "backup from before") || !strings.Contains(err.Error(), rotated.Fingerprint) {
		t.Fatalf("a stale key file: %v; want a refusal naming the missing key", err)
	}
	clk.Advance(time.Hour)
	nk, err := keys.Open(ctx, st, keys.Options{File: file, NewRing: true, Generate: gen, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := nk.PublicKeys(ctx, "eu-west-1", time.Time{}, t0.Add(1000*time.Hour))
	if len(pub) != 3 || pub[1].Fingerprint != rotated.Fingerprint || !pub[1].ValidTo.Equal(clk.Now()) {
		t.Fatalf("after a new ring over a stale file the region lists %+v; want the backed-up key, the missing one (ending now) and a new one", pub)
	}
	if s, err := nk.Signer(ctx, "eu-west-1", clk.Now()); err != nil || s.Fingerprint() != pub[2].Fingerprint {
		t.Errorf("signer now: %v %v, want the new key", s, err)
	}
}
