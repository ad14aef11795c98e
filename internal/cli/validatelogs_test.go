package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/layout"
)

func TestParseValidateTime(t *testing.T) {
	want := time.Date(2024, 5, 6, 8, 0, 0, 0, time.UTC)
	for in, exp := range map[string]time.Time{
		"2024-05-06T08:00:00Z":      want,
		"2024-05-06T10:00:00+02:00": want,
		"2024-05-06T08:00:00.5Z":    want.Add(500 * time.Millisecond),
		"2024-05-06T08:00:00":       want,
		"2024-05-06 08:00:00":       want,
		"2024-05-06T08:00":          want,
		"2024-05-06":                want.Add(-8 * time.Hour),
		"20240506T080000Z":          want,
		"20240506":                  want.Add(-8 * time.Hour),
		"1714982400":                want,
		"1714982400.25":             want.Add(250 * time.Millisecond),
		" 2024-05-06T08:00:00Z ":    want,
	} {
		got, err := parseValidateTime(in)
		if err != nil || !got.Equal(exp) || got.Location() != time.UTC {
			t.Errorf("parseValidateTime(%q) = %v, %v; want %v UTC", in, got, err, exp)
		}
	}
	for _, in := range []string{"", "garbage", "2024-13-01", "-5", "yesterday", "1e30", "2024-05-06T25:00:00Z"} {
		if got, err := parseValidateTime(in); err == nil {
			t.Errorf("parseValidateTime(%q) = %v, want an error", in, got)
		}
	}
}

