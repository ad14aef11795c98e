package digest_test

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/opentrail/opentrail/internal/digest"
)

func TestParse(t *testing.T) {
	plain := goldenDigest().Marshal()
	d, err := digest.Parse(plain)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, goldenDigest()) {
		t.Errorf("Parse(Marshal(d)) = %+v, want %+v", d, goldenDigest())
	}

	start := `{"digestPublicKeyFingerprint":"f","digestS3Bucket":"b","digestS3Object":"k","previousDigestSignature":null,"digestEndTime":"e","digestStartTime":"s"}`
	d, err = digest.Parse([]byte(start))
	if err != nil {
		t.Fatalf("Parse(minimal starting digest): %v", err)
	}
	if d.PreviousDigestSignature != nil || d.LogFiles == nil || len(d.LogFiles) != 0 {
		t.Errorf("minimal digest parsed as %+v", d)
	}
	if _, err := digest.Parse([]byte(strings.Replace(start, "{", `{"somethingNew":[1,{"x":2}],`, 1))); err != nil {
		t.Errorf("Parse with an unknown key: %v", err)
	}

	for _, c := range []struct{ name, json, want string }{
		{"not JSON", `{`, "parse digest"},
		{"array", `[]`, "not a JSON object"},
		{"trailing data", start + `{}`, "after the JSON object"},
		{"no fingerprint", strings.Replace(start, `"digestPublicKeyFingerprint":"f",`, "", 1), "digestPublicKeyFingerprint is missing"},
		{"no bucket", strings.Replace(start, `"digestS3Bucket":"b",`, "", 1), "digestS3Bucket is missing"},
		{"no object", strings.Replace(start, `"digestS3Object":"k",`, "", 1), "digestS3Object is missing"},
		{"no previous signature key", strings.Replace(start, `"previousDigestSignature":null,`, "", 1), "previousDigestSignature is missing"},
		{"no end", strings.Replace(start, `"digestEndTime":"e",`, "", 1), "digestEndTime is missing"},
		{"no start", strings.Replace(start, `,"digestStartTime":"s"`, "", 1), "digestStartTime is missing"},
		{"null bucket", strings.Replace(start, `"digestS3Bucket":"b"`, `"digestS3Bucket":null`, 1), "digestS3Bucket is not a string"},
		{"numeric end", strings.Replace(start, `"digestEndTime":"e"`, `"digestEndTime":1`, 1), "digestEndTime is not a string"},
		{"duplicate key", strings.Replace(start, `"digestS3Bucket":"b"`, `"digestS3Bucket":"b","digestS3Bucket":"c"`, 1), "given twice"},
		{"case variant", strings.Replace(start, `{`, `{"DigestS3Object":"other",`, 1), "spelled DigestS3Object"},
		{"wrong type", strings.Replace(start, `{`, `{"logFiles":"none",`, 1), "parse digest"},
	} {
		_, err := digest.Parse([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Parse = %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func TestGunzip(t *testing.T) {
	a, b := []byte(`{"Records":[1]}`), []byte(`{"Records":[2]}`)
	gz := digest.Gzip(a)
	if !bytes.Equal(digest.Gzip(a), gz) {
		t.Error("Gzip is not deterministic")
	}
	for _, c := range []struct {
		name string
		in   []byte
		want []byte
		err  string
	}{
		{"one member", gz, a, ""},
		{"two members", append(slicesClone(gz), digest.Gzip(b)...), append(slicesClone(a), b...), ""},
		{"empty", nil, nil, "empty file"},
		{"truncated", gz[:len(gz)-3], nil, "truncated"},
		{"junk after", append(slicesClone(gz), "junk after the end"...), nil, "invalid header"},
		{"not gzip", a, nil, "invalid header"},
		{"bad checksum", flipByte(gz, len(gz)-6), nil, "checksum"},
	} {
		got, err := digest.Gunzip(c.in)
		if c.err == "" {
			if err != nil || !bytes.Equal(got, c.want) {
				t.Errorf("%s: Gunzip = %q, %v; want %q", c.name, got, err, c.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: Gunzip = %v, want an error containing %q", c.name, err, c.err)
		}
		if _, herr := digest.HashGzip(bytes.NewReader(c.in)); herr == nil || herr.Error() != err.Error() {
			t.Errorf("%s: HashGzip error %v, Gunzip's %v", c.name, herr, err)
		}
	}
}

func TestHashGzip(t *testing.T) {
	plain := bytes.Repeat([]byte(`{"eventName":"GetObject"},`), 20000)
	gz := digest.Gzip(plain)
	for name, r := range map[string]io.Reader{
		"bytes":      bytes.NewReader(gz),
		"one byte":   iotest.OneByteReader(bytes.NewReader(gz)),
		"data + EOF": iotest.DataErrReader(bytes.NewReader(gz)),
	} {
		got, err := digest.HashGzip(r)
		if err != nil || got != digest.Hash(plain) {
			t.Errorf("%s: HashGzip = %s, %v; want %s", name, got, err, digest.Hash(plain))
		}
	}
	// A failing reader is a read error, returned as it is, not a damaged
	// file.
	boom := errors.New("connection reset")
	_, err := digest.HashGzip(io.MultiReader(bytes.NewReader(gz[:100]), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || strings.Contains(err.Error(), "gunzip") {
		t.Errorf("HashGzip(failing reader) = %v, want %v as it is", err, boom)
	}
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

func flipByte(b []byte, i int) []byte {
	c := slicesClone(b)
	c[i] ^= 0xff
	return c
}
