// Package alarmrule is the pure rule of a CloudWatch metric alarm: whether
// a datapoint breaches (every comparison operator, the anomaly-band ones
// included), the M-out-of-N decision with each TreatMissingData mode, the
// state reason and reason data in the text AWS writes, and the trailing
// anomaly band (mean ± k·σ). It reads no clock and stores nothing: the
// alarms component gathers the datapoints and persists what it decides.
package alarmrule

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// States an alarm can be in.
const (
	OK               = "OK"
	Alarm            = "ALARM"
	InsufficientData = "INSUFFICIENT_DATA"
)

// Comparison operators.
const (
	GreaterThanOrEqualToThreshold            = "GreaterThanOrEqualToThreshold"
	GreaterThanThreshold                     = "GreaterThanThreshold"
	LessThanThreshold                        = "LessThanThreshold"
	LessThanOrEqualToThreshold               = "LessThanOrEqualToThreshold"
	LessThanLowerOrGreaterThanUpperThreshold = "LessThanLowerOrGreaterThanUpperThreshold"
	LessThanLowerThreshold                   = "LessThanLowerThreshold"
	GreaterThanUpperThreshold                = "GreaterThanUpperThreshold"
)

// Operators lists every comparison operator, as the AWS model orders them.
var Operators = []string{GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold,
	LessThanOrEqualToThreshold, LessThanLowerOrGreaterThanUpperThreshold, LessThanLowerThreshold,
	GreaterThanUpperThreshold}

// TreatMissingData modes.
const (
	Missing      = "missing"
	Ignore       = "ignore"
	Breaching    = "breaching"
	NotBreaching = "notBreaching"
)

// IsBand reports whether op compares against an anomaly band rather than
// a static threshold.
func IsBand(op string) bool {
	switch op {
	case LessThanLowerOrGreaterThanUpperThreshold, LessThanLowerThreshold, GreaterThanUpperThreshold:
		return true
	}
	return false
}

// Breaches reports whether value breaches: against threshold for the four
// static operators, against [lower, upper] for the band operators.
func Breaches(op string, value, threshold, lower, upper float64) bool {
	switch op {
	case GreaterThanOrEqualToThreshold:
		return value >= threshold
	case GreaterThanThreshold:
		return value > threshold
	case LessThanThreshold:
		return value < threshold
	case LessThanOrEqualToThreshold:
		return value <= threshold
	case LessThanLowerOrGreaterThanUpperThreshold:
		return value < lower || value > upper
	case LessThanLowerThreshold:
		return value < lower
	case GreaterThanUpperThreshold:
		return value > upper
	}
	return false
}

// phrase is how AWS's reason names the comparison ("was greater than or
// equal to the threshold").
func phrase(op string) string {
	switch op {
	case GreaterThanOrEqualToThreshold:
		return "greater than or equal to the threshold"
	case GreaterThanThreshold:
		return "greater than the threshold"
	case LessThanThreshold:
		return "less than the threshold"
	case LessThanOrEqualToThreshold:
		return "less than or equal to the threshold"
	case LessThanLowerOrGreaterThanUpperThreshold:
		return "outside the band"
	case LessThanLowerThreshold:
		return "less than the lower thresholds"
	case GreaterThanUpperThreshold:
		return "greater than the upper thresholds"
	}
	return op
}

// Point is one period of the evaluation range.
type Point struct {
	Time    time.Time // the period's start
	Present bool      // the metric had data in the period
	Value   float64   // the statistic's value when Present
	// SampleCount is the period's number of samples (reason data).
	SampleCount float64
	// Lower and Upper are the band for the band operators; BandOK is false
	// when the band could not be computed (too little history), and then
	// the point counts as missing.
	Lower, Upper float64
	BandOK       bool
}

// Input is one evaluation of an alarm.
type Input struct {
	Operator          string
	Threshold         float64
	EvaluationPeriods int
	DatapointsToAlarm int // 0 means EvaluationPeriods
	TreatMissingData  string
	Statistic         string // for reason data ("Sum", "p99")
	Period            int    // seconds, for reason data
	Current           string // the alarm's state before this evaluation
	Points            []Point
	Now               time.Time // queryDate in the reason data
}

