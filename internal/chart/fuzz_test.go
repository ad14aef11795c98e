package chart_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/chart"
)

// FuzzCharts draws every chart from arbitrary text and numbers: the
// output is always well-formed, deterministic, and never carries the
// text unescaped.
func FuzzCharts(f *testing.F) {
	f.Add("Failed logins", "alice", "/events?x=1", 3.0, 12.0, int64(3600))
	f.Add(`<b>"&'`, "\x00\xff", "javascript:x", -1.0, 1e300, int64(0))
	f.Fuzz(func(t *testing.T, label, name, href string, a, b float64, step int64) {
		ts := chart.TimeSeries{Label: label, Start: start, Step: time.Duration(step) * time.Second % (400 * 24 * time.Hour),
			Series:       []chart.Series{{Name: name, Values: []float64{a, b}, Hrefs: []string{href, href}}, {Name: label, Values: []float64{b}}},
			HasThreshold: true, Threshold: a, ThresholdLabel: name, Marked: []bool{true}, MarkedLabel: label}
		items := []chart.Item{{Label: name, Value: a, Href: href}, {Label: label, Value: b}}
		for _, s := range []string{
			ts.SVG(),
			chart.TopN{Label: label, Items: items}.SVG(),
			chart.Pie{Label: label, Items: items, Donut: true}.SVG(),
			chart.Table{Label: label, Columns: []string{name}, Rows: [][]chart.Cell{{{Text: name, Href: href}}}}.HTML(),
		} {
			if strings.Contains(name, "<") && strings.Contains(s, name) && name != "<" {
				t.Fatalf("text %q drawn unescaped", name)
			}
			wellFormedFuzz(t, s)
		}
		if ts.SVG() != ts.SVG() {
			t.Fatal("not deterministic")
		}
	})
}

func wellFormedFuzz(t *testing.T, s string) {
	t.Helper()
	if !strings.HasPrefix(s, "<") {
		t.Fatalf("output does not start with an element: %q", s)
	}
	wellFormed(t, s)
}
