package alarmrule

import "math"

// BandWindow is how many periods before a period make its anomaly band's
// baseline, and BandMinSamples how many of them must have a value for the
// band to exist.
const (
	BandWindow     = 60
	BandMinSamples = 5
)

// Band is ANOMALY_DETECTION_BAND's band for one period: the mean of the
// baseline samples ± k population standard deviations. samples are the
// metric's values in the BandWindow periods before the period (the period
// itself is not part of its own baseline); ok is false with fewer than
// BandMinSamples samples, and then the period has no band.
func Band(samples []float64, k float64) (lower, upper float64, ok bool) {
	if len(samples) < BandMinSamples {
		return 0, 0, false
	}
	var sum float64
	for _, v := range samples {
		sum += v
	}
	mean := sum / float64(len(samples))
	var ss float64
	for _, v := range samples {
		d := v - mean
		ss += d * d
	}
	sd := math.Sqrt(ss / float64(len(samples)))
	return mean - k*sd, mean + k*sd, true
}
