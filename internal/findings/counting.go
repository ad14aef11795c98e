package findings

import "context"

// CountingSink is a Sink that says what each Record added (*Store
// implements it).
type CountingSink interface {
	RecordCounted(ctx context.Context, sigs []Signal) (Recorded, error)
}

// RecordCounting records sigs in s and says what they added, for a run
// over history to report: a CountingSink says so itself; with another
// Sink every signal counts as new and no finding as created.
func RecordCounting(ctx context.Context, s Sink, sigs []Signal) (Recorded, error) {
	if c, ok := s.(CountingSink); ok {
		return c.RecordCounted(ctx, sigs)
	}
	if err := s.Record(ctx, sigs); err != nil {
		return Recorded{}, err
	}
	return Recorded{Signals: len(sigs)}, nil
}
