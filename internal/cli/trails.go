package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/cloudtrailwire"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/trail"
)

// trailsCmd is `opentrail trails`: a readable view of the trails a server
// keeps, read through the same CloudTrail API any AWS client uses.
//
//	opentrail trails [list] [--all-regions] [--json]
//	opentrail trails show NAME|ARN [--json]
type trailsCmd struct{ env *Env }

func (*trailsCmd) Name() string { return "trails" }
func (*trailsCmd) Synopsis() string {
	return "list trails, or show one trail's settings and delivery status"
}

// CloudTrail error codes the command treats specially.
const (
	codeTrailNotFound     = "TrailNotFoundException"
	codeInsightNotEnabled = "InsightNotEnabledException"
)

// legacyTimeLayout is how GetTrailStatus spells its string-typed times
// (LatestDeliveryAttemptTime and the like).
const legacyTimeLayout = "2006-01-02T15:04:05Z"

func (c *trailsCmd) Run(ctx context.Context, args []string) error {
	// The subcommand is the first positional argument, before or after
	// the flags (`trails --region eu-west-1 show main`). The probe must
	// know every flag of list and show that takes a value.
	probe := flag.NewFlagSet("trails", flag.ContinueOnError)
	var cf clientFlags
	cf.register(probe)
	probe.Bool("all-regions", false, "")
	probe.Bool("json", false, "")
	sub, rest := subcommand(probe, args)
	if sub == "" {
		sub = "list"
	}
	args = rest
	switch sub {
	case "list":
		return c.list(ctx, args)
	case "show":
		return c.show(ctx, args)
	}
	fmt.Fprintf(c.env.Stderr, "opentrail trails: unknown subcommand %q (want list or show; to see one trail, run `opentrail trails show %s`)\n", sub, sub)
	return errUsage
}

// trailRow is one trail as `trails list` shows it.
type trailRow struct {
	raw    json.RawMessage // the trail object of DescribeTrails
	info   cloudtrailwire.TrailInfo
	rawSt  json.RawMessage // the GetTrailStatus answer
	status cloudtrailwire.GetTrailStatusOutput
}

func (c *trailsCmd) list(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "trails", "[list] [--all-regions] [--json] [flags]\n       opentrail trails show NAME|ARN [--json] [flags]")
	var (
		cf                 clientFlags
		allRegions, asJSON bool
	)
	cf.register(fs)
	fs.BoolVar(&allRegions, "all-regions", false, "list the trails of every region, not just those visible in --region")
	fs.BoolVar(&asJSON, "json", false, "print a JSON array: each trail's DescribeTrails fields plus its GetTrailStatus answer as Status")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q; to see one trail, run `opentrail trails show %s`", pos[0], pos[0])
	}
	cl, err := cf.client(ctx)
	if err != nil {
		return err
	}
	rows, err := fetchTrails(ctx, cl, allRegions)
	if err != nil {
		return err
	}
	for i := range rows {
		r := &rows[i]
		if r.rawSt, err = callCloudTrail(ctx, cl, "GetTrailStatus", cloudtrailwire.TrailNameInput{Name: &r.info.TrailARN}, &r.status); err != nil {
			return trailError(err, r.info.TrailARN, cl.Region)
		}
	}
	if asJSON {
		out := make([]json.RawMessage, 0, len(rows))
		for _, r := range rows {
			obj, err := withMember(r.raw, "Status", r.rawSt)
			if err != nil {
				return fmt.Errorf("unexpected DescribeTrails answer: %w", err)
			}
			out = append(out, obj)
		}
		return writeJSON(c.env.Stdout, out)
	}
	if len(rows) == 0 {
		if allRegions {
			fmt.Fprintln(c.env.Stderr, "no trails in any region")
		} else {
			fmt.Fprintf(c.env.Stderr, "no trails in %s (add --all-regions to look in every region)\n", cl.Region)
		}
		return nil
	}
	return writeTrailTable(c.env.Stdout, rows, time.Now())
}

