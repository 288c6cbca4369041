package quota

import (
	"sort"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// Rank orders every account for model, best first, under the manager's
// policy (Options.Policy): usable accounts first under every policy, then
// the policy's own order (see Policy), with the account id as the last
// tie-breaker so the order is deterministic. Under PolicyBalanced: tier
// (ULTRA > PRO > FREE > UNKNOWN), then effective remaining for the model
// (known before unknown, more first), then least recently used. It reads
// the last known figures (even past their cache TTL) and does no I/O.
func (m *Manager) Rank(model string) []Candidate {
	idx := familyIndex(cloudcode.ModelFamily(model))
	now := m.clock.Now()
	accts := m.sortedAccounts()
	out := make([]Candidate, 0, len(accts))
	for _, a := range accts {
		out = append(out, m.candidate(a, idx, model, now))
	}
	p := m.opt.Policy
	sort.SliceStable(out, func(i, j int) bool { return p.less(&out[i], &out[j]) })
	return out
}

// Best returns the usable candidate Rank would put first, in one pass and
// without sorting: the dashboard asks it every second, for 1000 accounts.
// ok is false when no account is usable for the model.
func (m *Manager) Best(model string) (best Candidate, ok bool) {
	idx := familyIndex(cloudcode.ModelFamily(model))
	now := m.clock.Now()
	p := m.opt.Policy
	// Two slots, swapped: the policies' criteria take pointers, and one
	// allocation for the pair beats one per account.
	pair := new([2]Candidate)
	cand, top := &pair[0], &pair[1]
	for _, a := range m.sortedAccounts() {
		*cand = m.candidate(a, idx, model, now)
		if !cand.Check.Usable {
			continue
		}
		if !ok || p.less(cand, top) {
			cand, top, ok = top, cand, true
		}
	}
	if !ok {
		return Candidate{}, false
	}
	return *top, true
}

// candidate is a's Candidate for model (in family index idx) at now.
func (m *Manager) candidate(a *account, idx int, model string, now time.Time) Candidate {
	s := a.snap.Load()
	var used time.Time
	if n := a.lastUsed.Load(); n != 0 {
		used = time.Unix(0, n)
	}
	if idx < 0 {
		return newCandidate(a.id, &s.status, nil, idx, model, now, m.opt.Thresholds, used)
	}
	fq := s.status.Families[idx]
	m.forward(a, s, idx, &fq, now)
	return newCandidate(a.id, &s.status, &fq, idx, model, now, m.opt.Thresholds, used)
}

// Policy returns the routing policy Rank and Best order by.
func (m *Manager) Policy() Policy { return m.opt.Policy }

// rankLess reports whether a ranks before b under the balanced policy.
func rankLess(a, b *Candidate) bool { return PolicyBalanced.less(a, b) }

// Standing is where an account stands in the ranking for one family
// under the manager's policy, and why: what the dashboard shows for the
// selected account. Why is computed here, from the criterion that
// decided, so the words cannot drift from the order.
type Standing struct {
	Family cloudcode.Family
	Policy Policy
	// Position is the account's place among the accounts usable for the
	// family (1: a new conversation goes to it); 0 when it is not usable.
	Position int
	// Usable counts the accounts usable for the family.
	Usable int
	// Why says briefly what decided the position (or why the account is
	// not routed), naming the neighbour it was compared with.
	Why string
}

// Standings returns the account's standing for each tracked family, in
// the order of cloudcode.Families; nil for an unknown account. It ranks
// every account once per family and does no I/O.
func (m *Manager) Standings(accountID int64) []Standing {
	if m.lookup(accountID) == nil {
		return nil
	}
	return StandingsOf(m.opt.Policy, m.GetAllQuotas(), accountID)
}

// StandingsOf is Standings over statuses as GetAllQuotas returns them
// (each judged at its At, with its Thresholds), ranked under p: for a
// view that holds the statuses already, or a fake engine. nil when
// accountID is not among them.
func StandingsOf(p Policy, statuses []Status, accountID int64) []Standing {
	found := false
	for i := range statuses {
		found = found || statuses[i].AccountID == accountID
	}
	if !found {
		return nil
	}
	out := make([]Standing, 0, len(cloudcode.Families))
	cands := make([]Candidate, 0, len(statuses))
	var now time.Time
	for idx, f := range cloudcode.Families {
		cands = cands[:0]
		for i := range statuses {
			s := &statuses[i]
			now = s.At
			cands = append(cands, newCandidate(s.AccountID, s, &s.Families[idx], idx, "", s.At, s.Thresholds, s.LastUsed))
		}
		sort.SliceStable(cands, func(i, j int) bool { return p.less(&cands[i], &cands[j]) })
		out = append(out, standing(p, f, cands, accountID, now))
	}
	return out
}

// standing explains accountID's place in ranked, a sorted ranking.
func standing(p Policy, f cloudcode.Family, ranked []Candidate, accountID int64, now time.Time) Standing {
	st := Standing{Family: f, Policy: p}
	at := -1
	for i := range ranked {
		if ranked[i].Check.Usable {
			st.Usable++
		}
		if ranked[i].AccountID == accountID {
			at = i
		}
	}
	if at < 0 {
		return st
	}
	c := &ranked[at]
	switch {
	case !c.Check.Usable:
		st.Why = "not routed: " + c.Check.Reason
	case st.Usable == 1:
		st.Position = 1
		st.Why = "the only account that can take it"
	case at == 0:
		st.Position = 1
		next := &ranked[1]
		st.Why = "ahead of " + next.Label + ": " + decidedBy(p, c, next, now)
	default:
		st.Position = at + 1
		prev := &ranked[at-1]
		st.Why = "behind " + prev.Label + ": " + decidedBy(p, prev, c, now)
	}
	return st
}

// decidedBy says why a ranks before b under p.
func decidedBy(p Policy, a, b *Candidate, now time.Time) string {
	_, i := p.compare(a, b)
	if i < 0 {
		return "equal on every count"
	}
	return p.criteria()[i].ahead(a, b, now)
}
