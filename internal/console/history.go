package console

import "net/http"

// HistoryDeps is what the event history pages read and change.
type HistoryDeps struct{}

func (c *Console) historyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /events", c.signedIn(func(w http.ResponseWriter, r *http.Request, s *Session) {
		c.render(w, r, s, http.StatusOK, "placeholder", "Event history", nil)
	}))
}
