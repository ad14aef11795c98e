package console

import "net/http"

// FindingDeps is what the findings pages read and change.
type FindingDeps struct{}

func (c *Console) findingRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /findings", c.signedIn(func(w http.ResponseWriter, r *http.Request, s *Session) {
		c.render(w, r, s, http.StatusOK, "placeholder", "Findings", nil)
	}))
}
