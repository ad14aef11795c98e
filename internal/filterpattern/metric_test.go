package filterpattern

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

type stats struct{ Sum, SampleCount, Minimum, Maximum float64 }

func (s *stats) add(v float64) {
	if s.SampleCount == 0 || v < s.Minimum {
		s.Minimum = v
	}
	if s.SampleCount == 0 || v > s.Maximum {
		s.Maximum = v
	}
	s.Sum += v
	s.SampleCount++
}

func seriesKey(d map[string]string) string {
	keys := slices.Sorted(maps.Keys(d))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + d[k] + ";")
	}
	return b.String()
}

// TestRecordedPublishing replays the data points AWS published for
// metric filters (metric-filter-publishing-aws.json) through Emit.
func TestRecordedPublishing(t *testing.T) {
	var doc struct {
		MetricDefaults struct {
			FilterPattern string   `json:"filterPattern"`
			MetricValue   string   `json:"metricValue"`
			DefaultValue  *float64 `json:"defaultValue"`
			Cases         []struct {
				Name     string     `json:"name"`
				Batches  [][]string `json:"batches"`
				Expected stats      `json:"expected"`
			} `json:"cases"`
		} `json:"metricDefaults"`
		Extraction struct {
			FilterPattern string   `json:"filterPattern"`
			MetricValue   string   `json:"metricValue"`
			DefaultValue  *float64 `json:"defaultValue"`
			Cases         []struct {
				Name     string          `json:"name"`
				Message  json.RawMessage `json:"message"`
				Expected struct {
					Sum         *float64   `json:"Sum"`
					SampleCount *float64   `json:"SampleCount"`
					Datapoints  *[]float64 `json:"datapoints"`
				} `json:"expected"`
			} `json:"cases"`
		} `json:"extraction"`
		OrdinaryDimensions struct {
			FilterPattern  string            `json:"filterPattern"`
			MetricValue    string            `json:"metricValue"`
			Dimensions     map[string]string `json:"dimensions"`
			Messages       []json.RawMessage `json:"messages"`
			ExpectedSeries []struct {
				Dimensions  map[string]string `json:"dimensions"`
				Sum         float64           `json:"Sum"`
				SampleCount float64           `json:"SampleCount"`
			} `json:"expectedSeries"`
			AbsentSeries []struct {
				Dimensions map[string]string `json:"dimensions"`
			} `json:"absentSeries"`
		} `json:"ordinaryDimensions"`
		SystemDimensions struct {
			FilterPattern string   `json:"filterPattern"`
			MetricValue   string   `json:"metricValue"`
			DefaultValue  *float64 `json:"defaultValue"`
			Messages      []string `json:"messages"`
			Region        string
			Cases         []struct {
				Emit           []string `json:"emitSystemFieldDimensions"`
				ExpectedSeries []struct {
					Dimensions  map[string]string `json:"dimensions"`
					Sum         float64           `json:"Sum"`
					SampleCount float64           `json:"SampleCount"`
				} `json:"expectedSeries"`
			} `json:"cases"`
		} `json:"systemDimensions"`
		Region string `json:"region"`
	}
	readRecorded(t, "metric-filter-publishing-aws.json", &doc)

	md := doc.MetricDefaults
	if len(md.Cases) == 0 {
		t.Fatal("no metricDefaults cases")
	}
	p := MustCompile(md.FilterPattern)
	tr := Transformation{MetricValue: md.MetricValue, DefaultValue: md.DefaultValue}
	for _, c := range md.Cases {
		var got stats
		for _, batch := range c.Batches {
			for _, m := range batch {
				if pt, ok := p.Emit([]byte(m), tr); ok {
					got.add(pt.Value)
				}
			}
		}
		if got != c.Expected {
			t.Errorf("metricDefaults %q: got %+v, want %+v", c.Name, got, c.Expected)
		}
	}

	ex := doc.Extraction
	if len(ex.Cases) == 0 {
		t.Fatal("no extraction cases")
	}
	p = MustCompile(ex.FilterPattern)
	tr = Transformation{MetricValue: ex.MetricValue, DefaultValue: ex.DefaultValue}
	for _, c := range ex.Cases {
		pt, ok := p.Emit(c.Message, tr)
		switch {
		case c.Expected.Datapoints != nil:
			if ok {
				t.Errorf("extraction %q: published %+v, want nothing", c.Name, pt)
			}
		case !ok:
			t.Errorf("extraction %q: published nothing, want Sum %v", c.Name, *c.Expected.Sum)
		case pt.Value != *c.Expected.Sum || *c.Expected.SampleCount != 1:
			t.Errorf("extraction %q: published %v, want Sum %v SampleCount %v", c.Name, pt.Value, *c.Expected.Sum, *c.Expected.SampleCount)
		}
	}

	od := doc.OrdinaryDimensions
	if len(od.Messages) == 0 {
		t.Fatal("no ordinaryDimensions messages")
	}
	p = MustCompile(od.FilterPattern)
	tr = Transformation{MetricValue: od.MetricValue, Dimensions: od.Dimensions}
	series := map[string]*stats{}
	for _, m := range od.Messages {
		pt, ok := p.Emit(m, tr)
		if !ok {
			continue
		}
		k := seriesKey(pt.Dimensions)
		if series[k] == nil {
			series[k] = &stats{}
		}
		series[k].add(pt.Value)
	}
	for _, want := range od.ExpectedSeries {
		got := series[seriesKey(want.Dimensions)]
		if got == nil || got.Sum != want.Sum || got.SampleCount != want.SampleCount {
			t.Errorf("ordinaryDimensions series %v: got %+v, want Sum %v SampleCount %v", want.Dimensions, got, want.Sum, want.SampleCount)
		}
	}
	for _, absent := range od.AbsentSeries {
		if got := series[seriesKey(absent.Dimensions)]; got != nil {
			t.Errorf("ordinaryDimensions: series %v exists (%+v), AWS has none", absent.Dimensions, got)
		}
	}
	if len(series) != len(od.ExpectedSeries) {
		t.Errorf("ordinaryDimensions: %d series, want %d", len(series), len(od.ExpectedSeries))
	}

	// System dimensions are the service's to attach; Emit tells it which
	// points are matches (they get them) and which are defaults (they
	// stay dimensionless).
	sd := doc.SystemDimensions
	p = MustCompile(sd.FilterPattern)
	tr = Transformation{MetricValue: sd.MetricValue, DefaultValue: sd.DefaultValue}
	const account = "<CALLER_ACCOUNT>"
	for _, c := range sd.Cases {
		series := map[string]*stats{}
		for _, m := range sd.Messages {
			pt, ok := p.Emit([]byte(m), tr)
			if !ok {
				continue
			}
			dims := map[string]string{}
			if pt.Matched {
				for _, d := range c.Emit {
					switch d {
					case "@aws.account":
						dims[d] = account
					case "@aws.region":
						dims[d] = doc.Region
					}
				}
			}
			k := seriesKey(dims)
			if series[k] == nil {
				series[k] = &stats{}
			}
			series[k].add(pt.Value)
		}
		for _, want := range c.ExpectedSeries {
			got := series[seriesKey(want.Dimensions)]
			if got == nil || got.Sum != want.Sum || got.SampleCount != want.SampleCount {
				t.Errorf("systemDimensions %v series %v: got %+v, want Sum %v", c.Emit, want.Dimensions, got, want.Sum)
			}
		}
	}
}

