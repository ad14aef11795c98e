package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/objstore"
)

// validateLogsCmd is `opentrail validate-logs`: `aws cloudtrail
// validate-logs` (CLI 2.9.19) with the same flags, output lines and exit
// codes, checked with opentrail's stricter validator (internal/digest).
// It reads a trail's files through opentrail's S3 API, another
// S3-compatible service (--s3-endpoint-url) or a local copy (--dir). A
// copy made with `aws s3 cp --recursive` has no object metadata: the
// newest digest's signature is then fetched from the bucket the copy was
// made from (opentrail's S3 API, or --s3-endpoint-url), or, when that is
// not possible, reported as not available in this copy: exit status 3,
// not 1.
//
//	opentrail validate-logs --trail-arn ARN --start-time TIME [--end-time TIME] [--verbose]
//	    [--s3-bucket B] [--s3-prefix P] [--account-id ID] [--dir DIR] [--keys FILE]
//	    [--s3-endpoint-url URL] [--parallel N] [--json] [--lenient-gaps]
type validateLogsCmd struct{ env *Env }

func (*validateLogsCmd) Name() string { return "validate-logs" }
func (*validateLogsCmd) Synopsis() string {
	return "check a trail's log files against its signed digest files (like aws cloudtrail validate-logs)"
}

// Exit codes of `aws cloudtrail validate-logs`, and opentrail's own 3.
const (
	exitInvalid = 1 // a digest or log file is invalid
	// exitUnverified: nothing is invalid, but the signature of a digest
	// in a local copy was not available (digest.SignatureUnavailable).
	// Not an AWS CLI exit code: validate-logs reads buckets only.
	exitUnverified = 3
	exitArgs       = 252 // bad arguments
	exitService    = 254 // the server or S3 answered with an error
	exitOther      = 255 // anything else: no connection, no trail, no keys
)

// exitCodesHelp ends the command's help.
const exitCodesHelp = `
Exit status:
  0    every digest and log file in range is valid (gaps opentrail recorded are not invalid)
  1    a digest or log file is INVALID, or the chain is broken
  3    nothing is invalid, but the signature of a digest in the --dir copy is not
       available: the copy has no object metadata (aws s3 cp drops it), no newer
       digest records the signature, and it could not be fetched from the bucket
       (give --endpoint or --s3-endpoint-url, or keep KEY.meta.json beside it)
  252  bad arguments
  254  the server or S3 answered with an error
  255  anything else: no connection, no such trail, no public keys
`

// exitError ends a command with an exit code after the command has
// printed what went wrong itself. Main returns the code.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// ExitCode is the process exit code.
func (e *exitError) ExitCode() int { return e.code }

// displayTime is how validate-logs prints times.
const displayTime = "2006-01-02T15:04:05Z"

func display(t time.Time) string { return t.UTC().Format(displayTime) }

// trailARNRE is validate-logs' check of --trail-arn (a match at the start).
var trailARNRE = regexp.MustCompile(`^arn:.+:cloudtrail:.+:\d{12}:trail/.+`)

// vlArgs are the parsed arguments.
type vlArgs struct {
	cf                             clientFlags
	trailARN, startArg, endArg     string
	bucket, prefix, account        string
	prefixSet                      bool
	verbose, asJSON, lenient       bool
	dir, keysFile, s3Endpoint      string
	parallel                       int
	start, end                     time.Time
	homeRegion, trailName, arnAcct string
}

func (c *validateLogsCmd) Run(ctx context.Context, args []string) error {
	out := newVLOutput(c.env)
	a, err := c.parseArgs(args, out)
	if err != nil {
		return err
	}
	return c.run(ctx, a, out)
}

