package eventrules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/eventpattern"
	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/store"
)

// A step reads at least readBatch committed events and, further behind,
// up to maxReadBatch. (Variables so that tests can make them small.)
var (
	readBatch    int64 = 2000
	maxReadBatch int64 = 20000
)

// cursorEvery is how long the consumer may go without saving its durable
// cursor while it works through a backlog; it saves it whenever it has
// caught up.
const cursorEvery = time.Second

type consumerState struct {
	loaded  bool
	cur     int64 // every event through cur is matched, published and signalled
	saved   int64 // the durable cursor
	savedAt time.Time
}

// liveRule is an enabled rule with a pattern, as the consumer runs it.
type liveRule struct {
	Rule
	targets  []Target
	severity string
}

// regionRules are the live rules of one account and region.
type regionRules struct {
	set   *eventpattern.Set
	rules map[string]*liveRule // by ARN
}

// snapshot is the live rules of every account and region, built from the
// tables at generation gen.
type snapshot struct {
	gen  int64
	sets map[string]*regionRules // by account + "/" + region
}

// current returns the snapshot of the live rules, rebuilding it when a
// rule or target changed.
func (r *Rules) current(ctx context.Context) (*snapshot, error) {
	r.mu.Lock()
	gen := r.gen
	r.mu.Unlock()
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	if r.snap != nil && r.snap.gen == gen {
		return r.snap, nil
	}
	rows, err := r.db.QueryContext(ctx, `SELECT `+ruleCols+` FROM er_rules WHERE state <> ? AND pattern <> ''`, StateDisabled)
	if err != nil {
		return nil, fmt.Errorf("read event rules: %w", err)
	}
	rules, err := scanRules(rows)
	if err != nil {
		return nil, err
	}
	s := &snapshot{gen: gen, sets: map[string]*regionRules{}}
	for _, x := range rules {
		p, err := eventpattern.Compile(x.EventPattern)
		if err != nil { // validated by PutRule; a stored one that no longer compiles is skipped
			r.log.Warn("eventrules: a stored event pattern does not compile; the rule is skipped", "rule", x.ARN, "err", err)
			continue
		}
		ts, err := r.Targets(ctx, x.Account, x.Region, x.Name)
		if err != nil {
			return nil, err
		}
		k := x.Account + "/" + x.Region
		rr := s.sets[k]
		if rr == nil {
			rr = &regionRules{set: eventpattern.NewSet(), rules: map[string]*liveRule{}}
			s.sets[k] = rr
		}
		rr.set.Add(x.ARN, p)
		rr.rules[x.ARN] = &liveRule{Rule: x, targets: ts, severity: severityOf(x.Tags)}
	}
	r.snap = s
	return s, nil
}

// severityOf is a rule's findings severity: its tag "severity" when that
// names one, else medium.
func severityOf(tags map[string]string) string {
	for k, v := range tags {
		if !strings.EqualFold(k, "severity") {
			continue
		}
		switch v = strings.ToLower(strings.TrimSpace(v)); v {
		case findings.SeverityInformational, findings.SeverityLow, findings.SeverityMedium, findings.SeverityHigh, findings.SeverityCritical:
			return v
		}
	}
	return findings.SeverityMedium
}

// Sync consumes the committed stream up to its end. The background loop
// calls it; tests call it directly. Calls are serialised.
func (r *Rules) Sync(ctx context.Context) error { return r.sync(ctx, false) }

// syncLazy is the loop's step: Sync, except that a consumer that has
// caught up saves its cursor only cursorEvery after the last save. A
// stream of small commits (a capture gateway's, one per call) would
// otherwise cost a cursor write per commit; a tick once idle, or the flush
// on stop, saves the rest, and a replay after a crash repeats nothing.
func (r *Rules) syncLazy(ctx context.Context) error { return r.sync(ctx, true) }

