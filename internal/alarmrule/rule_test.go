package alarmrule_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/alarmrule"
)

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func pts(vals ...any) []alarmrule.Point {
	var ps []alarmrule.Point
	for i, v := range vals {
		p := alarmrule.Point{Time: t0.Add(time.Duration(i) * time.Minute)}
		if f, ok := v.(float64); ok {
			p.Present, p.Value, p.SampleCount = true, f, 1
		}
		ps = append(ps, p)
	}
	return ps
}

func ExampleEvaluate() {
	r := alarmrule.Evaluate(alarmrule.Input{
		Operator: alarmrule.GreaterThanOrEqualToThreshold, Threshold: 1, EvaluationPeriods: 1,
		TreatMissingData: alarmrule.NotBreaching, Statistic: "Sum", Period: 60, Current: alarmrule.OK,
		Points: pts(3.0), Now: t0.Add(90 * time.Second),
	})
	fmt.Println(r.State)
	fmt.Println(r.Reason)
	// Output:
	// ALARM
	// Threshold Crossed: 1 out of the last 1 datapoints [3.0 (04/12/26 10:00:00)] was greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition).
}

func ExampleBand() {
	lo, hi, ok := alarmrule.Band([]float64{2, 4, 4, 4, 5, 5, 7, 9}, 2)
	fmt.Println(lo, hi, ok)
	// Output: 1 9 true
}

func TestOperators(t *testing.T) {
	cases := []struct {
		op      string
		v       float64
		breach  bool
		lo, hi  float64
		comment string
	}{
		{alarmrule.GreaterThanOrEqualToThreshold, 5, true, 0, 0, "equal"},
		{alarmrule.GreaterThanOrEqualToThreshold, 4.9, false, 0, 0, ""},
		{alarmrule.GreaterThanThreshold, 5, false, 0, 0, "equal"},
		{alarmrule.GreaterThanThreshold, 5.1, true, 0, 0, ""},
		{alarmrule.LessThanThreshold, 5, false, 0, 0, "equal"},
		{alarmrule.LessThanThreshold, 4, true, 0, 0, ""},
		{alarmrule.LessThanOrEqualToThreshold, 5, true, 0, 0, "equal"},
		{alarmrule.LessThanOrEqualToThreshold, 6, false, 0, 0, ""},
		{alarmrule.LessThanLowerOrGreaterThanUpperThreshold, 0, true, 1, 3, "below"},
		{alarmrule.LessThanLowerOrGreaterThanUpperThreshold, 4, true, 1, 3, "above"},
		{alarmrule.LessThanLowerOrGreaterThanUpperThreshold, 3, false, 1, 3, "on the edge"},
		{alarmrule.LessThanLowerThreshold, 0.5, true, 1, 3, ""},
		{alarmrule.LessThanLowerThreshold, 4, false, 1, 3, "above is fine"},
		{alarmrule.GreaterThanUpperThreshold, 4, true, 1, 3, ""},
		{alarmrule.GreaterThanUpperThreshold, 0, false, 1, 3, "below is fine"},
	}
	for _, c := range cases {
		if got := alarmrule.Breaches(c.op, c.v, 5, c.lo, c.hi); got != c.breach {
			t.Errorf("%s %v (%s): breach %v, want %v", c.op, c.v, c.comment, got, c.breach)
		}
	}
}

// TestMofN: 2 out of 3 with each TreatMissingData mode; "-" is missing.
func TestMofN(t *testing.T) {
	cases := []struct {
		points []any
		mode   string
		cur    string
		want   string
	}{
		{[]any{5.0, 0.0, 5.0}, alarmrule.Missing, alarmrule.OK, alarmrule.Alarm},
		{[]any{5.0, 0.0, 0.0}, alarmrule.Missing, alarmrule.Alarm, alarmrule.OK},
		{[]any{"-", "-", "-"}, alarmrule.Missing, alarmrule.OK, alarmrule.InsufficientData},
		{[]any{"-", "-", "-"}, alarmrule.Ignore, alarmrule.Alarm, alarmrule.Alarm},
		{[]any{"-", "-", "-"}, alarmrule.Ignore, alarmrule.OK, alarmrule.OK},
		{[]any{"-", "-", "-"}, alarmrule.Breaching, alarmrule.OK, alarmrule.Alarm},
		{[]any{"-", "-", "-"}, alarmrule.NotBreaching, alarmrule.Alarm, alarmrule.OK},
		{[]any{5.0, "-", 0.0}, alarmrule.Breaching, alarmrule.OK, alarmrule.Alarm},
		{[]any{5.0, "-", 0.0}, alarmrule.NotBreaching, alarmrule.OK, alarmrule.OK},
		{[]any{5.0, "-", 0.0}, alarmrule.Missing, alarmrule.OK, alarmrule.OK},
		{[]any{5.0, "-", 0.0}, alarmrule.Ignore, alarmrule.Alarm, alarmrule.OK},
		{[]any{5.0, "-", 5.0}, alarmrule.Ignore, alarmrule.OK, alarmrule.Alarm},
		{[]any{"-", "-", 5.0}, alarmrule.Breaching, alarmrule.OK, alarmrule.Alarm},
		{[]any{"-", "-", 5.0}, alarmrule.NotBreaching, alarmrule.OK, alarmrule.OK},
	}
	for _, c := range cases {
		r := alarmrule.Evaluate(alarmrule.Input{Operator: alarmrule.GreaterThanThreshold, Threshold: 1,
			EvaluationPeriods: 3, DatapointsToAlarm: 2, TreatMissingData: c.mode, Current: c.cur, Points: pts(c.points...), Now: t0})
		if r.State != c.want {
			t.Errorf("%v %s from %s: %s (%s), want %s", c.points, c.mode, c.cur, r.State, r.Reason, c.want)
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(r.ReasonData), &d); err != nil || d["version"] != "1.0" {
			t.Errorf("reason data %q: %v", r.ReasonData, err)
		}
	}
}

