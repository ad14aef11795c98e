package chart

import "time"

// Tick is one labelled mark on a time axis.
type Tick struct {
	At    time.Time
	Label string
}

// tickSteps are the intervals a time axis may be marked at, shortest
// first.
var tickSteps = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 30 * 24 * time.Hour,
}

// TimeTicks returns at most maxTicks ticks between start and end (both
// included when they fall on one), at the shortest round UTC interval
// that fits: every 15 minutes, 3 hours, day, week…. Labels are times of
// day ("15:00") for spans within a day, dates ("Dec 5") on midnights of
// longer spans, and both ("Dec 5 12:00") otherwise.
func TimeTicks(start, end time.Time, maxTicks int) []Tick {
	if !end.After(start) || maxTicks < 1 {
		return nil
	}
	span := end.Sub(start)
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if int(span/s) < maxTicks {
			step = s
			break
		}
	}
	for int(span/step) >= maxTicks { // spans beyond the table's steps
		step *= 2
	}
	first := start.UTC().Truncate(step)
	if step >= 7*24*time.Hour { // weeks and months start on a midnight
		first = time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, time.UTC)
	}
	if first.Before(start) {
		first = first.Add(step)
	}
	long := span > 24*time.Hour
	var ticks []Tick
	for at := first; !at.After(end); at = at.Add(step) {
		var lbl string
		switch {
		case !long:
			lbl = at.Format("15:04")
		case at.Hour() == 0 && at.Minute() == 0:
			lbl = at.Format("Jan 2")
		default:
			lbl = at.Format("Jan 2 15:04")
		}
		ticks = append(ticks, Tick{At: at, Label: lbl})
	}
	return ticks
}
