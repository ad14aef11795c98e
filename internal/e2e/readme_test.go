package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/testserver"
)

// The README's tour is run as a reader would run it. The rules:
//
//   - The steps are the lines of the ```sh blocks of README.md's section
//     "## A quick tour", in order; a line ending in a backslash continues
//     on the next. A comment line directly under a command shows (part of)
//     what it prints: some line of its standard output must match the
//     comment's text up to the first run of two spaces, with "…" standing
//     for any text. Other comment lines and blank lines are not steps.
//   - `go run ./cmd/opentrail` is the opentrail command (this test binary;
//     no other `go` command may appear), and `aws` the AWS CLI in /usr/bin.
//   - The tour runs in a new directory that holds links to the
//     repository's top-level files and directories (not those .gitignore
//     lists at the top, such as opentrail-data), so that paths such as
//     examples/… resolve, and whatever the tour writes stays there; HOME
//     is a new directory too, and no AWS_ variable is set but those the
//     tour exports.
//   - A `serve` command starts a server in the background, as in a
//     terminal of its own; the next step runs once it answers /healthz.
//     The servers are stopped with SIGTERM at the end and must exit 0.
//   - The address 127.0.0.1:4747 is replaced by a free loopback port (the
//     server gets --addr, the opentrail commands OPENTRAIL_ENDPOINT), so
//     that the test runs beside other tests; so are 127.0.0.1:4748, the
//     address of a notification receiver, 127.0.0.1:7070, an S3-compatible
//     server's, and 127.0.0.1:4749, the capture gateway's. versitygw is in
//     $HOME/go/bin, as scripts/test leaves it.
//   - A command ending in "&" runs in the background, as in a terminal of
//     its own; the next step runs once every one of those addresses it
//     names accepts connections. It is stopped with SIGTERM at the end;
//     how it exits is not checked.
//   - An `export` step sets variables for the steps after it; every other
//     step runs in `bash -o pipefail -c` and must exit 0 within 3 minutes.

// tourStep is one command of the README's tour.
type tourStep struct {
	line   int      // its first line in README.md
	text   string   // the command as written, continuation lines included
	output []string // what the comment lines under it say it prints
}

// tourSteps extracts the steps of the section "## A quick tour" of readme.
func tourSteps(readme string) ([]tourStep, error) {
	const heading = "## A quick tour"
	var (
		steps             []tourStep
		inSection, inSh   bool
		pending           string // a command continued on the next line
		pendingLine       int
		lastWasCommand    bool
		sawSection, sawSh bool
	)
	sc := bufio.NewScanner(strings.NewReader(readme))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			inSection = strings.TrimSpace(line) == heading
			sawSection = sawSection || inSection
			continue
		case !inSection:
			continue
		case strings.HasPrefix(line, "```"):
			if inSh && pending != "" {
				return nil, fmt.Errorf("README.md:%d: a code block ends inside a continued command", n)
			}
			inSh = !inSh && strings.TrimSpace(line) == "```sh"
			sawSh = sawSh || inSh
			lastWasCommand = false
			continue
		case !inSh:
			continue
		}
		trimmed := strings.TrimSpace(line)
		if pending == "" {
			switch {
			case trimmed == "":
				lastWasCommand = false
				continue
			case strings.HasPrefix(trimmed, "#"):
				if lastWasCommand {
					text := strings.TrimSpace(strings.TrimPrefix(trimmed, "#"))
					if i := strings.Index(text, "  "); i >= 0 {
						text = text[:i]
					}
					s := &steps[len(steps)-1]
					s.output = append(s.output, text)
				}
				continue
			}
			pendingLine = n
		}
		pending += line
		if strings.HasSuffix(line, `\`) {
			pending += "\n"
			continue
		}
		steps = append(steps, tourStep{line: pendingLine, text: pending})
		pending, lastWasCommand = "", true
	}
	switch {
	case !sawSection:
		return nil, fmt.Errorf("README.md has no section %q", heading)
	case !sawSh:
		return nil, fmt.Errorf("README.md's section %q has no ```sh block", heading)
	case pending != "":
		return nil, fmt.Errorf("README.md:%d: the command never ends", pendingLine)
	}
	return steps, nil
}

