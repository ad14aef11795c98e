// Package chart draws the console's charts as SVG on the server: stacked
// time-series bars and lines with readable time ticks and a threshold
// line, horizontal "top N" bars, pies and donuts, and HTML tables. Every
// bar, point and slice may carry a link (an SVG <a href> around it), so a
// click on a spike opens the events behind it.
//
// Output is accessible (role="img" with an aria-label on every chart, a
// <title> on every mark), escapes all text it is given, needs no
// JavaScript and is deterministic: the same input draws the same bytes.
// Colours come from a fixed palette unless a series names its own.
//
// The package is pure (standard library only) and may be imported by any
// package.
package chart

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Palette is the colours series and slices take in order when they name
// none: distinguishable, and readable on white.
var Palette = []string{"#0a5dc2", "#e8710a", "#1d7a33", "#b3261e", "#7b4bb8", "#0f8b8d", "#9a5b00", "#c2185b", "#5f6b7a", "#3f51b5"}

// colour returns the i'th palette colour unless c is set. Only colours
// made of safe characters are used as given; anything else falls back to
// the palette, so a caller's colour cannot break out of the attribute.
func colour(c string, i int) string {
	if c != "" && safeColour(c) {
		return c
	}
	return Palette[i%len(Palette)]
}

func safeColour(c string) bool {
	for _, r := range c {
		if !(r == '#' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return len(c) <= 32
}

// esc escapes text for SVG/HTML content and attribute values. Characters
// XML does not allow (control characters, invalid UTF-8) are replaced, so
// any input draws a well-formed document.
func esc(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0xFFFE || r == 0xFFFF || r >= 0xD800 && r <= 0xDFFF {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return html.EscapeString(s)
}

// num formats a coordinate: at most one decimal, no exponent, so output
// is stable and short.
func num(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "0"
	}
	f = math.Round(f*10) / 10
	if f == math.Trunc(f) {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// FormatValue formats a count or measure for labels: whole numbers as
// they are up to 9,999, larger ones as 12.3k, 4.5M; fractions with up to
// two decimals.
func FormatValue(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	a := math.Abs(v)
	switch {
	case a >= 1e12:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case a >= 1e9:
		return trimZero(strconv.FormatFloat(v/1e9, 'f', 1, 64)) + "G"
	case a >= 1e6:
		return trimZero(strconv.FormatFloat(v/1e6, 'f', 1, 64)) + "M"
	case a >= 1e4:
		return trimZero(strconv.FormatFloat(v/1e3, 'f', 1, 64)) + "k"
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return trimZero(strconv.FormatFloat(v, 'f', 2, 64))
}

func trimZero(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// clean makes a value drawable: NaN, infinities and negatives become 0.
func clean(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

// niceMax rounds max up to 1, 2, 2.5 or 5 times a power of ten, and
// returns it with the step between gridlines (ticks of them).
func niceMax(max float64, ticks int) (top, step float64) {
	if max <= 0 {
		return float64(ticks), 1
	}
	raw := max / float64(ticks)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 3, 4, 5, 10} {
		step = m * mag
		if max >= 1 && step != math.Trunc(step) {
			continue // counts: whole steps
		}
		if step*float64(ticks) >= max {
			break
		}
	}
	if step < 1 && max >= 1 { // counts: whole steps
		step = 1
	}
	return step * float64(ticks), step
}

// truncate shortens s to at most n runes, ending in "…" when cut.
// fitWidth shortens s with "…" so that, at 12 px system-ui, it takes at
// most px pixels. The widths are estimates on the wide side (capitals and
// wide letters 8.5 px, digits and most lowercase 7 px, narrow ones 3.5
// px), so a label drawn right-aligned never runs off the chart's left
// edge; the full label stays in the row's title.
func fitWidth(s string, px float64) string {
	width := func(r rune) float64 {
		switch {
		case strings.ContainsRune("iljtfrI.,:;!|'() ", r):
			return 3.5
		case r >= 'A' && r <= 'Z', strings.ContainsRune("mwMW@%_", r), r > 0x2e80:
			return 8.5
		}
		return 7
	}
	total := 0.0
	for _, r := range s {
		total += width(r)
	}
	if total <= px {
		return s
	}
	const ellipsis = 12.0
	used := 0.0
	for i, r := range s {
		if used+width(r)+ellipsis > px {
			return s[:i] + "…"
		}
		used += width(r)
	}
	return s
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// svgOpen starts an svg element of the given size labelled for assistive
// technology.
func svgOpen(b *strings.Builder, w, h int, label string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" class="chart-svg" font-family="system-ui, sans-serif" font-size="12">`, w, h, w, h, esc(label))
	fmt.Fprintf(b, `<title>%s</title>`, esc(label))
}

// SafeHref reports whether href may be drawn as a link: a path on this
// site ("/events?…", not "//host"), a query or fragment, or an http(s)
// URL. Anything else (javascript:, data:) is drawn without its link.
func SafeHref(href string) bool {
	switch {
	case strings.HasPrefix(href, "//"):
		return false
	case strings.HasPrefix(href, "/"), strings.HasPrefix(href, "?"), strings.HasPrefix(href, "#"):
		return true
	}
	l := strings.ToLower(href)
	return strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://")
}

// link wraps mark in an <a href> when href is set and safe.
func link(b *strings.Builder, href string, mark func()) {
	if href == "" || !SafeHref(href) {
		mark()
		return
	}
	fmt.Fprintf(b, `<a href="%s">`, esc(href))
	mark()
	b.WriteString(`</a>`)
}
