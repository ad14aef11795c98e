package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/opentrail/opentrail/internal/digest"
)

// Environment variables a signing command is run with, besides the
// server's own: which key to sign with.
const (
	EnvKeyID          = "OPENTRAIL_KEY_ID"
	EnvKeyFingerprint = "OPENTRAIL_KEY_FINGERPRINT"
	EnvRegion         = "OPENTRAIL_REGION"
)

// openEnd is the end of the newest key's window when the public keys
// file gives none.
var openEnd = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// publicKeysFile is the file listing an external signer's public keys
// (YAML or JSON):
//
//	keys:
//	  - id: digest-2026-01          # passed to the command as OPENTRAIL_KEY_ID
//	    valid_from: 2026-01-01T00:00:00Z
//	    valid_to: 2026-07-01T00:00:00Z   # optional: else when the next key starts
//	    regions: [us-east-1]       # optional: else every region
//	    public_key: |
//	      -----BEGIN PUBLIC KEY-----
//	      ...
//	      -----END PUBLIC KEY-----
type publicKeysFile struct {
	Keys []publicKeyEntry `yaml:"keys"`
}

// publicKeyEntry is one key of a publicKeysFile.
type publicKeyEntry struct {
	ID        string   `yaml:"id"`
	ValidFrom string   `yaml:"valid_from"`
	ValidTo   string   `yaml:"valid_to"`
	Regions   []string `yaml:"regions"`
	PublicKey string   `yaml:"public_key"` // PEM: PUBLIC KEY (X.509) or RSA PUBLIC KEY (PKCS#1)
}

// signerKey is one parsed key of the public keys file.
type signerKey struct {
	id          string
	der         []byte // PKCS#1, as ListPublicKeys serves it
	fingerprint string
	pub         *rsa.PublicKey
	from, to    time.Time // to is zero when the file gives none
	regions     []string  // nil: every region
}

func (s *signerKey) covers(region string) bool {
	return len(s.regions) == 0 || slices.Contains(s.regions, region)
}

// parsePublicKeysFile reads a public keys file; errors name the key and
// the field.
func parsePublicKeysFile(b []byte) ([]signerKey, error) {
	var f publicKeysFile
	if err := yaml.UnmarshalWithOptions(b, &f, yaml.DisallowUnknownField()); err != nil {
		return nil, fmt.Errorf("%s", yaml.FormatError(err, false, true))
	}
	if len(f.Keys) == 0 {
		return nil, errors.New("lists no keys; want keys: [{id, valid_from, public_key}] (docs/security.md#external-signer)")
	}
	seen := map[string]bool{}
	out := make([]signerKey, 0, len(f.Keys))
	for i, e := range f.Keys {
		where := fmt.Sprintf("keys[%d]", i)
		if e.ID != "" {
			where += " (" + e.ID + ")"
		}
		blk, _ := pem.Decode([]byte(e.PublicKey))
		if blk == nil {
			return nil, fmt.Errorf("%s.public_key: not PEM; want the output of openssl rsa -pubout", where)
		}
		pub, err := digest.ParsePublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s.public_key: %w", where, err)
		}
		if pub.N.BitLen() < digest.KeyBits {
			return nil, fmt.Errorf("%s.public_key: a %d-bit key; want at least %d bits", where, pub.N.BitLen(), digest.KeyBits)
		}
		k := signerKey{id: e.ID, der: digest.PublicKeyDER(pub), pub: pub, regions: e.Regions}
		k.fingerprint = digest.Fingerprint(k.der)
		if seen[k.fingerprint] {
			return nil, fmt.Errorf("%s.public_key: the same key is listed twice (fingerprint %s)", where, k.fingerprint)
		}
		seen[k.fingerprint] = true
		if k.from, err = time.Parse(time.RFC3339, e.ValidFrom); err != nil {
			return nil, fmt.Errorf("%s.valid_from %q: want an RFC 3339 time such as 2026-01-01T00:00:00Z (when the signer starts using the key)", where, e.ValidFrom)
		}
		if e.ValidTo != "" {
			if k.to, err = time.Parse(time.RFC3339, e.ValidTo); err != nil || !k.to.After(k.from) {
				return nil, fmt.Errorf("%s.valid_to %q: want an RFC 3339 time after valid_from", where, e.ValidTo)
			}
		}
		k.from, k.to = k.from.UTC(), k.to.UTC()
		out = append(out, k)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].from.Before(out[j].from) })
	return out, nil
}