// fetchTrails describes the trails visible in the client's region (shadow
// trails of multi-region trails included), or with allRegions every trail
// of the account, sorted by name and home region.
func fetchTrails(ctx context.Context, cl *client.Client, allRegions bool) ([]trailRow, error) {
	yes := true
	in := cloudtrailwire.DescribeTrailsInput{IncludeShadowTrails: &yes}
	if allRegions {
		var token *string
		for {
			var page cloudtrailwire.ListTrailsOutput
			if _, err := callCloudTrail(ctx, cl, "ListTrails", cloudtrailwire.ListTrailsInput{NextToken: token}, &page); err != nil {
				return nil, err
			}
			for _, t := range page.Trails {
				in.TrailNameList = append(in.TrailNameList, t.TrailARN)
			}
			if page.NextToken == "" {
				break
			}
			token = &page.NextToken
		}
		if len(in.TrailNameList) == 0 {
			return nil, nil
		}
	}
	var out struct {
		TrailList []json.RawMessage `json:"trailList"`
	}
	if _, err := callCloudTrail(ctx, cl, "DescribeTrails", in, &out); err != nil {
		return nil, err
	}
	rows := make([]trailRow, 0, len(out.TrailList))
	for _, raw := range out.TrailList {
		r := trailRow{raw: raw}
		if err := json.Unmarshal(raw, &r.info); err != nil {
			return nil, fmt.Errorf("unexpected DescribeTrails answer: %w", err)
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b trailRow) int {
		return cmp.Or(cmp.Compare(a.info.Name, b.info.Name), cmp.Compare(a.info.HomeRegion, b.info.HomeRegion),
			cmp.Compare(a.info.TrailARN, b.info.TrailARN))
	})
	return rows, nil
}

// writeTrailTable prints one line per trail, ages relative to now.
func writeTrailTable(w io.Writer, rows []trailRow, now time.Time) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tHOME REGION\tMULTI-REGION\tLOGGING\tBUCKET\tDELIVERED THROUGH\tLAST ERROR")
	for _, r := range rows {
		through := "-"
		if t := r.status.DeliveredThroughTime; t != nil && !t.IsZero() {
			through = age(t.Time, now)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.info.Name, r.info.HomeRegion, yesNo(r.info.IsMultiRegionTrail),
			yesNo(r.status.IsLogging), bucketURL(r.info.S3BucketName, r.info.S3KeyPrefix), through,
			dash(oneLine(r.status.LatestDeliveryError)))
	}
	return tw.Flush()
}

// trailDetails is everything `trails show` reads about one trail; its
// JSON form is what `trails show --json` prints.
type trailDetails struct {
	Trail            json.RawMessage // the trail object of DescribeTrails
	Status           json.RawMessage // GetTrailStatus
	EventSelectors   json.RawMessage // GetEventSelectors
	InsightSelectors json.RawMessage // GetInsightSelectors; null when Insights are off
	Tags             json.RawMessage // ListTags

	info      cloudtrailwire.TrailInfo
	status    cloudtrailwire.GetTrailStatusOutput
	selectors cloudtrailwire.EventSelectorsOutput
	insights  []cloudtrailwire.InsightSelector
	tags      []cloudtrailwire.ChannelTag
}

func (c *trailsCmd) show(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "trails show", "NAME|ARN [--json] [flags]")
	var (
		cf     clientFlags
		asJSON bool
	)
	cf.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print the raw answers (trail, status, event selectors, insight selectors, tags) as one JSON object")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	cl, err := cf.client(ctx)
	if err != nil {
		return err
	}
	d, err := fetchTrail(ctx, cl, pos[0])
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.env.Stdout, d)
	}
	return writeTrailDetails(c.env.Stdout, d, time.Now())
}

