package e2e

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDataDirectoryIsOwnerOnly: a data directory made readable by others
// (0755, a 0644 file) is owner-only once the server has started, and so is
// everything the server writes into it afterwards.
func TestDataDirectoryIsOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(dir, "buckets"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Join(dir, "buckets"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "notes.txt"), 0o644)

	s := startServer(t, dir, "--delivery-interval", "1s")
	s.mustCLI(t, "us-east-1", "s3", "mb", "s3://perm-bucket")
	s.mustCLI(t, "us-east-1", "cloudtrail", "create-trail", "--name", "perm-trail", "--s3-bucket-name", "perm-bucket")
	s.mustCLI(t, "us-east-1", "cloudtrail", "start-logging", "--name", "perm-trail")
	s.postEvents(t, "test", [][]byte{record(recOpts{id: uuid("perm", 1)})})
	// The trail delivers a log file into the built-in bucket.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.mustCLI(t, "us-east-1", "s3", "ls", "--recursive", "s3://perm-bucket"), ".json.gz") {
		if time.Now().After(deadline) {
			t.Fatal("no log file delivered within 20 s")
		}
		time.Sleep(300 * time.Millisecond)
	}
	s.stop()
	if !strings.Contains(s.output(), "made the data directory owner-only") {
		t.Errorf("the server did not say it tightened the data directory:\n%s", s.output())
	}
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, err := d.Info()
		if err != nil {
			t.Fatal(err)
		}
		n++
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v, want owner-only", p, info.Mode().Perm())
		}
		return nil
	})
	if n < 5 {
		t.Errorf("only %d entries in the data directory; the test expected the store's files", n)
	}
}

// TestServeWaitsForHeldStore: a second serve on a data directory another
// server holds waits a few seconds, then fails naming the holder.
func TestServeWaitsForHeldStore(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	cmd := exec.Command(os.Args[0], "serve", "--addr", freeAddr(t), "--data", dir)
	cmd.Env = append(os.Environ(), "OPENTRAIL_E2E_AS_COMMAND=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	waited := time.Since(start)
	if err == nil {
		t.Fatalf("a second serve on a held store started:\n%s", stderr.String())
	}
	if waited < 5*time.Second {
		t.Errorf("second serve gave up after %s, want it to wait 5s", waited)
	}
	want := fmt.Sprintf("in use by process %d (", s.cmd.Process.Pid)
	if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "serve --addr "+s.addr) {
		t.Errorf("error does not name the holder (%q and its command line):\n%s", want, stderr.String())
	}

	// A holder that goes away within the wait lets the next server in.
	s.kill()
	s2 := startServer(t, dir)
	s2.stop()
}
