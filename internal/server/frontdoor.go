package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/metrics"
)

// The front door's limits. A request whose signature cannot be verified
// before its body (its payload hash is the hash of the body) is
// unauthenticated while its body arrives; what such requests may hold is
// bounded so that they can never starve authenticated ones.
const (
	// bodyChunk is how much body is reserved at a time: the budget is
	// taken as bytes arrive, never from Content-Length up front, so a
	// request that sends no body holds at most one chunk.
	bodyChunk = 64 << 10
	// bodyGrace is how long a body may take to start arriving, and
	// bodyMinRate the rate it must keep up after that: a body whose bytes
	// do not arrive is cut off instead of holding its connection for the
	// server's whole read timeout.
	bodyGrace   = 5 * time.Second
	bodyMinRate = 128 << 10 // bytes per second
	// budgetWait is how long a request waits for room in the budget before
	// it is told to slow down.
	budgetWait = 5 * time.Second
	// maxSourceRequests bounds the unauthenticated requests one source
	// address may have reading their bodies at once.
	maxSourceRequests = 64
	// degradedWindow is how long after the last refusal /healthz still
	// reports degraded.
	degradedWindow = 30 * time.Second
)

// Reasons a request is refused at the front door: the values of the
// reason label of opentrail_http_requests_refused_total.
const (
	refusedBudget = "budget"      // the server-wide body budget stayed full
	refusedSource = "source"      // one address had too many unauthenticated bytes or requests
	refusedSlow   = "slow_body"   // the body arrived slower than bodyMinRate
	refusedUnauth = "unauth_full" // the unauthenticated share of the budget stayed full
)

var refusedReasons = []string{refusedBudget, refusedSource, refusedSlow, refusedUnauth}

// frontDoor admits request bodies into memory. The server-wide budget
// (bodyBudget) bounds every body byte held; unauthenticated bytes may take
// at most half of it, and one source address at most an eighth (but
// always one maximal body), so requests whose signature is verified before
// their body always find room, and one address sending bodies slowly or
// not at all cannot crowd out the others. Safe for concurrent use.
type frontDoor struct {
	total  *semaphore.Weighted
	unauth *semaphore.Weighted

	totalBytes, unauthBytes, sourceBytes int64

	heldAll, heldUnauth atomic.Int64 // bytes held now

	mu      sync.Mutex
	sources map[string]*sourceUse
	// episodes are, per refusal reason, the refusals since the reason
	// last went quiet for degradedWindow.
	episodes map[string]*episode

	refused *metrics.CounterVec
	now     func() time.Time
	// grace and minRate are bodyGrace and bodyMinRate (tests shorten them).
	grace   time.Duration
	minRate float64
}

type sourceUse struct {
	requests int
	bytes    int64
}

type episode struct {
	first, last time.Time
	n           int
}

func newFrontDoor(budget *semaphore.Weighted, totalBytes, maxBody int64, reg *metrics.Registry) *frontDoor {
	d := &frontDoor{
		total:      budget,
		totalBytes: totalBytes,
		// Each share holds at least one maximal body and the chunk that
		// finds it too large.
		unauthBytes: max(totalBytes/2, maxBody+bodyChunk),
		sourceBytes: max(totalBytes/8, maxBody+bodyChunk),
		sources:     make(map[string]*sourceUse),
		episodes:    make(map[string]*episode),
		now:         time.Now,
		grace:       bodyGrace,
		minRate:     bodyMinRate,
	}
	d.unauth = semaphore.NewWeighted(d.unauthBytes)
	d.refused = reg.NewCounterVec("opentrail_http_requests_refused_total",
		"Requests refused or cut off before authentication completed, by reason (budget, unauth_full, source, slow_body).", "reason", refusedReasons...)
	reg.NewGaugeFunc("opentrail_http_body_bytes_held", "Request body bytes held in memory.", func() float64 {
		return float64(d.heldAll.Load())
	})
	reg.NewGaugeFunc("opentrail_http_unauthenticated_body_bytes_held", "Request body bytes held for requests not yet authenticated.", func() float64 {
		return float64(d.heldUnauth.Load())
	})
	return d
}

// note records a refusal for /metrics and /healthz.
func (d *frontDoor) note(reason string) {
	d.refused.Add(reason, 1)
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.episodes[reason]
	if e == nil || now.Sub(e.last) > degradedWindow {
		e = &episode{first: now}
		d.episodes[reason] = e
	}
	e.last = now
	e.n++
}