// fetchTrail reads one trail, named by name or ARN, and all that is known
// about it.
func fetchTrail(ctx context.Context, cl *client.Client, ref string) (*trailDetails, error) {
	yes := true
	var list struct {
		TrailList []json.RawMessage `json:"trailList"`
	}
	in := cloudtrailwire.DescribeTrailsInput{TrailNameList: []string{ref}, IncludeShadowTrails: &yes}
	if _, err := callCloudTrail(ctx, cl, "DescribeTrails", in, &list); err != nil {
		return nil, trailError(err, ref, cl.Region)
	}
	if len(list.TrailList) == 0 {
		return nil, notFound(ref, cl.Region, nil)
	}
	d := &trailDetails{Trail: list.TrailList[0]}
	if err := json.Unmarshal(d.Trail, &d.info); err != nil {
		return nil, fmt.Errorf("unexpected DescribeTrails answer: %w", err)
	}
	arn := d.info.TrailARN
	var err error
	if d.Status, err = callCloudTrail(ctx, cl, "GetTrailStatus", cloudtrailwire.TrailNameInput{Name: &arn}, &d.status); err != nil {
		return nil, trailError(err, ref, cl.Region)
	}
	if d.EventSelectors, err = callCloudTrail(ctx, cl, "GetEventSelectors", cloudtrailwire.TrailNameRefInput{TrailName: &arn}, &d.selectors); err != nil {
		return nil, trailError(err, ref, cl.Region)
	}
	var ins cloudtrailwire.InsightSelectorsOutput
	d.InsightSelectors, err = callCloudTrail(ctx, cl, "GetInsightSelectors", cloudtrailwire.TrailNameRefInput{TrailName: &arn}, &ins)
	switch {
	case isCode(err, codeInsightNotEnabled):
		d.InsightSelectors = json.RawMessage("null")
	case err != nil:
		return nil, trailError(err, ref, cl.Region)
	default:
		d.insights = ins.InsightSelectors
	}
	var tags cloudtrailwire.ListTagsOutput
	if d.Tags, err = callCloudTrail(ctx, cl, "ListTags", cloudtrailwire.ListTagsInput{ResourceIDList: []string{arn}}, &tags); err != nil {
		return nil, trailError(err, ref, cl.Region)
	}
	for _, rt := range tags.ResourceTagList {
		if rt.ResourceID == arn {
			d.tags = append(d.tags, rt.TagsList...)
		}
	}
	return d, nil
}

// showKeyWidth is the width of the "key:" column of `trails show`.
const showKeyWidth = 24

