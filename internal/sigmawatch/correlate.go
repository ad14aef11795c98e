package sigmawatch

import (
	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/sigma"
	"github.com/opentrail/opentrail/internal/store"
)

// correlator runs a rule set's correlation rules over the plain rules'
// matches.
type correlator struct{}

func newCorrelator(rs *sigma.Ruleset) *correlator { return &correlator{} }

// observe feeds one event and the plain rules it matched to the
// correlations and appends the signals of those that fire.
func (c *correlator) observe(ev *store.Event, matched []*sigma.Rule, sigs []findings.Signal) []findings.Signal {
	return sigs
}
