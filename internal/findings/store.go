package findings

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
)

// States of a finding. A new finding is open; acknowledged means someone
// is on it; resolved closes it (the rule firing again opens a new
// finding); suppressed keeps absorbing its rule's signals silently, with
// the reason given.
const (
	StateNew          = "new"
	StateAcknowledged = "acknowledged"
	StateResolved     = "resolved"
	StateSuppressed   = "suppressed"
)

// Limits of what one finding keeps.
const (
	// MaxEventIDs is how many matching event ids a finding keeps (the
	// first ones); EventTotal counts them all.
	MaxEventIDs = 100
	// maxValues bounds each of a finding's principals, source IPs,
	// accounts and regions.
	maxValues = 100
	// DefaultDedupWindow is how long after a finding was last seen a
	// signal of the same rule and group still joins it.
	DefaultDedupWindow = time.Hour
)

// Finding is what a responder acts on: the signals of one rule in one
// account, region and group, deduplicated over a window.
type Finding struct {
	ID          string
	Detector    string
	RuleID      string
	Title       string
	Author      string
	Severity    string
	Description string
	References  []string
	Account     string
	Region      string
	GroupKey    string

	State       string
	StateReason string
	StateBy     string    // who set the state last; "" for the store
	StateAt     time.Time // when the state was set last

	FirstSeen, LastSeen time.Time // event times of the first and the last signal
	Count               int64     // signals recorded
	EventIDs            []string  // the first MaxEventIDs matching events
	EventTotal          int64     // every matching event, including those not kept
	Principals          []string
	SourceIPs           []string
	Accounts            []string
	Regions             []string
	Created, Updated    time.Time // by the store's clock
}

// Publisher publishes a notification to an SNS topic (*topics.Topics
// implements it). A second Publish with the same dedupID (per topic) sends
// nothing and returns the first message id.
type Publisher interface {
	Publish(ctx context.Context, account, topicARN, subject, message, dedupID string) (messageID string, err error)
}

// Config configures a Store.
type Config struct {
	// DB is the event store's database (store.DB()); the Store creates
	// its fd_* tables in it. Required.
	DB *sql.DB
	// Clock stamps created/updated/state times (clock.Real when nil).
	Clock clock.Clock
	// DedupWindow is how long after a finding was last seen (event time)
	// a signal of the same (detector, rule, account, region, group) joins
	// it rather than opening a new one; DefaultDedupWindow when 0.
	DedupWindow time.Duration
	// Notify is the SNS topic ARN told of every new finding; "" for none.
	Notify string
	// Publisher sends those notifications; required with Notify.
	Publisher Publisher
	// BaseURL (http://host:port) starts the history links in
	// notifications; "" leaves them relative.
	BaseURL string
	Logger  *slog.Logger
}

