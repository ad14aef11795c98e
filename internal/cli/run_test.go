package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPostRunPostsAndSaysItIsWaiting(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	defer func(d time.Duration) { runWaitEvery = d }(runWaitEvery)
	runWaitEvery = 10 * time.Millisecond

	var got map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/test/runs" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		time.Sleep(100 * time.Millisecond) // a run that takes a while
		w.Write([]byte(`{"Read":3}`))
	}))
	defer srv.Close()

	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader("")}
	cf := &clientFlags{endpoint: srv.URL}
	out, err := postRun(context.Background(), env, cf, "/v1/test/runs", map[string]string{"Since": "2024-01-01T00:00:00Z"}, "test: reading since 2024-01-01T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"Read":3}` {
		t.Errorf("answer %s", out)
	}
	if got["Since"] != "2024-01-01T00:00:00Z" {
		t.Errorf("server got %v", got)
	}
	if !strings.HasPrefix(stderr.String(), "test: reading since 2024-01-01T00:00:00Z … ") {
		t.Errorf("stderr while waiting: %q", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout: %q", stdout.String())
	}
}

func TestRunFlags(t *testing.T) {
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Stdin: strings.NewReader("")}
	var rf runFlags
	fs := newFlagSet(env, "detect", "")
	rf.register(fs, "since", "until")
	if err := rf.parse(fs, []string{"--since", "2024-01-01", "--json", "--until", "2024-02-01", "--endpoint", "http://x"}); err != nil {
		t.Fatal(err)
	}
	if rf.since != "2024-01-01" || rf.until != "2024-02-01" || !rf.asJSON || rf.cf.endpoint != "http://x" {
		t.Errorf("parsed %+v", rf)
	}

	rf = runFlags{}
	fs = newFlagSet(env, "insights", "")
	rf.register(fs, "since", "until")
	err := rf.parse(fs, []string{"--since", "2024-01-01", "extra"})
	if err == nil || err.Error() != `unexpected argument "extra"; insights takes flags only` {
		t.Errorf("positional argument: %v", err)
	}
}
