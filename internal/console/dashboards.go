package console

import "net/http"

// DashboardDeps is what the dashboards pages read and change.
type DashboardDeps struct{}

func (c *Console) dashboardRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /dashboards/{name}", c.signedIn(func(w http.ResponseWriter, r *http.Request, s *Session) {
		c.render(w, r, s, http.StatusOK, "placeholder", "Dashboards", nil)
	}))
}