// parseArgs reads and checks the arguments in validate-logs' order:
// required flags, times, then the ARN.
func (c *validateLogsCmd) parseArgs(args []string, out *vlOutput) (*vlArgs, error) {
	usageLine := "--trail-arn ARN --start-time TIME [--end-time TIME] [--verbose] [flags]"
	fs := newFlagSet(c.env, "validate-logs", usageLine)
	a := &vlArgs{}
	a.cf.register(fs)
	fs.StringVar(&a.trailARN, "trail-arn", "", "ARN of the trail to validate (required)")
	fs.StringVar(&a.startArg, "start-time", "", "check log files delivered at or after this UTC time (required): 2024-05-06T08:00:00Z, 2024-05-06, 2024-05-06T08:00:00 or epoch seconds")
	fs.StringVar(&a.endArg, "end-time", "", "check log files delivered at or before this UTC time (default now; same forms)")
	fs.StringVar(&a.bucket, "s3-bucket", "", "bucket of the digest files (default: the trail's, from DescribeTrails)")
	fs.StringVar(&a.prefix, "s3-prefix", "", "key prefix of the digest files (default: the trail's, from DescribeTrails)")
	fs.StringVar(&a.account, "account-id", "", "account whose files to validate (required for organisation trails; default the ARN's)")
	fs.BoolVar(&a.verbose, "verbose", false, "also print every valid file")
	fs.StringVar(&a.dir, "dir", "", "validate the local copy of the bucket in `DIR` (as aws s3 cp --recursive s3://BUCKET DIR makes it) instead of reading S3; a digest signature the copy lacks is fetched from --s3-endpoint-url if given, else from the server unless the run is offline (--keys and --s3-bucket, no --endpoint or $OPENTRAIL_ENDPOINT)")
	fs.StringVar(&a.keysFile, "keys", "", "public keys in `FILE`, saved from aws cloudtrail list-public-keys (default: the server's ListPublicKeys)")
	fs.StringVar(&a.s3Endpoint, "s3-endpoint-url", "", "read the bucket from this S3-compatible endpoint (credentials from the usual AWS chain) instead of the opentrail endpoint; with --dir, only signatures the copy lacks are read from it")
	fs.IntVar(&a.parallel, "parallel", 0, "log files fetched and hashed at once (default 2 per CPU for --dir, 4 per CPU for S3)")
	fs.BoolVar(&a.asJSON, "json", false, "print one JSON object per result and a summary object instead of text")
	fs.BoolVar(&a.lenient, "lenient-gaps", false, "treat a chain that restarts without saying why as a gap, not a broken chain (for trails AWS CloudTrail delivered)")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		io.WriteString(c.env.Stderr, exitCodesHelp)
	}
	if err := fs.Parse(interspersed(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &exitError{exitArgs, "bad arguments"} // the FlagSet has said why
	}
	fs.Visit(func(f *flag.Flag) { a.prefixSet = a.prefixSet || f.Name == "s3-prefix" })
	if fs.NArg() > 0 {
		return nil, out.fatal(exitArgs, "Unknown options: "+strings.Join(fs.Args(), ", "))
	}
	var missing []string
	if a.trailARN == "" {
		missing = append(missing, "--trail-arn")
	}
	if a.startArg == "" {
		missing = append(missing, "--start-time")
	}
	if len(missing) > 0 {
		fmt.Fprintf(c.env.Stderr, "\nusage: opentrail validate-logs %s\nTo see help text, you can run:\n\n  opentrail validate-logs -h\n\n", usageLine)
		fmt.Fprintf(c.env.Stderr, "opentrail validate-logs: error: the following arguments are required: %s\n\n", strings.Join(missing, ", "))
		return nil, &exitError{exitArgs, "the following arguments are required: " + strings.Join(missing, ", ")}
	}
	var err error
	if a.start, err = parseValidateTime(a.startArg); err != nil {
		return nil, out.fatal(exitArgs, "Unable to parse date value: "+a.startArg)
	}
	a.end = time.Now().UTC()
	if a.endArg != "" {
		if a.end, err = parseValidateTime(a.endArg); err != nil {
			return nil, out.fatal(exitArgs, "Unable to parse date value: "+a.endArg)
		}
	}
	if a.start.After(a.end) {
		return nil, out.fatal(exitArgs, "Invalid time range specified: start-time must occur before end-time")
	}
	if !trailARNRE.MatchString(a.trailARN) {
		return nil, out.fatal(exitArgs, "Invalid trail ARN provided: "+a.trailARN)
	}
	f := strings.Split(a.trailARN, ":")
	a.homeRegion, a.arnAcct = f[3], f[4]
	a.trailName = a.trailARN[strings.LastIndex(a.trailARN, "/")+1:]
	switch {
	case a.parallel < 0:
		return nil, out.fatal(exitArgs, fmt.Sprintf("Invalid --parallel %d: want a positive number of log files at once", a.parallel))
	}
	if a.dir != "" {
		if fi, err := os.Stat(a.dir); err != nil || !fi.IsDir() {
			return nil, out.fatal(exitArgs, fmt.Sprintf("--dir %s is not a directory", a.dir))
		}
	}
	out.verbose, out.asJSON = a.verbose, a.asJSON
	return a, nil
}

