package digest_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"hash/fnv"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
)

// corpusSource is the clean corpus chain in memory.
func corpusSource(t *testing.T, mutate func(int, *digest.Digest)) (*built, *memSource) {
	testKeys(t)
	b := corpusChain(t, corpusTrail, 1, corpusSigner, mutate)
	return b, &memSource{bucket: corpusTrail.Bucket, objects: b.objects, keys: corpusKeys()}
}

var corpusRange = digest.Options{Start: corpusT0, End: corpusT0.Add(6 * time.Hour)}

// TestKeyRotation signs a chain with a KeyRing whose keys rotate in the
// middle of it, on schedule and by Rotate: digests before and after each
// rotation verify with the keys the ring publishes.
func TestKeyRotation(t *testing.T) {
	testKeys(t)
	newRing := func(rotation time.Duration) *digest.KeyRing {
		next := []*rsa.PrivateKey{key1, key2, key3}
		return &digest.KeyRing{Rotation: rotation, Generate: func() (*rsa.PrivateKey, error) {
			k := next[0]
			next = next[1:]
			return k, nil
		}}
	}
	for _, c := range []struct {
		name   string
		ring   *digest.KeyRing
		rotate time.Time // when to call Rotate (zero: never)
		keys   int
	}{
		{"scheduled", newRing(2 * time.Hour), time.Time{}, 3},
		{"Rotate", newRing(0), corpusT0.Add(2*time.Hour + 30*time.Minute), 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			const region = "eu-central-1"
			rotated := false
			f := &fixture{trail: corpusTrail, t0: corpusT0, n: 6, seed: 3, logs: 2, signer: func(end time.Time) *rsa.PrivateKey {
				if !c.rotate.IsZero() && !rotated && end.After(c.rotate) {
					if _, err := c.ring.Rotate(region, c.rotate); err != nil {
						t.Fatal(err)
					}
					rotated = true
				}
				k, _, err := c.ring.For(region, end)
				if err != nil {
					t.Fatal(err)
				}
				p, err := k.PrivateKey()
				if err != nil {
					t.Fatal(err)
				}
				return p
			}}
			b := f.build(t)
			fps := map[string]bool{}
			for _, d := range b.digests {
				fps[d.d.DigestPublicKeyFingerprint] = true
			}
			if len(fps) != c.keys {
				t.Fatalf("chain signed with %d keys, want %d", len(fps), c.keys)
			}
			pub := c.ring.Public(region, corpusRange.Start, corpusRange.End.Add(2*time.Hour))
			if len(pub) != c.keys {
				t.Fatalf("ring publishes %d keys for the range, want %d", len(pub), c.keys)
			}
			src := &memSource{bucket: corpusTrail.Bucket, objects: b.objects, keys: pub}
			rs, sum := validate(t, src, corpusTrail, corpusRange)
			sameResults(t, expectations(rs), b.expected())
			if sum.Invalid() {
				t.Errorf("summary %+v", sum)
			}

			// Without the first key, the digests it signed have none.
			src.keys = pub[1:]
			rs, _ = validate(t, src, corpusTrail, corpusRange)
			for _, r := range rs {
				if r.Kind == digest.KindDigest && r.Status != digest.Valid && r.Status != digest.NoPublicKey {
					t.Errorf("%s: %s, want valid or %s", r.Object.Key, r.Status, digest.NoPublicKey)
				}
			}
		})
	}
}

// TestParallelOrder checks that results come in the same order whatever
// the parallelism and however long each file takes to fetch.
func TestParallelOrder(t *testing.T) {
	testKeys(t)
	f := &fixture{trail: corpusTrail, t0: corpusT0, n: 6, seed: 4, logs: 12, signer: corpusSigner}
	b := f.build(t)
	src := &memSource{bucket: corpusTrail.Bucket, objects: b.objects, keys: corpusKeys(),
		delay: func(key string) {
			h := fnv.New32a()
			h.Write([]byte(key))
			time.Sleep(time.Duration(h.Sum32()%1500) * time.Microsecond)
		}}
	for _, p := range []int{1, 3, 16} {
		opts := corpusRange
		opts.Parallel = p
		rs, sum := validate(t, src, corpusTrail, opts)
		sameResults(t, expectations(rs), b.expected())
		if sum.LogsValid != 72 || sum.DigestsValid != 6 {
			t.Errorf("Parallel %d: summary %+v", p, sum)
		}
	}
}