// degraded describes what the front door refused recently; nil when
// nothing was refused within degradedWindow.
func (d *frontDoor) degraded() []string {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for reason, e := range d.episodes {
		if now.Sub(e.last) > degradedWindow {
			continue
		}
		since := e.first.UTC().Format(time.RFC3339)
		var what string
		switch reason {
		case refusedBudget:
			what = fmt.Sprintf("%d requests throttled since %s: request bodies filled the %s memory budget", e.n, since, sizeText(d.totalBytes))
		case refusedUnauth:
			what = fmt.Sprintf("%d unauthenticated requests throttled since %s: bodies of requests not yet authenticated filled their %s share", e.n, since, sizeText(d.unauthBytes))
		case refusedSource:
			what = fmt.Sprintf("%d unauthenticated requests refused since %s: one address had more than %d requests or %s of unauthenticated bodies in flight", e.n, since, maxSourceRequests, sizeText(d.sourceBytes))
		case refusedSlow:
			what = fmt.Sprintf("%d requests cut off since %s: their bodies arrived slower than %d KiB/s", e.n, since, bodyMinRate>>10)
		}
		out = append(out, what)
	}
	sort.Strings(out)
	return out
}

// bodyHold is the budget a request holds. Release it when the request is
// done; authenticated moves its bytes out of the unauthenticated share.
type bodyHold struct {
	d        *frontDoor
	src      string
	authed   bool  // counted as authenticated: no share, no source limits
	counted  bool  // counted among the source's unauthenticated requests
	total    int64 // held from the server-wide budget
	unauthed int64 // held from the unauthenticated share and the source
}

// authenticated is called once the signature is verified.
func (h *bodyHold) authenticated() {
	if h.authed {
		return
	}
	h.authed = true
	h.d.releaseUnauth(h)
}

// release gives back everything h holds.
func (h *bodyHold) release() {
	h.d.releaseUnauth(h)
	if h.total > 0 {
		h.d.total.Release(h.total)
		h.d.heldAll.Add(-h.total)
		h.total = 0
	}
}

func (d *frontDoor) releaseUnauth(h *bodyHold) {
	if h.unauthed == 0 && !h.counted {
		return
	}
	if h.unauthed > 0 {
		d.unauth.Release(h.unauthed)
		d.heldUnauth.Add(-h.unauthed)
	}
	d.mu.Lock()
	if u := d.sources[h.src]; u != nil {
		u.bytes -= h.unauthed
		if h.counted {
			u.requests--
		}
		if u.requests == 0 && u.bytes == 0 {
			delete(d.sources, h.src)
		}
	}
	d.mu.Unlock()
	h.unauthed, h.counted = 0, false
}

// errSlowDown is answered to a request refused for lack of room: the
// client should retry later.
type errSlowDown struct{ msg string }

func (e *errSlowDown) Error() string { return e.msg }

// errBodyTimeout is answered to a request whose body did not arrive in time.
type errBodyTimeout struct{}

func (errBodyTimeout) Error() string {
	return fmt.Sprintf("the request body did not arrive in time: bodies must start within %s and arrive at %d KiB/s or faster", bodyGrace, bodyMinRate>>10)
}

// reserve takes n bytes for h, waiting up to budgetWait for room.
func (d *frontDoor) reserve(ctx context.Context, h *bodyHold, n int64) error {
	if !h.authed {
		d.mu.Lock()
		u := d.sources[h.src]
		if u == nil {
			u = &sourceUse{}
			d.sources[h.src] = u
		}
		ok := u.bytes+n <= d.sourceBytes
		if ok {
			u.bytes += n
		}
		d.mu.Unlock()
		if !ok {
			d.note(refusedSource)
			return &errSlowDown{fmt.Sprintf("too many request bytes in flight from %s before authentication (at most %s); retry later", h.src, sizeText(d.sourceBytes))}
		}
		wctx, cancel := context.WithTimeout(ctx, budgetWait)
		err := d.unauth.Acquire(wctx, n)
		cancel()
		if err != nil {
			d.mu.Lock()
			if u := d.sources[h.src]; u != nil {
				u.bytes -= n
			}
			d.mu.Unlock()
			d.note(refusedUnauth)
			return &errSlowDown{"too many request bytes in flight before authentication; retry later"}
		}
		h.unauthed += n
		d.heldUnauth.Add(n)
	}
	wctx, cancel := context.WithTimeout(ctx, budgetWait)
	err := d.total.Acquire(wctx, n)
	cancel()
	if err != nil {
		d.note(refusedBudget)
		return &errSlowDown{"too many request bytes in flight; retry later"}
	}
	h.total += n
	d.heldAll.Add(n)
	return nil
}

