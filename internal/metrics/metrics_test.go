package metrics_test

import (
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
