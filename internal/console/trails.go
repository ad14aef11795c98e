package console

import "net/http"

// TrailDeps is what the trails pages read and change.
type TrailDeps struct{}

func (c *Console) trailRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /trails", c.signedIn(func(w http.ResponseWriter, r *http.Request, s *Session) {
		c.render(w, r, s, http.StatusOK, "placeholder", "Trails", nil)
	}))
}
