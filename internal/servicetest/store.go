package servicetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/store"
)

// Store is an in-memory event, channel and trail store with the lookup
// semantics the event store documents: newest first, ties broken by
// sequence, the After cursor exclusive. It satisfies the store interfaces
// the services take (lookups, channels, trails). Create it with NewStore.
//
// Tests may read the exported fields once the calls they check have
// returned; the methods lock, the fields do not.
type Store struct {
	mu       sync.Mutex
	ids      map[string][]byte // Raw by account and eventID
	seq      int64
	Events   []store.Event            // in the order added
	Channels map[string]store.Channel // by ARN
	Trails   map[string]store.Trail   // by ARN
	Lookups  int                      // calls to Lookup
	Fail     error                    // returned by every method when set
}

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{ids: map[string][]byte{}, Channels: map[string]store.Channel{}, Trails: map[string]store.Trail{}}
}

// Add stores recs unless their account and eventID are already stored,
// and reports what happened to each as the store does: a duplicate when
// the stored record is the same event (event.SameEvent), else a conflict.
func (m *Store) Add(recs ...*event.Record) []ingest.Outcome {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ingest.Outcome, len(recs))
	for i, r := range recs {
		key := r.AccountID + "/" + r.EventID
		if raw, ok := m.ids[key]; ok {
			out[i] = ingest.Conflict
			if event.SameEvent(raw, r) {
				out[i] = ingest.Duplicate
			}
			continue
		}
		m.ids[key] = r.Raw
		m.seq++
		m.Events = append(m.Events, store.Event{Seq: m.seq, IngestTime: time.Now(), Rec: r})
	}
	return out
}

func attrMatches(r *event.Record, a store.Attr) bool {
	switch a.Key {
	case "EventId":
		return r.EventID == a.Value
	case "EventName":
		return r.EventName == a.Value
	case "ReadOnly":
		return r.ReadOnlySet && (a.Value == "true") == r.ReadOnly
	case "Username":
		return r.Username == a.Value
	case "EventSource":
		return r.EventSource == a.Value
	case "AccessKeyId":
		return r.AccessKeyID == a.Value
	case "ResourceType":
		return slices.ContainsFunc(r.Resources, func(x event.Resource) bool { return x.Type == a.Value })
	case "ResourceName":
		return slices.ContainsFunc(r.Resources, func(x event.Resource) bool { return x.Name == a.Value })
	}
	return false
}

// Lookup returns the stored events q selects, newest first.
func (m *Store) Lookup(ctx context.Context, q store.LookupQuery) ([]store.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Lookups++
	if m.Fail != nil {
		return nil, m.Fail
	}
	if q.Limit <= 0 {
		return nil, errors.New("lookup: limit must be positive")
	}
	var out []store.Event
	for _, e := range m.Events {
		r := e.Rec
		switch {
		case len(q.Accounts) > 0 && !slices.Contains(q.Accounts, r.AccountID),
			q.Region != "" && r.AWSRegion != q.Region,
			!q.Start.IsZero() && r.EventTime.Before(q.Start),
			!q.End.IsZero() && r.EventTime.After(q.End),
			len(q.Categories) > 0 && !slices.Contains(q.Categories, r.EventCategory),
			q.After != nil && !(r.EventTime.Before(q.After.Time) || r.EventTime.Equal(q.After.Time) && e.Seq < q.After.Seq):
			continue
		}
		ok := true
		for _, a := range q.Attrs {
			ok = ok && attrMatches(r, a)
		}
		if ok {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		ti, tj := out[i].Rec.EventTime, out[j].Rec.EventTime
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return out[i].Seq > out[j].Seq
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// CreateChannel stores c; store.ErrExists when its ARN, or its name in
// its account and region, is taken.
func (m *Store) CreateChannel(ctx context.Context, c store.Channel) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	for _, x := range m.Channels {
		if x.ARN == c.ARN || x.Account == c.Account && x.Region == c.Region && x.Name == c.Name {
			return fmt.Errorf("create channel %s: %w", c.Name, store.ErrExists)
		}
	}
	m.Channels[c.ARN] = c
	return nil
}

// GetChannel returns the channel arn; store.ErrNotFound when there is none.
func (m *Store) GetChannel(ctx context.Context, arn string) (store.Channel, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return store.Channel{}, m.Fail
	}
	c, ok := m.Channels[arn]
	if !ok {
		return store.Channel{}, fmt.Errorf("get channel %s: %w", arn, store.ErrNotFound)
	}
	return c, nil
}

// ListChannels returns account's channels in no particular order.
func (m *Store) ListChannels(ctx context.Context, account string) ([]store.Channel, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return nil, m.Fail
	}
	var out []store.Channel
	for _, c := range m.Channels {
		if c.Account == account {
			out = append(out, c)
		}
	}
	return out, nil
}

