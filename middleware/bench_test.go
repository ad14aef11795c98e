package middleware

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// nopRecorder stores nothing, instantly: what remains is the middleware's
// own cost (identification, two records, the response wrapper).
type nopRecorder struct{}

func (nopRecorder) Intend(context.Context, []byte, time.Duration) error  { return nil }
func (nopRecorder) Renew(context.Context, []string, time.Duration) error { return nil }
func (nopRecorder) Complete(context.Context, []byte) error               { return nil }

// BenchmarkMiddleware measures the time a call spends in the middleware
// (not in a store): go test -run - -bench Middleware -benchmem ./middleware
func BenchmarkMiddleware(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"42","state":"open"}`)
	})
	mux.HandleFunc("POST /orders/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	})
	m, err := New(Options{Recorder: nopRecorder{}, Service: "orders.example.com", Account: account,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(context.Background())
	wrapped := m.Wrap(mux)
	for _, c := range []struct {
		name    string
		h       http.Handler
		method  string
		path    string
		payload string
	}{
		{"bare/read", mux, "GET", "/orders/42?fields=state", ""},
		{"wrapped/read", wrapped, "GET", "/orders/42?fields=state", ""},
		{"bare/write", mux, "POST", "/orders/42/cancel?reason=late", `{"note":"customer asked"}`},
		{"wrapped/write", wrapped, "POST", "/orders/42/cancel?reason=late", `{"note":"customer asked"}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.payload))
				c.h.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	}
}
