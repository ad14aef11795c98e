package importer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// StoreSink writes into a store opened in this process.
type StoreSink struct{ Store *store.Store }

// Write appends recs; the store dedupes on eventID.
func (s StoreSink) Write(ctx context.Context, recs []*event.Record) (int, int, error) {
	dup, err := s.Store.Append(ctx, recs, time.Time{})
	if err != nil {
		return 0, 0, err
	}
	d := 0
	for _, x := range dup {
		if x {
			d++
		}
	}
	return len(recs) - d, d, nil
}

// ErrStoreInUse means another process — usually `opentrail serve` — holds
// the data directory.
var ErrStoreInUse = errors.New("the data directory is in use by another process")

// OpenStore opens the store in dir for an import with no retention (an
// import keeps every event it is given), turning DuckDB's lock conflict
// into ErrStoreInUse.
func OpenStore(ctx context.Context, dir string) (*store.Store, error) {
	s, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		if strings.Contains(err.Error(), "lock") {
			return nil, fmt.Errorf("open store %s: %w (is `opentrail serve` running on it? stop it, or import through it with --endpoint): %v", dir, ErrStoreInUse, err)
		}
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	return s, nil
}
