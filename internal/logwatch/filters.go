package logwatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/filterpattern"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// Quotas (AWS's).
const (
	MaxMetricFilters       = 100 // per log group
	MaxRegexPatterns       = 5   // regex-containing patterns per log group, metric and subscription filters together
	MaxSubscriptionFilters = 2   // per log group
	MaxPatternLen          = 1024
)

// MetricFilter is a stored metric filter.
type MetricFilter struct {
	LogGroup, Name, Pattern string
	Transformation          filterpattern.Transformation
	Created                 time.Time
}

// SubscriptionFilter is a stored subscription filter.
type SubscriptionFilter struct {
	LogGroup, Name, Pattern, DestinationARN, RoleARN, Distribution string
	Created                                                        time.Time
}

var filterNameRE = streamNameRE

// compile compiles a filter pattern, mapping its errors to the API's.
func compile(pattern string) (*filterpattern.Pattern, error) {
	if len(pattern) > MaxPatternLen {
		return nil, validation("filterPattern", pattern, "Member must have length less than or equal to 1024")
	}
	p, err := filterpattern.Compile(pattern)
	if err != nil {
		return nil, invalid(err)
	}
	return p, nil
}

// invalid maps a filterpattern error to InvalidParameterException with
// its (AWS's) message.
func invalid(err error) error {
	var fe *filterpattern.Error
	if errors.As(err, &fe) {
		return &Error{Code: CodeInvalid, Message: fe.Error()}
	}
	return err
}

// hasRegex reports whether a pattern uses a %regex% (outside quoted text),
// for the per-group quota on regex-containing patterns.
func hasRegex(pattern string) bool {
	quoted := false
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '%' && !quoted:
			return true
		}
	}
	return false
}

// TestPattern is TestMetricFilter: for each message that the pattern
// matches, its 1-based number and the values extracted from it.
func TestPattern(pattern string, msgs []string) ([]TestMatch, error) {
	p, err := compile(pattern)
	if err != nil {
		return nil, err
	}
	out := []TestMatch{}
	for i, m := range msgs {
		if ex, ok := p.Test([]byte(m)); ok {
			if ex == nil {
				ex = map[string]string{}
			}
			out = append(out, TestMatch{Number: int64(i + 1), Message: m, Extracted: ex})
		}
	}
	return out, nil
}

// TestMatch is one TestMetricFilter match.
type TestMatch struct {
	Number    int64
	Message   string
	Extracted map[string]string
}

// Filters are the log groups' metric filters (datapoints to the
// MetricSink) and subscription filters (messages to the Publisher): their
// configuration, its compiled snapshot, and running them over log events
// for the consumer and PutLogEvents. Get them with Watch.Filters; their
// methods are safe for concurrent use.
type Filters struct {
	w *Watch // the groups the filters belong to, the tables and their write lock

	snapMu sync.Mutex
	snap   *snapshot
}

// regexCount counts the group's regex-containing filters other than
// (table, name).
func (fs *Filters) regexCount(ctx context.Context, gid int64, table, name string) (int, error) {
	n := 0
	for _, t := range []string{"lw_metric_filters", "lw_sub_filters"} {
		rows, err := fs.w.db.QueryContext(ctx, `SELECT name, pattern FROM `+t+` WHERE gid = ?`, gid)
		if err != nil {
			return 0, err
		}
		for rows.Next() {
			var nm, pat string
			if err := rows.Scan(&nm, &pat); err != nil {
				rows.Close()
				return 0, err
			}
			if !(t == table && nm == name) && hasRegex(pat) {
				n++
			}
		}
		rows.Close()
	}
	return n, nil
}

