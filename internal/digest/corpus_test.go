package digest_test

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/opentrail/opentrail/internal/digest"
)

var update = flag.Bool("update", false, "rewrite the golden files and the tamper corpus in testdata")

// The corpus trail: six hourly digests, the signing key rotated between
// the third and the fourth, the fourth listing no log files.
var (
	corpusTrail = digest.Trail{
		Bucket: "opentrail-audit", Prefix: "corp", Account: "111122223333",
		SourceRegion: "eu-central-1", Name: "audit", HomeRegion: "eu-central-1",
	}
	corpusT0       = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	corpusRotation = corpusT0.Add(3*time.Hour + 30*time.Minute)
)

const corpusDir = "testdata/tamper"

func corpusSigner(end time.Time) *rsa.PrivateKey {
	if end.Before(corpusRotation) {
		return key1
	}
	return key2
}

func corpusKeys() []digest.PublicKey {
	return []digest.PublicKey{
		publicKey(key1, corpusT0.Add(-24*time.Hour), corpusRotation),
		publicKey(key2, corpusRotation, corpusT0.Add(30*24*time.Hour)),
	}
}

// corpusChain builds a chain like the corpus trail's for t.
func corpusChain(tb testing.TB, t digest.Trail, seed uint64, signer func(time.Time) *rsa.PrivateKey, mutate func(int, *digest.Digest)) *built {
	f := &fixture{
		trail: t, t0: corpusT0, n: 6, seed: seed, logs: 2, empty: map[int]bool{3: true},
		signer: signer, mutate: mutate,
	}
	return f.build(tb)
}

