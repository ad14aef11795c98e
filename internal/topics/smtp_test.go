package topics

import (
	"bufio"
	"context"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smtpServer is Python's smtpd, a real SMTP server in its own process,
// writing each message it accepts to a file.
const smtpServer = `
import asyncore, smtpd, sys
class S(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        with open(sys.argv[2], "a") as f:
            f.write("FROM %s TO %s\n%s\n.\n" % (mailfrom, ",".join(rcpttos), data if isinstance(data, str) else data.decode()))
S(("127.0.0.1", int(sys.argv[1])), None)
print("ready", flush=True)
asyncore.loop()
`

func startSMTP(t *testing.T) (port int, mails func() string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	out := filepath.Join(t.TempDir(), "mails")
	cmd := exec.Command("python3", "-W", "ignore", "-c", smtpServer, strconv.Itoa(port), out)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the SMTP server (python3's smtpd, Python ≤ 3.11): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("the SMTP server (python3's smtpd, Python ≤ 3.11) did not start: %q %v", line, err)
	}
	return port, func() string { b, _ := os.ReadFile(out); return string(b) }
}

func waitMail(t *testing.T, mails func() string, n int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := mails(); strings.Count(m, "\n.\n") >= n {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%d mails, want %d:\n%s", strings.Count(mails(), "\n.\n"), n, mails())
	return ""
}

// TestEmailOverSMTP: an email subscription gets a confirmation mail with
// the SubscribeURL, and once confirmed the published messages, through a
// real SMTP server.
func TestEmailOverSMTP(t *testing.T) {
	port, mails := startSMTP(t)
	f := newFixture(t, func(c *Config) { c.SMTP = SMTP{Host: "127.0.0.1", Port: port, From: "opentrail@example.com"} })
	ctx := context.Background()
	topic := mustTopic(t, f.tp, alice, "alerts")
	s, err := f.tp.Subscribe(ctx, alice, topic, "email", "secops@example.com", nil)
	if err != nil || !s.Pending {
		t.Fatal(s, err)
	}
	m := waitMail(t, mails, 1)
	tok := regexp.MustCompile(`Token=([0-9a-f]+)`).FindStringSubmatch(m)
	if !strings.Contains(m, "FROM opentrail@example.com TO secops@example.com") || tok == nil ||
		!strings.Contains(m, "https://audit.example.com"+ConfirmPath+"?Action=ConfirmSubscription&TopicArn=") {
		t.Fatalf("confirmation mail:\n%s", m)
	}
	if _, err := f.tp.ConfirmSubscription(ctx, topic, tok[1], true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.tp.Publish(ctx, acct, topic, "Root sign-in", "root signed in from 192.0.2.1", ""); err != nil {
		t.Fatal(err)
	}
	m = waitMail(t, mails, 2)
	last := m[strings.LastIndex(strings.TrimSuffix(m, "\n.\n"), "\n.\n"):]
	if !strings.Contains(last, "Subject: Root sign-in") || !strings.Contains(last, "root signed in from 192.0.2.1") {
		t.Fatalf("notification mail:\n%s", last)
	}
	as := waitAttempts(t, f.tp, 2)
	if as[1].Status != StatusDelivered || as[1].Protocol != "email" || as[1].Endpoint != "secops@example.com" {
		t.Fatalf("%+v", as[1])
	}
	// Confirmed with AuthenticateOnUnsubscribe: the mail's unsubscribe
	// link is refused.
	u := regexp.MustCompile(`https://audit\.example\.com(/_opentrail/sns/unsubscribe\?\S+)`).FindStringSubmatch(last)
	if u == nil {
		t.Fatalf("no unsubscribe link:\n%s", last)
	}
	rec := httptest.NewRecorder()
	f.tp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", u[1], nil))
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), "<Code>AuthorizationError</Code>") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestEmailNeedsSMTP(t *testing.T) {
	f := newFixture(t, nil)
	topic := mustTopic(t, f.tp, alice, "alerts")
	if _, err := f.tp.Subscribe(context.Background(), alice, topic, "email", "a@example.com", nil); err == nil ||
		!strings.Contains(err.Error(), "notifications.smtp") {
		t.Fatal(err)
	}
	if _, err := f.tp.Subscribe(context.Background(), alice, topic, "http", "https://x.example.com", nil); err == nil ||
		err.Error() != "InvalidParameter: Invalid parameter: Endpoint must match the specified protocol" {
		t.Fatal(err)
	}
}
