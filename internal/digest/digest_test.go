package digest_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/digest"
)

// golden compares got with testdata/golden/name, or writes it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\ngot  %q\nwant %q", name, got, want)
	}
}

// goldenDigest is a fixed digest linked to a previous one, listing one
// log file.
func goldenDigest() *digest.Digest {
	return &digest.Digest{
		AWSAccountID:                "210987654321",
		DigestStartTime:             "2024-05-06T07:00:41Z",
		DigestEndTime:               "2024-05-06T08:00:41Z",
		DigestS3Bucket:              "audit-bucket",
		DigestS3Object:              "org-logs/AWSLogs/210987654321/CloudTrail-Digest/eu-central-1/2024/05/06/210987654321_CloudTrail-Digest_eu-central-1_audit-main_eu-central-1_20240506T080041Z.json.gz",
		DigestPublicKeyFingerprint:  "1038f3e962d243b0ce5e1db602fc54dd",
		DigestSignatureAlgorithm:    digest.SignatureAlgorithm,
		NewestEventTime:             digest.Str("2024-05-06T07:04:59Z"),
		OldestEventTime:             digest.Str("2024-05-06T06:59:02Z"),
		PreviousDigestS3Bucket:      digest.Str("audit-bucket"),
		PreviousDigestS3Object:      digest.Str("org-logs/AWSLogs/210987654321/CloudTrail-Digest/eu-central-1/2024/05/06/210987654321_CloudTrail-Digest_eu-central-1_audit-main_eu-central-1_20240506T070041Z.json.gz"),
		PreviousDigestHashValue:     digest.Str("3f1c0a7d2b5e4f6a8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4ca9"),
		PreviousDigestHashAlgorithm: digest.Str(digest.HashAlgorithm),
		PreviousDigestSignature:     digest.Str(strings.Repeat("9b0e", 127) + "0044"),
		LogFiles: []digest.LogFile{{
			S3Bucket:        "audit-bucket",
			S3Object:        "org-logs/AWSLogs/210987654321/CloudTrail/eu-central-1/2024/05/06/210987654321_CloudTrail_eu-central-1_20240506T0705Z_Qm3xT9aLp0ZrW7cB.json.gz",
			HashValue:       "5a4b0c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f405162738495a6b7c8d9",
			HashAlgorithm:   digest.HashAlgorithm,
			NewestEventTime: "2024-05-06T07:04:59Z",
			OldestEventTime: "2024-05-06T06:59:02Z",
		}},
	}
}

// TestMarshalGolden pins the stored JSON: CloudTrail's field order, null
// for absent values (previousDigestSignature included, which
// validate-logs requires as a key), [] for no log files, opentrailGap
// only when set.
func TestMarshalGolden(t *testing.T) {
	golden(t, "linked-digest.json", goldenDigest().Marshal())

	start := goldenDigest()
	start.NewestEventTime, start.OldestEventTime, start.LogFiles = nil, nil, nil
	start.PreviousDigestS3Bucket, start.PreviousDigestS3Object, start.PreviousDigestHashValue = nil, nil, nil
	start.PreviousDigestHashAlgorithm, start.PreviousDigestSignature = nil, nil
	b := start.Marshal()
	golden(t, "start-digest.json", b)
	for _, s := range []string{`"previousDigestSignature":null`, `"logFiles":[]`, `"newestEventTime":null`} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("starting digest lacks %s: %s", s, b)
		}
	}
	if bytes.Contains(b, []byte("opentrailGap")) {
		t.Errorf("starting digest without a gap has opentrailGap: %s", b)
	}

	start.Gap = &digest.Gap{Start: "2024-05-06T05:00:41Z", End: start.DigestStartTime, Reason: digest.GapLoggingStopped,
		PreviousBucket: "audit-bucket", PreviousObject: "org-logs/AWSLogs/x.json.gz"}
	golden(t, "gap-digest.json", start.Marshal())
}

// TestSigningStringGolden pins the string a digest is signed over.
func TestSigningStringGolden(t *testing.T) {
	d := goldenDigest()
	plain := d.Marshal()
	s := digest.SigningString(d, digest.Hash(plain))
	golden(t, "signing-string.txt", []byte(s))
	lines := strings.Split(s, "\n")
	if len(lines) != 4 || lines[0] != d.DigestEndTime || lines[1] != d.DigestS3Bucket+"/"+d.DigestS3Object ||
		lines[2] != digest.Hash(plain) || lines[3] != *d.PreviousDigestSignature {
		t.Errorf("signing string lines %q", lines)
	}
	d.PreviousDigestSignature = nil
	if s := digest.SigningString(d, "h"); !strings.HasSuffix(s, "\nh\nnull") {
		t.Errorf("starting digest's signing string %q does not end with the literal null", s)
	}
}