func TestResultLine(t *testing.T) {
	d := digest.ObjectRef{Bucket: "b", Key: "AWSLogs/1/CloudTrail-Digest/r/2024/05/06/d.json.gz"}
	at := func(h int) time.Time { return time.Date(2024, 5, 6, h, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		r       digest.Result
		want    string
		problem bool
	}{
		{digest.Result{Kind: digest.KindDigest, Object: d, Status: digest.Valid, Detail: "checked offline"},
			"Digest file\ts3://b/" + d.Key + "\tvalid", false},
		{digest.Result{Kind: digest.KindLog, Object: d, Status: digest.HashMismatch, Detail: "listed in x\nwith y"},
			"Log file\ts3://b/" + d.Key + "\tINVALID: hash value doesn't match\tlisted in x with y", true},
		{digest.Result{Kind: digest.KindDigest, Object: d, Status: digest.NotFound},
			"Digest file\ts3://b/" + d.Key + "\tINVALID: not found", true},
		{digest.Result{Kind: digest.KindDigest, Object: d, Status: digest.NoPublicKey, Detail: "in region eu-west-1 for fingerprint ab12"},
			"Digest file\ts3://b/" + d.Key + "\tINVALID: public key not found in region eu-west-1 for fingerprint ab12", true},
		{digest.Result{Kind: digest.KindDigest, Object: d, Status: digest.BadSignature, Detail: "unable to load PKCS #1 key with fingerprint ab12: asn1: bad"},
			"Digest file\ts3://b/" + d.Key + "\tINVALID: Unable to load PKCS #1 key with fingerprint ab12\tunable to load PKCS #1 key with fingerprint ab12: asn1: bad", true},
		{digest.Result{Kind: digest.KindGap, Object: d, Status: digest.Explained, Start: at(8), End: at(10), Detail: "opentrailGap: logging was stopped"},
			"No log files were delivered by CloudTrail between 2024-05-06T08:00:00Z and 2024-05-06T10:00:00Z\tlogging was stopped", true},
		{digest.Result{Kind: digest.KindGap, Object: d, Status: digest.Explained, Start: at(8), End: at(10), Detail: "s3://x starts a new chain without an opentrailGap record saying why"},
			"No log files were delivered by CloudTrail between 2024-05-06T08:00:00Z and 2024-05-06T10:00:00Z", true},
		{digest.Result{Kind: digest.KindGap, Object: d, Status: digest.ChainBroken, Start: at(8), End: at(10), Detail: "the chain does not lead back"},
			"Gap\ts3://b/" + d.Key + "\tINVALID: chain broken between 2024-05-06T08:00:00Z and 2024-05-06T10:00:00Z\tthe chain does not lead back", true},
		{digest.Result{Kind: digest.KindDigest, Object: d, Status: digest.Valid, Backfill: true},
			"(backfill) Digest file\ts3://b/" + d.Key + "\tvalid", false},
		{digest.Result{Kind: digest.KindDigest, Object: d, Status: digest.SignatureUnavailable, Detail: "the copy holds none"},
			"Digest file\ts3://b/" + d.Key + "\tWARNING: signature not available in this copy\tthe copy holds none", true},
	} {
		got, problem := resultLine(c.r)
		if got != c.want || problem != c.problem {
			t.Errorf("resultLine(%+v) =\n%q, %v\nwant\n%q, %v", c.r, got, problem, c.want, c.problem)
		}
	}
}

var (
	vlKeyOnce sync.Once
	vlKey     *rsa.PrivateKey
)

// vlFixture is a local copy of a bucket holding a trail's chain of three
// hourly digests from 08:00, each listing two log files.
type vlFixture struct {
	dir, keysFile string
	trail         digest.Trail
	arn           string
	end           time.Time  // of the newest digest
	digests       []string   // oldest first
	logs          [][]string // per digest
}

// vlOpts shape a vlFixture.
type vlOpts struct {
	org string // organisation id, "" for none
	// allMeta: every digest's metadata is in a sidecar file, not only the
	// newest digest's (older ones are vouched for by their successors).
	allMeta bool
	// restart: the newest digest starts a new chain an hour after the one
	// before ends; recorded: saying why, in an opentrailGap.
	restart, recorded bool
}

var vlT0 = time.Date(2024, 5, 6, 8, 0, 0, 0, time.UTC)

func newVLFixture(t *testing.T, o vlOpts) *vlFixture {
	t.Helper()
	vlKeyOnce.Do(func() {
		var err error
		if vlKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	org := o.org
	f := &vlFixture{
		dir:   t.TempDir(),
		trail: digest.Trail{Bucket: "audit-bucket", Prefix: "org-logs", OrgID: org, Account: "210987654321", SourceRegion: "eu-west-1", Name: "audit-main", HomeRegion: "eu-west-1"},
		arn:   "arn:aws:cloudtrail:eu-west-1:210987654321:trail/audit-main",
	}
	der := digest.PublicKeyDER(&vlKey.PublicKey)
	pub := digest.PublicKey{Value: der, Fingerprint: digest.Fingerprint(der), ValidFrom: vlT0, ValidTo: vlT0.Add(30 * 24 * time.Hour)}
	f.keysFile = filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(f.keysFile, digest.MarshalPublicKeys([]digest.PublicKey{pub}), 0o600); err != nil {
		t.Fatal(err)
	}
	var prevKey, prevHash, prevSig string
	var prevEnd time.Time
	for i := range 3 {
		start := vlT0.Add(time.Duration(i) * time.Hour)
		if o.restart && i == 2 {
			start = start.Add(time.Hour)
		}
		end := start.Add(time.Hour)
		var files []digest.LogFile
		var names []string
		for j := range 2 {
			lk := layout.Log{Prefix: f.trail.Prefix, OrgID: org, Account: f.trail.Account, Region: f.trail.SourceRegion,
				End: start.Add(time.Duration(5*j+5) * time.Minute), Unique: layout.UniqueSuffix("vl", fmt.Sprint(i, j))}
			plain := fmt.Appendf(nil, `{"Records":[{"eventID":"%d-%d","eventTime":"%s"}]}`, i, j, digest.FormatTime(lk.End))
			f.put(t, lk.String(), digest.Gzip(plain))
			files = append(files, digest.LogFile{S3Bucket: f.trail.Bucket, S3Object: lk.String(), HashValue: digest.Hash(plain),
				HashAlgorithm: digest.HashAlgorithm, NewestEventTime: digest.FormatTime(lk.End), OldestEventTime: digest.FormatTime(lk.End)})
			names = append(names, lk.String())
		}
		dk := layout.Digest{Prefix: f.trail.Prefix, OrgID: org, Account: f.trail.Account, SourceRegion: f.trail.SourceRegion,
			Trail: f.trail.Name, HomeRegion: f.trail.HomeRegion, End: end}
		d := &digest.Digest{
			AWSAccountID: f.trail.Account, DigestStartTime: digest.FormatTime(start), DigestEndTime: digest.FormatTime(end),
			DigestS3Bucket: f.trail.Bucket, DigestS3Object: dk.String(), DigestPublicKeyFingerprint: pub.Fingerprint,
			DigestSignatureAlgorithm: digest.SignatureAlgorithm, LogFiles: files,
		}
		switch {
		case o.restart && i == 2 && o.recorded:
			d.Gap = &digest.Gap{Start: digest.FormatTime(prevEnd), End: digest.FormatTime(start), Reason: digest.GapLoggingStopped,
				PreviousBucket: f.trail.Bucket, PreviousObject: prevKey}
		case o.restart && i == 2:
		case prevKey != "":
			d.PreviousDigestS3Bucket, d.PreviousDigestS3Object = digest.Str(f.trail.Bucket), digest.Str(prevKey)
			d.PreviousDigestHashValue, d.PreviousDigestHashAlgorithm = digest.Str(prevHash), digest.Str(digest.HashAlgorithm)
			d.PreviousDigestSignature = digest.Str(prevSig)
		}
		plain, sig, err := digest.SignDigest(d, vlKey)
		if err != nil {
			t.Fatal(err)
		}
		f.put(t, dk.String(), digest.Gzip(plain))
		if o.allMeta || i == 2 {
			// The metadata as `aws s3api head-object` prints it. Without
			// it a digest is vouched for by its successor.
			meta, _ := json.Marshal(map[string]any{"ContentType": "application/octet-stream", "Metadata": digest.ObjectMetadata(sig)})
			f.put(t, dk.String()+digest.MetaSuffix, meta)
		}
		prevKey, prevHash, prevSig, prevEnd, f.end = dk.String(), digest.Hash(plain), sig, end, end
		f.digests = append(f.digests, dk.String())
		f.logs = append(f.logs, names)
	}
	return f
}

func (f *vlFixture) path(key string) string { return filepath.Join(f.dir, filepath.FromSlash(key)) }

func (f *vlFixture) put(t *testing.T, key string, data []byte) {
	t.Helper()
	p := f.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// args are the arguments of an offline run over the whole chain.
func (f *vlFixture) args(extra ...string) []string {
	return append([]string{"--trail-arn", f.arn, "--start-time", "2024-05-06T08:00:00Z", "--end-time", display(f.end),
		"--region", "eu-west-1", "--dir", f.dir, "--s3-bucket", f.trail.Bucket, "--s3-prefix", f.trail.Prefix, "--keys", f.keysFile}, extra...)
}

// runValidateLogs runs the command and returns its output and exit code.
func runValidateLogs(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("OPENTRAIL_ENDPOINT", "http://127.0.0.1:1") // no server: every run here is offline
	var out, errb bytes.Buffer
	err := (&validateLogsCmd{env: &Env{Stdout: &out, Stderr: &errb}}).Run(context.Background(), args)
	if ee, ok := errors.AsType[*exitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("validate-logs %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

func TestValidateLogsOffline(t *testing.T) {
	for _, org := range []string{"", "o-exampleorgid"} {
		t.Run("org="+org, func(t *testing.T) {
			f := newVLFixture(t, vlOpts{org: org})
			url := func(k string) string { return "s3://" + f.trail.Bucket + "/" + k }
			var want strings.Builder
			fmt.Fprintf(&want, "Validating log files for trail %s between 2024-05-06T08:00:00Z and 2024-05-06T11:00:00Z\n\n", f.arn)
			for i := 2; i >= 0; i-- {
				fmt.Fprintf(&want, "Digest file\t%s\tvalid\n", url(f.digests[i]))
				for _, l := range f.logs[i] {
					fmt.Fprintf(&want, "Log file\t%s\tvalid\n", url(l))
				}
			}
			// validate-logs reports as found the start of the oldest digest
			// that starts after the requested start.
			want.WriteString("\nResults requested for 2024-05-06T08:00:00Z to 2024-05-06T11:00:00Z\n" +
				"Results found for 2024-05-06T09:00:00Z to 2024-05-06T11:00:00Z:\n\n3/3 digest files valid\n6/6 log files valid\n")
			out, errs, code := runValidateLogs(t, f.args("--verbose")...)
			if code != 0 || errs != "" || out != want.String() {
				t.Fatalf("clean chain: exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, want.String(), errs)
			}
			// Without --verbose only the first line and the summary.
			out, _, code = runValidateLogs(t, f.args()...)
			if code != 0 || strings.Contains(out, "\tvalid") || !strings.HasSuffix(out, "\n\nResults requested for 2024-05-06T08:00:00Z to 2024-05-06T11:00:00Z\n"+
				"Results found for 2024-05-06T09:00:00Z to 2024-05-06T11:00:00Z:\n\n3/3 digest files valid\n6/6 log files valid\n") {
				t.Errorf("clean chain, not verbose: exit %d\n%s", code, out)
			}
		})
	}
}

func TestValidateLogsOfflineTampered(t *testing.T) {
	f := newVLFixture(t, vlOpts{allMeta: true})
	url := func(k string) string { return "s3://" + f.trail.Bucket + "/" + k }

	// A log file whose JSON changed, compressed again.
	log := f.logs[1][0]
	orig, err := os.ReadFile(f.path(log))
	if err != nil {
		t.Fatal(err)
	}
	f.put(t, log, digest.Gzip([]byte(`{"Records":[]}`)))
	out, errs, code := runValidateLogs(t, f.args("--verbose")...)
	wantLine := "\nLog file\t" + url(log) + "\tINVALID: hash value doesn't match\tlisted in " + url(f.digests[1])
	if code != 1 || !strings.Contains(errs, wantLine) || !strings.HasSuffix(errs, "\n\n") {
		t.Errorf("changed log file: exit %d, want 1 and %q in stderr:\n%s", code, wantLine, errs)
	}
	if !strings.Contains(out, "\n3/3 digest files valid\n5/6 log files valid, 1/6 log files INVALID\n\n"+
		"Digest files: 3 valid\nLog files: 5 valid, 1 hash value doesn't match\n") {
		t.Errorf("changed log file: summary:\n%s", out)
	}
	f.put(t, log, orig)

	// The middle digest deleted: not found, and the chain from the newest
	// digest broken.
	mid, err := os.ReadFile(f.path(f.digests[1]))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(f.path(f.digests[1]))
	out, errs, code = runValidateLogs(t, f.args()...)
	for _, want := range []string{
		"Digest file\t" + url(f.digests[1]) + "\tINVALID: not found\t",
		"Gap\t" + url(f.digests[2]) + "\tINVALID: chain broken between 2024-05-06T09:00:00Z and 2024-05-06T10:00:00Z\t",
	} {
		if code != 1 || !strings.Contains(errs, want) {
			t.Errorf("deleted digest: exit %d, want 1 and %q in stderr:\n%s", code, want, errs)
		}
	}
	if !strings.Contains(out, "2/3 digest files valid, 1/3 digest files INVALID\n4/4 log files valid\n\nDigest files: 2 valid, 1 not found\nLog files: 4 valid\nGaps: 1 chain broken\n") {
		t.Errorf("deleted digest: summary:\n%s", out)
	}

	// --json: one object per result, then the summary.
	out, _, code = runValidateLogs(t, f.args("--json")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var results []jsonResult
	for _, l := range lines[:len(lines)-1] {
		var r jsonResult
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Type != "result" {
			t.Fatalf("--json line %q: %v", l, err)
		}
		results = append(results, r)
	}
	var sum jsonSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Type != "summary" {
		t.Fatalf("--json summary %q: %v", lines[len(lines)-1], err)
	}
	if code != 1 || len(results) != 2+4+1+1 || sum.Valid || sum.DigestFiles.Invalid != 1 || sum.DigestFiles.ByStatus["not found"] != 1 ||
		sum.LogFiles.Valid != 4 || sum.BrokenLinks != 1 || sum.FoundEnd != "2024-05-06T11:00:00Z" {
		t.Errorf("--json: exit %d, %d results, summary %+v\n%s", code, len(results), sum, out)
	}
	f.put(t, f.digests[1], mid)

	// A forged signature on the newest digest.
	f.put(t, f.digests[2]+digest.MetaSuffix, fmt.Appendf(nil, `{"signature":%q,"signature-algorithm":"SHA256withRSA"}`, strings.Repeat("ab", 256)))
	_, errs, code = runValidateLogs(t, f.args()...)
	if want := "Digest file\t" + url(f.digests[2]) + "\tINVALID: signature verification failed"; code != 1 || !strings.Contains(errs, want) {
		t.Errorf("forged signature: exit %d, want 1 and %q:\n%s", code, want, errs)
	}
}

func TestValidateLogsArguments(t *testing.T) {
	f := newVLFixture(t, vlOpts{})
	arn := f.arn
	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"bad ARN", []string{"--trail-arn", "foo", "--start-time", "2024-05-06"}, 252, "\nInvalid trail ARN provided: foo\n"},
		{"bad time", []string{"--trail-arn", arn, "--start-time", "garbage"}, 252, "\nUnable to parse date value: garbage\n"},
		{"bad end time", []string{"--trail-arn", arn, "--start-time", "2024-05-06", "--end-time", "soon"}, 252, "\nUnable to parse date value: soon\n"},
		{"reversed range", []string{"--trail-arn", arn, "--start-time", "2024-05-07", "--end-time", "2024-05-06"}, 252,
			"\nInvalid time range specified: start-time must occur before end-time\n"},
		{"time checked before ARN", []string{"--trail-arn", "foo", "--start-time", "garbage"}, 252, "\nUnable to parse date value: garbage\n"},
		{"missing start", []string{"--trail-arn", arn}, 252, "error: the following arguments are required: --start-time\n"},
		{"missing both", nil, 252, "error: the following arguments are required: --trail-arn, --start-time\n"},
		{"unknown flag", []string{"--trail-arn", arn, "--start-time", "2024-05-06", "--frobnicate"}, 252, "flag provided but not defined: -frobnicate"},
		{"positional", []string{"--trail-arn", arn, "--start-time", "2024-05-06", "extra"}, 252, "\nUnknown options: extra\n"},
		{"positional before flags", []string{"extra", "--trail-arn", arn, "--start-time", "2024-05-06"}, 252, "\nUnknown options: extra\n"},
		{"negative parallel", f.args("--parallel", "-1"), 252, "\nInvalid --parallel -1"},
		{"no such dir", []string{"--trail-arn", arn, "--start-time", "2024-05-06", "--dir", filepath.Join(f.dir, "nope")}, 252, "is not a directory\n"},
		{"bad keys file", f.args("--keys", f.path(f.digests[0])), 252, "\nUnable to read public keys from "},
		// A directory that is not the copy of the bucket (here the copy's
		// AWSLogs folder, the prefix's folder, an empty one) found "No
		// digests found" and exited 0.
		{"dir is AWSLogs", f.args("--dir", filepath.Join(f.dir, "org-logs", "AWSLogs")), 252,
			"holds no org-logs/AWSLogs/ folder, so it is not a copy of the trail's bucket: give the directory the bucket was copied into"},
		{"dir is the prefix", f.args("--dir", filepath.Join(f.dir, "org-logs")), 252, "holds no org-logs/AWSLogs/ folder"},
		{"dir is empty", f.args("--dir", t.TempDir()), 252, "holds no org-logs/AWSLogs/ folder"},
		// No server: DescribeTrails (and ListPublicKeys) cannot be called.
		{"server unreachable", []string{"--trail-arn", arn, "--start-time", "2024-05-06", "--region", "eu-west-1"}, 255,
			"\nCould not connect to the endpoint URL: \"http://127.0.0.1:1/\"\n"},
		{"no keys in range", f.args("--start-time", "2024-07-01", "--end-time", "2024-07-02"), 255,
			"\nNo public keys found between 2024-07-01T00:00:00Z and 2024-07-02T00:00:00Z\n"},
	} {
		_, errs, code := runValidateLogs(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.stderr) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", c.name, code, errs, c.code, c.stderr)
		}
	}

	// No digests in range (keys valid): "No digests found", exit 0.
	out, errs, code := runValidateLogs(t, f.args("--start-time", "2024-05-20", "--end-time", "2024-05-21")...)
	if code != 0 || errs != "" || !strings.HasSuffix(out, "\nResults requested for 2024-05-20T00:00:00Z to 2024-05-21T00:00:00Z\nNo digests found\n") {
		t.Errorf("no digests: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestValidateLogsOfflineGaps(t *testing.T) {
	const between = "No log files were delivered by CloudTrail between 2024-05-06T10:00:00Z and 2024-05-06T11:00:00Z"
	summary := "\nResults requested for 2024-05-06T08:00:00Z to 2024-05-06T12:00:00Z\n" +
		"Results found for 2024-05-06T09:00:00Z to 2024-05-06T12:00:00Z:\n\n3/3 digest files valid\n6/6 log files valid\n"

	// A chain that restarts without saying why: AWS CloudTrail's gap,
	// opentrail's broken chain unless --lenient-gaps.
	f := newVLFixture(t, vlOpts{restart: true, allMeta: true})
	newest := "s3://" + f.trail.Bucket + "/" + f.digests[2]
	out, errs, code := runValidateLogs(t, f.args()...)
	want := "Gap\t" + newest + "\tINVALID: chain broken between 2024-05-06T10:00:00Z and 2024-05-06T11:00:00Z\t"
	if code != 1 || !strings.HasPrefix(errs, want) || !strings.HasSuffix(out, summary+"\nDigest files: 3 valid\nLog files: 6 valid\nGaps: 1 chain broken\n") {
		t.Errorf("unexplained restart: exit %d, want 1 and %q\n%s\n%s", code, want, out, errs)
	}
	out, errs, code = runValidateLogs(t, f.args("--lenient-gaps", "--verbose")...)
	if code != 0 || errs != "\n"+between+"\n\n" || !strings.HasSuffix(out, "valid\n"+summary) {
		t.Errorf("unexplained restart, --lenient-gaps: exit %d\n%s\n%q", code, out, errs)
	}

	// A restart opentrail recorded: a gap with its reason, not invalid.
	f = newVLFixture(t, vlOpts{restart: true, recorded: true, allMeta: true})
	out, errs, code = runValidateLogs(t, f.args()...)
	if code != 0 || errs != between+"\tlogging was stopped\n\n" || !strings.HasSuffix(out, "12:00:00Z\n"+summary) {
		t.Errorf("recorded gap: exit %d\n%s\n%q", code, out, errs)
	}
}

// TestValidateLogsPlainCopy: a copy made with `aws s3 cp --recursive`
// has no object metadata. Older digests are verified through the chain;
// the newest's signature is fetched from the bucket when an endpoint
// serves it, else reported once as not available in this copy: exit 3,
// not INVALID. Tampering is still found.
func TestValidateLogsPlainCopy(t *testing.T) {
	f := newVLFixture(t, vlOpts{})
	url := func(k string) string { return "s3://" + f.trail.Bucket + "/" + k }
	newest := f.digests[2]
	sidecar, err := os.ReadFile(f.path(newest) + digest.MetaSuffix)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := digest.ParseMetadata(sidecar)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(f.path(newest) + digest.MetaSuffix)

	// No endpoint serves the bucket (runValidateLogs names an unreachable one).
	warning := "Digest file\t" + url(newest) + "\tWARNING: signature not available in this copy\t"
	out, errs, code := runValidateLogs(t, f.args()...)
	if code != 3 || strings.Count(errs, "WARNING") != 1 || !strings.HasPrefix(errs, warning) || strings.Contains(out+errs, "INVALID") ||
		!strings.Contains(errs, "could not reach http://127.0.0.1:1") {
		t.Errorf("plain copy: exit %d, want 3 and one %q\nstdout:\n%s\nstderr:\n%s", code, warning, out, errs)
	}
	if !strings.Contains(out, "Results found for 2024-05-06T09:00:00Z to 2024-05-06T11:00:00Z:\n\n"+
		"2/3 digest files valid, 1/3 digest files unverified (signature not available in this copy)\n6/6 log files valid\n\n"+
		"WARNING: the signature of 1 digest file is not available in this copy") {
		t.Errorf("plain copy: summary:\n%s", out)
	}
	// Only the newest digest in range: it is found, not "No digests found".
	out, _, code = runValidateLogs(t, f.args("--start-time", "2024-05-06T10:30:00Z")...)
	if code != 3 || !strings.Contains(out, "\n0/1 digest files valid, 1/1 digest files unverified (signature not available in this copy)\n2/2 log files valid\n") {
		t.Errorf("plain copy, the newest digest alone: exit %d\n%s", code, out)
	}
	// --verbose shows how the older digests were checked.
	out, _, code = runValidateLogs(t, f.args("--verbose", "--json")...)
	if code != 3 || strings.Count(out, `"status":"signature not available in this copy"`) != 1 ||
		strings.Count(out, `checked with the previousDigestSignature of `) != 2 || !strings.Contains(out, `"signatureUnavailable":1,"valid":false`) {
		t.Errorf("plain copy, --json: exit %d\n%s", code, out)
	}

	// An S3 endpoint that has the bucket: the signature is fetched.
	var heads atomic.Int32
	served := meta
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead || r.URL.Path != "/"+f.trail.Bucket+"/"+newest {
			http.Error(w, "", http.StatusNotFound)
			return
		}
		heads.Add(1)
		for k, v := range served {
			w.Header().Set("x-amz-meta-"+k, v)
		}
	}))
	defer srv.Close()
	for _, flag := range []string{"--s3-endpoint-url", "--endpoint"} {
		heads.Store(0)
		out, errs, code = runValidateLogs(t, f.args(flag, srv.URL)...)
		if code != 0 || errs != "" || !strings.Contains(out, "\n3/3 digest files valid\n6/6 log files valid\n") || heads.Load() != 1 {
			t.Errorf("plain copy, %s: exit %d, %d HEADs\n%s\n%s", flag, code, heads.Load(), out, errs)
		}
	}
	served = map[string]string{digest.MetaSignature: strings.Repeat("ab", 256), digest.MetaSignatureAlgorithm: digest.SignatureAlgorithm}
	_, errs, code = runValidateLogs(t, f.args("--s3-endpoint-url", srv.URL)...)
	if want := "Digest file\t" + url(newest) + "\tINVALID: signature verification failed\tsignature metadata not in the copy: fetched from the source"; code != 1 || !strings.Contains(errs, want) {
		t.Errorf("plain copy, forged signature at the source: exit %d, want 1 and %q\n%s", code, want, errs)
	}

	// Tampering in the copy is still INVALID, with the right class.
	for _, c := range []struct {
		name, line string
		do         func() (undo func())
	}{
		{"changed log file", "Log file\t" + url(f.logs[2][1]) + "\tINVALID: hash value doesn't match", func() func() {
			return f.swap(t, f.logs[2][1], digest.Gzip([]byte(`{"Records":[]}`)))
		}},
		{"deleted log file", "Log file\t" + url(f.logs[0][0]) + "\tINVALID: not found", func() func() {
			return f.swap(t, f.logs[0][0], nil)
		}},
		{"changed digest", "Digest file\t" + url(f.digests[1]) + "\tINVALID: signature verification failed", func() func() {
			b, _ := os.ReadFile(f.path(f.digests[1]))
			plain, _ := digest.Gunzip(b)
			return f.swap(t, f.digests[1], digest.Gzip([]byte(strings.Replace(string(plain), f.logs[1][0], f.logs[0][0], 1))))
		}},
		{"deleted digest", "Digest file\t" + url(f.digests[1]) + "\tINVALID: not found", func() func() {
			return f.swap(t, f.digests[1], nil)
		}},
	} {
		undo := c.do()
		_, errs, code := runValidateLogs(t, f.args()...)
		if code != 1 || !strings.Contains(errs, c.line) || !strings.HasPrefix(errs, warning) {
			t.Errorf("plain copy, %s: exit %d, want 1, %q and the warning\n%s", c.name, code, c.line, errs)
		}
		undo()
	}

	// The help names the exit codes.
	var help bytes.Buffer
	err = (&validateLogsCmd{env: &Env{Stdout: &help, Stderr: &help}}).Run(context.Background(), []string{"-h"})
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(help.String(), "\nExit status:\n") ||
		!strings.Contains(help.String(), "\n  3    nothing is invalid, but the signature") {
		t.Errorf("help: %v\n%s", err, help.String())
	}
}

// swap replaces (nil: deletes) a file of the copy and returns what puts
// it back.
func (f *vlFixture) swap(t *testing.T, key string, data []byte) (undo func()) {
	t.Helper()
	orig, err := os.ReadFile(f.path(key))
	if err != nil {
		t.Fatal(err)
	}
	if data == nil {
		os.Remove(f.path(key))
	} else {
		f.put(t, key, data)
	}
	return func() { f.put(t, key, orig) }
}
