package event_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// parseOutcome is what a body's records parse to, in order, and the body's
// own error.
type parseOutcome struct {
	recs    []*event.Record
	repairs [][]event.Repair
	errs    []string
	err     string
}

var bodyOpts = event.LenientOptions{Account: "123456789012", Region: "us-east-1", Time: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}

// outcome collects what read reports: read calls its argument with each
// record's parse results. The body "stop-at-third" makes that callback
// fail on the third record.
func outcome(body []byte, read func(each func(*event.Record, []event.Repair, error) error) error) parseOutcome {
	var o parseOutcome
	err := read(func(rec *event.Record, reps []event.Repair, err error) error {
		o.add(rec, reps, err)
		if len(o.recs) == 3 && strings.Contains(string(body), "stop-at-third") {
			return errors.New("stop")
		}
		return nil
	})
	if err != nil {
		o.err = err.Error()
	}
	return o
}

func viaParseBody(body []byte, limit int) parseOutcome {
	return outcome(body, func(each func(*event.Record, []event.Repair, error) error) error {
		return event.ParseBody(body, limit, bodyOpts, each)
	})
}

func viaSplitBody(body []byte, limit int) parseOutcome {
	return outcome(body, func(each func(*event.Record, []event.Repair, error) error) error {
		return event.SplitBody(body, limit, func(raw []byte) error {
			return each(event.ParseLenient(raw, bodyOpts))
		})
	})
}

func (o *parseOutcome) add(rec *event.Record, reps []event.Repair, err error) {
	o.recs = append(o.recs, rec)
	o.repairs = append(o.repairs, reps)
	msg := ""
	if err != nil {
		msg = fmt.Sprintf("%T %v", err, err)
	}
	o.errs = append(o.errs, msg)
}

func sameOutcome(t *testing.T, name string, body []byte, limit int) {
	t.Helper()
	got, want := viaParseBody(body, limit), viaSplitBody(body, limit)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: ParseBody differs from SplitBody+ParseLenient:\n got %+v\nwant %+v", name, got, want)
	}
}

// TestParseBodyMatchesSplitBody checks the one-pass reader against the
// two-pass one on real CloudTrail files and on bodies that are wrong in
// every way a split or a record can be.
func TestParseBodyMatchesSplitBody(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/testdata/public/*/*.json")
	more, _ := filepath.Glob("../../../shared/testdata/public/*/*.ndjson")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no files under ../../../shared/testdata/public")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sameOutcome(t, filepath.Base(f), b, 0)
	}

	good := base
	noID := strings.Replace(base, `"eventID":`, `"eventIDx":`, 1)
	badTime := strings.Replace(base, `"eventTime":"`, `"eventTime":"x`, 1)
	bodies := map[string]string{
		"empty":            ``,
		"spaces":           " \n ",
		"one":              `{"Records":[` + good + `]}`,
		"spaced":           " {\n \"Records\" : [ \n" + good + " ,\n " + good + " \n] \n} \n",
		"no records":       `{"Records":[]}`,
		"repairable":       `{"Records":[` + good + `,` + noID + `,` + badTime + `]}`,
		"stop-at-third":    `{"Records":[` + good + `,` + good + `,` + good + `,` + good + `]} `,
		"syntax in record": `{"Records":[` + good + `,{"eventVersion":1.0,}]}`,
		"unterminated":     `{"Records":[` + good,
		"no comma":         `{"Records":[` + good + good + `]}`,
		"not object":       `{"Records":[` + good + `,3]}`,
		"trailing member":  `{"Records":[` + good + `],"x":1}`,
		"trailing data":    `{"Records":[` + good + `]}x`,
		"records string":   `{"Records":"x"}`,
		"ndjson":           good + "\n" + noID + "\n",
		"array":            `[` + good + `]`,
		"not a record":     `{"Records":[{"a":1}]}`,
		"bad utf8":         `{"Records":[` + strings.Replace(good, `"eventName":"`, "\"eventName\":\"\xff", 1) + `]}`,
		"deep":             `{"Records":[{"a":` + strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200) + `}]}`,
	}
	for name, b := range bodies {
		sameOutcome(t, name, []byte(b), 0)
	}
	sameOutcome(t, "over the limit", []byte(`{"Records":[`+good+`,`+good+`,`+good+`]}`), 2)
	sameOutcome(t, "at the limit", []byte(`{"Records":[`+good+`,`+good+`]}`), 2)
}

// FuzzParseBody checks that ParseBody and SplitBody with ParseLenient agree
// on every body. The seed corpus is in testdata/fuzz/FuzzParseBody.
func FuzzParseBody(f *testing.F) {
	f.Add([]byte(`{"Records":[`+base+`]}`), 0)
	f.Add([]byte(`{"Records":[`+base+`,`+base+`]}`), 1)
	f.Fuzz(func(t *testing.T, body []byte, limit int) {
		if limit > 50 {
			limit = 50
		}
		sameOutcome(t, "fuzz", body, limit)
	})
}