// outputPattern turns an output comment into a regular expression for a
// whole line, "…" matching any text.
func outputPattern(text string) *regexp.Regexp {
	parts := strings.Split(text, "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

func TestTourSteps(t *testing.T) {
	readme := "# x\n\n## Start here\n\n```sh\nnot a step\n```\n\n## A quick tour\n\nText.\n\n```sh\n" +
		"go run ./cmd/opentrail serve --demo   # a comment\n" +
		"# accepted 1, duplicates 0       (a remark)\n" +
		"# second … line\n" +
		"\n" +
		"# a note, not output\n" +
		"curl -s \\\n     -d '{}' \\\n     http://127.0.0.1:4747/\n" +
		"# {\"Events\":…\n" +
		"```\n\n```json\n{\"not\":\"a step\"}\n```\n\n## What is here\n\n```sh\nnot a step either\n```\n"
	steps, err := tourSteps(readme)
	if err != nil {
		t.Fatal(err)
	}
	want := []tourStep{
		{line: 14, text: "go run ./cmd/opentrail serve --demo   # a comment", output: []string{"accepted 1, duplicates 0", "second … line"}},
		{line: 19, text: "curl -s \\\n     -d '{}' \\\n     http://127.0.0.1:4747/", output: []string{`{"Events":…`}},
	}
	if !reflect.DeepEqual(steps, want) {
		t.Fatalf("steps\n got %#v\nwant %#v", steps, want)
	}
	if p := outputPattern(`{"Events":…`); !p.MatchString(`{"Events":[{"EventId":"x"}]}`) || p.MatchString(` {"Events":[]}`) {
		t.Errorf("pattern %s", p)
	}
	if p := outputPattern("… AWSLogs/0/CloudTrail/us-east-1/….json.gz"); !p.MatchString("2026-12-04 21:03:40     149660 AWSLogs/0/CloudTrail/us-east-1/x.json.gz") ||
		p.MatchString("AWSLogs/0/CloudTrail/us-east-1/x.json.gz") {
		t.Errorf("pattern %s", p)
	}
	for _, bad := range []string{"## Start here\n", "## A quick tour\n\nno code\n", "## A quick tour\n```sh\ncurl \\\n```\n"} {
		if _, err := tourSteps(bad); err == nil {
			t.Errorf("tourSteps(%q) found no fault", bad)
		}
	}
}

// TestReadmeTour runs the README's tour, every command as written and in
// order (see the rules above), so that a README that no longer works
// fails here.
func TestReadmeTour(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := tourSteps(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/usr/bin/aws"); err != nil {
		t.Fatal("the AWS CLI is not installed at /usr/bin/aws; scripts/test installs it (apt-get install awscli)")
	}

	// The opentrail command, the tour's directory and its environment.
	tmp := t.TempDir()
	binDir, dir, home := filepath.Join(tmp, "bin"), filepath.Join(tmp, "tour"), filepath.Join(tmp, "home")
	for _, d := range []string{binDir, dir, home} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opentrail := filepath.Join(binDir, "opentrail")
	wrapper := fmt.Sprintf("#!/bin/sh\nOPENTRAIL_E2E_AS_COMMAND=1 exec '%s' \"$@\"\n", os.Args[0])
	if err := os.WriteFile(opentrail, []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	linkRepository(t, root, dir)
	addr, recvAddr := freeAddr(t), freeAddr(t)
	// The capture gateway's part: an S3-compatible server (versitygw, found
	// in $HOME/go/bin as scripts/test leaves it for a user whose GOPATH is
	// the default) and the gateway in front of it.
	s3Addr, gatewayAddr := freeAddr(t), freeAddr(t)
	vgw, err := exec.LookPath(testserver.VersitygwBinary())
	if err != nil {
		t.Fatalf("versitygw, which the tour runs behind the capture gateway, is not installed (scripts/test builds it): %v", err)
	}
	if err := os.MkdirAll(filepath.Join(home, "go", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(vgw, filepath.Join(home, "go", "bin", "versitygw")); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + binDir + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + home,
		"LANG=C.UTF-8",
		"TMPDIR=" + os.TempDir(),
		"OPENTRAIL_ENDPOINT=http://" + addr,
	}

	var servers, helpers []*tourServer
	defer func() {
		for _, s := range append(servers, helpers...) {
			s.cmd.Process.Kill()
			<-s.exited
		}
	}()
	for _, step := range steps {
		where := fmt.Sprintf("README.md:%d: %s", step.line, strings.ReplaceAll(step.text, "\\\n", ""))
		cmd := strings.ReplaceAll(step.text, "go run ./cmd/opentrail", opentrail)
		cmd = strings.ReplaceAll(cmd, "127.0.0.1:4747", addr)
		cmd = strings.ReplaceAll(cmd, "127.0.0.1:4748", recvAddr)
		cmd = strings.ReplaceAll(cmd, "127.0.0.1:7070", s3Addr)
		cmd = strings.ReplaceAll(cmd, "127.0.0.1:4749", gatewayAddr)
		fields := strings.Fields(cmd)
		if slices.Contains(fields, "go") {
			t.Fatalf("%s\nthe tour may run Go only as `go run ./cmd/opentrail`", where)
		}
		t.Log(where)
		switch {
		case fields[0] == opentrail && len(fields) > 1 && fields[1] == "serve":
			if len(step.output) > 0 {
				t.Fatalf("%s\na server's output is not checked; put the comment under another command", where)
			}
			servers = append(servers, startTourServer(t, where, "exec "+cmd+" --addr "+addr, dir, env, addr))
		case strings.HasSuffix(strings.TrimSpace(cmd), "&"):
			if len(step.output) > 0 {
				t.Fatalf("%s\na background command's output is not checked; put the comment under another command", where)
			}
			var wait []string
			for _, a := range []string{recvAddr, s3Addr, gatewayAddr} {
				if strings.Contains(cmd, a) {
					wait = append(wait, a)
				}
			}
			helpers = append(helpers, startTourHelper(t, where, strings.TrimSuffix(strings.TrimSpace(cmd), "&"), dir, env, wait...))
		case fields[0] == "export":
			// Run it, then take the environment it leaves.
			out := runTourStep(t, where, cmd+"\nenv -0", dir, env)
			env = nil
			for _, kv := range strings.Split(strings.TrimSuffix(out, "\x00"), "\x00") {
				if k, _, _ := strings.Cut(kv, "="); k != "PWD" && k != "SHLVL" && k != "_" && k != "OLDPWD" {
					env = append(env, kv)
				}
			}
		default:
			out := runTourStep(t, where, cmd, dir, env)
			lines := strings.Split(out, "\n")
			for _, want := range step.output {
				p := outputPattern(want)
				if !slices.ContainsFunc(lines, func(l string) bool { return p.MatchString(strings.TrimRight(l, "\r ")) }) {
					t.Fatalf("%s\nprinted no line like %q (the comment under it):\n%s", where, want, out)
				}
			}
		}
	}
	if len(servers) == 0 {
		t.Fatal("the tour starts no server (go run ./cmd/opentrail serve)")
	}
	for _, h := range helpers {
		h.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, s := range servers {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
			if s.err != nil {
				t.Errorf("a tour server exited after SIGTERM: %v\n%s", s.err, s.stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("a tour server did not stop within 30 s of SIGTERM")
		}
	}
}

// runTourStep runs one step with bash in dir and returns its standard
// output; the test fails if it does not exit 0 within 3 minutes.
func runTourStep(t *testing.T, where, cmd, dir string, env []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", cmd)
	c.Dir, c.Env = dir, env
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	start := time.Now()
	err := c.Run()
	if err != nil {
		t.Fatalf("%s\nfailed after %v: %v\nstdout:\n%s\nstderr:\n%s", where, time.Since(start).Round(time.Millisecond), err, stdout.String(), stderr.String())
	}
	if !strings.HasSuffix(cmd, "env -0") {
		t.Logf("  %v, %d bytes of output%s", time.Since(start).Round(time.Millisecond), stdout.Len(), firstLines(stdout.String(), 3))
	}
	return stdout.String()
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	for i, l := range lines {
		if len(l) > 150 {
			lines[i] = l[:150] + "…"
		}
	}
	if len(lines) == 0 || lines[0] == "" {
		return ""
	}
	return ":\n    " + strings.Join(lines, "\n    ")
}

// tourServer is a server a serve step started.
type tourServer struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	exited chan struct{} // closed when it has exited, err then set
	err    error
}

// startTourServer starts a serve step in the background and waits until
// it answers /healthz.
func startTourServer(t *testing.T, where, cmd, dir string, env []string, addr string) *tourServer {
	t.Helper()
	s := &tourServer{cmd: exec.Command("bash", "-c", cmd), stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	s.cmd.Dir, s.cmd.Env = dir, env
	s.cmd.Stderr = &lockedWriter{w: s.stderr}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.exited:
			t.Fatalf("%s\nthe server exited at start-up: %v\n%s", where, s.err, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			t.Fatalf("%s\nthe server did not answer /healthz within 60 s:\n%s", where, s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startTourHelper starts a background step (a command ending in "&") and
// waits until each of addrs accepts connections.
func startTourHelper(t *testing.T, where, cmd, dir string, env []string, addrs ...string) *tourServer {
	t.Helper()
	s := &tourServer{cmd: exec.Command("bash", "-c", "exec "+cmd), stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	s.cmd.Dir, s.cmd.Env = dir, env
	s.cmd.Stderr = &lockedWriter{w: s.stderr}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for _, addr := range addrs {
		for {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				break
			}
			select {
			case <-s.exited:
				t.Fatalf("%s\nthe command exited: %v\n%s", where, s.err, s.stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s\n%s accepted no connection within 30 s:\n%s", where, addr, s.stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return s
}

// linkRepository links the top-level entries of the repository at root
// into dir, except .git and those the top-level .gitignore names with a
// leading slash (a data directory or binary left from running the tour by
// hand).
func linkRepository(t *testing.T, root, dir string) {
	t.Helper()
	ignored := map[string]bool{".git": true}
	if gi, err := os.ReadFile(filepath.Join(root, ".gitignore")); err == nil {
		for _, l := range strings.Split(string(gi), "\n") {
			if name, ok := strings.CutPrefix(strings.TrimSpace(l), "/"); ok {
				ignored[strings.TrimSuffix(name, "/")] = true
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if ignored[e.Name()] {
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
}
