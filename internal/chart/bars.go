package chart

import (
	"fmt"
	"math"
	"strings"
)

// Item is one labelled value of a top-N chart, a pie or a table row.
type Item struct {
	Label string
	Value float64
	// Href, when set, links the item's mark to it.
	Href string
	// Color overrides the palette for pie slices.
	Color string
}

// TopN is a horizontal bar chart: one row per item in the order given,
// label on the left, value on the right.
type TopN struct {
	Label string
	Items []Item
	// Unit follows values in marks' titles.
	Unit string
	// Color of the bars ("" is the palette's first).
	Color string
	// Width in pixels (default 520); the height follows the rows.
	Width int
}

// SVG draws the chart.
func (t TopN) SVG() string {
	w := t.Width
	if w <= 0 {
		w = 520
	}
	const row, labelW, valueW = 26, 190, 56
	h := max(len(t.Items), 1)*row + 4
	top := 0.0
	for _, it := range t.Items {
		top = max(top, clean(it.Value))
	}
	if top == 0 {
		top = 1
	}
	barW := float64(w - labelW - valueW - 8)
	c := colour(t.Color, 0)
	var b strings.Builder
	svgOpen(&b, w, h, t.Label)
	b.WriteString(`<g class="topn" fill="#16191f">`)
	for i, it := range t.Items {
		v := clean(it.Value)
		y := i*row + 2
		txt := it.Label + ": " + FormatValue(v)
		if t.Unit != "" {
			txt += " " + t.Unit
		}
		link(&b, it.Href, func() {
			fmt.Fprintf(&b, `<g class="row"><title>%s</title><rect x="0" y="%d" width="%d" height="%d" fill="transparent"/>`, esc(txt), y, w, row-2)
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, labelW-8, y+16, esc(fitWidth(it.Label, labelW-12)))
			fmt.Fprintf(&b, `<rect class="bar" x="%d" y="%d" width="%s" height="%d" rx="2" fill="%s"/>`, labelW, y+3, num(math.Max(v/top*barW, 1)), row-8, c)
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#5f6b7a">%s</text></g>`, w-2, y+16, esc(FormatValue(v)))
		})
	}
	b.WriteString(`</g></svg>`)
	return b.String()
}

// Pie is a pie chart, or a donut when Donut is set (its centre shows the
// total), with a legend of labels, values and shares beside it.
type Pie struct {
	Label string
	Items []Item
	Donut bool
	// Unit follows values in titles.
	Unit string
	// Width in pixels (default 520); height 200.
	Width int
}

// SVG draws the chart.
func (p Pie) SVG() string {
	w := p.Width
	if w <= 0 {
		w = 520
	}
	const h, r = 200, 88.0
	cx, cy := 100.0, 100.0
	total := 0.0
	for _, it := range p.Items {
		total += clean(it.Value)
	}
	var b strings.Builder
	svgOpen(&b, w, h, p.Label)
	b.WriteString(`<g class="pie">`)
	if total == 0 {
		fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="%s" fill="#eef0f3"/>`, num(cx), num(cy), num(r))
	}
	angle := -math.Pi / 2
	for i, it := range p.Items {
		v := clean(it.Value)
		if v == 0 || total == 0 {
			continue
		}
		frac := v / total
		c := colour(it.Color, i)
		txt := fmt.Sprintf("%s: %s%s (%s%%)", it.Label, FormatValue(v), unit(p.Unit), FormatValue(math.Round(frac*1000)/10))
		link(&b, it.Href, func() {
			if frac >= 0.9999 {
				fmt.Fprintf(&b, `<circle class="slice" cx="%s" cy="%s" r="%s" fill="%s"><title>%s</title></circle>`, num(cx), num(cy), num(r), c, esc(txt))
				return
			}
			a1 := angle + frac*2*math.Pi
			large := 0
			if frac > 0.5 {
				large = 1
			}
			fmt.Fprintf(&b, `<path class="slice" d="M%s %sL%s %sA%s %s 0 %d 1 %s %sZ" fill="%s" stroke="#fff" stroke-width="1"><title>%s</title></path>`,
				num(cx), num(cy), num(cx+r*math.Cos(angle)), num(cy+r*math.Sin(angle)), num(r), num(r), large,
				num(cx+r*math.Cos(a1)), num(cy+r*math.Sin(a1)), c, esc(txt))
		})
		angle += frac * 2 * math.Pi
	}
	if p.Donut {
		fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="%s" fill="#fff"/>`, num(cx), num(cy), num(r*0.58))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" font-size="20" font-weight="600" fill="#16191f">%s</text>`, num(cx), num(cy+4), esc(FormatValue(total)))
		if p.Unit != "" {
			fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" fill="#5f6b7a">%s</text>`, num(cx), num(cy+20), esc(p.Unit))
		}
	}
	b.WriteString(`</g><g class="legend" fill="#16191f">`)
	for i, it := range p.Items {
		if i >= 8 {
			fmt.Fprintf(&b, `<text x="216" y="%d" fill="#5f6b7a">and %d more</text>`, 18+i*22, len(p.Items)-i)
			break
		}
		y := 8 + i*22
		share := 0.0
		if total > 0 {
			share = math.Round(clean(it.Value)/total*1000) / 10
		}
		link(&b, it.Href, func() {
			fmt.Fprintf(&b, `<rect x="200" y="%d" width="10" height="10" rx="2" fill="%s"/><text x="216" y="%d">%s</text><text x="%d" y="%d" text-anchor="end" fill="#5f6b7a">%s · %s%%</text>`,
				y+1, colour(it.Color, i), y+10, esc(truncate(it.Label, 26)), w-2, y+10, esc(FormatValue(clean(it.Value))), esc(FormatValue(share)))
		})
	}
	b.WriteString(`</g></svg>`)
	return b.String()
}

func unit(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

// Table is an HTML table: a header row and rows of cells, each cell
// optionally a link. Cells whose column is in Numeric are right-aligned.
type Table struct {
	Label   string // the table's caption
	Columns []string
	Rows    [][]Cell
	// Numeric marks columns (by index) holding numbers.
	Numeric map[int]bool
}

// Cell is one table cell.
type Cell struct {
	Text string
	Href string
}

// HTML draws the table.
func (t Table) HTML() string {
	var b strings.Builder
	b.WriteString(`<div class="table-wrap"><table class="chart-table">`)
	if t.Label != "" {
		fmt.Fprintf(&b, `<caption>%s</caption>`, esc(t.Label))
	}
	b.WriteString(`<thead><tr>`)
	for i, c := range t.Columns {
		fmt.Fprintf(&b, `<th scope="col"%s>%s</th>`, numClass(t.Numeric[i]), esc(c))
	}
	b.WriteString(`</tr></thead><tbody>`)
	for _, r := range t.Rows {
		b.WriteString(`<tr>`)
		for i, c := range r {
			fmt.Fprintf(&b, `<td%s>`, numClass(t.Numeric[i]))
			if c.Href != "" && SafeHref(c.Href) {
				fmt.Fprintf(&b, `<a href="%s">%s</a>`, esc(c.Href), esc(c.Text))
			} else {
				b.WriteString(esc(c.Text))
			}
			b.WriteString(`</td>`)
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</tbody></table></div>`)
	return b.String()
}

func numClass(n bool) string {
	if n {
		return ` class="num"`
	}
	return ""
}