// Store is the findings store. It is safe for concurrent use; Record
// calls are serialised.
type Store struct {
	cfg Config
	db  *sql.DB
	clk clock.Clock
	log *slog.Logger
	mu  sync.Mutex // serialises Record, SetState and the outbox drain
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS fd_findings (id VARCHAR PRIMARY KEY, detector VARCHAR, rule_id VARCHAR,
		account VARCHAR, region VARCHAR, group_key VARCHAR, title VARCHAR, author VARCHAR, severity VARCHAR,
		description VARCHAR, refs VARCHAR, state VARCHAR, state_reason VARCHAR, state_by VARCHAR, state_at BIGINT,
		first_seen BIGINT, last_seen BIGINT, count BIGINT, event_ids VARCHAR, event_total BIGINT,
		principals VARCHAR, source_ips VARCHAR, accounts VARCHAR, regions VARCHAR, created BIGINT, updated BIGINT)`,
	// fd_seen holds the key of every signal recorded: a replayed signal
	// changes nothing.
	`CREATE TABLE IF NOT EXISTS fd_seen (detector VARCHAR, rule_id VARCHAR, key VARCHAR,
		PRIMARY KEY (detector, rule_id, key))`,
	// fd_outbox holds notifications committed with their finding and not
	// yet handed to the publisher.
	`CREATE TABLE IF NOT EXISTS fd_outbox (id VARCHAR PRIMARY KEY, topic VARCHAR, subject VARCHAR, message VARCHAR,
		attempts INTEGER)`,
	// fd_states holds every state change of a finding (SetState), oldest
	// first by seq: who moved it, when and why.
	`CREATE SEQUENCE IF NOT EXISTS fd_states_seq`,
	`CREATE TABLE IF NOT EXISTS fd_states (seq BIGINT DEFAULT nextval('fd_states_seq'), finding_id VARCHAR,
		changed_at BIGINT, state VARCHAR, reason VARCHAR, who VARCHAR, previous VARCHAR)`,
}

// Open creates the store's tables if needed.
func Open(cfg Config) (*Store, error) {
	if cfg.DB == nil {
		return nil, errors.New("findings: Config.DB is nil")
	}
	if cfg.DedupWindow <= 0 {
		cfg.DedupWindow = DefaultDedupWindow
	}
	if cfg.Notify != "" && cfg.Publisher == nil {
		return nil, errors.New("findings: Config.Notify needs a Publisher")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Store{cfg: cfg, db: cfg.DB, clk: clock.Or(cfg.Clock), log: cfg.Logger}
	for _, q := range schema {
		if _, err := s.db.Exec(q); err != nil {
			return nil, fmt.Errorf("findings: create tables: %w", err)
		}
	}
	return s, nil
}

// severityRank orders severities; unknown ones rank lowest.
func severityRank(s string) int {
	switch s {
	case SeverityInformational:
		return 1
	case SeverityLow:
		return 2
	case SeverityMedium:
		return 3
	case SeverityHigh:
		return 4
	case SeverityCritical:
		return 5
	}
	return 0
}

// ValidSeverity reports whether s is one of the Severity constants.
func ValidSeverity(s string) bool { return severityRank(s) > 0 }

// ValidState reports whether s is one of the State constants.
func ValidState(s string) bool {
	switch s {
	case StateNew, StateAcknowledged, StateResolved, StateSuppressed:
		return true
	}
	return false
}

type tuple struct{ detector, rule, account, region, group string }

// Record groups signals into findings. A signal whose (Detector, RuleID,
// Key) was recorded before is dropped; one with an empty Key is always
// counted. A signal joins the open finding (new or acknowledged) of its
// tuple when its event time is within the dedup window of the finding's
// last seen time (or before it), and a suppressed finding of its tuple
// whatever the time; otherwise it opens a new finding, which is
// notified. Everything of one call commits in one transaction; the
// notifications are queued in it and published after it commits.
func (s *Store) Record(ctx context.Context, sigs []Signal) error {
	_, err := s.RecordCounted(ctx, sigs)
	return err
}

// Recorded is what one RecordCounted call added: the signals not recorded
// before, and the findings they opened.
type Recorded struct{ Signals, Findings int }

// RecordCounted is Record, saying what it added (a retroactive run reports
// it).
func (s *Store) RecordCounted(ctx context.Context, sigs []Signal) (Recorded, error) {
	if len(sigs) == 0 {
		return Recorded{}, nil
	}
	for i := range sigs {
		if sigs[i].Detector == "" || sigs[i].RuleID == "" {
			return Recorded{}, fmt.Errorf("record findings: a signal needs a Detector and a RuleID (got %q, %q)", sigs[i].Detector, sigs[i].RuleID)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Recorded{}, fmt.Errorf("record findings: %w", err)
	}
	defer tx.Rollback()
	now := s.clk.Now().UTC()

	// The signals not recorded before, each once.
	seen, err := seenKeys(ctx, tx, sigs)
	if err != nil {
		return Recorded{}, err
	}
	var (
		fresh   []*Signal
		newKeys [][3]string
	)
	for i := range sigs {
		sg := &sigs[i]
		if sg.Key != "" {
			k := [3]string{sg.Detector, sg.RuleID, sg.Key}
			if seen[k] {
				continue
			}
			seen[k] = true
			newKeys = append(newKeys, k)
		}
		fresh = append(fresh, sg)
	}
	if len(fresh) == 0 {
		return Recorded{}, nil
	}
	if err := insertRows(ctx, tx, "fd_seen", 3, len(newKeys), func(i int) []any {
		return []any{newKeys[i][0], newKeys[i][1], newKeys[i][2]}
	}); err != nil {
		return Recorded{}, fmt.Errorf("record findings: %w", err)
	}

	tuples := map[tuple]bool{}
	for _, sg := range fresh {
		tuples[tuple{sg.Detector, sg.RuleID, sg.Account, sg.Region, sg.GroupKey}] = true
	}
	open, err := s.openFindings(ctx, tx, tuples)
	if err != nil {
		return Recorded{}, err
	}
	dirty := map[*Finding]bool{}
	created := map[*Finding]bool{}
	var order []*Finding
	for _, sg := range fresh {
		tp := tuple{sg.Detector, sg.RuleID, sg.Account, sg.Region, sg.GroupKey}
		et := sg.EventTime.UTC()
		if et.IsZero() {
			et = now
		}
		f := s.joinable(open[tp], et)
		if f == nil {
			f = newFinding(sg, et, now)
			open[tp] = append(open[tp], f)
			created[f] = true
		}
		if !dirty[f] {
			dirty[f] = true
			order = append(order, f)
		}
		f.absorb(sg, et, now)
	}
	if err := s.saveAll(ctx, tx, order, created); err != nil {
		return Recorded{}, err
	}
	queued := 0
	if s.cfg.Notify != "" {
		var rows [][]any
		for _, f := range order {
			if created[f] {
				subj, msg := s.notification(f)
				rows = append(rows, []any{f.ID, s.cfg.Notify, subj, msg, 0})
			}
		}
		if err := insertRows(ctx, tx, "fd_outbox", 5, len(rows), func(i int) []any { return rows[i] }); err != nil {
			return Recorded{}, fmt.Errorf("record findings: queue notifications: %w", err)
		}
		queued = len(rows)
	}
	if err := tx.Commit(); err != nil {
		return Recorded{}, fmt.Errorf("record findings: commit: %w", err)
	}
	if queued > 0 {
		s.drainLocked(ctx)
	}
	return Recorded{Signals: len(fresh), Findings: len(created)}, nil
}

// maxParams bounds the parameters of one statement.
const maxParams = 2000

// insertRows inserts n rows of width columns into table, as few
// multi-row statements as the parameter bound allows.
func insertRows(ctx context.Context, tx execer, table string, width, n int, row func(i int) []any) error {
	per := max(1, maxParams/width)
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	for start := 0; start < n; start += per {
		end := min(n, start+per)
		args := make([]any, 0, (end-start)*width)
		for i := start; i < end; i++ {
			args = append(args, row(i)...)
		}
		q := "INSERT INTO " + table + " VALUES " + strings.TrimSuffix(strings.Repeat(one+", ", end-start), ", ")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}

// seenKeys returns which of the signals' keys were recorded before.
func seenKeys(ctx context.Context, tx querier, sigs []Signal) (map[[3]string]bool, error) {
	seen := map[[3]string]bool{}
	keys := make([]any, 0, len(sigs))
	dup := map[string]bool{}
	for i := range sigs {
		if k := sigs[i].Key; k != "" && !dup[k] {
			dup[k] = true
			keys = append(keys, k)
		}
	}
	for start := 0; start < len(keys); start += maxParams {
		chunk := keys[start:min(len(keys), start+maxParams)]
		rows, err := tx.QueryContext(ctx, `SELECT detector, rule_id, key FROM fd_seen WHERE key IN (`+
			strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")+`)`, chunk...)
		if err != nil {
			return nil, fmt.Errorf("record findings: read seen keys: %w", err)
		}
		for rows.Next() {
			var k [3]string
			if err := rows.Scan(&k[0], &k[1], &k[2]); err != nil {
				rows.Close()
				return nil, fmt.Errorf("record findings: read seen keys: %w", err)
			}
			seen[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("record findings: read seen keys: %w", err)
		}
	}
	return seen, nil
}

// joinable returns the finding among fs (of one tuple) that a signal at
// et joins, or nil.
func (s *Store) joinable(fs []*Finding, et time.Time) *Finding {
	var best *Finding
	for _, f := range fs {
		switch f.State {
		case StateSuppressed:
			return f
		case StateResolved:
			continue
		}
		if et.After(f.LastSeen.Add(s.cfg.DedupWindow)) {
			continue
		}
		if best == nil || f.LastSeen.After(best.LastSeen) {
			best = f
		}
	}
	return best
}

func newFinding(sg *Signal, et, now time.Time) *Finding {
	h := sha256.Sum256([]byte(strings.Join([]string{sg.Detector, sg.RuleID, sg.Account, sg.Region, sg.GroupKey,
		sg.Key, strconv.FormatInt(et.UnixNano(), 10), strconv.FormatInt(now.UnixNano(), 10)}, "\x00")))
	return &Finding{
		ID: "fd-" + hex.EncodeToString(h[:10]), Detector: sg.Detector, RuleID: sg.RuleID, Title: sg.Title,
		Author: sg.Author, Severity: sg.Severity, Description: sg.Description, References: slices.Clone(sg.References),
		Account: sg.Account, Region: sg.Region, GroupKey: sg.GroupKey, State: StateNew, StateAt: now,
		FirstSeen: et, LastSeen: et, Created: now,
	}
}

// absorb adds a signal to f.
func (f *Finding) absorb(sg *Signal, et, now time.Time) {
	f.Count++
	if et.Before(f.FirstSeen) {
		f.FirstSeen = et
	}
	if et.After(f.LastSeen) {
		f.LastSeen = et
	}
	if severityRank(sg.Severity) > severityRank(f.Severity) {
		f.Severity = sg.Severity
	}
	if f.Title == "" {
		f.Title = sg.Title
	}
	if f.Author == "" {
		f.Author = sg.Author
	}
	for _, id := range sg.EventIDs {
		f.EventTotal++
		if len(f.EventIDs) < MaxEventIDs && !slices.Contains(f.EventIDs, id) {
			f.EventIDs = append(f.EventIDs, id)
		}
	}
	f.Principals = addValue(f.Principals, sg.Principal)
	f.SourceIPs = addValue(f.SourceIPs, sg.SourceIP)
	f.Accounts = addValue(f.Accounts, sg.Account)
	f.Regions = addValue(f.Regions, sg.Region)
	f.Updated = now
}

func addValue(vs []string, v string) []string {
	if v == "" || len(vs) >= maxValues || slices.Contains(vs, v) {
		return vs
	}
	return append(vs, v)
}

const findingCols = `id, detector, rule_id, account, region, group_key, title, author, severity, description, refs,
	state, state_reason, state_by, state_at, first_seen, last_seen, count, event_ids, event_total,
	principals, source_ips, accounts, regions, created, updated`

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// openFindings returns the findings not resolved of the tuples, by tuple.
func (s *Store) openFindings(ctx context.Context, tx querier, tuples map[tuple]bool) (map[tuple][]*Finding, error) {
	rules := map[string]bool{}
	var args []any
	for tp := range tuples {
		if !rules[tp.rule] {
			rules[tp.rule] = true
			args = append(args, tp.rule)
		}
	}
	out := map[tuple][]*Finding{}
	for start := 0; start < len(args); start += maxParams {
		chunk := args[start:min(len(args), start+maxParams)]
		fs, err := scanFindings(tx.QueryContext(ctx, `SELECT `+findingCols+` FROM fd_findings WHERE state <> ? AND rule_id IN (`+
			strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")+`)`, append([]any{StateResolved}, chunk...)...))
		if err != nil {
			return nil, fmt.Errorf("record findings: read open findings: %w", err)
		}
		for _, f := range fs {
			tp := tuple{f.Detector, f.RuleID, f.Account, f.Region, f.GroupKey}
			if tuples[tp] {
				out[tp] = append(out[tp], f)
			}
		}
	}
	return out, nil
}

func scanFindings(rows *sql.Rows, err error) ([]*Finding, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Finding
	for rows.Next() {
		var (
			f                                      Finding
			refs, ids, prins, ips, accts, regs     string
			stateAt, first, last, created, updated int64
		)
		if err := rows.Scan(&f.ID, &f.Detector, &f.RuleID, &f.Account, &f.Region, &f.GroupKey, &f.Title, &f.Author,
			&f.Severity, &f.Description, &refs, &f.State, &f.StateReason, &f.StateBy, &stateAt, &first, &last,
			&f.Count, &ids, &f.EventTotal, &prins, &ips, &accts, &regs, &created, &updated); err != nil {
			return nil, err
		}
		for _, p := range []struct {
			s   string
			dst *[]string
		}{{refs, &f.References}, {ids, &f.EventIDs}, {prins, &f.Principals}, {ips, &f.SourceIPs}, {accts, &f.Accounts}, {regs, &f.Regions}} {
			if err := json.Unmarshal([]byte(p.s), p.dst); err != nil {
				return nil, fmt.Errorf("finding %s: %w", f.ID, err)
			}
		}
		f.StateAt, f.FirstSeen, f.LastSeen = time.UnixMilli(stateAt).UTC(), time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
		f.Created, f.Updated = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
		out = append(out, &f)
	}
	return out, rows.Err()
}

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// values are a finding's columns after id, in table order.
func (f *Finding) values() []any {
	return []any{f.Detector, f.RuleID, f.Account, f.Region, f.GroupKey, f.Title, f.Author, f.Severity, f.Description,
		jsonList(f.References), f.State, f.StateReason, f.StateBy, f.StateAt.UnixMilli(), f.FirstSeen.UnixMilli(),
		f.LastSeen.UnixMilli(), f.Count, jsonList(f.EventIDs), f.EventTotal, jsonList(f.Principals), jsonList(f.SourceIPs),
		jsonList(f.Accounts), jsonList(f.Regions), f.Created.UnixMilli(), f.Updated.UnixMilli()}
}

// update writes one finding's columns.
func (s *Store) update(ctx context.Context, tx execer, f *Finding) error {
	_, err := tx.ExecContext(ctx, `UPDATE fd_findings SET detector = ?, rule_id = ?, account = ?, region = ?, group_key = ?,
		title = ?, author = ?, severity = ?, description = ?, refs = ?, state = ?, state_reason = ?, state_by = ?,
		state_at = ?, first_seen = ?, last_seen = ?, count = ?, event_ids = ?, event_total = ?, principals = ?,
		source_ips = ?, accounts = ?, regions = ?, created = ?, updated = ? WHERE id = ?`, append(f.values(), f.ID)...)
	if err != nil {
		return fmt.Errorf("save finding %s: %w", f.ID, err)
	}
	return nil
}

// Filter selects findings for List. Empty fields select everything.
type Filter struct {
	Accounts  []string // nil: every account
	States    []string
	Severity  string // this severity or higher
	Detectors []string
	RuleID    string
	Since     time.Time // last seen at or after
	Limit     int       // 1–1000; 50 when 0
	Next      string    // the Next of the previous page
}

// findingIDRE is the form of a finding id.
var findingIDRE = regexp.MustCompile(`^fd-[0-9a-f]{1,64}$`)

// ErrBadToken is returned for a Next that List did not issue.
var ErrBadToken = errors.New("findings: the next-page token is not one this server issued for these filters")

// List returns findings matching f, the most recently seen first, and the
// token of the next page ("" on the last).
func (s *Store) List(ctx context.Context, f Filter) ([]*Finding, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	var (
		where []string
		args  []any
	)
	in := func(col string, vs []string) {
		if len(vs) == 0 {
			return
		}
		where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(vs)), ", ")+")")
		for _, v := range vs {
			args = append(args, v)
		}
	}
	if f.Accounts != nil {
		if len(f.Accounts) == 0 {
			return nil, "", nil
		}
		in("account", f.Accounts)
	}
	in("state", f.States)
	in("detector", f.Detectors)
	if f.Severity != "" {
		var sevs []string
		for _, v := range []string{SeverityInformational, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical} {
			if severityRank(v) >= severityRank(f.Severity) {
				sevs = append(sevs, v)
			}
		}
		in("severity", sevs)
	}
	if f.RuleID != "" {
		where = append(where, "rule_id = ?")
		args = append(args, f.RuleID)
	}
	if !f.Since.IsZero() {
		where = append(where, "last_seen >= ?")
		args = append(args, f.Since.UnixMilli())
	}
	if f.Next != "" {
		ms, id, ok := strings.Cut(f.Next, "/")
		t, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || !findingIDRE.MatchString(id) {
			return nil, "", ErrBadToken
		}
		where = append(where, "(last_seen < ? OR (last_seen = ? AND id < ?))")
		args = append(args, t, t, id)
	}
	q := `SELECT ` + findingCols + ` FROM fd_findings`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY last_seen DESC, id DESC LIMIT " + strconv.Itoa(limit+1)
	fs, err := scanFindings(s.db.QueryContext(ctx, q, args...))
	if err != nil {
		return nil, "", fmt.Errorf("list findings: %w", err)
	}
	next := ""
	if len(fs) > limit {
		fs = fs[:limit]
		last := fs[len(fs)-1]
		next = strconv.FormatInt(last.LastSeen.UnixMilli(), 10) + "/" + last.ID
	}
	return fs, next, nil
}

// ErrNotFound is returned for a finding id that does not exist.
var ErrNotFound = errors.New("finding not found")

// Get returns one finding.
func (s *Store) Get(ctx context.Context, id string) (*Finding, error) {
	if !findingIDRE.MatchString(id) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	fs, err := scanFindings(s.db.QueryContext(ctx, `SELECT `+findingCols+` FROM fd_findings WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("get finding: %w", err)
	}
	if len(fs) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return fs[0], nil
}

