package chart_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/chart"
)

func ExampleTimeTicks() {
	start := time.Date(2026, 12, 5, 8, 20, 0, 0, time.UTC)
	for _, tk := range chart.TimeTicks(start, start.Add(6*time.Hour), 7) {
		fmt.Println(tk.Label)
	}
	// Output:
	// 09:00
	// 10:00
	// 11:00
	// 12:00
	// 13:00
	// 14:00
}

func ExampleTimeTicks_days() {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tk := range chart.TimeTicks(start, start.Add(7*24*time.Hour), 7) {
		fmt.Print(tk.Label, "; ")
	}
	// Output:
	// Dec 1; Dec 3; Dec 5; Dec 7;
}

func ExampleFormatValue() {
	for _, v := range []float64{0, 7, 1234, 12345, 2.5e6, 0.125} {
		fmt.Println(chart.FormatValue(v))
	}
	// Output:
	// 0
	// 7
	// 1234
	// 12.3k
	// 2.5M
	// 0.12
}

// A spike bar links to the events behind it and says what it counts.
func ExampleTimeSeries() {
	start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	ts := chart.TimeSeries{
		Label: "Failed console logins per hour",
		Start: start, Step: time.Hour,
		Unit: "failed logins",
		Series: []chart.Series{{
			Name:   "Failed",
			Values: []float64{0, 12, 1},
			Hrefs:  []string{"", "/events?EventName=ConsoleLogin&errors=1&start=2026-12-05T11:00:00Z&end=2026-12-05T12:00:00Z", ""},
		}},
	}
	svg := ts.SVG()
	i := strings.Index(svg, `<a href=`)
	fmt.Println(svg[i : strings.Index(svg[i:], "</a>")+i+4])
	// Output:
	// <a href="/events?EventName=ConsoleLogin&amp;errors=1&amp;start=2026-12-05T11:00:00Z&amp;end=2026-12-05T12:00:00Z"><rect class="bar" x="244.7" y="14" width="186.7" height="180" fill="#0a5dc2"><title>Failed, 2026-12-05 11:00–12:00 UTC: 12 failed logins</title></rect></a>
}

func ExampleTable() {
	t := chart.Table{
		Columns: []string{"User", "Logins"},
		Rows:    [][]chart.Cell{{{Text: "alice", Href: "/events?Username=alice"}, {Text: "3"}}},
		Numeric: map[int]bool{1: true},
	}
	fmt.Println(t.HTML())
	// Output:
	// <div class="table-wrap"><table class="chart-table"><thead><tr><th scope="col">User</th><th scope="col" class="num">Logins</th></tr></thead><tbody><tr><td><a href="/events?Username=alice">alice</a></td><td class="num">3</td></tr></tbody></table></div>
}