// checkCopy checks that dir, given as --dir, is a copy of a bucket that
// holds the trail's files: that it has the folder [prefix/]AWSLogs. Any
// other directory (the AWSLogs folder itself, say) would give "No digests
// found" and exit 0, having checked nothing.
func checkCopy(dir, prefix string) error {
	logs := path.Join(prefix, "AWSLogs")
	if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(logs))); err == nil && fi.IsDir() {
		return nil
	}
	return fmt.Errorf("--dir %s holds no %s/ folder, so it is not a copy of the trail's bucket: give the directory the bucket was copied into (aws s3 cp --recursive s3://BUCKET DIR puts the bucket's %s/ in DIR/%s/)", dir, logs, logs, logs)
}

// parseValidateTime reads a time as users type it for validate-logs: RFC
// 3339 (offset or Z), a date, a date and time without zone (UTC), the
// compact form of digest names, or epoch seconds.
func parseValidateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	layouts := []string{
		time.RFC3339, "2006-01-02T15:04:05-0700", "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05",
		"2006-01-02 15:04:05", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15",
		"2006-01-02", "20060102T150405Z", "20060102T150405", "20060102T1504Z", "20060102",
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && s != "" && s[0] >= '0' && s[0] <= '9' && f < 1e11 {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unable to parse date value: %s", s)
}

// run validates once the arguments are known.
func (c *validateLogsCmd) run(ctx context.Context, a *vlArgs, out *vlOutput) error {
	cfg, err := client.LoadAWSConfig(ctx, a.cf.profile)
	if err != nil {
		return out.fatal(exitOther, err.Error())
	}
	region := a.cf.region
	if region == "" {
		region = cfg.Region
	}
	if region == "" {
		region = a.homeRegion // validate-logs' fallback for the source region
	}
	cl, err := client.New(ctx, client.Options{Endpoint: a.cf.endpoint, Region: region, Profile: a.cf.profile})
	if err != nil {
		return out.fatal(exitOther, err.Error())
	}

	t := digest.Trail{
		Bucket: a.bucket, Prefix: a.prefix, Account: a.account,
		SourceRegion: region, Name: a.trailName, HomeRegion: a.homeRegion,
	}
	if t.Account == "" {
		t.Account = a.arnAcct
	}
	isOrg := false
	if a.bucket == "" {
		info, err := describeTrail(ctx, cl, a.trailARN)
		if err != nil {
			return out.failure(err)
		}
		t.Bucket, isOrg = info.S3BucketName, info.IsOrganizationTrail
		if !a.prefixSet {
			t.Prefix = info.S3KeyPrefix
		}
		if isOrg && a.account == "" {
			return out.fatal(exitArgs, "Missing required parameter for organization trail: '--account-id'")
		}
	}

	if a.dir != "" {
		if err := checkCopy(a.dir, t.Prefix); err != nil {
			return out.fatal(exitArgs, err.Error())
		}
	}

	var keys keyFunc
	if a.keysFile != "" {
		b, err := os.ReadFile(a.keysFile)
		if err == nil {
			var ks []digest.PublicKey
			if ks, err = digest.ParsePublicKeys(b); err == nil {
				keys = fileKeys(ks)
			}
		}
		if err != nil {
			return out.fatal(exitArgs, fmt.Sprintf("Unable to read public keys from %s: %v", a.keysFile, err))
		}
	} else {
		keys = serverKeys(cl)
	}

	src, orgs := openSource(ctx, a, t.Bucket, cl, cfg, keys)
	if isOrg || a.bucket != "" {
		if t.OrgID, err = findOrg(ctx, orgs, t, isOrg); err != nil {
			return out.failure(err)
		}
	}

	out.startup(a.trailARN, a.start, a.end)
	ks, err := keys(ctx, a.start, a.end.Add(2*time.Hour))
	if err != nil {
		return out.failure(err)
	}
	if len(ks) == 0 {
		return out.fatal(exitOther, fmt.Sprintf("No public keys found between %s and %s", display(a.start), display(a.end)))
	}

	if isTerminal(c.env.Stderr) {
		out.prog = &progress{w: c.env.Stderr, read: src.read.Load, t0: time.Now()}
	}
	tl := newTally(a.start, a.end)
	opts := digest.Options{Start: a.start, End: a.end, Parallel: a.parallel, LenientGaps: a.lenient}
	var vsrc digest.Source = src
	if f, ok := src.src.(digest.MetadataFetcher); ok {
		vsrc = &meteredCopy{src, f} // a copy: Validate may fetch a signature it lacks
	}
	sum, err := digest.Validate(ctx, vsrc, t, opts, func(r digest.Result) {
		tl.add(r)
		out.result(r)
	})
	if err != nil {
		return out.failure(err)
	}
	out.summary(a.trailARN, tl, sum)
	if sum.Invalid() {
		return &exitError{exitInvalid, "validation found invalid files"}
	}
	if sum.Unverified() {
		return &exitError{exitUnverified, "the signature of a digest in the copy is not available"}
	}
	return nil
}

// orgFinder finds the organisation folders of a bucket or a copy.
type orgFinder interface {
	// orgFolders returns the o-… folders under t's AWSLogs/ that hold
	// digests of t's account and source region.
	orgFolders(ctx context.Context, t digest.Trail) ([]string, error)
	// hasDigests reports whether t's digest folder holds anything.
	hasDigests(ctx context.Context, t digest.Trail) (bool, error)
}

// openSource returns where the trail's files are read from: the local
// copy of --dir, the bucket at --s3-endpoint-url, or opentrail's S3 API.
func openSource(ctx context.Context, a *vlArgs, bucket string, cl *client.Client, cfg aws.Config, keys keyFunc) (*meteredSource, orgFinder) {
	if a.dir != "" {
		if a.parallel == 0 {
			a.parallel = 2 * runtime.NumCPU() // one reading while another hashes
		}
		ds := &digest.LocalCopy{Dir: a.dir, Bucket: bucket}
		switch {
		case a.s3Endpoint != "":
			ds.Remote = &s3Metadata{r: newS3Reader(a.s3Endpoint, cl.Region, cfg.Credentials, nil, 1), endpoint: a.s3Endpoint}
		case a.cf.endpoint != "" || os.Getenv("OPENTRAIL_ENDPOINT") != "" || a.keysFile == "" || a.bucket == "":
			// The server is named, or asked for the trail or the keys
			// anyway: ask it for the signatures the copy lacks too. A run
			// with --keys and --s3-bucket and no endpoint stays offline.
			ds.Remote = &s3Metadata{r: newS3Reader(cl.Endpoint, cl.Region, cl.Credentials(), cl.TLSConfig(), 1), endpoint: cl.Endpoint}
		}
		return &meteredSource{src: ds, keys: keys}, dirOrgs{a.dir}
	}
	if a.parallel == 0 {
		a.parallel = 4 * runtime.NumCPU() // requests in flight hide their latency
	}
	endpoint, creds, tlsCfg := cl.Endpoint, cl.Credentials(), cl.TLSConfig()
	if a.s3Endpoint != "" {
		endpoint, creds, tlsCfg = a.s3Endpoint, cfg.Credentials, nil
	}
	s := &s3Source{r: newS3Reader(endpoint, cl.Region, creds, tlsCfg, a.parallel), keys: keys}
	return &meteredSource{src: s, keys: keys}, s
}

// s3Metadata fetches, for a local copy, the metadata of an object of the
// bucket the copy was made from: a HEAD on the same key.
type s3Metadata struct {
	r        *objstore.S3Reader
	endpoint string
}

// fetchTimeout bounds one FetchMetadata, so that an unreachable endpoint
// costs a warning, not a hang.
const fetchTimeout = 30 * time.Second

func (m *s3Metadata) FetchMetadata(ctx context.Context, o digest.ObjectRef) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	in, err := m.r.Head(ctx, o.Bucket, o.Key)
	if err != nil {
		if err = s3Error(o, err); errors.Is(err, digest.ErrNotFound) {
			return nil, fmt.Errorf("%s is %w at %s", o, digest.ErrNotFound, m.endpoint)
		}
		if ue, ok := errors.AsType[*url.Error](err); ok {
			return nil, fmt.Errorf("could not reach %s: %v", m.endpoint, ue.Err)
		}
		return nil, fmt.Errorf("%s at %s: %w", o, m.endpoint, err)
	}
	meta := in.Meta
	if meta == nil {
		meta = map[string]string{}
	}
	return meta, nil
}

