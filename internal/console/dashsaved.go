package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/chart"
	"github.com/opentrail/opentrail/internal/dashboards"
)

// formWidgets is how many widget blocks the new-dashboard form offers.
const formWidgets = 4

// newDashboardForm is what templates/dashboard_new.html renders.
type newDashboardForm struct {
	Title    string
	Widgets  []dashboards.Widget
	Charts   []string
	LinkKeys []string
	Err      string
	// WidgetErr holds each widget's query error, by index.
	WidgetErr []string
	Disabled  string
}

func (c *Console) dashboardNew(w http.ResponseWriter, r *http.Request, s *Session) {
	f := newDashboardForm{Widgets: make([]dashboards.Widget, formWidgets), WidgetErr: make([]string, formWidgets)}
	f.Widgets[0] = dashboards.Widget{Title: "Calls per hour by event source", Chart: dashboards.ChartBar, LinkKey: "EventSource",
		SQL: "SELECT date_trunc('hour', eventTime), eventSource, count(*)\nFROM cloudtrail_events\nWHERE eventTime >= $StartTime$ AND eventTime < $EndTime$\nGROUP BY 1, 2"}
	c.renderNewDashboard(w, r, s, http.StatusOK, f)
}

func (c *Console) renderNewDashboard(w http.ResponseWriter, r *http.Request, s *Session, status int, f newDashboardForm) {
	f.Charts, f.LinkKeys = dashboards.Charts, dashboards.LinkKeys
	if c.cfg.Dashboards.Saved == nil || c.cfg.Dashboards.Events == nil {
		f.Disabled = "This server keeps no saved dashboards (it has no event store)."
	}
	c.render(w, r, s, status, "dashboard_new", "New dashboard", f)
}

// expand replaces a widget query's range placeholders.
func expand(sql string, win window) string {
	return strings.NewReplacer("$StartTime$", sqlTime(win.Start), "$EndTime$", sqlTime(win.End)).Replace(sql)
}

func (c *Console) dashboardCreate(w http.ResponseWriter, r *http.Request, s *Session) {
	f := newDashboardForm{Title: strings.TrimSpace(r.PostFormValue("title")), Widgets: make([]dashboards.Widget, formWidgets), WidgetErr: make([]string, formWidgets)}
	d := &dashboards.Dashboard{Title: f.Title, Owner: s.User.Principal.ARN, Account: s.User.Principal.AccountID}
	var idx []int
	for i := range formWidgets {
		p := "w" + strconv.Itoa(i) + "."
		wd := dashboards.Widget{Title: strings.TrimSpace(r.PostFormValue(p + "title")), SQL: strings.TrimSpace(r.PostFormValue(p + "sql")),
			Chart: r.PostFormValue(p + "chart"), LinkKey: r.PostFormValue(p + "link"), LinkFilters: strings.TrimSpace(r.PostFormValue(p + "filters"))}
		f.Widgets[i] = wd
		if wd.Title == "" && wd.SQL == "" {
			continue
		}
		d.Widgets = append(d.Widgets, wd)
		idx = append(idx, i)
	}
	if c.cfg.Dashboards.Saved == nil || c.cfg.Dashboards.Events == nil {
		f.Err = "This server keeps no saved dashboards."
		c.renderNewDashboard(w, r, s, http.StatusConflict, f)
		return
	}
	if err := d.Validate(); err != nil {
		f.Err = err.Error() + "."
		c.renderNewDashboard(w, r, s, http.StatusBadRequest, f)
		return
	}
	for j, wd := range d.Widgets {
		if _, err := url.ParseQuery(wd.LinkFilters); err != nil {
			f.WidgetErr[idx[j]] = "The link filters are not a query string such as errors=1&EventSource=iam.amazonaws.com."
		}
		// Check the query as it will run (placeholders filled): its
		// safety first, then one run over the default range, which finds
		// what only binding finds (a misspelt column).
		win, _ := parseWindow(url.Values{}, c.clock.Now())
		q := expand(wd.SQL, win)
		err := c.cfg.Dashboards.Events.Check(r.Context(), q)
		if err == nil {
			opts := queryOpts(s)
			opts.MaxRows, opts.Timeout = 1, 10*time.Second
			_, err = c.cfg.Dashboards.Events.Run(r.Context(), q, opts)
		}
		if err != nil {
			f.WidgetErr[idx[j]] = "The query cannot run: " + err.Error()
		}
	}
	for _, e := range f.WidgetErr {
		if e != "" {
			f.Err = "Fix the widgets marked below; nothing was saved."
			c.renderNewDashboard(w, r, s, http.StatusBadRequest, f)
			return
		}
	}
	if err := c.cfg.Dashboards.Saved.Create(r.Context(), d); err != nil {
		f.Err = "The dashboard could not be saved: " + err.Error()
		c.renderNewDashboard(w, r, s, http.StatusInternalServerError, f)
		return
	}
	http.Redirect(w, r, "/dashboards/"+d.ID, http.StatusSeeOther)
}

