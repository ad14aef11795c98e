package digest_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
)

// loadKey reads a fixed test key from testdata/keys (generating 2048-bit
// keys in tests is slow).
func loadKey(tb testing.TB, name string) *rsa.PrivateKey {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "keys", name))
	if err != nil {
		tb.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		tb.Fatalf("%s: no PEM block", name)
	}
	k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return k
}

var (
	keysOnce   sync.Once
	key1, key2 *rsa.PrivateKey // the corpus trail's keys, before and after rotation
	key3       *rsa.PrivateKey // another region's, or an attacker's
)

func testKeys(tb testing.TB) {
	keysOnce.Do(func() {
		key1, key2, key3 = loadKey(tb, "key1.pem"), loadKey(tb, "key2.pem"), loadKey(tb, "key3.pem")
	})
}

// publicKey is k as ListPublicKeys serves it, valid in [from, to).
func publicKey(k *rsa.PrivateKey, from, to time.Time) digest.PublicKey {
	der := digest.PublicKeyDER(&k.PublicKey)
	return digest.PublicKey{Value: der, Fingerprint: digest.Fingerprint(der), ValidFrom: from, ValidTo: to}
}

// object is a stored object.
type object struct {
	data []byte
	meta map[string]string
}

// bucket is one bucket's objects by key.
type bucket map[string]object

func (b bucket) clone() bucket {
	c := make(bucket, len(b))
	for k, o := range b {
		c[k] = object{slices.Clone(o.data), maps.Clone(o.meta)}
	}
	return c
}

// fixture describes a trail's digest chain to build.
type fixture struct {
	trail  digest.Trail
	t0     time.Time     // the first digest's start
	n      int           // digests, each period long
	period time.Duration // default 1h
	seed   uint64
	logs   int          // log files per digest
	events int          // events per log file (default 2 or 3)
	empty  map[int]bool // digests without log files
	// signer returns the key a digest ending at end is signed with.
	signer func(end time.Time) *rsa.PrivateKey
	// mutate, if set, changes digest i before it is signed (its links to
	// digest i-1 are already set).
	mutate func(i int, d *digest.Digest)
}

// builtDigest is one digest of a built chain.
type builtDigest struct {
	key   string
	d     *digest.Digest
	plain []byte
	sig   string
	logs  []string
}

// built is a chain and its log files.
type built struct {
	trail   digest.Trail
	objects bucket
	digests []builtDigest // oldest first
}

// root is "[prefix/]AWSLogs/account/".
func root(t digest.Trail) string {
	r := "AWSLogs/" + t.Account + "/"
	if t.Prefix != "" {
		r = t.Prefix + "/" + r
	}
	return r
}

// digestKey is the key of t's digest ending at end.
func digestKey(t digest.Trail, end time.Time) string {
	end = end.UTC()
	return fmt.Sprintf("%sCloudTrail-Digest/%s/%s/%s_CloudTrail-Digest_%s_%s_%s_%s.json.gz",
		root(t), t.SourceRegion, end.Format("2006/01/02"), t.Account, t.SourceRegion, t.Name, t.HomeRegion,
		end.Format("20060102T150405Z"))
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// logKey is the key of a log file of t delivered at at.
func logKey(t digest.Trail, at time.Time, rng *rand.Rand) string {
	var u [16]byte
	for i := range u {
		u[i] = alnum[rng.IntN(len(alnum))]
	}
	at = at.UTC()
	return fmt.Sprintf("%sCloudTrail/%s/%s/%s_CloudTrail_%s_%sZ_%s.json.gz",
		root(t), t.SourceRegion, at.Format("2006/01/02"), t.Account, t.SourceRegion, at.Format("20060102T1504"), u[:])
}

// record is a small CloudTrail event.
type record struct {
	EventVersion string `json:"eventVersion"`
	UserIdentity struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
	} `json:"userIdentity"`
	EventTime          string `json:"eventTime"`
	EventSource        string `json:"eventSource"`
	EventName          string `json:"eventName"`
	AWSRegion          string `json:"awsRegion"`
	SourceIPAddress    string `json:"sourceIPAddress"`
	UserAgent          string `json:"userAgent"`
	RequestID          string `json:"requestID"`
	EventID            string `json:"eventID"`
	ReadOnly           bool   `json:"readOnly"`
	EventType          string `json:"eventType"`
	ManagementEvent    bool   `json:"managementEvent"`
	RecipientAccountID string `json:"recipientAccountId"`
	EventCategory      string `json:"eventCategory"`
}

var eventNames = []struct{ source, name string }{
	{"s3.amazonaws.com", "ListBuckets"}, {"iam.amazonaws.com", "GetUser"}, {"ec2.amazonaws.com", "DescribeInstances"},
	{"sts.amazonaws.com", "AssumeRole"}, {"kms.amazonaws.com", "Decrypt"}, {"iam.amazonaws.com", "CreateAccessKey"},
}

