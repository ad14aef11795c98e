package console

import "net/http"

// UserDeps is what the users pages read and change.
type UserDeps struct{}

func (c *Console) userRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /users", c.signedIn(func(w http.ResponseWriter, r *http.Request, s *Session) {
		c.render(w, r, s, http.StatusOK, "placeholder", "Users", nil)
	}))
}