// commandBackend signs with an external command; it holds public keys
// only. The public keys file is read again when it changes.
type commandBackend struct {
	k     *Keys
	path  string
	mtime time.Time
	size  int64
	keys  []signerKey
}

func (k *Keys) openCommand(ctx context.Context, stored []byte, rec *record) (backend, error) {
	if len(stored) > 0 {
		return nil, fmt.Errorf("the event store holds digest signing keys (meta %s) and keys.sign_command is configured: "+
			"move them into a key file first (start once with keys.file), import its private keys into the signer and list their public keys in keys.public_keys_file, "+
			"so digests signed so far stay verifiable", MetaKey)
	}
	if k.opts.PublicKeysFile == "" {
		return nil, errors.New("keys.sign_command needs keys.public_keys_file, the public keys of the signer's keys")
	}
	if _, err := exec.LookPath(k.opts.SignCommand[0]); err != nil {
		return nil, fmt.Errorf("keys.sign_command: %w", err)
	}
	b := &commandBackend{k: k, path: k.opts.PublicKeysFile}
	if err := b.reload(ctx); err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, sk := range b.keys {
		have[sk.fingerprint] = true
	}
	if miss := rec.missing(have); len(miss) > 0 {
		return nil, fmt.Errorf("keys.public_keys_file %s lacks %d of the keys this event store's digests were signed with (%s): list every key the trails' digests were signed with, or they no longer validate",
			b.path, len(miss), fingerprintList(miss))
	}
	return b, nil
}

// reload reads the public keys file when it changed since the last read,
// and records its keys in the store.
func (b *commandBackend) reload(ctx context.Context) error {
	fi, err := os.Stat(b.path)
	if err != nil {
		return fmt.Errorf("keys.public_keys_file: %w", err)
	}
	if b.keys != nil && fi.ModTime().Equal(b.mtime) && fi.Size() == b.size {
		return nil
	}
	data, err := os.ReadFile(b.path)
	if err != nil {
		return fmt.Errorf("keys.public_keys_file: %w", err)
	}
	keys, err := parsePublicKeysFile(data)
	if err != nil {
		return fmt.Errorf("keys.public_keys_file %s: %w", b.path, err)
	}
	var rec []digest.Key
	for _, sk := range keys {
		for _, region := range sk.regions {
			rec = append(rec, digest.Key{Region: region, Fingerprint: sk.fingerprint, Public: sk.der, ValidFrom: sk.from, ValidTo: sk.to})
		}
		if len(sk.regions) == 0 {
			rec = append(rec, digest.Key{Fingerprint: sk.fingerprint, Public: sk.der, ValidFrom: sk.from, ValidTo: sk.to})
		}
	}
	if err := writeRecord(ctx, b.k.meta, keptBySigner, b.path, rec); err != nil {
		return err
	}
	b.keys, b.mtime, b.size = keys, fi.ModTime(), fi.Size()
	return nil
}

// windows returns region's keys with their windows: a key without
// valid_to lasts until the next one of the region starts.
func (b *commandBackend) windows(region string) []digest.PublicKey {
	var out []digest.PublicKey
	var ks []*signerKey
	for i := range b.keys {
		if b.keys[i].covers(region) {
			ks = append(ks, &b.keys[i])
		}
	}
	for i, sk := range ks {
		to := sk.to
		if to.IsZero() {
			to = openEnd
			if i+1 < len(ks) {
				to = ks[i+1].from
			}
		}
		out = append(out, digest.PublicKey{Region: region, Value: sk.der, Fingerprint: sk.fingerprint, ValidFrom: sk.from, ValidTo: to})
	}
	return out
}