func uuid(rng *rand.Rand) string {
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, 0x4000|rng.Uint32()&0xfff,
		0x8000|rng.Uint32()&0x3fff, rng.Uint64()&0xffffffffffff)
}

// logFile returns the uncompressed content of a log file delivered at at
// with n events, and its oldest and newest event times.
func logFile(rng *rand.Rand, t digest.Trail, at time.Time, n int) (plain []byte, oldest, newest string) {
	recs := make([]record, n)
	for i := range recs {
		r := &recs[i]
		ev := eventNames[rng.IntN(len(eventNames))]
		user := []string{"alice", "bob", "ci-deploy"}[rng.IntN(3)]
		r.EventVersion = "1.11"
		r.UserIdentity.Type = "IAMUser"
		r.UserIdentity.PrincipalID = "AIDA" + strings.ToUpper(uuid(rng)[:16])
		r.UserIdentity.ARN = "arn:aws:iam::" + t.Account + ":user/" + user
		r.UserIdentity.AccountID = t.Account
		r.EventTime = digest.FormatTime(at.Add(-time.Duration(1+rng.IntN(240)) * time.Second))
		r.EventSource, r.EventName = ev.source, ev.name
		r.AWSRegion = t.SourceRegion
		r.SourceIPAddress = fmt.Sprintf("198.51.100.%d", 1+rng.IntN(254))
		r.UserAgent = "aws-cli/2.9.19"
		r.RequestID, r.EventID = uuid(rng), uuid(rng)
		r.ReadOnly = !strings.HasPrefix(ev.name, "Create")
		r.EventType, r.ManagementEvent, r.EventCategory = "AwsApiCall", true, "Management"
		r.RecipientAccountID = t.Account
	}
	slices.SortFunc(recs, func(a, b record) int { return strings.Compare(a.EventTime, b.EventTime) })
	b, err := json.Marshal(struct {
		Records []record `json:"Records"`
	}{recs})
	if err != nil {
		panic(err)
	}
	return b, recs[0].EventTime, recs[n-1].EventTime
}

// build makes the chain: log files, then digests signed in order, each
// linking to the one before.
func (f *fixture) build(tb testing.TB) *built {
	tb.Helper()
	if f.period == 0 {
		f.period = time.Hour
	}
	rng := rand.New(rand.NewPCG(f.seed, 0x6f70656e747261))
	b := &built{trail: f.trail, objects: bucket{}}
	var prev *builtDigest
	for i := range f.n {
		start := f.t0.Add(time.Duration(i) * f.period)
		end := start.Add(f.period)
		d := &digest.Digest{
			AWSAccountID:             f.trail.Account,
			DigestStartTime:          digest.FormatTime(start),
			DigestEndTime:            digest.FormatTime(end),
			DigestS3Bucket:           f.trail.Bucket,
			DigestS3Object:           digestKey(f.trail, end),
			DigestSignatureAlgorithm: digest.SignatureAlgorithm,
			LogFiles:                 []digest.LogFile{},
		}
		bd := builtDigest{key: d.DigestS3Object, d: d}
		if !f.empty[i] {
			for j := range f.logs {
				at := start.Add(time.Duration(j+1) * f.period / time.Duration(f.logs+1)).Truncate(time.Minute)
				key := logKey(f.trail, at, rng)
				n := f.events
				if n == 0 {
					n = 2 + rng.IntN(2)
				}
				plain, oldest, newest := logFile(rng, f.trail, at, n)
				b.objects[key] = object{data: digest.Gzip(plain)}
				d.LogFiles = append(d.LogFiles, digest.LogFile{
					S3Bucket: f.trail.Bucket, S3Object: key, HashValue: digest.Hash(plain), HashAlgorithm: digest.HashAlgorithm,
					NewestEventTime: newest, OldestEventTime: oldest,
				})
				if d.OldestEventTime == nil || oldest < *d.OldestEventTime {
					d.OldestEventTime = digest.Str(oldest)
				}
				if d.NewestEventTime == nil || newest > *d.NewestEventTime {
					d.NewestEventTime = digest.Str(newest)
				}
				bd.logs = append(bd.logs, key)
			}
		}
		if prev != nil {
			d.PreviousDigestS3Bucket, d.PreviousDigestS3Object = digest.Str(f.trail.Bucket), digest.Str(prev.key)
			d.PreviousDigestHashValue, d.PreviousDigestHashAlgorithm = digest.Str(digest.Hash(prev.plain)), digest.Str(digest.HashAlgorithm)
			d.PreviousDigestSignature = digest.Str(prev.sig)
		}
		key := f.signer(end)
		d.DigestPublicKeyFingerprint = digest.Fingerprint(digest.PublicKeyDER(&key.PublicKey))
		if f.mutate != nil {
			f.mutate(i, d)
		}
		plain, sig, err := digest.SignDigest(d, key)
		if err != nil {
			tb.Fatal(err)
		}
		bd.key, bd.plain, bd.sig = d.DigestS3Object, plain, sig
		b.objects[bd.key] = object{data: digest.Gzip(plain), meta: digest.ObjectMetadata(sig)}
		b.digests = append(b.digests, bd)
		prev = &b.digests[len(b.digests)-1]
	}
	return b
}

