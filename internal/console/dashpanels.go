package console

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/chart"
	"github.com/opentrail/opentrail/internal/cis"
	"github.com/opentrail/opentrail/internal/rollup"
)

// categoryKeys maps eventCategory values to event history's category
// filter.
var categoryKeys = map[string]string{"Management": "management", "Data": "data", "Insight": "insight", "Aggregated": "aggregated"}

// categoryColors keep a category's colour the same on every range.
var categoryColors = map[string]string{"Management": "#0a5dc2", "Data": "#e8710a", "Insight": "#7b4bb8", "Aggregated": "#0f8b8d"}

// overview is the landing page: what happened, who did it, from where,
// and how much of it failed.
func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *Session) {
	v, ok := c.newDashView(w, r, s, "Overview")
	if !ok {
		return
	}
	v.Subtitle = "Every event in your accounts over the range. Click a bar, a row or a slice to open its events."
	if v.Notice == "" {
		c.overviewPanels(r.Context(), s, v)
	}
	c.render(w, r, s, http.StatusOK, "dashboard", "Overview", v)
}

func (c *Console) overviewPanels(ctx context.Context, s *Session, v *dashView) {
	win := v.Window
	link := func(kv ...string) string { return eventsLink(win.Start, win.End, kv...) }
	began := time.Now()
	d := c.dashSource(ctx, s, win)
	v.Building = d.building
	v.Panels = make([]panel, 8)
	p := v.Panels
	var total, errs, ips float64
	var kpiErr error
	fns := []func(){
		func() { total, errs, ips, kpiErr = d.kpis(ctx, win) },
		func() {
			p[0] = panel{ID: "by-category", Title: "Events over time by category", Help: "Management, data, Insight and aggregated events per bucket.", More: link(), Wide: true}
			ser, err := d.timeSeries(ctx, win, win.Step, categoryExpr, "TRUE")
			if err != nil {
				p[0].Err = queryError(err)
				return
			}
			names := slices.Clone(ser.names)
			order := []string{"Management", "Data", "Insight", "Aggregated"}
			sort.SliceStable(names, func(i, j int) bool { return rank(order, names[i]) < rank(order, names[j]) })
			var cs []chart.Series
			for _, n := range names {
				cs = append(cs, chart.Series{Name: n, Color: categoryColors[n], Values: ser.values[n], Hrefs: bucketLinks(win, win.Step, "category", categoryKeys[n])})
			}
			p[0].chartOrEmpty(len(cs) > 0, "No events in this range.", func() string {
				return chart.TimeSeries{Label: "Events per " + stepText(win.Step) + " bucket by category", Start: win.Start, Step: win.Step, Series: cs, Unit: "events", Width: 1280, Height: 240}.SVG()
			})
		},
		func() {
			p[1] = panel{ID: "error-rate", Title: "Error rate over time", Help: "The share of calls that returned an error code, per bucket.", More: link("errors", "1"), Wide: true}
			ser, err := d.timeSeries(ctx, win, win.Step, erroredExpr, "TRUE")
			if err != nil {
				p[1].Err = queryError(err)
				return
			}
			n := win.buckets()
			rate := make([]float64, n)
			seen := false
			for i := range rate {
				t := value(ser.values["true"], i) + value(ser.values["false"], i)
				if t > 0 {
					rate[i] = math.Round(value(ser.values["true"], i)/t*1000) / 10
					seen = true
				}
			}
			p[1].chartOrEmpty(seen, "No events in this range.", func() string {
				return chart.TimeSeries{Label: "Error rate per " + stepText(win.Step) + " bucket", Kind: chart.Lines, Start: win.Start, Step: win.Step, Unit: "% errors",
					Series: []chart.Series{{Name: "Error rate", Color: "#b3261e", Values: rate, Hrefs: bucketLinks(win, win.Step, "errors", "1")}}, Width: 1280, Height: 200}.SVG()
			})
		},
		d.topPanel(ctx, win, &p[2], "top-sources", "Top event sources", "The services called most.", "eventSource", "TRUE", "EventSource"),
		d.topPanel(ctx, win, &p[3], "top-names", "Top event names", "The operations called most.", "eventName", "TRUE", "EventName"),
		d.topPanel(ctx, win, &p[4], "top-principals", "Top principals", "Who made the calls: IAM users, role sessions, root.", userExpr, "TRUE", "Username"),
		d.topPanel(ctx, win, &p[5], "top-ips", "Top source IP addresses", "Where the calls came from.", "sourceIPAddress", "TRUE", "SourceIPAddress"),
		d.topPanel(ctx, win, &p[6], "top-errors", "Top error codes", "The errors calls returned.", "errorCode", erroredCond, "ErrorCode"),
		func() {
			p[7] = panel{ID: "read-write", Title: "Read-only and write calls", Help: "Calls that change nothing against calls that may.", More: link()}
			rows, err := d.topRows(ctx, win, readOnlyExpr, "TRUE", 3)
			if err != nil {
				p[7].Err = queryError(err)
				return
			}
			var items []chart.Item
			for _, r := range rows {
				it := chart.Item{Label: map[string]string{"true": "Read-only", "false": "Write", "unknown": "Not stated"}[r[0]], Value: num(r[1])}
				if r[0] != "unknown" {
					it.Href = link("ReadOnly", r[0])
				}
				it.Color = map[string]string{"true": "#0a5dc2", "false": "#e8710a", "unknown": "#aab4c2"}[r[0]]
				items = append(items, it)
			}
			p[7].chartOrEmpty(len(items) > 0, "No events in this range.", func() string {
				return chart.Pie{Label: "Read-only and write calls", Items: items, Donut: true, Unit: "events"}.SVG()
			})
		},
	}
	runPanels(fns)
	if kpiErr != nil {
		v.Notice = queryError(kpiErr)
	}
	rate := "—"
	if total > 0 {
		rate = chart.FormatValue(math.Round(errs/total*1000)/10) + "%"
	}
	v.KPIs = []kpi{
		{Label: "Events", Value: chart.FormatValue(total), Href: link()},
		{Label: "Failed calls", Value: chart.FormatValue(errs), Href: link("errors", "1"), Bad: errs > 0},
		{Label: "Error rate", Value: rate, Href: link("errors", "1")},
		{Label: "Source IP addresses", Value: chart.FormatValue(ips)},
	}
	v.Took = time.Since(began).Round(time.Millisecond).String()
}

