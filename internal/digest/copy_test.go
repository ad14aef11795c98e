package digest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
)

// plainCopy is a LocalCopy read as a copy made with `aws s3 cp
// --recursive`: no object has metadata (the sidecars are ignored).
type plainCopy struct{ *digest.LocalCopy }

func (p plainCopy) Get(ctx context.Context, o digest.ObjectRef) ([]byte, map[string]string, error) {
	b, _, err := p.LocalCopy.Get(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	return b, map[string]string{}, nil
}

// bucketMeta is a MetadataFetcher over a LocalCopy with its sidecars: the
// bucket a plain copy was made from.
type bucketMeta struct {
	src   *digest.LocalCopy
	calls int
}

func (b *bucketMeta) FetchMetadata(ctx context.Context, o digest.ObjectRef) (map[string]string, error) {
	b.calls++
	_, meta, err := b.src.Get(ctx, o)
	return meta, err
}

// corpusCase reads one case of the tamper corpus.
func corpusCase(t *testing.T, dir string) (digest.Trail, []digest.PublicKey, digest.Options, []expectation) {
	t.Helper()
	var tf corpusFile
	readJSON(t, filepath.Join(dir, "trail.json"), &tf)
	var exp struct{ Results []expectation }
	readJSON(t, filepath.Join(dir, "expect.json"), &exp)
	kb, err := os.ReadFile(filepath.Join(dir, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := digest.ParsePublicKeys(kb)
	if err != nil {
		t.Fatal(err)
	}
	tr := digest.Trail{Bucket: tf.Bucket, Prefix: tf.Prefix, Account: tf.Account, SourceRegion: tf.SourceRegion,
		Name: tf.Name, HomeRegion: tf.HomeRegion}
	return tr, keys, digest.Options{Start: tf.Start, End: tf.End, Parallel: 3}, exp.Results
}

// TestCorpusWithoutMetadata validates every case of the tamper corpus as
// a copy without object metadata, as `aws s3 cp --recursive` makes it:
// the tampering is still found, file by file, and nothing else is
// reported invalid. A digest that the copy alone cannot verify (no newer
// valid digest records its signature) is SignatureUnavailable, not
// invalid, unless the bucket the copy was made from is at hand to fetch
// its signature from; then every result is what the case expects of the
// bucket itself.
func TestCorpusWithoutMetadata(t *testing.T) {
	testKeys(t)
	// Cases whose tampering is in the metadata alone: a copy without it
	// holds the clean trail, and the tampered digests are vouched for by
	// their successors, so the bucket is not asked about them either.
	metaOnly := map[string]bool{"forged-signature": true, "altered-signature": true}
	run := func(t *testing.T, name string, remote bool) ([]expectation, digest.Summary, int) {
		dir := filepath.Join(corpusDir, name)
		tr, keys, opts, _ := corpusCase(t, dir)
		full := &digest.LocalCopy{Dir: filepath.Join(dir, "bucket"), Bucket: tr.Bucket, Keys: keys}
		cp := &digest.LocalCopy{Dir: full.Dir, Bucket: tr.Bucket, Keys: keys}
		bm := &bucketMeta{src: full}
		if remote {
			cp.Remote = bm
		}
		rs, sum := validate(t, plainCopy{cp}, tr, opts)
		return expectations(rs), sum, bm.calls
	}
	clean, cleanSum, _ := run(t, "clean", false)
	if cleanSum.DigestsUnverified != 1 || cleanSum.DigestsValid != 5 || cleanSum.Invalid() || clean[0].Status != digest.SignatureUnavailable {
		t.Fatalf("clean copy: %+v\n%v", cleanSum, clean)
	}
	for _, tc := range tamperCases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, want := corpusCase(t, filepath.Join(corpusDir, tc.name))
			wantInvalid := false
			for _, w := range want {
				wantInvalid = wantInvalid || w.Status != digest.Valid && w.Status != digest.Explained && w.Status != digest.SignatureUnavailable
			}

			got, sum, _ := run(t, tc.name, false)
			if metaOnly[tc.name] {
				sameResults(t, got, clean)
				return
			}
			if sum.Invalid() != wantInvalid || sum.DigestsUnverified == 0 {
				t.Errorf("without metadata: Invalid() = %v (the bucket: %v), %d digests unverified", sum.Invalid(), wantInvalid, sum.DigestsUnverified)
			}
			// The same results, but for valid digests whose signature the
			// copy cannot provide.
			relaxed := make([]expectation, len(want))
			for i, w := range want {
				relaxed[i] = w
				if i < len(got) && w.Kind == digest.KindDigest && w.Status == digest.Valid && got[i].Status == digest.SignatureUnavailable {
					relaxed[i].Status = digest.SignatureUnavailable
				}
			}
			sameResults(t, got, relaxed)

			// With the bucket at hand, the bucket's results.
			got, sum, calls := run(t, tc.name, true)
			if tc.name == "missing-metadata" {
				// The bucket lacks the newest digest's signature too.
				want = exps(want).invalid(c0(t).d(5), digest.BadSignature)
			}
			sameResults(t, got, want)
			if sum.DigestsUnverified != 0 || calls == 0 {
				t.Errorf("with the bucket: %d digests unverified, %d fetches", sum.DigestsUnverified, calls)
			}
		})
	}
}

