package server

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/aggregate"
	"github.com/opentrail/opentrail/internal/alarmrule"
	"github.com/opentrail/opentrail/internal/alarms"
	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/cis"
	"github.com/opentrail/opentrail/internal/cisclient"
	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/delivery"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/eventrules"
	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/insights"
	"github.com/opentrail/opentrail/internal/logwatch"
	"github.com/opentrail/opentrail/internal/rollup"
	"github.com/opentrail/opentrail/internal/rulepack"
	"github.com/opentrail/opentrail/internal/sigmawatch"
	"github.com/opentrail/opentrail/internal/tlsconf"
)

// newWatch builds the detection chain over the committed stream: the
// metrics and alarms engine, whose alarm actions publish to the topics
// component, and the log-group consumer, whose metric filters feed the
// engine and whose subscription filters publish to topics. The CIS pack's
// suppressions (configuration) are applied by the consumer per filter.
func (s *Server) newWatch() error {
	if err := s.newFindings(); err != nil {
		return err
	}
	eng, err := alarms.New(alarms.Config{DB: s.store.DB(), Clock: s.clock, Publisher: s.topics, Logger: s.log,
		OnTransition: s.alarmSignal})
	if err != nil {
		return err
	}
	s.alarms = eng
	suppress, err := cisSuppress(&s.cfg.CIS)
	if err != nil {
		return err
	}
	s.logwatch, err = logwatch.New(logwatch.Config{
		Store:       s.store,
		Clock:       s.clock,
		Org:         orgOf(&s.cfg),
		Logger:      s.log,
		Sink:        alarmSink{eng},
		Publisher:   s.topics,
		TopicExists: s.topics.TopicExists,
		Suppress:    suppress,
	})
	if err != nil {
		return err
	}
	s.aggregate, err = aggregate.New(aggregate.Config{Store: s.store, DB: s.store.DB(), Clock: s.clock, Logger: s.log,
		Org: orgOf(&s.cfg), Appender: generatedAppender{in: s.ingester, log: s.log}})
	if err != nil {
		return err
	}
	// Event rules publish to topics and report to the findings store.
	s.eventRules, err = eventrules.New(eventrules.Config{Store: s.store, Clock: s.clock, Logger: s.log, Publisher: s.topics, Sink: s.findingsSink()})
	if err != nil {
		return err
	}
	var builtin []sigmawatch.File
	if s.cfg.Detection.BuiltinRules {
		if builtin, err = builtinRules(); err != nil {
			return err
		}
	}
	s.sigma, err = sigmawatch.New(sigmawatch.Config{Stream: s.store, Sink: s.findingsSink(), Clock: s.clock,
		Logger: s.log, Dir: s.cfg.Detection.SigmaDir, Builtin: builtin})
	if err != nil {
		return err
	}
	// The dashboards' rollups follow the stream (never on the ingest
	// path); the console reads them when they are fresh.
	s.rollups, err = rollup.New(rollup.Config{Store: s.store, Clock: s.clock, Logger: s.log, Retention: s.cfg.RetentionDuration()})
	if err != nil {
		return err
	}
	return s.newInsights()
}

// newInsights builds the Insights detector over the stream; its records
// go back in through the ingester, its Starts to the findings store.
func (s *Server) newInsights() error {
	c := s.cfg.Insights
	var err error
	s.insights, err = insights.New(insights.Config{
		Store: s.store, Clock: s.clock, Org: orgOf(&s.cfg), Logger: s.log,
		Appender:     generatedAppender{in: s.ingester, log: s.log},
		Sink:         s.findingsSink(),
		BaselineDays: c.BaselineDays, MinHistoryDays: c.MinHistoryDays, Factor: c.Factor, Spread: c.Spread,
		MinCount: c.MinCount, EndQuiet: c.EndQuiet, Lateness: c.Lateness,
	})
	return err
}

// builtinRules are opentrail's own Sigma rules (internal/rulepack), named
// builtin/<file>.
func builtinRules() ([]sigmawatch.File, error) {
	pack := rulepack.Sigma()
	names, err := fs.Glob(pack, "*.yml")
	if err != nil {
		return nil, err
	}
	var files []sigmawatch.File
	for _, n := range names {
		b, err := fs.ReadFile(pack, n)
		if err != nil {
			return nil, fmt.Errorf("built-in rules: %w", err)
		}
		files = append(files, sigmawatch.File{File: "builtin/" + n, Text: string(b)})
	}
	return files, nil
}

// newFindings opens the findings store every detector reports to, which
// tells findings.notify of new findings through the topics component.
func (s *Server) newFindings() error {
	base := s.cfg.Notifications.PublicURL
	if base == "" {
		base = s.scheme() + "://" + s.cfg.Addr
	}
	var err error
	s.findings, err = findings.Open(findings.Config{DB: s.store.DB(), Clock: s.clock, DedupWindow: s.cfg.Findings.DedupWindow,
		Notify: s.cfg.Findings.Notify, Publisher: s.topics, BaseURL: strings.TrimSuffix(base, "/"), Logger: s.log})
	return err
}

// findingsSink is what every detector reports its signals to: the Sigma
// detector, alarm transitions (alarmSignal), and the event-rule and
// Insights detectors (to be given this Sink where they are built).
func (s *Server) findingsSink() findings.Sink { return s.findings }

