package server

import (
	"context"
	"fmt"
	"sync"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/metrics"
	"github.com/opentrail/opentrail/internal/objstore"
)

// SourceIngestName is the ingestion source name (in metrics) of events
// imported from configured sources.
const SourceIngestName = "s3-source"

// LakeImportIngestName is the ingestion source name (in metrics) of events
// imported by StartImport.
const LakeImportIngestName = "lake-import"

// ingestSink stores imported events through the ingester, so that they
// share its group commits with every other write; retention spares them
// as it does every import. name is the ingestion source in metrics.
type ingestSink struct {
	in   *ingest.Ingester
	name string
}

func (s ingestSink) Write(ctx context.Context, recs []*event.Record) (importer.WriteResult, error) {
	res, err := s.in.SubmitImported(ctx, s.name, recs)
	if err != nil {
		return importer.WriteResult{}, err
	}
	return importer.WriteResult{Added: res.Accepted, Duplicates: res.Duplicates, Conflicts: res.Conflicts,
		ConflictIDs: ingest.ConflictIDs(res, recs, importer.MaxConflictIDs)}, nil
}

// sourceMetrics count what the configured sources import, by source.
type sourceMetrics struct {
	files, badFiles, events, errors *metrics.CounterVec
}

// newPollers builds a Poller for each configured source; their progress
// is recorded in the store's meta table. The sources that take event
// notifications are returned as targets.
func (s *Server) newPollers(ctx context.Context) ([]*importer.Poller, []notifyTarget, error) {
	if len(s.cfg.Sources) == 0 {
		return nil, nil, nil
	}
	m := sourceMetrics{
		files:    s.reg.NewCounterVec("opentrail_source_files_imported_total", "Log files imported from configured sources, by source.", "source"),
		badFiles: s.reg.NewCounterVec("opentrail_source_files_bad_total", "Bad log files skipped in configured sources, by source.", "source"),
		events:   s.reg.NewCounterVec("opentrail_source_events_added_total", "New events imported from configured sources, by source.", "source"),
		errors:   s.reg.NewCounterVec("opentrail_source_poll_errors_total", "Failed polls of configured sources, and failed imports of files their notifications named, by source.", "source"),
	}
	var (
		ps      []*importer.Poller
		targets []notifyTarget
	)
	for i, c := range s.cfg.Sources {
		bucket, prefix, ok := importer.ParseS3URL(c.S3)
		if !ok {
			return nil, nil, fmt.Errorf("sources[%d]: %q is not s3://bucket/prefix", i, c.S3)
		}
		b, err := objstore.NewS3Buckets(ctx, objstore.S3Options{
			Endpoint: c.Endpoint, Region: c.Region, PathStyle: c.PathStyle,
			AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("sources[%d]: %w", i, err)
		}
		src := importer.NewS3Source(objstore.NewS3ReaderFromClient(b.Client()), bucket, prefix)
		name := src.Name()
		p := importer.NewPoller(importer.PollOptions{
			Source:   src,
			Sink:     ingestSink{s.ingester, SourceIngestName},
			Ledger:   s.store,
			Filter:   importer.Filter{Accounts: c.Accounts, Regions: c.Regions},
			Interval: c.PollInterval,
			Logger:   s.log,
			OnFile: func(fr importer.FileResult) {
				if fr.Bad {
					m.badFiles.Add(name, 1)
				} else {
					m.files.Add(name, 1)
				}
				m.events.Add(name, uint64(fr.Added))
			},
			OnError: func(error) { m.errors.Add(name, 1) },
		})
		ps = append(ps, p)
		if c.NotificationToken != "" {
			targets = append(targets, notifyTarget{name: name, src: src, poller: p, token: c.NotificationToken, region: c.Region})
		}
	}
	return ps, targets, nil
}

// startPollers runs the pollers until ctx ends; wg counts them.
func (s *Server) startPollers(ctx context.Context, wg *sync.WaitGroup) {
	for _, p := range s.pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Run(ctx)
		}()
	}
}
