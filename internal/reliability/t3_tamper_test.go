package reliability

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/testserver"
)

// t3Chain is one digest chain: a trail's digests for one region.
type t3Chain struct {
	trail   digest.Trail
	copy    *digest.LocalCopy
	dir     string
	digests []string // valid digest keys, oldest first
	logs    []string // valid log file keys
	logOf   map[string]string
}

func TestT3TamperCorpus(t *testing.T) {
	describe(t, "T3", "Trails of several accounts, each with two multi-region trails validated, deliver log and digest files from "+
		"several regions; the tamper corpus (a byte changed in a record, a record dropped, records reordered, a file truncated, "+
		"a file replaced by one of another trail, account or region, files swapped, a file deleted, a file moved in time, a digest "+
		"deleted, altered, re-signed with another key, its previousDigestSignature changed, replaced by another trail's, moved in time, "+
		"two digests swapped) is planted one at a time in a copy, and opentrail's validator (digest.Validate over the copy) must name "+
		"every one and find nothing wrong in the clean trails; `opentrail validate-logs --dir` and `aws cloudtrail validate-logs` (the "+
		"Debian AWS CLI, against the server's S3 API) check a sample the same way.")
	accounts := pick([]string{"000000000000", "111111111111", "222222222222"},
		[]string{"000000000000", "111111111111", "222222222222", "333333333333", "444444444444", "555555555555"})
	regions := pick([]string{"us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"},
		[]string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-central-1", "eu-north-1",
			"ap-south-1", "ap-northeast-1", "ap-southeast-2", "sa-east-1", "ca-central-1", "af-south-1"})
	rounds := pick(12, 600)
	tampersPerKind := pick(3, 200)

	testStart := time.Now()
	s := startServer(t, "", "--delivery-interval", "1s", "--digest-interval", "2s")
	trails := []struct{ name, prefix string }{{"t3-a", ""}, {"t3-b", "audit/b"}}
	for _, acct := range accounts {
		bucket := "t3-logs-" + acct
		awsCall(t, s, acct, "us-east-1", "s3", "PUT", "/"+bucket, nil)
		for _, tr := range trails {
			awsCall(t, s, acct, "us-east-1", "cloudtrail", "CreateTrail", "", map[string]any{"Name": tr.name, "S3BucketName": bucket,
				"S3KeyPrefix": tr.prefix, "IsMultiRegionTrail": true, "EnableLogFileValidation": true})
			awsCall(t, s, acct, "us-east-1", "cloudtrail", "StartLogging", "", map[string]any{"Name": tr.name})
		}
	}
	begin := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	n := 0
	for round := range rounds {
		var recs [][]byte
		for _, acct := range accounts {
			for _, region := range regions {
				for range 3 {
					n++
					recs = append(recs, testserver.Record(testserver.Rec{ID: testserver.UUID("t3", n), Account: acct, Region: region,
						Name: fmt.Sprintf("T3Round%d", round), Time: time.Now().UTC().Add(-time.Duration(n%50) * time.Second)}))
				}
			}
		}
		if code, _, err := s.PostEvents(context.Background(), t, "test", recs); err != nil || code != 200 {
			t.Fatalf("POST /v1/events: %d %v", code, err)
		}
		time.Sleep(1100 * time.Millisecond)
	}
	reg, err := objstore.OpenFSBuckets(filepath.Join(s.Data, "buckets"))
	if err != nil {
		t.Fatal(err)
	}
	// Delivery runs behind ingest on a loaded machine: wait until every
	// chain has digests enough to tamper with before logging stops.
	waitForDigests(t, reg, accounts, regions, []string{"", "audit/b/"}, 3, 2*time.Minute)
	for _, acct := range accounts {
		for _, tr := range trails {
			awsCall(t, s, acct, "us-east-1", "cloudtrail", "StopLogging", "", map[string]any{"Name": tr.name})
		}
	}
	time.Sleep(5 * time.Second) // the last digest period closes, and one more
	end := time.Now().UTC().Truncate(time.Second)

	// Local copies of every bucket, with metadata sidecars, and the
	// public keys of every region.
	keys := map[string][]digest.PublicKey{}
	var allKeys []json.RawMessage
	for _, region := range regions {
		out := awsCall(t, s, "test", region, "cloudtrail", "ListPublicKeys", "",
			map[string]any{"StartTime": begin.Add(-time.Hour).Unix(), "EndTime": end.Add(2 * time.Hour).Unix()})
		k, err := digest.ParsePublicKeys(out)
		if err != nil {
			t.Fatal(err)
		}
		keys[region] = k
		var list struct{ PublicKeyList []json.RawMessage }
		json.Unmarshal(out, &list)
		allKeys = append(allKeys, list.PublicKeyList...)
	}
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	kb, _ := json.Marshal(map[string]any{"PublicKeyList": allKeys})
	os.WriteFile(keysFile, kb, 0o600)

	var chains []*t3Chain
	files := 0
	for _, acct := range accounts {
		bucket := "t3-logs-" + acct
		dir := filepath.Join(t.TempDir(), bucket)
		b, err := reg.Bucket(context.Background(), bucket)
		if err != nil {
			t.Fatal(err)
		}
		after := ""
		for {
			page, more, err := b.List(context.Background(), "", after, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page {
				data, info, err := b.Get(context.Background(), o.Key)
				if err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(dir, filepath.FromSlash(o.Key))
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
				if len(info.Meta) > 0 {
					mb, _ := json.Marshal(info.Meta)
					os.WriteFile(p+digest.MetaSuffix, mb, 0o644)
				}
				after = o.Key
			}
			if !more {
				break
			}
		}
		for _, tr := range trails {
			for _, region := range regions {
				chains = append(chains, &t3Chain{
					trail: digest.Trail{Bucket: bucket, Prefix: tr.prefix, Account: acct, SourceRegion: region, Name: tr.name, HomeRegion: "us-east-1"},
					copy:  &digest.LocalCopy{Dir: dir, Bucket: bucket, Keys: keys[region]},
					dir:   dir, logOf: map[string]string{},
				})
			}
		}
	}

	// The clean trails: every file valid, nothing invalid.
	opts := digest.Options{Start: begin, End: end}
	falsePositives := 0
	began := time.Now()
	for _, c := range chains {
		var lastDigest string
		sum, err := digest.Validate(context.Background(), c.copy, c.trail, opts, func(r digest.Result) {
			files++
			if r.Invalid() {
				falsePositives++
				t.Errorf("clean %s/%s %s: %s %s %s", c.trail.Name, c.trail.SourceRegion, r.Kind, r.Object, r.Status, r.Detail)
				return
			}
			switch r.Kind {
			case digest.KindDigest:
				c.digests = append(c.digests, r.Object.Key)
				lastDigest = r.Object.Key
			case digest.KindLog:
				c.logs = append(c.logs, r.Object.Key)
				c.logOf[r.Object.Key] = lastDigest
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		slicesReverse(c.digests) // Validate walks newest first
		if sum.LogsValid == 0 || sum.DigestsValid < 3 {
			t.Fatalf("%s/%s/%s: %d digests and %d log files valid; the trail delivered too little", c.trail.Account, c.trail.Name, c.trail.SourceRegion, sum.DigestsValid, sum.LogsValid)
		}
	}
	cleanTime := time.Since(began)
	t.Logf("clean validation done at %v", time.Since(testStart))
	logFiles := 0
	for _, c := range chains {
		logFiles += len(c.logs)
	}

	// The corpus, one tamper at a time.
	rng := mrand.New(mrand.NewPCG(3, uint64(time.Now().UnixNano())))
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	planted, detected := 0, 0
	valBegan := time.Now()
	validated := 0
	kinds := t3Kinds(otherKey)
	for _, k := range kinds {
		for range tampersPerKind {
			c := chains[rng.IntN(len(chains))]
			other := chains[rng.IntN(len(chains))]
			for other == c || (k.other == "region" && other.trail.SourceRegion == c.trail.SourceRegion) ||
				(k.other == "account" && other.trail.Account == c.trail.Account) || (k.other == "trail" && other.trail.Name == c.trail.Name) {
				other = chains[rng.IntN(len(chains))]
			}
			tm := &t3Tamper{c: c, other: other, rng: rng}
			blame := k.plant(t, tm)
			planted++
			found := false
			_, err := digest.Validate(context.Background(), c.copy, c.trail, opts, func(r digest.Result) {
				validated++
				if r.Invalid() && blame[r.Object.Key] {
					found = true
				}
			})
			if err != nil {
				t.Fatalf("%s: %v", k.name, err)
			}
			if found {
				detected++
			} else {
				t.Errorf("%s in %s/%s/%s (%v) not detected", k.name, c.trail.Account, c.trail.Name, c.trail.SourceRegion, keysOf(blame))
			}
			tm.restore(t)
		}
	}
	valTime := time.Since(valBegan)

	// The same copy, clean again after the corpus: nothing left behind.
	for _, c := range chains[:1] {
		sum, _ := digest.Validate(context.Background(), c.copy, c.trail, opts, func(digest.Result) {})
		if sum.Invalid() {
			t.Errorf("after restoring, %s/%s is invalid: %+v", c.trail.Name, c.trail.SourceRegion, sum)
		}
	}

	t.Logf("delivered, copied and validated in %v", time.Since(testStart))
	cliPlanted, cliDetected := t3OpentrailCLI(t, s, chains, begin, end, keysFile, kinds, rng)
	t.Logf("opentrail validate-logs done at %v", time.Since(testStart))
	awsPlanted, awsDetected, awsFalse := t3AWSCLI(t, s, reg, chains[0], accounts[0], begin, end)
	planted += cliPlanted + awsPlanted
	detected += cliDetected + awsDetected
	falsePositives += awsFalse

	figure(t, "T3", "trails × regions (digest chains)", float64(len(chains)), "", "informational")
	figure(t, "T3", "files validated (clean trails)", float64(files), "files", "informational")
	figure(t, "T3", "log files delivered (and validated)", float64(logFiles), "files", "≥ 200")
	figure(t, "T3", "tamper kinds", float64(len(kinds)), "", "informational")
	figure(t, "T3", "tampers planted", float64(planted), "", "informational")
	figure(t, "T3", "tampers detected", float64(detected), "", "= planted")
	figure(t, "T3", "false positives on clean trails", float64(falsePositives), "", "= 0")
	figure(t, "T3", "validation throughput (clean)", float64(files)/cleanTime.Seconds(), "files/s", "informational")
	figure(t, "T3", "validation throughput (tampered chains)", float64(validated)/valTime.Seconds(), "files/s", "informational")
	figure(t, "T3", "opentrail validate-logs sample: detected/planted", float64(cliDetected), fmt.Sprintf("of %d", cliPlanted), "= planted")
	figure(t, "T3", "aws cloudtrail validate-logs sample: detected/planted", float64(awsDetected), fmt.Sprintf("of %d", awsPlanted), "= planted")
	if !*long && logFiles < 200 {
		t.Errorf("only %d log files delivered, want ≥ 200", logFiles)
	}
	if detected != planted || falsePositives != 0 {
		t.Errorf("T3: %d of %d tampers detected, %d false positives", detected, planted, falsePositives)
	}
}

// t3Tamper changes files of a chain's copy and puts them back.
type t3Tamper struct {
	c, other *t3Chain
	rng      *mrand.Rand
	saved    []t3Saved
}

type t3Saved struct {
	path string
	data []byte // nil: the file did not exist
}

func (tm *t3Tamper) path(c *t3Chain, key string) string {
	return filepath.Join(c.dir, filepath.FromSlash(key))
}

// write replaces key's file (nil data removes it), keeping the old bytes.
func (tm *t3Tamper) write(t *testing.T, key string, data []byte) {
	tm.writePath(t, tm.path(tm.c, key), data)
}

func (tm *t3Tamper) writePath(t *testing.T, p string, data []byte) {
	old, err := os.ReadFile(p)
	if err != nil {
		old = nil
	}
	tm.saved = append(tm.saved, t3Saved{p, old})
	if data == nil {
		os.Remove(p)
		return
	}
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (tm *t3Tamper) read(t *testing.T, c *t3Chain, key string) []byte {
	b, err := os.ReadFile(tm.path(c, key))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (tm *t3Tamper) restore(t *testing.T) {
	for i := len(tm.saved) - 1; i >= 0; i-- {
		sv := tm.saved[i]
		if sv.data == nil {
			os.Remove(sv.path)
		} else if err := os.WriteFile(sv.path, sv.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tm.saved = nil
}

// log picks a log file of the chain; digestAt a digest that is neither
// the oldest nor the newest, with the one after it.
func (tm *t3Tamper) log() string { return tm.c.logs[tm.rng.IntN(len(tm.c.logs))] }

func (tm *t3Tamper) digestAt() (key, next string) {
	i := 1 + tm.rng.IntN(len(tm.c.digests)-2)
	return tm.c.digests[i], tm.c.digests[i+1]
}

func blameOf(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func keysOf(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// records reads a log file's records.
func t3Records(t *testing.T, gz []byte) []json.RawMessage {
	plain, err := digest.Gunzip(gz)
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Records []json.RawMessage }
	if err := json.Unmarshal(plain, &f); err != nil {
		t.Fatal(err)
	}
	return f.Records
}

func t3Log(recs []json.RawMessage) []byte {
	b, _ := json.Marshal(map[string]any{"Records": recs})
	return digest.Gzip(b)
}

// t3Kind is one way to tamper; plant returns the keys a report must name.
type t3Kind struct {
	name  string
	other string // what the other chain must differ in: "trail", "account", "region" or ""
	plant func(t *testing.T, tm *t3Tamper) map[string]bool
}

func t3Kinds(otherKey *rsa.PrivateKey) []t3Kind {
	// moved puts key's file under a name one hour later.
	moved := func(key string) string {
		i := strings.LastIndex(key, "T")
		if i < 0 || i+2 > len(key) {
			return key + ".moved"
		}
		h := key[i+1 : i+3]
		var n int
		fmt.Sscanf(h, "%02d", &n)
		return key[:i+1] + fmt.Sprintf("%02d", (n+1)%24) + key[i+3:]
	}
	digestPlain := func(t *testing.T, tm *t3Tamper, key string) (*digest.Digest, []byte) {
		plain, err := digest.Gunzip(tm.read(t, tm.c, key))
		if err != nil {
			t.Fatal(err)
		}
		d, err := digest.Parse(plain)
		if err != nil {
			t.Fatal(err)
		}
		return d, plain
	}
	return []t3Kind{
		{"a byte changed in a record", "", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k := tm.log()
			plain, _ := digest.Gunzip(tm.read(t, tm.c, k))
			i := bytes.Index(plain, []byte(`"eventName":"`)) + len(`"eventName":"`)
			plain[i] ^= 0x01
			tm.write(t, k, digest.Gzip(plain))
			return blameOf(k)
		}},
		{"a record dropped", "", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k := tm.log()
			recs := t3Records(t, tm.read(t, tm.c, k))
			tm.write(t, k, t3Log(recs[1:]))
			return blameOf(k)
		}},
		{"records reordered", "", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k := tm.log()
			recs := t3Records(t, tm.read(t, tm.c, k))
			if len(recs) < 2 {
				recs = append(recs, recs[0]) // a record duplicated instead
			} else {
				recs[0], recs[len(recs)-1] = recs[len(recs)-1], recs[0]
			}
			tm.write(t, k, t3Log(recs))
			return blameOf(k)
		}},
		{"a log file truncated", "", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k := tm.log()
			b := tm.read(t, tm.c, k)
			tm.write(t, k, b[:len(b)/2])
			return blameOf(k)
		}},
		{"a log file replaced by another trail's", "trail", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k := tm.log()
			tm.write(t, k, tm.read(t, tm.other, tm.other.logs[tm.rng.IntN(len(tm.other.logs))]))
			return blameOf(k)
		}},
		{"a log file replaced by another account's", "account", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k := tm.log()
			tm.write(t, k, tm.read(t, tm.other, tm.other.logs[tm.rng.IntN(len(tm.other.logs))]))
			return blameOf(k)
		}},
		{"a log file replaced by another region's", "region", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k := tm.log()
			tm.write(t, k, tm.read(t, tm.other, tm.other.logs[tm.rng.IntN(len(tm.other.logs))]))
			return blameOf(k)
		}},
		{"two log files swapped", "", func(t *testing.T, tm *t3Tamper) map[string]bool {
			a, b := tm.log(), tm.log()
			for a == b && len(tm.c.logs) > 1 {
				b = tm.log()
			}
			ab, bb := tm.read(t, tm.c, a), tm.read(t, tm.c, b)
			if bytes.Equal(ab, bb) {
				tm.write(t, a, nil)
				return blameOf(a)
			}
			tm.write(t, a, bb)
			tm.write(t, b, ab)
			return blameOf(a, b)
		}},
		{"a log file deleted", "", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k := tm.log()
			tm.write(t, k, nil)
			return blameOf(k)
		}},
		{"a log file moved in time", "", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k := tm.log()
			b := tm.read(t, tm.c, k)
			tm.write(t, k, nil)
			tm.write(t, moved(k), b)
			return blameOf(k)
		}},
		{"a digest deleted", "", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k, next := tm.digestAt()
			tm.write(t, k, nil)
			tm.write(t, k+digest.MetaSuffix, nil)
			return blameOf(k, next)
		}},
		{"a digest altered (a log file's hash)", "", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k, next := tm.digestAt()
			_, plain := digestPlain(t, tm, k)
			i := bytes.Index(plain, []byte(`"hashValue":"`))
			if i < 0 {
				i = bytes.Index(plain, []byte(`"digestEndTime":"`))
			}
			plain[i+len(`"hashValue":"`)+1] ^= 0x01
			tm.write(t, k, digest.Gzip(plain))
			return blameOf(k, next)
		}},
		{"a digest's signature metadata altered", "", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k, next := tm.digestAt()
			meta, err := digest.ParseMetadata(tm.read(t, tm.c, k+digest.MetaSuffix))
			if err != nil {
				t.Fatal(err)
			}
			sig := []byte(meta["signature"])
			sig[10] = "0123456789abcdef"[(strings.IndexByte("0123456789abcdef", sig[10])+1)%16]
			meta["signature"] = string(sig)
			mb, _ := json.Marshal(meta)
			tm.write(t, k+digest.MetaSuffix, mb)
			return blameOf(k, next)
		}},
		{"a digest re-signed with another key (a log file dropped)", "", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k, next := tm.digestAt()
			d, _ := digestPlain(t, tm, k)
			if len(d.LogFiles) > 0 {
				d.LogFiles = d.LogFiles[1:]
			}
			plain, sig, err := digest.SignDigest(d, otherKey)
			if err != nil {
				t.Fatal(err)
			}
			mb, _ := json.Marshal(digest.ObjectMetadata(sig))
			tm.write(t, k, digest.Gzip(plain))
			tm.write(t, k+digest.MetaSuffix, mb)
			return blameOf(k, next)
		}},
		{"the chain broken (previousDigestSignature changed)", "", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k, next := tm.digestAt()
			_, plain := digestPlain(t, tm, k)
			i := bytes.Index(plain, []byte(`"previousDigestSignature":"`))
			if i < 0 {
				t.Fatalf("%s has no previousDigestSignature", k)
			}
			j := i + len(`"previousDigestSignature":"`) + 5
			plain[j] = "0123456789abcdef"[(strings.IndexByte("0123456789abcdef", plain[j])+1)%16]
			tm.write(t, k, digest.Gzip(plain))
			return blameOf(k, next)
		}},
		{"a digest replaced by another trail's", "trail", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k, next := tm.digestAt()
			o := tm.other.digests[1+tm.rng.IntN(len(tm.other.digests)-2)]
			tm.write(t, k, tm.read(t, tm.other, o))
			tm.write(t, k+digest.MetaSuffix, tm.read(t, tm.other, o+digest.MetaSuffix))
			return blameOf(k, next)
		}},
		{"a digest moved in time", "", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k, next := tm.digestAt()
			b, m := tm.read(t, tm.c, k), tm.read(t, tm.c, k+digest.MetaSuffix)
			tm.write(t, k, nil)
			tm.write(t, k+digest.MetaSuffix, nil)
			tm.write(t, moved(k), b)
			tm.write(t, moved(k)+digest.MetaSuffix, m)
			return blameOf(k, next, moved(k))
		}},
		{"two digests swapped", "", func(t *testing.T, tm *t3Tamper) map[string]bool {
			k, next := tm.digestAt()
			kb, km := tm.read(t, tm.c, k), tm.read(t, tm.c, k+digest.MetaSuffix)
			nb, nm := tm.read(t, tm.c, next), tm.read(t, tm.c, next+digest.MetaSuffix)
			tm.write(t, k, nb)
			tm.write(t, k+digest.MetaSuffix, nm)
			tm.write(t, next, kb)
			tm.write(t, next+digest.MetaSuffix, km)
			blame := blameOf(k, next)
			if i := indexOf(tm.c.digests, next); i+1 < len(tm.c.digests) {
				blame[tm.c.digests[i+1]] = true
			}
			return blame
		}},
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func slicesReverse(s []string) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// t3OpentrailCLI runs `opentrail validate-logs --dir` (offline, keys from
// a file) on the clean copy of one trail, then with one tamper of each
// of a few kinds: exit 0 clean, exit 1 and the file named tampered.
func t3OpentrailCLI(t *testing.T, s *testserver.Server, chains []*t3Chain, begin, end time.Time, keysFile string, kinds []t3Kind, rng *mrand.Rand) (planted, detected int) {
	c := chains[0]
	arn := fmt.Sprintf("arn:aws:cloudtrail:us-east-1:%s:trail/%s", c.trail.Account, c.trail.Name)
	run := func() (string, string, int) {
		args := []string{"validate-logs", "--region", "us-east-1", "--trail-arn", arn, "--start-time", begin.Format(time.RFC3339),
			"--end-time", end.Format(time.RFC3339), "--dir", c.dir, "--s3-bucket", c.trail.Bucket, "--keys", keysFile, "--endpoint", "http://127.0.0.1:1"}
		if c.trail.Prefix != "" {
			args = append(args, "--s3-prefix", c.trail.Prefix)
		}
		return testserver.Command(t, []string{"AWS_ACCESS_KEY_ID=" + c.trail.Account, "AWS_SECRET_ACCESS_KEY=test"}, args...)
	}
	out, errs, code := run()
	if code != 0 {
		t.Errorf("opentrail validate-logs on a clean trail: exit %d\n%s\n%s", code, outputTail(out, 5), errs)
	}
	for _, i := range []int{0, 8, 10, 14} { // a byte changed, a log file deleted, a digest deleted, the chain broken
		k := kinds[i]
		tm := &t3Tamper{c: c, other: chains[len(chains)-1], rng: rng}
		blame := k.plant(t, tm)
		planted++
		_, errs, code := run()
		named := false
		for key := range blame {
			if strings.Contains(errs, "s3://"+c.trail.Bucket+"/"+key+"\tINVALID") {
				named = true
			}
		}
		if code == 1 && named {
			detected++
		} else {
			t.Errorf("opentrail validate-logs, %s: exit %d, none of %v named\n%s", k.name, code, keysOf(blame), errs)
		}
		tm.restore(t)
	}
	return planted, detected
}

