package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/client"
)

// The native endpoints a Remote records through (internal/native).
const (
	pathIntents  = "/v1/capture/intents"
	pathRenew    = "/v1/capture/renew"
	pathComplete = "/v1/capture/complete"
)

// RemoteOptions tune a Remote; the zero value is usable.
type RemoteOptions struct {
	// Timeout bounds one request to the server (default 10 s).
	Timeout time.Duration
	// MaxBatch is the most records (or eventIDs) one request carries
	// (default 500).
	MaxBatch int
	// Workers is how many requests of each kind may be in flight at once
	// (default 4); callers arriving while they are busy wait and go
	// together in the next request.
	Workers int
}

// Remote is a [Recorder] over an opentrail server's native capture
// endpoints (POST /v1/capture/intents, /v1/capture/renew and
// /v1/capture/complete), signed by c. Concurrent callers are batched into
// one request (group commit): while a request is in flight, the callers
// that arrive wait and go together in the next, so 64 concurrent Intends
// cost about two round trips rather than 64. The server acknowledges
// only what it has fsynced. Create it with NewRemote; Close stops its
// workers.
type Remote struct {
	c        *client.Client
	opts     RemoteOptions
	intents  chan *remoteItem
	renews   chan *remoteItem
	complete chan *remoteItem
	quit     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
}

// remoteItem is one caller's part of a request.
type remoteItem struct {
	rec   json.RawMessage
	ids   []string
	lease int // seconds
	done  chan error
}

// NewRemote returns a Remote recording through the server c talks to.
func NewRemote(c *client.Client, opts RemoteOptions) *Remote {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 500
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	r := &Remote{c: c, opts: opts, intents: make(chan *remoteItem), renews: make(chan *remoteItem),
		complete: make(chan *remoteItem), quit: make(chan struct{})}
	for range opts.Workers {
		r.wg.Add(3)
		go r.work(r.intents, r.sendIntents)
		go r.work(r.renews, r.sendRenew)
		go r.work(r.complete, r.sendComplete)
	}
	return r
}

// ErrRemoteClosed is returned by calls on a closed Remote.
var ErrRemoteClosed = errors.New("the capture recorder is closed")

// Intend commits rec as an intent with a lease of lease (whole seconds,
// at least one), and returns once the server has fsynced it.
func (r *Remote) Intend(ctx context.Context, rec []byte, lease time.Duration) error {
	return r.call(ctx, r.intents, &remoteItem{rec: rec, lease: leaseSeconds(lease)})
}

// Renew extends the leases of the intents of eventIDs to lease from now.
func (r *Remote) Renew(ctx context.Context, eventIDs []string, lease time.Duration) error {
	if len(eventIDs) == 0 {
		return nil
	}
	return r.call(ctx, r.renews, &remoteItem{ids: eventIDs, lease: leaseSeconds(lease)})
}

// Complete commits the final record rec (its intent, if any, is dropped)
// and returns once the server has fsynced it.
func (r *Remote) Complete(ctx context.Context, rec []byte) error {
	return r.call(ctx, r.complete, &remoteItem{rec: rec})
}

// Close stops the workers; calls waiting for one get ErrRemoteClosed,
// requests in flight finish. It is safe to call more than once.
func (r *Remote) Close(ctx context.Context) error {
	r.once.Do(func() { close(r.quit) })
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close the capture recorder: %w", ctx.Err())
	}
}

func leaseSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

func (r *Remote) call(ctx context.Context, ch chan *remoteItem, it *remoteItem) error {
	if it.ids == nil && !json.Valid(it.rec) {
		return errors.New("capture: the record is not JSON")
	}
	it.done = make(chan error, 1)
	select {
	case ch <- it:
	case <-r.quit:
		return ErrRemoteClosed
	case <-ctx.Done():
		return r.wrap(ctx.Err())
	}
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		return r.wrap(ctx.Err())
	}
}

// work takes the callers waiting on ch and sends them together, until
// Close.
func (r *Remote) work(ch chan *remoteItem, send func(ctx context.Context, items []*remoteItem) error) {
	defer r.wg.Done()
	for {
		var first *remoteItem
		select {
		case first = <-ch:
		case <-r.quit:
			return
		}
		batch := []*remoteItem{first}
		n := max(1, len(first.ids))
	drain:
		for n < r.opts.MaxBatch {
			select {
			case it := <-ch:
				batch = append(batch, it)
				n += max(1, len(it.ids))
			default:
				break drain
			}
		}
		// One request per lease: callers with the same lease (the usual
		// case) share it.
		byLease := map[int][]*remoteItem{}
		var leases []int
		for _, it := range batch {
			if _, ok := byLease[it.lease]; !ok {
				leases = append(leases, it.lease)
			}
			byLease[it.lease] = append(byLease[it.lease], it)
		}
		for _, l := range leases {
			r.sendIsolating(byLease[l], send)
		}
	}
}

// sendIsolating sends items in one request; if the server refuses it as
// a bad request and it holds more than one caller's part, each part is
// sent on its own, so that one caller's bad record fails only that
// caller.
func (r *Remote) sendIsolating(items []*remoteItem, send func(ctx context.Context, items []*remoteItem) error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.Timeout)
	err := send(ctx, items)
	cancel()
	var ae *client.APIError
	if err != nil && len(items) > 1 && errors.As(err, &ae) && ae.Status/100 == 4 && ae.Status != http.StatusTooManyRequests {
		for _, it := range items {
			r.sendIsolating([]*remoteItem{it}, send)
		}
		return
	}
	if err != nil {
		err = r.wrap(err)
	}
	for _, it := range items {
		it.done <- err
	}
}

// wrap says where records could not be stored, and what to do.
func (r *Remote) wrap(err error) error {
	msg := fmt.Sprintf("records cannot be stored at %s: %v", r.c.Endpoint, err)
	if h := client.Hint(err); h != "" {
		msg += " (" + h + ")"
	}
	return &RemoteError{msg: msg, Err: err}
}

// RemoteError is a Remote's failure to store records; Err is the cause
// (a *client.APIError for the server's answer, a *client.ConnError when
// it could not be reached, or a context's error).
type RemoteError struct {
	msg string
	Err error
}

func (e *RemoteError) Error() string { return e.msg }
func (e *RemoteError) Unwrap() error { return e.Err }

func (r *Remote) post(ctx context.Context, path string, body any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", path, err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	return r.c.Do(ctx, "opentrail", http.MethodPost, path, h, b)
}

func (r *Remote) sendIntents(ctx context.Context, items []*remoteItem) error {
	recs := make([]json.RawMessage, len(items))
	for i, it := range items {
		recs[i] = it.rec
	}
	_, err := r.post(ctx, pathIntents, struct {
		LeaseSeconds int               `json:"leaseSeconds"`
		Records      []json.RawMessage `json:"records"`
	}{items[0].lease, recs})
	return err
}

func (r *Remote) sendRenew(ctx context.Context, items []*remoteItem) error {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ids...)
	}
	_, err := r.post(ctx, pathRenew, struct {
		LeaseSeconds int      `json:"leaseSeconds"`
		EventIDs     []string `json:"eventIds"`
	}{items[0].lease, ids})
	return err
}

func (r *Remote) sendComplete(ctx context.Context, items []*remoteItem) error {
	recs := make([]json.RawMessage, len(items))
	for i, it := range items {
		recs[i] = it.rec
	}
	_, err := r.post(ctx, pathComplete, struct {
		Records []json.RawMessage `json:"records"`
	}{recs})
	return err
}
