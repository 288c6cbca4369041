package cloudcodetest

import (
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// Other clients of an account (the IDE, a second machine) spend its quota
// behind the proxy's back: the proxy never sees those requests, only the
// figures falling faster than its own spending explains. SpendOutside does
// it on demand; Options.OutsideShare does it alongside every generate call.

// SpendOutside takes up to n units from both of the family's buckets of
// the account, as another client's requests would, and returns how many
// it took (fewer when a bucket runs dry first).
func (s *Server) SpendOutside(email string, f cloudcode.Family, n int) int {
	a := s.mustAccount(email)
	now := s.clk.Now()
	took := 0
	for range n {
		if _, spent := s.consume(a, f, now); spent {
			break
		}
		took++
	}
	a.mu.Lock()
	a.outsideSpent[f] += took
	a.mu.Unlock()
	return took
}

// OutsideSpent returns how many units other clients took from the
// account's family (SpendOutside and OutsideShare), for harnesses that
// report how much of the drain was not the proxy's.
func (s *Server) OutsideSpent(email string, f cloudcode.Family) int {
	a := s.mustAccount(email)
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.outsideSpent[f]
}

// spendAlongside spends, as a generate call of the account arrives and
// before it takes its unit, what other clients spent meanwhile with
// Options.OutsideShare set: share/(1−share) units per call on average, so
// that other clients take that share of all units spent. When they take
// the last unit the call finds the bucket empty: the 429 no figure read
// before the call could have foreseen. It is deterministic: a running
// balance per (account, family), one unit whenever it reaches one.
func (s *Server) spendAlongside(a *account, f cloudcode.Family, now time.Time) {
	share := s.opts.OutsideShare
	if share <= 0 || share >= 1 {
		return
	}
	a.mu.Lock()
	a.outsideDue[f] += share / (1 - share)
	n := int(a.outsideDue[f])
	a.outsideDue[f] -= float64(n)
	a.mu.Unlock()
	for range n {
		if _, spent := s.consume(a, f, now); spent {
			return
		}
		a.mu.Lock()
		a.outsideSpent[f]++
		a.mu.Unlock()
	}
}