// corpusFile is trail.json: the trail and the range to validate.
type corpusFile struct {
	Bucket       string    `json:"bucket"`
	Prefix       string    `json:"prefix"`
	Account      string    `json:"account"`
	SourceRegion string    `json:"sourceRegion"`
	Name         string    `json:"name"`
	HomeRegion   string    `json:"homeRegion"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
}

// exps edits expected results.
type exps []expectation

func (e exps) index(kind digest.Kind, key string) int {
	i := slices.IndexFunc(e, func(x expectation) bool { return x.Kind == kind && x.Key == key })
	if i < 0 {
		panic(fmt.Sprintf("no expected %s %s", kind, key))
	}
	return i
}

// set changes the status of the digest or log file key.
func (e exps) set(kind digest.Kind, key string, st digest.Status) exps {
	e = slices.Clone(e)
	e[e.index(kind, key)].Status = st
	return e
}

// invalid marks digest d with st and drops its log files, which are not
// checked.
func (e exps) invalid(d builtDigest, st digest.Status) exps {
	e = e.set(digest.KindDigest, d.key, st)
	return slices.DeleteFunc(e, func(x expectation) bool { return x.Kind == digest.KindLog && slices.Contains(d.logs, x.Key) })
}

// before inserts x before digest key.
func (e exps) before(key string, x ...expectation) exps {
	return slices.Insert(slices.Clone(e), e.index(digest.KindDigest, key), x...)
}

func gapOf(d builtDigest, st digest.Status) expectation {
	return expectation{digest.KindGap, d.key, st}
}

// tamperCase is one directory of the corpus.
type tamperCase struct {
	name, about string
	make        func(c *corpus) (bucket, []digest.PublicKey, exps)
}

// corpus is what the cases are made from.
type corpus struct {
	tb    testing.TB
	clean *built
	keys  []digest.PublicKey
}

func (c *corpus) d(i int) builtDigest { return c.clean.digests[i] }
func (c *corpus) base() exps          { return c.clean.expected() }

// regzip re-compresses an object's content after edit, at another level
// and with a gzip header the original does not have.
func regzip(tb testing.TB, b bucket, key string, edit func([]byte) []byte) {
	tb.Helper()
	o := b[key]
	plain, err := digest.Gunzip(o.data)
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Name, zw.ModTime = "edited.json", corpusT0
	zw.Write(edit(plain))
	zw.Close()
	if bytes.Equal(buf.Bytes(), o.data) {
		tb.Fatalf("regzip %s: same bytes", key)
	}
	b[key] = object{buf.Bytes(), o.meta}
}

// flipHex flips one hex digit of s.
func flipHex(s string, i int) string {
	c := byte('0')
	if s[i] == '0' {
		c = '1'
	}
	return s[:i] + string(c) + s[i+1:]
}

// otherChain builds the chain of another trail over the same period.
func (c *corpus) otherChain(t digest.Trail, seed uint64, signer func(time.Time) *rsa.PrivateKey) *built {
	return corpusChain(c.tb, t, seed, signer, nil)
}

// swapped copies the other trail's third digest and a log file of its
// fifth over the corpus trail's.
func (c *corpus) swapped(t digest.Trail, signer func(time.Time) *rsa.PrivateKey) (bucket, []digest.PublicKey, exps) {
	other := c.otherChain(t, 2, signer)
	b := c.clean.objects.clone()
	b[c.d(2).key] = other.objects[other.digests[2].key]
	b[c.d(4).logs[0]] = other.objects[other.digests[4].logs[0]]
	return b, c.keys, c.base().invalid(c.d(2), digest.Moved).before(c.d(1).key, gapOf(c.d(3), digest.ChainBroken)).
		set(digest.KindLog, c.d(4).logs[0], digest.HashMismatch)
}

// rebuilt is the corpus chain made again with digest i changed before
// signing, later digests linking to the changed one.
func (c *corpus) rebuilt(mutate func(i int, d *digest.Digest)) *built {
	return corpusChain(c.tb, corpusTrail, 1, corpusSigner, mutate)
}

var tamperCases = []tamperCase{
	{"clean", "nothing changed: every file valid", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		return c.clean.objects.clone(), c.keys, c.base()
	}},
	{"flipped-bit-log", "one bit flipped in the middle of a log file's gzip data", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b, k := c.clean.objects.clone(), c.d(2).logs[0]
		b[k].data[len(b[k].data)/2] ^= 0x10
		return b, c.keys, c.base().set(digest.KindLog, k, digest.InvalidFormat)
	}},
	{"flipped-bit-digest", "one bit flipped in the middle of a digest's gzip data", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b, k := c.clean.objects.clone(), c.d(2).key
		b[k].data[len(b[k].data)/2] ^= 0x10
		return b, c.keys, c.base().invalid(c.d(2), digest.InvalidFormat).before(c.d(1).key, gapOf(c.d(3), digest.ChainBroken))
	}},
	{"truncated-log", "a log file cut to two thirds of its length", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b, k := c.clean.objects.clone(), c.d(4).logs[1]
		b[k] = object{data: b[k].data[:len(b[k].data)*2/3]}
		return b, c.keys, c.base().set(digest.KindLog, k, digest.InvalidFormat)
	}},
	{"appended-log", "a gzip member with more records appended to a log file", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b, k := c.clean.objects.clone(), c.d(1).logs[0]
		b[k] = object{data: append(b[k].data, digest.Gzip([]byte(`{"Records":[{"eventName":"DeleteTrail"}]}`))...)}
		return b, c.keys, c.base().set(digest.KindLog, k, digest.HashMismatch)
	}},
	{"appended-junk-log", "bytes that are not gzip appended to a log file (validate-logs ignores them)", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b, k := c.clean.objects.clone(), c.d(5).logs[1]
		b[k] = object{data: append(b[k].data, "#tampered\n"...)}
		return b, c.keys, c.base().set(digest.KindLog, k, digest.InvalidFormat)
	}},
	{"deleted-log", "a log file deleted", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b, k := c.clean.objects.clone(), c.d(2).logs[1]
		delete(b, k)
		return b, c.keys, c.base().set(digest.KindLog, k, digest.NotFound)
	}},
	{"deleted-digest", "the third digest deleted", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b := c.clean.objects.clone()
		delete(b, c.d(2).key)
		return b, c.keys, c.base().invalid(c.d(2), digest.NotFound).before(c.d(1).key, gapOf(c.d(3), digest.ChainBroken))
	}},
	{"deleted-2-digests", "the third and fourth digests deleted; the third is inferred from the chain's period", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b := c.clean.objects.clone()
		delete(b, c.d(2).key)
		delete(b, c.d(3).key)
		return b, c.keys, c.base().invalid(c.d(3), digest.NotFound).invalid(c.d(2), digest.NotFound).
			before(c.d(1).key, gapOf(c.d(4), digest.ChainBroken))
	}},
	{"deleted-3-digests", "the second, third and fourth digests deleted", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b := c.clean.objects.clone()
		for i := 1; i <= 3; i++ {
			delete(b, c.d(i).key)
		}
		return b, c.keys, c.base().invalid(c.d(3), digest.NotFound).invalid(c.d(2), digest.NotFound).
			invalid(c.d(1), digest.NotFound).before(c.d(0).key, gapOf(c.d(4), digest.ChainBroken))
	}},
	{"deleted-oldest-digest", "the first digest deleted", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b := c.clean.objects.clone()
		delete(b, c.d(0).key)
		return b, c.keys, append(c.base().invalid(c.d(0), digest.NotFound), gapOf(c.d(1), digest.ChainBroken))
	}},
	{"deleted-newest-digest", "the newest digest deleted: not detectable from the bucket alone (see Limits in the package doc)", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b := c.clean.objects.clone()
		delete(b, c.d(5).key)
		e := c.base()
		return b, c.keys, e[e.index(digest.KindDigest, c.d(4).key):]
	}},
	{"reordered-digests", "the contents (and metadata) of the third and fourth digests swapped", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b := c.clean.objects.clone()
		b[c.d(2).key], b[c.d(3).key] = b[c.d(3).key], b[c.d(2).key]
		return b, c.keys, c.base().invalid(c.d(3), digest.Moved).invalid(c.d(2), digest.Moved).
			before(c.d(1).key, gapOf(c.d(4), digest.ChainBroken))
	}},
	{"injected-digest", "a copy of the third digest stored under a key ten minutes later", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b := c.clean.objects.clone()
		end, _ := time.Parse(digest.TimeLayout, c.d(2).d.DigestEndTime)
		k := digestKey(corpusTrail, end.Add(10*time.Minute))
		b[k] = b[c.d(2).key]
		return b, c.keys, c.base().before(c.d(2).key, expectation{digest.KindDigest, k, digest.ChainBroken})
	}},
	{"injected-junk", "a file that is not a digest stored in the digest folder under a name validate-logs accepts", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b := c.clean.objects.clone()
		k := strings.Replace(digestKey(corpusTrail, corpusT0.Add(2*time.Hour+30*time.Minute)), "_20260302T", "_x-20260302T", 1)
		b[k] = object{data: []byte("not a digest\n")}
		return b, c.keys, c.base().before(c.d(1).key, expectation{digest.KindDigest, k, digest.ChainBroken})
	}},
	{"swapped-trail", "the third digest and a log file replaced by those of another trail in the same bucket", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		t := corpusTrail
		t.Name = "audit-eu"
		return c.swapped(t, corpusSigner)
	}},
	{"swapped-account", "the third digest and a log file replaced by those of another account", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		t := corpusTrail
		t.Account = "444455556666"
		return c.swapped(t, corpusSigner)
	}},
	{"swapped-region", "the third digest and a log file replaced by those of another region", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		t := corpusTrail
		t.SourceRegion, t.HomeRegion = "us-west-2", "us-west-2"
		return c.swapped(t, func(time.Time) *rsa.PrivateKey { return key3 })
	}},
	{"regzipped-changed-json", "a log file's JSON edited and compressed again", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b, k := c.clean.objects.clone(), c.d(1).logs[1]
		regzip(c.tb, b, k, func(p []byte) []byte { return bytes.Replace(p, []byte("aws-cli/2.9.19"), []byte("aws-cli/2.9.20"), 1) })
		return b, c.keys, c.base().set(digest.KindLog, k, digest.HashMismatch)
	}},
	{"regzipped-same-json", "a log file compressed again, same JSON: valid, hashes cover uncompressed bytes", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b := c.clean.objects.clone()
		regzip(c.tb, b, c.d(2).logs[0], func(p []byte) []byte { return p })
		return b, c.keys, c.base()
	}},
	{"regzipped-changed-digest", "a digest's JSON edited (a log file's hash) and compressed again", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b, d := c.clean.objects.clone(), c.d(2)
		h := d.d.LogFiles[0].HashValue
		regzip(c.tb, b, d.key, func(p []byte) []byte { return bytes.Replace(p, []byte(h), []byte(flipHex(h, 0)), 1) })
		return b, c.keys, c.base().invalid(d, digest.BadSignature).before(c.d(1).key, gapOf(c.d(3), digest.ChainBroken))
	}},
	{"forged-signature", "the fifth digest's signature replaced by one made with another key", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b, d := c.clean.objects.clone(), c.d(4)
		sig, err := digest.Sign(key3, digest.SigningString(d.d, digest.Hash(d.plain)))
		if err != nil {
			c.tb.Fatal(err)
		}
		b[d.key] = object{b[d.key].data, digest.ObjectMetadata(sig)}
		return b, c.keys, c.base().invalid(d, digest.BadSignature).before(c.d(3).key, gapOf(c.d(5), digest.ChainBroken))
	}},
	{"altered-signature", "one hex digit of the second digest's x-amz-meta-signature changed", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b, d := c.clean.objects.clone(), c.d(1)
		b[d.key] = object{b[d.key].data, digest.ObjectMetadata(flipHex(d.sig, len(d.sig)-1))}
		return b, c.keys, c.base().invalid(d, digest.BadSignature).before(c.d(0).key, gapOf(c.d(2), digest.ChainBroken))
	}},
	{"altered-previous-signature", "one hex digit of the fifth digest's previousDigestSignature changed", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b, d := c.clean.objects.clone(), c.d(4)
		prev := *d.d.PreviousDigestSignature
		regzip(c.tb, b, d.key, func(p []byte) []byte { return bytes.Replace(p, []byte(prev), []byte(flipHex(prev, 10)), 1) })
		return b, c.keys, c.base().invalid(d, digest.BadSignature).before(c.d(3).key, gapOf(c.d(5), digest.ChainBroken))
	}},
	{"missing-metadata", "the signature metadata of the third and the newest digest removed, as a copy made with aws s3 cp lacks it: the third is checked with the signature the fourth records, the newest's is not available in this copy (not invalid)", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b := c.clean.objects.clone()
		for _, i := range []int{2, 5} {
			b[c.d(i).key] = object{data: b[c.d(i).key].data}
		}
		return b, c.keys, c.base().set(digest.KindDigest, c.d(5).key, digest.SignatureUnavailable)
	}},
	{"replaced-public-key", "the second public key replaced by another key (with its own fingerprint)", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		keys := slices.Clone(c.keys)
		keys[1] = publicKey(key3, keys[1].ValidFrom, keys[1].ValidTo)
		return c.clean.objects.clone(), keys, c.base().invalid(c.d(5), digest.NoPublicKey).
			invalid(c.d(4), digest.NoPublicKey).invalid(c.d(3), digest.NoPublicKey)
	}},
	{"replaced-public-key-bytes", "the second public key's bytes replaced, its fingerprint kept", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		keys := slices.Clone(c.keys)
		keys[1].Value = digest.PublicKeyDER(&key3.PublicKey)
		return c.clean.objects.clone(), keys, c.base().invalid(c.d(5), digest.BadSignature).
			invalid(c.d(4), digest.BadSignature).invalid(c.d(3), digest.BadSignature)
	}},
	{"bad-previous-hash", "the fifth digest signed with a wrong previousDigestHashValue", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b := c.rebuilt(func(i int, d *digest.Digest) {
			if i == 4 {
				d.PreviousDigestHashValue = digest.Str(digest.Hash([]byte("not the previous digest")))
			}
		})
		return b.objects, c.keys, exps(b.expected()).before(b.digests[3].key, gapOf(b.digests[4], digest.ChainBroken))
	}},
	{"wrong-account", "the third digest signed with another awsAccountId", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b := c.rebuilt(func(i int, d *digest.Digest) {
			if i == 2 {
				d.AWSAccountID = "999988887777"
			}
		})
		return b.objects, c.keys, exps(b.expected()).invalid(b.digests[2], digest.InvalidFormat).
			before(b.digests[1].key, gapOf(b.digests[3], digest.ChainBroken))
	}},
	{"foreign-log-listed", "the second digest signed listing another account's log file", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		t := corpusTrail
		t.Account = "444455556666"
		other := c.otherChain(t, 2, corpusSigner)
		foreign := other.digests[1].d.LogFiles[0]
		b := c.rebuilt(func(i int, d *digest.Digest) {
			if i == 1 {
				d.LogFiles[0] = foreign
			}
		})
		b.objects[foreign.S3Object] = other.objects[foreign.S3Object]
		return b.objects, c.keys, exps(b.expected()).invalid(b.digests[1], digest.InvalidFormat).
			before(b.digests[0].key, gapOf(b.digests[2], digest.ChainBroken))
	}},
	{"explained-gap", "logging stopped after the third digest and restarted 30 minutes later; the fourth digest starts a new chain with an opentrailGap record: valid", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b := c.restarted(true)
		return b.objects, c.keys, exps(b.expected()).before(b.digests[2].key, gapOf(b.digests[3], digest.Explained))
	}},
	{"unexplained-gap", "as explained-gap, without the opentrailGap record", func(c *corpus) (bucket, []digest.PublicKey, exps) {
		b := c.restarted(false)
		return b.objects, c.keys, exps(b.expected()).before(b.digests[2].key, gapOf(b.digests[3], digest.ChainBroken))
	}},
}

// restarted is the corpus chain with logging stopped after the third
// digest and restarted half an hour later.
func (c *corpus) restarted(explain bool) *built {
	return c.rebuilt(func(i int, d *digest.Digest) {
		if i != 3 {
			return
		}
		prevEnd := d.DigestStartTime
		start, _ := time.Parse(digest.TimeLayout, prevEnd)
		d.DigestStartTime = digest.FormatTime(start.Add(30 * time.Minute))
		d.PreviousDigestS3Bucket, d.PreviousDigestS3Object, d.PreviousDigestHashValue = nil, nil, nil
		d.PreviousDigestHashAlgorithm, d.PreviousDigestSignature = nil, nil
		if explain {
			d.Gap = &digest.Gap{
				Start: prevEnd, End: d.DigestStartTime, Reason: digest.GapLoggingStopped,
				PreviousBucket: corpusTrail.Bucket, PreviousObject: digestKey(corpusTrail, start),
			}
		}
	})
}

// TestCorpus validates every case of the tamper corpus and checks that
// each file is classified exactly as expect.json says. With -update it
// first writes the corpus again.
func TestCorpus(t *testing.T) {
	testKeys(t)
	if *update {
		writeCorpus(t)
	}
	dirs, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		if d.IsDir() {
			names = append(names, d.Name())
		}
	}
	var want []string
	for _, c := range tamperCases {
		want = append(want, c.name)
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("%s holds %v; the generator makes %v (run go test -run TestCorpus -update)", corpusDir, names, want)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) { runCorpusCase(t, filepath.Join(corpusDir, name)) })
	}
}

func runCorpusCase(t *testing.T, dir string) {
	var tf corpusFile
	readJSON(t, filepath.Join(dir, "trail.json"), &tf)
	var exp struct {
		Description string        `json:"description"`
		Results     []expectation `json:"results"`
	}
	readJSON(t, filepath.Join(dir, "expect.json"), &exp)
	kb, err := os.ReadFile(filepath.Join(dir, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := digest.ParsePublicKeys(kb)
	if err != nil {
		t.Fatal(err)
	}
	tr := digest.Trail{
		Bucket: tf.Bucket, Prefix: tf.Prefix, Account: tf.Account, SourceRegion: tf.SourceRegion,
		Name: tf.Name, HomeRegion: tf.HomeRegion,
	}
	src := &digest.LocalCopy{Dir: filepath.Join(dir, "bucket"), Bucket: tf.Bucket, Keys: keys}
	rs, sum := validate(t, src, tr, digest.Options{Start: tf.Start, End: tf.End, Parallel: 3})
	sameResults(t, expectations(rs), exp.Results)

	var count digest.Summary
	invalid := false
	for _, r := range rs {
		if r.Invalid() {
			invalid = true
			if r.Detail == "" && r.Status != digest.NotFound && r.Status != digest.BadSignature {
				t.Errorf("%s %s %s: no detail", r.Kind, r.Object, r.Status)
			}
		}
		switch {
		case r.Kind == digest.KindDigest && r.Status == digest.Valid:
			count.DigestsValid++
		case r.Kind == digest.KindDigest && r.Status == digest.SignatureUnavailable:
			count.DigestsUnverified++
		case r.Kind == digest.KindDigest:
			count.DigestsInvalid++
		case r.Kind == digest.KindLog && r.Status == digest.Valid:
			count.LogsValid++
		case r.Kind == digest.KindLog:
			count.LogsInvalid++
		case r.Invalid():
			count.Broken++
		default:
			count.Gaps++
		}
	}
	count.First, count.Last = sum.First, sum.Last
	if sum != count {
		t.Errorf("summary %+v; the results count %+v", sum, count)
	}
	if sum.Invalid() != invalid {
		t.Errorf("Summary.Invalid() = %v with invalid results %v", sum.Invalid(), invalid)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// writeCorpus writes every case of the corpus from the fixed keys and
// seed.
func writeCorpus(t *testing.T) {
	c := &corpus{tb: t, keys: corpusKeys()}
	c.clean = corpusChain(t, corpusTrail, 1, corpusSigner, nil)
	if err := os.RemoveAll(corpusDir); err != nil {
		t.Fatal(err)
	}
	var readme strings.Builder
	readme.WriteString(corpusReadme)
	for _, tc := range tamperCases {
		b, keys, e := tc.make(c)
		writeCase(t, filepath.Join(corpusDir, tc.name), tc.about, b, keys, e)
		fmt.Fprintf(&readme, "| `%s` | %s |\n", tc.name, tc.about)
	}
	if err := os.WriteFile(filepath.Join(corpusDir, "README.md"), []byte(readme.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

const corpusReadme = `# Tamper corpus

Generated by ` + "`go test ./internal/digest -run TestCorpus -update`" + ` from the fixed keys in
../keys and a fixed seed; do not edit by hand. TestCorpus validates each directory and
checks every result against its expect.json.

Each directory is one case:

- ` + "`bucket/`" + `: a local copy of the bucket (as ` + "`aws s3 cp --recursive`" + ` makes it), with each
  digest's S3 user metadata in ` + "`<key>.meta.json`" + ` beside it;
- ` + "`keys.json`" + `: the public keys, as ` + "`aws cloudtrail list-public-keys`" + ` prints them;
- ` + "`trail.json`" + `: the trail and the time range to validate;
- ` + "`expect.json`" + `: every result Validate must report, in order (kind, key, status). A Gap
  result's key is the digest after the gap.

The clean trail has six hourly digests; its signing key is rotated between the third and the
fourth, and the fourth lists no log files. Digests are counted from the oldest.

| Case | What was done |
| --- | --- |
`

// writeCase writes one case directory.
func writeCase(t *testing.T, dir, about string, b bucket, keys []digest.PublicKey, e exps) {
	for key, o := range b {
		path := filepath.Join(dir, "bucket", filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, o.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if o.meta != nil {
			m, _ := json.MarshalIndent(o.meta, "", "  ")
			if err := os.WriteFile(path+digest.MetaSuffix, append(m, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tf := corpusFile{
		Bucket: corpusTrail.Bucket, Prefix: corpusTrail.Prefix, Account: corpusTrail.Account,
		SourceRegion: corpusTrail.SourceRegion, Name: corpusTrail.Name, HomeRegion: corpusTrail.HomeRegion,
		Start: corpusT0, End: corpusT0.Add(6 * time.Hour),
	}
	tb, _ := json.MarshalIndent(tf, "", "  ")
	var eb bytes.Buffer
	d, _ := json.Marshal(about)
	fmt.Fprintf(&eb, "{\n  \"description\": %s,\n  \"results\": [", d)
	for i, x := range e {
		if i > 0 {
			eb.WriteByte(',')
		}
		line, _ := json.Marshal(x)
		eb.WriteString("\n    ")
		eb.Write(line)
	}
	eb.WriteString("\n  ]\n}\n")
	for name, data := range map[string][]byte{
		"trail.json": append(tb, '\n'), "keys.json": digest.MarshalPublicKeys(keys), "expect.json": eb.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCorpusMemory runs the clean chain through an in-memory Source (no
// Opener) to check that both read paths agree.
func TestCorpusMemory(t *testing.T) {
	testKeys(t)
	b := corpusChain(t, corpusTrail, 1, corpusSigner, nil)
	src := &memSource{bucket: corpusTrail.Bucket, objects: b.objects, keys: corpusKeys()}
	rs, sum := validate(t, src, corpusTrail, digest.Options{Start: corpusT0, End: corpusT0.Add(6 * time.Hour)})
	sameResults(t, expectations(rs), b.expected())
	if sum.Invalid() || sum.DigestsValid != 6 || sum.LogsValid != 10 || !sum.First.Equal(corpusT0) || !sum.Last.Equal(corpusT0.Add(6*time.Hour)) {
		t.Errorf("summary %+v", sum)
	}
}