// enter counts an unauthenticated request of h's source, refusing it when
// the source has too many.
func (d *frontDoor) enter(h *bodyHold) error {
	d.mu.Lock()
	u := d.sources[h.src]
	if u == nil {
		u = &sourceUse{}
		d.sources[h.src] = u
	}
	ok := u.requests < maxSourceRequests
	if ok {
		u.requests++
		h.counted = true
	}
	d.mu.Unlock()
	if !ok {
		d.note(refusedSource)
		return &errSlowDown{fmt.Sprintf("too many unauthenticated requests in flight from %s (at most %d); retry later", h.src, maxSourceRequests)}
	}
	return nil
}

// readBody reads r's whole body, refusing more than limit bytes. It takes
// the budget as bytes arrive, and keeps the body arriving at bodyMinRate
// after bodyGrace with read deadlines. authed says whether the request's
// signature is verified already. The returned hold must be released (also
// on error).
func (d *frontDoor) readBody(w http.ResponseWriter, r *http.Request, limit int64, authed bool, src string) ([]byte, *bodyHold, error) {
	h := &bodyHold{d: d, src: src, authed: authed}
	if r.ContentLength > limit {
		return nil, h, &bodyTooLargeError{limit}
	}
	if !authed {
		if err := d.enter(h); err != nil {
			return nil, h, err
		}
	}
	rc := http.NewResponseController(w)
	start := d.now()
	var waited time.Duration
	var body []byte
	for {
		n := int64(bodyChunk)
		if r.ContentLength >= 0 {
			n = min(n, r.ContentLength-int64(len(body)))
		} else {
			n = min(n, limit+1-int64(len(body)))
		}
		if n <= 0 {
			// The declared length has arrived; confirm the end without
			// reserving anything.
			var one [1]byte
			m, err := r.Body.Read(one[:])
			if m > 0 || err == nil {
				return nil, h, &bodyTooLargeError{limit}
			}
			if errors.Is(err, io.EOF) {
				return body, h, nil
			}
			return nil, h, d.readError(err)
		}
		t0 := d.now()
		if err := d.reserve(r.Context(), h, n); err != nil {
			return nil, h, err
		}
		waited += d.now().Sub(t0)
		deadline := start.Add(waited + d.grace + time.Duration(float64(int64(len(body))+n)/d.minRate*float64(time.Second)))
		// Not every ResponseWriter supports deadlines. The server lifts the
		// deadline itself once the body hits EOF, when it starts watching
		// the connection for the client going away.
		_ = rc.SetReadDeadline(deadline)
		// Capacity doubles as bytes arrive (never past a declared length),
		// so memory follows what was received and reserved.
		ceiling := limit + 1
		if r.ContentLength >= 0 {
			ceiling = r.ContentLength
		}
		body = growTo(body, len(body)+int(n), int(ceiling))
		m, err := io.ReadFull(r.Body, body[len(body):len(body)+int(n)])
		body = body[:len(body)+m]
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				if r.ContentLength >= 0 && int64(len(body)) < r.ContentLength {
					return nil, h, d.readError(io.ErrUnexpectedEOF)
				}
				return body, h, nil
			}
			return nil, h, d.readError(err)
		}
		if int64(len(body)) > limit {
			return nil, h, &bodyTooLargeError{limit}
		}
	}
}

// sizeText writes n bytes in MiB, or KiB below one MiB.
func sizeText(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// growTo returns b with capacity for at least n bytes, doubling as needed
// but not past ceiling.
func growTo(b []byte, n, ceiling int) []byte {
	if cap(b) >= n {
		return b
	}
	nb := make([]byte, len(b), max(n, min(2*cap(b), ceiling)))
	copy(nb, b)
	return nb
}

func (d *frontDoor) readError(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		d.note(refusedSlow)
		return errBodyTimeout{}
	}
	return &awsapi.Error{Code: "SerializationException", Message: "could not read the request body: " + err.Error(), Status: http.StatusBadRequest}
}
