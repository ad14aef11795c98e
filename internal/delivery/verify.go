package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/objstore"
)

// verifyJob asks the background verifier to re-check a chain up to a
// digest just written.
type verifyJob struct {
	arn   string
	trail digest.Trail
	start time.Time // the previous digest's start, so the link is checked too
	end   time.Time
}

// verifyLoop re-validates newly written digests and their log files, as
// `opentrail validate-logs` would, and raises
// opentrail_digest_verify_failures_total (and logs the evidence) when
// anything fails: a file changed or removed behind opentrail's back.
func (d *Deliverer) verifyLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-d.verifyJobs:
			d.verify(ctx, j)
		}
	}
}

func (d *Deliverer) verify(ctx context.Context, j verifyJob) {
	src := &bucketSource{d: d, region: j.trail.SourceRegion}
	var bad []string
	sum, err := digest.Validate(ctx, src, j.trail, digest.Options{Start: j.start, End: j.end, Parallel: 4}, func(r digest.Result) {
		if r.Invalid() {
			bad = append(bad, fmt.Sprintf("%s %s: %s %s", r.Kind, r.Object, r.Status, r.Detail))
		}
	})
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("digest verification could not run", "trail", j.arn, "err", err)
		}
		return
	}
	d.verified.Add(1)
	if !sum.Invalid() && len(bad) == 0 {
		return
	}
	d.verifyFailures.Add(1)
	d.log.Error("digest verification failed: delivered files were changed or removed", "trail", j.arn,
		"from", j.start.Format(time.RFC3339), "to", j.end.Format(time.RFC3339), "findings", strings.Join(bad, "; "))
	d.mu.Lock()
	w := d.workers[j.arn]
	d.mu.Unlock()
	if w != nil {
		w.mu.Lock()
		w.st.LatestVerifyError = truncateText(strings.Join(bad, "; "), 1000)
		w.st.LatestVerifyErrorTime = d.opts.Clock.Now().UTC()
		w.mu.Unlock()
	}
}

// queueVerify asks for a digest to be re-checked, unless the verifier is
// off or busy (then the next digest's check covers it).
func (w *worker) queueVerify(t digest.Trail, start, end time.Time) {
	if w.d.verifyJobs == nil {
		return
	}
	select {
	case w.d.verifyJobs <- verifyJob{arn: w.arn, trail: t, start: start, end: end}:
	default:
	}
}

func truncateText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Source returns the digest.Source validation reads trails' delivered
// files through: the delivery buckets, with the signing keys of
// sourceRegion (the region whose logs the digests cover). It is what the
// background verifier reads, for a check run on demand.
func (d *Deliverer) Source(sourceRegion string) digest.Source {
	return &bucketSource{d: d, region: sourceRegion}
}

// bucketSource is a digest.Source over the delivery buckets.
type bucketSource struct {
	d      *Deliverer
	region string
}

// ListDigests lists the trail's digest folder day by day over [start,
// end] and keeps the digests whose name time lies in it, oldest first.
func (s *bucketSource) ListDigests(ctx context.Context, t digest.Trail, start, end time.Time) ([]digest.ObjectRef, error) {
	b, err := s.d.opts.Buckets.Bucket(ctx, t.Bucket)
	if err != nil {
		return nil, err
	}
	base := layout.DigestFolder(t.Prefix, t.OrgID, t.Account, t.SourceRegion)
	infix := "_" + t.Name + "_" + t.HomeRegion + "_"
	var out []digest.ObjectRef
	for day := start.UTC().Truncate(24 * time.Hour); !day.After(end); day = day.Add(24 * time.Hour) {
		for in, err := range objstore.All(ctx, b, base+layout.DayFolder(day)) {
			if err != nil {
				return nil, err
			}
			k := in.Key
			if !strings.Contains(k, infix) {
				continue
			}
			te, backfill, ok := layout.DigestTime(k)
			if !ok || backfill || te.Before(start.Truncate(time.Second)) || te.After(end) {
				continue
			}
			out = append(out, digest.ObjectRef{Bucket: t.Bucket, Key: k})
		}
	}
	return out, nil // keys of one folder sort by time; folders are walked in order
}

// Get reads an object and its metadata.
func (s *bucketSource) Get(ctx context.Context, o digest.ObjectRef) ([]byte, map[string]string, error) {
	b, err := s.d.opts.Buckets.Bucket(ctx, o.Bucket)
	if err != nil {
		return nil, nil, err
	}
	data, info, err := b.Get(ctx, o.Key)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: %s", digest.ErrNotFound, o)
	}
	if err != nil {
		return nil, nil, err
	}
	return data, info.Meta, nil
}

// PublicKeys returns the region's signing keys.
func (s *bucketSource) PublicKeys(ctx context.Context, start, end time.Time) ([]digest.PublicKey, error) {
	return s.d.opts.Keys.PublicKeys(ctx, s.region, start, end)
}
