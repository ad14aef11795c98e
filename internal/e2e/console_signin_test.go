package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/opentrail/opentrail/internal/cli"
)

// watchedWriter is a command's standard output that signals each write.
type watchedWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func (w *watchedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (w *watchedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// cliMFAEnable runs `opentrail users mfa-enable name` as an administrator
// at a terminal would: it reads the secret the command prints and types
// the code an authenticator app would show. It returns the secret.
func cliMFAEnable(t *testing.T, name string) string {
	t.Helper()
	inR, inW := io.Pipe()
	out := &watchedWriter{wrote: make(chan struct{}, 1)}
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(context.Background(), []string{"users", "mfa-enable", name}, &cli.Env{Stdout: out, Stderr: &errb, Stdin: inR})
	}()
	re := regexp.MustCompile(`Secret: ([A-Z2-7]+)\n`)
	deadline := time.After(30 * time.Second)
	var secret string
	for secret == "" {
		select {
		case <-out.wrote:
			if m := re.FindStringSubmatch(out.String()); m != nil {
				secret = m[1]
			}
		case code := <-done:
			t.Fatalf("users mfa-enable exited %d before showing a secret: %s %s", code, out.String(), errb.String())
		case <-deadline:
			t.Fatalf("users mfa-enable showed no secret: %s", out.String())
		}
	}
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(inW, code+"\n")
	if c := <-done; c != 0 || !strings.Contains(out.String(), "enrolled") {
		t.Fatalf("users mfa-enable: exit %d\n%s\n%s", c, out.String(), errb.String())
	}
	return secret
}

// trySignIn opens the sign-in page at path, submits user and password,
// and waits for what the answer shows (sel).
func trySignIn(b *browser, path, user, password, sel string) {
	b.t.Helper()
	b.open(path)
	b.run("sign in as "+user+", waiting for "+sel,
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin-submit")),
		chromedp.WaitVisible(chromedp.CSS(sel)),
	)
}

// TestConsoleSignIn: users added with the CLI sign in in Chromium, with
// and without an MFA device; a failed attempt is a ConsoleLogin failure
// in history (LookupEvents); an administrator sees the users pages;
// repeated failures lock sign-in out and the page says for how long.
func TestConsoleSignIn(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	s := startServer(t, "")
	t.Setenv("OPENTRAIL_ENDPOINT", s.url)

	// Users added with the CLI, through the running server's API.
	for _, args := range [][]string{
		{"users", "add", "carol", "--account", "000000000000", "--password-stdin"},
		{"users", "add", "dave", "--account", "222222222222", "--password-stdin"},
	} {
		var out, errb bytes.Buffer
		stdin := strings.NewReader(args[2] + "-password-1\n")
		if code := cli.Main(context.Background(), args, &cli.Env{Stdout: &out, Stderr: &errb, Stdin: stdin}); code != 0 || !strings.Contains(out.String(), "added "+args[2]) {
			t.Fatalf("%v: exit %d %s %s", args, code, out.String(), errb.String())
		}
	}
	_, errs, code := runCLI(t, "users", "add", "erin", "--account", "000000000000", "--password-stdin")
	if code == 0 || !strings.Contains(errs, "password") {
		t.Fatalf("users add without a password on stdin: %d %s", code, errs)
	}
	secret := cliMFAEnable(t, "dave")
	out, errs, code := runCLI(t, "users", "list")
	if code != 0 || !regexp.MustCompile(`dave\s+222222222222\s+no\s+yes\s+never`).MatchString(out) || !strings.Contains(out, "admin") {
		t.Fatalf("users list: %d\n%s%s", code, out, errs)
	}

	// carol: no MFA device; of the local (management) account.
	b := newBrowser(t, s)
	b.signIn("carol", "carol-password-1")
	if got := b.text("header .who"); !strings.Contains(got, "carol @ all accounts") || !strings.Contains(got, "Account") {
		t.Fatalf("header after carol signed in: %q", got)
	}
	if n := get(b, "users link", chromedp.Evaluate[int](`document.querySelectorAll('header nav a[href="/users"]').length`)); n != 0 {
		t.Error("a user who is not an administrator sees the Users menu entry")
	}
	b.open("/account")
	b.screenshot("account")
	b.open("/users")
	if got := b.text("main h1"); got != "Administrators only" {
		t.Errorf("carol at /users: %q", got)
	}

	// dave: signs in with the code his device shows.
	b = newBrowser(t, s)
	trySignIn(b, "/signin?next=/account", "dave", "dave-password-1", "#mfa-code")
	b.screenshot("mfa-step")
	next := time.Now().Add(30 * time.Second) // the enrolment's code counts once: use the next period's
	tcode, _ := totp.GenerateCode(secret, next)
	b.run("dave's MFA code",
		chromedp.SendKeys(chromedp.CSS("#mfa-code"), tcode),
		chromedp.Click(chromedp.CSS("#mfa-submit")),
		chromedp.WaitNotPresent(chromedp.CSS("#mfa-code")),
	)
	if p := b.path(); p != "/account" {
		t.Fatalf("after the MFA step dave is at %s", p)
	}
	if got := b.text("header .who"); !strings.Contains(got, "dave @ 222222222222") {
		t.Fatalf("header after dave signed in: %q", got)
	}
	if got := b.text("#mfa"); !strings.Contains(got, "Enabled") {
		t.Errorf("dave's account page does not show his MFA device: %q", got)
	}

	// A failed attempt, then the history has it.
	b = newBrowser(t, s)
	trySignIn(b, "/signin", "dave", "not-daves-password", ".signin .error")
	if got := b.text(".signin .error"); !strings.Contains(got, "user name or password is wrong") {
		t.Errorf("failed sign-in says %q", got)
	}
	b.screenshot("signin-failed")

	// Each sign-in is in its user's account's history: carol's in the
	// local account's, dave's in 222222222222's.
	var events []types.Event
	for _, akid := range []string{"222222222222", "test"} {
		res, err := ctClient(s, akid, "us-east-1").LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{
			LookupAttributes: []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyEventName, AttributeValue: aws.String("ConsoleLogin")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, res.Events...)
	}
	type login struct {
		UserIdentity                                                                         struct{ Type, UserName, ARN, AccountID string } `json:"userIdentity"`
		EventSource, EventType, ErrorMessage, SourceIPAddress, UserAgent, RecipientAccountID string
		ResponseElements                                                                     struct{ ConsoleLogin string }
		AdditionalEventData                                                                  struct{ LoginTo, MFAUsed string }
	}
	var got []string
	for _, ev := range events {
		var l login
		if err := json.Unmarshal([]byte(aws.ToString(ev.CloudTrailEvent)), &l); err != nil {
			t.Fatal(err)
		}
		if l.EventSource != "signin.amazonaws.com" || l.EventType != "AwsConsoleSignIn" || l.SourceIPAddress != "127.0.0.1" ||
			!strings.Contains(l.UserAgent, "Chrome") || !strings.HasPrefix(l.AdditionalEventData.LoginTo, s.url+"/") {
			t.Errorf("ConsoleLogin record %s", aws.ToString(ev.CloudTrailEvent))
		}
		got = append(got, strings.Join([]string{aws.ToString(ev.Username), l.UserIdentity.ARN, l.ResponseElements.ConsoleLogin,
			l.ErrorMessage, "MFA " + l.AdditionalEventData.MFAUsed}, " | "))
	}
	want := []string{ // newest first
		"dave | arn:aws:iam::222222222222:user/dave | Failure | Failed authentication | MFA No",
		"dave | arn:aws:iam::222222222222:user/dave | Success |  | MFA Yes",
		"carol | arn:aws:iam::000000000000:user/carol | Success |  | MFA No",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ConsoleLogin events in history:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The CLI's calls are self-audited, without the password.
	res, err := ctClient(s, "test", "us-east-1").LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{
		LookupAttributes: []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyEventName, AttributeValue: aws.String("CreateConsoleUser")}},
	})
	if err != nil || len(res.Events) != 2 {
		t.Fatalf("CreateConsoleUser records: %v %d", err, len(res.Events))
	}
	for _, ev := range res.Events {
		rec := aws.ToString(ev.CloudTrailEvent)
		if strings.Contains(rec, "-password-1") || !strings.Contains(rec, `"userName":"`) || !strings.Contains(rec, `"eventSource":"opentrail.amazonaws.com"`) {
			t.Errorf("CreateConsoleUser record %s", rec)
		}
	}

	// The administrator's pages.
	b = newBrowser(t, s)
	b.signIn("admin", "opentrail")
	// The failed attempt is in the console's event history too: the only
	// failed sign-in so far.
	b.open("/events?EventName=ConsoleLogin&errors=1")
	rows := get(b, "failed sign-in rows", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("table tbody tr")).map(r => r.innerText)`))
	if len(rows) != 1 || !strings.Contains(rows[0], "dave") || !strings.Contains(rows[0], "Failed sign-in") || !strings.Contains(rows[0], "222222222222") {
		t.Errorf("failed sign-ins in the event history: %q, want dave's one failure", rows)
	}
	b.screenshot("history-failed-signin")
	b.open("/users")
	if got := b.text("#users"); !strings.Contains(got, "carol") || !strings.Contains(got, "dave") || !strings.Contains(got, "Enabled") {
		t.Errorf("users list: %q", got)
	}
	b.screenshot("users")
	b.open("/users/new")
	b.screenshot("users-new")
	b.open("/users/dave")
	b.screenshot("users-dave")
	b.open("/account")
	b.run("begin enrolling admin's MFA device", chromedp.Click(chromedp.CSS("#mfa-begin")), chromedp.WaitVisible(chromedp.CSS("#mfa-secret")))
	b.screenshot("account-mfa-enrol")
	b.run("remove carol", chromedp.Navigate(s.url+"/users/carol"), chromedp.WaitVisible(chromedp.CSS("#user-remove")),
		chromedp.Click(chromedp.CSS("#user-remove")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := b.text(".flash"); !strings.Contains(got, "carol removed") {
		t.Errorf("after removing carol: %q", got)
	}

	// Five failures from one address lock sign-in out, and the page says
	// for how long.
	b = newBrowser(t, s)
	for i := 0; i < 6; i++ {
		trySignIn(b, "/signin", "nobody", "guess-"+string(rune('a'+i)), ".signin .error")
	}
	if got := b.text(".signin .error"); !strings.Contains(got, "Try again in") {
		t.Fatalf("after 6 failures: %q", got)
	}
	b.screenshot("signin-locked")

	// The rest of the CLI: a new password, no MFA device, removal.
	var outb, errb bytes.Buffer
	if code := cli.Main(context.Background(), []string{"users", "passwd", "dave", "--password-stdin"},
		&cli.Env{Stdout: &outb, Stderr: &errb, Stdin: strings.NewReader("daves-new-password\n")}); code != 0 {
		t.Fatalf("users passwd: %d %s", code, errb.String())
	}
	if out, errs, code := runCLI(t, "users", "mfa-disable", "dave"); code != 0 || !strings.Contains(out, "removed") {
		t.Fatalf("users mfa-disable: %d %s %s", code, out, errs)
	}
	out, _, _ = runCLI(t, "users", "list")
	if !regexp.MustCompile(`dave\s+222222222222\s+no\s+no\s`).MatchString(out) || strings.Contains(out, "carol") {
		t.Fatalf("users list:\n%s", out)
	}
	if out, errs, code := runCLI(t, "users", "remove", "dave"); code != 0 || !strings.Contains(out, "removed dave") {
		t.Fatalf("users remove: %d %s %s", code, out, errs)
	}
	_, errs, code = runCLI(t, "users", "remove", "carol") // removed in the browser
	if code == 0 || !strings.Contains(errs, "does not exist") {
		t.Fatalf("removing carol twice: %d %s", code, errs)
	}
}
