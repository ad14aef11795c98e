package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestParseInterspersed checks that flags parse wherever they stand among
// the positional arguments, that a flag taking a value takes the next
// argument and a boolean flag none, and that "--" ends the flags.
func TestParseInterspersed(t *testing.T) {
	for _, c := range []struct {
		args  []string
		data  string
		quiet bool
		n     int
		pos   []string
	}{
		{args: []string{"./logs", "--data", "X"}, data: "X", pos: []string{"./logs"}},
		{args: []string{"--data", "X", "./logs"}, data: "X", pos: []string{"./logs"}},
		{args: []string{"a", "--quiet", "b"}, quiet: true, pos: []string{"a", "b"}},
		{args: []string{"--quiet", "a", "b"}, quiet: true, pos: []string{"a", "b"}},
		{args: []string{"a", "-data=X", "b", "-n", "3"}, data: "X", n: 3, pos: []string{"a", "b"}},
		{args: []string{"a", "--quiet=false", "--n=2", "-n", "4"}, n: 4, pos: []string{"a"}},
		{args: []string{"a", "--", "--data", "X"}, pos: []string{"a", "--data", "X"}},
		{args: []string{"--", "-"}, pos: []string{"-"}},
		{args: []string{"-", "--data", "X"}, data: "X", pos: []string{"-"}},
		// As the flag package does: a value flag takes the next argument,
		// even one that looks like a flag.
		{args: []string{"--data", "--quiet", "a"}, data: "--quiet", pos: []string{"a"}},
		{args: []string{"--data", "--", "a"}, data: "--", pos: []string{"a"}},
		{args: nil, pos: []string{}},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		data := fs.String("data", "", "")
		quiet := fs.Bool("quiet", false, "")
		n := fs.Int("n", 0, "")
		if err := parse(fs, c.args); err != nil {
			t.Errorf("parse %q: %v", c.args, err)
			continue
		}
		if *data != c.data || *quiet != c.quiet || *n != c.n || !slices.Equal(fs.Args(), c.pos) {
			t.Errorf("parse %q: data %q quiet %v n %d args %q; want %q %v %d %q", c.args, *data, *quiet, *n, fs.Args(), c.data, c.quiet, c.n, c.pos)
		}
	}
	for _, args := range [][]string{{"a", "--data"}, {"a", "--nope"}, {"a", "--n", "x"}, {"a", "---data", "X"}} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("data", "", "")
		fs.Int("n", 0, "")
		if err := parse(fs, args); !errors.Is(err, errUsage) {
			t.Errorf("parse %q: %v, want a usage error", args, err)
		}
	}
}

func TestSubcommand(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("region", "", "")
	fs.Bool("json", false, "")
	for _, c := range []struct {
		args, rest []string
		sub        string
	}{
		{[]string{"show", "main", "--json"}, []string{"main", "--json"}, "show"},
		{[]string{"--region", "eu-west-1", "show", "main"}, []string{"--region", "eu-west-1", "main"}, "show"},
		{[]string{"--json", "list"}, []string{"--json"}, "list"},
		{[]string{"--region", "show"}, []string{"--region", "show"}, ""},
		{nil, nil, ""},
	} {
		args := slices.Clone(c.args)
		sub, rest := subcommand(fs, args)
		if sub != c.sub || !slices.Equal(rest, c.rest) || !slices.Equal(args, c.args) {
			t.Errorf("subcommand(%q) = %q %q (args now %q); want %q %q", c.args, sub, rest, args, c.sub, c.rest)
		}
	}
}

// recorder is a stand-in server that records the requests it gets and
// answers each with answer.
type recorder struct {
	mu     sync.Mutex
	paths  []string
	answer string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.paths = append(r.paths, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	io.Copy(io.Discard, req.Body)
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, r.answer)
}

func runMain(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader("")})
	return out.String(), errb.String(), code
}