// TestSignVerify signs the golden string with the fixed key: the
// signature is deterministic (and was checked once with `openssl dgst
// -sha256 -sign key1.pem`), verifies with the key's public half and no
// other, and not for another string.
func TestSignVerify(t *testing.T) {
	testKeys(t)
	d := goldenDigest()
	s := digest.SigningString(d, digest.Hash(d.Marshal()))
	sig, err := digest.Sign(key1, s)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "signature.hex", []byte(sig+"\n"))
	if len(sig) != 512 || strings.ToLower(sig) != sig {
		t.Errorf("signature is not 512 lowercase hex digits: %q", sig)
	}
	if err := digest.Verify(&key1.PublicKey, s, sig); err != nil {
		t.Errorf("Verify: %v", err)
	}
	for name, f := range map[string]func() error{
		"other key":    func() error { return digest.Verify(&key2.PublicKey, s, sig) },
		"other string": func() error { return digest.Verify(&key1.PublicKey, s+"x", sig) },
		"flipped":      func() error { return digest.Verify(&key1.PublicKey, s, flipHex(sig, 100)) },
		"not hex":      func() error { return digest.Verify(&key1.PublicKey, s, "zz"+sig[2:]) },
		"short":        func() error { return digest.Verify(&key1.PublicKey, s, sig[:510]) },
	} {
		if err := f(); !errors.Is(err, digest.ErrBadSignature) {
			t.Errorf("%s: Verify = %v, want ErrBadSignature", name, err)
		}
	}
	plain, sig2, err := digest.SignDigest(d, key1)
	if err != nil || sig2 != sig || !bytes.Equal(plain, d.Marshal()) {
		t.Errorf("SignDigest = %q, %v; want the same as Sign over Marshal", sig2, err)
	}
}

// TestFingerprint checks fingerprints against values computed outside Go
// (`openssl rsa -RSAPublicKey_out -outform DER | md5sum` for the test
// keys) and the three keys in AWS's custom-validation guide, one of them
// SubjectPublicKeyInfo DER.
func TestFingerprint(t *testing.T) {
	testKeys(t)
	for _, c := range []struct {
		name string
		der  []byte
		want string
	}{
		{"key1", digest.PublicKeyDER(&key1.PublicKey), "1038f3e962d243b0ce5e1db602fc54dd"},
		{"key2", digest.PublicKeyDER(&key2.PublicKey), "05940edb059448badf60f0cc4e8e9c13"},
		{"key3", digest.PublicKeyDER(&key3.PublicKey), "ddbda4b9390e0d9caf5d36d4c26eac33"},
	} {
		if got := digest.Fingerprint(c.der); got != c.want {
			t.Errorf("Fingerprint(%s) = %s, want %s", c.name, got, c.want)
		}
		if !bytes.HasPrefix(c.der, []byte{0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01}) {
			t.Errorf("%s: DER is not a PKCS#1 RSAPublicKey of a 2048-bit key: % x", c.name, c.der[:8])
		}
		pub, err := digest.ParsePublicKey(c.der)
		if err != nil || pub.N.Cmp(loadKey(t, c.name+".pem").N) != 0 {
			t.Errorf("ParsePublicKey(%s) = %v", c.name, err)
		}
	}

	keys, err := digest.ParsePublicKeys([]byte(awsSampleKeys))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"8eba5db5bea9b640d1c96a77256fe7f2", "8933b39ddc64d26d8e14ffbf6566fee4", "31e8b5433410dfb61a9dc45cc65b22ff"}
	if len(keys) != len(want) {
		t.Fatalf("parsed %d keys", len(keys))
	}
	for i, k := range keys {
		if got := digest.Fingerprint(k.Value); got != want[i] || k.Fingerprint != want[i] {
			t.Errorf("AWS sample key %d: Fingerprint = %s (listed %s), want %s", i, got, k.Fingerprint, want[i])
		}
		if _, err := digest.ParsePublicKey(k.Value); err != nil {
			t.Errorf("AWS sample key %d: %v", i, err)
		}
	}
	if got := keys[0].ValidFrom.Unix(); got != 1436317441 {
		t.Errorf("ValidityStartTime \"1436317441.0\" read as %d", got)
	}
	if _, err := digest.ParsePublicKey([]byte("not DER")); err == nil {
		t.Error("ParsePublicKey accepted garbage")
	}
}