// meteredCopy is the meteredSource of a local copy: a MetadataFetcher.
type meteredCopy struct {
	*meteredSource
	f digest.MetadataFetcher
}

func (m *meteredCopy) FetchMetadata(ctx context.Context, o digest.ObjectRef) (map[string]string, error) {
	return m.f.FetchMetadata(ctx, o)
}

// findOrg returns the organisation id under which t's digests lie, or ""
// when there is none. Organisation trails keep their files under
// AWSLogs/o-…/account/: validate-logs asks Organizations for the id,
// opentrail finds the folder. When the trail's kind is unknown (isOrg
// false: --s3-bucket was given), it looks only if the account has no
// digests at the top level.
func findOrg(ctx context.Context, orgs orgFinder, t digest.Trail, isOrg bool) (string, error) {
	if !isOrg {
		if has, err := orgs.hasDigests(ctx, t); err != nil || has {
			return "", err
		}
	}
	ids, err := orgs.orgFolders(ctx, t)
	switch {
	case err != nil:
		return "", err
	case len(ids) > 1:
		return "", fmt.Errorf("digest files of account %s are under several organizations in s3://%s: %s; validate a copy holding one",
			t.Account, t.Bucket, strings.Join(ids, ", "))
	case len(ids) == 1:
		return ids[0], nil
	}
	return "", nil
}

