package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// DefaultDigestInterval is the digest period, as CloudTrail's.
const DefaultDigestInterval = time.Hour

// chain is one digest chain of a trail: the digests of one account and
// source region.
type chain struct {
	Account string
	Region  string
	// Start is the next digest's digestStartTime.
	Start time.Time
	// Files are log files delivered but not yet listed in a digest, each
	// with the end of the digest period it belongs to.
	Files []pendingFile `json:",omitempty"`
	// Prev is the last digest written (nil before the first, and after a
	// gap: the next digest starts a new chain).
	Prev *prevDigest `json:",omitempty"`
	// Gap explains why the next digest starts a new chain.
	Gap *digest.Gap `json:",omitempty"`
	// Paused: logging stopped or validation turned off; no digests until
	// both are on again.
	Paused bool `json:",omitempty"`
	// Last is the last digest written, kept across gaps to name it.
	Last *prevDigest `json:",omitempty"`
}

type pendingFile struct {
	digest.LogFile
	Period time.Time // end of the digest period that lists it
}

type prevDigest struct {
	Bucket, Key, Hash, Signature string
	End                          time.Time
}

// digestPeriodEnd is the end of the digest period a delivery window
// ending at w belongs to.
func (d *Deliverer) digestPeriodEnd(w time.Time) time.Time {
	e := w.Truncate(d.opts.DigestInterval)
	if e.Before(w) {
		e = e.Add(d.opts.DigestInterval)
	}
	return e.UTC()
}

// listInDigest records a written log file for its chain's digest. The
// caller holds w.mu.
func (w *worker) listInDigest(t store.Trail, set trail.Settings, g *group, bucket, key, hash string) {
	ck := g.account + "/" + g.region
	c := w.st.Chains[ck]
	if c == nil {
		c = w.newChain(g.account, g.region, w.st.Window)
	}
	for _, f := range c.Files {
		if f.S3Object == key {
			return // written again after a restart
		}
	}
	c.Files = append(c.Files, pendingFile{
		LogFile: digest.LogFile{
			S3Bucket: bucket, S3Object: key, HashValue: hash, HashAlgorithm: digest.HashAlgorithm,
			NewestEventTime: digest.FormatTime(g.newest), OldestEventTime: digest.FormatTime(g.oldest),
		},
		Period: w.d.digestPeriodEnd(w.st.Window),
	})
}

// newChain starts a chain at the digest period of the open delivery
// window, or with none open, of now: the time the caller's step read
// before it read the stream, not the clock now, which may have passed
// into a later period while the step ran and leave that step's files
// before the chain's start. The caller holds w.mu.
func (w *worker) newChain(account, region string, now time.Time) *chain {
	if w.st.Chains == nil {
		w.st.Chains = map[string]*chain{}
	}
	// A window's end is exclusive: the window ending at 10:01 is in the
	// period 10:00–10:01. now is an instant, in the period it falls in.
	start := now
	if !w.st.Window.IsZero() {
		start = w.st.Window.Add(-time.Nanosecond)
	}
	c := &chain{Account: account, Region: region, Start: start.Truncate(w.d.opts.DigestInterval).UTC()}
	w.st.Chains[account+"/"+region] = c
	w.dirty = true
	return c
}

// emitDigests writes every digest that is due: a chain's period is due
// once every delivery window ending in it is closed, so the digest lists
// all the period's log files. Digests are written even for periods
// without log files.
func (w *worker) emitDigests(ctx context.Context, t store.Trail, set trail.Settings, now time.Time) error {
	w.mu.Lock()
	on := set.LogFileValidationEnabled && set.IsLogging
	if set.LogFileValidationEnabled && set.StartLoggingTime != nil {
		home := t.Account + "/" + t.HomeRegion
		if _, ok := w.st.Chains[home]; !ok && set.IsLogging {
			w.newChain(t.Account, t.HomeRegion, now)
		}
	}
	keys := make([]string, 0, len(w.st.Chains))
	for k := range w.st.Chains {
		keys = append(keys, k)
	}
	w.mu.Unlock()
	slices.Sort(keys)
	for _, k := range keys {
		w.mu.Lock()
		c := w.st.Chains[k]
		w.mu.Unlock()
		if err := w.advanceChain(ctx, t, set, c, on, now); err != nil {
			return err
		}
	}
	return w.save(ctx)
}

