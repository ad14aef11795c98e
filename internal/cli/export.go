package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/store"
)

// exportCmd is `opentrail export`: the store's events as Parquet files
// partitioned by account, region and date, for Athena, Trino or Spark.
//
//	opentrail export --format parquet --data DIR --out OUTDIR [--account A] [--region R] [--start-time T] [--end-time T]
type exportCmd struct {
	env         *Env
	out         string // the output directory, once the flags are parsed
	outWasEmpty bool   // whether it was missing or empty then
}

func (*exportCmd) Name() string { return "export" }
func (*exportCmd) Synopsis() string {
	return "write the store's events as Parquet partitioned by account/region/date"
}

func (c *exportCmd) Run(ctx context.Context, args []string) error {
	err := c.run(ctx, args)
	if err != nil && ctx.Err() != nil {
		return interruptedExport(c.out, c.outWasEmpty)
	}
	return err
}

// interruptedExport is the error of an export stopped by Ctrl-C: it says
// whether out holds a partial export to remove. wasEmpty is whether out
// was missing or empty when the export began; otherwise its files are not
// the export's.
func interruptedExport(out string, wasEmpty bool) error {
	if ents, err := os.ReadDir(out); wasEmpty && err == nil && len(ents) > 0 {
		return fmt.Errorf("interrupted: %s holds a partial export; remove it and run the export again", out)
	}
	return errors.New("interrupted before anything was written")
}

func (c *exportCmd) run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "export", "--format parquet --data DIR --out OUTDIR [flags]")
	var (
		format, data, out string
		accounts, regions listFlag
		start, end        timeFlag
		quiet             bool
	)
	fs.StringVar(&format, "format", "parquet", "output format (only parquet)")
	fs.StringVar(&data, "data", "", "the data directory of the store to export (no server may hold it)")
	fs.StringVar(&out, "out", "", "output directory; must not exist or be empty")
	fs.Var(&accounts, "account", "export only these accounts (comma-separated or repeated)")
	fs.Var(&regions, "region", "export only these regions (comma-separated or repeated)")
	fs.Var(&start, "start-time", "export only events with eventTime at or after this (RFC 3339 or YYYY-MM-DD)")
	fs.Var(&end, "end-time", "export only events with eventTime before this (RFC 3339 or YYYY-MM-DD)")
	fs.BoolVar(&quiet, "quiet", false, "no progress output")
	if err := parse(fs, args); err != nil {
		return err
	}
	c.out = out
	if ents, err := os.ReadDir(out); err != nil || len(ents) == 0 {
		c.outWasEmpty = true
	}
	if fs.NArg() != 0 || data == "" || out == "" {
		fs.Usage()
		return errUsage
	}
	if format != "parquet" {
		fmt.Fprintf(c.env.Stderr, "opentrail export: --format %q: only parquet is supported\n", format)
		return errUsage
	}
	if !start.t.IsZero() && !end.t.IsZero() && !start.t.Before(end.t) {
		return fmt.Errorf("--start-time %s is not before --end-time %s", start.String(), end.String())
	}
	st, err := openStoreForExport(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()

	opts := query.ExportOptions{Dir: out, Accounts: accounts, Regions: regions, Start: start.t, End: end.t}
	if !quiet {
		tty := isTerminal(c.env.Stderr)
		began := time.Now()
		interval := 10 * time.Second
		if tty {
			interval = 500 * time.Millisecond
		}
		opts.ProgressInterval = interval
		opts.Progress = func(done, total int64) {
			line := fmt.Sprintf("exported %d/%d events (%s)", done, total, time.Since(began).Round(time.Second))
			if tty {
				fmt.Fprintf(c.env.Stderr, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(c.env.Stderr, line)
			}
		}
		if tty {
			defer fmt.Fprintln(c.env.Stderr)
		}
	}
	stats, err := query.ExportParquet(ctx, st, opts)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(out)
	fmt.Fprintf(c.env.Stdout, "exported %d events to %s: %d files, %s, %.1fs\n",
		stats.Events, abs, stats.Files, byteSize(stats.Bytes), stats.Duration.Seconds())
	return nil
}

// openStoreForExport opens the store in an existing data directory. A
// store held by a server is refused with importer.ErrStoreInUse, as
// `opentrail import --data` refuses it.
func openStoreForExport(ctx context.Context, dir string) (*store.Store, error) {
	if _, err := os.Stat(filepath.Join(dir, store.DBFile)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open store %s: no %s there (is it an opentrail data directory?)", dir, store.DBFile)
		}
		return nil, fmt.Errorf("open store: %w", err)
	}
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		if store.IsLocked(err) {
			return nil, fmt.Errorf("open store %s: %w (is `opentrail serve` running on it? stop it first): %v", dir, importer.ErrStoreInUse, err)
		}
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	return st, nil
}

// byteSize formats n bytes as B, KiB, MiB or GiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 2 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, []string{"KiB", "MiB", "GiB"}[i])
}
