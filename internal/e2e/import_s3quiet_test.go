package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImportFromS3NoSDKWarnings: `opentrail import s3://…` from a service
// that sends objects without checksum headers (as objects stored without
// one, or by older S3-compatible servers, come back) prints its summary
// and nothing else: the S3 SDK's per-object notices ("Response has no
// supported checksum…") are not shown.
func TestImportFromS3NoSDKWarnings(t *testing.T) {
	now := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
	objects := map[string][]byte{}
	for f := range 3 {
		key := fmt.Sprintf("AWSLogs/000000000000/CloudTrail/eu-west-1/%s/000000000000_CloudTrail_eu-west-1_%sZ_%016d.json.gz",
			now.Format("2006/01/02"), now.Format("20060102T1504"), f)
		objects[key] = gzipBytes([]byte(`{"Records":[` + string(record(recOpts{id: uuid("s3quiet", f), region: "eu-west-1", t: now})) + `]}`))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/old-trail/")
		switch {
		case r.URL.Path == "/old-trail" || r.URL.Path == "/old-trail/":
			var b strings.Builder
			b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>old-trail</Name><Prefix></Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>`)
			for k, v := range objects {
				fmt.Fprintf(&b, `<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>"x"</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>`,
					k, now.Format(time.RFC3339), len(v))
			}
			b.WriteString(`</ListBucketResult>`)
			w.Header().Set("Content-Type", "application/xml")
			w.Write([]byte(b.String()))
		case objects[key] != nil:
			w.Header().Set("Content-Length", fmt.Sprint(len(objects[key])))
			w.Header().Set("ETag", `"x"`)
			w.Write(objects[key])
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	// Owner-only already, as the store makes it (else the store says so
	// on stderr, which this test is about).
	data := t.TempDir()
	if err := os.Chmod(data, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "import", "--data", data, "--state", filepath.Join(t.TempDir(), "state"), "--quiet",
		"--endpoint-url", srv.URL, "--s3-path-style", "--s3-region", "us-east-1", "s3://old-trail/")
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "OPENTRAIL_E2E_AS_COMMAND=1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE="+filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil || !strings.Contains(stdout.String(), "files: 3 log") || !strings.Contains(stdout.String(), "records: 3 read, 3 new") || stderr.Len() != 0 {
		t.Fatalf("import: %v\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
}