// advanceChain writes c's due digests. While logging is stopped, digests
// continue up to the end of the period logging stopped in; then the chain
// pauses, and the digest that resumes it starts a new chain that explains
// the gap. Turning validation off pauses the chain at once.
func (w *worker) advanceChain(ctx context.Context, t store.Trail, set trail.Settings, c *chain, on bool, now time.Time) error {
	// A stop and a restart both since the chain's last digest: finish the
	// periods before the stop, then pause, then resume below.
	if on && !c.Paused && set.StopLoggingTime != nil && set.StartLoggingTime != nil && set.StopLoggingTime.Before(*set.StartLoggingTime) &&
		c.Start.Before(set.StartLoggingTime.Truncate(w.d.opts.DigestInterval)) {
		stopEnd := w.d.digestPeriodEnd(*set.StopLoggingTime)
		if err := w.digestsUntil(ctx, t, set, c, stopEnd); err != nil {
			return err
		}
		if c.Start.Before(stopEnd) {
			return nil // the periods before the stop are not closed yet
		}
		w.pause(c, digest.GapLoggingStopped)
	}
	if !on && !c.Paused {
		if !set.LogFileValidationEnabled {
			w.pause(c, digest.GapValidationDisabled)
			return nil
		}
		until := now
		if set.StopLoggingTime != nil {
			until = w.d.digestPeriodEnd(*set.StopLoggingTime)
		}
		if err := w.digestsUntil(ctx, t, set, c, until); err != nil {
			return err
		}
		if !c.Start.Before(until) {
			w.pause(c, digest.GapLoggingStopped)
		}
		return nil
	}
	if c.Paused && on {
		restart := now.Truncate(w.d.opts.DigestInterval).UTC()
		if st := set.StartLoggingTime; st != nil && st.After(c.Start) && c.Gap != nil && c.Gap.Reason == digest.GapLoggingStopped {
			restart = st.Truncate(w.d.opts.DigestInterval).UTC()
		}
		w.mu.Lock()
		reason := digest.GapLoggingStopped
		if c.Gap != nil {
			reason = c.Gap.Reason
		}
		gap := &digest.Gap{Start: digest.FormatTime(c.Start), End: digest.FormatTime(restart), Reason: reason}
		if c.Last != nil {
			gap.PreviousBucket, gap.PreviousObject = c.Last.Bucket, c.Last.Key
		}
		c.Paused, c.Gap, c.Prev, c.Start = false, gap, nil, restart
		w.dirty = true
		w.mu.Unlock()
	}
	if c.Paused {
		return nil
	}
	return w.digestsUntil(ctx, t, set, c, time.Time{})
}

// digestsUntil writes c's closed periods ending at or before until (zero:
// no limit).
func (w *worker) digestsUntil(ctx context.Context, t store.Trail, set trail.Settings, c *chain, until time.Time) error {
	for {
		end := c.Start.Truncate(w.d.opts.DigestInterval).Add(w.d.opts.DigestInterval).UTC()
		if (!until.IsZero() && end.After(until)) || !w.periodClosed(end) {
			return nil
		}
		if err := w.writeDigest(ctx, t, set, c, end); err != nil {
			return err
		}
	}
}

// pause stops c's digests until logging and validation are both on.
func (w *worker) pause(c *chain, reason string) {
	w.mu.Lock()
	c.Paused, c.Gap, c.Files = true, &digest.Gap{Reason: reason}, nil
	w.dirty = true
	w.mu.Unlock()
}

// periodClosed reports whether every delivery window ending at or before
// end has been closed.
func (w *worker) periodClosed(end time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.st.Window.IsZero() && !w.st.Window.After(end) {
		return false
	}
	return !w.st.DeliveredThrough.Before(end)
}