func (c *Console) savedDashboard(w http.ResponseWriter, r *http.Request, s *Session) {
	if c.cfg.Dashboards.Saved == nil {
		c.notFound(w, r, s)
		return
	}
	d, err := c.cfg.Dashboards.Saved.Get(r.Context(), r.PathValue("id"), s.User.Accounts())
	if errors.Is(err, dashboards.ErrNotFound) {
		c.errorPage(w, r, s, http.StatusNotFound, "Dashboard not found", "There is no dashboard "+r.PathValue("id")+" in your accounts. The list of dashboards is at /dashboards.")
		return
	}
	if err != nil {
		c.errorPage(w, r, s, http.StatusInternalServerError, "The dashboard could not be read", err.Error())
		return
	}
	v, ok := c.newDashView(w, r, s, d.Title)
	if !ok {
		return
	}
	v.Saved = &d
	v.Subtitle = "Saved by " + d.Owner + " on " + d.Created.UTC().Format("2006-01-02") + "."
	if v.Notice == "" {
		began := time.Now()
		v.Panels = make([]panel, len(d.Widgets))
		fns := make([]func(), len(d.Widgets))
		for i, wd := range d.Widgets {
			fns[i] = func() { v.Panels[i] = c.widgetPanel(r.Context(), s, v.Window, i, wd) }
		}
		runPanels(fns)
		v.Took = time.Since(began).Round(time.Millisecond).String()
	}
	c.render(w, r, s, http.StatusOK, "dashboard", d.Title, v)
}

func (c *Console) dashboardDelete(w http.ResponseWriter, r *http.Request, s *Session) {
	if c.cfg.Dashboards.Saved == nil {
		c.notFound(w, r, s)
		return
	}
	err := c.cfg.Dashboards.Saved.Delete(r.Context(), r.PathValue("id"), s.User.Accounts())
	if errors.Is(err, dashboards.ErrNotFound) {
		c.errorPage(w, r, s, http.StatusNotFound, "Dashboard not found", "There is no dashboard "+r.PathValue("id")+" in your accounts to delete.")
		return
	}
	if err != nil {
		c.errorPage(w, r, s, http.StatusInternalServerError, "The dashboard could not be deleted", err.Error())
		return
	}
	http.Redirect(w, r, "/dashboards", http.StatusSeeOther)
}

// widgetLink is the event-history link of a widget's point labelled
// label (and, for time series, in [start, end)).
func widgetLink(wd dashboards.Widget, label string, start, end time.Time) string {
	if wd.LinkKey == "" && wd.LinkFilters == "" {
		return ""
	}
	v, _ := url.ParseQuery(wd.LinkFilters)
	if wd.LinkKey != "" {
		if label == "" {
			return ""
		}
		v.Add(wd.LinkKey, label)
	}
	v.Set("start", start.UTC().Format(time.RFC3339))
	v.Set("end", end.UTC().Format(time.RFC3339))
	return "/events?" + v.Encode()
}

