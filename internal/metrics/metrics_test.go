package metrics_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/metrics"
)

func TestExposition(t *testing.T) {
	r := metrics.NewRegistry()
	c := r.NewCounter("x_total", "Things.")
	c.Add(3)
	v := r.NewCounterVec("y_total", "By kind.", "kind")
	v.Add("b", 2)
	v.Add("a", 1)
	h := r.NewHistogram("z_seconds", "Latency.", []float64{0.001, 0.1})
	h.Observe(0.0005)
	h.Observe(0.05)
	h.Observe(5)
	r.NewGaugeFunc("g", "Gauge.", func() float64 { return 1.5 })
	var b strings.Builder
	r.Write(&b)
	want := `# HELP g Gauge.
# TYPE g gauge
g 1.5
# HELP x_total Things.
# TYPE x_total counter
x_total 3
# HELP y_total By kind.
# TYPE y_total counter
y_total{kind="a"} 1
y_total{kind="b"} 2
# HELP z_seconds Latency.
# TYPE z_seconds histogram
z_seconds_bucket{le="0.001"} 1
z_seconds_bucket{le="0.1"} 2
z_seconds_bucket{le="+Inf"} 3
z_seconds_sum 5.0505
z_seconds_count 3
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestCounterVecBounded: label values from callers cannot grow the
// exposition without limit.
func TestCounterVecBounded(t *testing.T) {
	r := metrics.NewRegistry()
	closed := r.NewCounterVec("closed_total", "Closed.", "service", "cloudtrail", "s3")
	open := r.NewCounterVec("open_total", "Open.", "source")
	for i := range 1000 {
		closed.Add(fmt.Sprintf("bogus-%d", i), 1)
		open.Add(fmt.Sprintf("v%04d", i), 1)
	}
	closed.Add("s3", 2)
	var b strings.Builder
	r.Write(&b)
	out := b.String()
	for _, want := range []string{
		`closed_total{service="cloudtrail"} 0`, `closed_total{service="s3"} 2`, `closed_total{service="other"} 1000`,
		`open_total{source="v0000"} 1`, fmt.Sprintf(`open_total{source="other"} %d`, 1000-metrics.MaxSeries),
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %s in\n%.600s", want, out)
		}
	}
	if n := strings.Count(out, "\nclosed_total{"); n != 3 {
		t.Errorf("closed family has %d series, want 3", n)
	}
	if n := strings.Count(out, "\nopen_total{"); n != metrics.MaxSeries+1 {
		t.Errorf("open family has %d series, want %d", n, metrics.MaxSeries+1)
	}
}
