package store

import (
	"context"
	"fmt"
	"time"
)

// Failed calls (LookupQuery.Failures) are told apart without reading
// records: the events table keeps event.Record.Failed in its failed
// column, written at append, and the columnar files' relation (coldRel)
// works it out from errorCode, eventName and responseElements, which the
// files hold as columns. A failed console sign-in has no errorCode, so
// without them every ConsoleLogin had to be read to drop the successes.

// coldFailed is the failed column over the columnar files' columns:
// event.Record.Failed in SQL. responseElements holds the member's exact
// JSON text, so json_extract_string reads the value fastjson does.
const coldFailed = `(coalesce("errorCode", '') <> '' OR ("eventName" = 'ConsoleLogin' AND coalesce(json_extract_string("responseElements", '$.ConsoleLogin'), '') = 'Failure'))`

// upgradeFailed fills the failed column of the events stored before it
// was kept (NULL there): the ConsoleLogin records are read to tell
// failures from successes, every other event has failed exactly when it
// has an errorCode. Each step is idempotent, so an interrupted upgrade
// resumes at the next Open. It runs before the writer's appenders exist.
func (s lookups) upgradeFailed(ctx context.Context) error {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE failed IS NULL`).Scan(&n); err != nil {
		return fmt.Errorf("find events without their outcome: %w", err)
	}
	if n == 0 {
		return nil
	}
	start := time.Now()
	logins, err := s.queryEvents(ctx, `SELECT seq, ingest_time, block, idx FROM events WHERE failed IS NULL AND event_name = 'ConsoleLogin'`)
	if err != nil {
		return fmt.Errorf("read console sign-ins to record their outcome: %w", err)
	}
	var failed []any
	for _, e := range logins {
		if e.Rec.Failed() {
			failed = append(failed, e.Seq)
		}
	}
	for len(failed) > 0 {
		chunk := failed[:min(len(failed), 1000)]
		failed = failed[len(chunk):]
		if _, err := s.db.ExecContext(ctx, `UPDATE events SET failed = true WHERE seq IN (`+placeholders(len(chunk))+`)`, chunk...); err != nil {
			return fmt.Errorf("record failed console sign-ins: %w", err)
		}
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE events SET failed = (error_code <> '') WHERE failed IS NULL`); err != nil {
		return fmt.Errorf("record events' outcome: %w", err)
	}
	s.log.Info("recorded which stored events are failed calls", "events", n, "console_sign_ins_read", len(logins), "took", time.Since(start).Round(time.Millisecond))
	return nil
}
