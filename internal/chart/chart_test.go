package chart_test

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/chart"
)

// wellFormed fails unless s parses as XML from start to end.
func wellFormed(t testing.TB, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, s)
		}
	}
}

var start = time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)

func TestTimeSeriesStackedAndAccessible(t *testing.T) {
	ts := chart.TimeSeries{
		Label: "Events by category", Start: start, Step: time.Hour, Unit: "events",
		Series: []chart.Series{
			{Name: "Management", Values: []float64{3, 0, 5}, Hrefs: []string{"/events?category=management&start=a", "", ""}},
			{Name: "Data", Values: []float64{1, 2}},
		},
		HasThreshold: true, Threshold: 4, ThresholdLabel: "mean + 3σ",
		Marked: []bool{false, false, true}, MarkedLabel: "outlier",
	}
	svg := ts.SVG()
	wellFormed(t, svg)
	for _, want := range []string{
		`role="img" aria-label="Events by category"`,
		`<title>Management, 2026-12-05 00:00–01:00 UTC: 3 events</title>`,
		`<title>Data, 2026-12-05 01:00–02:00 UTC: 2 events</title>`,
		`<title>Management, 2026-12-05 02:00–03:00 UTC: 5 events (outlier)</title>`,
		`<a href="/events?category=management&amp;start=a">`,
		`stroke-dasharray="6 4"`, `mean + 3σ`,
		`class="marked"`,
		`>Management</text>`, `>Data</text>`, // the legend
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("missing %q in\n%s", want, svg)
		}
	}
	// Zero values draw no mark.
	if strings.Contains(svg, "01:00–02:00 UTC: 0") {
		t.Errorf("a zero value was drawn:\n%s", svg)
	}
	if svg != ts.SVG() {
		t.Error("two drawings of the same chart differ")
	}
	if got := strings.Count(svg, `<a href=`); got != 1 {
		t.Errorf("%d links, want 1", got)
	}
}

func TestTimeSeriesLines(t *testing.T) {
	ts := chart.TimeSeries{Label: "Error rate", Start: start, Step: 15 * time.Minute, Kind: chart.Lines, Unit: "%",
		Series: []chart.Series{{Name: "errors", Values: []float64{0, 50, 12.5}, Hrefs: []string{"/a", "/b", "/c"}}}}
	svg := ts.SVG()
	wellFormed(t, svg)
	if !strings.Contains(svg, "<polyline") || strings.Count(svg, "<circle") != 3 || strings.Count(svg, `<a href=`) != 3 {
		t.Errorf("want a line with 3 linked points:\n%s", svg)
	}
	if !strings.Contains(svg, "00:15–00:30 UTC: 50 %") {
		t.Errorf("point title missing:\n%s", svg)
	}
}

func TestEscaping(t *testing.T) {
	evil := `<script>alert("x")</script>&'`
	outs := []string{
		chart.TimeSeries{Label: evil, Start: start, Step: time.Hour, Series: []chart.Series{{Name: evil, Color: `red" onload="x`, Values: []float64{1}, Hrefs: []string{`/e?a="><b`}}, {Name: "b"}}}.SVG(),
		chart.TopN{Label: evil, Items: []chart.Item{{Label: evil, Value: 3, Href: "/e?x=<y>"}}}.SVG(),
		chart.Pie{Label: evil, Donut: true, Unit: evil, Items: []chart.Item{{Label: evil, Value: 1}, {Label: "b", Value: 2}}}.SVG(),
		chart.Table{Label: evil, Columns: []string{evil}, Rows: [][]chart.Cell{{{Text: evil, Href: "/x?<"}}}}.HTML(),
	}
	for _, s := range outs {
		wellFormed(t, s)
		if strings.Contains(s, "<script") || strings.Contains(s, `onload="`) || strings.Contains(s, `"><b`) {
			t.Errorf("unescaped text:\n%s", s)
		}
	}
}

