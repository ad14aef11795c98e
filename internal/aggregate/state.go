package aggregate

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// Dimension names, as the aggregated-event documentation spells them.
const (
	dimEventName = "eventName"
	dimResource  = "resourceARN"
	dimUser      = "userIdentity"
	dimSourceIP  = "sourceIpAddress"
	dimUserAgent = "userAgent"
	dimErrors    = "errorCodes"
)

// templateDims gives each template's primary dimension and its details,
// in the order the details appear in the record.
var templateDims = map[string]struct {
	primary string
	details []string
}{
	trail.TemplateAPIActivity:    {dimEventName, []string{dimResource, dimUser, dimSourceIP, dimUserAgent, dimErrors}},
	trail.TemplateResourceAccess: {dimResource, []string{dimEventName, dimUser, dimSourceIP, dimErrors}},
	trail.TemplateUserActions:    {dimUser, []string{dimEventName, dimResource, dimSourceIP, dimUserAgent, dimErrors}},
}

// dimValue is rec's value of a dimension; "" when it has none.
func dimValue(rec *event.Record, dim string) string {
	switch dim {
	case dimEventName:
		return rec.EventName
	case dimResource:
		return resourceARN(rec)
	case dimUser:
		for _, k := range []string{"arn", "principalId", "invokedBy"} {
			if v := fastjson.GetString(rec.Raw, "userIdentity", k); v != "" {
				return v
			}
		}
		return rec.Username
	case dimSourceIP:
		return rec.SourceIP
	case dimUserAgent:
		return rec.UserAgent
	case dimErrors:
		return rec.ErrorCode
	}
	return ""
}

// resourceARN is the resource an event is counted against: the first of
// its resources that is not an object inside a container (an S3 object's
// bucket, as in CloudTrail's examples), else its first named resource.
func resourceARN(rec *event.Record) string {
	first := ""
	for _, r := range rec.Resources {
		if r.Name == "" {
			continue
		}
		if !strings.HasSuffix(r.Type, "::Object") {
			return r.Name
		}
		if first == "" {
			first = r.Name
		}
	}
	return first
}

// groupKey identifies one aggregated record within a window.
type groupKey struct {
	account, region, source, template, primary string
}

// group is one record's counts: the primary count and, per detail
// dimension, the count of each value.
type group struct {
	n    int64
	dims map[string]map[string]int64
}

// state is the consumer's position and open windows, as committed (plus
// what the current step folded in).
type state struct {
	cursor    int64 // every event through cursor is folded
	watermark int64 // newest data event time folded, Unix ms
	open      map[int64]map[groupKey]*group
	closed    map[int64]bool
	late      int
}

func loadState(ctx context.Context, db *sql.DB) (*state, error) {
	s := &state{open: map[int64]map[groupKey]*group{}, closed: map[int64]bool{}}
	rows, err := db.QueryContext(ctx, `SELECT name, value FROM agg_state`)
	if err != nil {
		return nil, fmt.Errorf("read aggregate state: %w", err)
	}
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read aggregate state: %w", err)
		}
		switch name {
		case "cursor":
			s.cursor = v
		case "watermark":
			s.watermark = v
		}
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, `SELECT window_start FROM agg_closed`)
	if err != nil {
		return nil, fmt.Errorf("read aggregate state: %w", err)
	}
	for rows.Next() {
		var ws int64
		if err := rows.Scan(&ws); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read aggregate state: %w", err)
		}
		s.closed[ws] = true
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, `SELECT account, region, source, template, window_start, primary_value, dimension, name, n FROM agg_counts`)
	if err != nil {
		return nil, fmt.Errorf("read aggregate counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k         groupKey
			ws, n     int64
			dim, name string
		)
		if err := rows.Scan(&k.account, &k.region, &k.source, &k.template, &ws, &k.primary, &dim, &name, &n); err != nil {
			return nil, fmt.Errorf("read aggregate counts: %w", err)
		}
		g := s.group(ws, k)
		if dim == "" {
			g.n = n
		} else {
			g.add(dim, name, n)
		}
	}
	return s, rows.Err()
}

func (s *state) group(ws int64, k groupKey) *group {
	w := s.open[ws]
	if w == nil {
		w = map[groupKey]*group{}
		s.open[ws] = w
	}
	g := w[k]
	if g == nil {
		g = &group{dims: map[string]map[string]int64{}}
		w[k] = g
	}
	return g
}

func (g *group) add(dim, name string, n int64) {
	m := g.dims[dim]
	if m == nil {
		m = map[string]int64{}
		g.dims[dim] = m
	}
	m[name] += n
}

