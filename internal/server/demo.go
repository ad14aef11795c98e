package server

import (
	"context"
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
)

// FillDemo fills an empty store with a day of demo activity ending now. It
// does nothing if the store already holds events. Call it before Run.
func (s *Server) FillDemo(ctx context.Context, events int) error {
	if s.store.LastSeq() > 0 {
		s.log.Info("store already holds events; --demo adds none")
		return nil
	}
	opts := demoOptions(time.Now(), events)
	var batch []*event.Record
	total := 0
	flush := func() error {
		if _, err := s.store.Append(ctx, batch, time.Now()); err != nil {
			return err
		}
		total += len(batch)
		batch = batch[:0]
		return nil
	}
	err := demo.Generate(opts, func(raw []byte) error {
		rec, err := event.Parse(raw)
		if err != nil {
			return fmt.Errorf("demo record: %w", err)
		}
		batch = append(batch, rec)
		if len(batch) == 5000 {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("fill demo data: %w", err)
	}
	s.log.Info("filled the store with demo activity", "events", total)
	return nil
}

// demoOptions is --demo's activity: a day ending at now (to the minute)
// with demo's incidents planted, so the console's default range (24 h)
// shows them, among them a burst of failed console sign-ins.
func demoOptions(now time.Time, events int) demo.Options {
	return demo.Options{Seed: 1, Events: events, Incidents: true, Start: now.UTC().Add(-24 * time.Hour).Truncate(time.Minute), Duration: 24 * time.Hour}
}

// Close releases what New opened, for a server that will not Run.
func (s *Server) Close() error {
	if s.listener != nil {
		s.listener.Close()
	}
	s.keys.Close(context.Background())
	if s.geoip != nil {
		s.geoip.Close()
	}
	// The capture journal's writer runs from New on.
	jerr := s.capture.closeJournal()
	if err := s.store.Close(); err != nil {
		return err
	}
	if jerr != nil {
		return fmt.Errorf("close capture intents: %w", jerr)
	}
	return nil
}