func rank(order []string, s string) int {
	if i := slices.Index(order, s); i >= 0 {
		return i
	}
	return len(order)
}

func value(vs []float64, i int) float64 {
	if i < len(vs) {
		return vs[i]
	}
	return 0
}

// bucketLinks are the event-history links of every bucket of step in w,
// each with the filters kv (none when a filter value is empty).
func bucketLinks(w window, step time.Duration, kv ...string) []string {
	for i := 1; i < len(kv); i += 2 {
		if kv[i] == "" {
			return nil
		}
	}
	n := int(w.End.Sub(w.Start) / step)
	out := make([]string, n)
	for i := range out {
		s := w.Start.Add(time.Duration(i) * step)
		out[i] = eventsLink(s, s.Add(step), kv...)
	}
	return out
}

// chartOrEmpty draws the panel's chart, or says why there is none.
func (p *panel) chartOrEmpty(have bool, empty string, draw func() string) {
	if !have {
		p.Empty = empty
		return
	}
	p.Chart = template.HTML(draw())
}

// topPanel fills *p with the top 10 values of expr among the events
// matching cond, each linked through the event-history filter key.
func (d *dashSrc) topPanel(ctx context.Context, win window, p *panel, id, title, help, expr, cond, key string) func() {
	return func() {
		*p = panel{ID: id, Title: title, Help: help, More: eventsLink(win.Start, win.End)}
		rows, err := d.topRows(ctx, win, expr, cond, 10)
		if err != nil {
			p.Err = queryError(err)
			return
		}
		var items []chart.Item
		for _, r := range rows {
			label, href := r[0], eventsLink(win.Start, win.End, key, r[0])
			if label == "" {
				label, href = "(none)", ""
			}
			items = append(items, chart.Item{Label: label, Value: num(r[1]), Href: href})
		}
		empty := "No events in this range."
		if cond != "TRUE" {
			empty = "No failed calls in this range."
		}
		p.chartOrEmpty(len(items) > 0, empty, func() string {
			return chart.TopN{Label: title, Items: items, Unit: "events"}.SVG()
		})
	}
}

