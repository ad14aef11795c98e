package digest

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/layout"
)

// Validate checks a trail's digest chain and the log files it lists, and
// calls report with one Result per digest, log file and gap: each digest
// followed by its log files, newest digest first, in the same order
// whatever opts.Parallel is. report runs on the calling goroutine, one
// call at a time; it may be nil. The Summary counts the results.
//
// Validate returns an error only when it cannot go on: the trail is
// incomplete, listing the digests or the keys fails, reading an object
// fails other than with ErrNotFound, or ctx ends. Everything wrong with
// the files themselves is a Result. The package documentation describes
// the walk and the checks.
func Validate(ctx context.Context, src Source, t Trail, opts Options, report func(Result)) (Summary, error) {
	if err := t.check(); err != nil {
		return Summary{}, err
	}
	if opts.End.IsZero() {
		opts.End = time.Now()
	}
	opts.Start, opts.End = opts.Start.UTC(), opts.End.UTC()
	if opts.End.Before(opts.Start) {
		return Summary{}, fmt.Errorf("validate: end %s is before start %s", FormatTime(opts.End), FormatTime(opts.Start))
	}
	if opts.Parallel <= 0 {
		// Fetching mostly waits on the source; hashing is cheap. Four
		// workers per CPU measured faster than one on S3 sources and
		// costs nothing on local ones.
		opts.Parallel = 4 * runtime.NumCPU()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The walker sends every result to out in report order; a log file's
	// result also goes to jobs, and is reported once a worker is done
	// with it. out's capacity bounds how far the walk runs ahead.
	out := make(chan *item, 16*opts.Parallel)
	jobs := make(chan *item, opts.Parallel)
	var workers sync.WaitGroup
	for range opts.Parallel {
		workers.Go(func() { checkLogs(ctx, src, jobs) })
	}
	w := newWalker(src, t, opts, out, jobs)
	walked := make(chan error, 1)
	go func() {
		err := w.run(ctx)
		close(jobs)
		close(out)
		walked <- err
	}()

	var sum Summary
	var err error
	for it := range out {
		if err == nil {
			err = ctx.Err()
		}
		if err == nil && it.done != nil {
			select {
			case <-it.done:
				err = it.err
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		if err != nil {
			cancel() // and drain out, so that the walker finishes
			continue
		}
		sum.add(it.res)
		if report != nil {
			report(it.res)
		}
	}
	werr := <-walked
	workers.Wait()
	if err == nil {
		err = werr
	}
	return sum, err
}

// check reports what the trail lacks for validation.
func (t Trail) check() error {
	for _, f := range []struct{ name, v string }{
		{"bucket", t.Bucket}, {"account", t.Account}, {"source region", t.SourceRegion},
		{"name", t.Name}, {"home region", t.HomeRegion},
	} {
		if f.v == "" {
			return fmt.Errorf("validate: the trail has no %s", f.name)
		}
	}
	return nil
}

// item is one result on its way to report. A log file's result is
// complete once done is closed.
type item struct {
	res    Result
	hash   string    // a log file's hashValue
	digest ObjectRef // the digest that lists the log file
	done   chan struct{}
	err    error // reading the log file failed: Validate stops
}

// checkLogs fetches and hashes log files until jobs is closed.
func checkLogs(ctx context.Context, src Source, jobs <-chan *item) {
	var h logHasher
	op, _ := src.(Opener)
	for it := range jobs {
		it.checkLog(ctx, src, op, &h)
		close(it.done)
	}
}

// checkLog sets it's status: valid, not found, not a gzip file, or a hash
// mismatch.
func (it *item) checkLog(ctx context.Context, src Source, op Opener, h *logHasher) {
	if err := ctx.Err(); err != nil {
		it.err = err
		return
	}
	ref := it.res.Object
	var sum string
	var gerr error // from fetching
	var herr error // from reading and hashing
	if op != nil {
		rc, err := op.Open(ctx, ref)
		if gerr = err; err == nil {
			sum, herr = h.hash(rc)
			rc.Close()
		}
	} else {
		b, _, err := src.Get(ctx, ref)
		if gerr = err; err == nil {
			sum, herr = h.hash(bytes.NewReader(b))
		}
	}
	var rerr *readError
	switch {
	case errors.Is(gerr, ErrNotFound):
		it.res.Status = NotFound
		it.res.Detail = "listed in " + it.digest.String()
	case gerr != nil:
		it.err = fmt.Errorf("get log file %s: %w", ref, gerr)
	case errors.As(herr, &rerr):
		it.err = fmt.Errorf("read log file %s: %w", ref, rerr.err)
	case herr != nil:
		it.res.Status = InvalidFormat
		it.res.Detail = fmt.Sprintf("listed in %s: %v", it.digest, herr)
	case sum != it.hash:
		it.res.Status = HashMismatch
		it.res.Detail = fmt.Sprintf("listed in %s with SHA-256 %s; the file's is %s", it.digest, it.hash, sum)
	default:
		it.res.Status = Valid
	}
}

// listed is a digest key with the time in its name.
type listed struct {
	ref ObjectRef
	end time.Time
}

// linkKind says how a valid digest points at the one before it.
type linkKind int

const (
	linkPrevious linkKind = iota // previousDigestS3Bucket/Object
	linkGap                      // opentrailGap: a new chain, saying why
	linkStart                    // a new chain, not saying why
)

// openLink is a valid digest's claim about the digest before it, checked
// when the walk reaches the next valid digest.
type openLink struct {
	from   *checked
	kind   linkKind
	target ObjectRef // the digest linked to (zero for linkStart, maybe for linkGap)
	end    time.Time // the target's expected digestEndTime
	reason string    // linkGap: why the chain broke
	// problems are what went wrong on the way: the target missing or
	// invalid, other digests invalid before the walk reached a valid one.
	problems []string
}

// checked is a digest as the walk found it.
type checked struct {
	ref        ObjectRef
	d          *Digest
	plain      []byte
	hash       string // of plain
	sig        string // the signature it was verified with
	start, end time.Time
	status     Status
	detail     string
}

// usable reports whether the walk goes on from c as from a valid digest:
// it is valid, or everything but its signature, which is not available,
// checked out.
func (c *checked) usable() bool { return c.status == Valid || c.status == SignatureUnavailable }

func (c *checked) fail(s Status, detail string) (*checked, error) {
	c.status, c.detail = s, detail
	return c, nil
}

// walker walks a trail's digest chain. It runs on one goroutine.
type walker struct {
	src   Source
	t     Trail
	opts  Options
	out   chan<- *item
	jobs  chan<- *item
	keys  keySet
	names *regexp.Regexp // the trail's digest keys, any prefix
	logs  *regexp.Regexp // the trail's log file keys; group 1 is the root

	backfill bool
	bucket   string
	list     []listed // the listing of bucket, oldest first
	cursor   int      // list[:cursor] are neither checked nor reported
	seen     map[ObjectRef]bool
	link     *openLink
}

func newWalker(src Source, t Trail, opts Options, out, jobs chan<- *item) *walker {
	return &walker{
		src: src, t: t, opts: opts, out: out, jobs: jobs,
		names: t.chain().ValidateLogsPattern(), logs: t.chain().LogPattern(),
		seen: map[ObjectRef]bool{},
	}
}

// chain is the trail's digest chain, as package layout names its keys.
func (t Trail) chain() layout.Chain {
	return layout.Chain{Prefix: t.Prefix, OrgID: t.OrgID, Account: t.Account, SourceRegion: t.SourceRegion,
		Trail: t.Name, HomeRegion: t.HomeRegion}
}

// run walks the regular chain, then the backfill chain.
func (w *walker) run(ctx context.Context) error {
	refs, err := w.src.ListDigests(ctx, w.t, w.opts.Start, w.opts.End.Add(time.Hour))
	if err != nil {
		return fmt.Errorf("list digests: %w", err)
	}
	if err := w.walk(ctx, sortListing(refs, false), false); err != nil {
		return err
	}
	return w.walk(ctx, sortListing(refs, true), true)
}

// sortListing returns the regular or the backfill digests of refs,
// oldest first.
func sortListing(refs []ObjectRef, backfill bool) []listed {
	var out []listed
	for _, r := range refs {
		if end, bf, ok := layout.DigestTime(r.Key); ok && bf == backfill {
			out = append(out, listed{r, end})
		}
	}
	slices.SortStableFunc(out, func(a, b listed) int {
		if c := a.end.Compare(b.end); c != 0 {
			return c
		}
		return strings.Compare(a.ref.Key, b.ref.Key)
	})
	return out
}

// walk checks one chain: list holds its digests, oldest first.
func (w *walker) walk(ctx context.Context, list []listed, backfill bool) error {
	w.backfill, w.bucket, w.list, w.cursor, w.link = backfill, w.t.Bucket, list, len(list), nil
	next := w.pop()
	for next != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := w.check(ctx, *next)
		if err != nil {
			return err
		}
		if !c.usable() {
			if w.link != nil {
				w.link.problems = append(w.link.problems, fmt.Sprintf("%s: %s", c.ref, c.status))
			}
			if err := w.emitDigest(ctx, c); err != nil {
				return err
			}
			next = w.pop()
			continue
		}
		if err := w.closeLink(ctx, c); err != nil {
			return err
		}
		if err := w.emitDigest(ctx, c); err != nil {
			return err
		}
		if next, err = w.follow(ctx, c); err != nil {
			return err
		}
	}
	if err := w.closeLink(ctx, nil); err != nil {
		return err
	}
	// Listed digests the walk never reached lie inside the period of the
	// chain's oldest digest in range.
	return w.skipped(ctx, 0, ObjectRef{}, "it lies inside the period of an older digest of the chain")
}

// pop returns the newest listed digest not yet checked, or nil.
func (w *walker) pop() *listed {
	if w.cursor == 0 {
		return nil
	}
	w.cursor--
	return &w.list[w.cursor]
}

// skipped reports the listed digests list[lo:cursor] other than except
// that the chain passes over, newest first, and drops them from the walk.
func (w *walker) skipped(ctx context.Context, lo int, except ObjectRef, why string) error {
	for i := w.cursor - 1; i >= lo; i-- {
		e := w.list[i]
		if w.seen[e.ref] || e.ref == except {
			continue
		}
		w.seen[e.ref] = true
		err := w.send(ctx, &item{res: Result{
			Kind: KindDigest, Object: e.ref, Status: ChainBroken, End: e.end, Backfill: w.backfill,
			Detail: "not on the chain: " + why,
		}})
		if err != nil {
			return err
		}
	}
	w.cursor = min(w.cursor, lo)
	return nil
}

// follow opens the link of the valid digest c and returns the digest to
// check next, or nil when the walk is over.
func (w *walker) follow(ctx context.Context, c *checked) (*listed, error) {
	if c.start.Before(w.opts.Start) {
		return nil, nil // the chain leaves the range
	}
	d := c.d
	switch {
	case d.PreviousDigestS3Object != nil:
		w.link = &openLink{from: c, kind: linkPrevious, end: c.start,
			target: ObjectRef{*d.PreviousDigestS3Bucket, *d.PreviousDigestS3Object}}
		return w.seek(ctx, c)
	case d.Gap != nil:
		gs, _ := time.Parse(TimeLayout, d.Gap.Start) // lint checked it
		l := &openLink{from: c, kind: linkGap, end: gs, reason: d.Gap.Reason,
			target: ObjectRef{d.Gap.PreviousBucket, d.Gap.PreviousObject}}
		if gs.Before(w.opts.Start) {
			return nil, w.gap(ctx, l, gs, Explained, gapReason(l)+"; the digest before the gap is before the range and was not checked")
		}
		w.link = l
		if l.target.Key != "" {
			return w.seek(ctx, c)
		}
		next := w.pop()
		if next == nil {
			w.link = nil
			return nil, w.gap(ctx, l, gs, Explained, gapReason(l))
		}
		return next, nil
	default:
		next := w.pop()
		if next != nil {
			// A chain start with older digests in range: a gap. The first
			// digest in range starting the chain is nothing to report.
			w.link = &openLink{from: c, kind: linkStart, end: c.start}
		}
		return next, nil
	}
}

// seek moves the walk to the target of the open link from c, reporting
// listed digests the link passes over.
func (w *walker) seek(ctx context.Context, c *checked) (*listed, error) {
	l := w.link
	tt, bf, ok := layout.DigestTime(l.target.Key)
	switch {
	case !ok || bf != w.backfill || !w.names.MatchString(l.target.Key):
		l.problems = append(l.problems, fmt.Sprintf("it links to %s, which is not a digest of this trail", l.target))
		return w.pop(), nil
	case !tt.Before(c.end):
		l.problems = append(l.problems, fmt.Sprintf("it links to %s, which is not older than it", l.target))
		return w.pop(), nil
	case w.seen[l.target]:
		l.problems = append(l.problems, fmt.Sprintf("it links to %s, which the walk has already checked", l.target))
		return w.pop(), nil
	}
	if l.target.Bucket != w.bucket {
		// The trail's bucket changed: go on in the listing of the old one.
		t := w.t
		t.Bucket = l.target.Bucket
		refs, err := w.src.ListDigests(ctx, t, w.opts.Start, w.opts.End.Add(time.Hour))
		if err != nil {
			return nil, fmt.Errorf("list digests: %w", err)
		}
		w.bucket, w.list = t.Bucket, sortListing(refs, w.backfill)
		w.cursor = len(w.list)
	}
	// list[lo:cursor] end no earlier than the target: the target itself
	// if it is listed, and digests the link passes over.
	lo := w.cursor
	for lo > 0 && !w.list[lo-1].end.Before(tt) {
		lo--
	}
	target := &listed{ref: l.target, end: tt}
	for i := lo; i < w.cursor; i++ {
		if w.list[i].ref == l.target {
			target = &w.list[i]
		}
	}
	return target, w.skipped(ctx, lo, l.target, fmt.Sprintf("%s links past it to %s", c.ref, l.target))
}

// closeLink checks the open link against older, the next valid digest
// of the walk (nil when there is none), and reports what is wrong.
func (w *walker) closeLink(ctx context.Context, older *checked) error {
	l := w.link
	if l == nil {
		return nil
	}
	w.link = nil
	start := w.opts.Start
	if older != nil {
		start = older.end
	}
	direct := older != nil && older.ref == l.target && len(l.problems) == 0
	switch l.kind {
	case linkPrevious:
		if direct {
			if l.problems = mismatches(l.from, older); len(l.problems) == 0 {
				return nil // the chain holds
			}
		} else if older != nil {
			if err := w.inferMissing(ctx, l, older); err != nil {
				return err
			}
		}
		return w.gap(ctx, l, start, ChainBroken, brokenDetail(l, older))
	case linkGap:
		if older != nil && len(l.problems) == 0 && (direct || l.target.Key == "") {
			if older.end.Equal(l.end) {
				return w.gap(ctx, l, start, Explained, gapReason(l))
			}
			l.problems = append(l.problems, fmt.Sprintf("the opentrailGap starts at %s, but %s ends at %s",
				FormatTime(l.end), older.ref, FormatTime(older.end)))
		} else if older != nil && l.target.Key != "" && !direct {
			if err := w.inferMissing(ctx, l, older); err != nil {
				return err
			}
		}
		return w.gap(ctx, l, start, ChainBroken, brokenDetail(l, older))
	default: // linkStart
		st := ChainBroken
		if w.opts.LenientGaps || w.backfill {
			st = Explained
		}
		detail := fmt.Sprintf("%s starts a new chain without an opentrailGap record saying why", l.from.ref)
		if len(l.problems) > 0 {
			detail += "; in between: " + strings.Join(l.problems, "; ")
		}
		return w.gap(ctx, l, start, st, detail)
	}
}

// gap reports the interval [start, l.from's start] as a gap.
func (w *walker) gap(ctx context.Context, l *openLink, start time.Time, st Status, detail string) error {
	return w.send(ctx, &item{res: Result{
		Kind: KindGap, Object: l.from.ref, Status: st, Detail: detail,
		Start: start, End: l.from.start, Backfill: w.backfill,
	}})
}

func gapReason(l *openLink) string {
	r := l.reason
	if r == "" {
		r = "no reason given"
	}
	return "opentrailGap: " + r
}

// brokenDetail says why a link or a recorded gap does not hold.
func brokenDetail(l *openLink, older *checked) string {
	to := "the start of the range"
	if older != nil {
		to = older.ref.String()
	}
	what := "its previous digest"
	if l.kind == linkGap {
		what = "the digest its opentrailGap names"
	}
	return fmt.Sprintf("the chain does not lead from %s through %s back to %s: %s",
		l.from.ref, what, to, strings.Join(l.problems, "; "))
}

// mismatches compares newer's link with older, the digest it links to.
func mismatches(newer, older *checked) []string {
	var p []string
	d := newer.d
	if d.PreviousDigestSignature == nil || *d.PreviousDigestSignature != older.sig {
		p = append(p, fmt.Sprintf("its previousDigestSignature is not the signature of %s", older.ref))
	}
	if d.PreviousDigestHashValue == nil || *d.PreviousDigestHashValue != older.hash {
		p = append(p, fmt.Sprintf("its previousDigestHashValue is not the SHA-256 %s of %s", older.hash, older.ref))
	}
	if !newer.start.Equal(older.end) {
		p = append(p, fmt.Sprintf("its digestStartTime %s is not the digestEndTime %s of %s",
			FormatTime(newer.start), FormatTime(older.end), older.ref))
	}
	return p
}

// maxInferred bounds how many missing digests inferMissing names.
const maxInferred = 1000

// inferMissing reports the digests missing between older and the target
// of l, when the digests on both sides of the hole have the same period
// and the hole is a whole number of periods: their keys are then known.
// The target itself has been reported already.
func (w *walker) inferMissing(ctx context.Context, l *openLink, older *checked) error {
	p := l.from.end.Sub(l.from.start)
	hole := l.end.Sub(older.end)
	if p <= 0 || older.end.Sub(older.start) != p || hole <= p || hole%p != 0 || hole/p > maxInferred {
		return nil
	}
	n := int(hole / p)
	for k := n - 1; k >= 1; k-- {
		end := older.end.Add(time.Duration(k) * p)
		key, ok := layout.DigestAt(l.target.Key, end)
		if !ok {
			return nil
		}
		ref := ObjectRef{l.target.Bucket, key}
		if w.seen[ref] {
			continue
		}
		w.seen[ref] = true
		l.problems = append(l.problems, fmt.Sprintf("%s: %s", ref, NotFound))
		err := w.send(ctx, &item{res: Result{
			Kind: KindDigest, Object: ref, Status: NotFound, End: end, Backfill: w.backfill,
			Detail: fmt.Sprintf("inferred: %s ends at %s and %s links to a digest ending at %s; the chain's digests cover %s each",
				older.ref, FormatTime(older.end), l.from.ref, FormatTime(l.end), p),
		}})
		if err != nil {
			return err
		}
	}
	return nil
}

// send queues a result for report.
func (w *walker) send(ctx context.Context, it *item) error {
	select {
	case w.out <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// emitDigest reports a digest and, when it is valid, queues its log files.
func (w *walker) emitDigest(ctx context.Context, c *checked) error {
	w.seen[c.ref] = true
	err := w.send(ctx, &item{res: Result{
		Kind: KindDigest, Object: c.ref, Status: c.status, Detail: c.detail,
		Start: c.start, End: c.end, Backfill: w.backfill,
	}})
	if err != nil || !c.usable() {
		return err
	}
	for _, lf := range c.d.LogFiles {
		it := &item{
			res:  Result{Kind: KindLog, Object: ObjectRef{lf.S3Bucket, lf.S3Object}, Backfill: w.backfill},
			hash: lf.HashValue, digest: c.ref, done: make(chan struct{}),
		}
		if c.status == SignatureUnavailable {
			// Kept when the file matches: what it matches is unverified.
			it.res.Detail = "listed in " + c.ref.String() + ", whose signature is not available in this copy"
		}
		if err := w.send(ctx, it); err != nil {
			return err
		}
		select {
		case w.jobs <- it:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// check fetches a digest and checks it on its own: format, location,
// key, signature and content. Links are checked by closeLink.
func (w *walker) check(ctx context.Context, at listed) (*checked, error) {
	c := &checked{ref: at.ref, end: at.end}
	gz, meta, err := w.src.Get(ctx, at.ref)
	if errors.Is(err, ErrNotFound) {
		if l := w.link; l != nil && l.target == at.ref {
			return c.fail(NotFound, "linked from "+l.from.ref.String())
		}
		return c.fail(NotFound, "")
	}
	if err != nil {
		return nil, fmt.Errorf("get digest file %s: %w", at.ref, err)
	}
	plain, err := Gunzip(gz)
	if err != nil {
		return c.fail(InvalidFormat, err.Error())
	}
	if !json.Valid(plain) {
		return c.fail(InvalidFormat, "not JSON")
	}
	sig, alg := meta[MetaSignature], meta[MetaSignatureAlgorithm]
	via := ""
	unavailable := "" // why the signature of a digest in a copy is not available
	if sig == "" || alg == "" {
		if l := w.link; l != nil && l.kind == linkPrevious && l.target == at.ref && len(l.problems) == 0 && l.from.d.PreviousDigestSignature != nil {
			// Offline: the digest after this one vouches for its signature.
			sig, alg = *l.from.d.PreviousDigestSignature, SignatureAlgorithm
			via = "no signature metadata: checked with the previousDigestSignature of " + l.from.ref.String()
		} else if sig, alg, via, unavailable, err = w.fetchSignature(ctx, at.ref); err != nil {
			return nil, err
		} else if sig == "" && unavailable == "" {
			return c.fail(BadSignature, "the object has no x-amz-meta-signature and x-amz-meta-signature-algorithm"+via)
		}
	}
	d, err := Parse(plain)
	if err != nil {
		return c.fail(InvalidFormat, err.Error())
	}
	if named := (ObjectRef{d.DigestS3Bucket, d.DigestS3Object}); named != at.ref {
		return c.fail(Moved, "it names "+named.String())
	}
	pub, st, detail, err := w.keys.find(ctx, w, d.DigestPublicKeyFingerprint, meta)
	if err != nil {
		return nil, err
	}
	if st != Valid {
		return c.fail(st, detail)
	}
	hash := Hash(plain)
	if unavailable == "" {
		if alg != SignatureAlgorithm {
			return c.fail(BadSignature, fmt.Sprintf("signature algorithm %q", alg))
		}
		if err := Verify(pub, SigningString(d, hash), sig); err != nil {
			return c.fail(BadSignature, via)
		}
	}
	start, end, problem := w.lint(d)
	if problem != "" {
		return c.fail(InvalidFormat, problem)
	}
	c.d, c.plain, c.hash, c.sig = d, plain, hash, sig
	c.start, c.end, c.status, c.detail = start, end, Valid, via
	if unavailable != "" {
		c.status, c.detail = SignatureUnavailable, unavailable
	}
	return c, nil
}

// fetchSignature asks a MetadataFetcher Source (a local copy) for the
// signature metadata of a digest the copy holds none for and no newer
// digest vouches for. It returns the signature and algorithm and where
// they came from; or why they are not available (the digest is then
// SignatureUnavailable); or, when the source answered without a
// signature, neither (the digest is then BadSignature, via saying that
// the source has none either). A Source that is not a MetadataFetcher
// is a bucket, which keeps metadata: no signature, BadSignature.
func (w *walker) fetchSignature(ctx context.Context, ref ObjectRef) (sig, alg, via, unavailable string, err error) {
	f, ok := w.src.(MetadataFetcher)
	if !ok {
		return "", "", "", "", nil
	}
	const missing = "the copy holds no x-amz-meta-signature for it and no newer digest records its signature"
	meta, err := f.FetchMetadata(ctx, ref)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return "", "", "", "", cerr
		}
		return "", "", "", missing + "; fetching it: " + err.Error(), nil
	}
	sig, alg = meta[MetaSignature], meta[MetaSignatureAlgorithm]
	if sig == "" || alg == "" {
		return "", "", " in the copy or at the source it was copied from", "", nil
	}
	return sig, alg, "signature metadata not in the copy: fetched from the source it was copied from", "", nil
}

// lint checks what validate-logs does not: the content of a validly
// signed digest. It returns the digest's period, or what is wrong.
func (w *walker) lint(d *Digest) (start, end time.Time, problem string) {
	if d.AWSAccountID != w.t.Account {
		return start, end, fmt.Sprintf("awsAccountId is %q, not the trail's account %s", d.AWSAccountID, w.t.Account)
	}
	start, err := time.Parse(TimeLayout, d.DigestStartTime)
	if err != nil {
		return start, end, fmt.Sprintf("digestStartTime %q is not a time like %s", d.DigestStartTime, TimeLayout)
	}
	end, err = time.Parse(TimeLayout, d.DigestEndTime)
	if err != nil {
		return start, end, fmt.Sprintf("digestEndTime %q is not a time like %s", d.DigestEndTime, TimeLayout)
	}
	if !end.After(start) {
		return start, end, fmt.Sprintf("digestEndTime %s is not after digestStartTime %s", d.DigestEndTime, d.DigestStartTime)
	}
	if d.DigestSignatureAlgorithm != SignatureAlgorithm {
		return start, end, fmt.Sprintf("digestSignatureAlgorithm is %q", d.DigestSignatureAlgorithm)
	}
	prev := []*string{d.PreviousDigestS3Bucket, d.PreviousDigestS3Object, d.PreviousDigestHashValue,
		d.PreviousDigestHashAlgorithm, d.PreviousDigestSignature}
	nulls := 0
	for _, p := range prev {
		if p == nil {
			nulls++
		}
	}
	switch {
	case nulls != 0 && nulls != len(prev):
		return start, end, "some previousDigest* fields are null and others are not"
	case nulls == 0 && *d.PreviousDigestHashAlgorithm != HashAlgorithm:
		return start, end, fmt.Sprintf("previousDigestHashAlgorithm is %q", *d.PreviousDigestHashAlgorithm)
	case nulls == 0 && d.Gap != nil:
		return start, end, "it links to a previous digest and also records an opentrailGap"
	}
	if g := d.Gap; g != nil {
		gs, err1 := time.Parse(TimeLayout, g.Start)
		ge, err2 := time.Parse(TimeLayout, g.End)
		switch {
		case err1 != nil || err2 != nil:
			return start, end, fmt.Sprintf("opentrailGap times %q and %q are not times like %s", g.Start, g.End, TimeLayout)
		case !ge.Equal(start):
			return start, end, fmt.Sprintf("opentrailGap ends at %s, not at digestStartTime %s", g.End, d.DigestStartTime)
		case gs.After(ge):
			return start, end, fmt.Sprintf("opentrailGap starts at %s, after it ends", g.Start)
		case (g.PreviousBucket == "") != (g.PreviousObject == ""):
			return start, end, "opentrailGap names a previous digest's bucket or key but not both"
		}
	}
	root, ok := layout.DigestAccountRoot(d.DigestS3Object)
	if !ok {
		return start, end, "digestS3Object is not a digest key"
	}
	logs := make(map[string]bool, len(d.LogFiles))
	for _, lf := range d.LogFiles {
		ref := ObjectRef{lf.S3Bucket, lf.S3Object}
		switch m := w.logs.FindStringSubmatch(lf.S3Object); {
		case lf.S3Bucket != d.DigestS3Bucket:
			return start, end, fmt.Sprintf("it lists %s, which is not in its bucket %s", ref, d.DigestS3Bucket)
		case m == nil || m[1] != root:
			return start, end, fmt.Sprintf("it lists %s, which is not a log file of account %s in %s under %s",
				ref, w.t.Account, w.t.SourceRegion, root)
		case lf.HashAlgorithm != HashAlgorithm:
			return start, end, fmt.Sprintf("it lists %s with hashAlgorithm %q", ref, lf.HashAlgorithm)
		case !isHexSHA256(lf.HashValue):
			return start, end, fmt.Sprintf("it lists %s with hashValue %q, not a lowercase hex SHA-256", ref, lf.HashValue)
		case logs[lf.S3Object]:
			return start, end, fmt.Sprintf("it lists %s twice", ref)
		}
		logs[lf.S3Object] = true
	}
	return start, end, ""
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// keySet holds the public keys the walk has fetched, by fingerprint.
type keySet struct {
	loaded bool
	byFP   map[string][]PublicKey
	parsed map[string]*rsa.PublicKey
}

func (k *keySet) add(keys []PublicKey) {
	if k.byFP == nil {
		k.byFP, k.parsed = map[string][]PublicKey{}, map[string]*rsa.PublicKey{}
	}
	for _, p := range keys {
		k.byFP[p.Fingerprint] = append(k.byFP[p.Fingerprint], p)
	}
}

// find returns the key with fingerprint fp, or the status and detail of
// a digest signed with a key it cannot have. Keys are fetched on first
// use for [Start, End+2h] (as newer validate-logs versions do) and, for a
// backfill digest signed with a key not among them, around the digest's
// generation time.
func (k *keySet) find(ctx context.Context, w *walker, fp string, meta map[string]string) (*rsa.PublicKey, Status, string, error) {
	if !k.loaded {
		keys, err := w.src.PublicKeys(ctx, w.opts.Start, w.opts.End.Add(2*time.Hour))
		if err != nil {
			return nil, "", "", fmt.Errorf("list public keys: %w", err)
		}
		k.add(keys)
		k.loaded = true
	}
	if pub := k.parsed[fp]; pub != nil {
		return pub, Valid, "", nil
	}
	if ts := meta["backfill-generation-timestamp"]; len(k.byFP[fp]) == 0 && w.backfill && ts != "" {
		if t, err := time.Parse(time.RFC3339, ts); err == nil {
			keys, err := w.src.PublicKeys(ctx, t.Add(-time.Hour), t.Add(time.Hour))
			if err != nil {
				return nil, "", "", fmt.Errorf("list public keys: %w", err)
			}
			k.add(keys)
		}
	}
	cands := k.byFP[fp]
	if len(cands) == 0 {
		return nil, NoPublicKey, fmt.Sprintf("in region %s for fingerprint %s", w.t.HomeRegion, fp), nil
	}
	for _, c := range cands {
		if Fingerprint(c.Value) != fp {
			continue
		}
		pub, err := ParsePublicKey(c.Value)
		if err != nil {
			return nil, BadSignature, fmt.Sprintf("unable to load PKCS #1 key with fingerprint %s: %v", fp, err), nil
		}
		k.parsed[fp] = pub
		return pub, Valid, "", nil
	}
	return nil, BadSignature, fmt.Sprintf("the public key served for fingerprint %s has fingerprint %s",
		fp, Fingerprint(cands[0].Value)), nil
}
