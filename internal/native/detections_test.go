package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/eventrules"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/sigmawatch"
)

type fakeSigmaRunner struct {
	since, until time.Time
	runs         int
	err          error
}

func (f *fakeSigmaRunner) Run(_ context.Context, since, until time.Time, progress func(sigmawatch.Progress)) (*sigmawatch.RunResult, error) {
	f.since, f.until = since, until
	f.runs++
	if f.err != nil {
		return nil, f.err
	}
	progress(sigmawatch.Progress{Read: 10, Done: true})
	return &sigmawatch.RunResult{Read: 10, InRange: 8, Signals: 3, New: 2, Created: 1}, nil
}

type fakeRuleRunner struct{ runs int }

func (f *fakeRuleRunner) Run(_ context.Context, since, until time.Time, progress func(eventrules.Progress)) (*eventrules.RunResult, error) {
	f.runs++
	progress(eventrules.Progress{Read: 10, Done: true})
	return &eventrules.RunResult{Read: 10, InRange: 8, Signals: 4, New: 4, Created: 2}, nil
}

// POST /v1/detections/runs runs the detectors asked for (both by
// default) over the range, answers their counts, is the management
// account's only, and says what is wrong with a bad request.
func TestDetectionsRuns(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	sg, er := &fakeSigmaRunner{}, &fakeRuleRunner{}
	nat, err := New(Config{Store: servicetest.NewStore(), TokenKey: servicetest.TokenKey,
		Detections: Detections{Sigma: sg, EventRules: er}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r := awsapi.NewPathRouter(Service, nil, quiet, NotFound("/v1/s3-notifications"))
	nat.Register(r)
	call := func(management bool, body string) (int, string) {
		req := httptest.NewRequest("POST", "/v1/detections/runs", strings.NewReader(body))
		p := *servicetest.Principal(servicetest.AcctA)
		p.Management = management
		req = req.WithContext(awsapi.WithCaller(req.Context(), &awsapi.Caller{Principal: &p, Region: servicetest.RegionA,
			SourceIP: "198.51.100.23", UserAgent: "test", RequestID: "req-1"}))
		w := httptest.NewRecorder()
		r.Handle(w, req, []byte(body))
		return w.Code, w.Body.String()
	}
	if code, body := call(false, `{"Since":"2024-01-01T00:00:00Z"}`); code != 403 || !strings.Contains(body, "management account") || sg.runs+er.runs != 0 {
		t.Errorf("a member account's run: %d %s", code, body)
	}
	code, body := call(true, `{"Since":"2024-01-01T00:00:00Z","Until":"2024-02-01T00:00:00Z"}`)
	if code != 200 {
		t.Fatalf("run: %d %s", code, body)
	}
	var out detectionsRunResponse
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Runs) != 2 || out.Runs[0].Detector != "sigma" || out.Runs[1].Detector != "eventrule" ||
		out.Runs[0].Findings != 1 || out.Runs[1].Signals != 4 || out.Signals != 7 || out.New != 6 || out.Findings != 3 {
		t.Errorf("answer %s", body)
	}
	if !sg.since.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) || !sg.until.Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("sigma ran over [%s, %s)", sg.since, sg.until)
	}
	if code, body := call(true, `{"Since":"2024-01-01T00:00:00Z","Detectors":["eventrule"]}`); code != 200 || sg.runs != 1 || er.runs != 2 ||
		strings.Contains(body, `"sigma"`) {
		t.Errorf("eventrule alone: %d %s (sigma runs %d)", code, body, sg.runs)
	}
	for body, want := range map[string]string{
		`[]`:                    "JSON object",
		`{"Since":"yesterday"}`: "RFC 3339",
		`{"Since":"2024-01-01T00:00:00Z","Until":"2023-01-01T00:00:00Z"}`: "not after",
		`{"Since":"2024-01-01T00:00:00Z","Detectors":["yara"]}`:           "not one of sigma, eventrule",
		`{"Since":"2024-01-01T00:00:00Z","Detectors":["sigma","sigma"]}`:  "twice",
	} {
		if code, got := call(true, body); code != 400 || !strings.Contains(got, want) {
			t.Errorf("%s: %d %s, want 400 with %q", body, code, got, want)
		}
	}
	// A detector without rules: an error when named, skipped (saying
	// why) when the request names none.
	sg.err = fmt.Errorf("run: %w", sigmawatch.ErrNoRules)
	if code, body := call(true, `{"Since":"2024-01-01T00:00:00Z","Detectors":["sigma"]}`); code != 400 || !strings.Contains(body, "opentrail sigma load") {
		t.Errorf("a run without rules: %d %s", code, body)
	}
	code, body = call(true, `{"Since":"2024-01-01T00:00:00Z"}`)
	out = detectionsRunResponse{}
	if err := json.Unmarshal([]byte(body), &out); code != 200 || err != nil || len(out.Runs) != 2 ||
		!strings.Contains(out.Runs[0].Skipped, "opentrail sigma load") || out.Runs[1].Skipped != "" || out.Findings != 2 {
		t.Errorf("a default run with a detector without rules: %d %s", code, body)
	}
	sg.err = errors.New("read after 5: disk on fire")
	if code, body := call(true, `{"Since":"2024-01-01T00:00:00Z"}`); code != 500 || strings.Contains(body, "disk on fire") {
		t.Errorf("a failed run: %d %s", code, body)
	}
}