// alarmSignal reports an alarm going to ALARM as a signal: detector cis
// for the CIS pack's alarms, alarm for the others, keyed by the
// transition so that a replayed transition counts once. It runs after
// the transition commits; a failure to record is logged (the alarm's own
// notification is unaffected).
func (s *Server) alarmSignal(ctx context.Context, a alarms.Alarm, old, transitionID string, eventIDs []string) {
	if a.State != alarmrule.Alarm {
		return
	}
	det, sev := findings.DetectorAlarm, findings.SeverityMedium
	if cis.Managed(cis.Alarm{Name: a.Name, Description: a.Description}) {
		det = findings.DetectorCIS
	}
	title := a.Name
	if a.Description != "" {
		title += ": " + a.Description
	}
	sig := findings.Signal{Detector: det, RuleID: a.ARN(), Title: title, Severity: sev, Description: a.StateReason,
		Account: a.Account, Region: a.Region, EventIDs: eventIDs, EventTime: a.StateUpdated, Key: transitionID}
	if err := s.findingsSink().Record(ctx, []findings.Signal{sig}); err != nil {
		s.log.Error("findings: record an alarm transition", slog.String("alarm", a.ARN()), slog.Any("err", err))
	}
}

// drainFindingsLoop publishes findings' notifications that failed, every
// minute, until ctx ends.
func (s *Server) drainFindingsLoop(ctx context.Context) {
	t := clock.Or(s.clock).NewTicker(time.Minute)
	defer t.Stop()
	for {
		s.findings.Drain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// alarmSink hands the consumer's datapoints to the metrics engine, which
// applies each source's points once (by their sequence numbers).
type alarmSink struct{ e *alarms.Engine }

func (a alarmSink) PutPoints(ctx context.Context, source string, pts []logwatch.Point) error {
	dps := make([]alarms.Datapoint, len(pts))
	for i, p := range pts {
		dps[i] = alarms.Datapoint{
			Account: p.Account, Region: p.Region, Namespace: p.Namespace, MetricName: p.MetricName,
			Dimensions: p.Dimensions, Unit: p.Unit, Time: p.Time, Value: p.Value, Seq: p.Seq, EventIDs: p.EventIDs,
		}
	}
	return a.e.PutSourced(ctx, source, dps)
}

// cisSuppress turns the configuration's CIS suppressions into the
// consumer's hook: an event the rules name counts for none of the pack's
// filters of the pack's account.
func cisSuppress(c *config.CIS) (func(account, filterName string, rec *event.Record) bool, error) {
	if len(c.Suppress) == 0 {
		return nil, nil
	}
	rules := make(map[string]cis.Suppression, len(c.Suppress))
	for ref, r := range c.Suppress {
		rules[ref] = cis.Suppression{Principals: r.Principals, EventSources: r.EventSources, IdentityTypes: r.IdentityTypes}
	}
	sup, err := cis.NewSuppressor(c.Benchmark, rules)
	if err != nil {
		return nil, fmt.Errorf("cis.suppress: %w", err)
	}
	account := cisAccount(c)
	return func(acct, filterName string, rec *event.Record) bool {
		return acct == account && sup.Suppressed(filterName, rec)
	}, nil
}

func cisAccount(c *config.CIS) string {
	if c.Account != "" {
		return c.Account
	}
	return auth.LocalAccount
}

// trailChanges is the deliverer as the trail control plane sees it:
// its Wake (a trail was created or changed) also signals trailsChanged.
type trailChanges struct {
	*delivery.Deliverer
	changed chan struct{}
}

func (t trailChanges) Wake() {
	t.Deliverer.Wake()
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// cisRetry is how long startCIS waits between attempts when no trail
// changes.
const cisRetry = time.Minute

// startCIS sets up the CIS pack the configuration enables, through the
// server's own API exactly as `opentrail cis enable` does. Until the
// account has a multi-region trail that is logging (or the one named), it
// says why and tries again when a trail is created or changed (so within
// a second of `aws cloudtrail start-logging`), and every minute; it stops
// with ctx.
func (s *Server) startCIS(ctx context.Context) {
	c := s.cfg.CIS
	if !c.Enabled {
		return
	}
	account := cisAccount(&c)
	region := c.Region
	if region == "" {
		region = "us-east-1"
	}
	akid, secret, ok := s.dir.KeyFor(account, mayAll(s.authz, region, cisActions))
	if !ok {
		s.log.Error("cis: no principal of the account is configured whose policies allow setting up the pack, so it cannot be set up; give one of the account's principals the administrator policy",
			slog.String("account", account), slog.Any("actions", cisActions))
		return
	}
	endpoint := s.URL()
	self := client.NewStatic(endpoint, region, akid, secret)
	if s.tls != nil {
		self.SetTLSConfig(tlsconf.SelfClientConfig(s.tls))
	}
	api := cisclient.New(self)
	clk := clock.Or(s.clock)
	go func() {
		for {
			res, err := cis.Enable(ctx, api, cis.EnableOptions{Benchmark: c.Benchmark, Notify: c.Notify, Trail: c.Trail, Endpoint: endpoint})
			if err == nil {
				s.log.Info("cis: monitoring pack enabled", slog.String("benchmark", res.Benchmark),
					slog.String("trail", res.Trail.Name), slog.Int("controls", len(res.Controls)), slog.String("topic", res.TopicARN))
				return
			}
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("cis: the monitoring pack is not set up yet; trying again when a trail changes, or in a minute", slog.Any("err", err))
			t := clk.NewTimer(cisRetry)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			case <-s.trailsChanged:
				t.Stop()
			}
		}
	}()
}