func TestReasonTexts(t *testing.T) {
	in := alarmrule.Input{Operator: alarmrule.GreaterThanOrEqualToThreshold, Threshold: 3, EvaluationPeriods: 1,
		TreatMissingData: alarmrule.Missing, Current: alarmrule.Alarm, Points: pts(1.0), Now: t0}
	r := alarmrule.Evaluate(in)
	want := "Threshold Crossed: 1 out of the last 1 datapoints [1.0 (04/12/26 10:00:00)] was not greater than or equal to the threshold (3.0) (minimum 1 datapoint for ALARM -> OK transition)."
	if r.State != alarmrule.OK || r.Reason != want {
		t.Errorf("got %s %q\nwant %q", r.State, r.Reason, want)
	}
	in.Points = pts("-")
	if r := alarmrule.Evaluate(in); r.State != alarmrule.InsufficientData || r.Reason != "Insufficient Data: 1 datapoint was unknown." {
		t.Errorf("all missing: %s %q", r.State, r.Reason)
	}
	in.TreatMissingData = alarmrule.NotBreaching
	if r := alarmrule.Evaluate(in); r.Reason != "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching]." {
		t.Errorf("notBreaching: %q", r.Reason)
	}
	in.EvaluationPeriods, in.DatapointsToAlarm, in.TreatMissingData, in.Current = 3, 2, alarmrule.Missing, alarmrule.OK
	in.Points = pts(7.0, 1.0, 4.0)
	want = "Threshold Crossed: 2 out of the last 3 datapoints [4.0 (04/12/26 10:02:00), 7.0 (04/12/26 10:00:00)] were greater than or equal to the threshold (3.0) (minimum 2 datapoints for OK -> ALARM transition)."
	if r := alarmrule.Evaluate(in); r.State != alarmrule.Alarm || r.Reason != want {
		t.Errorf("got %s %q\nwant %q", r.State, r.Reason, want)
	}
}

func TestBandOperators(t *testing.T) {
	ps := pts(10.0)
	ps[0].Lower, ps[0].Upper, ps[0].BandOK = 1, 4, true
	in := alarmrule.Input{Operator: alarmrule.LessThanLowerOrGreaterThanUpperThreshold, EvaluationPeriods: 1,
		TreatMissingData: alarmrule.Missing, Current: alarmrule.OK, Points: ps, Now: t0}
	r := alarmrule.Evaluate(in)
	if r.State != alarmrule.Alarm || !strings.Contains(r.Reason, "outside the band [1.0 to 4.0]") {
		t.Errorf("band: %s %q", r.State, r.Reason)
	}
	if !strings.Contains(r.ReasonData, `"recentUpperThresholds":[4]`) {
		t.Errorf("band reason data: %s", r.ReasonData)
	}
	in.Points[0].BandOK = false // too little history: the point counts as missing
	if r := alarmrule.Evaluate(in); r.State != alarmrule.InsufficientData {
		t.Errorf("no band: %s", r.State)
	}
	if _, _, ok := alarmrule.Band([]float64{1, 2, 3, 4}, 2); ok {
		t.Error("a band from 4 samples")
	}
}

func TestNumber(t *testing.T) {
	for v, want := range map[float64]string{3: "3.0", 0.5: "0.5", 1e7: "1.0E7", -2: "-2.0", 1.25e-5: "1.25E-5", 0: "0.0"} {
		if got := alarmrule.Number(v); got != want {
			t.Errorf("Number(%v) = %q, want %q", v, got, want)
		}
	}
}

