package server

import (
	"context"
	"log/slog"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
)

// generatedAppender is how detectors that make CloudTrail records of their
// own (Insights events, aggregated events) store them: through the
// ingester, so they are fsynced before Append returns and then flow
// through the committed stream like any other record (history, SQL,
// delivery, the other detectors). Detectors make their records'
// eventIDs and bytes deterministic, so a replay re-appends identical
// records, which the store's dedupe drops; a conflict (same eventID,
// other bytes) is logged rather than retried forever, since the record
// first stored stands.
type generatedAppender struct {
	in  *ingest.Ingester
	log *slog.Logger
}

func (a generatedAppender) Append(ctx context.Context, source string, recs []*event.Record) error {
	res, err := a.in.Submit(ctx, source, recs)
	if err != nil {
		return err
	}
	if res.Conflicts > 0 {
		a.log.Warn("generated records not stored: another record with their eventID was stored first",
			slog.String("source", source), slog.Int("conflicts", res.Conflicts),
			slog.Any("eventIDs", ingest.ConflictIDs(res, recs, 5)))
	}
	return nil
}
