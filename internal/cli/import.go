package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/objstore"
)

type importCmd struct{ env *Env }

func (*importCmd) Name() string { return "import" }
func (*importCmd) Synopsis() string {
	return "import existing CloudTrail logs (directory, file or s3://bucket/prefix) into a server or store"
}

// listFlag is a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// timeFlag accepts RFC 3339 or a date (YYYY-MM-DD, UTC midnight).
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}
func (f *timeFlag) Set(v string) error {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			f.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("%q is not an RFC 3339 time or YYYY-MM-DD date", v)
}

func (c *importCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "import", "[flags] SOURCE... (directory, file or s3://bucket/prefix)")
	var (
		endpoint, profile, data, statePath, s3Endpoint, s3Region string
		caBundle                                                 string
		accounts, regions                                        listFlag
		start, end                                               timeFlag
		parallel, batch                                          int
		fresh, pathStyle, quiet                                  bool
	)
	fs.StringVar(&endpoint, "endpoint", "", "server URL to send events to (default $OPENTRAIL_ENDPOINT or "+client.DefaultEndpoint+")")
	fs.StringVar(&profile, "profile", "", "AWS profile for the server's and S3's credentials")
	fs.StringVar(&caBundle, "ca-bundle", "", "PEM file of the CA certificates an https --endpoint must chain to (default $AWS_CA_BUNDLE)")
	fs.StringVar(&data, "data", "", "write into the store in this data directory instead of a server (no server may hold it)")
	fs.Var(&accounts, "account", "import only these accounts (comma-separated or repeated)")
	fs.Var(&regions, "region", "import only these regions (comma-separated or repeated)")
	fs.Var(&start, "start-time", "import only events with eventTime at or after this (RFC 3339 or YYYY-MM-DD)")
	fs.Var(&end, "end-time", "import only events with eventTime before this (RFC 3339 or YYYY-MM-DD)")
	fs.IntVar(&parallel, "parallel", 4, "files read and batches sent at once")
	fs.IntVar(&batch, "batch", 2500, "events per batch (one commit, or one request of at most ~4 MB with --endpoint)")
	fs.StringVar(&statePath, "state", "", "resume state file (default: one per source and destination under the user cache directory)")
	fs.BoolVar(&fresh, "fresh", false, "forget earlier progress and read every file again (still adds no duplicates)")
	fs.StringVar(&s3Endpoint, "endpoint-url", "", "S3 endpoint for s3:// sources (default: AWS, or $AWS_ENDPOINT_URL)")
	fs.StringVar(&s3Region, "s3-region", "", "region of the S3 bucket (default from the AWS configuration)")
	fs.BoolVar(&pathStyle, "s3-path-style", false, "address S3 buckets path-style (most S3-compatible servers need it)")
	fs.BoolVar(&quiet, "quiet", false, "no progress output")
	if err := parse(fs, args); err != nil {
		return err
	}
	sources := fs.Args()
	if len(sources) == 0 || parallel <= 0 || batch <= 0 {
		fs.Usage()
		return errUsage
	}
	if data != "" && endpoint != "" {
		fmt.Fprintln(c.env.Stderr, "opentrail import: give --endpoint or --data, not both")
		return errUsage
	}
	if !start.t.IsZero() && !end.t.IsZero() && !start.t.Before(end.t) {
		return fmt.Errorf("--start-time %s is not before --end-time %s", start.String(), end.String())
	}

	var (
		sink importer.Sink
		dest string
	)
	if data != "" {
		st, err := importer.OpenStore(ctx, data)
		if err != nil {
			return err
		}
		defer st.Close()
		sink = importer.StoreSink{Store: st}
		abs, _ := filepath.Abs(data)
		dest = "data:" + abs
	} else {
		cl, err := client.New(ctx, client.Options{Endpoint: endpoint, Profile: profile, CABundle: caBundle})
		if err != nil {
			return err
		}
		sink = endpointSink{cl: cl}
		dest = "endpoint:" + cl.Endpoint
	}

	var total importer.Snapshot
	for _, src := range sources {
		s, err := c.source(ctx, src, profile, s3Endpoint, s3Region, pathStyle)
		if err != nil {
			return err
		}
		path := statePath
		if path == "" {
			if path, err = defaultStatePath(s.Name(), dest); err != nil {
				return err
			}
		}
		state, err := importer.OpenState(path, fresh)
		if err != nil {
			return err
		}
		snap, err := c.runOne(ctx, importer.Options{
			Source: s, Sink: sink, State: state, Parallel: parallel, BatchSize: batch,
			Filter: importer.Filter{Accounts: accounts, Regions: regions, Start: start.t, End: end.t},
		}, quiet)
		state.Close()
		total = add(total, snap)
		if err != nil {
			fmt.Fprintln(c.env.Stdout, summary(total))
			if errors.Is(err, context.Canceled) {
				return fmt.Errorf("%s: interrupted; the files finished so far are recorded in %s: run the same command again to resume", src, path)
			}
			return fmt.Errorf("%s: %w (run the same command again to resume)", src, err)
		}
	}
	fmt.Fprintln(c.env.Stdout, summary(total))
	return nil
}

