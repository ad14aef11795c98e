package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/objstore"
)

// trailsCLIBucket is the bucket the trails of TestTrailsCLI deliver to.
const trailsCLIBucket = "trails-cli-logs"

// TestTrailsCLI checks `opentrail trails` against a server whose trails
// deliver to a bucket of its built-in object store.
func TestTrailsCLI(t *testing.T) {
	ctx := context.Background()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_REGION", "")

	// The bucket must exist before a trail can name it; the server opens
	// <data>/buckets at start-up.
	dir := t.TempDir()
	reg, err := objstore.OpenFSBuckets(filepath.Join(dir, "buckets"))
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.CreateBucket(ctx, trailsCLIBucket, "000000000000", "us-east-1"); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, dir, "--delivery-interval", "1s")
	t.Setenv("OPENTRAIL_ENDPOINT", s.url)

	// No trails yet: nothing on stdout, a note on stderr.
	out, errs, code := runCLI(t, "trails", "--region", "us-east-1")
	if code != 0 || out != "" || !strings.Contains(errs, "no trails in us-east-1") {
		t.Fatalf("trails with none: %d %q %q", code, out, errs)
	}

	createTrailsCLITrails(t, s)
	start := time.Now()
	var recs [][]byte
	for i := range 5 {
		recs = append(recs, record(recOpts{id: uuid("trails-cli", i), name: "CreateUser", source: "iam.amazonaws.com"}))
	}
	if n, _ := s.postEvents(t, "test", recs); n != len(recs) {
		t.Fatalf("accepted %d of %d events", n, len(recs))
	}
	// Once delivered through a time after the post, the events are in files.
	waitDelivered(t, time.Now(), "zeta-logs", "alpha-audit")

	t.Run("Table", func(t *testing.T) {
		out, errs, code := runCLI(t, "trails", "--region", "us-east-1")
		if code != 0 {
			t.Fatalf("trails: %d %s", code, errs)
		}
		matchLines(t, out,
			`^NAME\s+HOME REGION\s+MULTI-REGION\s+LOGGING\s+BUCKET\s+DELIVERED THROUGH\s+LAST ERROR$`,
			`^alpha-audit\s+eu-west-1\s+yes\s+yes\s+s3://trails-cli-logs/prod\s+\d+[sm] ago\s+-$`,
			`^mid-trail\s+us-east-1\s+no\s+no\s+s3://trails-cli-logs\s+(-|\d+[sm] ago)\s+-$`,
			`^zeta-logs\s+us-east-1\s+no\s+yes\s+s3://trails-cli-logs\s+\d+[sm] ago\s+-$`,
		)
		// `trails list` is the same; --all-regions adds eu-west-1's own trail.
		out2, _, code := runCLI(t, "trails", "list", "--region", "us-east-1")
		if code != 0 || stripAges(out2) != stripAges(out) {
			t.Fatalf("trails list differs from trails:\n%s\n%s", out2, out)
		}
		out, errs, code = runCLI(t, "trails", "list", "--all-regions", "--region", "us-east-1")
		if code != 0 {
			t.Fatalf("trails list --all-regions: %d %s", code, errs)
		}
		matchLines(t, out, `^NAME\s`, `^alpha-audit\s`, `^mid-trail\s`,
			`^west-only\s+eu-west-1\s+no\s+no\s+s3://trails-cli-logs/west\s+(-|\d+[sm] ago)\s+-$`, `^zeta-logs\s`)
	})

	t.Run("ListJSON", func(t *testing.T) {
		out, errs, code := runCLI(t, "trails", "list", "--json", "--region", "us-east-1")
		if code != 0 {
			t.Fatalf("trails list --json: %d %s", code, errs)
		}
		var got []struct {
			Name, HomeRegion, TrailARN, S3BucketName, S3KeyPrefix string
			IsMultiRegionTrail, HasCustomEventSelectors           bool
			HasInsightSelectors                                   bool
			Status                                                struct {
				IsLogging                                bool
				DeliveredThroughTime, LatestDeliveryTime *float64
				StartLoggingTime                         *float64
			}
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("trails list --json: %v\n%s", err, out)
		}
		var names []string
		for _, g := range got {
			names = append(names, g.Name)
		}
		if strings.Join(names, " ") != "alpha-audit mid-trail zeta-logs" {
			t.Fatalf("trails list --json names %v", names)
		}
		a, m, z := got[0], got[1], got[2]
		if a.HomeRegion != "eu-west-1" || !a.IsMultiRegionTrail || a.S3KeyPrefix != "prod" || !a.HasInsightSelectors || !a.Status.IsLogging {
			t.Errorf("alpha-audit: %+v", a)
		}
		if !m.HasCustomEventSelectors || m.Status.IsLogging || m.Status.StartLoggingTime != nil {
			t.Errorf("mid-trail: %+v", m)
		}
		if z.TrailARN != "arn:aws:cloudtrail:us-east-1:000000000000:trail/zeta-logs" || z.S3BucketName != trailsCLIBucket ||
			!z.Status.IsLogging || z.Status.DeliveredThroughTime == nil || z.Status.LatestDeliveryTime == nil ||
			*z.Status.DeliveredThroughTime < float64(start.Unix()) {
			t.Errorf("zeta-logs: %+v", z)
		}
	})

	t.Run("Show", func(t *testing.T) {
		out, errs, code := runCLI(t, "trails", "show", "zeta-logs", "--region", "us-east-1")
		if code != 0 {
			t.Fatalf("trails show zeta-logs: %d %s", code, errs)
		}
		f := showFields(out)
		const when = `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+[sm] ago\)`
		for k, want := range map[string]string{
			"Name":                `^zeta-logs$`,
			"ARN":                 `^arn:aws:cloudtrail:us-east-1:000000000000:trail/zeta-logs$`,
			"Home region":         `^us-east-1$`,
			"Bucket":              `^trails-cli-logs$`,
			"Key prefix":          `^-$`,
			"Log files":           `^s3://trails-cli-logs/AWSLogs/000000000000/CloudTrail/us-east-1/YYYY/MM/DD/$`,
			"Multi-region":        `^no$`,
			"Log file validation": `^no$`,
			"Event selectors":     `^default: all management events, no data events$`,
			"Insights":            `^none$`,
			"Tags":                `^none$`,
			"Logging":             `^yes$`,
			"Logging started":     when + `$`,
			"Logging stopped":     `^-$`,
			"Latest delivery":     when + `$`,
			"Latest attempt":      when + `, succeeded$`,
			"Latest error":        `^-$`,
			"Delivered through":   when + `$`,
		} {
			if !regexp.MustCompile(want).MatchString(f[k]) {
				t.Errorf("show zeta-logs: %s: %q does not match %s\n%s", k, f[k], want, out)
			}
		}
		if _, ok := f["Digest files"]; ok {
			t.Errorf("digest files shown for a trail without validation:\n%s", out)
		}
		// The log files are where show says they go.
		checkDelivered(t, s, f["Log files"], "us-east-1")

		// A multi-region trail seen from another region, with everything set.
		out, errs, code = runCLI(t, "trails", "show", "alpha-audit", "--region", "us-east-1")
		if code != 0 {
			t.Fatalf("trails show alpha-audit: %d %s", code, errs)
		}
		f = showFields(out)
		for k, want := range map[string]string{
			"Home region":         "eu-west-1",
			"Key prefix":          "prod",
			"Log files":           "s3://trails-cli-logs/prod/AWSLogs/000000000000/CloudTrail/<region>/YYYY/MM/DD/ (a folder per region)",
			"Digest files":        "s3://trails-cli-logs/prod/AWSLogs/000000000000/CloudTrail-Digest/<region>/YYYY/MM/DD/ (a folder per region)",
			"Multi-region":        "yes",
			"Log file validation": "yes",
			"Organization trail":  "no",
			"Event selectors":     "advanced, 2 selectors",
			"Insights":            "ApiCallRateInsight (Management)",
			"Tags":                "env=prod, team=security",
			"Logging":             "yes",
		} {
			if f[k] != want {
				t.Errorf("show alpha-audit: %s: %q, want %q\n%s", k, f[k], want, out)
			}
		}
		for _, want := range []string{
			`  1. "Management writes": eventCategory = Management and readOnly = false` + "\n",
			`  2. "S3 object writes": eventCategory = Data and resources.type = AWS::S3::Object and ` +
				`resources.ARN starts with arn:aws:s3:::trails-cli-logs/ and eventName starts with none of Get, Head` + "\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("show alpha-audit lacks %q:\n%s", want, out)
			}
		}
		checkDelivered(t, s, strings.TrimSuffix(f["Log files"], " (a folder per region)"), "us-east-1")

		// Basic selectors in words.
		out, _, code = runCLI(t, "trails", "show", "mid-trail", "--region", "us-east-1")
		f = showFields(out)
		if code != 0 || f["Event selectors"] != "basic, 1 selector" || f["Logging"] != "no" || f["Logging started"] != "never" ||
			!strings.Contains(out, "  1. write-only events; management events: yes; excluding kms.amazonaws.com; "+
				"data events: AWS::S3::Object (arn:aws:s3:::trails-cli-logs/), AWS::Lambda::Function (all)\n") {
			t.Errorf("show mid-trail: %d\n%s", code, out)
		}

		// By ARN, a trail of another region; it started and stopped logging.
		arn := "arn:aws:cloudtrail:eu-west-1:000000000000:trail/west-only"
		out, errs, code = runCLI(t, "trails", "show", arn, "--region", "us-east-1")
		f = showFields(out)
		if code != 0 || f["ARN"] != arn || f["Logging"] != "no" ||
			!regexp.MustCompile(when+`$`).MatchString(f["Logging started"]) || !regexp.MustCompile(when+`$`).MatchString(f["Logging stopped"]) {
			t.Errorf("show by ARN: %d %s\n%s", code, errs, out)
		}
	})

	t.Run("ShowJSON", func(t *testing.T) {
		out, errs, code := runCLI(t, "trails", "show", "--json", "mid-trail", "--region", "us-east-1")
		if code != 0 {
			t.Fatalf("trails show --json: %d %s", code, errs)
		}
		var got struct {
			Trail struct {
				Name, TrailARN          string
				HasCustomEventSelectors bool
			}
			Status         struct{ IsLogging bool }
			EventSelectors struct {
				TrailARN       string
				EventSelectors []struct {
					ReadWriteType                 string
					ExcludeManagementEventSources []string
				}
			}
			InsightSelectors json.RawMessage
			Tags             struct {
				ResourceTagList []struct {
					ResourceId string
					TagsList   []struct{ Key, Value string }
				}
			}
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("trails show --json: %v\n%s", err, out)
		}
		arn := "arn:aws:cloudtrail:us-east-1:000000000000:trail/mid-trail"
		if got.Trail.Name != "mid-trail" || got.Trail.TrailARN != arn || !got.Trail.HasCustomEventSelectors || got.Status.IsLogging ||
			got.EventSelectors.TrailARN != arn || len(got.EventSelectors.EventSelectors) != 1 ||
			got.EventSelectors.EventSelectors[0].ReadWriteType != "WriteOnly" || string(got.InsightSelectors) != "null" ||
			len(got.Tags.ResourceTagList) != 1 || got.Tags.ResourceTagList[0].ResourceId != arn || len(got.Tags.ResourceTagList[0].TagsList) != 0 {
			t.Errorf("trails show --json mid-trail: %+v\n%s", got, out)
		}
		out, _, code = runCLI(t, "trails", "show", "alpha-audit", "--json", "--region", "eu-west-1")
		var alpha struct {
			InsightSelectors struct {
				InsightSelectors []struct{ InsightType string }
			}
			Tags struct {
				ResourceTagList []struct{ TagsList []struct{ Key, Value string } }
			}
		}
		if code != 0 || json.Unmarshal([]byte(out), &alpha) != nil || len(alpha.InsightSelectors.InsightSelectors) != 1 ||
			len(alpha.Tags.ResourceTagList) != 1 || len(alpha.Tags.ResourceTagList[0].TagsList) != 2 {
			t.Errorf("trails show --json alpha-audit: %d\n%s", code, out)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		// A missing trail: said so, with a hint to list them.
		for _, ref := range []string{"nope", "west-only", "arn:aws:cloudtrail:us-east-1:000000000000:trail/nope"} {
			out, errs, code := runCLI(t, "trails", "show", ref, "--region", "us-east-1")
			lines := strings.Split(strings.TrimSpace(errs), "\n")
			if code != 1 || out != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], "opentrail trails: no trail ") ||
				!strings.Contains(lines[0], ref) || !strings.HasPrefix(lines[1], "hint: run `opentrail trails`") {
				t.Errorf("show %s: %d %q %q", ref, code, out, errs)
			}
		}
		// An error from the server: its code and message on one line.
		_, errs, code := runCLI(t, "trails", "show", "a", "--region", "us-east-1")
		if code != 1 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "opentrail trails: InvalidTrailNameException: ") {
			t.Errorf("show with a bad name: %d %q", code, errs)
		}
		_, errs, code = runCLI(t, "trails", "--endpoint", "http://127.0.0.1:1")
		if code != 1 || !strings.Contains(errs, "cannot reach opentrail") || !strings.Contains(errs, "hint: is the server running?") {
			t.Errorf("unreachable server: %d %q", code, errs)
		}
		for _, args := range [][]string{{"trails", "frobnicate"}, {"trails", "show"}, {"trails", "show", "a", "b"}, {"trails", "--bogus"}} {
			if _, errs, code := runCLI(t, args...); code != 2 {
				t.Errorf("%v: exit %d, want 2 (usage) %q", args, code, errs)
			}
		}
		if _, errs, code := runCLI(t, "trails", "list", "zeta-logs"); code != 1 || !strings.Contains(errs, "opentrail trails show zeta-logs") {
			t.Errorf("list with an argument: %d %q", code, errs)
		}
	})
}

