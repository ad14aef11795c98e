package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/keys"
	"github.com/opentrail/opentrail/internal/store"
)

// signedTrail makes a logging trail with log file validation in bucket,
// posts two batches a digest period apart and waits for n digests; it
// returns the start of the range to validate.
func signedTrail(t *testing.T, s *server, bucket, trail string, n int) time.Time {
	t.Helper()
	for _, c := range [][]string{
		{"s3", "mb", "s3://" + bucket},
		{"cloudtrail", "create-trail", "--name", trail, "--s3-bucket-name", bucket, "--enable-log-file-validation"},
		{"cloudtrail", "start-logging", "--name", trail},
	} {
		s.mustCLI(t, "eu-west-1", c...)
	}
	begin := time.Now().UTC().Add(-time.Minute)
	postWorkload(t, s, trail+"-1", 100)
	time.Sleep(3 * time.Second)
	postWorkload(t, s, trail+"-2", 100)
	s.waitDigests(t, bucket, trail, n)
	return begin
}

// waitDigests waits until the trail is delivered through about now and
// its bucket holds n digests.
func (s *server) waitDigests(t *testing.T, bucket, trail string, n int) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		st := s.trailStatus(t, "test", "eu-west-1", trail)
		if st.DeliveredThroughTime > float64(time.Now().Add(-time.Second).Unix()) && s.digestCount(t, bucket) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d digests, want %d: %+v\n%s", s.digestCount(t, bucket), n, st, s.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// awsValidates runs aws cloudtrail validate-logs over the trail from
// begin to now and fails unless every digest and log file is valid.
func (s *server) awsValidates(t *testing.T, trail string, begin time.Time) string {
	t.Helper()
	arn := "arn:aws:cloudtrail:eu-west-1:000000000000:trail/" + trail
	out, errs, code := s.validateLogs(t, s.url, "eu-west-1", "--trail-arn", arn, "--start-time", begin.Format(time.RFC3339),
		"--end-time", time.Now().UTC().Format(time.RFC3339), "--verbose")
	if code != 0 || !strings.Contains(out, "digest files valid") || strings.Contains(out, "INVALID") || errs != "" {
		t.Fatalf("aws validate-logs: exit %d\n%s\n%s\nserver:\n%s", code, out, errs, s.output())
	}
	return out
}

// serveFails runs serve on dir with extra flags and returns its stderr,
// failing the test unless it exits with an error.
func serveFails(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", freeAddr(t), "--data", dir}, extra...)...)
	cmd.Env = append(os.Environ(), "OPENTRAIL_E2E_AS_COMMAND=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	go func() { done <- cmd.Run() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("serve %v started:\n%s", extra, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("serve %v did not refuse to start within 30 s:\n%s", extra, stderr.String())
	}
	return stderr.String()
}