// StateError is a state change the store refuses.
type StateError struct{ Reason string }

func (e *StateError) Error() string { return e.Reason }

// SetState moves a finding to state (any state may follow any other;
// suppressed needs a reason), recording the reason, who and when, and
// returns it.
func (s *Store) SetState(ctx context.Context, id, state, reason, who string) (*Finding, error) {
	if !ValidState(state) {
		return nil, &StateError{fmt.Sprintf("state %q is not one of new, acknowledged, resolved, suppressed", state)}
	}
	if state == StateSuppressed && strings.TrimSpace(reason) == "" {
		return nil, &StateError{"suppressing a finding needs a reason (why its signals need no attention)"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.clk.Now().UTC()
	previous := f.State
	f.State, f.StateReason, f.StateBy, f.StateAt, f.Updated = state, reason, who, now, now
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("set state of %s: %w", id, err)
	}
	defer tx.Rollback()
	if err := s.update(ctx, tx, f); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO fd_states (finding_id, changed_at, state, reason, who, previous) VALUES (?, ?, ?, ?, ?, ?)`,
		f.ID, now.UnixMilli(), state, reason, who, previous); err != nil {
		return nil, fmt.Errorf("record state change of %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("set state of %s: %w", id, err)
	}
	return f, nil
}

// StateChange is one state change of a finding.
type StateChange struct {
	At       time.Time
	State    string
	Previous string // the state it left
	Reason   string
	By       string // the caller's ARN (or console user) who made it
}

// StateHistory returns every state change of finding id, oldest first
// (none for a finding never moved from new, or moved before the history
// was kept: its last change is in the finding's StateBy/StateAt).
func (s *Store) StateHistory(ctx context.Context, id string) ([]StateChange, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT changed_at, state, previous, reason, who FROM fd_states WHERE finding_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("state history of %s: %w", id, err)
	}
	defer rows.Close()
	var out []StateChange
	for rows.Next() {
		var (
			c  StateChange
			at int64
		)
		if err := rows.Scan(&at, &c.State, &c.Previous, &c.Reason, &c.By); err != nil {
			return nil, fmt.Errorf("state history of %s: %w", id, err)
		}
		c.At = time.UnixMilli(at).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// Drain publishes the notifications still queued (after a failed publish
// or a crash between commit and publish). The server calls it at start
// and now and then; Record drains after each commit that queued some.
func (s *Store) Drain(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drainLocked(ctx)
}

func (s *Store) drainLocked(ctx context.Context) {
	if s.cfg.Publisher == nil {
		return
	}
	type row struct{ id, topic, subject, message string }
	rows, err := s.db.QueryContext(ctx, `SELECT id, topic, subject, message FROM fd_outbox ORDER BY id`)
	if err != nil {
		s.log.Error("findings: read the notification outbox", slog.Any("err", err))
		return
	}
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.topic, &r.subject, &r.message); err != nil {
			rows.Close()
			s.log.Error("findings: read the notification outbox", slog.Any("err", err))
			return
		}
		rs = append(rs, r)
	}
	rows.Close()
	for _, r := range rs {
		if _, err := s.cfg.Publisher.Publish(ctx, topicAccount(r.topic), r.topic, r.subject, r.message, r.id); err != nil {
			s.log.Warn("findings: notify a new finding; will try again", slog.String("finding", r.id),
				slog.String("topic", r.topic), slog.Any("err", err))
			s.db.ExecContext(ctx, `UPDATE fd_outbox SET attempts = attempts + 1 WHERE id = ?`, r.id)
			continue
		}
		if _, err := s.db.ExecContext(ctx, `DELETE FROM fd_outbox WHERE id = ?`, r.id); err != nil {
			s.log.Error("findings: clear a sent notification", slog.Any("err", err))
		}
	}
}

// Pending returns how many notifications wait in the outbox.
func (s *Store) Pending(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM fd_outbox`).Scan(&n)
	return n, err
}