// trailInfo is what validate-logs reads from DescribeTrails.
type trailInfo struct {
	TrailARN            string
	S3BucketName        string
	S3KeyPrefix         string
	IsOrganizationTrail bool
}

// describeTrail finds the trail with ARN arn among those DescribeTrails
// returns for an empty request, as validate-logs does.
func describeTrail(ctx context.Context, cl *client.Client, arn string) (*trailInfo, error) {
	var out struct {
		TrailList []trailInfo `json:"trailList"`
	}
	if _, err := callCloudTrail(ctx, cl, "DescribeTrails", struct{}{}, &out); err != nil {
		return nil, opError("DescribeTrails", err)
	}
	for i := range out.TrailList {
		if out.TrailList[i].TrailARN == arn {
			return &out.TrailList[i], nil
		}
	}
	return nil, errors.New("A trail could not be found for " + arn) // the AWS CLI's words, printed as they are
}

// tally counts results by kind and status, and the range validate-logs
// reports as found.
type tally struct {
	start, end           time.Time
	foundStart, foundEnd time.Time // foundEnd zero: no valid digest yet
	count                map[digest.Kind]map[digest.Status]int
}

func newTally(start, end time.Time) *tally {
	return &tally{start: start, end: end, foundStart: start, count: map[digest.Kind]map[digest.Status]int{}}
}

func (t *tally) add(r digest.Result) {
	if t.count[r.Kind] == nil {
		t.count[r.Kind] = map[digest.Status]int{}
	}
	t.count[r.Kind][r.Status]++
	if r.Kind != digest.KindDigest || (r.Status != digest.Valid && r.Status != digest.SignatureUnavailable) || r.Backfill {
		return
	}
	// validate-logs' reckoning: the start of the last valid digest that
	// starts after the requested start, and the end of the first (the
	// newest), capped at the requested end.
	if r.Start.After(t.start) {
		t.foundStart = r.Start
	}
	if t.foundEnd.IsZero() {
		t.foundEnd = r.End
		if t.end.Before(r.End) {
			t.foundEnd = t.end
		}
	}
}

// statusOrder lists statuses in the order the summary names them.
var statusOrder = []digest.Status{
	digest.Valid, digest.NotFound, digest.InvalidFormat, digest.BadSignature, digest.Moved,
	digest.NoPublicKey, digest.HashMismatch, digest.ChainBroken, digest.Explained, digest.SignatureUnavailable,
}