// writeTrailDetails prints d as "key: value" lines, ages relative to now.
func writeTrailDetails(w io.Writer, d *trailDetails, now time.Time) error {
	var b bytes.Buffer
	kv := func(k, v string) { fmt.Fprintf(&b, "%-*s%s\n", showKeyWidth, k+":", v) }
	sub := func(s string) { fmt.Fprintf(&b, "  %s\n", s) }
	i, st := &d.info, &d.status

	kv("Name", i.Name)
	kv("ARN", i.TrailARN)
	kv("Home region", i.HomeRegion)
	kv("Bucket", i.S3BucketName)
	kv("Key prefix", dash(i.S3KeyPrefix))
	logs, digests, note := logLocations(i)
	kv("Log files", logs+note)
	if i.LogFileValidationEnabled {
		kv("Digest files", digests+note)
	}
	kv("Multi-region", yesNo(i.IsMultiRegionTrail))
	kv("Global service events", yesNo(i.IncludeGlobalServiceEvents))
	kv("Organization trail", yesNo(i.IsOrganizationTrail))
	kv("Log file validation", yesNo(i.LogFileValidationEnabled))
	if i.SnsTopicARN != "" {
		kv("SNS topic", i.SnsTopicARN)
	}
	if i.CloudWatchLogsLogGroupArn != "" {
		kv("CloudWatch Logs group", i.CloudWatchLogsLogGroupArn)
		kv("CloudWatch Logs role", dash(i.CloudWatchLogsRoleArn))
	}
	if i.KmsKeyID != "" {
		kv("KMS key", i.KmsKeyID)
	}

	sel := &d.selectors
	switch {
	case len(sel.AdvancedEventSelectors) > 0:
		kv("Event selectors", "advanced, "+plural(len(sel.AdvancedEventSelectors), "selector"))
		for n, s := range sel.AdvancedEventSelectors {
			sub(fmt.Sprintf("%d. %s", n+1, describeAdvanced(s)))
		}
	case !i.HasCustomEventSelectors:
		kv("Event selectors", "default: all management events, no data events")
	default:
		kv("Event selectors", "basic, "+plural(len(sel.EventSelectors), "selector"))
		for n, s := range sel.EventSelectors {
			sub(fmt.Sprintf("%d. %s", n+1, describeBasic(s)))
		}
	}
	kv("Insights", describeInsights(d.insights))
	kv("Tags", describeTags(d.tags))

	kv("Logging", yesNo(st.IsLogging))
	kv("Logging started", stamp(st.StartLoggingTime, now, "never"))
	kv("Logging stopped", stamp(st.StopLoggingTime, now, "-"))
	kv("Latest delivery", stamp(st.LatestDeliveryTime, now, "never"))
	kv("Latest attempt", describeAttempt(st, now))
	kv("Latest error", dash(oneLine(st.LatestDeliveryError)))
	kv("Delivered through", stamp(st.DeliveredThroughTime, now, "-"))
	if i.LogFileValidationEnabled || st.LatestDigestDeliveryTime != nil || st.LatestDigestDeliveryError != "" {
		kv("Latest digest", stamp(st.LatestDigestDeliveryTime, now, "never"))
		kv("Latest digest error", dash(oneLine(st.LatestDigestDeliveryError)))
	}
	_, err := w.Write(b.Bytes())
	return err
}

// logLocations returns where a trail's log and digest files go, as S3 URLs
// of the day folders, and a note for placeholders left in them. The
// layout is package layout's.
func logLocations(i *cloudtrailwire.TrailInfo) (logs, digests, note string) {
	account := "<account>"
	if f := strings.Split(i.TrailARN, ":"); len(f) >= 6 && f[4] != "" {
		account = f[4] // arn:partition:cloudtrail:region:account:trail/name
	}
	region := i.HomeRegion
	var notes []string
	if i.IsMultiRegionTrail {
		region = "<region>"
		notes = append(notes, "a folder per region")
	}
	org := ""
	if i.IsOrganizationTrail {
		org, account = "<organization-id>", "<account>"
		notes = append(notes, "a folder per member account")
	}
	base := "s3://" + i.S3BucketName + "/"
	logs = base + layout.Folder(layout.LogTree, i.S3KeyPrefix, org, account, region) + "YYYY/MM/DD/"
	digests = base + layout.DigestFolder(i.S3KeyPrefix, org, account, region) + "YYYY/MM/DD/"
	if len(notes) > 0 {
		note = " (" + strings.Join(notes, ", ") + ")"
	}
	return logs, digests, note
}

// describeBasic puts a basic event selector in words.
func describeBasic(s trail.EventSelector) string {
	var parts []string
	switch s.ReadWriteType {
	case "ReadOnly":
		parts = append(parts, "read-only events")
	case "WriteOnly":
		parts = append(parts, "write-only events")
	default:
		parts = append(parts, "read and write events")
	}
	mgmt := s.IncludeManagementEvents == nil || *s.IncludeManagementEvents
	parts = append(parts, "management events: "+yesNo(mgmt))
	if mgmt && len(s.ExcludeManagementEventSources) > 0 {
		parts = append(parts, "excluding "+strings.Join(s.ExcludeManagementEventSources, ", "))
	}
	if len(s.DataResources) == 0 {
		parts = append(parts, "data events: none")
	} else {
		res := make([]string, 0, len(s.DataResources))
		for _, dr := range s.DataResources {
			res = append(res, dr.Type+" ("+describeValues(dr.Values)+")")
		}
		parts = append(parts, "data events: "+strings.Join(res, ", "))
	}
	return strings.Join(parts, "; ")
}

