package server

import (
	"context"

	"github.com/opentrail/opentrail/internal/console"
)

// historyDeps are the event history pages' dependencies: the store's
// lookup, and the key that signs NextTokens, which signs the pages' after
// tokens too (so a shared page link stays valid across restarts).
func (s *Server) historyDeps() (console.HistoryDeps, error) {
	key, err := s.tokenKey(context.Background())
	if err != nil {
		return console.HistoryDeps{}, err
	}
	return console.HistoryDeps{Events: s.store, TokenKey: key}, nil
}
