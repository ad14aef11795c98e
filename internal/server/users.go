package server

import (
	"context"
	"fmt"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/users"
)

// newUsers opens the console users' store in the event store's database.
// Their sign-ins are recorded through the ingester, fsynced before the
// sign-in is answered.
func (s *Server) newUsers(ctx context.Context) error {
	home := s.dir.ManagementAccount()
	if home == "" && len(s.cfg.Principals) > 0 {
		home = s.cfg.Principals[0].Account
	}
	u, err := users.Open(ctx, users.Config{
		DB:                s.store.DB(),
		Recorder:          generatedAppender{in: s.ingester, log: s.log},
		Local:             s.dir.IsLocal(),
		ManagementAccount: s.dir.ManagementAccount(),
		HomeAccount:       home,
		Region:            "us-east-1",
		Clock:             s.clock,
		Logger:            s.log,
		CheckPolicy:       s.authz.Compile,
	})
	if err != nil {
		return fmt.Errorf("open console users: %w", err)
	}
	s.users = u
	return nil
}

// mayManageUsers says whether API principal p may manage the console
// users of account: the organisation's management account (local mode's
// local account) manages every account's; without an organisation, each
// account manages its own.
func (s *Server) mayManageUsers(p *auth.Principal, account string) bool {
	if p == nil {
		return false
	}
	if p.Management {
		return true
	}
	return s.dir.ManagementAccount() == "" && (account == "" || account == p.AccountID)
}
