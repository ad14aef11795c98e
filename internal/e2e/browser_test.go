package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser is a headless Chromium (Debian's chromium) driving the console
// of a server under test.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// chromiumPath finds Debian's chromium; scripts/test installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: the console's browser tests need Debian's chromium (scripts/test installs it: apt-get install chromium)")
	return ""
}

// newBrowser starts a fresh headless Chromium (its own profile, so no
// cookies carry over) for the console at s. It stops with the test.
func newBrowser(t *testing.T, s *server) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, base: s.url}
}

// run runs actions with a deadline, failing the test (with a screenshot of
// where it got to) when one fails.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

// get runs one action that returns a value, as run does.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(what, err)
	}
	return v
}

func (b *browser) fail(what string, err error) {
	b.t.Helper()
	b.screenshot("failed-" + strings.NewReplacer("/", "_", " ", "-").Replace(what))
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	b.t.Fatalf("%s: %v (page %s)", what, err, loc)
}

// open navigates to a console path and waits for the page's main element.
func (b *browser) open(path string) {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("main")))
}

// signIn signs in through the sign-in form.
func (b *browser) signIn(user, password string) {
	b.t.Helper()
	b.open("/signin")
	b.run("sign in as "+user,
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin-submit")),
		chromedp.WaitNotPresent(chromedp.CSS("#signin")),
	)
}

// path is the current page's path and query.
func (b *browser) path() string {
	b.t.Helper()
	return strings.TrimPrefix(get(b, "location", chromedp.Location()), b.base)
}

// text is the visible text of the first element sel matches. A page that
// is replaced between finding the element and reading it (a form that
// submits, a panel that re-renders) is read again rather than failing.
func (b *browser) text(sel string) string {
	b.t.Helper()
	var err error
	for range 5 {
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		var v string
		v, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return v
		}
		if !strings.Contains(err.Error(), "No node") && !strings.Contains(err.Error(), "Cannot find context") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.fail("text of "+sel, err)
	return ""
}

// screenshot saves the whole page as <name>.png in the test's artifact
// directory (under test-artifacts/ when scripts/test runs the tests) and
// logs where.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(b.t.ArtifactDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", p)
}

// TestConsoleSignInLocal: a browser pointed at a local-mode server is sent
// to the sign-in page, signs in as the documented default user and lands
// in the console, and can sign out again.
func TestConsoleSignInLocal(t *testing.T) {
	s := startServer(t, "")
	b := newBrowser(t, s)
	b.open("/")
	if p := b.path(); !strings.HasPrefix(p, "/signin") {
		t.Fatalf("an unsigned browser at / is at %s, want the sign-in page", p)
	}
	if got := b.text(".note"); !strings.Contains(got, "admin") {
		t.Errorf("the local-mode sign-in page does not name the default user: %q", got)
	}
	b.screenshot("signin")
	b.signIn("admin", "opentrail")
	if p := b.path(); strings.HasPrefix(p, "/signin") {
		t.Fatalf("still at %s after signing in", p)
	}
	if got := b.text("header .who"); !strings.Contains(got, "admin") {
		t.Errorf("the header does not show the signed-in user: %q", got)
	}
	b.screenshot("signed-in")
	b.run("sign out", chromedp.Click(chromedp.CSS("header .who button")), chromedp.WaitVisible(chromedp.CSS("#signin")))
	b.open("/events")
	if p := b.path(); !strings.HasPrefix(p, "/signin") {
		t.Fatalf("after signing out, /events is at %s, want the sign-in page", p)
	}
}