// Result is what an evaluation decides.
type Result struct {
	State      string
	Reason     string
	ReasonData string
}

func (in Input) m() int {
	if in.DatapointsToAlarm <= 0 || in.DatapointsToAlarm > in.EvaluationPeriods {
		return in.EvaluationPeriods
	}
	return in.DatapointsToAlarm
}

// Evaluate decides the alarm's state from the points of its evaluation
// range (the last EvaluationPeriods periods, oldest first). The rule:
//
//   - a present point breaches per [Breaches]; a band point without a band
//     counts as missing;
//   - when every point is missing: missing → INSUFFICIENT_DATA, ignore →
//     the current state, breaching → ALARM, notBreaching → OK;
//   - otherwise ALARM when at least DatapointsToAlarm points breach, the
//     missing ones counting as breaching only under TreatMissingData
//     breaching; OK otherwise.
//
// When the state does not change the reason is still computed; the caller
// keeps the old one.
func Evaluate(in Input) Result {
	m := in.m()
	var breach, good, missing []Point
	for i := len(in.Points) - 1; i >= 0; i-- { // newest first, as AWS lists them
		p := in.Points[i]
		if !p.Present || (IsBand(in.Operator) && !p.BandOK) {
			missing = append(missing, p)
			continue
		}
		if Breaches(in.Operator, p.Value, in.Threshold, p.Lower, p.Upper) {
			breach = append(breach, p)
		} else {
			good = append(good, p)
		}
	}
	n := len(in.Points)
	res := Result{State: in.Current}
	if len(missing) == n {
		switch in.TreatMissingData {
		case Ignore:
			res.Reason = fmt.Sprintf("Insufficient Data: %s %s unknown; the current state is kept (TreatMissingData ignore).", count(n, "datapoint"), wasWere(n))
		case Breaching:
			res.State = Alarm
			res.Reason = fmt.Sprintf("Threshold Crossed: no datapoints were received for %s and %s %s treated as [Breaching].", count(n, "period"), count(n, "missing datapoint"), wasWere(n))
		case NotBreaching:
			res.State = OK
			res.Reason = fmt.Sprintf("Threshold Crossed: no datapoints were received for %s and %s %s treated as [NonBreaching].", count(n, "period"), count(n, "missing datapoint"), wasWere(n))
		default:
			res.State = InsufficientData
			res.Reason = fmt.Sprintf("Insufficient Data: %s %s unknown.", count(n, "datapoint"), wasWere(n))
		}
		res.ReasonData = in.reasonData(nil)
		return res
	}
	nb := len(breach)
	if in.TreatMissingData == Breaching {
		nb += len(missing)
	}
	prev := in.Current
	if prev == "" {
		prev = InsufficientData
	}
	if nb >= m {
		res.State = Alarm
		res.Reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints %s %s %s %s (minimum %s for %s -> ALARM transition).",
			len(breach), len(breach)+len(good), listPoints(breach), wasWere(len(breach)), phrase(in.Operator), in.thresholdText(breach), count(m, "datapoint"), prev)
		if len(breach) == 0 {
			res.Reason = fmt.Sprintf("Threshold Crossed: %s %s treated as [Breaching] (minimum %s for %s -> ALARM transition).",
				count(len(missing), "missing datapoint"), wasWere(len(missing)), count(m, "datapoint"), prev)
		}
		res.ReasonData = in.reasonData(append(append([]Point{}, breach...), good...))
		return res
	}
	res.State = OK
	need := n - m + 1
	res.Reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints %s %s not %s %s (minimum %s for %s -> OK transition).",
		len(good), len(breach)+len(good), listPoints(good), wasWere(len(good)), phrase(in.Operator), in.thresholdText(good), count(need, "datapoint"), prev)
	if len(good) == 0 {
		res.Reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints %s %s %s %s, fewer than the %d needed to alarm (minimum %s for %s -> OK transition).",
			len(breach), len(breach), listPoints(breach), wasWere(len(breach)), phrase(in.Operator), in.thresholdText(breach), m, count(need, "datapoint"), prev)
	}
	res.ReasonData = in.reasonData(append(append([]Point{}, good...), breach...))
	return res
}

