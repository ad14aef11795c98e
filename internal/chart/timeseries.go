package chart

import (
	"fmt"
	"strings"
	"time"
)

// Kind is how a time series is drawn.
type Kind int

const (
	// Bars stacks each bucket's series values in one bar.
	Bars Kind = iota
	// Lines draws each series as a line through its buckets' values,
	// with a point (and link) per bucket.
	Lines
)

// Series is one named sequence of values, one per bucket.
type Series struct {
	Name string
	// Color is a CSS colour ("#0a5dc2"); "" takes the palette's next.
	Color  string
	Values []float64
	// Hrefs, when set, link bucket i's mark to Hrefs[i] ("" for none).
	Hrefs []string
}

// TimeSeries is a chart of values in equal time buckets: bucket i covers
// [Start + i·Step, Start + (i+1)·Step). Every series has one value per
// bucket (missing values are 0; negatives, NaN and infinities are drawn
// as 0).
type TimeSeries struct {
	// Label names the chart for assistive technology ("Failed console
	// logins per hour").
	Label  string
	Start  time.Time
	Step   time.Duration
	Series []Series
	Kind   Kind
	// Unit follows values in marks' titles ("events", "%").
	Unit string
	// Threshold, when HasThreshold, draws a dashed line at that value
	// labelled ThresholdLabel.
	Threshold      float64
	HasThreshold   bool
	ThresholdLabel string
	// Marked buckets are highlighted behind their marks (outliers), with
	// MarkedLabel in their titles.
	Marked      []bool
	MarkedLabel string
	// Width and Height are the drawing's size in pixels (default 640 by
	// 220); it scales to its container.
	Width, Height int
}

// Buckets is the number of buckets: the longest series'.
func (t TimeSeries) Buckets() int {
	n := 0
	for _, s := range t.Series {
		n = max(n, len(s.Values))
	}
	return n
}

const (
	padLeft   = 52
	padRight  = 16
	padTop    = 14
	padBottom = 26
	legendRow = 20
)

