package findings_test

import (
	"context"
	"errors"
	"testing"

	"github.com/opentrail/opentrail/internal/findings"
)

// plainSink records without counting.
type plainSink struct {
	got []findings.Signal
	err error
}

func (p *plainSink) Record(_ context.Context, sigs []findings.Signal) error {
	p.got = append(p.got, sigs...)
	return p.err
}

// countingSink says it added one signal and one finding per call.
type countingSink struct{ plainSink }

func (c *countingSink) RecordCounted(ctx context.Context, sigs []findings.Signal) (findings.Recorded, error) {
	c.got = append(c.got, sigs...)
	return findings.Recorded{Signals: 1, Findings: 1}, nil
}

func TestRecordCounting(t *testing.T) {
	ctx := context.Background()
	sigs := []findings.Signal{{Detector: "d", RuleID: "a", Key: "1"}, {Detector: "d", RuleID: "a", Key: "2"}}

	p := &plainSink{}
	rec, err := findings.RecordCounting(ctx, p, sigs)
	if err != nil || rec != (findings.Recorded{Signals: 2}) || len(p.got) != 2 {
		t.Errorf("plain sink: %+v, %v, recorded %d; want every signal new, no finding", rec, err, len(p.got))
	}

	c := &countingSink{}
	rec, err = findings.RecordCounting(ctx, c, sigs)
	if err != nil || rec != (findings.Recorded{Signals: 1, Findings: 1}) || len(c.got) != 2 {
		t.Errorf("counting sink: %+v, %v, recorded %d; want its own count", rec, err, len(c.got))
	}

	boom := errors.New("boom")
	if rec, err := findings.RecordCounting(ctx, &plainSink{err: boom}, sigs); !errors.Is(err, boom) || rec != (findings.Recorded{}) {
		t.Errorf("failing sink: %+v, %v; want nothing and its error", rec, err)
	}
}