// cisChangePanels are the benchmark's change controls the CIS dashboard
// shows per user, in the benchmark's order.
var cisChangePanels = []struct{ Key, Title string }{
	{"iam-policy-changes", "IAM policy changes"},
	{"cloudtrail-config-changes", "CloudTrail configuration changes"},
	{"config-changes", "AWS Config changes"},
	{"network-gateway-changes", "Network gateway changes"},
	{"route-table-changes", "Route table changes"},
	{"nacl-changes", "Network ACL changes"},
	{"security-group-changes", "Security group changes"},
	{"vpc-changes", "VPC changes"},
	{"s3-bucket-policy-changes", "S3 bucket policy changes"},
}

// cisDashboard shows the CIS AWS Foundations Benchmark's monitoring
// controls as panels over the range.
func (c *Console) cisDashboard(w http.ResponseWriter, r *http.Request, s *Session) {
	v, ok := c.newDashView(w, r, s, "CIS AWS Foundations")
	if !ok {
		return
	}
	v.Subtitle = "The benchmark's monitoring controls (" + cis.DefaultVersion + ") over the range. Click a bar or a row to open the events behind it."
	if v.Notice == "" {
		c.cisPanels(r.Context(), s, v)
	}
	c.render(w, r, s, http.StatusOK, "dashboard", "CIS AWS Foundations", v)
}

