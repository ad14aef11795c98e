package cloudtraildata

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrailarn"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/store"
)

// acceptAll is an Ingester that stores nothing.
type acceptAll struct{}

func (acceptAll) Submit(ctx context.Context, source string, recs []*event.Record) (ingest.Result, error) {
	return ingest.Result{Outcomes: make([]ingest.Outcome, len(recs)), Accepted: len(recs)}, nil
}

func benchEnv(b *testing.B) (*Service, *servicetest.Store) {
	st := servicetest.NewStore()
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{Channels: st, Ingester: acceptAll{}, Logger: quiet,
		Now: func() time.Time { return servicetest.Now }})
	if err != nil {
		b.Fatal(err)
	}
	return svc, st
}

// BenchmarkPutAuditEvents measures a 100-event PutAuditEvents request:
// decoding, schema validation, record building and event.Parse.
func BenchmarkPutAuditEvents(b *testing.B) {
	svc, st := benchEnv(b)
	arn := cloudtrailarn.Channel(servicetest.RegionA, servicetest.AcctA, "bench")
	st.Channels[arn] = storeChannel(arn)
	r := awsapi.NewRESTRouter("cloudtrail-data", nil, slog.New(slog.DiscardHandler))
	svc.Register(r)
	entries := make([]putEntry, 100)
	for i := range entries {
		entries[i] = entry(fmt.Sprintf("e%d", i), eventData(b, fmt.Sprintf("uid-%d", i), nil))
	}
	body := []byte(putBody(entries...))
	ctx := servicetest.CallerContext(context.Background(), servicetest.AcctA, servicetest.RegionA)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/PutAuditEvents?"+chanQuery(arn), nil).WithContext(ctx)
		w := httptest.NewRecorder()
		r.Handle(w, req, body)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"failed":[]`) {
			b.Fatal(w.Body)
		}
	}
}

func storeChannel(arn string) store.Channel {
	return store.Channel{ARN: arn, Name: "bench", Source: "Custom", Account: servicetest.AcctA, Region: servicetest.RegionA}
}