// t3AWSCLI runs `aws cloudtrail validate-logs` (the Debian CLI, with the
// plugin docs/integrity.md gives) against the server for one trail,
// clean and with tampers planted in the server's bucket.
func t3AWSCLI(t *testing.T, s *testserver.Server, reg *objstore.FSBuckets, c *t3Chain, acct string, begin, end time.Time) (planted, detected, falsePositives int) {
	cfg := awsPluginConfig(t)
	// The newest two digests only: the CLI is slow, and checks every
	// region. The range is taken from their names, not from the clock:
	// on a loaded machine the last digests are written well after
	// logging stopped, and a range that misses them validates nothing
	// and exits 0.
	begin, end = digestTime(t, c.digests[len(c.digests)-2]).Add(-time.Second), digestTime(t, c.digests[len(c.digests)-1]).Add(time.Second)
	arn := fmt.Sprintf("arn:aws:cloudtrail:us-east-1:%s:trail/%s", c.trail.Account, c.trail.Name)
	run := func() (string, string, int) {
		home := t.TempDir()
		cmd := exec.Command("/usr/bin/aws", "--region", "us-east-1", "cloudtrail", "validate-logs", "--trail-arn", arn,
			"--start-time", begin.Format(time.RFC3339), "--end-time", end.Format(time.RFC3339))
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "AWS_PAGER=", "AWS_ACCESS_KEY_ID=" + acct, "AWS_SECRET_ACCESS_KEY=test",
			"AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"), "AWS_ENDPOINT_URL=" + s.URL}
		return testserver.Run(t, cmd)
	}
	out, errs, code := run()
	if code != 0 || strings.Contains(out+errs, "INVALID") {
		falsePositives++
		t.Errorf("aws cloudtrail validate-logs on a clean trail: exit %d\n%s\n%s", code, outputTail(out, 5), errs)
	}
	b, err := reg.Bucket(context.Background(), c.trail.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	logKey := c.logs[0]                 // listed in the newest digest
	dKey := c.digests[len(c.digests)-2] // linked from the newest
	for _, tc := range []struct {
		name, key string
		change    func(data []byte, meta map[string]string) []byte
	}{
		{"a byte changed in a log file", logKey, func(d []byte, _ map[string]string) []byte {
			plain, _ := digest.Gunzip(d)
			i := bytes.Index(plain, []byte(`"eventName":"`)) + len(`"eventName":"`)
			plain[i] ^= 0x01
			return digest.Gzip(plain)
		}},
		{"a record dropped", logKey, func(d []byte, _ map[string]string) []byte {
			return t3Log(t3Records(t, d)[1:])
		}},
		{"a digest's signature altered", dKey, func(d []byte, m map[string]string) []byte {
			n, _ := rand.Int(rand.Reader, big.NewInt(1<<30))
			m["signature"] = fmt.Sprintf("%x", n) + m["signature"][8:]
			return d
		}},
	} {
		data, info, err := b.Get(context.Background(), tc.key)
		if err != nil {
			t.Fatal(err)
		}
		meta := map[string]string{}
		for k, v := range info.Meta {
			meta[k] = v
		}
		if err := b.Put(context.Background(), tc.key, tc.change(bytes.Clone(data), meta), meta); err != nil {
			t.Fatal(err)
		}
		planted++
		_, errs, code := run()
		if code == 1 && strings.Contains(errs, tc.key+"\tINVALID") {
			detected++
		} else {
			t.Errorf("aws cloudtrail validate-logs, %s: exit %d, %s not named\n%s", tc.name, code, tc.key, errs)
		}
		if err := b.Put(context.Background(), tc.key, data, info.Meta); err != nil {
			t.Fatal(err)
		}
	}
	return planted, detected, falsePositives
}

