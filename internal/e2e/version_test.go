package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionOfBuiltBinary builds the opentrail command as users do (go
// build, with VCS stamping asked for) and checks that `opentrail
// --version` and `opentrail version` report what the Go toolchain
// recorded in the binary: the module version and, in a git clone (as CI's
// is), the commit, its time and whether the tree was modified.
func TestVersionOfBuiltBinary(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "opentrail")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/opentrail")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// What the toolchain recorded, read back by the toolchain.
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	info := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(strings.TrimSpace(line), "\t")
		switch {
		case len(f) >= 3 && f[0] == "mod":
			info["version"] = f[2]
		case len(f) == 2 && f[0] == "build":
			if k, v, ok := strings.Cut(f[1], "="); ok {
				info[k] = v
			}
		}
	}
	if info["version"] == "" {
		t.Fatalf("go version -m shows no module version:\n%s", out)
	}
	if fi, err := os.Stat(filepath.Join(root, ".git")); err == nil && fi.IsDir() {
		// A git clone: go build stamps the commit.
		head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
		if err != nil {
			t.Fatalf("git rev-parse HEAD: %v", err)
		}
		if info["vcs.revision"] != strings.TrimSpace(string(head)) {
			t.Fatalf("go build recorded revision %q in a git clone at %s", info["vcs.revision"], head)
		}
	}
	want := "opentrail " + info["version"]
	if rev := info["vcs.revision"]; rev != "" {
		want += ", revision " + rev + " (" + info["vcs.time"]
		if info["vcs.modified"] == "true" {
			want += ", modified"
		}
		want += ")"
	}
	want += ", built with go"
	var lines []string
	for _, arg := range []string{"--version", "version"} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, arg)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("opentrail %s: %v\n%s", arg, err, stderr.String())
		}
		if !strings.HasPrefix(stdout.String(), want) {
			t.Errorf("opentrail %s printed %q, want it to start %q", arg, stdout.String(), want)
		}
		lines = append(lines, stdout.String())
	}
	if lines[0] != lines[1] {
		t.Errorf("--version and version differ: %q", lines)
	}
}