func (c *Console) cisPanels(ctx context.Context, s *Session, v *dashView) {
	win := v.Window
	link := func(kv ...string) string { return eventsLink(win.Start, win.End, kv...) }
	bench, _ := cis.Lookup(cis.DefaultVersion)
	began := time.Now()
	d := c.dashSource(ctx, s, win)
	v.Building = d.building
	// The outlier view works in hours (or the range's buckets when
	// longer), as the SIEM panels it follows do.
	hour := max(win.Step, time.Hour)
	outWin := win
	outWin.Start = win.End.Add(-time.Duration(int(win.End.Sub(win.Start)/hour)) * hour)

	fixed := make([]panel, 9)
	p := fixed
	change := make([]panel, len(cisChangePanels))
	var failedTotal, noMFATotal, rootTotal, unauthTotal float64
	fns := []func(){
		// Failed console logins over time.
		func() {
			p[0] = panel{ID: "failed-logins", Title: "Failed console logins over time", Help: "ConsoleLogin events that failed authentication, per bucket (CIS " + controlID(bench, "console-auth-failures") + ").", More: link("EventName", "ConsoleLogin", "errors", "1"), Wide: true}
			ser, err := d.timeSeries(ctx, win, win.Step, "''", failedLoginCond)
			if err != nil {
				p[0].Err = queryError(err)
				return
			}
			vals := ser.values[""]
			failedTotal = sum(vals)
			p[0].chartOrEmpty(failedTotal > 0, "No failed console logins in this range.", func() string {
				return chart.TimeSeries{Label: "Failed console logins per " + stepText(win.Step) + " bucket", Start: win.Start, Step: win.Step, Unit: "failed logins",
					Series: []chart.Series{{Name: "Failed console logins", Color: "#b3261e", Values: vals, Hrefs: bucketLinks(win, win.Step, "EventName", "ConsoleLogin", "errors", "1")}}, Width: 1280, Height: 220}.SVG()
			})
		},
		// Outliers.
		func() {
			p[1] = panel{ID: "failed-login-outliers", Title: "Failed console logins: outliers", Help: "Failed logins per " + stepText(hour) + " bucket; buckets above the mean plus three standard deviations are marked.", More: link("EventName", "ConsoleLogin", "errors", "1"), Wide: true}
			ser, err := d.timeSeries(ctx, outWin, hour, "''", failedLoginCond)
			if err != nil {
				p[1].Err = queryError(err)
				return
			}
			vals := ser.values[""]
			if vals == nil {
				vals = make([]float64, int(outWin.End.Sub(outWin.Start)/hour))
			}
			limit, marked, n := outliers(vals)
			if sum(vals) > 0 {
				p[1].Help += fmt.Sprintf(" Mean %s, threshold %s: %d outlier bucket(s).", chart.FormatValue(math.Round(mean(vals)*100)/100), chart.FormatValue(math.Round(limit*100)/100), n)
			}
			p[1].chartOrEmpty(sum(vals) > 0, "No failed console logins in this range, so no outliers.", func() string {
				return chart.TimeSeries{Label: "Failed console logins per " + stepText(hour) + " bucket with outliers marked", Start: outWin.Start, Step: hour, Unit: "failed logins",
					Series:       []chart.Series{{Name: "Failed console logins", Color: "#9a5b00", Values: vals, Hrefs: bucketLinks(outWin, hour, "EventName", "ConsoleLogin", "errors", "1")}},
					HasThreshold: true, Threshold: limit, ThresholdLabel: "mean + 3σ = " + chart.FormatValue(math.Round(limit*100)/100),
					Marked: marked, MarkedLabel: "outlier", Width: 1280, Height: 200}.SVG()
			})
		},
		// Failed console logins by user.
		func() {
			p[2] = panel{ID: "failed-logins-by-user", Title: "Failed console logins by user", Help: "Who failed to sign in. Unknown user names appear as HIDDEN_DUE_TO_SECURITY_REASONS.", More: link("EventName", "ConsoleLogin", "errors", "1")}
			p[2].fillTop(d, ctx, win, userExpr, failedLoginCond, "failed logins", func(k string) string { return link("EventName", "ConsoleLogin", "errors", "1", "Username", k) })
		},
		// Failed console logins by location.
		func() {
			p[3] = panel{ID: "failed-logins-by-location", Title: "Failed console logins by location", Help: "Where failed sign-ins came from, placed by the configured GeoIP database.", More: link("EventName", "ConsoleLogin", "errors", "1")}
			d.locationPanel(ctx, win, &p[3])
		},
		// Console logins without MFA.
		func() {
			p[4] = panel{ID: "logins-without-mfa", Title: "Console logins without MFA by user", Help: "Successful console sign-ins whose additionalEventData.MFAUsed is not Yes (CIS " + controlID(bench, "console-signin-without-mfa") + ").", More: link("EventName", "ConsoleLogin")}
			noMFATotal = p[4].fillTop(d, ctx, win, userExpr, noMFACond, "logins", func(k string) string { return link("EventName", "ConsoleLogin", "Username", k) })
		},
		// Root account usage.
		func() {
			p[5] = panel{ID: "root-usage", Title: "Root account logins and usage", Help: "Calls made as the root user, not by an AWS service on its behalf (CIS " + controlID(bench, "root-account-usage") + ").", More: link("Username", "root")}
			ser, err := d.timeSeries(ctx, win, win.Step, "CASE WHEN eventName = 'ConsoleLogin' THEN 'Console logins' ELSE 'Other calls' END", rootCond)
			if err != nil {
				p[5].Err = queryError(err)
				return
			}
			var cs []chart.Series
			for _, n := range []string{"Console logins", "Other calls"} {
				if vs, ok := ser.values[n]; ok {
					rootTotal += sum(vs)
					kv := []string{"Username", "root"}
					if n == "Console logins" {
						kv = append(kv, "EventName", "ConsoleLogin")
					}
					cs = append(cs, chart.Series{Name: n, Color: map[string]string{"Console logins": "#b3261e", "Other calls": "#e8710a"}[n], Values: vs, Hrefs: bucketLinks(win, win.Step, kv...)})
				}
			}
			p[5].chartOrEmpty(len(cs) > 0, "The root user was not used in this range.", func() string {
				return chart.TimeSeries{Label: "Root account use per " + stepText(win.Step) + " bucket", Start: win.Start, Step: win.Step, Unit: "calls", Series: cs, Width: 640, Height: 200}.SVG()
			})
		},
		// Unauthorised API calls over time, by error code.
		func() {
			p[6] = panel{ID: "unauthorized-over-time", Title: "Unauthorised API calls over time", Help: "Calls refused with AccessDenied* or *UnauthorizedOperation, by error code (CIS " + controlID(bench, "unauthorized-api-calls") + ").", More: link("errors", "1")}
			ser, err := d.timeSeries(ctx, win, win.Step, "errorCode", unauthCond)
			if err != nil {
				p[6].Err = queryError(err)
				return
			}
			var cs []chart.Series
			for _, n := range ser.names {
				unauthTotal += sum(ser.values[n])
				cs = append(cs, chart.Series{Name: n, Values: ser.values[n], Hrefs: bucketLinks(win, win.Step, "ErrorCode", n)})
			}
			p[6].chartOrEmpty(len(cs) > 0, "No unauthorised API calls in this range.", func() string {
				return chart.TimeSeries{Label: "Unauthorised API calls per " + stepText(win.Step) + " bucket", Start: win.Start, Step: win.Step, Unit: "calls", Series: cs, Width: 640, Height: 200}.SVG()
			})
		},
		// Unauthorised API calls by user.
		func() {
			p[7] = panel{ID: "unauthorized-by-user", Title: "Unauthorised API calls by user", Help: "Who was refused, and with which error.", More: link("errors", "1")}
			d.pairTable(ctx, win, &p[7], userExpr, "errorCode", unauthCond, []string{"User", "Error code", "Calls"}, "Username", "ErrorCode", "No unauthorised API calls in this range.")
		},
		// KMS keys disabled or scheduled for deletion.
		func() {
			p[8] = panel{ID: "kms-keys", Title: "KMS keys disabled or scheduled for deletion", Help: "DisableKey and ScheduleKeyDeletion calls (CIS " + controlID(bench, "cmk-disable-or-deletion") + "), newest first.", More: link("EventSource", "kms.amazonaws.com")}
			d.kmsPanel(ctx, win, &p[8])
		},
		// The change panels, from one query.
		func() { d.changePanels(ctx, win, bench, change) },
	}
	runPanels(fns)
	v.Panels = append(fixed, change...)
	v.KPIs = []kpi{
		{Label: "Failed console logins", Value: chart.FormatValue(failedTotal), Href: link("EventName", "ConsoleLogin", "errors", "1"), Bad: failedTotal > 0},
		{Label: "Logins without MFA", Value: chart.FormatValue(noMFATotal), Href: link("EventName", "ConsoleLogin"), Bad: noMFATotal > 0},
		{Label: "Root account calls", Value: chart.FormatValue(rootTotal), Href: link("Username", "root"), Bad: rootTotal > 0},
		{Label: "Unauthorised API calls", Value: chart.FormatValue(unauthTotal), Href: link("errors", "1"), Bad: unauthTotal > 0},
	}
	v.Took = time.Since(began).Round(time.Millisecond).String()
}