// createTrailsCLITrails makes the trails of TestTrailsCLI with the AWS SDK:
//   - zeta-logs (us-east-1): defaults, logging;
//   - alpha-audit (eu-west-1): multi-region, prefix prod, validation,
//     tags, Insights and advanced selectors, logging;
//   - mid-trail (us-east-1): basic selectors, never logged;
//   - west-only (eu-west-1): single-region, logged and stopped.
func createTrailsCLITrails(t *testing.T, s *server) {
	t.Helper()
	ctx := context.Background()
	east, west := ctClient(s, "test", "us-east-1"), ctClient(s, "test", "eu-west-1")
	must := func(what string, _ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	bucket := aws.String(trailsCLIBucket)

	out, err := east.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("zeta-logs"), S3BucketName: bucket})
	must("create zeta-logs", out, err)
	st, err := east.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("zeta-logs")})
	must("start zeta-logs", st, err)

	out, err = west.CreateTrail(ctx, &cloudtrail.CreateTrailInput{
		Name: aws.String("alpha-audit"), S3BucketName: bucket, S3KeyPrefix: aws.String("prod"),
		IsMultiRegionTrail: aws.Bool(true), EnableLogFileValidation: aws.Bool(true),
		TagsList: []types.Tag{{Key: aws.String("team"), Value: aws.String("security")}, {Key: aws.String("env"), Value: aws.String("prod")}},
	})
	must("create alpha-audit", out, err)
	sel, err := west.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{
		TrailName: aws.String("alpha-audit"),
		AdvancedEventSelectors: []types.AdvancedEventSelector{
			{Name: aws.String("Management writes"), FieldSelectors: []types.AdvancedFieldSelector{
				{Field: aws.String("eventCategory"), Equals: []string{"Management"}},
				{Field: aws.String("readOnly"), Equals: []string{"false"}},
			}},
			{Name: aws.String("S3 object writes"), FieldSelectors: []types.AdvancedFieldSelector{
				{Field: aws.String("eventCategory"), Equals: []string{"Data"}},
				{Field: aws.String("resources.type"), Equals: []string{"AWS::S3::Object"}},
				{Field: aws.String("resources.ARN"), StartsWith: []string{"arn:aws:s3:::trails-cli-logs/"}},
				{Field: aws.String("eventName"), NotStartsWith: []string{"Get", "Head"}},
			}},
		},
	})
	must("select alpha-audit", sel, err)
	ins, err := west.PutInsightSelectors(ctx, &cloudtrail.PutInsightSelectorsInput{
		TrailName:        aws.String("alpha-audit"),
		InsightSelectors: []types.InsightSelector{{InsightType: types.InsightTypeApiCallRateInsight, EventCategories: []types.SourceEventCategory{"Management"}}},
	})
	must("insights alpha-audit", ins, err)
	st, err = west.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("alpha-audit")})
	must("start alpha-audit", st, err)

	out, err = east.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("mid-trail"), S3BucketName: bucket})
	must("create mid-trail", out, err)
	sel, err = east.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{
		TrailName: aws.String("mid-trail"),
		EventSelectors: []types.EventSelector{{
			ReadWriteType: types.ReadWriteTypeWriteOnly, IncludeManagementEvents: aws.Bool(true),
			ExcludeManagementEventSources: []string{"kms.amazonaws.com"},
			DataResources: []types.DataResource{
				{Type: aws.String("AWS::S3::Object"), Values: []string{"arn:aws:s3:::trails-cli-logs/"}},
				{Type: aws.String("AWS::Lambda::Function"), Values: []string{"arn:aws:lambda"}},
			},
		}},
	})
	must("select mid-trail", sel, err)

	out, err = west.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("west-only"), S3BucketName: bucket, S3KeyPrefix: aws.String("west")})
	must("create west-only", out, err)
	st, err = west.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("west-only")})
	must("start west-only", st, err)
	stop, err := west.StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String("west-only")})
	must("stop west-only", stop, err)
}