// TestKeyFileKeepsSigningKeysOutOfTheStore: with --keys-file the digest
// signing keys live in that owner-only file; digests (across a rotation
// through the CLI) validate with the AWS CLI; no private key appears in
// an API answer or the log; the store holds no private key, so a copy of
// the data directory alone does not start a server that signs, and a key
// file others may read stops the start.
func TestKeyFileKeepsSigningKeysOutOfTheStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	keyFile := filepath.Join(t.TempDir(), "secrets", "digest-keys.json")
	s := startServer(t, dir, "--delivery-interval", "1s", "--digest-interval", "3s", "--keys-file", keyFile)
	begin := signedTrail(t, s, "kf-logs", "kf-trail", 2)

	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("OPENTRAIL_ENDPOINT", s.url)
	rotateOut, rotateErr, code := runCLI(t, "keys", "rotate", "--region", "eu-west-1")
	if code != 0 {
		t.Fatalf("keys rotate: %d %s %s", code, rotateOut, rotateErr)
	}
	postWorkload(t, s, "kf-3", 100)
	s.waitDigests(t, "kf-logs", "kf-trail", s.digestCount(t, "kf-logs")+2)
	validated := s.awsValidates(t, "kf-trail", begin)
	t.Logf("across a rotation: %s", lastLines(validated, 2))

	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := digest.DecodeKeyRing(data)
	if err != nil || len(ring.Keys) < 2 {
		t.Fatalf("key file holds %d keys (%v), want the first and the rotated one", len(ring.Keys), err)
	}
	listOut, _, _ := runCLI(t, "keys", "list", "--region", "eu-west-1")
	publicOut := s.mustCLI(t, "eu-west-1", "cloudtrail", "list-public-keys", "--start-time", begin.Add(-time.Hour).Format(time.RFC3339))
	for _, k := range ring.Keys {
		if !strings.Contains(publicOut, base64.StdEncoding.EncodeToString(k.Public)) {
			t.Errorf("list-public-keys lacks key %s", k.Fingerprint)
		}
		// The end of the private key's DER (its CRT coefficient, which no
		// public value contains), as a leak of the DER in base64 or hex
		// would show it, and a leak of the tail alone.
		tail := k.Private[len(k.Private)-64:]
		b64 := base64.StdEncoding.EncodeToString(k.Private)
		for _, enc := range []string{b64[len(b64)-80:], hex.EncodeToString(tail), base64.StdEncoding.EncodeToString(tail[:60])} {
			for name, text := range map[string]string{"server log": s.output(), "keys rotate": rotateOut + rotateErr, "keys list": listOut, "list-public-keys": publicOut} {
				if strings.Contains(text, enc) {
					t.Errorf("the private half of key %s appears in the %s", k.Fingerprint, name)
				}
			}
		}
	}
	s.stop()

	st, err := store.Open(context.Background(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Meta(context.Background(), keys.MetaKey); err != store.ErrNotFound {
		t.Errorf("the event store holds a key ring (%v)", err)
	}
	st.Close()

	// A copy of the data directory, without the key file.
	copyDir := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", dir, copyDir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	msg := serveFails(t, copyDir)
	if !strings.Contains(msg, "kept outside it") || !strings.Contains(msg, keyFile) {
		t.Errorf("serve on a copy of the store without its key file does not say why:\n%s", msg)
	}
	msg = serveFails(t, copyDir, "--keys-file", filepath.Join(t.TempDir(), "other.json"))
	if !strings.Contains(msg, "restore the key file") {
		t.Errorf("serve on a copy of the store with a new key file does not say why:\n%s", msg)
	}

	// A key file its group may read.
	os.Chmod(keyFile, 0o640)
	msg = serveFails(t, dir, "--keys-file", keyFile)
	if !strings.Contains(msg, "chmod 600 "+keyFile) {
		t.Errorf("serve with a key file open to its group does not name chmod 600:\n%s", msg)
	}
}

// TestExternalSignerDigestsValidate: with keys.sign_command, openssl
// signs every digest with a key opentrail never reads; the AWS CLI
// validates the trail with the public keys file's key; a signer that
// signs with another key delivers no digest and GetTrailStatus says why;
// rotation is refused with how to rotate instead.
func TestExternalSignerDigestsValidate(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	signer := t.TempDir()
	key := filepath.Join(signer, "digest.pem")
	for _, c := range [][]string{
		{"genrsa", "-out", key, "2048"},
		{"genrsa", "-out", filepath.Join(signer, "other.pem"), "2048"},
		{"rsa", "-in", key, "-pubout", "-out", filepath.Join(signer, "digest.pub")},
	} {
		if out, err := exec.Command("openssl", c...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v %s", c, err, out)
		}
	}
	pub, _ := os.ReadFile(filepath.Join(signer, "digest.pub"))
	pubFile := filepath.Join(t.TempDir(), "public-keys.yaml")
	from := time.Now().UTC().Add(-24 * time.Hour).Format(time.RFC3339)
	os.WriteFile(pubFile, []byte("keys:\n  - id: digest\n    valid_from: "+from+"\n    public_key: |\n      "+
		strings.ReplaceAll(strings.TrimSpace(string(pub)), "\n", "\n      ")+"\n"), 0o644)
	// The signer signs with the key named by OPENTRAIL_KEY_ID, or with
	// "other" when told to misbehave.
	script := filepath.Join(signer, "sign.sh")
	os.WriteFile(script, []byte(`#!/bin/sh
id="$OPENTRAIL_KEY_ID"
[ -e "$0.wrong" ] && id=other
exec openssl dgst -sha256 -sign "$(dirname "$0")/$id.pem" -hex
`), 0o700)
	cfg := writeConfig(t, fmt.Sprintf("keys:\n  sign_command: [%q]\n  public_keys_file: %q\n", script, pubFile))
	s := startServer(t, "", "--config", cfg, "--delivery-interval", "1s", "--digest-interval", "3s")
	begin := signedTrail(t, s, "ext-logs", "ext-trail", 3)
	validated := s.awsValidates(t, "ext-trail", begin)
	t.Logf("externally signed: %s", lastLines(validated, 2))

	der, _ := digest.ParsePublicKey(mustPEM(t, pub))
	fp := digest.Fingerprint(digest.PublicKeyDER(der))
	if out := s.mustCLI(t, "eu-west-1", "cloudtrail", "list-public-keys"); !strings.Contains(out, fp) {
		t.Errorf("list-public-keys does not list the signer's key %s:\n%s", fp, out)
	}
	status, body, _ := do(t, signedRequest(t, creds("test"), "opentrail", "eu-west-1", "POST", s.url+"/v1/keys/rotate?region=eu-west-1", nil, nil))
	if status != 400 || !strings.Contains(string(body), "rotate the key in the signer") {
		t.Errorf("rotate with an external signer: %d %s", status, body)
	}

	// The signer goes wrong: no digest is delivered, and the trail's
	// status says why.
	os.WriteFile(script+".wrong", nil, 0o600)
	before := s.digestCount(t, "ext-logs")
	postWorkload(t, s, "ext-wrong", 50)
	deadline := time.Now().Add(20 * time.Second)
	var st trailStatus
	for {
		st = s.trailStatus(t, "test", "eu-west-1", "ext-trail")
		if strings.Contains(st.LatestDigestDeliveryError, "does not verify") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no digest error after the signer went wrong: %+v\n%s", st, s.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := s.digestCount(t, "ext-logs"); n != before {
		t.Errorf("%d digests delivered with a wrong signature", n-before)
	}
	t.Logf("LatestDigestDeliveryError: %s", st.LatestDigestDeliveryError)

	// Fixed: digests resume and the whole range still validates.
	os.Remove(script + ".wrong")
	s.waitDigests(t, "ext-logs", "ext-trail", before+2)
	s.awsValidates(t, "ext-trail", begin)
}

func mustPEM(t *testing.T, b []byte) []byte {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("not PEM")
	}
	return blk.Bytes
}