func TestUnsafeLinksAreDropped(t *testing.T) {
	for _, h := range []string{"javascript:alert(1)", "JAVASCRIPT:x", "data:text/html,x", "//evil.example/x", " javascript:x"} {
		if chart.SafeHref(h) {
			t.Errorf("SafeHref(%q) = true", h)
		}
		svg := chart.TopN{Items: []chart.Item{{Label: "x", Value: 1, Href: h}}}.SVG()
		if strings.Contains(svg, "<a ") {
			t.Errorf("link %q drawn:\n%s", h, svg)
		}
	}
	for _, h := range []string{"/events?x=1", "?range=1h", "https://example.com/"} {
		if !chart.SafeHref(h) {
			t.Errorf("SafeHref(%q) = false", h)
		}
	}
}

func TestTopN(t *testing.T) {
	svg := chart.TopN{Label: "Top users", Unit: "events", Items: []chart.Item{
		{Label: "alice", Value: 40, Href: "/events?Username=alice"},
		{Label: strings.Repeat("a-very-long-principal-name", 3), Value: 4},
	}}.SVG()
	wellFormed(t, svg)
	for _, want := range []string{`<title>alice: 40 events</title>`, `<a href="/events?Username=alice">`, `…</text>`, `>40</text>`} {
		if !strings.Contains(svg, want) {
			t.Errorf("missing %q:\n%s", want, svg)
		}
	}
}

// TestTopNLabelsFit: a label of wide capitals, which a count of
// characters let run off the chart's left edge, is shortened to fit its
// column; the full label stays in the row's title; a short one is kept.
func TestTopNLabelsFit(t *testing.T) {
	const long = "HIDDEN_DUE_TO_SECURITY_REASONS"
	svg := chart.TopN{Label: "Failed console logins by user", Items: []chart.Item{{Label: long, Value: 9}, {Label: "root", Value: 2}}}.SVG()
	wellFormed(t, svg)
	if !strings.Contains(svg, "<title>"+long+": 9</title>") || !strings.Contains(svg, ">root</text>") {
		t.Fatalf("full label or short label missing:\n%s", svg)
	}
	i := strings.Index(svg, `text-anchor="end">HIDDEN`)
	if i < 0 {
		t.Fatalf("no label text:\n%s", svg)
	}
	shown := svg[i+len(`text-anchor="end">`):]
	shown = shown[:strings.Index(shown, "</text>")]
	if !strings.HasSuffix(shown, "…") || len([]rune(shown)) > 22 {
		t.Errorf("label drawn as %q: want it shortened to fit 178 px of capitals (at most about 21 of them)", shown)
	}
}

func TestPie(t *testing.T) {
	one := chart.Pie{Items: []chart.Item{{Label: "all", Value: 5}}}.SVG()
	wellFormed(t, one)
	if !strings.Contains(one, `class="slice"`) || !strings.Contains(one, "all: 5 (100%)") {
		t.Errorf("a single item should fill the pie:\n%s", one)
	}
	svg := chart.Pie{Donut: true, Unit: "events", Items: []chart.Item{{Label: "a", Value: 3, Href: "/a"}, {Label: "b", Value: 1}, {Label: "zero", Value: 0}}}.SVG()
	wellFormed(t, svg)
	if strings.Count(svg, `class="slice"`) != 2 || !strings.Contains(svg, "a: 3 events (75%)") || !strings.Contains(svg, `>4</text>`) {
		t.Errorf("want two slices, shares and the total:\n%s", svg)
	}
	empty := chart.Pie{}.SVG()
	wellFormed(t, empty)
}

func TestBadNumbers(t *testing.T) {
	svg := chart.TimeSeries{Start: start, Step: time.Minute, Series: []chart.Series{{Values: []float64{math.NaN(), math.Inf(1), -3, 2}}}}.SVG()
	wellFormed(t, svg)
	if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
		t.Errorf("bad numbers leaked:\n%s", svg)
	}
}

func TestTimeTicksFit(t *testing.T) {
	for _, span := range []time.Duration{time.Minute, time.Hour, 3 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 400 * 24 * time.Hour} {
		s := time.Date(2026, 12, 5, 8, 17, 23, 0, time.UTC)
		ticks := chart.TimeTicks(s, s.Add(span), 7)
		if len(ticks) > 7 || span >= time.Hour && len(ticks) < 2 {
			t.Errorf("span %v: %d ticks %v", span, len(ticks), ticks)
		}
		for _, tk := range ticks {
			if tk.At.Before(s) || tk.At.After(s.Add(span)) {
				t.Errorf("span %v: tick %v outside", span, tk.At)
			}
		}
	}
}
