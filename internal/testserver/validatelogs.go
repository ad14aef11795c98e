package testserver

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// OlderCLIHeading is the section of docs/integrity.md for AWS CLI v2
// before 2.13, which ignores AWS_ENDPOINT_URL.
const OlderCLIHeading = "### AWS CLI v2 before 2.13 (Debian 12's 2.9.19, for one)"

// IntegrityDocBlock returns the first fenced block of lang after heading
// in docs/integrity.md, the page that says how a user points the AWS CLI's
// validate-logs at opentrail.
func IntegrityDocBlock(t testing.TB, heading, lang string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "docs", "integrity.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("%s has no heading %q", path, heading)
	}
	rest := doc[i:]
	j := strings.Index(rest, "\n```"+lang+"\n")
	if j < 0 {
		t.Fatalf("%s has no %s block after %q", path, lang, heading)
	}
	block := rest[j+len("\n```"+lang+"\n"):]
	k := strings.Index(block, "\n```\n")
	if k < 0 {
		t.Fatalf("%s: the %s block after %q does not end", path, lang, heading)
	}
	return block[:k+1]
}

// AWSValidateLogs runs the Debian AWS CLI's `aws cloudtrail validate-logs`
// (2.9.19) as docs/integrity.md says — its plugin and config file, and
// AWS_ENDPOINT_URL=s3URL for the bucket — as access key test (secret
// test). When s3URL is not url (the bucket is on another S3 service),
// --endpoint-url sends the CloudTrail calls to url.
func AWSValidateLogs(t testing.TB, url, s3URL, region string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/aws"); err != nil {
		t.Fatal("the AWS CLI is not installed at /usr/bin/aws; scripts/test installs it (apt-get install awscli)")
	}
	home := t.TempDir()
	const docHome = "/home/you/.aws/"
	plugin, config := IntegrityDocBlock(t, OlderCLIHeading, "python"), IntegrityDocBlock(t, OlderCLIHeading, "ini")
	if !strings.Contains(config, docHome+"plugins\n") {
		t.Fatalf("the config in docs/integrity.md does not load plugins from %splugins:\n%s", docHome, config)
	}
	if err := os.MkdirAll(filepath.Join(home, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "plugins", "opentrail_endpoint.py"), []byte(plugin), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(home, "config-opentrail")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(config, docHome, home+"/")), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := []string{"--region", region, "cloudtrail", "validate-logs"}
	if s3URL != url {
		cli = append([]string{"--endpoint-url", url}, cli...)
	}
	cmd := exec.Command("/usr/bin/aws", append(cli, args...)...)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin", "HOME=" + home, "AWS_PAGER=", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_ENDPOINT_URL=" + s3URL,
	}
	return Run(t, cmd)
}