// DeleteChannel removes the channel arn; store.ErrNotFound when there is none.
func (m *Store) DeleteChannel(ctx context.Context, arn string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	if _, ok := m.Channels[arn]; !ok {
		return fmt.Errorf("delete channel %s: %w", arn, store.ErrNotFound)
	}
	delete(m.Channels, arn)
	return nil
}

// CreateTrail stores a copy of t; store.ErrExists when its ARN is taken.
func (m *Store) CreateTrail(ctx context.Context, t store.Trail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	if _, ok := m.Trails[t.ARN]; ok {
		return fmt.Errorf("create trail %s: %w", t.ARN, store.ErrExists)
	}
	t.Doc = slices.Clone(t.Doc)
	m.Trails[t.ARN] = t
	return nil
}

// GetTrail returns the trail arn; store.ErrNotFound when there is none.
func (m *Store) GetTrail(ctx context.Context, arn string) (store.Trail, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return store.Trail{}, m.Fail
	}
	t, ok := m.Trails[arn]
	if !ok {
		return store.Trail{}, fmt.Errorf("get trail %s: %w", arn, store.ErrNotFound)
	}
	return t, nil
}

// ListTrails returns account's trails by ARN.
func (m *Store) ListTrails(ctx context.Context, account string) ([]store.Trail, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return nil, m.Fail
	}
	var out []store.Trail
	for _, t := range m.Trails {
		if t.Account == account {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out, nil
}

// UpdateTrail replaces the document and update time of the trail t.ARN;
// store.ErrNotFound when there is none.
func (m *Store) UpdateTrail(ctx context.Context, t store.Trail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	old, ok := m.Trails[t.ARN]
	if !ok {
		return fmt.Errorf("update trail %s: %w", t.ARN, store.ErrNotFound)
	}
	old.Doc, old.Updated = slices.Clone(t.Doc), t.Updated
	m.Trails[t.ARN] = old
	return nil
}

// DeleteTrail removes the trail arn; store.ErrNotFound when there is none.
func (m *Store) DeleteTrail(ctx context.Context, arn string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	if _, ok := m.Trails[arn]; !ok {
		return fmt.Errorf("delete trail %s: %w", arn, store.ErrNotFound)
	}
	delete(m.Trails, arn)
	return nil
}

// Ingester commits submitted records into Store at once, as the ingester
// reports them once they are durable.
type Ingester struct {
	Store   *Store
	Source  string // when set, Submit refuses any other source
	Fail    error  // returned by Submit when set, with nothing stored
	Submits int    // calls to Submit
	// Short drops the last outcome, as a buggy ingester would.
	Short bool
	mu    sync.Mutex
}

// Submit adds recs to the Store and counts the outcomes.
func (g *Ingester) Submit(ctx context.Context, source string, recs []*event.Record) (ingest.Result, error) {
	if g.Source != "" && source != g.Source {
		return ingest.Result{}, fmt.Errorf("unexpected source %q", source)
	}
	g.mu.Lock()
	g.Submits++
	fail := g.Fail
	g.mu.Unlock()
	if fail != nil {
		return ingest.Result{}, fail
	}
	res := ingest.Result{Outcomes: g.Store.Add(recs...)}
	if g.Short {
		res.Outcomes = res.Outcomes[:len(res.Outcomes)-1]
	}
	for _, o := range res.Outcomes {
		switch o {
		case ingest.Accepted:
			res.Accepted++
		case ingest.Duplicate:
			res.Duplicates++
		default:
			res.Conflicts++
		}
	}
	return res, nil
}