// source opens one SOURCE argument.
func (c *importCmd) source(ctx context.Context, src, profile, endpointURL, region string, pathStyle bool) (importer.Source, error) {
	bucket, prefix, ok := importer.ParseS3URL(src)
	if !ok {
		s, err := importer.NewLocalFiles(src)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		return s, nil
	}
	cfg, err := client.LoadAWSConfig(ctx, profile)
	if err != nil {
		return nil, err
	}
	if region != "" {
		cfg.Region = region
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	r := objstore.NewS3Reader(objstore.S3ReaderOptions{Config: &cfg, Endpoint: endpointURL, PathStyle: pathStyle})
	return importer.NewS3Source(r, bucket, prefix), nil
}

// How often progress is shown: a bar redrawn on a terminal, a log line
// otherwise. Variables for tests.
var (
	barEvery = 200 * time.Millisecond
	logEvery = 5 * time.Second
)

// runOne imports one source while drawing progress.
func (c *importCmd) runOne(ctx context.Context, opts importer.Options, quiet bool) (importer.Snapshot, error) {
	var mu sync.Mutex // serialises stderr between problems and the bar
	tty := isTerminal(c.env.Stderr)
	barShown := false
	opts.Report = func(p importer.Problem) {
		mu.Lock()
		defer mu.Unlock()
		if barShown {
			fmt.Fprint(c.env.Stderr, "\r\033[K")
		}
		fmt.Fprintf(c.env.Stderr, "skipped %s\n", p)
	}
	im := importer.New(opts)
	began := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	if !quiet {
		wg.Add(1)
		go func() {
			defer wg.Done()
			every := logEvery
			if tty {
				every = barEvery
			}
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				select {
				case <-done:
					if tty && barShown {
						mu.Lock()
						fmt.Fprint(c.env.Stderr, "\r\033[K")
						mu.Unlock()
					}
					return
				case <-tick.C:
				}
				line := progressLine(im.Stats.Snapshot(), time.Since(began), tty)
				mu.Lock()
				if tty {
					fmt.Fprint(c.env.Stderr, "\r\033[K"+line)
					barShown = true
				} else {
					fmt.Fprintln(c.env.Stderr, "import: "+line)
				}
				mu.Unlock()
			}
		}()
	}
	err := im.Run(ctx)
	close(done)
	wg.Wait()
	return im.Stats.Snapshot(), err
}

// progressLine renders files, events, events/s and ETA; with bar, a
// 20-cell bar of bytes read leads.
func progressLine(s importer.Snapshot, elapsed time.Duration, bar bool) string {
	rate := float64(s.Events) / max(elapsed.Seconds(), 0.001)
	eta := "?"
	if s.ListingDone && s.BytesDone > 0 {
		left := float64(s.BytesListed-s.BytesDone) / float64(s.BytesDone) * elapsed.Seconds()
		eta = (time.Duration(left) * time.Second).Round(time.Second).String()
	}
	files := fmt.Sprintf("%d", s.FilesListed)
	if !s.ListingDone {
		files += "+"
	}
	line := fmt.Sprintf("files %d/%s  events %d (%d new)  %.0f events/s  ETA %s",
		s.FilesDone, files, s.Events, s.Added, rate, eta)
	if s.FilesBad > 0 || s.Rejected > 0 {
		line += fmt.Sprintf("  bad files %d, rejected %d", s.FilesBad, s.Rejected)
	}
	if !bar {
		return line
	}
	frac := 0.0
	if s.BytesListed > 0 {
		frac = float64(s.BytesDone) / float64(s.BytesListed)
	}
	n := int(frac * 20)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", 20-n) + "] " + line
}