// digestTime is the time in a digest file's name
// (…_CloudTrail-Digest_<region>_<trail>_<region>_20060102T150405Z.json.gz).
func digestTime(t *testing.T, key string) time.Time {
	t.Helper()
	name := strings.TrimSuffix(path.Base(key), ".json.gz")
	at, err := time.Parse("20060102T150405Z", name[strings.LastIndex(name, "_")+1:])
	if err != nil {
		t.Fatalf("digest %s: no time in its name: %v", key, err)
	}
	return at
}

// awsPluginConfig writes the plugin and the config file docs/integrity.md
// gives for AWS CLI v2 before 2.13 (Debian's 2.9.19), with its example
// home directory replaced by a temporary one, and returns the config
// file's path.
func awsPluginConfig(t *testing.T) string {
	t.Helper()
	const heading = "### AWS CLI v2 before 2.13 (Debian 12's 2.9.19, for one)"
	b, err := os.ReadFile(filepath.Join(moduleRootDir(t), "docs", "integrity.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := func(lang string) string {
		doc := string(b)
		i := strings.Index(doc, "\n"+heading+"\n")
		if i < 0 {
			t.Fatalf("docs/integrity.md has no heading %q", heading)
		}
		rest := doc[i:]
		j := strings.Index(rest, "\n```"+lang+"\n")
		if j < 0 {
			t.Fatalf("docs/integrity.md has no %s block after %q", lang, heading)
		}
		rest = rest[j+len("\n```"+lang+"\n"):]
		return rest[:strings.Index(rest, "\n```\n")+1]
	}
	home := t.TempDir()
	const docHome = "/home/you/.aws/"
	os.MkdirAll(filepath.Join(home, "plugins"), 0o755)
	if err := os.WriteFile(filepath.Join(home, "plugins", "opentrail_endpoint.py"), []byte(block("python")), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(home, "config-opentrail")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(block("ini"), docHome, home+"/")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustAWS runs the Debian AWS CLI as access key akid and returns its
// output; a non-zero exit fails the test.
func mustAWS(t testing.TB, s *testserver.Server, akid, region string, args ...string) string {
	t.Helper()
	out, errs, code := s.AWSCLI(t, akid, region, args...)
	if code != 0 {
		t.Fatalf("aws %s (as %s): exit %d\n%s\n%s", strings.Join(args, " "), akid, code, out, errs)
	}
	return out
}

// waitForDigests waits until each account's bucket holds at least n digest
// files for every key prefix and region, or fails the test after max.
func waitForDigests(t *testing.T, reg *objstore.FSBuckets, accounts, regions, prefixes []string, n int, max time.Duration) {
	t.Helper()
	deadline := time.Now().Add(max)
	for {
		short := ""
		for _, acct := range accounts {
			b, err := reg.Bucket(context.Background(), "t3-logs-"+acct)
			if err != nil {
				t.Fatal(err)
			}
			for _, prefix := range prefixes {
				for _, region := range regions {
					p := prefix + "AWSLogs/" + acct + "/CloudTrail-Digest/" + region + "/"
					page, _, err := b.List(context.Background(), p, "", n)
					if err != nil {
						t.Fatal(err)
					}
					if len(page) < n && short == "" {
						short = fmt.Sprintf("%s has %d digests", p, len(page))
					}
				}
			}
		}
		if short == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %s, want %d", max, short, n)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
