package server

import (
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/opentrail/opentrail/internal/cloudtrail"
	"github.com/opentrail/opentrail/internal/cloudtraildata"
	"github.com/opentrail/opentrail/internal/cloudwatch"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/events"
	"github.com/opentrail/opentrail/internal/lake"
	"github.com/opentrail/opentrail/internal/logs"
	"github.com/opentrail/opentrail/internal/native"
	"github.com/opentrail/opentrail/internal/sns"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/topics"
)

// newServices builds the wire services over the store, the ingester and
// delivery, and registers their operations: CloudTrail's and Lake's into
// the cloudtrail router, CloudTrail Data's into the cloudtrail-data one.
// tokenKey signs every pagination token.
func (s *Server) newServices(tokenKey []byte) error {
	cfg, st, logger := &s.cfg, s.store, s.log
	window := time.Duration(cfg.History.LookupWindowDays) * 24 * time.Hour
	if window == 0 {
		window = 100 * 365 * 24 * time.Hour // no limit
	}
	ct, err := cloudtrail.New(cloudtrail.Config{
		Store:    st,
		TokenKey: tokenKey,
		Logger:   logger,
		Buckets:  s.buckets,
		Delivery: trailChanges{s.deliverer, s.trailsChanged},
		Org:      orgOf(cfg),
		Keys:     s.keys,
		Topics:   s.topics,
		Options: cloudtrail.Options{
			IncludeDataEvents: cfg.History.IncludeDataEvents,
			RateLimit:         cfg.History.LookupRateLimit,
			Retention:         window,
		},
		LogGroups: s.logwatch,
		Insights:  s.insights,
	})
	if err != nil {
		return err
	}
	data, err := cloudtraildata.New(cloudtraildata.Config{
		Channels: st,
		Ingester: s.ingester,
		Status:   ct,
		CanWrite: s.dir.CanWrite,
		Logger:   logger,
	})
	if err != nil {
		return err
	}
	lk, err := lake.New(lake.Config{
		Meta:           st,
		Engine:         lake.StoreEngine(st),
		TokenKey:       tokenKey,
		Options:        lake.Options{StoreRetention: cfg.RetentionDuration()},
		Buckets:        s.buckets,
		ImportSink:     ingestSink{s.ingester, LakeImportIngestName},
		ImportStateDir: filepath.Join(st.Dir(), "imports"),
		Logger:         logger,
	})
	if err != nil {
		return err
	}
	nat, err := native.New(native.Config{
		Store:               st,
		TokenKey:            tokenKey,
		Delivery:            s.deliverer,
		Ingester:            s.ingester,
		CanWrite:            s.dir.CanWrite,
		MaxBodyBytes:        cfg.Limits.MaxBodyBytes,
		MaxEventsPerRequest: cfg.Limits.MaxEventsPerRequest,
		Keys:                s.keys,
		Notifications:       s.topics,
		Findings:            s.findings,
		Sigma:               s.sigma,
		Insights:            s.insights,
		Detections:          native.Detections{Sigma: s.sigma, EventRules: s.eventRules},
		Users:               s.users,
		MayManageUsers:      s.mayManageUsers,
		Capture:             s.capture.local,
		Logger:              logger,
	})
	if err != nil {
		return err
	}
	lg, err := logs.New(logs.Config{Groups: s.logwatch, Filters: s.logwatch.Filters(), TokenKey: tokenKey, Logger: logger, Store: st, Insights: s.logwatch})
	if err != nil {
		return err
	}
	lg.Register(s.logs)
	ct.Register(s.cloudtrail)
	lk.Register(s.cloudtrail)
	data.Register(s.cloudtrailData)
	nat.Register(s.native)
	sns.New(s.topics).Register(s.sns)
	s.lake = lk
	// CloudWatch's API over the metrics and alarms engine (newWatch).
	cw, err := cloudwatch.New(cloudwatch.Config{Engine: s.alarms, Logger: logger})
	if err != nil {
		return err
	}
	cw.Register(s.monitoring)
	ev, err := events.New(events.Config{Rules: s.eventRules, TokenKey: tokenKey, Logger: logger})
	if err != nil {
		return err
	}
	ev.Register(s.events)
	return nil
}

// newTopics builds SNS's component from the notifications section; the
// server starts it once it knows its address (the default public URL).
func newTopics(cfg *config.Config, st *store.Store, logger *slog.Logger) (*topics.Topics, error) {
	n := cfg.Notifications
	pw := n.SMTP.Password
	if n.SMTP.PasswordEnv != "" {
		pw = os.Getenv(n.SMTP.PasswordEnv)
	}
	return topics.New(topics.Config{
		DB:         st.DB(),
		PublicURL:  n.PublicURL,
		SMTP:       topics.SMTP{Host: n.SMTP.Host, Port: n.SMTP.Port, From: n.SMTP.From, Username: n.SMTP.Username, Password: pw, StartTLS: n.SMTP.StartTLS},
		SlackHosts: n.SlackHosts,
		Timeout:    n.Timeout,
		Logger:     logger,
	})
}
