package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestValidateLogsCommand: `opentrail validate-logs` prints what `aws
// cloudtrail validate-logs` prints for a trail opentrail delivered, names
// the same files after tampering (and more), and gives the same verdicts
// on a local copy of the bucket.
func TestValidateLogsCommand(t *testing.T) {
	s := startServer(t, "", "--delivery-interval", "1s", "--digest-interval", "3s")
	for _, c := range [][]string{
		{"s3", "mb", "s3://vl-logs"},
		{"cloudtrail", "create-trail", "--name", "vl-trail", "--s3-bucket-name", "vl-logs", "--s3-key-prefix", "audit", "--enable-log-file-validation"},
		{"cloudtrail", "start-logging", "--name", "vl-trail"},
	} {
		if out, errs, code := s.awsCLI(t, "test", "eu-west-1", c...); code != 0 {
			t.Fatalf("aws %s: %d %s %s", strings.Join(c, " "), code, out, errs)
		}
	}
	begin := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	for i, tag := range []string{"vl-1", "vl-2", "vl-3"} {
		if i > 0 {
			time.Sleep(3 * time.Second)
		}
		postWorkload(t, s, tag, 200)
	}
	// At least six digests, then stop logging so that no digest appears
	// between the runs compared below.
	deadline := time.Now().Add(40 * time.Second)
	for s.digestCount(t, "vl-logs") < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("%d digests after 40 s\n%s", s.digestCount(t, "vl-logs"), s.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.waitDelivered(t, "test", "eu-west-1", "vl-trail", time.Now(), 20*time.Second)
	if out, errs, code := s.awsCLI(t, "test", "eu-west-1", "cloudtrail", "stop-logging", "--name", "vl-trail"); code != 0 {
		t.Fatalf("stop-logging: %d %s %s", code, out, errs)
	}
	// The chain's last digest ends with the period logging stopped in,
	// as the trail's status gives it (not the clock after the CLI
	// returned: on a loaded machine that can be a period later, whose
	// digest never comes). Its own minute: under a loaded CI machine the
	// wait for the six digests above may have used most of theirs.
	st, stErr, stCode := s.awsCLI(t, "test", "eu-west-1", "cloudtrail", "get-trail-status", "--name", "vl-trail")
	var status struct{ StopLoggingTime string }
	if stCode != 0 || json.Unmarshal([]byte(st), &status) != nil {
		t.Fatalf("get-trail-status: %d %s %s", stCode, st, stErr)
	}
	stopped, err := time.Parse(time.RFC3339Nano, status.StopLoggingTime)
	if err != nil {
		t.Fatalf("StopLoggingTime %q: %v", status.StopLoggingTime, err)
	}
	lastEnd := stopped.UTC().Truncate(3 * time.Second).Add(3 * time.Second).Format("20060102T150405Z")
	lastDeadline := time.Now().Add(time.Minute)
	for s.latestDigestEnd(t, "vl-logs") < lastEnd {
		if time.Now().After(lastDeadline) {
			t.Fatalf("no digest ending at %s\n%s", lastEnd, s.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(4 * time.Second) // a period longer: nothing more comes
	end := time.Now().UTC().Truncate(time.Second)

	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("OPENTRAIL_ENDPOINT", s.url)
	arn := "arn:aws:cloudtrail:eu-west-1:000000000000:trail/vl-trail"
	rangeArgs := []string{"--trail-arn", arn, "--start-time", begin.Format(time.RFC3339), "--end-time", end.Format(time.RFC3339)}
	awsRun := func(extra ...string) (stdout, stderr string, code int) {
		return s.validateLogs(t, s.url, "eu-west-1", append(append([]string{}, rangeArgs...), extra...)...)
	}
	ours := func(extra ...string) (stdout, stderr string, code int) {
		return runCLI(t, append(append([]string{"validate-logs", "--region", "eu-west-1"}, rangeArgs...), extra...)...)
	}

	// A clean trail: the same output, byte for byte.
	awsOut, awsErr, awsCode := awsRun("--verbose")
	if awsCode != 0 || awsErr != "" || !strings.Contains(awsOut, "digest files valid") || !strings.Contains(awsOut, "log files valid") {
		t.Fatalf("aws validate-logs on a clean trail: exit %d\n%s\n%s", awsCode, awsOut, awsErr)
	}
	out, errs, code := ours("--verbose")
	if code != 0 || out != awsOut || errs != awsErr {
		t.Fatalf("opentrail validate-logs on a clean trail: exit %d\nstdout:\n%s\nstderr:\n%s\nthe AWS CLI's stdout:\n%s", code, out, errs, awsOut)
	}
	t.Logf("clean trail:\n%s", lastLines(out, 3))
	verboseLines := strings.Count(awsOut, "\tvalid\n")

	// --json: one object per result, all valid, and the summary.
	out, _, code = ours("--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum struct {
		Type                  string
		Valid                 bool
		DigestFiles, LogFiles struct{ Valid, Invalid int }
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); code != 0 || err != nil || sum.Type != "summary" || !sum.Valid ||
		sum.DigestFiles.Valid+sum.LogFiles.Valid != verboseLines || len(lines) != verboseLines+1 {
		t.Errorf("--json: exit %d, %d lines for %d files, summary %+v (%v)", code, len(lines), verboseLines, sum, err)
	}
	for _, l := range lines[:len(lines)-1] {
		var r struct{ Type, Kind, Object, Status string }
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Type != "result" || r.Status != "valid" || !strings.Contains(awsOut, r.Kind+"\t"+r.Object+"\tvalid\n") {
			t.Errorf("--json result %s: %v", l, err)
		}
	}

	// A local copy, as a user makes it: aws s3 cp, the digests' metadata
	// from head-object, the keys from list-public-keys.
	pristine := t.TempDir()
	if out, errs, code := s.awsCLI(t, "test", "eu-west-1", "s3", "cp", "--recursive", "--quiet", "s3://vl-logs/", pristine); code != 0 {
		t.Fatalf("aws s3 cp: %d %s %s", code, out, errs)
	}
	digests := s.listKeys(t, "vl-logs", "audit/AWSLogs/000000000000/CloudTrail-Digest/eu-west-1/")
	logs := s.listKeys(t, "vl-logs", "audit/AWSLogs/000000000000/CloudTrail/eu-west-1/")
	if len(digests) < 6 || len(logs) < 2 {
		t.Fatalf("%d digests and %d log files", len(digests), len(logs))
	}
	for _, k := range digests {
		meta, errs, code := s.awsCLI(t, "test", "eu-west-1", "s3api", "head-object", "--bucket", "vl-logs", "--key", k)
		if code != 0 {
			t.Fatalf("head-object %s: %d %s", k, code, errs)
		}
		if err := os.WriteFile(filepath.Join(pristine, filepath.FromSlash(k))+".meta.json", []byte(meta), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keys, errs, code := s.awsCLI(t, "test", "eu-west-1", "cloudtrail", "list-public-keys",
		"--start-time", begin.Format(time.RFC3339), "--end-time", end.Add(2*time.Hour).Format(time.RFC3339))
	if code != 0 || !strings.Contains(keys, "Fingerprint") {
		t.Fatalf("list-public-keys: %d %s %s", code, keys, errs)
	}
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keysFile, []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	offline := []string{"--s3-bucket", "vl-logs", "--s3-prefix", "audit", "--keys", keysFile, "--endpoint", "http://127.0.0.1:1"}
	for name, extra := range map[string][]string{
		"trail and keys from the server": {"--dir", pristine},
		"keys from a file":               {"--dir", pristine, "--keys", keysFile},
		"offline":                        append([]string{"--dir", pristine}, offline...),
	} {
		out, errs, code := ours(append(extra, "--verbose")...)
		if code != 0 || out != awsOut || errs != "" {
			t.Errorf("--dir, %s: exit %d\nstdout:\n%s\nstderr:\n%s", name, code, out, errs)
		}
	}

	checkPlainCopy(t, s, awsOut, rangeArgs, keysFile, digests, logs)

	// Tampering, on the server and in a fresh copy of the copy.
	logKey, d1, d0 := logs[len(logs)/2], digests[len(digests)/2], digests[len(digests)/2-1]
	restore := s.snapshot(t, "vl-logs", logKey, d1, d0)
	local := func(dir, key string) string { return filepath.Join(dir, filepath.FromSlash(key)) }
	flip := func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }
	forged := strings.Repeat("ab", 256)
	url := func(k string) string { return "s3://vl-logs/" + k }
	for _, c := range []struct {
		name string
		// want: lines both CLIs print (up to the status); extra: lines
		// only opentrail prints.
		want, extra []string
		// sameStatus: opentrail's status equals the AWS CLI's (a flipped
		// bit may read as a bad gzip stream or a bad hash, depending on
		// where it lands and on the inflater).
		sameStatus bool
		server     func()
		dir        func(dir string)
	}{
		{"flipped bit in a log file", []string{"Log file\t" + url(logKey) + "\tINVALID: "}, nil, false,
			func() { s.tamper(t, "vl-logs", logKey, flip) },
			func(dir string) {
				b, _ := os.ReadFile(local(dir, logKey))
				os.WriteFile(local(dir, logKey), flip(b), 0o644)
			}},
		{"deleted digest", []string{"Digest file\t" + url(d1) + "\tINVALID: not found"},
			[]string{"Gap\t" + url(digests[len(digests)/2+1]) + "\tINVALID: chain broken between "}, true,
			func() { s.remove(t, "vl-logs", d1) },
			func(dir string) { os.Remove(local(dir, d1)); os.Remove(local(dir, d1) + ".meta.json") }},
		// The AWS CLI names only the first; opentrail knows the chain's
		// period, so it names both.
		{"two consecutive digests deleted", []string{"Digest file\t" + url(d1) + "\tINVALID: not found"},
			[]string{"Digest file\t" + url(d0) + "\tINVALID: not found\tinferred", "Gap\t" + url(digests[len(digests)/2+1]) + "\tINVALID: chain broken between "}, true,
			func() { s.remove(t, "vl-logs", d1); s.remove(t, "vl-logs", d0) },
			func(dir string) {
				for _, k := range []string{d1, d0} {
					os.Remove(local(dir, k))
					os.Remove(local(dir, k) + ".meta.json")
				}
			}},
		{"forged signature", []string{"Digest file\t" + url(d1) + "\tINVALID: signature verification failed"}, nil, true,
			func() { s.tamperMeta(t, "vl-logs", d1, func(m map[string]string) { m["signature"] = forged }) },
			func(dir string) {
				p := local(dir, d1) + ".meta.json"
				var head map[string]any
				b, _ := os.ReadFile(p)
				if err := json.Unmarshal(b, &head); err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				head["Metadata"].(map[string]any)["signature"] = forged
				b, _ = json.Marshal(head)
				os.WriteFile(p, b, 0o644)
			}},
	} {
		c.server()
		copyDir := t.TempDir()
		if err := os.CopyFS(copyDir, os.DirFS(pristine)); err != nil {
			t.Fatal(err)
		}
		c.dir(copyDir)
		awsOut, awsErr, awsCode := awsRun()
		if awsCode != 1 {
			t.Errorf("%s: the AWS CLI exits %d, want 1\n%s\n%s", c.name, awsCode, awsOut, awsErr)
		}
		for _, w := range c.want {
			if !strings.Contains(awsErr, w) {
				t.Errorf("%s: the AWS CLI does not say %q:\n%s", c.name, w, awsErr)
			}
		}
		for _, run := range []struct {
			how  string
			args []string
		}{{"S3", nil}, {"--dir", []string{"--dir", copyDir}}} {
			out, errs, code := ours(run.args...)
			if code != 1 {
				t.Errorf("%s, %s: exit %d, want 1\n%s\n%s", c.name, run.how, code, out, errs)
			}
			for _, w := range append(append([]string{}, c.want...), c.extra...) {
				if !strings.Contains(errs, w) {
					t.Errorf("%s, %s: stderr does not say %q:\n%s", c.name, run.how, w, errs)
				}
			}
			// Every problem the AWS CLI reports, opentrail reports too,
			// possibly with a detail after another TAB.
			for _, l := range strings.Split(awsErr, "\n") {
				if l == "" {
					continue
				}
				if i := strings.Index(l, "INVALID: "); !c.sameStatus && i >= 0 {
					l = l[:i+len("INVALID: ")]
				}
				if !strings.Contains("\n"+errs, "\n"+l) {
					t.Errorf("%s, %s: the AWS CLI says %q, opentrail does not:\n%s", c.name, run.how, l, errs)
				}
			}
		}
		restore()
	}
	if out, errs, code := ours("--verbose"); code != 0 || out != awsOut {
		t.Errorf("after restoring: exit %d\n%s\n%s", code, out, errs)
	}

	// Bad arguments and an unknown trail: the AWS CLI's messages and codes.
	for _, args := range [][]string{
		{"--trail-arn", "arn:aws:cloudtrail:eu-west-1:000000000000:vl", "--start-time", begin.Format(time.RFC3339)},
		{"--trail-arn", arn, "--start-time", "the day before yesterday"},
		{"--trail-arn", arn, "--start-time", end.Format(time.RFC3339), "--end-time", begin.Format(time.RFC3339)},
		{"--trail-arn", "arn:aws:cloudtrail:eu-west-1:000000000000:trail/nosuch", "--start-time", begin.Format(time.RFC3339)},
	} {
		awsOut, awsErr, awsCode := s.validateLogs(t, s.url, "eu-west-1", args...)
		out, errs, code := runCLI(t, append([]string{"validate-logs", "--region", "eu-west-1"}, args...)...)
		if awsCode != code || awsOut != out || awsErr != errs || (code != 252 && code != 255) {
			t.Errorf("validate-logs %s: exit %d %q %q; the AWS CLI: %d %q %q", strings.Join(args, " "), code, out, errs, awsCode, awsOut, awsErr)
		}
	}
}

// checkPlainCopy validates a copy of the bucket made with `aws s3 cp
// --recursive` alone, which has no object metadata. Offline, every digest
// but the newest is verified through the chain, and the newest's
// signature is reported once as not available: exit 3, nothing invalid.
// With the server at hand its signature is fetched: the AWS CLI's output,
// exit 0. Tampering with the copy is INVALID, with the right class,
// either way. awsOut is what the AWS CLI prints for the bucket with
// --verbose; digests and logs are the bucket's keys, oldest first.
func checkPlainCopy(t *testing.T, s *server, awsOut string, rangeArgs []string, keysFile string, digests, logs []string) {
	plain := t.TempDir()
	if out, errs, code := s.awsCLI(t, "test", "eu-west-1", "s3", "cp", "--recursive", "--quiet", "s3://vl-logs/", plain); code != 0 {
		t.Fatalf("aws s3 cp: %d %s %s", code, out, errs)
	}
	filepath.WalkDir(plain, func(p string, _ fs.DirEntry, _ error) error {
		if strings.HasSuffix(p, ".meta.json") {
			t.Fatalf("aws s3 cp wrote %s", p)
		}
		return nil
	})
	ours := func(env string, extra ...string) (stdout, stderr string, code int) {
		t.Setenv("OPENTRAIL_ENDPOINT", env)
		defer t.Setenv("OPENTRAIL_ENDPOINT", s.url)
		return runCLI(t, append(append([]string{"validate-logs", "--region", "eu-west-1"}, rangeArgs...), extra...)...)
	}
	url := func(k string) string { return "s3://vl-logs/" + k }
	newest := digests[len(digests)-1]
	warning := "Digest file\t" + url(newest) + "\tWARNING: signature not available in this copy\t"
	copyArgs := func(dir string) []string {
		return []string{"--dir", dir, "--s3-bucket", "vl-logs", "--s3-prefix", "audit", "--keys", keysFile}
	}
	valid := strings.Count(awsOut, "\tvalid\n")

	for _, c := range []struct{ name, env, detail string }{
		{"no server", "", "no source to fetch it from was given"},
		{"server unreachable", "http://127.0.0.1:1", "could not reach http://127.0.0.1:1"},
	} {
		out, errs, code := ours(c.env, append(copyArgs(plain), "--verbose")...)
		if code != 3 || !strings.HasPrefix(errs, warning) || strings.Count(errs, "WARNING") != 1 || !strings.Contains(errs, c.detail) ||
			strings.Contains(out+errs, "INVALID") || strings.Count(out, "\tvalid\n") != valid-1 ||
			!strings.Contains(out, " digest files valid, 1/") || !strings.Contains(out, "\nWARNING: the signature of 1 digest file is not available in this copy") {
			t.Errorf("plain copy, %s: exit %d, want 3 and one %q\nstdout:\n%s\nstderr:\n%s", c.name, code, warning, out, errs)
		}
	}
	for _, c := range []struct {
		name  string
		extra []string
	}{
		{"trail and keys from the server", []string{"--dir", plain}},
		{"keys from a file, bucket named", copyArgs(plain)},
	} {
		out, errs, code := ours(s.url, append(c.extra, "--verbose")...)
		if code != 0 || out != awsOut || errs != "" {
			t.Errorf("plain copy, %s: exit %d, want 0 and the AWS CLI's output\nstdout:\n%s\nstderr:\n%s", c.name, code, out, errs)
		}
	}

	logKey, d1 := logs[len(logs)/2], digests[len(digests)/2]
	for _, c := range []struct {
		name, want string
		do         func(dir string)
	}{
		{"changed log file", "Log file\t" + url(logKey) + "\tINVALID: hash value doesn't match", func(dir string) {
			os.WriteFile(filepath.Join(dir, filepath.FromSlash(logKey)), gzipBytes([]byte(`{"Records":[]}`)), 0o644)
		}},
		{"deleted log file", "Log file\t" + url(logKey) + "\tINVALID: not found", func(dir string) {
			os.Remove(filepath.Join(dir, filepath.FromSlash(logKey)))
		}},
		{"changed digest", "Digest file\t" + url(d1) + "\tINVALID: signature verification failed", func(dir string) {
			p := filepath.Join(dir, filepath.FromSlash(d1))
			b, _ := os.ReadFile(p)
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := io.ReadAll(zr)
			changed := bytes.Replace(plain, []byte(`"awsAccountId":"000000000000"`), []byte(`"awsAccountId":"000000000001"`), 1)
			if bytes.Equal(changed, plain) {
				t.Fatalf("%s: no awsAccountId to change:\n%s", d1, plain)
			}
			os.WriteFile(p, gzipBytes(changed), 0o644)
		}},
		{"deleted digest", "Digest file\t" + url(d1) + "\tINVALID: not found", func(dir string) {
			os.Remove(filepath.Join(dir, filepath.FromSlash(d1)))
		}},
	} {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(plain)); err != nil {
			t.Fatal(err)
		}
		c.do(dir)
		for _, env := range []string{"", s.url} {
			_, errs, code := ours(env, copyArgs(dir)...)
			if code != 1 || !strings.Contains(errs, c.want) {
				t.Errorf("plain copy, %s, OPENTRAIL_ENDPOINT=%q: exit %d, want 1 and %q\n%s", c.name, env, code, c.want, errs)
			}
		}
	}
}