func (fs *Filters) countOthers(ctx context.Context, table string, gid int64, name string) (int, error) {
	var n int
	err := fs.w.db.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE gid = ? AND name <> ?`, gid, name).Scan(&n)
	return n, err
}

// PutMetricFilter creates or replaces a metric filter.
func (fs *Filters) PutMetricFilter(ctx context.Context, account, region, group, name, pattern string, t filterpattern.Transformation) error {
	if e := validName("filterName", name, filterNameRE, `[^:*]*`); e != nil {
		return e
	}
	p, err := compile(pattern)
	if err != nil {
		return err
	}
	if err := filterpattern.ValidateTransformation(p, t); err != nil {
		return invalid(err)
	}
	tb, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("put metric filter: %w", err)
	}
	fs.w.mu.Lock()
	defer fs.w.mu.Unlock()
	gid, err := fs.w.groupID(ctx, account, region, group)
	if err != nil {
		return err
	}
	if n, err := fs.countOthers(ctx, "lw_metric_filters", gid, name); err != nil {
		return fmt.Errorf("put metric filter: %w", err)
	} else if n >= MaxMetricFilters {
		return errLimit
	}
	if hasRegex(pattern) {
		if n, err := fs.regexCount(ctx, gid, "lw_metric_filters", name); err != nil {
			return fmt.Errorf("put metric filter: %w", err)
		} else if n >= MaxRegexPatterns {
			return errLimit
		}
	}
	if err := fs.replace(ctx, "lw_metric_filters", gid, name, `INSERT INTO lw_metric_filters VALUES (?, ?, ?, ?, ?)`,
		gid, name, pattern, string(tb), ms(fs.w.clk.Now())); err != nil {
		return fmt.Errorf("put metric filter: %w", err)
	}
	fs.w.gen++
	return nil
}

// replace deletes the named filter and inserts its new row in one
// transaction.
func (fs *Filters) replace(ctx context.Context, table string, gid int64, name, insert string, args ...any) error {
	tx, err := fs.w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE gid = ? AND name = ?`, gid, name); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, insert, args...); err != nil {
		return err
	}
	return tx.Commit()
}

// MetricFilterQuery selects metric filters. Group "" means every group of
// the account and region; Prefix needs Group.
type MetricFilterQuery struct {
	Group, Prefix         string
	MetricName, Namespace string
}

