package quota

import (
	"sort"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// Rank orders every account for model, best first: usable accounts first;
// then by tier (ULTRA > PRO > FREE > UNKNOWN); then by effective remaining
// for the model (known before unknown, more first); then least recently
// used; then by account id, so the order is deterministic. It reads the
// last known figures (even past their cache TTL) and does no I/O.
func (m *Manager) Rank(model string) []Candidate {
	idx := familyIndex(cloudcode.ModelFamily(model))
	now := m.clock.Now()
	accts := m.sortedAccounts()
	out := make([]Candidate, 0, len(accts))
	for _, a := range accts {
		s := a.snap.Load()
		cand := Candidate{AccountID: a.id, Label: s.status.Label, Tier: s.status.Tier, Check: m.checkOf(s, idx, model, now)}
		if n := a.lastUsed.Load(); n != 0 {
			cand.LastUsed = time.Unix(0, n)
		}
		out = append(out, cand)
	}
	sort.SliceStable(out, func(i, j int) bool { return rankLess(&out[i], &out[j]) })
	return out
}

// Best returns the usable candidate Rank would put first, in one pass and
// without sorting: the dashboard asks it every second, for 1000 accounts.
// ok is false when no account is usable for the model.
func (m *Manager) Best(model string) (best Candidate, ok bool) {
	idx := familyIndex(cloudcode.ModelFamily(model))
	now := m.clock.Now()
	for _, a := range m.sortedAccounts() {
		s := a.snap.Load()
		cand := Candidate{AccountID: a.id, Label: s.status.Label, Tier: s.status.Tier, Check: m.checkOf(s, idx, model, now)}
		if !cand.Check.Usable {
			continue
		}
		if n := a.lastUsed.Load(); n != 0 {
			cand.LastUsed = time.Unix(0, n)
		}
		if !ok || rankLess(&cand, &best) {
			best, ok = cand, true
		}
	}
	return best, ok
}

// rankLess reports whether a ranks before b.
func rankLess(a, b *Candidate) bool {
	if a.Check.Usable != b.Check.Usable {
		return a.Check.Usable
	}
	if a.Tier != b.Tier {
		return a.Tier > b.Tier
	}
	ra, rb := a.Check.Remaining, b.Check.Remaining
	if ra.Known != rb.Known {
		return ra.Known
	}
	if ra.Known && ra.Value != rb.Value {
		return ra.Value > rb.Value
	}
	if !a.LastUsed.Equal(b.LastUsed) {
		return a.LastUsed.Before(b.LastUsed)
	}
	return a.AccountID < b.AccountID
}