// TestCancel stops a validation from its report callback: Validate
// returns the context's error and leaves no goroutine behind.
func TestCancel(t *testing.T) {
	testKeys(t)
	f := &fixture{trail: corpusTrail, t0: corpusT0, n: 6, seed: 4, logs: 12, signer: corpusSigner}
	b := f.build(t)
	src := &memSource{bucket: corpusTrail.Bucket, objects: b.objects, keys: corpusKeys()}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := digest.Validate(ctx, src, corpusTrail, digest.Options{Start: corpusRange.Start, End: corpusRange.End, Parallel: 4},
		func(digest.Result) {
			if n++; n == 5 {
				cancel()
			}
		})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Validate = %v, want context.Canceled", err)
	}
	if n > 5 {
		t.Errorf("report called %d times, after the cancel at 5", n)
	}
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 100 {
			t.Fatalf("%d goroutines before Validate, %d after", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSourceErrors checks that a failure to read (not a missing object)
// stops the validation with the error.
func TestSourceErrors(t *testing.T) {
	b, src := corpusSource(t, nil)
	boom := errors.New("access denied")
	for name, key := range map[string]string{"log file": b.digests[2].logs[1], "digest file": b.digests[4].key} {
		src.fail = func(k string) error {
			if k == key {
				return boom
			}
			return nil
		}
		_, err := digest.Validate(context.Background(), src, corpusTrail, corpusRange, nil)
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "get "+name) {
			t.Errorf("%s: Validate = %v, want get %s: ...%v", name, err, name, boom)
		}
	}
	src.fail = nil

	if _, err := digest.Validate(context.Background(), src, digest.Trail{Bucket: "b"}, corpusRange, nil); err == nil {
		t.Error("Validate accepted a trail without an account")
	}
	if _, err := digest.Validate(context.Background(), src, corpusTrail, digest.Options{Start: corpusRange.End, End: corpusRange.Start}, nil); err == nil {
		t.Error("Validate accepted an end before the start")
	}
}

// TestRange checks the walk's bounds: digests ending up to an hour after
// End are checked, and the walk stops at the first digest starting
// before Start.
func TestRange(t *testing.T) {
	b, src := corpusSource(t, nil)
	all := b.expected()
	from := func(i int) []expectation { return exps(all)[exps(all).index(digest.KindDigest, b.digests[i].key):] }
	upto := func(i int) []expectation { return exps(all)[:exps(all).index(digest.KindDigest, b.digests[i].key)] }

	rs, _ := validate(t, src, corpusTrail, digest.Options{Start: corpusT0.Add(2*time.Hour + 30*time.Minute), End: corpusRange.End})
	sameResults(t, expectations(rs), upto(1))

	rs, _ = validate(t, src, corpusTrail, digest.Options{Start: corpusT0, End: corpusT0.Add(3 * time.Hour)})
	sameResults(t, expectations(rs), from(3))

	rs, sum := validate(t, src, corpusTrail, digest.Options{Start: corpusT0.Add(24 * time.Hour)})
	if len(rs) != 0 || sum != (digest.Summary{}) {
		t.Errorf("no digests in range: got %v, %+v", rs, sum)
	}
}

// TestLinkChecks covers what validate-logs does not check: a digest that
// starts later than its predecessor ends, and a restart that is only a
// gap under LenientGaps.
func TestLinkChecks(t *testing.T) {
	b, src := corpusSource(t, func(i int, d *digest.Digest) {
		if i == 4 {
			s, _ := time.Parse(digest.TimeLayout, d.DigestStartTime)
			d.DigestStartTime = digest.FormatTime(s.Add(time.Minute))
		}
	})
	rs, _ := validate(t, src, corpusTrail, corpusRange)
	sameResults(t, expectations(rs), exps(b.expected()).before(b.digests[3].key, gapOf(b.digests[4], digest.ChainBroken)))
	if g := rs[6]; !strings.Contains(g.Detail, "digestStartTime 2026-03-02T04:01:00Z is not the digestEndTime 2026-03-02T04:00:00Z") {
		t.Errorf("gap detail %q", g.Detail)
	}

	testKeys(t)
	c := &corpus{tb: t, keys: corpusKeys()}
	r := c.restarted(false)
	src = &memSource{bucket: corpusTrail.Bucket, objects: r.objects, keys: c.keys}
	opts := corpusRange
	opts.LenientGaps = true
	rs, sum := validate(t, src, corpusTrail, opts)
	sameResults(t, expectations(rs), exps(r.expected()).before(r.digests[2].key, gapOf(r.digests[3], digest.Explained)))
	if sum.Invalid() || sum.Gaps != 1 {
		t.Errorf("lenient gaps: summary %+v", sum)
	}
}

// TestGapVariants covers opentrailGap records as delivery writes them:
// one naming no previous digest (the chain paused before its first
// digest was written), and one whose previous digest is before the range.
func TestGapVariants(t *testing.T) {
	restart := func(named bool) func(int, *digest.Digest) {
		return func(i int, d *digest.Digest) {
			if i != 3 {
				return
			}
			prevEnd := d.DigestStartTime
			s, _ := time.Parse(digest.TimeLayout, prevEnd)
			d.DigestStartTime = digest.FormatTime(s.Add(30 * time.Minute))
			d.PreviousDigestS3Bucket, d.PreviousDigestS3Object, d.PreviousDigestHashValue = nil, nil, nil
			d.PreviousDigestHashAlgorithm, d.PreviousDigestSignature = nil, nil
			d.Gap = &digest.Gap{Start: prevEnd, End: d.DigestStartTime, Reason: digest.GapValidationDisabled}
			if named {
				d.Gap.PreviousBucket, d.Gap.PreviousObject = corpusTrail.Bucket, digestKey(corpusTrail, s)
			}
		}
	}
	b, src := corpusSource(t, restart(false))
	rs, sum := validate(t, src, corpusTrail, corpusRange)
	sameResults(t, expectations(rs), exps(b.expected()).before(b.digests[2].key, gapOf(b.digests[3], digest.Explained)))
	if g := rs[7]; sum.Invalid() || g.Kind != digest.KindGap || !strings.Contains(g.Detail, digest.GapValidationDisabled) ||
		!g.Start.Equal(corpusT0.Add(3*time.Hour)) || !g.End.Equal(corpusT0.Add(3*time.Hour+30*time.Minute)) {
		t.Errorf("summary %+v, gap %+v", sum, g)
	}

	b, src = corpusSource(t, restart(true))
	opts := digest.Options{Start: corpusT0.Add(3*time.Hour + 15*time.Minute), End: corpusRange.End}
	rs, sum = validate(t, src, corpusTrail, opts)
	want := exps(b.expected())[:exps(b.expected()).index(digest.KindDigest, b.digests[2].key)]
	sameResults(t, expectations(rs), append(want, gapOf(b.digests[3], digest.Explained)))
	if sum.Invalid() {
		t.Errorf("summary %+v", sum)
	}

	// The gap names a digest that is not where the chain resumes.
	b, src = corpusSource(t, restart(true))
	delete(src.objects, b.digests[2].key)
	rs, _ = validate(t, src, corpusTrail, corpusRange)
	sameResults(t, expectations(rs), exps(b.expected()).invalid(b.digests[2], digest.NotFound).
		before(b.digests[1].key, gapOf(b.digests[3], digest.ChainBroken)))
}

// TestBackfill checks that backfill digests are walked after the regular
// chain, with keys found around their generation time.
func TestBackfill(t *testing.T) {
	b, src := corpusSource(t, nil)
	gen := corpusT0.Add(24 * time.Hour)
	end := corpusT0.Add(2 * time.Hour)
	d := &digest.Digest{
		AWSAccountID: corpusTrail.Account, DigestStartTime: digest.FormatTime(end.Add(-time.Hour)), DigestEndTime: digest.FormatTime(end),
		DigestS3Bucket: corpusTrail.Bucket, DigestS3Object: strings.TrimSuffix(digestKey(corpusTrail, end), ".json.gz") + "_backfill.json.gz",
		DigestPublicKeyFingerprint: digest.Fingerprint(digest.PublicKeyDER(&key3.PublicKey)),
		DigestSignatureAlgorithm:   digest.SignatureAlgorithm,
	}
	plain, sig, err := digest.SignDigest(d, key3)
	if err != nil {
		t.Fatal(err)
	}
	meta := digest.ObjectMetadata(sig)
	meta["backfill-generation-timestamp"] = gen.Format(time.RFC3339)
	src.objects[d.DigestS3Object] = object{digest.Gzip(plain), meta}
	src.keys = append(src.keys, publicKey(key3, gen.Add(-time.Hour), gen.Add(30*24*time.Hour)))

	rs, sum := validate(t, src, corpusTrail, corpusRange)
	sameResults(t, expectations(rs), append(b.expected(), expectation{digest.KindDigest, d.DigestS3Object, digest.Valid}))
	if last := rs[len(rs)-1]; !last.Backfill || rs[0].Backfill {
		t.Errorf("Backfill flags: first %v, last %v", rs[0].Backfill, last.Backfill)
	}
	if sum.Invalid() {
		t.Errorf("summary %+v", sum)
	}
}

// multiSource is a Source over several buckets.
type multiSource map[string]*memSource

func (m multiSource) ListDigests(ctx context.Context, t digest.Trail, start, end time.Time) ([]digest.ObjectRef, error) {
	if s := m[t.Bucket]; s != nil {
		return s.ListDigests(ctx, t, start, end)
	}
	return nil, nil
}

func (m multiSource) Get(ctx context.Context, o digest.ObjectRef) ([]byte, map[string]string, error) {
	if s := m[o.Bucket]; s != nil {
		return s.Get(ctx, o)
	}
	return nil, nil, digest.ErrNotFound
}

func (m multiSource) PublicKeys(ctx context.Context, start, end time.Time) ([]digest.PublicKey, error) {
	return m["new"].PublicKeys(ctx, start, end)
}

// TestBucketMove follows a chain from the trail's new bucket into its
// old one.
func TestBucketMove(t *testing.T) {
	testKeys(t)
	tr := corpusTrail
	tr.Bucket = "old"
	f := &fixture{trail: tr, t0: corpusT0, n: 6, seed: 5, logs: 2, signer: corpusSigner, mutate: func(i int, d *digest.Digest) {
		if i < 3 {
			return
		}
		d.DigestS3Bucket = "new"
		for j := range d.LogFiles {
			d.LogFiles[j].S3Bucket = "new"
		}
		if i > 3 {
			d.PreviousDigestS3Bucket = digest.Str("new")
		}
	}}
	b := f.build(t)
	src := multiSource{"old": {bucket: "old", objects: bucket{}}, "new": {bucket: "new", objects: bucket{}, keys: corpusKeys()}}
	for i, d := range b.digests {
		to := src["old"]
		if i >= 3 {
			to = src["new"]
		}
		for _, k := range append([]string{d.key}, d.logs...) {
			to.objects[k] = b.objects[k]
		}
	}
	tr.Bucket = "new"
	rs, sum := validate(t, src, tr, corpusRange)
	sameResults(t, expectations(rs), b.expected())
	if sum.Invalid() || rs[len(rs)-1].Object.Bucket != "old" {
		t.Errorf("summary %+v, last %+v", sum, rs[len(rs)-1])
	}
}