// fold counts rec into window ws under each template.
func (s *state) fold(rec *event.Record, ws int64, templates []string) {
	for _, t := range templates {
		td, ok := templateDims[t]
		if !ok {
			continue
		}
		p := dimValue(rec, td.primary)
		if p == "" {
			continue
		}
		g := s.group(ws, groupKey{account: rec.AccountID, region: rec.AWSRegion, source: rec.EventSource, template: t, primary: p})
		g.n++
		for _, d := range td.details {
			if v := dimValue(rec, d); v != "" {
				g.add(d, v, 1)
			}
		}
	}
}

// commit rewrites the touched windows' counts and saves the cursor and
// watermark, in one transaction.
func (s *state) commit(ctx context.Context, db *sql.DB, cursor int64, touched map[int64]bool) error {
	return inTx(ctx, db, func(tx *sql.Tx) error {
		for ws := range touched {
			if _, err := tx.ExecContext(ctx, `DELETE FROM agg_counts WHERE window_start = ?`, ws); err != nil {
				return err
			}
			var vals []any
			flush := func() error {
				if len(vals) == 0 {
					return nil
				}
				q := `INSERT INTO agg_counts VALUES ` + strings.TrimSuffix(strings.Repeat(`(?,?,?,?,?,?,?,?,?),`, len(vals)/9), ",")
				_, err := tx.ExecContext(ctx, q, vals...)
				vals = vals[:0]
				return err
			}
			for k, g := range s.open[ws] {
				vals = append(vals, k.account, k.region, k.source, k.template, ws, k.primary, "", "", g.n)
				for dim, m := range g.dims {
					for name, n := range m {
						vals = append(vals, k.account, k.region, k.source, k.template, ws, k.primary, dim, name, n)
						if len(vals) >= 9*500 {
							if err := flush(); err != nil {
								return err
							}
						}
					}
				}
			}
			if err := flush(); err != nil {
				return err
			}
		}
		return s.saveMarks(ctx, tx, cursor)
	}, func() { s.cursor = cursor })
}

func (s *state) saveMarks(ctx context.Context, tx *sql.Tx, cursor int64) error {
	for _, kv := range []struct {
		k string
		v int64
	}{{"cursor", cursor}, {"watermark", s.watermark}} {
		if _, err := tx.ExecContext(ctx, `INSERT INTO agg_state VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, kv.k, kv.v); err != nil {
			return err
		}
	}
	return nil
}

// close drops the counts of windows whose records are stored and marks
// them closed.
func (s *state) close(ctx context.Context, db *sql.DB, due []int64) error {
	return inTx(ctx, db, func(tx *sql.Tx) error {
		for _, ws := range due {
			if _, err := tx.ExecContext(ctx, `DELETE FROM agg_counts WHERE window_start = ?`, ws); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO agg_closed VALUES (?) ON CONFLICT DO NOTHING`, ws); err != nil {
				return err
			}
		}
		return nil
	}, func() {
		for _, ws := range due {
			delete(s.open, ws)
			s.closed[ws] = true
		}
	})
}

// inTx runs fn in a transaction and, once it has committed, done.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error, done func()) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save aggregate state: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return fmt.Errorf("save aggregate state: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save aggregate state: %w", err)
	}
	done()
	return nil
}

// aggTrail is a trail that aggregates, with its settings decoded.
type aggTrail struct {
	t   store.Trail
	set trail.Settings
}

// trailSnap is the aggregating trails as of a trails generation.
type trailSnap struct {
	gen    int64
	trails []aggTrail
}

// trails returns the aggregating trails, re-read when trails changed.
func (a *Aggregator) trails(ctx context.Context) (*trailSnap, error) {
	gen := a.st.TrailsGeneration()
	if a.snap != nil && a.snap.gen == gen {
		return a.snap, nil
	}
	ts, err := a.st.AllTrails(ctx)
	if err != nil {
		return nil, err
	}
	snap := &trailSnap{gen: gen}
	for _, t := range ts {
		set, err := trail.DecodeSettings(t.Doc)
		if err != nil || len(set.AggregationTemplates()) == 0 {
			continue
		}
		snap.trails = append(snap.trails, aggTrail{t: t, set: set})
	}
	a.snap = snap
	return snap, nil
}

// templates returns the templates ev is aggregated under: those of every
// aggregating trail that delivers it.
func (ts *trailSnap) templates(org *trail.Organization, ev *store.Event) []string {
	var out []string
	for i := range ts.trails {
		at := &ts.trails[i]
		if !at.set.Selects(at.t.Account, at.t.HomeRegion, org, ev.Rec, ev.IngestTime) {
			continue
		}
		for _, t := range at.set.AggregationTemplates() {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}