// vlOutput writes validate-logs' output: results on stdout (valid ones
// with --verbose) and stderr (problems, each followed by a blank line,
// as validate-logs spaces them), or JSON lines with --json.
type vlOutput struct {
	out             *bufio.Writer
	errw            io.Writer
	verbose, asJSON bool
	// doubleSpaced: the last status line written ended with a blank line
	// (validate-logs' _is_last_status_double_space).
	doubleSpaced bool
	prog         *progress
}

func newVLOutput(env *Env) *vlOutput {
	return &vlOutput{out: bufio.NewWriterSize(env.Stdout, 64<<10), errw: env.Stderr, doubleSpaced: true}
}

// stderr writes s to stderr, keeping stdout's order and the progress line
// out of its way.
func (o *vlOutput) stderr(s string) {
	o.out.Flush()
	if o.prog != nil {
		o.prog.clear()
	}
	io.WriteString(o.errw, s)
}

// fatal prints msg as the AWS CLI prints an error and returns the exit
// error for code.
func (o *vlOutput) fatal(code int, msg string) error {
	o.stderr("\n" + msg + "\n")
	return &exitError{code, msg}
}

// failure reports an error that stopped validation: a service error (254)
// as the AWS CLI words it, a connection failure or anything else (255).
func (o *vlOutput) failure(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return o.fatal(exitOther, fmt.Sprintf("Could not connect to the endpoint URL: %q", ue.URL))
	}
	if ae, ok := errors.AsType[*client.APIError](err); ok {
		op := "unknown"
		if oe, ok := errors.AsType[*opErr](err); ok {
			op = oe.op
		}
		code := ae.Code
		if code == "" {
			code = strconv.Itoa(ae.Status)
		}
		return o.fatal(exitService, fmt.Sprintf("An error occurred (%s) when calling the %s operation: %s", code, op, ae.Message))
	}
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		op := "unknown"
		if oe, ok := errors.AsType[*smithy.OperationError](err); ok {
			op = oe.Operation()
		}
		return o.fatal(exitService, fmt.Sprintf("An error occurred (%s) when calling the %s operation: %s", ae.ErrorCode(), op, ae.ErrorMessage()))
	}
	return o.fatal(exitOther, err.Error())
}

// startup prints validate-logs' first line.
func (o *vlOutput) startup(arn string, start, end time.Time) {
	if !o.asJSON {
		fmt.Fprintf(o.out, "Validating log files for trail %s between %s and %s\n\n", arn, display(start), display(end))
	}
}

// resultLine is a result as validate-logs prints it, TAB separated, and
// whether it is a problem (stderr). opentrail's own findings use the same
// form: a broken chain is "Gap  s3://newer-digest  INVALID: chain broken
// between …", an explained gap validate-logs' "No log files were
// delivered …" line followed by the recorded reason; the detail of an
// invalid file follows as a fourth field.
func resultLine(r digest.Result) (line string, problem bool) {
	pre := ""
	if r.Backfill {
		pre = "(backfill) "
	}
	switch {
	case r.Kind == digest.KindGap && r.Status == digest.Explained:
		line = fmt.Sprintf("No log files were delivered by CloudTrail between %s and %s", display(r.Start), display(r.End))
		if reason, ok := strings.CutPrefix(r.Detail, "opentrailGap: "); ok {
			line += "\t" + reason
		}
		return pre + line, true
	case r.Kind == digest.KindGap:
		line = fmt.Sprintf("Gap\t%s\tINVALID: %s between %s and %s", r.Object, r.Status, display(r.Start), display(r.End))
	case r.Status == digest.Valid:
		return fmt.Sprintf("%s%s\t%s\tvalid", pre, r.Kind, r.Object), false
	case r.Status == digest.SignatureUnavailable:
		// Not invalid, and always shown: a warning.
		line = fmt.Sprintf("%s\t%s\tWARNING: %s", r.Kind, r.Object, r.Status)
	case r.Status == digest.NoPublicKey:
		// The detail is part of validate-logs' text.
		return fmt.Sprintf("%s%s\t%s\tINVALID: %s %s", pre, r.Kind, r.Object, r.Status, r.Detail), true
	default:
		line = fmt.Sprintf("%s\t%s\tINVALID: %s", r.Kind, r.Object, invalidText(r))
	}
	if r.Detail != "" {
		line += "\t" + oneLine(r.Detail)
	}
	return pre + line, true
}