func controlID(b cis.Benchmark, key string) string {
	if c, ok := b.Find(key); ok {
		return c.ID
	}
	return key
}

func sum(vs []float64) float64 {
	t := 0.0
	for _, v := range vs {
		t += v
	}
	return t
}

func mean(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	return sum(vs) / float64(len(vs))
}

// outliers returns mean + 3 standard deviations of vs (the population's)
// and which values lie above it (and above zero).
func outliers(vs []float64) (limit float64, marked []bool, n int) {
	m := mean(vs)
	sq := 0.0
	for _, v := range vs {
		sq += (v - m) * (v - m)
	}
	sd := 0.0
	if len(vs) > 0 {
		sd = math.Sqrt(sq / float64(len(vs)))
	}
	limit = m + 3*sd
	marked = make([]bool, len(vs))
	for i, v := range vs {
		if v > limit && v > 0 {
			marked[i] = true
			n++
		}
	}
	return limit, marked, n
}

// fillTop fills p with a top-10 chart of expr over the events matching
// cond, each bar linked by href(label); it returns the shown total.
func (p *panel) fillTop(d *dashSrc, ctx context.Context, win window, expr, cond, unit string, href func(string) string) float64 {
	rows, err := d.topRows(ctx, win, expr, cond, 10)
	if err != nil {
		p.Err = queryError(err)
		return 0
	}
	var items []chart.Item
	total := 0.0
	for _, r := range rows {
		it := chart.Item{Label: r[0], Value: num(r[1]), Href: href(r[0])}
		if r[0] == "" {
			it.Label, it.Href = "(none)", ""
		}
		total += it.Value
		items = append(items, it)
	}
	p.chartOrEmpty(len(items) > 0, "None in this range.", func() string {
		return chart.TopN{Label: p.Title, Items: items, Unit: unit}.SVG()
	})
	return total
}