// memSource is an in-memory Source of one bucket.
type memSource struct {
	bucket  string
	objects bucket
	keys    []digest.PublicKey
	// delay, if set, is called before each Get, for tests of ordering.
	delay func(key string)
	// fail, if set, makes Get of a key fail with its error.
	fail func(key string) error
}

func (m *memSource) ListDigests(ctx context.Context, t digest.Trail, start, end time.Time) ([]digest.ObjectRef, error) {
	if t.Bucket != m.bucket {
		return nil, nil
	}
	mid := "/CloudTrail-Digest/" + t.SourceRegion + "/"
	name := "_CloudTrail-Digest_" + t.SourceRegion + "_" + t.Name + "_" + t.HomeRegion + "_"
	var out []digest.ObjectRef
	for k := range m.objects {
		if !strings.Contains(k, mid) || !strings.Contains(k, name) || strings.HasSuffix(k, digest.MetaSuffix) {
			continue
		}
		base := strings.TrimSuffix(strings.TrimSuffix(k, ".json.gz"), "_backfill")
		te, err := time.Parse("20060102T150405Z", base[len(base)-16:])
		if err != nil || te.Before(start.Truncate(time.Second)) || te.After(end) {
			continue
		}
		out = append(out, digest.ObjectRef{Bucket: m.bucket, Key: k})
	}
	slices.SortFunc(out, func(a, b digest.ObjectRef) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (m *memSource) Get(ctx context.Context, o digest.ObjectRef) ([]byte, map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if m.delay != nil {
		m.delay(o.Key)
	}
	if m.fail != nil {
		if err := m.fail(o.Key); err != nil {
			return nil, nil, err
		}
	}
	obj, ok := m.objects[o.Key]
	if !ok || o.Bucket != m.bucket {
		return nil, nil, fmt.Errorf("get %s: %w", o, digest.ErrNotFound)
	}
	return obj.data, maps.Clone(obj.meta), nil
}

func (m *memSource) PublicKeys(ctx context.Context, start, end time.Time) ([]digest.PublicKey, error) {
	return (&digest.LocalCopy{Keys: m.keys}).PublicKeys(ctx, start, end)
}

// validate runs Validate and returns the results in report order.
func validate(tb testing.TB, src digest.Source, t digest.Trail, opts digest.Options) ([]digest.Result, digest.Summary) {
	tb.Helper()
	var rs []digest.Result
	sum, err := digest.Validate(context.Background(), src, t, opts, func(r digest.Result) { rs = append(rs, r) })
	if err != nil {
		tb.Fatalf("Validate: %v", err)
	}
	return rs, sum
}

// expectation is one expected result: what kind, which object, what
// status.
type expectation struct {
	Kind   digest.Kind   `json:"kind"`
	Key    string        `json:"key"`
	Status digest.Status `json:"status"`
}

func (e expectation) String() string { return fmt.Sprintf("%s %s %s", e.Kind, e.Key, e.Status) }

func expectations(rs []digest.Result) []expectation {
	out := make([]expectation, len(rs))
	for i, r := range rs {
		out[i] = expectation{r.Kind, r.Object.Key, r.Status}
	}
	return out
}

// expected is the report of b's chain when nothing is wrong: newest digest
// first, each followed by its log files.
func (b *built) expected() []expectation {
	var out []expectation
	for i := len(b.digests) - 1; i >= 0; i-- {
		d := b.digests[i]
		out = append(out, expectation{digest.KindDigest, d.key, digest.Valid})
		for _, l := range d.logs {
			out = append(out, expectation{digest.KindLog, l, digest.Valid})
		}
	}
	return out
}

// sameResults compares results with expectations, reporting the first
// difference and both lists.
func sameResults(tb testing.TB, got, want []expectation) {
	tb.Helper()
	if slices.Equal(got, want) {
		return
	}
	var b strings.Builder
	for i := range max(len(got), len(want)) {
		g, w := "-", "-"
		if i < len(got) {
			g = got[i].String()
		}
		if i < len(want) {
			w = want[i].String()
		}
		mark := "  "
		if g != w {
			mark = "! "
		}
		fmt.Fprintf(&b, "%s%3d got  %s\n      want %s\n", mark, i, g, w)
	}
	tb.Errorf("results differ:\n%s", b.String())
}
