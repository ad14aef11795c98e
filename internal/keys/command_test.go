package keys_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/keys"
)

// signerSetup writes the test keys as PEM files named by id into a
// directory the signing command reads, and returns it with the keys.
func signerSetup(t *testing.T) (dir string, ks []*rsa.PrivateKey) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed; the external signer tests sign with it")
	}
	dir = t.TempDir()
	gen := testKeys(t)
	for i := 1; i <= 3; i++ {
		k, _ := gen()
		b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("key%d.pem", i)), b, 0o600); err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	return dir, ks
}

func publicPEM(t *testing.T, k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// publicKeysFile writes a public keys file: one entry per id → key, valid
// from the given times.
func publicKeysFile(t *testing.T, path string, entries ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("keys:\n")
	for _, e := range entries {
		b.WriteString(e)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func entry(t *testing.T, id string, k *rsa.PrivateKey, from time.Time) string {
	indented := "      " + strings.ReplaceAll(strings.TrimSpace(publicPEM(t, k)), "\n", "\n      ")
	return fmt.Sprintf("  - id: %s\n    valid_from: %s\n    public_key: |\n%s\n", id, from.Format(time.RFC3339), indented)
}

// opensslSigner is a signing command: openssl signs stdin with the key
// file named by OPENTRAIL_KEY_ID, writing openssl dgst -hex's output.
func opensslSigner(dir string) []string {
	return []string{"sh", "-c", `exec openssl dgst -sha256 -sign "` + dir + `/$OPENTRAIL_KEY_ID.pem" -hex`}
}

// An external signing command signs: opentrail runs it with the string
// to sign on stdin and the key's id, checks its signature against the
// public key, and lists the public keys of the file. Rotation is the
// signer's; a key appended to the file takes over from its valid_from.
func TestSignCommandSigns(t *testing.T) {
	ctx := context.Background()
	dir, ks := signerSetup(t)
	pubs := filepath.Join(t.TempDir(), "public-keys.yaml")
	publicKeysFile(t, pubs, entry(t, "key1", ks[0], t0))
	st := openStore(t, t.TempDir())
	k, err := keys.Open(ctx, st, keys.Options{SignCommand: opensslSigner(dir), PublicKeysFile: pubs})
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.Signer(ctx, "eu-west-1", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	fp1 := digest.Fingerprint(digest.PublicKeyDER(&ks[0].PublicKey))
	if s.Fingerprint() != fp1 {
		t.Errorf("signer key %s, want key1's %s", s.Fingerprint(), fp1)
	}
	const msg = "2026-03-01T11:00:00Z\nbucket/AWSLogs/x.json.gz\nabcdef\nnull"
	sig, err := s.Sign(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := digest.Verify(&ks[0].PublicKey, msg, sig); err != nil {
		t.Errorf("the command's signature does not verify: %v", err)
	}
	if want, _ := digest.Sign(ks[0], msg); sig != want {
		t.Errorf("signature %s…, want what the key signs in process %s…", sig[:16], want[:16])
	}
	if _, err := s.Sign(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Signer(ctx, "eu-west-1", t0.Add(-time.Hour)); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Errorf("a time before the first key: %v, want an error", err)
	}
	if _, err := k.Rotate(ctx, "eu-west-1"); !errors.Is(err, keys.ErrExternalRotation) {
		t.Errorf("Rotate with a signer: %v, want ErrExternalRotation", err)
	}

	// The operator rotates in the signer and appends the new key.
	t1 := t0.Add(24 * time.Hour)
	publicKeysFile(t, pubs, entry(t, "key1", ks[0], t0), entry(t, "key2", ks[1], t1))
	os.Chtimes(pubs, time.Now().Add(time.Second), time.Now().Add(time.Second))
	s2, err := k.Signer(ctx, "eu-west-1", t1.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	fp2 := digest.Fingerprint(digest.PublicKeyDER(&ks[1].PublicKey))
	if s2.Fingerprint() != fp2 {
		t.Errorf("after the new key's valid_from the signer uses %s, want key2's %s", s2.Fingerprint(), fp2)
	}
	if sig, err := s2.Sign(ctx, msg); err != nil || digest.Verify(&ks[1].PublicKey, msg, sig) != nil {
		t.Errorf("key2's signature: %v", err)
	}
	pub, err := k.PublicKeys(ctx, "eu-west-1", t0, t1.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(pub) != 2 || pub[0].Fingerprint != fp1 || !pub[0].ValidTo.Equal(t1) || pub[1].Fingerprint != fp2 {
		t.Errorf("public keys %+v; want key1 until key2's valid_from, then key2", pub)
	}
	if rec, _ := st.Meta(ctx, keys.RecordKey); !strings.Contains(string(rec), fp2) {
		t.Error("the store's public record does not list the appended key")
	}
}

// A signature that does not verify with the listed public key, a command
// that fails, and one that does not answer in time are errors that say
// what went wrong.
func TestSignCommandFailures(t *testing.T) {
	ctx := context.Background()
	dir, ks := signerSetup(t)
	pubs := filepath.Join(t.TempDir(), "public-keys.yaml")
	// The file says key1, the signer signs with key2.
	publicKeysFile(t, pubs, entry(t, "key2", ks[0], t0))
	for _, tc := range []struct {
		name    string
		argv    []string
		timeout time.Duration
		want    string
	}{
		{"wrong key", opensslSigner(dir), 0, "does not verify with key"},
		{"fails", []string{"sh", "-c", "echo 'signer: HSM offline' >&2; exit 3"}, 0, "HSM offline"},
		{"garbage", []string{"sh", "-c", "echo not-a-signature"}, 0, "not a 256-byte signature"},
		{"slow", []string{"sh", "-c", "exec sleep 30"}, time.Second, "did not answer within 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := keys.Open(ctx, openStore(t, t.TempDir()), keys.Options{SignCommand: tc.argv, PublicKeysFile: pubs, SignTimeout: tc.timeout})
			if err != nil {
				t.Fatal(err)
			}
			s, err := k.Signer(ctx, "eu-west-1", t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = s.Sign(ctx, "x")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Sign: %v; want an error saying %q", err, tc.want)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Sign took %s", took)
			}
		})
	}
}

// A store whose ring is in it cannot switch to a signer unannounced; a
// public keys file must parse.
func TestSignCommandRefusals(t *testing.T) {
	ctx := context.Background()
	_, ks := signerSetup(t)
	pubs := filepath.Join(t.TempDir(), "public-keys.yaml")
	publicKeysFile(t, pubs, entry(t, "key1", ks[0], t0))
	st := openStore(t, t.TempDir())
	old := keys.New(st, keys.Options{Generate: testKeys(t)})
	if _, err := old.Signer(ctx, "eu-west-1", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Open(ctx, st, keys.Options{SignCommand: []string{"true"}, PublicKeysFile: pubs}); err == nil || !strings.Contains(err.Error(), "event store holds digest signing keys") {
		t.Errorf("a store ring with a signer: %v, want a refusal", err)
	}
	for _, bad := range []string{
		"keys: []\n",
		"keys:\n  - id: a\n    valid_from: 2026-01-01T00:00:00Z\n    public_key: nope\n",
		strings.Replace(entry(t, "key1", ks[0], t0), "valid_from: ", "valid_from: yesterday", 1),
	} {
		if !strings.HasPrefix(bad, "keys:") {
			bad = "keys:\n" + bad
		}
		os.WriteFile(pubs, []byte(bad), 0o644)
		if _, err := keys.Open(ctx, openStore(t, t.TempDir()), keys.Options{SignCommand: []string{"true"}, PublicKeysFile: pubs}); err == nil || !strings.Contains(err.Error(), pubs) {
			t.Errorf("public keys file %q: %v; want an error naming the file", bad, err)
		}
	}
}
