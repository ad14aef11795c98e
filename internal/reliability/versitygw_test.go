package reliability

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/testserver"
)

// versitygw is a real S3-compatible server (Versity's S3 gateway) that a
// test stops and starts again on the same port and directory. Its
// credentials are test/test, the same as the server's local mode, so one
// set of credentials serves the AWS CLI for both.
type versitygw struct {
	t         testing.TB
	bin, dir  string
	addr, url string
	cmd       *exec.Cmd
	exited    chan struct{}
}

// startVersitygw runs versitygw on a free port; scripts/test builds it and
// sets OPENTRAIL_TEST_VERSITYGW.
func startVersitygw(t testing.TB) *versitygw {
	t.Helper()
	bin := os.Getenv("OPENTRAIL_TEST_VERSITYGW")
	if bin == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			bin = filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
		}
	}
	if _, err := os.Stat(bin); bin == "" || err != nil {
		t.Fatal("versitygw is not built; scripts/test builds it (go install github.com/versity/versitygw/cmd/versitygw) and sets OPENTRAIL_TEST_VERSITYGW")
	}
	addr := testserver.FreeAddr(t)
	v := &versitygw{t: t, bin: bin, dir: t.TempDir(), addr: addr, url: "http://" + addr}
	v.start()
	t.Cleanup(v.stop)
	return v
}

func (v *versitygw) start() {
	v.t.Helper()
	v.cmd = exec.Command(v.bin, "--port", v.addr, "--access", "test", "--secret", "test", "--quiet", "posix", v.dir)
	if err := v.cmd.Start(); err != nil {
		v.t.Fatal(err)
	}
	exited := make(chan struct{})
	v.exited = exited
	cmd := v.cmd
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", v.addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("versitygw did not listen on %s", v.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills versitygw (an outage, as abrupt as they come).
func (v *versitygw) stop() {
	if v.cmd == nil {
		return
	}
	v.cmd.Process.Kill()
	<-v.exited
	v.cmd = nil
}