// summary is the final report: what the files were, then what became of
// their records, then the first conflicting eventIDs if there were any.
func summary(s importer.Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "files: %d log, %d Insights, %d digest (not imported), %d bad; %d finished earlier, %d filtered out, %d not log files\n",
		s.FilesLog, s.FilesInsight, s.FilesDigest, s.FilesBad, s.FilesResumed, s.FilesFiltered, s.FilesIgnored)
	fmt.Fprintf(&b, "records: %d read, %d new, %d duplicates (already stored), %d conflicting duplicates (not stored), %d repaired, %d rejected, %d filtered out",
		s.Events, s.Added, s.Duplicates, s.Conflicts, s.Repaired, s.Rejected, s.Filtered)
	if s.Conflicts > 0 {
		more := ""
		if s.Conflicts > int64(len(s.ConflictIDs)) {
			more = ", …"
		}
		fmt.Fprintf(&b, "\nconflicting duplicates share their account and eventID with a stored event of other content; the stored one is kept. eventIDs: %s%s",
			strings.Join(s.ConflictIDs, ", "), more)
	}
	return b.String()
}

func add(a, b importer.Snapshot) importer.Snapshot {
	ids := append(append([]string(nil), a.ConflictIDs...), b.ConflictIDs...)
	if len(ids) > importer.MaxConflictIDs {
		ids = ids[:importer.MaxConflictIDs]
	}
	return importer.Snapshot{
		FilesListed: a.FilesListed + b.FilesListed, BytesListed: a.BytesListed + b.BytesListed,
		FilesDone: a.FilesDone + b.FilesDone, BytesDone: a.BytesDone + b.BytesDone,
		FilesResumed: a.FilesResumed + b.FilesResumed, FilesLog: a.FilesLog + b.FilesLog,
		FilesInsight: a.FilesInsight + b.FilesInsight, FilesDigest: a.FilesDigest + b.FilesDigest,
		FilesFiltered: a.FilesFiltered + b.FilesFiltered, FilesIgnored: a.FilesIgnored + b.FilesIgnored,
		FilesBad: a.FilesBad + b.FilesBad, Events: a.Events + b.Events, Added: a.Added + b.Added,
		Duplicates: a.Duplicates + b.Duplicates, Conflicts: a.Conflicts + b.Conflicts, Filtered: a.Filtered + b.Filtered,
		Rejected: a.Rejected + b.Rejected, Repaired: a.Repaired + b.Repaired, ConflictIDs: ids, ListingDone: true,
	}
}

// defaultStatePath is <user cache>/opentrail/import/<hash of source and
// destination>.ndjson.
func defaultStatePath(source, dest string) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the resume state (give --state FILE): %w", err)
	}
	h := sha256.Sum256([]byte(source + "\x00" + dest))
	return filepath.Join(dir, "opentrail", "import", hex.EncodeToString(h[:12])+".ndjson"), nil
}

// endpointSink sends batches to POST /v1/events.
type endpointSink struct{ cl *client.Client }

func (s endpointSink) Write(ctx context.Context, recs []*event.Record) (importer.WriteResult, error) {
	raws := make([][]byte, len(recs))
	for i, r := range recs {
		raws[i] = r.Raw
	}
	r, err := PostImported(ctx, s.cl, raws)
	if err != nil {
		var ae *client.APIError
		if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 && ae.Status != 429 {
			err = fmt.Errorf("%w: %w", importer.ErrPermanent, err)
		}
		return importer.WriteResult{}, err
	}
	return importer.WriteResult{Added: r.Accepted, Duplicates: r.Duplicates, Conflicts: r.Conflicts, ConflictIDs: r.ConflictIDs}, nil
}

var (
	_ importer.Sink = endpointSink{}
	_ flag.Value    = (*listFlag)(nil)
)
