package filterpattern

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// recorded is the shared folder of AWS's recorded filter-pattern behaviour.
const recorded = "../../../shared/testdata/filterpatterns/"

type recordedCase struct {
	ID      string `json:"id"`
	Request struct {
		FilterPattern    string   `json:"filterPattern"`
		LogEventMessages []string `json:"logEventMessages"`
	} `json:"request"`
	Response *struct {
		Matches []recordedMatch `json:"matches"`
	} `json:"response"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type recordedMatch struct {
	EventNumber     int               `json:"eventNumber"`
	EventMessage    string            `json:"eventMessage"`
	ExtractedValues map[string]string `json:"extractedValues"`
}

func readRecorded(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(recorded, name))
	if err != nil {
		t.Fatalf("the recorded AWS cases must be present at %s (the shared folder beside the repository): %v", recorded, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// testMetricFilter answers as AWS's TestMetricFilter: the matches, in
// order, with their extracted values.
func testMetricFilter(p *Pattern, msgs []string) []recordedMatch {
	out := []recordedMatch{}
	for i, m := range msgs {
		if ex, ok := p.Test([]byte(m)); ok {
			out = append(out, recordedMatch{EventNumber: i + 1, EventMessage: m, ExtractedValues: ex})
		}
	}
	return out
}

// TestRecordedAWS replays every TestMetricFilter case recorded on AWS.
func TestRecordedAWS(t *testing.T) {
	total, passed := 0, 0
	for _, file := range []string{"filter-pattern-aws.json", "filter-pattern-aws-edges.json", "filter-pattern-aws-boundaries.json"} {
		var doc struct {
			Cases []recordedCase `json:"cases"`
		}
		readRecorded(t, file, &doc)
		if len(doc.Cases) == 0 {
			t.Fatalf("%s holds no cases", file)
		}
		for _, c := range doc.Cases {
			total++
			ok := t.Run(file+"/"+c.ID, func(t *testing.T) {
				p, err := Compile(c.Request.FilterPattern)
				if c.Error != nil {
					var fe *Error
					if !errors.As(err, &fe) {
						t.Fatalf("Compile(%q) = %v, want error %q", c.Request.FilterPattern, err, c.Error.Message)
					}
					if fe.Message != c.Error.Message || fe.Code != c.Error.Code {
						t.Fatalf("Compile(%q) error = %s %q, want %s %q", c.Request.FilterPattern, fe.Code, fe.Message, c.Error.Code, c.Error.Message)
					}
					return
				}
				if err != nil {
					t.Fatalf("Compile(%q): %v", c.Request.FilterPattern, err)
				}
				got := testMetricFilter(p, c.Request.LogEventMessages)
				if !reflect.DeepEqual(got, c.Response.Matches) {
					t.Errorf("pattern %q:\n got %+v\nwant %+v", c.Request.FilterPattern, got, c.Response.Matches)
				}
				// A Set of the one pattern agrees.
				s := NewSet([]*Pattern{p})
				hits := make([]bool, 1)
				for i, m := range c.Request.LogEventMessages {
					s.MatchAll([]byte(m), hits)
					if hits[0] != p.Match([]byte(m)) {
						t.Errorf("Set and Match disagree on message %d %q", i+1, m)
					}
				}
			})
			if ok {
				passed++
			}
		}
	}
	t.Logf("%d of %d recorded cases pass", passed, total)
}