// MetricFilters lists metric filters ordered by group, then name.
func (fs *Filters) MetricFilters(ctx context.Context, account, region string, q MetricFilterQuery) ([]MetricFilter, error) {
	if q.Group != "" {
		if _, err := fs.w.groupID(ctx, account, region, q.Group); err != nil {
			return nil, err
		}
	}
	rows, err := fs.w.db.QueryContext(ctx, `SELECT g.name, f.name, f.pattern, f.trans, f.created FROM lw_metric_filters f
		JOIN lw_groups g ON g.id = f.gid WHERE g.account = ? AND g.region = ? AND (? = '' OR g.name = ?)
		AND starts_with(f.name, ?) ORDER BY g.name, f.name`, account, region, q.Group, q.Group, q.Prefix)
	if err != nil {
		return nil, fmt.Errorf("list metric filters: %w", err)
	}
	defer rows.Close()
	var out []MetricFilter
	for rows.Next() {
		var (
			f       MetricFilter
			tb      string
			created int64
		)
		if err := rows.Scan(&f.LogGroup, &f.Name, &f.Pattern, &tb, &created); err != nil {
			return nil, fmt.Errorf("list metric filters: %w", err)
		}
		if err := json.Unmarshal([]byte(tb), &f.Transformation); err != nil {
			return nil, fmt.Errorf("metric filter %s: %w", f.Name, err)
		}
		f.Created = time.UnixMilli(created).UTC()
		if q.MetricName != "" && (f.Transformation.MetricName != q.MetricName || f.Transformation.MetricNamespace != q.Namespace) {
			continue
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// DeleteMetricFilter deletes a metric filter.
func (fs *Filters) DeleteMetricFilter(ctx context.Context, account, region, group, name string) error {
	return fs.deleteFilter(ctx, "lw_metric_filters", account, region, group, name)
}

// DeleteSubscriptionFilter deletes a subscription filter.
func (fs *Filters) DeleteSubscriptionFilter(ctx context.Context, account, region, group, name string) error {
	return fs.deleteFilter(ctx, "lw_sub_filters", account, region, group, name)
}

func (fs *Filters) deleteFilter(ctx context.Context, table, account, region, group, name string) error {
	fs.w.mu.Lock()
	defer fs.w.mu.Unlock()
	gid, err := fs.w.groupID(ctx, account, region, group)
	if err != nil {
		return err
	}
	res, err := fs.w.db.ExecContext(ctx, `DELETE FROM `+table+` WHERE gid = ? AND name = ?`, gid, name)
	if err != nil {
		return fmt.Errorf("delete filter: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errFilterMissing
	}
	fs.w.gen++
	return nil
}

// errDestination is what AWS answers for a destination it cannot use.
var errDestination = &Error{CodeInvalid, "Could not deliver test message to specified destination. Check if the destination is valid."}

// PutSubscriptionFilter creates or replaces a subscription filter whose
// destination is a topic (arn:aws:sns:REGION:ACCOUNT:NAME) of the account.
func (fs *Filters) PutSubscriptionFilter(ctx context.Context, account, region, group, name, pattern, dest, role, dist string) error {
	if e := validName("filterName", name, filterNameRE, `[^:*]*`); e != nil {
		return e
	}
	if _, err := compile(pattern); err != nil {
		return err
	}
	switch dist {
	case "":
		dist = "ByLogStream"
	case "ByLogStream", "Random":
	default:
		return validation("distribution", dist, "Member must satisfy enum value set: [Random, ByLogStream]")
	}
	parts := strings.Split(dest, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[4] != account || parts[3] == "" || parts[5] == "" || fs.w.cfg.Publisher == nil {
		return errDestination
	}
	if fs.w.cfg.TopicExists != nil {
		ok, err := fs.w.cfg.TopicExists(ctx, account, dest)
		if err != nil {
			return fmt.Errorf("check subscription destination: %w", err)
		}
		if !ok {
			return errDestination
		}
	}
	fs.w.mu.Lock()
	defer fs.w.mu.Unlock()
	gid, err := fs.w.groupID(ctx, account, region, group)
	if err != nil {
		return err
	}
	if n, err := fs.countOthers(ctx, "lw_sub_filters", gid, name); err != nil {
		return fmt.Errorf("put subscription filter: %w", err)
	} else if n >= MaxSubscriptionFilters {
		return errLimit
	}
	if hasRegex(pattern) {
		if n, err := fs.regexCount(ctx, gid, "lw_sub_filters", name); err != nil {
			return fmt.Errorf("put subscription filter: %w", err)
		} else if n >= MaxRegexPatterns {
			return errLimit
		}
	}
	if err := fs.replace(ctx, "lw_sub_filters", gid, name, `INSERT INTO lw_sub_filters VALUES (?, ?, ?, ?, ?, ?, ?)`,
		gid, name, pattern, dest, role, dist, ms(fs.w.clk.Now())); err != nil {
		return fmt.Errorf("put subscription filter: %w", err)
	}
	fs.w.gen++
	return nil
}

// SubscriptionFilters lists a group's subscription filters by name.
func (fs *Filters) SubscriptionFilters(ctx context.Context, account, region, group, prefix string) ([]SubscriptionFilter, error) {
	gid, err := fs.w.groupID(ctx, account, region, group)
	if err != nil {
		return nil, err
	}
	rows, err := fs.w.db.QueryContext(ctx, `SELECT name, pattern, dest, role, dist, created FROM lw_sub_filters
		WHERE gid = ? AND starts_with(name, ?) ORDER BY name`, gid, prefix)
	if err != nil {
		return nil, fmt.Errorf("list subscription filters: %w", err)
	}
	defer rows.Close()
	var out []SubscriptionFilter
	for rows.Next() {
		f := SubscriptionFilter{LogGroup: group}
		var created int64
		if err := rows.Scan(&f.Name, &f.Pattern, &f.DestinationARN, &f.RoleARN, &f.Distribution, &created); err != nil {
			return nil, fmt.Errorf("list subscription filters: %w", err)
		}
		f.Created = time.UnixMilli(created).UTC()
		out = append(out, f)
	}
	return out, rows.Err()
}

// snapshot is the compiled configuration the consumer and PutLogEvents
// evaluate with.
type snapshot struct {
	gen, trailsGen int64
	groups         map[int64]*groupState
	byKey          map[string]*groupState // account/region/name
	trails         []trailRoute
}

type groupState struct {
	id                    int64
	account, region, name string
	retention             int
	mfs                   []metricState
	set                   *filterpattern.Set
	subs                  []subState
}

type metricState struct {
	name string
	pat  *filterpattern.Pattern
	t    filterpattern.Transformation
}

type subState struct {
	name, dest string
	pat        *filterpattern.Pattern
}

type trailRoute struct {
	t        store.Trail
	set      trail.Settings
	insights []string // the trail's Insights types: its Insights events go to the group too
	g        *groupState
}

func groupKey(account, region, name string) string { return account + "/" + region + "/" + name }

// current returns the compiled configuration, rebuilt if anything changed.
func (fs *Filters) current(ctx context.Context) (*snapshot, error) {
	fs.w.mu.Lock()
	gen := fs.w.gen
	fs.w.mu.Unlock()
	tgen := fs.w.st.TrailsGeneration()
	fs.snapMu.Lock()
	defer fs.snapMu.Unlock()
	if s := fs.snap; s != nil && s.gen == gen && s.trailsGen == tgen {
		return s, nil
	}
	s := &snapshot{gen: gen, trailsGen: tgen, groups: map[int64]*groupState{}, byKey: map[string]*groupState{}}
	rows, err := fs.w.db.QueryContext(ctx, `SELECT id, account, region, name, coalesce(retention, 0) FROM lw_groups`)
	if err != nil {
		return nil, fmt.Errorf("read log groups: %w", err)
	}
	for rows.Next() {
		g := &groupState{}
		if err := rows.Scan(&g.id, &g.account, &g.region, &g.name, &g.retention); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read log groups: %w", err)
		}
		s.groups[g.id], s.byKey[groupKey(g.account, g.region, g.name)] = g, g
	}
	rows.Close()
	rows, err = fs.w.db.QueryContext(ctx, `SELECT gid, name, pattern, trans FROM lw_metric_filters ORDER BY gid, name`)
	if err != nil {
		return nil, fmt.Errorf("read metric filters: %w", err)
	}
	for rows.Next() {
		var (
			gid           int64
			m             metricState
			pattern, tran string
		)
		if err := rows.Scan(&gid, &m.name, &pattern, &tran); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read metric filters: %w", err)
		}
		g := s.groups[gid]
		if g == nil {
			continue
		}
		if m.pat, err = filterpattern.Compile(pattern); err != nil {
			fs.w.log.Error("logwatch: stored metric filter does not compile; skipped", "group", g.name, "filter", m.name, "err", err)
			continue
		}
		if err := json.Unmarshal([]byte(tran), &m.t); err != nil {
			fs.w.log.Error("logwatch: stored metric transformation unreadable; skipped", "group", g.name, "filter", m.name, "err", err)
			continue
		}
		g.mfs = append(g.mfs, m)
	}
	rows.Close()
	rows, err = fs.w.db.QueryContext(ctx, `SELECT gid, name, pattern, dest FROM lw_sub_filters ORDER BY gid, name`)
	if err != nil {
		return nil, fmt.Errorf("read subscription filters: %w", err)
	}
	for rows.Next() {
		var (
			gid     int64
			f       subState
			pattern string
		)
		if err := rows.Scan(&gid, &f.name, &pattern, &f.dest); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read subscription filters: %w", err)
		}
		g := s.groups[gid]
		if g == nil {
			continue
		}
		if f.pat, err = filterpattern.Compile(pattern); err != nil {
			continue
		}
		g.subs = append(g.subs, f)
	}
	rows.Close()
	for _, g := range s.groups {
		ps := make([]*filterpattern.Pattern, len(g.mfs))
		for i, m := range g.mfs {
			ps[i] = m.pat
		}
		g.set = filterpattern.NewSet(ps)
	}
	trails, err := fs.w.st.AllTrails(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range trails {
		set, err := trail.DecodeSettings(t.Doc)
		if err != nil || set.CloudWatchLogsLogGroupArn == "" {
			continue
		}
		acc, reg, name, ok := ParseGroupARN(set.CloudWatchLogsLogGroupArn)
		if !ok || acc != t.Account {
			continue
		}
		if g := s.byKey[groupKey(acc, reg, name)]; g != nil {
			s.trails = append(s.trails, trailRoute{t: t, set: set, insights: trail.InsightTypes(t.Doc), g: g})
		}
	}
	fs.snap = s
	return s, nil
}

// publication is one subscription filter message to send.
type publication struct {
	account, topic, subject, message, dedup string
}

// suppressed reports whether rec is suppressed for the metric filter.
func (fs *Filters) suppressed(account, filter string, rec *event.Record) bool {
	if rec == nil {
		return false
	}
	if fs.w.cfg.Suppress != nil && fs.w.cfg.Suppress(account, filter, rec) {
		return true
	}
	for _, s := range fs.w.cfg.Suppressions {
		if s.Filter != filter || (s.Account != "" && s.Account != account) {
			continue
		}
		if slices.Contains(s.EventSources, rec.EventSource) {
			return true
		}
		if len(s.Principals) > 0 && slices.Contains(s.Principals, fastjson.GetString(rec.Raw, "userIdentity", "arn")) {
			return true
		}
		if len(s.IdentityTypes) > 0 && slices.Contains(s.IdentityTypes, fastjson.GetString(rec.Raw, "userIdentity", "type")) {
			return true
		}
	}
	return false
}

// logEvent is one event appended to a group, for evaluation.
type logEvent struct {
	stream string
	ts     time.Time
	seq    int64  // Point.Seq
	k      int64  // row key (for ids), 0 when not yet known
	msg    []byte // the message
	rec    *event.Record
}

// evaluate runs a group's metric and subscription filters over one event.
// hits is scratch space with room for the group's metric filters.
func (fs *Filters) evaluate(g *groupState, ev logEvent, hits []bool, pts []Point, pubs []publication) ([]Point, []publication) {
	if len(g.mfs) > 0 {
		hits = hits[:len(g.mfs)]
		g.set.MatchAll(ev.msg, hits)
		for i := range g.mfs {
			m := &g.mfs[i]
			if !hits[i] && m.t.DefaultValue == nil {
				continue
			}
			if fs.suppressed(g.account, m.name, ev.rec) {
				continue
			}
			p, ok := m.pat.Emit(ev.msg, m.t)
			if !ok {
				continue
			}
			pt := Point{Account: g.account, Region: g.region, Namespace: m.t.MetricNamespace, MetricName: m.t.MetricName,
				Dimensions: p.Dimensions, Unit: m.t.Unit, Time: ev.ts, Value: p.Value, Seq: ev.seq,
				Filter: m.name, LogGroup: g.name}
			if len(pt.Dimensions) == 0 {
				pt.Dimensions = nil
			}
			if ev.rec != nil && ev.rec.EventID != "" {
				pt.EventIDs = []string{ev.rec.EventID}
			}
			pts = append(pts, pt)
		}
	}
	for _, f := range g.subs {
		if !f.pat.Match(ev.msg) {
			continue
		}
		id := eventID(ev.ts.UnixMilli(), ev.k)
		body, _ := json.Marshal(map[string]any{
			"messageType": "DATA_MESSAGE", "owner": g.account, "logGroup": g.name, "logStream": ev.stream,
			"subscriptionFilters": []string{f.name},
			"logEvents":           []map[string]any{{"id": id, "timestamp": ev.ts.UnixMilli(), "message": string(ev.msg)}},
		})
		src := "stream"
		if ev.rec == nil {
			src = "messages"
		}
		sum := sha256.Sum256([]byte(GroupARN(g.account, g.region, g.name) + "\x00" + f.name + "\x00" + src + "\x00" + strconv.FormatInt(ev.seq, 10)))
		subject := "CloudWatch Logs subscription filter " + f.name
		if len(subject) > 100 {
			subject = subject[:100]
		}
		pubs = append(pubs, publication{account: g.account, topic: f.dest, subject: subject, message: string(body),
			dedup: "logwatch-" + hex.EncodeToString(sum[:16])})
	}
	return pts, pubs
}

// deliver pushes points, then publishes; both are idempotent on replay.
func (fs *Filters) deliver(ctx context.Context, source string, pts []Point, pubs []publication) error {
	if len(pts) > 0 && fs.w.cfg.Sink != nil {
		if err := fs.w.cfg.Sink.PutPoints(ctx, source, pts); err != nil {
			return fmt.Errorf("push %d metric datapoints: %w", len(pts), err)
		}
	}
	for _, p := range pubs {
		if fs.w.cfg.Publisher == nil {
			break
		}
		if _, err := fs.w.cfg.Publisher.Publish(ctx, p.account, p.topic, p.subject, p.message, p.dedup); err != nil {
			return fmt.Errorf("publish to %s: %w", p.topic, err)
		}
	}
	return nil
}

// eventID is a log event's id (and the digits of its tokens): 56 digits
// from its timestamp and row key.
func eventID(ts, k int64) string {
	return fmt.Sprintf("%020d%020d%016d", max(ts, 0), max(k, 0), 0)
}

func parseEventID(s string) (ts, k int64, ok bool) {
	if len(s) != 56 {
		return 0, 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
	}
	ts, err1 := strconv.ParseInt(s[:20], 10, 64)
	k, err2 := strconv.ParseInt(s[20:40], 10, 64)
	if err1 != nil || err2 != nil || s[40:] != "0000000000000000" {
		return 0, 0, false
	}
	return ts, k, true
}