// c0 is the corpus as writeCorpus makes it, for its digests' keys.
func c0(t *testing.T) *corpus {
	return &corpus{tb: t, keys: corpusKeys(), clean: corpusChain(t, corpusTrail, 1, corpusSigner, nil)}
}

// TestSignatureFetch: how the newest digest of a copy without metadata
// is checked, depending on what the bucket it was copied from answers.
func TestSignatureFetch(t *testing.T) {
	testKeys(t)
	b := corpusChain(t, corpusTrail, 1, corpusSigner, nil)
	newest := b.digests[5]
	forged, err := digest.Sign(key3, digest.SigningString(newest.d, digest.Hash(newest.plain)))
	if err != nil {
		t.Fatal(err)
	}
	opts := digest.Options{Start: corpusT0, End: corpusT0.Add(6 * time.Hour)}
	// bucket answers with each digest's metadata, the newest's as given.
	bucket := func(newestMeta map[string]string) fetchFunc {
		return func(o digest.ObjectRef) (map[string]string, error) {
			if o.Key == newest.key {
				return newestMeta, nil
			}
			for _, d := range b.digests {
				if d.key == o.Key {
					return digest.ObjectMetadata(d.sig), nil
				}
			}
			return nil, fmt.Errorf("%w: %s", digest.ErrNotFound, o)
		}
	}
	for _, c := range []struct {
		name   string
		remote digest.MetadataFetcher // nil: none given
		status digest.Status
		detail string
	}{
		{"no source", nil, digest.SignatureUnavailable, "no source to fetch it from was given"},
		{"source unreachable", fetchFunc(func(digest.ObjectRef) (map[string]string, error) {
			return nil, errors.New("dial tcp 127.0.0.1:1: connection refused")
		}), digest.SignatureUnavailable, "connection refused"},
		{"not in the source", fetchFunc(func(o digest.ObjectRef) (map[string]string, error) {
			return nil, fmt.Errorf("%w: %s", digest.ErrNotFound, o)
		}), digest.SignatureUnavailable, "not found"},
		{"fetched", bucket(digest.ObjectMetadata(newest.sig)), digest.Valid, "fetched from the source"},
		{"forged at the source", bucket(digest.ObjectMetadata(forged)), digest.BadSignature, "fetched from the source"},
		{"no signature at the source either", bucket(map[string]string{}), digest.BadSignature, "in the copy or at the source"},
	} {
		t.Run(c.name, func(t *testing.T) {
			objs := b.objects.clone()
			for k, o := range objs {
				objs[k] = object{data: o.data}
			}
			src := &copySource{memSource{bucket: corpusTrail.Bucket, objects: objs, keys: corpusKeys()}, c.remote}
			rs, sum := validate(t, src, corpusTrail, opts)
			first := rs[0]
			if first.Object.Key != newest.key || first.Status != c.status || !strings.Contains(first.Detail, c.detail) {
				t.Fatalf("newest digest: %s %q; want %s with %q", first.Status, first.Detail, c.status, c.detail)
			}
			wantValid := 5
			if c.status == digest.Valid {
				wantValid = 6
			}
			if sum.DigestsValid != wantValid || sum.Invalid() != (c.status == digest.BadSignature) || sum.Unverified() != (c.status == digest.SignatureUnavailable) {
				t.Errorf("summary %+v", sum)
			}
			if c.status == digest.SignatureUnavailable {
				// Its log files are checked against it, and say so.
				if rs[1].Kind != digest.KindLog || rs[1].Status != digest.Valid || !strings.Contains(rs[1].Detail, "whose signature is not available") {
					t.Errorf("log file of the unverified digest: %+v", rs[1])
				}
				if sum.LogsValid != 10 {
					t.Errorf("%d log files valid, want 10", sum.LogsValid)
				}
			}
		})
	}

	// A bucket (a Source that is not a copy) keeps metadata: a digest
	// without a signature there is BadSignature, as it always was.
	objs := b.objects.clone()
	objs[newest.key] = object{data: objs[newest.key].data}
	rs, sum := validate(t, &memSource{bucket: corpusTrail.Bucket, objects: objs, keys: corpusKeys()}, corpusTrail, opts)
	if rs[0].Status != digest.BadSignature || !sum.Invalid() || sum.Unverified() {
		t.Errorf("bucket without the newest digest's signature: %s, %+v", rs[0].Status, sum)
	}
}

type fetchFunc func(digest.ObjectRef) (map[string]string, error)

func (f fetchFunc) FetchMetadata(_ context.Context, o digest.ObjectRef) (map[string]string, error) {
	return f(o)
}

// copySource is a memSource read as a local copy whose missing metadata
// is fetched from remote.
type copySource struct {
	memSource
	remote digest.MetadataFetcher
}

func (c *copySource) FetchMetadata(ctx context.Context, o digest.ObjectRef) (map[string]string, error) {
	if c.remote == nil {
		return nil, digest.ErrNoRemote
	}
	return c.remote.FetchMetadata(ctx, o)
}