// FuzzEvaluate checks the rule's invariants over arbitrary ranges: the
// state is one of the three, ALARM needs enough breaching points, and
// all-missing follows TreatMissingData.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{1, 5, 0, 9}, uint8(2), uint8(1), uint8(0), uint8(0), 3.0)
	f.Fuzz(func(t *testing.T, vals []byte, n, m, mode, op uint8, thr float64) {
		if len(vals) == 0 || len(vals) > 20 {
			return
		}
		modes := []string{alarmrule.Missing, alarmrule.Ignore, alarmrule.Breaching, alarmrule.NotBreaching}
		var ps []alarmrule.Point
		allMissing := true
		for i, v := range vals {
			p := alarmrule.Point{Time: t0.Add(time.Duration(i) * time.Minute), Present: v%4 != 0, Value: float64(v), Lower: 2, Upper: 100, BandOK: v%3 != 0}
			ps = append(ps, p)
		}
		in := alarmrule.Input{Operator: alarmrule.Operators[int(op)%len(alarmrule.Operators)], Threshold: thr,
			EvaluationPeriods: len(ps), DatapointsToAlarm: int(m) % (len(ps) + 1), TreatMissingData: modes[int(mode)%4],
			Current: alarmrule.OK, Points: ps, Now: t0}
		breach := 0
		for _, p := range ps {
			present := p.Present && (!alarmrule.IsBand(in.Operator) || p.BandOK)
			if present {
				allMissing = false
				if alarmrule.Breaches(in.Operator, p.Value, thr, p.Lower, p.Upper) {
					breach++
				}
			}
		}
		r := alarmrule.Evaluate(in)
		switch r.State {
		case alarmrule.OK, alarmrule.Alarm, alarmrule.InsufficientData:
		default:
			t.Fatalf("state %q", r.State)
		}
		if r.Reason == "" || !json.Valid([]byte(r.ReasonData)) {
			t.Fatalf("reason %q data %q", r.Reason, r.ReasonData)
		}
		mm := in.DatapointsToAlarm
		if mm == 0 {
			mm = len(ps)
		}
		if !allMissing && in.TreatMissingData != alarmrule.Breaching && (r.State == alarmrule.Alarm) != (breach >= mm) {
			t.Fatalf("%d breaching of %d needed gave %s", breach, mm, r.State)
		}
		if allMissing && in.TreatMissingData == alarmrule.Missing && r.State != alarmrule.InsufficientData {
			t.Fatalf("all missing gave %s", r.State)
		}
	})
}

func ExampleParseExpr() {
	e, _ := alarmrule.ParseExpr("(m1 - m2) / 60 * 100")
	v, ok := e.Eval(map[string]float64{"m1": 90, "m2": 30})
	fmt.Println(e, e.Refs(), v, ok)
	// Output: (m1 - m2) / 60 * 100 [m1 m2] 100 true
}

func TestParseExpr(t *testing.T) {
	for in, want := range map[string]string{
		"m1+m2*2":   "m1 + m2 * 2",
		"(m1+m2)*2": "(m1 + m2) * 2",
		"m1-(m2-3)": "m1 - (m2 - 3)",
		"m1-m2-3":   "m1 - m2 - 3",
		"-(m1*2)":   "-(m1 * 2)",
		"-m1 - -3":  "-m1 - -3",
		"((m1))/ 2": "m1 / 2",
	} {
		e, err := alarmrule.ParseExpr(in)
		if err != nil || e.String() != want {
			t.Errorf("%q: %v %v, want %s", in, e, err, want)
		}
	}
	for in, msg := range map[string]string{
		"m1 +":      "the expression ends early at position 5",
		"SUM(m1)":   `unexpected "S" at position 1`,
		"rate(m1)":  "the function rate is not supported at position 5",
		"(m1 + m2":  "missing ) at position 9",
		"m1 m2":     `unexpected "m" at position 4`,
		"1..2 + m1": `bad number "1..2" at position 1`,
	} {
		if _, err := alarmrule.ParseExpr(in); err == nil || err.Error() != msg {
			t.Errorf("%q: %v, want %q", in, err, msg)
		}
	}
	e, _ := alarmrule.ParseExpr("m1 / m2")
	if _, ok := e.Eval(map[string]float64{"m1": 1, "m2": 0}); ok {
		t.Error("division by zero gave a value")
	}
	if _, ok := e.Eval(map[string]float64{"m1": 1}); ok {
		t.Error("a missing operand gave a value")
	}
}

func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{"m1 + m2", "(m1 - 2) * -m3 / 4.5", "((((m1))))", "m1 +", "1e5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := alarmrule.ParseExpr(s)
		if err != nil {
			return
		}
		// what it prints parses back to the same tree
		e2, err := alarmrule.ParseExpr(e.String())
		if err != nil || e2.String() != e.String() {
			t.Fatalf("%q printed as %q reparsed as %v (%v)", s, e.String(), e2, err)
		}
	})
}
