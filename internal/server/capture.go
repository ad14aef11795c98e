package server

import (
	"context"
	"fmt"

	"github.com/opentrail/opentrail/internal/intents"
)

// capture is the server's side of capture gateways and middleware
// (docs/capture.md): the durable intent table in the data directory, the
// local Recorder over it and the ingester, and the reaper that records
// intents whose lease ran out.
type capture struct {
	table  *intents.Table
	local  *intents.Local
	reaper *intents.Reaper
}

// newCapture opens the intent table and builds the Recorder and the
// reaper (started by Run).
func (s *Server) newCapture() error {
	t, err := intents.Open(s.cfg.Data, intents.Options{Logger: s.log})
	if err != nil {
		return fmt.Errorf("open capture intents: %w", err)
	}
	s.capture = capture{
		table:  t,
		local:  intents.NewLocal(t, s.ingester, s.clock, s.log),
		reaper: intents.NewReaper(intents.ReaperOptions{Table: t, Ingester: s.ingester, Clock: s.clock, Logger: s.log}),
	}
	s.capture.local.WakeOnQueued(s.capture.reaper.Wake)
	return nil
}

// CaptureRecorder is the Recorder (internal/capture.Recorder) that stores
// captured calls' records in this server's own store: a capture gateway
// run by serve records through it. Intend works from New on; Complete
// needs Run (the ingester) and must not be called after Run returns, so
// a gateway in the same process is shut down before Run's shutdown
// reaches the ingester.
func (s *Server) CaptureRecorder() *intents.Local { return s.capture.local }

// closeCapture stops the reaper; closeCaptureTable closes the journal
// once nothing records any more.
func (s *Server) closeCapture(ctx context.Context) error { return s.capture.reaper.Close(ctx) }

func (s *Server) closeCaptureTable() error { return s.capture.table.Close() }