// awsSampleKeys is the list-public-keys output printed in AWS's guide to
// custom validation of log files (epoch seconds as strings, as old CLIs
// printed them).
const awsSampleKeys = `{
    "publicKeyList": [
        {
            "ValidityStartTime": "1436317441.0",
            "ValidityEndTime": "1438909441.0",
            "Value": "MIIBCgKCAQEAn11L2YZ9h7onug2ILi1MWyHiMRsTQjfWE+pHVRLk1QjfWhirG+lpOa8NrwQ/r7Ah5bNL6HepznOU9XTDSfmmnP97mqyc7z/upfZdS/AHhYcGaz7n6Wc/RRBU6VmiPCrAUojuSk6/GjvA8iOPFsYDuBtviXarvuLPlrT9kAd4Lb+rFfR5peEgBEkhlzc5HuWO7S0y+KunqxX6jQBnXGMtxmPBPP0FylgWGNdFtks/4YSKcgqwH0YDcawP9GGGDAeCIqPWIXDLG1jOjRRzWfCmD0iJUkz8vTsn4hq/5ZxRFE7UBAUiVcGbdnDdvVfhF9C3dQiDq3k7adQIziLT0cShgQIDAQAB",
            "Fingerprint": "8eba5db5bea9b640d1c96a77256fe7f2"
        },
        {
            "ValidityStartTime": "1434589460.0",
            "ValidityEndTime": "1437181460.0",
            "Value": "MIIBCgKCAQEApfYL2FiZhpN74LNWVUzhR+VheYhwhYm8w0n5Gf6i95ylW5kBAWKVEmnAQG7BvS5g9SMqFDQx52fW7NWV44IvfJ2xGXT+wT+DgR6ZQ+6yxskQNqV5YcXj4Aa5Zz4jJfsYjDuO2MDTZNIzNvBNzaBJ+r2WIWAJ/Xq54kyF63B6WE38vKuDE7nSd1FqQuEoNBFLPInvgggYe2Ym1Refe2z71wNcJ2kY+q0h1BSHrSM8RWuJIw7MXwF9iQncg9jYzUlNJomozQzAG5wSRfbplcCYNY40xvGd/aAmO0m+Y+XFMrKwtLCwseHPvj843qVno6x4BJN9bpWnoPo9sdsbGoiK3QIDAQAB",
            "Fingerprint": "8933b39ddc64d26d8e14ffbf6566fee4"
        },
        {
            "ValidityStartTime": "1434589370.0",
            "ValidityEndTime": "1437181370.0",
            "Value": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqlzPJbvZJ42UdcmLfPUqXYNfOs6I8lCfao/tOs8CmzPOEdtLWugB9xoIUz78qVHdKIqxbaG4jWHfJBiOSSFBM0lt8cdVo4TnRa7oG9io5pysS6DJhBBAeXsicufsiFJR+wrUNh8RSLxL4k6G1+BhLX20tJkZ/erT97tDGBujAelqseGg3vPZbTx9SMfOLN65PdLFudLP7Gat0Z9p5jw/rjpclKfo9Bfc3heeBxWGKwBBOKnFAaN9V57pOaosCvPKmHd9bg7jsQkI9Xp22IzGLsTFJZYVA3KiTAElDMu80iFXPHEq9hKNbt9e4URFam+1utKVEiLkR2disdCmPTK0VQIDAQAB",
            "Fingerprint": "31e8b5433410dfb61a9dc45cc65b22ff"
        }
    ]
}`

// TestPublicKeysRoundTrip writes keys as a keys file and reads them back.
func TestPublicKeysRoundTrip(t *testing.T) {
	testKeys(t)
	keys := corpusKeys()
	got, err := digest.ParsePublicKeys(digest.MarshalPublicKeys(keys))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(keys) {
		t.Fatalf("got %d keys", len(got))
	}
	for i := range keys {
		if !bytes.Equal(got[i].Value, keys[i].Value) || got[i].Fingerprint != keys[i].Fingerprint ||
			!got[i].ValidFrom.Equal(keys[i].ValidFrom) || !got[i].ValidTo.Equal(keys[i].ValidTo) {
			t.Errorf("key %d: got %+v, want %+v", i, got[i], keys[i])
		}
	}
	// Epoch numbers, as the API returns them; no fingerprint: computed.
	b64 := base64.StdEncoding.EncodeToString(keys[0].Value)
	got, err = digest.ParsePublicKeys([]byte(`{"PublicKeyList":[{"Value":"` + b64 + `","ValidityStartTime":1.7724e9,"ValidityEndTime":1772400000}]}`))
	if err != nil || got[0].Fingerprint != keys[0].Fingerprint || got[0].ValidTo.Unix() != 1772400000 {
		t.Errorf("ParsePublicKeys(epoch numbers) = %+v, %v", got, err)
	}
	for _, bad := range []string{`[`, `{"PublicKeyList":[{"Value":"%%%"}]}`, `{"PublicKeyList":[{"Value":"","ValidityStartTime":"yesterday"}]}`} {
		if _, err := digest.ParsePublicKeys([]byte(bad)); err == nil {
			t.Errorf("ParsePublicKeys(%s) succeeded", bad)
		}
	}
}