// topicAccount is the account field of an SNS topic ARN.
func topicAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// Notification is the JSON message sent for a new finding.
type Notification struct {
	FindingID   string
	Detector    string
	RuleID      string
	Title       string
	Author      string
	Severity    string
	Description string `json:",omitempty"`
	References  []string
	Account     string
	Region      string
	Principal   string `json:",omitempty"`
	SourceIPs   []string
	FirstSeen   time.Time
	LastSeen    time.Time
	Count       int64
	EventTotal  int64
	// Finding is the finding in the native API; Events are the matching
	// events' history links (GET /v1/events by EventId).
	Finding string
	Events  []string
}

// maxLinks bounds the history links a notification carries.
const maxLinks = 10

func (s *Store) notification(f *Finding) (subject, message string) {
	n := Notification{FindingID: f.ID, Detector: f.Detector, RuleID: f.RuleID, Title: f.Title, Author: f.Author,
		Severity: f.Severity, Description: f.Description, References: nonNil(f.References), Account: f.Account,
		Region: f.Region, SourceIPs: nonNil(f.SourceIPs), FirstSeen: f.FirstSeen, LastSeen: f.LastSeen,
		Count: f.Count, EventTotal: f.EventTotal, Finding: s.cfg.BaseURL + "/v1/findings/" + f.ID, Events: []string{}}
	if len(f.Principals) > 0 {
		n.Principal = f.Principals[0]
	}
	for _, id := range f.EventIDs[:min(len(f.EventIDs), maxLinks)] {
		n.Events = append(n.Events, s.cfg.BaseURL+"/v1/events?EventId="+id+"&region="+f.Region+"&category=all")
	}
	b, _ := json.MarshalIndent(n, "", "  ")
	subject = "opentrail finding (" + f.Severity + "): " + f.Title
	if f.Author != "" {
		subject += " [by " + f.Author + "]"
	}
	return clipSubject(subject), string(b)
}

// clipSubject keeps a subject within SNS's 100 characters, on a rune
// boundary, without line breaks.
func clipSubject(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 100 {
		s = string(r[:99]) + "…"
	}
	return s
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