func (b *commandBackend) signer(ctx context.Context, region string, t time.Time) (digest.Signer, error) {
	if err := b.reload(ctx); err != nil {
		return nil, err
	}
	var pick *digest.PublicKey
	for _, w := range b.windows(region) {
		if !t.Before(w.ValidFrom) && t.Before(w.ValidTo) {
			pick = &w
		}
	}
	if pick == nil {
		return nil, fmt.Errorf("no key in keys.public_keys_file %s covers %s in %s: add the signer's key with a valid_from at or before it", b.path, digest.FormatTime(t), region)
	}
	for i := range b.keys {
		if b.keys[i].fingerprint == pick.Fingerprint {
			return &commandSigner{argv: b.k.opts.SignCommand, timeout: b.k.opts.SignTimeout, key: &b.keys[i], region: region}, nil
		}
	}
	panic("keys: picked key lost")
}

func (b *commandBackend) public(ctx context.Context, region string, start, end time.Time) ([]digest.PublicKey, error) {
	if err := b.reload(ctx); err != nil {
		return nil, err
	}
	var out []digest.PublicKey
	for _, w := range b.windows(region) {
		if w.ValidTo.Before(start) || w.ValidFrom.After(end) {
			continue
		}
		out = append(out, w)
	}
	return out, nil
}

func (b *commandBackend) rotate(ctx context.Context, region string, now time.Time) (digest.PublicKey, error) {
	return digest.PublicKey{}, ErrExternalRotation
}

// commandSigner signs by running the signing command.
type commandSigner struct {
	argv    []string
	timeout time.Duration
	key     *signerKey
	region  string
}

func (s *commandSigner) Fingerprint() string { return s.key.fingerprint }

// maxSignerOutput bounds what is read of the command's stdout and stderr.
const maxSignerOutput = 64 << 10

// Sign runs the command with s on stdin and returns its signature as hex,
// once it verifies with the key's public half.
func (s *commandSigner) Sign(ctx context.Context, str string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.argv[0], s.argv[1:]...)
	cmd.Stdin = strings.NewReader(str)
	cmd.Env = append(os.Environ(), EnvKeyID+"="+s.key.id, EnvKeyFingerprint+"="+s.key.fingerprint, EnvRegion+"="+s.region)
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return "", fmt.Errorf("the signing command (keys.sign_command) did not answer within %s for key %s", s.timeout, s.key.fingerprint)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			msg = ": " + msg
		}
		return "", fmt.Errorf("the signing command (keys.sign_command) failed for key %s: %v%s", s.key.fingerprint, err, msg)
	}
	sig, err := decodeSignature(stdout.Bytes(), s.key.pub.Size())
	if err != nil {
		return "", fmt.Errorf("the signing command (keys.sign_command) for key %s: %w", s.key.fingerprint, err)
	}
	h := sha256.Sum256([]byte(str))
	if err := rsa.VerifyPKCS1v15(s.key.pub, crypto.SHA256, h[:], sig); err != nil {
		return "", fmt.Errorf("the signing command (keys.sign_command) returned a signature that does not verify with key %s (id %q) from keys.public_keys_file: "+
			"it signed with another key, or not SHA256withRSA over its stdin; the digest was not delivered", s.key.fingerprint, s.key.id)
	}
	return hex.EncodeToString(sig), nil
}

// decodeSignature reads a signature of size bytes as a command writes it:
// raw bytes, hex, base64, or openssl dgst -hex's "SHA2-256(stdin)= hex".
func decodeSignature(out []byte, size int) ([]byte, error) {
	if len(out) == size {
		return out, nil
	}
	s := strings.TrimSpace(string(out))
	if i := strings.LastIndex(s, "= "); i >= 0 {
		s = s[i+2:]
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == size {
		return b, nil
	}
	s = strings.Join(strings.Fields(s), "")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == size {
			return b, nil
		}
	}
	return nil, fmt.Errorf("its output (%d bytes) is not a %d-byte signature, raw or in hex or base64", len(out), size)
}

// limitedBuffer keeps the first maxSignerOutput bytes written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxSignerOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