// invalidText is the text after "INVALID: ".
func invalidText(r digest.Result) string {
	const pkcs1 = "unable to load PKCS #1 key with fingerprint "
	if r.Status == digest.BadSignature && strings.HasPrefix(r.Detail, pkcs1) {
		fp, _, _ := strings.Cut(strings.TrimPrefix(r.Detail, pkcs1), ":")
		return "Unable to load PKCS #1 key with fingerprint " + fp
	}
	return string(r.Status)
}

// result prints one result.
func (o *vlOutput) result(r digest.Result) {
	if o.prog != nil {
		defer o.prog.add()
	}
	if o.asJSON {
		o.writeJSON(newJSONResult(r))
		return
	}
	line, problem := resultLine(r)
	switch {
	case problem:
		if o.doubleSpaced {
			o.stderr(line + "\n\n")
		} else {
			o.stderr("\n" + line + "\n\n")
		}
		o.doubleSpaced = true
	case o.verbose:
		o.doubleSpaced = false
		o.out.WriteString(line + "\n")
	}
}

func (o *vlOutput) writeJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode JSON: %v", err)) // strings, numbers and maps of them
	}
	o.out.Write(append(b, '\n'))
}

// summary prints validate-logs' summary, then, when anything was
// invalid, a count per outcome, and flushes.
func (o *vlOutput) summary(arn string, tl *tally, sum digest.Summary) {
	defer o.out.Flush()
	if o.prog != nil {
		o.prog.clear()
	}
	if o.asJSON {
		o.writeJSON(newJSONSummary(arn, tl, sum))
		return
	}
	w := o.out
	if !o.doubleSpaced {
		w.WriteString("\n")
	}
	fmt.Fprintf(w, "Results requested for %s to %s\n", display(tl.start), display(tl.end))
	if sum.DigestsValid == 0 && sum.DigestsInvalid == 0 && sum.DigestsUnverified == 0 {
		w.WriteString("No digests found\n")
		return
	}
	if tl.foundEnd.IsZero() {
		w.WriteString("No valid digests found in range\n")
	} else {
		fmt.Fprintf(w, "Results found for %s to %s:\n", display(tl.foundStart), display(tl.foundEnd))
	}
	ratio := func(valid, invalid, unverified int, name string) {
		if total := valid + invalid + unverified; total > 0 {
			fmt.Fprintf(w, "\n%d/%d %s files valid", valid, total, name)
			if invalid > 0 {
				fmt.Fprintf(w, ", %d/%d %s files INVALID", invalid, total, name)
			}
			if unverified > 0 {
				fmt.Fprintf(w, ", %d/%d %s files unverified (%s)", unverified, total, name, digest.SignatureUnavailable)
			}
		}
	}
	ratio(sum.DigestsValid, sum.DigestsInvalid, sum.DigestsUnverified, "digest")
	ratio(sum.LogsValid, sum.LogsInvalid, 0, "log")
	w.WriteString("\n")
	if sum.Unverified() {
		n := "1 digest file"
		if sum.DigestsUnverified > 1 {
			n = fmt.Sprintf("%d digest files", sum.DigestsUnverified)
		}
		fmt.Fprintf(w, "\nWARNING: the signature of %s is not available in this copy (aws s3 cp does not copy object metadata, "+
			"and no newer digest records it): everything else was checked, and its log files match it, but nothing vouches for it. "+
			"Give --endpoint (opentrail) or --s3-endpoint-url (the bucket) to fetch it, or save `aws s3api head-object` output "+
			"for it as KEY%s beside it. Exit status 3.\n", n, digest.MetaSuffix)
	}
	if !sum.Invalid() {
		return // what validate-logs prints, to the byte
	}
	w.WriteString("\n")
	for _, k := range []struct {
		kind digest.Kind
		name string
	}{{digest.KindDigest, "Digest files"}, {digest.KindLog, "Log files"}, {digest.KindGap, "Gaps"}} {
		var parts []string
		for _, st := range statusOrder {
			if n := tl.count[k.kind][st]; n > 0 {
				name := string(st)
				switch st {
				case digest.Explained:
					name = "explained"
				case digest.SignatureUnavailable:
					name = "unverified"
				}
				parts = append(parts, fmt.Sprintf("%d %s", n, name))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "%s: %s\n", k.name, strings.Join(parts, ", "))
		}
	}
}

