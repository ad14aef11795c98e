package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// pages are the parsed templates: each page file (templates/<name>.html,
// defining "content") parsed together with the layout and the shared
// partials (templates/_*.html).
type pages struct {
	byName map[string]*template.Template
}

// funcs are the template functions every page may use.
var funcs = template.FuncMap{
	// time formats a time as the console shows it everywhere: UTC, to the
	// second.
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	// ago is a short relative time ("3 min ago").
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return relative(time.Since(t))
	},
	// query builds a query string from key/value pairs, skipping empty
	// values: {{query "Username" .User "range" "24h"}}.
	"query": func(kv ...string) template.URL {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				v.Add(kv[i], kv[i+1])
			}
		}
		return template.URL(v.Encode())
	},
	"add": func(a, b int) int { return a + b },
}

func relative(d time.Duration) string {
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}

func parsePages() (*pages, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console: layout: %w", err)
	}
	partials, _ := fs.Glob(templateFS, "templates/_*.html")
	if len(partials) > 0 {
		if base, err = base.ParseFS(templateFS, partials...); err != nil {
			return nil, fmt.Errorf("console: partials: %w", err)
		}
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("console: page %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// view is what the layout renders around a page's content.
type view struct {
	Title   string
	Session *Session // nil on the sign-in pages
	// Nav is the menu entry to highlight: the first segment of the path.
	Nav  string
	Data any
}

// render writes page name (templates/<name>.html) with data inside the
// layout. It renders into a buffer first, so a template error becomes a
// clean 500 page rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, s *Session, status int, name, title string, data any) {
	t, ok := c.pages.byName[name]
	if !ok {
		c.log.Error("console: no such page template", "page", name)
		http.Error(w, "page template "+name+" missing", http.StatusInternalServerError)
		return
	}
	nav := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", view{Title: title, Session: s, Nav: nav, Data: data}); err != nil {
		c.log.Error("console: rendering page", "page", name, "err", err)
		http.Error(w, "The page could not be drawn: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type errorData struct {
	Heading string
	Message string
}

// errorPage renders a page that says what went wrong and what to do.
func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, s *Session, status int, heading, msg string) {
	c.render(w, r, s, status, "error", heading, errorData{Heading: heading, Message: msg})
}