// parseCellTime reads a time a query returned.
func parseCellTime(s string) (time.Time, bool) {
	for _, f := range []string{"2006-01-02 15:04:05.000", "2006-01-02 15:04:05", time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(f, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// widgetPanel runs a saved widget and draws it.
func (c *Console) widgetPanel(ctx context.Context, s *Session, win window, i int, wd dashboards.Widget) panel {
	p := panel{ID: "widget-" + strconv.Itoa(i+1), Title: wd.Title, Help: "Chart: " + wd.Chart + ".", Wide: wd.Chart == dashboards.ChartBar || wd.Chart == dashboards.ChartLine || wd.Chart == dashboards.ChartTable}
	res, err := c.cfg.Dashboards.Events.Run(ctx, expand(wd.SQL, win), queryOpts(s))
	if err != nil {
		p.Err = queryError(err)
		return p
	}
	if len(res.Rows) == 0 {
		p.Empty = "The query returned no rows for this range."
		return p
	}
	cols := len(res.Columns)
	switch wd.Chart {
	case dashboards.ChartBar, dashboards.ChartLine:
		if cols < 2 {
			p.Err = "A " + wd.Chart + " chart needs rows of (time, value) or (time, series, value); this query returns " + strconv.Itoa(cols) + " column(s)."
			return p
		}
		n := win.buckets()
		vals := map[string][]float64{}
		var names []string
		skipped := 0
		for _, row := range res.Rows {
			t, ok := parseCellTime(row[0])
			b := int(t.Sub(win.Start) / win.Step)
			if !ok || t.Before(win.Start) || b >= n {
				skipped++
				continue
			}
			name := ""
			if cols >= 3 {
				name = row[1]
			}
			if vals[name] == nil {
				vals[name] = make([]float64, n)
				names = append(names, name)
			}
			vals[name][b] += num(row[cols-1])
		}
		if len(names) == 0 {
			p.Empty = "None of the query's rows has a time in this range (the first column must be a time)."
			return p
		}
		if skipped > 0 {
			p.Help += fmt.Sprintf(" %d row(s) outside the range or without a time were left out.", skipped)
		}
		var cs []chart.Series
		for _, name := range names {
			hrefs := make([]string, n)
			for b := range hrefs {
				st, en := win.bucket(b)
				hrefs[b] = widgetLink(wd, name, st, en)
			}
			cs = append(cs, chart.Series{Name: name, Values: vals[name], Hrefs: hrefs})
		}
		kind := chart.Bars
		if wd.Chart == dashboards.ChartLine {
			kind = chart.Lines
		}
		p.Chart = template.HTML(chart.TimeSeries{Label: wd.Title, Kind: kind, Start: win.Start, Step: win.Step, Series: cs, Width: 1280, Height: 220}.SVG())
	case dashboards.ChartTopN, dashboards.ChartPie:
		if cols < 2 {
			p.Err = "A " + wd.Chart + " chart needs rows of (label, value); this query returns " + strconv.Itoa(cols) + " column."
			return p
		}
		var items []chart.Item
		for _, row := range res.Rows[:min(len(res.Rows), 20)] {
			items = append(items, chart.Item{Label: orNone(row[0]), Value: num(row[cols-1]), Href: widgetLink(wd, row[0], win.Start, win.End)})
		}
		if wd.Chart == dashboards.ChartPie {
			p.Chart = template.HTML(chart.Pie{Label: wd.Title, Items: items, Donut: true}.SVG())
		} else {
			p.Chart = template.HTML(chart.TopN{Label: wd.Title, Items: items}.SVG())
		}
	default:
		t := chart.Table{Columns: res.Columns}
		for _, row := range res.Rows[:min(len(res.Rows), 100)] {
			cells := make([]chart.Cell, len(row))
			for j, v := range row {
				cells[j] = chart.Cell{Text: v}
			}
			cells[0].Href = widgetLink(wd, row[0], win.Start, win.End)
			t.Rows = append(t.Rows, cells)
		}
		if len(res.Rows) > 100 {
			p.Help += fmt.Sprintf(" The first 100 of %d rows.", len(res.Rows))
		}
		p.Chart = template.HTML(t.HTML())
	}
	return p
}