// writeDigest signs and writes the digest of c's period ending at end.
// Its bytes depend only on the chain's state and the signing key of end,
// so writing it again after a crash is a no-op.
func (w *worker) writeDigest(ctx context.Context, t store.Trail, set trail.Settings, c *chain, end time.Time) error {
	w.mu.Lock()
	var files []digest.LogFile
	var rest []pendingFile
	for _, f := range c.Files {
		if !f.Period.After(end) {
			files = append(files, f.LogFile)
		} else {
			rest = append(rest, f)
		}
	}
	dk := layout.Digest{Prefix: set.S3KeyPrefix, Account: c.Account, SourceRegion: c.Region, Trail: t.Name, HomeRegion: t.HomeRegion, End: end}
	if set.IsOrganizationTrail && w.d.opts.Org != nil {
		dk.OrgID = w.d.opts.Org.ID
	}
	d := &digest.Digest{
		AWSAccountID:             c.Account,
		DigestStartTime:          digest.FormatTime(c.Start),
		DigestEndTime:            digest.FormatTime(end),
		DigestS3Bucket:           set.S3BucketName,
		DigestS3Object:           dk.String(),
		DigestSignatureAlgorithm: digest.SignatureAlgorithm,
		LogFiles:                 files,
		Gap:                      c.Gap,
	}
	for _, f := range files {
		if d.NewestEventTime == nil || f.NewestEventTime > *d.NewestEventTime {
			d.NewestEventTime = digest.Str(f.NewestEventTime)
		}
		if d.OldestEventTime == nil || f.OldestEventTime < *d.OldestEventTime {
			d.OldestEventTime = digest.Str(f.OldestEventTime)
		}
	}
	if p := c.Prev; p != nil {
		d.PreviousDigestS3Bucket, d.PreviousDigestS3Object = digest.Str(p.Bucket), digest.Str(p.Key)
		d.PreviousDigestHashValue, d.PreviousDigestHashAlgorithm = digest.Str(p.Hash), digest.Str(digest.HashAlgorithm)
		d.PreviousDigestSignature = digest.Str(p.Signature)
	}
	w.mu.Unlock()

	signer, err := w.d.opts.Keys.Signer(ctx, c.Region, end)
	if err != nil {
		return w.digestFailed(err)
	}
	plain, sig, err := digest.SignDigestWith(ctx, d, signer)
	if err != nil {
		return w.digestFailed(err)
	}
	hash := digest.Hash(plain)

	b, err := w.d.opts.Buckets.Bucket(ctx, set.S3BucketName)
	if err == nil {
		err = b.PutIfAbsent(ctx, d.DigestS3Object, digest.Gzip(plain), digest.ObjectMetadata(sig))
		if errors.Is(err, objstore.ErrExists) {
			// Written before with other bytes (another build): the
			// chain continues from what is stored.
			hash, sig, err = storedDigest(ctx, b, d.DigestS3Object)
		}
	}
	if err != nil {
		return w.digestFailed(fmt.Errorf("deliver digest %s to bucket %s: %w", d.DigestS3Object, set.S3BucketName, err))
	}
	from := c.Start
	if c.Prev != nil {
		from = c.Start.Add(-w.d.opts.DigestInterval) // check the link to the previous digest too
	}
	w.queueVerify(digest.Trail{Bucket: set.S3BucketName, Prefix: set.S3KeyPrefix, OrgID: dk.OrgID, Account: c.Account,
		SourceRegion: c.Region, Name: t.Name, HomeRegion: t.HomeRegion}, from, end)
	w.mu.Lock()
	prev := &prevDigest{Bucket: set.S3BucketName, Key: d.DigestS3Object, Hash: hash, Signature: sig, End: end}
	c.Prev, c.Last, c.Start, c.Gap, c.Files = prev, prev, end, nil, rest
	w.st.LatestDigestDelivery = w.d.opts.Clock.Now().UTC()
	w.st.LatestDigestFile = "s3://" + set.S3BucketName + "/" + d.DigestS3Object
	w.st.LatestDigestError = ""
	w.st.Digests++
	w.dirty = true
	w.mu.Unlock()
	w.d.digestsTotal.Add(1)
	return w.save(ctx)
}

func (w *worker) digestFailed(err error) error {
	w.mu.Lock()
	w.st.LatestDigestError = deliveryErrorText(err)
	w.mu.Unlock()
	w.d.errorsTotal.Add(1)
	return err
}

// storedDigest returns the hash of a stored digest's uncompressed bytes
// and its signature.
func storedDigest(ctx context.Context, b objstore.Bucket, key string) (hash, sig string, err error) {
	data, info, err := b.Get(ctx, key)
	if err != nil {
		return "", "", err
	}
	plain, err := digest.Gunzip(data)
	if err != nil {
		return "", "", fmt.Errorf("stored digest %s: %w", key, err)
	}
	return digest.Hash(plain), info.Meta[digest.MetaSignature], nil
}