// SVG draws the chart.
func (t TimeSeries) SVG() string {
	w, h := t.Width, t.Height
	if w <= 0 {
		w = 640
	}
	if h <= 0 {
		h = 220
	}
	n := t.Buckets()
	step := t.Step
	if step <= 0 {
		step = time.Hour
	}
	legend := len(t.Series) > 1
	total := h
	if legend {
		total += legendRow
	}
	plotW := float64(w - padLeft - padRight)
	plotH := float64(h - padTop - padBottom)

	// The axis runs to the largest stacked bar (or line point), and to
	// the threshold so its line is always on the chart.
	top := 0.0
	for i := 0; i < n; i++ {
		sum := 0.0
		for _, s := range t.Series {
			v := value(s.Values, i)
			if t.Kind == Lines {
				top = max(top, v)
			} else {
				sum += v
			}
		}
		top = max(top, sum)
	}
	if t.HasThreshold {
		top = max(top, clean(t.Threshold))
	}
	yMax, yStep := niceMax(top, 4)
	y := func(v float64) float64 { return float64(padTop) + plotH - v/yMax*plotH }
	slot := plotW / float64(max(n, 1))
	x := func(i int) float64 { return float64(padLeft) + float64(i)*slot }

	var b strings.Builder
	svgOpen(&b, w, total, t.Label)

	// Gridlines and value labels.
	b.WriteString(`<g class="axis y" fill="#5f6b7a" stroke="#e4e8ee">`)
	for v := 0.0; v <= yMax+yStep/2; v += yStep {
		yy := y(v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%s" y2="%s"/>`, padLeft, w-padRight, num(yy), num(yy))
		fmt.Fprintf(&b, `<text x="%d" y="%s" text-anchor="end" stroke="none">%s</text>`, padLeft-6, num(yy+4), esc(FormatValue(v)))
	}
	b.WriteString(`</g>`)

	// Highlighted (outlier) buckets, behind the marks.
	for i := 0; i < n && i < len(t.Marked); i++ {
		if t.Marked[i] {
			fmt.Fprintf(&b, `<rect class="marked" x="%s" y="%d" width="%s" height="%s" fill="#fde2df"><title>%s</title></rect>`,
				num(x(i)), padTop, num(slot), num(plotH), esc(t.bucketText(i, step)+": "+t.MarkedLabel))
		}
	}

	// Marks.
	if t.Kind == Lines {
		t.lines(&b, n, step, x, y, slot)
	} else {
		t.bars(&b, n, step, x, y, slot)
	}

	// Threshold.
	if t.HasThreshold {
		yy := y(clean(t.Threshold))
		fmt.Fprintf(&b, `<g class="threshold"><line x1="%d" x2="%d" y1="%s" y2="%s" stroke="#b3261e" stroke-width="1.5" stroke-dasharray="6 4"/>`, padLeft, w-padRight, num(yy), num(yy))
		lbl := t.ThresholdLabel
		if lbl == "" {
			lbl = "threshold " + FormatValue(t.Threshold)
		}
		// The label sits at the left, where the bars rarely reach, on a
		// white ground so gridlines do not cross it.
		fmt.Fprintf(&b, `<text x="%d" y="%s" fill="#b3261e" stroke="#fff" stroke-width="3" paint-order="stroke">%s</text></g>`, padLeft+6, num(yy-5), esc(lbl))
	}

	// Time axis.
	base := float64(padTop) + plotH
	fmt.Fprintf(&b, `<g class="axis x" fill="#5f6b7a"><line x1="%d" x2="%d" y1="%s" y2="%s" stroke="#aab4c2"/>`, padLeft, w-padRight, num(base), num(base))
	end := t.Start.Add(time.Duration(n) * step)
	for _, tk := range TimeTicks(t.Start, end, 7) {
		xx := float64(padLeft) + float64(tk.At.Sub(t.Start))/float64(step)*slot
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="#aab4c2"/>`, num(xx), num(xx), num(base), num(base+4))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`, num(xx), num(base+17), esc(tk.Label))
	}
	b.WriteString(`</g>`)

	if legend {
		drawLegend(&b, t.Series, padLeft, h+6)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func value(vs []float64, i int) float64 {
	if i < len(vs) {
		return clean(vs[i])
	}
	return 0
}

func href(hs []string, i int) string {
	if i < len(hs) {
		return hs[i]
	}
	return ""
}

// bucketText names bucket i's time range for titles.
func (t TimeSeries) bucketText(i int, step time.Duration) string {
	from := t.Start.Add(time.Duration(i) * step).UTC()
	to := from.Add(step)
	layout := "2006-01-02 15:04"
	if from.Format("2006-01-02") == to.Format("2006-01-02") || to.Format("15:04") == "00:00" && step <= 24*time.Hour {
		return from.Format(layout) + "–" + to.Format("15:04") + " UTC"
	}
	return from.Format(layout) + " – " + to.Format(layout) + " UTC"
}

func (t TimeSeries) title(s Series, v float64, i int, step time.Duration) string {
	txt := t.bucketText(i, step) + ": " + FormatValue(v)
	if t.Unit != "" {
		txt += " " + t.Unit
	}
	if s.Name != "" {
		txt = s.Name + ", " + txt
	}
	if i < len(t.Marked) && t.Marked[i] && t.MarkedLabel != "" {
		txt += " (" + t.MarkedLabel + ")"
	}
	return txt
}

func (t TimeSeries) bars(b *strings.Builder, n int, step time.Duration, x func(int) float64, y func(float64) float64, slot float64) {
	gap := min(slot*0.15, 4)
	if slot < 3 {
		gap = 0
	}
	b.WriteString(`<g class="bars">`)
	for i := 0; i < n; i++ {
		acc := 0.0
		for si, s := range t.Series {
			v := value(s.Values, i)
			if v == 0 {
				continue
			}
			y0, y1 := y(acc), y(acc+v)
			acc += v
			c := colour(s.Color, si)
			link(b, href(s.Hrefs, i), func() {
				fmt.Fprintf(b, `<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>`,
					num(x(i)+gap/2), num(y1), num(max(slot-gap, 1)), num(max(y0-y1, 0.5)), c, esc(t.title(s, v, i, step)))
			})
		}
	}
	b.WriteString(`</g>`)
}

func (t TimeSeries) lines(b *strings.Builder, n int, step time.Duration, x func(int) float64, y func(float64) float64, slot float64) {
	b.WriteString(`<g class="lines">`)
	for si, s := range t.Series {
		c := colour(s.Color, si)
		var pts []string
		for i := 0; i < n; i++ {
			pts = append(pts, num(x(i)+slot/2)+","+num(y(value(s.Values, i))))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, c, strings.Join(pts, " "))
		r := 3.0
		if slot < 8 {
			r = 2
		}
		for i := 0; i < n; i++ {
			v := value(s.Values, i)
			link(b, href(s.Hrefs, i), func() {
				b.WriteString(`<g class="point">`)
				if len(t.Series) == 1 {
					// A tall transparent target makes the point easy to hit.
					fmt.Fprintf(b, `<rect x="%s" y="%d" width="%s" height="%s" fill="transparent"/>`, num(x(i)), padTop, num(slot), num(y(0)-padTop))
				}
				fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="%s" fill="%s"/><title>%s</title></g>`,
					num(x(i)+slot/2), num(y(v)), num(r), c, esc(t.title(s, v, i, step)))
			})
		}
	}
	b.WriteString(`</g>`)
}

// drawLegend draws one swatch and name per series in a row at (x0, y0).
func drawLegend(b *strings.Builder, series []Series, x0, y0 int) {
	b.WriteString(`<g class="legend" fill="#16191f">`)
	x := x0
	for i, s := range series {
		name := truncate(s.Name, 28)
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" rx="2" fill="%s"/><text x="%d" y="%d">%s</text>`, x, y0, colour(s.Color, i), x+14, y0+9, esc(name))
		x += 14 + 7*len([]rune(name)) + 18
	}
	b.WriteString(`</g>`)
}