// TestFlagsAfterArguments runs subcommands with their flags after their
// positional arguments, as users type them.
func TestFlagsAfterArguments(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("OPENTRAIL_ENDPOINT", "http://127.0.0.1:1") // nothing listens: a flag that was not parsed fails the test
	dir := t.TempDir()
	rec := func(id string) string {
		return fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},"eventTime":"2026-03-01T12:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.1","userAgent":"aws-cli","eventID":"%s","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`, id)
	}
	logs := filepath.Join(dir, "logs")
	file := filepath.Join(logs, "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/01/111122223333_CloudTrail_us-east-1_20260301T1200Z_a.json")
	os.MkdirAll(filepath.Dir(file), 0o755)
	if err := os.WriteFile(file, []byte(`{"Records":[`+rec("flags-1")+","+rec("flags-2")+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	// import SOURCE --data DIR: into a store directory, no server.
	store := filepath.Join(dir, "data")
	out, errs, code := runMain(t, "import", logs, "--data", store, "--quiet", "--state", filepath.Join(dir, "state.json"))
	if code != 0 || !strings.Contains(out, "2 new") {
		t.Fatalf("import SOURCE --data DIR: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(store, "events.duckdb")); err != nil {
		t.Fatalf("import SOURCE --data DIR wrote no store: %v", err)
	}

	srv := &recorder{answer: `{"accepted":2,"duplicates":0}`}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	// send FILE --endpoint URL
	out, errs, code = runMain(t, "send", file, "--endpoint", ts.URL)
	if code != 0 || !strings.Contains(out, "accepted 2, duplicates 0") {
		t.Fatalf("send FILE --endpoint URL: exit %d\n%s%s", code, out, errs)
	}

	// keys --endpoint URL rotate: the subcommand after the flags.
	srv.answer = `{"key":{"Region":"us-east-1","Fingerprint":"ab","ValidFrom":"2026-01-01T00:00:00Z","ValidTo":"2026-02-01T00:00:00Z"}}`
	out, errs, code = runMain(t, "keys", "--endpoint", ts.URL, "rotate")
	if code != 0 || !strings.Contains(out, "ab") {
		t.Fatalf("keys --endpoint URL rotate: exit %d\n%s%s", code, out, errs)
	}
	srv.answer = `{"keys":[]}`
	_, errs, code = runMain(t, "keys", "list", "--endpoint", ts.URL, "--json")
	if code != 0 {
		t.Fatalf("keys list --endpoint URL --json: exit %d\n%s", code, errs)
	}
	if _, errs, code = runMain(t, "keys", "remove", "--endpoint", ts.URL); code != 1 || !strings.Contains(errs, `unexpected argument "remove"`) {
		t.Fatalf("keys remove: exit %d %q", code, errs)
	}
	srv.mu.Lock()
	want := []string{"POST /v1/events", "POST /v1/keys/rotate", "GET /v1/keys"}
	if !slices.Equal(srv.paths, want) {
		t.Errorf("requests %q, want %q", srv.paths, want)
	}
	srv.mu.Unlock()

	// An unknown flag after an argument is refused as a usage error.
	if _, errs, code = runMain(t, "send", file, "--no-such-flag"); code != 2 || !strings.Contains(errs, "no-such-flag") {
		t.Fatalf("send FILE --no-such-flag: exit %d %q", code, errs)
	}
}

// TestHelpPlaceholders: every flag in every subcommand's -h shows one word
// for its value, as "-dir DIR". The flag package takes text in backquotes
// in a usage string as the value's name, so "(as `aws s3 cp --recursive
// s3://BUCKET DIR` makes it)" showed as "-dir aws s3 cp --recursive ...".
func TestHelpPlaceholders(t *testing.T) {
	flagLine := regexp.MustCompile(`^  -[a-z0-9-]+( \S+)?$`)
	for _, c := range commands(&Env{}) {
		_, errs, _ := runMain(t, c.Name(), "-h")
		if !strings.Contains(errs, "Usage: opentrail "+c.Name()) {
			t.Errorf("%s -h: no usage\n%s", c.Name(), errs)
			continue
		}
		for _, line := range strings.Split(errs, "\n") {
			if strings.HasPrefix(line, "  -") && !flagLine.MatchString(line) {
				t.Errorf("%s -h: %q: the flag's value is shown as more than one word", c.Name(), line)
			}
		}
	}
}

// TestStrayArguments: a subcommand that takes no positional arguments
// refuses one, saying where its value goes, before it does anything:
// "serve ./data" served ./opentrail-data, and "demo 500" sent 20,000
// events.
func TestStrayArguments(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	srv := &recorder{answer: `{"accepted":1,"duplicates":0}`}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := t.TempDir()
	t.Chdir(dir)
	for _, c := range []struct {
		args []string
		want string
	}{
		// (--log-level bogus: were the argument taken, serve would stop
		// there rather than serve.)
		{[]string{"serve", "mydata", "--addr", "127.0.0.1:0", "--log-level", "bogus"}, `unexpected argument "mydata"; serve takes flags only: the data directory goes in --data DIR`},
		{[]string{"demo", "500", "--endpoint", ts.URL}, `unexpected argument "500"; demo takes flags only: how many events goes in --events N`},
		{[]string{"keys", "list", "extra", "--endpoint", ts.URL}, `unexpected argument "extra" after list`},
	} {
		_, errs, code := runMain(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want it to hold %q", c.args, code, errs, c.want)
		}
	}
	if srv.paths != nil {
		t.Errorf("requests made: %q", srv.paths)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("serve with a stray argument made %s", entries[0].Name())
	}
}
