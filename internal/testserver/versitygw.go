package testserver

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Versitygw is a real S3-compatible server (Versity's S3 gateway, posix
// backend) that a test can stop and start again on the same port and
// directory: an object store outage.
type Versitygw struct {
	URL, Addr, Dir string
	Access, Secret string
	// Extra flags for the next Start, e.g. --event-webhook-url.
	Extra []string

	t      testing.TB
	bin    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// VersitygwBinary returns the versitygw command: $OPENTRAIL_TEST_VERSITYGW
// (scripts/test builds it and sets it), else GOPATH/bin/versitygw, else "".
func VersitygwBinary() string {
	if b := os.Getenv("OPENTRAIL_TEST_VERSITYGW"); b != "" {
		return b
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		b := filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
		if _, err := os.Stat(b); err == nil {
			return b
		}
	}
	return ""
}

// StartVersitygw runs versitygw with the given credentials on a free
// loopback port in a new directory, and kills it when the test ends. It
// fails the test when versitygw is not built.
func StartVersitygw(t testing.TB, access, secret string) *Versitygw {
	t.Helper()
	bin := VersitygwBinary()
	if bin == "" {
		t.Fatal("versitygw is not built; scripts/test builds it (go install github.com/versity/versitygw/cmd/versitygw) and sets OPENTRAIL_TEST_VERSITYGW")
	}
	addr := FreeAddr(t)
	v := &Versitygw{t: t, bin: bin, Dir: t.TempDir(), Addr: addr, URL: "http://" + addr, Access: access, Secret: secret}
	v.Start()
	t.Cleanup(v.Stop)
	return v
}

// Start runs versitygw and waits until it listens.
func (v *Versitygw) Start() {
	v.t.Helper()
	args := append([]string{"--port", v.Addr, "--access", v.Access, "--secret", v.Secret, "--quiet"}, v.Extra...)
	cmd := exec.Command(v.bin, append(args, "posix", v.Dir)...)
	if err := cmd.Start(); err != nil {
		v.t.Fatal(err)
	}
	exited := make(chan struct{})
	v.cmd, v.exited = cmd, exited
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", v.Addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("versitygw did not listen on %s", v.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills versitygw (an outage, as abrupt as they come).
func (v *Versitygw) Stop() {
	if v.cmd == nil {
		return
	}
	v.cmd.Process.Kill()
	<-v.exited
	v.cmd = nil
}
