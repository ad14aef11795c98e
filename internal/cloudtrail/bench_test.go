package cloudtrail

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/servicetest"
)

func benchEnv(b *testing.B) (*Service, *servicetest.Store) {
	st := servicetest.NewStore()
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{Store: st, TokenKey: servicetest.TokenKey, Logger: quiet,
		Now: func() time.Time { return servicetest.Now }})
	if err != nil {
		b.Fatal(err)
	}
	return svc, st
}

// BenchmarkLookupEventsPage measures one 50-event LookupEvents page through
// the JSON 1.1 router (decode, validate, token, encode 50 records), over an
// in-memory store of 1,000 events.
func BenchmarkLookupEventsPage(b *testing.B) {
	svc, st := benchEnv(b)
	for i := 0; i < 1000; i++ {
		st.Add(servicetest.Record(b, servicetest.RecordOpts{ID: fmt.Sprintf("b-%04d", i), Time: servicetest.Now.Add(-time.Duration(i) * time.Second)}))
	}
	r := awsapi.NewRouter("cloudtrail", nil, slog.New(slog.DiscardHandler))
	svc.Register(r)
	body := []byte(`{"MaxResults":50}`)
	ctx := servicetest.CallerContext(context.Background(), servicetest.AcctA, servicetest.RegionA)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/", nil).WithContext(ctx)
		req.Header.Set("X-Amz-Target", "CloudTrail_20131101.LookupEvents")
		w := httptest.NewRecorder()
		r.Handle(w, req, body)
		if w.Code != 200 {
			b.Fatal(w.Body)
		}
	}
}
