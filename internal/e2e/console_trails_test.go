package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/chromedp"
)

// TestConsoleTrails: in real Chromium, a user creates a trail through the
// console's form (a bad name first, refused with the API's message and
// the values kept), sees it listed, opens it, stops and starts logging,
// and after a delivery validates its log files with "Validate now".
func TestConsoleTrails(t *testing.T) {
	s := startServer(t, "", "--delivery-interval", "1s", "--digest-interval", "3s")
	if _, err := s3Client(s.url, "test", "test").CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("console-logs")}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	b := newBrowser(t, s)
	b.signIn("admin", "opentrail")

	b.open("/trails")
	if got := b.text("#trails-empty"); !strings.Contains(got, "No trails yet") || !strings.Contains(got, "create-trail") {
		t.Fatalf("empty state: %q", got)
	}
	b.screenshot("trails-empty")

	// A name the API refuses: its message on the form, the values kept.
	b.run("open the create form", chromedp.Click(chromedp.CSS("#create-trail")), chromedp.WaitVisible(chromedp.CSS("#trail-form")))
	b.screenshot("trail-new")
	b.run("fill in the form",
		chromedp.SendKeys(chromedp.CSS("#name"), "-bad name"),
		chromedp.SetValue(chromedp.CSS("#region"), "eu-west-1"),
		chromedp.SendKeys(chromedp.CSS("#bucket"), "console-logs"),
		chromedp.SendKeys(chromedp.CSS("#prefix"), "audit"),
		chromedp.SetValue(chromedp.CSS("#management"), "write"),
		chromedp.SendKeys(chromedp.CSS("#s3"), "console-logs/uploads"),
		chromedp.Click(chromedp.CSS("#save-trail")),
		chromedp.WaitVisible(chromedp.CSS("#form-error")),
	)
	if got := b.text("#form-error"); !strings.Contains(got, "InvalidTrailNameException") {
		t.Fatalf("bad name: the form says %q", got)
	}
	for sel, want := range map[string]string{"#name": "-bad name", "#bucket": "console-logs", "#prefix": "audit", "#region": "eu-west-1", "#management": "write", "#s3": "console-logs/uploads"} {
		if got := get(b, "value of "+sel, chromedp.Value(chromedp.CSS(sel))); got != want {
			t.Errorf("after the refusal %s is %q, want %q", sel, got, want)
		}
	}
	b.screenshot("trail-new-error")

	b.run("fix the name and create",
		chromedp.SetValue(chromedp.CSS("#name"), "console-trail"),
		chromedp.Click(chromedp.CSS("#save-trail")),
		chromedp.WaitVisible(chromedp.CSS("#logging-state")),
	)
	if p := b.path(); p != "/trails/000000000000/eu-west-1/console-trail?done=created" {
		t.Fatalf("after creating, at %s", p)
	}
	if got := b.text("#logging-state"); got != "Logging" {
		t.Fatalf("a new trail's state: %q", got)
	}
	if got := b.text("#selectors"); !strings.Contains(got, "Management events: write only") || !strings.Contains(got, "S3 objects in bucket console-logs under prefix uploads, read and write") {
		t.Errorf("selectors in words: %q", got)
	}

	b.open("/trails")
	if got := b.text("#trails"); !strings.Contains(got, "console-trail") || !strings.Contains(got, "eu-west-1") || !strings.Contains(got, "console-logs/audit") || !strings.Contains(got, "On") {
		t.Fatalf("the list: %q", got)
	}
	b.screenshot("trails-list")

	b.run("open the trail", chromedp.Click(chromedp.CSS(`#trails a[href="/trails/000000000000/eu-west-1/console-trail"]`)), chromedp.WaitVisible(chromedp.CSS("#logging-state")))
	b.run("stop logging", chromedp.Click(chromedp.CSS("#stop-logging")), chromedp.WaitVisible(chromedp.CSS("#start-logging")))
	if got := b.text("#logging-state"); got != "Not logging" {
		t.Fatalf("after stopping: %q", got)
	}
	if st := s.trailStatus(t, "test", "eu-west-1", "console-trail"); st.IsLogging {
		t.Fatal("the console's Stop logging left the trail logging")
	}
	b.screenshot("trail-stopped")
	b.run("start logging", chromedp.Click(chromedp.CSS("#start-logging")), chromedp.WaitVisible(chromedp.CSS("#stop-logging")))
	if got := b.text("#logging-state"); got != "Logging" {
		t.Fatalf("after starting: %q", got)
	}

	// A delivery with digests, then Validate now.
	postWorkload(t, s, "console", 50)
	s.waitDelivered(t, "test", "eu-west-1", "console-trail", time.Now(), 20*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for s.digestCount(t, "console-logs") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d digests after 30 s\n%s", s.digestCount(t, "console-logs"), s.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.open("/trails/000000000000/eu-west-1/console-trail")
	if got := b.text("#latest-log"); !strings.HasPrefix(got, "s3://console-logs/audit/AWSLogs/000000000000/CloudTrail/") {
		t.Errorf("latest log file: %q", got)
	}
	if got := b.text("#delivered-through"); !strings.Contains(got, "UTC") {
		t.Errorf("delivered through: %q", got)
	}
	b.screenshot("trail-detail")
	b.run("validate now", chromedp.Click(chromedp.CSS("#validate-now")), chromedp.WaitVisible(chromedp.CSS("#validate-summary")))
	sum := b.text("#validate-summary")
	if !strings.Contains(sum, "Valid") || strings.Contains(sum, "INVALID") || strings.Contains(sum, "0/0 log files") {
		t.Fatalf("validation summary: %q", sum)
	}
	if got := b.text("#validate-no-problems"); !strings.Contains(got, "None") {
		t.Errorf("problems: %q", got)
	}
	b.screenshot("trail-validate")

	// Edit: advanced selectors the API refuses keep the form as typed;
	// then Insights on and the choice form again, saved.
	b.open("/trails/000000000000/eu-west-1/console-trail/edit")
	b.screenshot("trail-edit")
	const bogus = `[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Bogus"]}]}]`
	b.run("refused advanced selectors",
		chromedp.Click(chromedp.CSS("#mode-advanced")),
		chromedp.SetValue(chromedp.CSS("#advanced"), bogus),
		chromedp.Click(chromedp.CSS("#save-trail")),
		chromedp.WaitVisible(chromedp.CSS("#form-error")),
	)
	if got := b.text("#form-error"); !strings.Contains(got, "InvalidEventSelectorsException from PutEventSelectors") {
		t.Errorf("refused selectors: the form says %q", got)
	}
	if got := get(b, "advanced JSON", chromedp.Value(chromedp.CSS("#advanced"))); got != bogus {
		t.Errorf("after the refusal the JSON is %q", got)
	}
	b.screenshot("trail-edit-error")
	b.run("Insights on, simple selectors, save",
		chromedp.Click(chromedp.CSS("#mode-simple")),
		chromedp.Click(chromedp.CSS("#insightcalls")),
		chromedp.Click(chromedp.CSS("#save-trail")),
		chromedp.WaitVisible(chromedp.CSS("#logging-state")),
	)
	if got := b.text("#insights"); !strings.Contains(got, "API call rate of management events") {
		t.Errorf("Insights after the edit: %q", got)
	}
	if got := b.text("#selectors"); !strings.Contains(got, "Management events: write only") {
		t.Errorf("selectors after the edit: %q", got)
	}
}