// TestRecordedValidation replays PutMetricFilter's accept/reject of
// metric values and dimensions (metric-filter-reference-validation-aws.json).
func TestRecordedValidation(t *testing.T) {
	var doc struct {
		Cases []struct {
			ID            string            `json:"id"`
			FilterPattern string            `json:"filterPattern"`
			MetricValue   string            `json:"metricValue"`
			DefaultValue  *float64          `json:"defaultValue"`
			Dimensions    map[string]string `json:"dimensions"`
			Expected      struct {
				Accepted  bool   `json:"accepted"`
				ErrorCode string `json:"errorCode"`
				Message   string `json:"message"`
			} `json:"expected"`
		} `json:"cases"`
	}
	readRecorded(t, "metric-filter-reference-validation-aws.json", &doc)
	if len(doc.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range doc.Cases {
		p := MustCompile(c.FilterPattern)
		err := ValidateTransformation(p, Transformation{MetricName: "m", MetricNamespace: "n", MetricValue: c.MetricValue, DefaultValue: c.DefaultValue, Dimensions: c.Dimensions})
		if c.Expected.Accepted {
			if err != nil {
				t.Errorf("%s: refused: %v", c.ID, err)
			}
			continue
		}
		var fe *Error
		if !errors.As(err, &fe) || fe.Code != c.Expected.ErrorCode || fe.Message != c.Expected.Message {
			t.Errorf("%s: got %v, want %s %q", c.ID, err, c.Expected.ErrorCode, c.Expected.Message)
		}
	}
}

func TestValidateTransformation(t *testing.T) {
	js := MustCompile(`{ $.a = 1 }`)
	sp := MustCompile(`[ip, user, status]`)
	terms := MustCompile(`ERROR`)
	for _, c := range []struct {
		p     *Pattern
		value string
		dims  map[string]string
		ok    bool
	}{
		{js, "1", nil, true},
		{js, "-2.5e3", nil, true},
		{js, "$.a.b[0]", nil, true},
		{js, "$.a[*]", nil, false},
		{js, "$status", nil, false},
		{js, "abc", nil, false},
		{sp, "$status", nil, true},
		{sp, "$2", nil, true},
		{sp, "$nope", nil, false},
		{sp, "$.a", nil, false},
		{terms, "1", nil, true},
		{terms, "$.a", nil, false},
		{js, "1", map[string]string{"A": "$.a", "B": "$.b", "C": "$.c"}, true},
		{js, "1", map[string]string{"A": "$.a", "B": "$.b", "C": "$.c", "D": "$.d"}, false},
		{sp, "1", map[string]string{"User": "$user"}, true},
		{sp, "1", map[string]string{"User": "$who"}, false},
	} {
		err := ValidateTransformation(c.p, Transformation{MetricValue: c.value, Dimensions: c.dims})
		if (err == nil) != c.ok {
			t.Errorf("ValidateTransformation(%s, %q, %v) = %v, want ok=%v", c.p, c.value, c.dims, err, c.ok)
		}
	}
}

func TestEmitSpaceDelimited(t *testing.T) {
	p := MustCompile(`[ip, user, status=4*, bytes]`)
	def := 0.0
	tr := Transformation{MetricValue: "$bytes", DefaultValue: &def, Dimensions: map[string]string{"User": "$user"}}
	for _, c := range []struct {
		msg  string
		want Point
		ok   bool
	}{
		{"10.0.0.1 alice 404 512", Point{Value: 512, Dimensions: map[string]string{"User": "alice"}, Matched: true}, true},
		{"10.0.0.1 alice 200 512", Point{Value: 0}, true},
		{"10.0.0.1 bob 403 many", Point{}, false},
	} {
		got, ok := p.Emit([]byte(c.msg), tr)
		if ok != c.ok || ok && (got.Value != c.want.Value || got.Matched != c.want.Matched || seriesKey(got.Dimensions) != seriesKey(c.want.Dimensions)) {
			t.Errorf("Emit(%q) = %+v, %v; want %+v, %v", c.msg, got, ok, c.want, c.ok)
		}
	}
}

func TestEmitJSONValues(t *testing.T) {
	p := MustCompile(`{ $.kind = "x" }`)
	def := 7.0
	tr := Transformation{MetricValue: "$.n", DefaultValue: &def}
	for msg, want := range map[string]float64{
		`{"kind":"x","n":3}`:      3,
		`{"kind":"x","n":"4.5"}`:  4.5,
		`{"kind":"x","n":null}`:   7,
		`{"kind":"x"}`:            7,
		`{"kind":"y","n":3}`:      7,
		`{"kind":"x","n":-1e2}`:   -100,
		`{"kind":"\u0078","n":2}`: 2,
	} {
		pt, ok := p.Emit([]byte(msg), tr)
		if !ok || pt.Value != want {
			t.Errorf("Emit(%s) = %v, %v; want %v", msg, pt.Value, ok, want)
		}
	}
	for _, msg := range []string{`{"kind":"x","n":"many"}`, `{"kind":"x","n":true}`, `{"kind":"x","n":{}}`} {
		if pt, ok := p.Emit([]byte(msg), tr); ok {
			t.Errorf("Emit(%s) = %v, want no point", msg, pt)
		}
	}
}
