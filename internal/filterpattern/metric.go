package filterpattern

import (
	"math"
	"strconv"
	"strings"
)

// A Transformation is a metric filter's metricTransformations entry: the
// metric a matching message adds to, and what it adds.
type Transformation struct {
	MetricName      string
	MetricNamespace string
	// MetricValue is a number, a `$.path` of a JSON pattern, or a `$field`
	// or `$N` of a space-delimited pattern.
	MetricValue string
	// DefaultValue, when set, is published for every message that does
	// not match (and for a match whose value is missing or null).
	DefaultValue *float64
	// Dimensions maps a dimension name to a `$.path` or `$field`.
	Dimensions map[string]string
	Unit       string
}

// A Point is the data point one message contributes to the metric.
type Point struct {
	Value      float64
	Dimensions map[string]string
	// Matched reports that the message matched; a point that is only the
	// default value has Matched false. AWS attaches the system dimensions
	// (emitSystemFieldDimensions) to matches only.
	Matched bool
}

// maxDimensions is how many dimensions a metric transformation may have.
const maxDimensions = 3

// ValidateTransformation checks t as PutMetricFilter does for pattern p,
// with AWS's messages where they are recorded.
func ValidateTransformation(p *Pattern, t Transformation) error {
	if !validReference(p, t.MetricValue, true) {
		return invalid("Invalid metric transformation: metric value %s must be a valid number", t.MetricValue)
	}
	if len(t.Dimensions) > maxDimensions {
		return invalid("Invalid metric transformation: a metric filter can have at most %d dimensions", maxDimensions)
	}
	for name, ref := range t.Dimensions {
		if name == "" || !validReference(p, ref, false) {
			return invalid("Invalid metric transformation: dimension %s must refer to a field of the filter pattern, not %s", name, ref)
		}
	}
	return nil
}

// validReference reports whether v names a value: a number (metric
// values only), a definite `$.path` for a JSON pattern, `$name` or `$N`
// for a space-delimited one.
func validReference(p *Pattern, v string, numberOK bool) bool {
	if numberOK && isNumberLiteral(v) {
		f, err := strconv.ParseFloat(v, 64)
		return err == nil && !math.IsInf(f, 0)
	}
	switch {
	case p.kind == kindJSON && strings.HasPrefix(v, "$."):
		sel, err := parseSelector(v)
		return err == nil && !sel.wild
	case p.kind == kindSpace && strings.HasPrefix(v, "$") && len(v) > 1:
		name := v[1:]
		if n, err := strconv.Atoi(name); err == nil {
			return n >= 1
		}
		for _, f := range p.space.fields {
			if f.name == name {
				return true
			}
		}
	}
	return false
}

// parseSelector parses a whole string as one JSON selector.
func parseSelector(v string) (selector, error) {
	jp := &jsonParser{s: v}
	sel, err := jp.lexSelector()
	if err != nil {
		return selector{}, err
	}
	if jp.pos != len(v) {
		return selector{}, errInvalid
	}
	return sel, nil
}

// Emit gives the data point msg contributes under t: for a match, the
// metric value (the literal, or the number at the referenced field) with
// the dimensions — all of them, or none when one is missing; for a
// message that does not match, DefaultValue when set. A matching message
// whose referenced value is missing or null contributes DefaultValue
// (nothing without one); a non-numeric value contributes nothing.
func (p *Pattern) Emit(msg []byte, t Transformation) (Point, bool) {
	var ex map[string]string
	var ok bool
	if p.kind == kindSpace {
		ex, ok = p.space.match(msg, true)
	} else {
		ok = p.Match(msg)
	}
	if !ok {
		if t.DefaultValue != nil {
			return Point{Value: *t.DefaultValue}, true
		}
		return Point{}, false
	}
	var root valRef
	if p.kind == kindJSON {
		root, _ = parseAt(msg, 0)
	}
	v := strings.TrimSpace(t.MetricValue)
	var val float64
	if isNumberLiteral(v) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return Point{}, false
		}
		val = f
	} else {
		text, present := p.resolve(msg, root, ex, v, false)
		if !present {
			if t.DefaultValue != nil {
				return Point{Value: *t.DefaultValue}, true
			}
			return Point{}, false
		}
		if !isNumberLiteral(text) {
			return Point{}, false
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) {
			return Point{}, false
		}
		val = f
	}
	pt := Point{Value: val, Matched: true}
	if len(t.Dimensions) > 0 {
		dims := make(map[string]string, len(t.Dimensions))
		for name, ref := range t.Dimensions {
			text, present := p.resolve(msg, root, ex, ref, true)
			if !present {
				dims = nil
				break
			}
			dims[name] = text
		}
		if len(dims) > 0 {
			pt.Dimensions = dims
		}
	}
	return pt, true
}

// resolve finds the text of a reference in a matched message: a `$.path`
// in a JSON message (absent when missing, null, an object or an array),
// or a `$field`/`$N` among the extracted values.
func (p *Pattern) resolve(msg []byte, root valRef, ex map[string]string, ref string, dimension bool) (string, bool) {
	switch p.kind {
	case kindJSON:
		sel, err := parseSelector(ref)
		if err != nil || sel.wild {
			return "", false
		}
		r := lookup(msg, root, sel.path)
		switch r.kind {
		case kString:
			raw := msg[r.start+1 : r.end-1]
			if r.esc {
				return string(decodeString(nil, raw)), true
			}
			return string(raw), true
		case kNumber:
			return string(msg[r.start:r.end]), true
		case kTrue:
			return "true", true
		case kFalse:
			return "false", true
		case kObject, kArray:
			// Present but no number: a metric value from it publishes
			// nothing; as a dimension it counts as missing.
			return "", !dimension
		}
		return "", false
	case kindSpace:
		s, ok := ex[ref]
		return s, ok
	}
	return "", false
}
