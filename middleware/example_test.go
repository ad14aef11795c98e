package middleware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/middleware"
)

// printRecorder stands in for an opentrail server (Options.Endpoint): it
// notes what it is asked to store.
type printRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (p *printRecorder) Intend(_ context.Context, rec []byte, _ time.Duration) error {
	p.print("intent", rec)
	return nil
}

func (p *printRecorder) Renew(context.Context, []string, time.Duration) error { return nil }

func (p *printRecorder) Complete(_ context.Context, rec []byte) error {
	p.print("record", rec)
	return nil
}

func (p *printRecorder) print(kind string, rec []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var r struct {
		EventSource, EventName, ErrorCode string
		ReadOnly                          bool
		RequestParameters                 map[string]any
		AdditionalEventData               map[string]any
	}
	_ = json.Unmarshal(rec, &r)
	line := fmt.Sprintf("%s: %s %s readOnly=%v params=%v", kind, r.EventSource, r.EventName, r.ReadOnly, r.RequestParameters)
	if r.ErrorCode != "" {
		line += " errorCode=" + r.ErrorCode
	}
	if o := r.AdditionalEventData["outcome"]; o != nil {
		line += fmt.Sprint(" outcome=", o)
	}
	p.lines = append(p.lines, line)
}

// A service records every call: the intent of a mutating call is stored
// before its handler runs, and its final record after its answer; a read
// is recorded after its answer.
func Example() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":%q}`, r.PathValue("id"))
	})
	mux.HandleFunc("POST /orders/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "order already shipped", http.StatusConflict)
	})

	store := &printRecorder{}
	m, err := middleware.New(middleware.Options{
		Recorder: store, // or Endpoint: "http://127.0.0.1:4747"
		Service:  "orders.example.com",
		Account:  "123456789012",
		Identity: func(r *http.Request) *middleware.Principal {
			if u := r.Header.Get("X-User"); u != "" { // set by your authentication
				return &middleware.Principal{Type: "IAMUser", UserName: u, AccountID: "123456789012"}
			}
			return nil // anonymous, known by its address
		},
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(m.Wrap(mux))

	resp, _ := http.Get(srv.URL + "/orders/42")
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	resp, _ = http.Post(srv.URL+"/orders/42/cancel?reason=late", "text/plain", strings.NewReader(""))
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	srv.Close()                   // the HTTP server first, then
	m.Close(context.Background()) // the records written after the answers
	slices.Sort(store.lines)
	fmt.Println(strings.Join(store.lines, "\n"))
	// Output:
	// intent: orders.example.com PostOrdersByIdCancel readOnly=false params=map[id:42 reason:late] outcome=unknown
	// record: orders.example.com GetOrdersById readOnly=true params=map[id:42]
	// record: orders.example.com PostOrdersByIdCancel readOnly=false params=map[id:42 reason:late] errorCode=Conflict
}

func ExampleOperationName() {
	fmt.Println(middleware.OperationName("GET", "GET /orders/{id}", "/orders/42"))
	fmt.Println(middleware.OperationName("POST", "/orders/{id}/items", "/orders/42/items"))
	fmt.Println(middleware.OperationName("DELETE", "", "/carts/7"))
	// Output:
	// GetOrdersById
	// PostOrdersByIdItems
	// DeleteCarts
}