// pairTable fills p with a table of the top (a, b) pairs among the events
// matching cond, each row linked by both filters.
func (d *dashSrc) pairTable(ctx context.Context, win window, p *panel, exprA, exprB, cond string, cols []string, keyA, keyB, empty string) {
	src := d.from(cond, exprA, exprB)
	q := fmt.Sprintf(`SELECT %s AS a, %s AS b, %s AS n FROM %s WHERE %s AND (%s) GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10`,
		src.exprs[0], src.exprs[1], src.count, src.table, timeCondOn(src.timeCol, win), src.cond)
	rows, err := d.run(ctx, win, src, q)
	if err != nil {
		p.Err = queryError(err)
		return
	}
	t := chart.Table{Columns: cols, Numeric: map[int]bool{2: true}}
	for _, r := range rows {
		h := eventsLink(win.Start, win.End, keyA, r[0], keyB, r[1])
		t.Rows = append(t.Rows, []chart.Cell{{Text: orNone(r[0]), Href: h}, {Text: orNone(r[1]), Href: h}, {Text: r[2], Href: h}})
	}
	if len(t.Rows) == 0 {
		p.Empty = empty
		return
	}
	p.Chart = template.HTML(t.HTML())
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// kmsPanel lists the KMS key events, each linked to its detail page.
func (d *dashSrc) kmsPanel(ctx context.Context, win window, p *panel) {
	src := d.from(kmsCond, "eventTime", userExpr, "eventName", keyIDExpr, "recipientAccountId", "eventID", "coalesce(errorCode, '')")
	q := fmt.Sprintf(`SELECT %s FROM %s WHERE %s AND (%s) ORDER BY eventTime DESC, eventID LIMIT 20`, joinCols(src.exprs), src.table, timeCondOn(src.timeCol, win), src.cond)
	rows, err := d.run(ctx, win, src, q)
	if err != nil {
		p.Err = queryError(err)
		return
	}
	t := chart.Table{Columns: []string{"Time (UTC)", "User", "Event", "Key", "Result"}}
	for _, r := range rows {
		detail := "/events/" + r[4] + "/" + r[5]
		result := "succeeded"
		if r[6] != "" {
			result = r[6]
		}
		key := r[3]
		if i := strings.LastIndexByte(key, '/'); i >= 0 {
			key = key[i+1:]
		}
		t.Rows = append(t.Rows, []chart.Cell{{Text: strings.TrimSuffix(r[0], ".000"), Href: detail}, {Text: orNone(r[1]), Href: eventsLink(win.Start, win.End, "Username", r[1], "EventSource", "kms.amazonaws.com")}, {Text: r[2], Href: eventsLink(win.Start, win.End, "EventName", r[2])}, {Text: orNone(key)}, {Text: result}})
	}
	if len(t.Rows) == 0 {
		p.Empty = "No KMS key was disabled or scheduled for deletion in this range."
		return
	}
	p.Chart = template.HTML(t.HTML())
}

// changePanels fills one panel per CIS change control: changes per user
// and event name, from one query over every control's event names.
func (d *dashSrc) changePanels(ctx context.Context, win window, bench cis.Benchmark, out []panel) {
	type ctl struct {
		sources, names []string
	}
	ctls := make([]ctl, len(cisChangePanels))
	for i, cp := range cisChangePanels {
		control, _ := bench.Find(cp.Key)
		src, names := control.EventNames()
		ctls[i] = ctl{src, names}
		out[i] = panel{ID: cp.Key, Title: cp.Title + " by user", Help: "CIS " + control.ID + ": " + strings.Join(names, ", ") + sourceNote(src) + "."}
	}
	src := d.from(changeCond, userExpr, "eventName", "eventSource")
	q := fmt.Sprintf(`SELECT %s, %s AS n FROM %s WHERE %s AND (%s) GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2, 3`,
		joinCols(src.exprs), src.count, src.table, timeCondOn(src.timeCol, win), src.cond)
	rows, err := d.run(ctx, win, src, q)
	for i, cp := range cisChangePanels {
		p := &out[i]
		if err != nil {
			p.Err = queryError(err)
			continue
		}
		t := chart.Table{Columns: []string{"User", "Event", "Changes"}, Numeric: map[int]bool{2: true}}
		total := 0.0
		for _, r := range rows {
			if !slices.Contains(ctls[i].names, r[1]) || len(ctls[i].sources) > 0 && !slices.Contains(ctls[i].sources, r[2]) {
				continue
			}
			total += num(r[3])
			if len(t.Rows) < 8 {
				h := eventsLink(win.Start, win.End, "Username", r[0], "EventName", r[1])
				t.Rows = append(t.Rows, []chart.Cell{{Text: orNone(r[0]), Href: h}, {Text: r[1], Href: h}, {Text: r[3], Href: h}})
			}
		}
		if len(t.Rows) == 0 {
			p.Empty = "No " + lowerFirst(cp.Title) + " in this range."
			continue
		}
		p.Help += " " + chart.FormatValue(total) + " in the range."
		p.Chart = template.HTML(t.HTML())
	}
}

// cisConds are the change panels' condition (every change control's
// event names) and the KMS panel's, from the default benchmark: the
// events internal/rollup keeps with flags change and kms.
func cisConds() (change, kms string) {
	bench, _ := cis.Lookup(cis.DefaultVersion)
	var all []string
	for _, k := range rollup.ChangeControls {
		c, _ := bench.Find(k)
		_, names := c.EventNames()
		all = append(all, names...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	c, _ := bench.Find(rollup.KMSControl)
	sources, names := c.EventNames()
	return "eventName IN " + sqlList(all), namesCond(names, sources)
}

// lowerFirst lowers a title's first letter unless it starts an acronym
// ("Route table changes" → "route table changes", "VPC changes" stays).
func lowerFirst(s string) string {
	word, _, _ := strings.Cut(s, " ")
	if len(word) > 1 && strings.Trim(word[1:], "abcdefghijklmnopqrstuvwxyz") == "" {
		return strings.ToLower(s[:1]) + s[1:]
	}
	return s
}

func sourceNote(src []string) string {
	if len(src) == 0 {
		return ""
	}
	return " (from " + strings.Join(src, ", ") + ")"
}

// locationPanel places the failed logins' source addresses with the
// GeoIP database and counts them by location.
func (d *dashSrc) locationPanel(ctx context.Context, win window, p *panel) {
	db := d.c.cfg.Dashboards.GeoIP
	if db == nil {
		p.Empty = "No GeoIP database configured — set console.geoip_database to a MaxMind .mmdb file."
		return
	}
	rows, err := d.topRows(ctx, win, "sourceIPAddress", failedLoginCond, 1000)
	if err != nil {
		p.Err = queryError(err)
		return
	}
	type loc struct {
		name string
		n    float64
		ips  []string
	}
	byName := map[string]*loc{}
	var locs []*loc
	for _, r := range rows {
		name := db.Lookup(r[0]).String()
		l := byName[name]
		if l == nil {
			l = &loc{name: name}
			byName[name] = l
			locs = append(locs, l)
		}
		l.n += num(r[1])
		l.ips = append(l.ips, r[0])
	}
	if len(locs) == 0 {
		p.Empty = "No failed console logins in this range."
		return
	}
	sort.SliceStable(locs, func(i, j int) bool { return locs[i].n > locs[j].n })
	t := chart.Table{Columns: []string{"Location", "Failed logins", "Source IP addresses"}, Numeric: map[int]bool{1: true}}
	var items []chart.Item
	for _, l := range locs[:min(len(locs), 10)] {
		ips := l.ips
		more := ""
		if len(ips) > 3 {
			more = fmt.Sprintf(" and %d more", len(ips)-3)
			ips = ips[:3]
		}
		href := ""
		if len(l.ips) == 1 {
			href = eventsLink(win.Start, win.End, "EventName", "ConsoleLogin", "errors", "1", "SourceIPAddress", l.ips[0])
		}
		items = append(items, chart.Item{Label: l.name, Value: l.n, Href: href})
		row := []chart.Cell{{Text: l.name}, {Text: chart.FormatValue(l.n)}, {Text: strings.Join(ips, ", ") + more}}
		if len(ips) == 1 {
			row[2].Href = href
		}
		t.Rows = append(t.Rows, row)
	}
	p.Chart = template.HTML(chart.TopN{Label: "Failed console logins by location", Items: items, Unit: "failed logins"}.SVG() + t.HTML())
}