// waitDelivered waits until each named trail (visible in us-east-1) has
// delivered every event received before since.
func waitDelivered(t *testing.T, since time.Time, names ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, errs, code := runCLI(t, "trails", "list", "--json", "--region", "us-east-1")
		if code != 0 {
			t.Fatalf("trails list --json: %d %s", code, errs)
		}
		var got []struct {
			Name   string
			Status struct{ DeliveredThroughTime, LatestDeliveryTime *float64 }
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("trails list --json: %v\n%s", err, out)
		}
		done := 0
		for _, g := range got {
			for _, n := range names {
				if g.Name == n && g.Status.LatestDeliveryTime != nil && g.Status.DeliveredThroughTime != nil &&
					*g.Status.DeliveredThroughTime >= float64(since.UnixMilli())/1000 {
					done++
				}
			}
		}
		if done == len(names) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("trails %v did not deliver within 60 s:\n%s", names, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// showFields reads the "Key: value" lines of `trails show` (not the
// indented lines under them).
func showFields(out string) map[string]string {
	f := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if line == "" || strings.HasPrefix(line, " ") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if ok {
			f[k] = strings.TrimSpace(v)
		}
	}
	return f
}

// matchLines checks that out has exactly one line per pattern, in order.
func matchLines(t *testing.T, out string, patterns ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != len(patterns) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(patterns), out)
	}
	for i, p := range patterns {
		if !regexp.MustCompile(p).MatchString(lines[i]) {
			t.Errorf("line %d %q does not match %s", i+1, lines[i], p)
		}
	}
}