// jsonResult is one result as --json prints it.
type jsonResult struct {
	Type     string `json:"type"` // "result"
	Kind     string `json:"kind"` // "Digest file", "Log file" or "Gap"
	Object   string `json:"object"`
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	Status   string `json:"status"`
	Invalid  bool   `json:"invalid"`
	Detail   string `json:"detail,omitempty"`
	Start    string `json:"start,omitempty"`
	End      string `json:"end,omitempty"`
	Backfill bool   `json:"backfill,omitempty"`
}

func newJSONResult(r digest.Result) jsonResult {
	j := jsonResult{
		Type: "result", Kind: string(r.Kind), Object: r.Object.String(), Bucket: r.Object.Bucket, Key: r.Object.Key,
		Status: string(r.Status), Invalid: r.Invalid(), Detail: r.Detail, Backfill: r.Backfill,
	}
	if !r.Start.IsZero() {
		j.Start = display(r.Start)
	}
	if !r.End.IsZero() {
		j.End = display(r.End)
	}
	return j
}

// jsonCounts counts one kind of file by status.
type jsonCounts struct {
	Valid    int            `json:"valid"`
	Invalid  int            `json:"invalid"`
	ByStatus map[string]int `json:"byStatus"`
}

// jsonSummary is the last line --json prints.
type jsonSummary struct {
	Type           string     `json:"type"` // "summary"
	TrailARN       string     `json:"trailArn"`
	RequestedStart string     `json:"requestedStart"`
	RequestedEnd   string     `json:"requestedEnd"`
	FoundStart     string     `json:"foundStart,omitempty"`
	FoundEnd       string     `json:"foundEnd,omitempty"`
	DigestFiles    jsonCounts `json:"digestFiles"`
	LogFiles       jsonCounts `json:"logFiles"`
	Gaps           int        `json:"gaps"`        // explained
	BrokenLinks    int        `json:"brokenLinks"` // chain broken
	// SignatureUnavailable counts digests of a copy whose signature was
	// not available (exit status 3 when nothing is invalid).
	SignatureUnavailable int  `json:"signatureUnavailable"`
	Valid                bool `json:"valid"` // exit status 0
}

func newJSONSummary(arn string, tl *tally, sum digest.Summary) jsonSummary {
	counts := func(k digest.Kind, valid, invalid int) jsonCounts {
		c := jsonCounts{Valid: valid, Invalid: invalid, ByStatus: map[string]int{}}
		for st, n := range tl.count[k] {
			c.ByStatus[string(st)] = n
		}
		return c
	}
	j := jsonSummary{
		Type: "summary", TrailARN: arn, RequestedStart: display(tl.start), RequestedEnd: display(tl.end),
		DigestFiles: counts(digest.KindDigest, sum.DigestsValid, sum.DigestsInvalid),
		LogFiles:    counts(digest.KindLog, sum.LogsValid, sum.LogsInvalid),
		Gaps:        sum.Gaps, BrokenLinks: sum.Broken, SignatureUnavailable: sum.DigestsUnverified,
		Valid: !sum.Invalid() && !sum.Unverified(),
	}
	if !tl.foundEnd.IsZero() {
		j.FoundStart, j.FoundEnd = display(tl.foundStart), display(tl.foundEnd)
	}
	return j
}

// progress redraws one line on a terminal: files checked and the rate
// they are read at.
type progress struct {
	w     io.Writer
	read  func() int64 // bytes read so far
	t0    time.Time
	last  time.Time
	files int
	shown bool
}

func (p *progress) add() {
	p.files++
	if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond {
		p.last = now
		mbs := float64(p.read()) / 1e6 / max(now.Sub(p.t0).Seconds(), 1e-3)
		fmt.Fprintf(p.w, "\r\033[Kchecked %d files, %.1f MB/s read", p.files, mbs)
		p.shown = true
	}
}

func (p *progress) clear() {
	if p.shown {
		io.WriteString(p.w, "\r\033[K")
		p.shown = false
	}
}
