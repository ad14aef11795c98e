// Package metrics keeps opentrail's counters, gauges and histograms and
// writes them in the Prometheus text exposition format (version 0.0.4).
//
// All types are safe for concurrent use. A Registry's zero value is not
// usable; create one with NewRegistry.
package metrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds named metrics and writes them out in name order.
type Registry struct {
	mu      sync.Mutex
	metrics map[string]writer
}

type writer interface {
	write(w io.Writer, name string)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{metrics: make(map[string]writer)} }

func (r *Registry) register(name string, m writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.metrics[name]; ok {
		panic("metrics: duplicate metric " + name)
	}
	r.metrics[name] = m
}

// Write writes every metric in the text exposition format.
func (r *Registry) Write(w io.Writer) {
	r.mu.Lock()
	names := make([]string, 0, len(r.metrics))
	for n := range r.metrics {
		names = append(names, n)
	}
	ms := make(map[string]writer, len(r.metrics))
	for k, v := range r.metrics {
		ms[k] = v
	}
	r.mu.Unlock()
	sort.Strings(names)
	for _, n := range names {
		ms[n].write(w, n)
	}
}

// Counter is a monotonically increasing count.
type Counter struct {
	help string
	v    atomic.Uint64
}

// NewCounter registers a counter.
func (r *Registry) NewCounter(name, help string) *Counter {
	c := &Counter{help: help}
	r.register(name, c)
	return c
}

// Add increases the counter by n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Value returns the current count.
func (c *Counter) Value() uint64 { return c.v.Load() }

func (c *Counter) write(w io.Writer, name string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, c.help, name, name, c.v.Load())
}

// CounterVec is a family of counters told apart by one label. The number
// of series is bounded whatever values callers pass, so that a label can
// never grow without limit: see [Registry.NewCounterVec].
type CounterVec struct {
	help, label string
	closed      bool // only the values given at registration (and Other)
	mu          sync.Mutex
	vs          map[string]*atomic.Uint64
}

// Other is the label value that counts what a [CounterVec] does not keep a
// series of.
const Other = "other"

// MaxSeries is how many label values an open [CounterVec] keeps.
const MaxSeries = 256

// NewCounterVec registers a labelled counter family. With values, the
// family is closed: exactly those series exist, from the start at 0, and
// Add with any other value counts under [Other]. Without values, series are
// added as values come, up to [MaxSeries]; later values count under
// [Other].
func (r *Registry) NewCounterVec(name, help, label string, values ...string) *CounterVec {
	c := &CounterVec{help: help, label: label, vs: make(map[string]*atomic.Uint64), closed: len(values) > 0}
	for _, v := range values {
		c.vs[v] = new(atomic.Uint64)
	}
	r.register(name, c)
	return c
}

// Add increases the counter for value by n.
func (c *CounterVec) Add(value string, n uint64) {
	c.mu.Lock()
	v, ok := c.vs[value]
	if !ok {
		if c.closed || len(c.vs) >= MaxSeries {
			value = Other
			v = c.vs[Other]
		}
		if v == nil {
			v = new(atomic.Uint64)
			c.vs[value] = v
		}
	}
	c.mu.Unlock()
	v.Add(n)
}

func (c *CounterVec) write(w io.Writer, name string) {
	c.mu.Lock()
	keys := make([]string, 0, len(c.vs))
	for k := range c.vs {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	sort.Strings(keys)
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", name, c.help, name)
	for _, k := range keys {
		c.mu.Lock()
		v := c.vs[k].Load()
		c.mu.Unlock()
		fmt.Fprintf(w, "%s{%s=%s} %d\n", name, c.label, strconv.Quote(k), v)
	}
}

// GaugeFunc reports a value computed when metrics are scraped.
type GaugeFunc struct {
	help string
	fn   func() float64
}

// NewGaugeFunc registers a gauge whose value fn computes at scrape time.
func (r *Registry) NewGaugeFunc(name, help string, fn func() float64) {
	r.register(name, &GaugeFunc{help: help, fn: fn})
}

func (g *GaugeFunc) write(w io.Writer, name string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, g.help, name, name, formatFloat(g.fn()))
}

// Histogram counts observations into cumulative buckets.
type Histogram struct {
	help    string
	bounds  []float64
	mu      sync.Mutex
	counts  []uint64
	sum     float64
	samples uint64
}

// NewHistogram registers a histogram with the given upper bounds (sorted).
func (r *Registry) NewHistogram(name, help string, bounds []float64) *Histogram {
	h := &Histogram{help: help, bounds: bounds, counts: make([]uint64, len(bounds))}
	r.register(name, h)
	return h
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, b := range h.bounds {
		if v <= b {
			h.counts[i]++
		}
	}
	h.sum += v
	h.samples++
}

func (h *Histogram) write(w io.Writer, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, h.help, name)
	for i, b := range h.bounds {
		fmt.Fprintf(w, "%s_bucket{le=%q} %d\n", name, formatFloat(b), h.counts[i])
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", name, h.samples, name, formatFloat(h.sum), name, h.samples)
}

// LatencyBuckets are upper bounds in seconds from 100 µs to 10 s.
var LatencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func formatFloat(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if strings.ContainsAny(s, "e") {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return s
}