var agesRE = regexp.MustCompile(`\d+[smhd] ago\s*`)

// stripAges removes relative ages, which change between two runs.
func stripAges(s string) string { return agesRE.ReplaceAllString(s, "") }

// checkDelivered lists the bucket under the folder a "Log files" value
// names, with region filled in, and expects a CloudTrail log file there.
func checkDelivered(t *testing.T, s *server, logFiles, region string) {
	t.Helper()
	loc, ok := strings.CutPrefix(logFiles, "s3://"+trailsCLIBucket+"/")
	if !ok || !strings.HasSuffix(loc, "/YYYY/MM/DD/") {
		t.Fatalf("log files %q are not under s3://%s/.../YYYY/MM/DD/", logFiles, trailsCLIBucket)
	}
	prefix := strings.ReplaceAll(strings.TrimSuffix(loc, "YYYY/MM/DD/"), "<region>", region)
	reg, err := objstore.OpenFSBuckets(filepath.Join(s.data, "buckets"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := reg.Bucket(context.Background(), trailsCLIBucket)
	if err != nil {
		t.Fatal(err)
	}
	objs, _, err := b.List(context.Background(), prefix, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `\d{4}/\d{2}/\d{2}/000000000000_CloudTrail_` + region + `_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$`)
	for _, o := range objs {
		if re.MatchString(o.Key) {
			return
		}
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	t.Errorf("no log file under %s; found %v", prefix, keys)
}
