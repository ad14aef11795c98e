package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/importer"
)

func TestProgressLine(t *testing.T) {
	s := importer.Snapshot{FilesListed: 40, BytesListed: 4000, FilesDone: 10, BytesDone: 1000,
		Events: 25000, Added: 20000, ListingDone: true}
	got := progressLine(s, 10*time.Second, false)
	want := "files 10/40  events 25000 (20000 new)  2500 events/s  ETA 30s"
	if got != want {
		t.Errorf("log line:\n got %q\nwant %q", got, want)
	}
	if got := progressLine(s, 10*time.Second, true); got != "[#####...............] "+want {
		t.Errorf("bar: %q", got)
	}
	// Still listing: the file count is open and the ETA unknown; problems
	// are counted.
	s.ListingDone, s.FilesBad, s.Rejected = false, 2, 3
	want = "files 10/40+  events 25000 (20000 new)  2500 events/s  ETA ?  bad files 2, rejected 3"
	if got := progressLine(s, 10*time.Second, false); got != want {
		t.Errorf("while listing:\n got %q\nwant %q", got, want)
	}
}

// slowSink stores nothing, slowly, so that progress is drawn meanwhile.
type slowSink struct{}

func (slowSink) Write(ctx context.Context, recs []*event.Record) (importer.WriteResult, error) {
	time.Sleep(20 * time.Millisecond)
	return importer.WriteResult{Added: len(recs)}, nil
}

// progressRun imports 20 small files through a slow sink with stderr as
// given, returning what runOne printed to it.
func progressRun(t *testing.T, stderr io.Writer) {
	t.Helper()
	dir := t.TempDir()
	for f := range 20 {
		rec := fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":{"type":"Root","accountId":"111122223333"},"eventTime":"2024-03-01T12:00:%02dZ","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.1","eventID":"progress-%02d","eventType":"AwsApiCall","recipientAccountId":"111122223333"}`, f, f)
		path := filepath.Join(dir, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01", fmt.Sprintf("f%02d.json", f))
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(`{"Records":[`+rec+`]}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src, err := importer.NewLocalFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := &importCmd{env: &Env{Stdout: io.Discard, Stderr: stderr}}
	s, err := c.runOne(context.Background(), importer.Options{Source: src, Sink: slowSink{}, Parallel: 1, BatchSize: 1}, false)
	if err != nil || s.Added != 20 {
		t.Fatalf("import: %v %+v", err, s)
	}
}

// TestImportProgress checks what an import shows while it runs: log lines
// when stderr is not a terminal, a bar redrawn in place when it is one (a
// real pseudo-terminal), cleared at the end.
func TestImportProgress(t *testing.T) {
	defer func(b, l time.Duration) { barEvery, logEvery = b, l }(barEvery, logEvery)
	barEvery, logEvery = 30*time.Millisecond, 30*time.Millisecond

	var buf bytes.Buffer
	progressRun(t, &buf)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "import: files ") || !strings.Contains(lines[len(lines)-1], "events/s  ETA ") ||
		strings.Contains(buf.String(), "\r") {
		t.Fatalf("log lines:\n%s", buf.String())
	}

	master, slave := openPTY(t)
	if !isTerminal(slave) {
		t.Fatal("the pseudo-terminal is not seen as a terminal")
	}
	var (
		out bytes.Buffer
		wg  sync.WaitGroup
	)
	wg.Go(func() { io.Copy(&out, master) })
	progressRun(t, slave)
	slave.Close()
	wg.Wait()
	got := out.String()
	if strings.Count(got, "\r\033[K[") < 2 || !strings.Contains(got, "] files ") || !strings.HasSuffix(got, "\r\033[K") ||
		strings.Contains(got, "\n") {
		t.Fatalf("terminal output: %q", got)
	}
}

// openPTY opens a pseudo-terminal pair with /dev/ptmx.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlock pty: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("pty number: %v", e)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Raw output: no \n -> \r\n translation.
	var tio syscall.Termios
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, slave.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&tio))); e == 0 {
		tio.Oflag &^= syscall.OPOST
		syscall.Syscall(syscall.SYS_IOCTL, slave.Fd(), syscall.TCSETS, uintptr(unsafe.Pointer(&tio)))
	}
	return master, slave
}