// describeValues lists a data resource's ARNs; a bare service ARN such as
// "arn:aws:s3:::" or "arn:aws:lambda" stands for every resource.
func describeValues(vals []string) string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if strings.Count(strings.TrimRight(v, ":"), ":") <= 2 {
			out = append(out, "all")
		} else {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// describeAdvanced puts an advanced event selector in words: its name and
// the conditions an event must meet.
func describeAdvanced(s trail.AdvancedEventSelector) string {
	name := "(unnamed)"
	if s.Name != "" {
		name = fmt.Sprintf("%q", s.Name)
	}
	var conds []string
	for _, f := range s.FieldSelectors {
		add := func(vals []string, one, many string) {
			switch len(vals) {
			case 0:
			case 1:
				conds = append(conds, fmt.Sprintf("%s %s %s", f.Field, one, vals[0]))
			default:
				conds = append(conds, fmt.Sprintf("%s %s %s", f.Field, many, strings.Join(vals, ", ")))
			}
		}
		add(f.Equals, "=", "is one of")
		add(f.NotEquals, "!=", "is none of")
		add(f.StartsWith, "starts with", "starts with one of")
		add(f.NotStartsWith, "does not start with", "starts with none of")
		add(f.EndsWith, "ends with", "ends with one of")
		add(f.NotEndsWith, "does not end with", "ends with none of")
	}
	if len(conds) == 0 {
		return name + ": every event"
	}
	return name + ": " + strings.Join(conds, " and ")
}

// describeInsights lists the Insights types, each with its event
// categories when given.
func describeInsights(ins []cloudtrailwire.InsightSelector) string {
	if len(ins) == 0 {
		return "none"
	}
	out := make([]string, 0, len(ins))
	for _, is := range ins {
		s := is.InsightType
		if len(is.EventCategories) > 0 {
			s += " (" + strings.Join(is.EventCategories, ", ") + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// describeTags lists tags as key=value, sorted by key.
func describeTags(tags []cloudtrailwire.ChannelTag) string {
	if len(tags) == 0 {
		return "none"
	}
	tags = slices.Clone(tags)
	slices.SortFunc(tags, func(a, b cloudtrailwire.ChannelTag) int { return cmp.Compare(a.Key, b.Key) })
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		v := ""
		if t.Value != nil {
			v = *t.Value
		}
		out = append(out, t.Key+"="+v)
	}
	return strings.Join(out, ", ")
}

// describeAttempt reports the latest delivery attempt and whether it
// succeeded: GetTrailStatus gives the time of the latest attempt and of
// the latest successful one, as strings.
func describeAttempt(st *cloudtrailwire.GetTrailStatusOutput, now time.Time) string {
	if st.LatestDeliveryAttemptTime == "" {
		return "never"
	}
	t, err := time.Parse(legacyTimeLayout, st.LatestDeliveryAttemptTime)
	if err != nil {
		return st.LatestDeliveryAttemptTime
	}
	outcome := "failed"
	if st.LatestDeliveryAttemptSucceeded == st.LatestDeliveryAttemptTime {
		outcome = "succeeded"
	}
	return fmt.Sprintf("%s (%s), %s", t.UTC().Format(time.RFC3339), age(t, now), outcome)
}

// stamp formats an API time as UTC RFC 3339 with its age, or none when
// absent.
func stamp(t *awsapi.Time, now time.Time, none string) string {
	if t == nil || t.IsZero() {
		return none
	}
	return fmt.Sprintf("%s (%s)", t.UTC().Format(time.RFC3339), age(t.Time, now))
}

// age says how long before now t was: "12s ago", "5m ago", "3h20m ago",
// "4d ago". A time more than a second ahead of now (clock skew) reads
// "in 3s".
func age(t, now time.Time) string {
	d := now.Sub(t)
	ahead := d <= -time.Second
	if d < 0 {
		d = -d
	}
	var s string
	switch {
	case !ahead && d < time.Second:
		s = "0s"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", d/time.Second)
	case d < time.Hour:
		s = fmt.Sprintf("%dm", d/time.Minute)
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", d/time.Hour)
		if m := d % time.Hour / time.Minute; m > 0 {
			s += fmt.Sprintf("%dm", m)
		}
	default:
		s = fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	if ahead {
		return "in " + s
	}
	return s + " ago"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// bucketURL is s3://bucket/prefix, the place a trail's files go under.
func bucketURL(bucket, prefix string) string {
	if prefix == "" {
		return "s3://" + bucket
	}
	return "s3://" + bucket + "/" + prefix
}

// callCloudTrail sends one CloudTrail operation (AWS JSON 1.1, signed for
// the cloudtrail service) with in as its request, decodes the answer into
// out and returns the answer as received.
func callCloudTrail(ctx context.Context, cl *client.Client, op string, in, out any) (json.RawMessage, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", op, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amz-Target", "CloudTrail_20131101."+op)
	raw, err := cl.Do(ctx, "cloudtrail", http.MethodPost, "/", h, body)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("unexpected %s answer: %w", op, err)
	}
	return raw, nil
}

// isCode reports whether err is the server's answer with that error code.
func isCode(err error, code string) bool {
	var ae *client.APIError
	return errors.As(err, &ae) && ae.Code == code
}

// trailError turns the server's TrailNotFoundException for ref into the
// command's own not-found error; other errors pass unchanged.
func trailError(err error, ref, region string) error {
	if isCode(err, codeTrailNotFound) {
		return notFound(ref, region, err)
	}
	return err
}

// hintError is an error with advice on what to do about it. Main prints an
// error on one line; the hint follows on a line of its own, as Main
// prints client.Hint's.
type hintError struct {
	msg, hint string
	err       error // the server's answer, if any
}

func (e *hintError) Error() string { return e.msg + "\nhint: " + e.hint }
func (e *hintError) Unwrap() error { return e.err }

// notFound reports that no trail ref is visible in region.
func notFound(ref, region string, cause error) error {
	msg := fmt.Sprintf("no trail named %q in %s", ref, region)
	if trail.IsARN(ref) {
		msg = fmt.Sprintf("no trail with ARN %s", ref)
	}
	return &hintError{
		msg:  msg,
		hint: "run `opentrail trails` to list the trails in this region, or `opentrail trails --all-regions` for every region",
		err:  cause,
	}
}

// parseInterspersed parses args with fs (flags may follow positional
// arguments: `trails show NAME --json`) and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	return fs.Args(), nil
}

// withMember returns the JSON object obj with the member key: val added at
// its end, keeping the members it has in their order.
func withMember(obj json.RawMessage, key string, val json.RawMessage) (json.RawMessage, error) {
	o := bytes.TrimSpace(obj)
	if len(o) < 2 || o[0] != '{' || o[len(o)-1] != '}' {
		return nil, fmt.Errorf("not a JSON object: %.40s", o)
	}
	k, err := json.Marshal(key)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), o[:len(o)-1]...)
	if len(bytes.TrimSpace(out[1:])) > 0 {
		out = append(out, ',')
	}
	out = append(out, k...)
	out = append(out, ':')
	if len(bytes.TrimSpace(val)) == 0 {
		val = json.RawMessage("null")
	}
	out = append(out, val...)
	out = append(out, '}')
	if !json.Valid(out) {
		return nil, fmt.Errorf("not a JSON object: %.40s", o)
	}
	return out, nil
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
