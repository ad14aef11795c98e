package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// Retention runs on the server's clock: once a fake clock passes the
// retention period and the loop's hourly tick, the old event is gone,
// with no hour of waiting.
func TestRetentionLoopRunsOnTheClock(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	st, err := store.Open(ctx, t.TempDir(), store.Options{Retention: 24 * time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	raw, _ := json.Marshal(map[string]any{
		"eventVersion": "1.09", "eventTime": t0.Format(time.RFC3339), "eventSource": "ec2.amazonaws.com",
		"eventName": "RunInstances", "awsRegion": "eu-west-1", "sourceIPAddress": "192.0.2.1", "userAgent": "test",
		"eventID": "00000000-0000-4000-8000-000000000001", "eventType": "AwsApiCall", "recipientAccountId": "111111111111",
		"userIdentity":    map[string]any{"type": "IAMUser", "accountId": "111111111111", "userName": "alice"},
		"managementEvent": true, "eventCategory": "Management", "readOnly": false,
	})
	rec, err := event.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(ctx, []*event.Record{rec}, time.Time{}); err != nil {
		t.Fatal(err)
	}

	s := &Server{store: st, log: slog.New(slog.DiscardHandler), clock: clk}
	done := make(chan struct{})
	go func() { defer close(done); s.retentionLoop(ctx) }()
	defer func() { cancel(); <-done }()
	armed, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if err := clk.BlockUntil(armed, 1); err != nil { // the hourly ticker is armed
		t.Fatalf("retention's ticker is not on the server's clock: %v", err)
	}
	clk.Advance(25 * time.Hour) // one tick; the store's cutoff is now t0+1h
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs, err := st.ReadAfter(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events older than the retention period remain after the clock passed it", len(evs))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
