package console

import "net/http"

// AlarmDeps is what the alarms pages read and change.
type AlarmDeps struct{}

func (c *Console) alarmRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /alarms", c.signedIn(func(w http.ResponseWriter, r *http.Request, s *Session) {
		c.render(w, r, s, http.StatusOK, "placeholder", "Alarms", nil)
	}))
}