func (r *Rules) sync(ctx context.Context, lazy bool) error {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	r.lazy = lazy
	for {
		n, err := r.step(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
}

func (r *Rules) load(ctx context.Context) error {
	if r.cs.loaded {
		return nil
	}
	cur, err := r.st.Cursor(ctx, cursorName)
	if err != nil {
		return err
	}
	r.cs = consumerState{loaded: true, cur: cur, saved: cur, savedAt: r.clk.Now()}
	return nil
}

// saveCaughtUp saves the cursor of a consumer that has caught up: at
// once, or in a lazy sync only cursorEvery after the last save.
func (r *Rules) saveCaughtUp(ctx context.Context) error {
	if r.lazy && r.clk.Now().Sub(r.cs.savedAt) < cursorEvery {
		return nil
	}
	return r.saveCursor(ctx)
}

func (r *Rules) saveCursor(ctx context.Context) error {
	if !r.cs.loaded || r.cs.cur <= r.cs.saved {
		return nil
	}
	if err := r.st.SetCursor(ctx, cursorName, r.cs.cur); err != nil {
		return err
	}
	r.cs.saved, r.cs.savedAt = r.cs.cur, r.clk.Now()
	return nil
}

// delivery is one message for one target.
type delivery struct {
	account, topic, message, dedup string
}

// step consumes one batch: the matches' messages are published (the
// publisher drops dedup ids it has) and their signals recorded (the sink
// drops keys it has); only then does the cursor move. A failed step
// forgets the position in memory, so the next starts again from the
// durable cursor.
func (r *Rules) step(ctx context.Context) (n int, err error) {
	defer func() {
		if err != nil {
			r.cs.loaded = false
		}
	}()
	if err := r.load(ctx); err != nil {
		return 0, err
	}
	cur := r.cs.cur
	last := r.st.CommittedSeq()
	if cur >= last {
		return 0, r.saveCaughtUp(ctx)
	}
	// Rules are read after CommittedSeq: a rule created later sees only
	// events committed after it (its FromSeq).
	snap, err := r.current(ctx)
	if err != nil {
		return 0, err
	}
	if len(snap.sets) == 0 {
		r.cs.cur = last
		return 0, r.saveCaughtUp(ctx)
	}
	evs, err := r.st.ReadAfter(ctx, cur, int(min(max(last-cur, readBatch), maxReadBatch)))
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	var (
		dels []delivery
		sigs []findings.Signal
		ids  []string
	)
	for i := range evs {
		ev := &evs[i]
		rr := snap.sets[ev.Rec.AccountID+"/"+ev.Rec.AWSRegion]
		if rr == nil {
			continue
		}
		// Matched in place; the envelope is built only for a record some
		// rule receives (to publish it).
		ids, err = rr.set.MatchesCloudTrail(ev.Rec.Raw, ids[:0])
		if err != nil {
			r.log.Warn("eventrules: a record cannot be put in an event envelope; no rule sees it", "eventID", ev.Rec.EventID, "err", err)
			continue
		}
		var env []byte
		for _, id := range ids {
			lr := rr.rules[id]
			if lr == nil || !receives(lr, ev) {
				continue
			}
			if env == nil {
				if env, err = eventpattern.CloudTrailEvent(ev.Rec.Raw); err != nil {
					r.log.Warn("eventrules: a record cannot be put in an event envelope; no rule sees it", "eventID", ev.Rec.EventID, "err", err)
					break
				}
			}
			dels = appendDeliveries(dels, r, lr, ev, env)
			sigs = append(sigs, signal(lr, ev))
		}
	}
	if err := r.deliver(ctx, dels, sigs); err != nil {
		return 0, err
	}
	r.cs.cur = evs[len(evs)-1].Seq
	if r.cs.cur >= r.st.CommittedSeq() {
		if err := r.saveCaughtUp(ctx); err != nil {
			return 0, err
		}
	} else if r.clk.Now().Sub(r.cs.savedAt) >= cursorEvery {
		if err := r.saveCursor(ctx); err != nil {
			return 0, err
		}
	}
	return len(evs), nil
}

// receives applies a rule's state and creation to an event that matched
// its pattern: ENABLED rules do not receive read-only management events
// (EventBridge delivers those only to ENABLED_WITH_ALL_CLOUDTRAIL_
// MANAGEMENT_EVENTS rules), and no rule receives events committed before
// it was created.
func receives(lr *liveRule, ev *store.Event) bool {
	return ev.Seq > lr.FromSeq && receivesByState(lr, ev)
}

// appendDeliveries adds a message for each SNS topic target of the rule.
func appendDeliveries(dels []delivery, r *Rules, lr *liveRule, ev *store.Event, env []byte) []delivery {
	for _, t := range lr.targets {
		if !isTopicARN(t.ARN) {
			continue
		}
		msg, ok := targetInput(t, env, lr, ev)
		if !ok {
			r.log.Warn("eventrules: the target's InputPath selects nothing in the event; nothing is sent",
				"rule", lr.ARN, "target", t.ID, "inputPath", t.InputPath, "eventID", ev.Rec.EventID)
			continue
		}
		dels = append(dels, delivery{account: lr.Account, topic: t.ARN, message: msg,
			dedup: lr.ARN + "|" + t.ID + "|" + ev.Rec.EventID})
	}
	return dels
}

// isTopicARN reports whether arn names an SNS topic.
func isTopicARN(arn string) bool {
	p := strings.SplitN(arn, ":", 6)
	return len(p) == 6 && p[0] == "arn" && p[2] == "sns" && p[5] != "" && !strings.Contains(p[5], ":")
}

// IsTopicARN reports whether arn names an SNS topic, the only target kind
// delivered.
func IsTopicARN(arn string) bool { return isTopicARN(arn) }

// targetInput is what a target is sent for an event: its Input, the part
// of the event its InputPath selects, its InputTransformer's rendering, or
// the event.
func targetInput(t Target, env []byte, lr *liveRule, ev *store.Event) (string, bool) {
	switch {
	case t.Input != "":
		return t.Input, true
	case t.Transformer != nil:
		return Render(t.Transformer, env, Vars{RuleARN: lr.ARN, RuleName: lr.Name, IngestionTime: ev.IngestTime}), true
	case t.InputPath != "":
		v, ok := SelectPath(env, t.InputPath)
		return string(v), ok
	}
	return string(env), true
}

// SelectPath returns the JSON value a simple JSONPath ($, $.a.b, $.a[0],
// $['a-b']) selects in doc, as it is written there, and whether it selects
// one.
func SelectPath(doc []byte, path string) ([]byte, bool) {
	steps, ok := parsePath(path)
	if !ok || !json.Valid(doc) {
		return nil, false
	}
	cur := json.RawMessage(bytes.TrimSpace(doc))
	for _, s := range steps {
		if s.index < 0 {
			var m map[string]json.RawMessage
			if json.Unmarshal(cur, &m) != nil {
				return nil, false
			}
			v, found := m[s.key]
			if !found {
				return nil, false
			}
			cur = v
			continue
		}
		var a []json.RawMessage
		if json.Unmarshal(cur, &a) != nil || s.index >= len(a) {
			return nil, false
		}
		cur = a[s.index]
	}
	return bytes.TrimSpace(cur), true
}

type pathStep struct {
	key   string
	index int // -1 for a key
}

// ValidPath reports whether path is a JSONPath SelectPath understands.
func ValidPath(path string) bool {
	_, ok := parsePath(path)
	return ok
}

func parsePath(p string) ([]pathStep, bool) {
	if !strings.HasPrefix(p, "$") {
		return nil, false
	}
	p = p[1:]
	var steps []pathStep
	for p != "" {
		switch {
		case p[0] == '.':
			p = p[1:]
			i := strings.IndexAny(p, ".[")
			if i < 0 {
				i = len(p)
			}
			if i == 0 {
				return nil, false
			}
			steps = append(steps, pathStep{key: p[:i], index: -1})
			p = p[i:]
		case strings.HasPrefix(p, "['"):
			end := strings.Index(p[2:], "']")
			if end < 0 {
				return nil, false
			}
			end += 2
			steps = append(steps, pathStep{key: p[2:end], index: -1})
			p = p[end+2:]
		case p[0] == '[':
			end := strings.IndexByte(p, ']')
			if end < 2 {
				return nil, false
			}
			n := 0
			for _, c := range p[1:end] {
				if c < '0' || c > '9' || n > 1e6 {
					return nil, false
				}
				n = n*10 + int(c-'0')
			}
			steps = append(steps, pathStep{index: n})
			p = p[end+1:]
		default:
			return nil, false
		}
	}
	return steps, true
}

// signal is the finding signal of a rule's match.
func signal(lr *liveRule, ev *store.Event) findings.Signal {
	var id struct {
		UserIdentity struct {
			ARN         string `json:"arn"`
			PrincipalID string `json:"principalId"`
		} `json:"userIdentity"`
	}
	_ = json.Unmarshal(ev.Rec.Raw, &id) // a stored record is valid JSON
	principal := id.UserIdentity.ARN
	if principal == "" {
		principal = id.UserIdentity.PrincipalID
	}
	return findings.Signal{
		Detector:    findings.DetectorEventRule,
		RuleID:      lr.ARN,
		Title:       lr.Name,
		Severity:    lr.severity,
		Description: lr.Description,
		Account:     ev.Rec.AccountID,
		Region:      ev.Rec.AWSRegion,
		Principal:   principal,
		SourceIP:    ev.Rec.SourceIP,
		EventIDs:    []string{ev.Rec.EventID},
		EventTime:   ev.Rec.EventTime,
		Key:         ev.Rec.EventID,
	}
}

// permanent reports whether a publisher's error is a refusal that retrying
// does not change.
func permanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// deliver publishes the step's messages and records its signals.
func (r *Rules) deliver(ctx context.Context, dels []delivery, sigs []findings.Signal) error {
	if r.cfg.Publisher != nil {
		for _, d := range dels {
			if _, err := r.cfg.Publisher.Publish(ctx, d.account, d.topic, "", d.message, d.dedup); err != nil {
				if permanent(err) {
					r.log.Warn("eventrules: a target refused the event; it is not retried", "topic", d.topic, "err", err)
					continue
				}
				return fmt.Errorf("publish to %s: %w", d.topic, err)
			}
		}
	}
	if len(sigs) > 0 && r.cfg.Sink != nil {
		if err := r.cfg.Sink.Record(ctx, sigs); err != nil {
			return fmt.Errorf("record %d event rule signals: %w", len(sigs), err)
		}
	}
	return nil
}