func (in Input) thresholdText(ps []Point) string {
	if !IsBand(in.Operator) {
		return "(" + Number(in.Threshold) + ")"
	}
	var b strings.Builder
	b.WriteString("[")
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		switch in.Operator {
		case LessThanLowerThreshold:
			b.WriteString(Number(p.Lower))
		case GreaterThanUpperThreshold:
			b.WriteString(Number(p.Upper))
		default:
			b.WriteString(Number(p.Lower) + " to " + Number(p.Upper))
		}
	}
	b.WriteString("]")
	return b.String()
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

// reasonTime is the dd/MM/yy HH:mm:ss form AWS's reasons use.
func reasonTime(t time.Time) string { return t.UTC().Format("02/01/06 15:04:05") }

// DataTime is the form of times in StateReasonData.
func DataTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000+0000") }

func listPoints(ps []Point) string {
	var b strings.Builder
	b.WriteString("[")
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Number(p.Value) + " (" + reasonTime(p.Time) + ")")
	}
	b.WriteString("]")
	return b.String()
}

// Number formats v as AWS's reasons do (Java's Double.toString): 3.0,
// 0.5, 1.0E7.
func Number(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	a := math.Abs(v)
	if a == 0 || (a >= 1e-3 && a < 1e7) {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(v, 'E', -1, 64) // 1E+07
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

type reasonPoint struct {
	Timestamp   string  `json:"timestamp"`
	SampleCount float64 `json:"sampleCount"`
	Value       float64 `json:"value"`
}

type reasonData struct {
	Version               string        `json:"version"`
	QueryDate             string        `json:"queryDate"`
	StartDate             string        `json:"startDate,omitempty"`
	Statistic             string        `json:"statistic,omitempty"`
	Period                int           `json:"period,omitempty"`
	RecentDatapoints      []float64     `json:"recentDatapoints"`
	RecentLowerThresholds []float64     `json:"recentLowerThresholds,omitempty"`
	RecentUpperThresholds []float64     `json:"recentUpperThresholds,omitempty"`
	Threshold             *float64      `json:"threshold,omitempty"`
	EvaluatedDatapoints   []reasonPoint `json:"evaluatedDatapoints,omitempty"`
}

// reasonData is StateReasonData as AWS writes it: the recent datapoints
// oldest first and the evaluated ones newest first.
func (in Input) reasonData(evaluated []Point) string {
	d := reasonData{Version: "1.0", QueryDate: DataTime(in.Now), Statistic: in.Statistic, Period: in.Period,
		RecentDatapoints: []float64{}}
	if len(in.Points) > 0 {
		d.StartDate = DataTime(in.Points[0].Time)
	}
	band := IsBand(in.Operator)
	for _, p := range in.Points {
		if !p.Present {
			continue
		}
		d.RecentDatapoints = append(d.RecentDatapoints, p.Value)
		if band && p.BandOK {
			d.RecentLowerThresholds = append(d.RecentLowerThresholds, p.Lower)
			d.RecentUpperThresholds = append(d.RecentUpperThresholds, p.Upper)
		}
	}
	if !band {
		t := in.Threshold
		d.Threshold = &t
	}
	sort.SliceStable(evaluated, func(i, j int) bool { return evaluated[i].Time.After(evaluated[j].Time) })
	for _, p := range evaluated {
		d.EvaluatedDatapoints = append(d.EvaluatedDatapoints, reasonPoint{Timestamp: DataTime(p.Time), SampleCount: p.SampleCount, Value: p.Value})
	}
	b, _ := json.Marshal(d)
	return string(b)
}
