package demo

import (
	"math"
	"math/rand/v2"
)

// timeline draws n event times from the span [start, start+dur) seconds,
// distributed by activity(), already in ascending order: it draws the order
// statistics of n uniform variates one after another (the minimum of k
// uniforms on [u,1) is u + (1-u)(1-V^(1/k))) and maps each through the
// inverse of the piecewise-linear cumulative activity. Nothing is sorted and
// nothing is buffered, so memory stays constant for any n.
type timeline struct {
	r         *rand.Rand
	start     int64
	dur       int64
	bucketSec float64
	cdf       []float64 // len = buckets+1; cdf[0] = 0, cdf[len-1] = 1
	j         int       // current bucket
	u         float64   // last uniform order statistic
	left      int       // events still to draw
}

func newTimeline(r *rand.Rand, start, dur int64, n int) *timeline {
	bucket := int64(60)
	if dur/bucket > 100_000 {
		bucket = dur / 100_000
	}
	if bucket > dur {
		bucket = dur
	}
	nb := int((dur + bucket - 1) / bucket)
	cdf := make([]float64, nb+1)
	var sum float64
	for i := range nb {
		lo := start + int64(i)*bucket
		length := min(bucket, start+dur-lo)
		mid := lo + length/2
		sum += activity(mid) * float64(length)
		cdf[i+1] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	cdf[nb] = 1
	return &timeline{r: r, start: start, dur: dur, bucketSec: float64(bucket), cdf: cdf, left: n}
}

// next returns the next event time in unix seconds; times never decrease.
// It must be called at most n times.
func (tl *timeline) next() int64 {
	k := float64(tl.left)
	tl.left--
	v := 1 - tl.r.Float64() // (0, 1]
	tl.u += (1 - tl.u) * -math.Expm1(math.Log(v)/k)
	if tl.u >= 1 {
		tl.u = math.Nextafter(1, 0)
	}
	last := len(tl.cdf) - 2
	for tl.j < last && tl.cdf[tl.j+1] <= tl.u {
		tl.j++
	}
	lo, hi := tl.cdf[tl.j], tl.cdf[tl.j+1]
	frac := 0.0
	if hi > lo {
		frac = (tl.u - lo) / (hi - lo)
	}
	t := tl.start + int64((float64(tl.j)+frac)*tl.bucketSec)
	if end := tl.start + tl.dur - 1; t > end {
		t = end
	}
	return t
}

// activity is the relative rate of API activity at unix second t: a
// working-day bump centred on 13:00 UTC over a night-time floor, lower at
// weekends.
func activity(t int64) float64 {
	h := float64(t%86400) / 3600
	x := (h - 13) / 3.5
	w := 0.18 + math.Exp(-0.5*x*x)
	// 1970-01-01 was a Thursday: day 0 → Thursday, day 2 → Saturday.
	if wd := (t/86400 + 4) % 7; wd == 0 || wd == 6 {
		w *= 0.4
	}
	return w
}
