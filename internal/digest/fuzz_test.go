package digest_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
)

// digestSeeds adds the uncompressed digests of the clean corpus and the
// golden files to f's seed corpus.
func digestSeeds(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(corpusDir, "clean", "bucket", "*", "*", "*", "CloudTrail-Digest", "*", "*", "*", "*", "*.json.gz"))
	for _, p := range paths {
		gz, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		plain, err := digest.Gunzip(gz)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(plain)
	}
	if len(paths) == 0 {
		f.Fatal("no corpus digests to seed with")
	}
	for _, name := range []string{"linked-digest.json", "start-digest.json", "gap-digest.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"digestS3Bucket":"b","digestS3Bucket":"b"}`))
	f.Add([]byte(`{"previousDigestSignature":null}`))
}

// FuzzParse checks that Parse never panics and that what it accepts
// survives Marshal and Parse again unchanged.
func FuzzParse(f *testing.F) {
	digestSeeds(f)
	f.Fuzz(func(t *testing.T, plain []byte) {
		d, err := digest.Parse(plain)
		if err != nil {
			return
		}
		again, err := digest.Parse(d.Marshal())
		if err != nil {
			t.Fatalf("Parse(Marshal(d)): %v\n%s", err, d.Marshal())
		}
		if !reflect.DeepEqual(d, again) {
			t.Fatalf("round trip changed the digest:\n%+v\n%+v", d, again)
		}
	})
}

// FuzzValidateDigest stores arbitrary bytes as a validly signed digest of
// the corpus trail (at the key it names, if that is one of the trail's
// digest keys) and checks that Validate neither fails nor panics, and
// reports the digest first and exactly once when it is listed.
func FuzzValidateDigest(f *testing.F) {
	digestSeeds(f)
	testKeys(f)
	opts := digest.Options{Start: corpusT0, End: corpusT0.Add(6 * time.Hour)}
	f.Fuzz(func(t *testing.T, plain []byte) {
		key := digestKey(corpusTrail, corpusT0.Add(3*time.Hour))
		prev, end, path := "null", "", corpusTrail.Bucket+"/"+key
		if d, err := digest.Parse(plain); err == nil {
			if strings.HasPrefix(d.DigestS3Object, "corp/AWSLogs/") && len(d.DigestS3Object) < 300 {
				key = d.DigestS3Object
			}
			if d.PreviousDigestSignature != nil {
				prev = *d.PreviousDigestSignature
			}
			end, path = d.DigestEndTime, d.DigestS3Bucket+"/"+d.DigestS3Object
		}
		sig, err := digest.Sign(key1, end+"\n"+path+"\n"+digest.Hash(plain)+"\n"+prev)
		if err != nil {
			t.Fatal(err)
		}
		src := &memSource{bucket: corpusTrail.Bucket, keys: corpusKeys(), objects: bucket{
			key: {digest.Gzip(plain), digest.ObjectMetadata(sig)},
		}}
		var rs []digest.Result
		if _, err := digest.Validate(context.Background(), src, corpusTrail, opts, func(r digest.Result) { rs = append(rs, r) }); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		listed, _ := src.ListDigests(context.Background(), corpusTrail, opts.Start, opts.End.Add(time.Hour))
		if len(listed) == 0 {
			return
		}
		n := 0
		for _, r := range rs {
			if r.Kind == digest.KindDigest && r.Object.Key == key {
				n++
			}
		}
		if len(rs) == 0 || rs[0].Object.Key != key || n != 1 {
			t.Fatalf("results %+v; want %s first and once", rs, key)
		}
	})
}

// FuzzParseMetadata: a metadata sidecar parses or is an error, never a
// panic, and parsed keys are lower-case.
func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte(`{"signature": "ab", "signature-algorithm": "SHA256withRSA"}`))
	f.Add([]byte(`{"ContentType": "application/octet-stream", "Metadata": {"X-Amz-Meta-Signature": "ab"}}`))
	f.Add([]byte(`{"Metadata": null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		meta, err := digest.ParseMetadata(b)
		if err != nil {
			return
		}
		for k := range meta {
			if k != strings.ToLower(k) {
				t.Fatalf("key %q of %q", k, b)
			}
		}
	})
}
