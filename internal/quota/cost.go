package quota

import (
	"context"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/store"
)

// The upstream reports what is left as fractions; what one request costs
// of a bucket differs by plan, family and window. The engine learns it
// from the proxy's own spending (the ledger): when new figures arrive,
// the requests the proxies sent since the previous ones are set against
// how far each bucket fell within the same window. That is a reading;
// the cost is estimated from the newest readings of each (plan, family,
// window), shared through the store by every process on the database and
// kept across restarts.
//
// Other clients of an account (the IDE) spend it too, and the proxy does
// not see their requests: a reading taken while they did is too high.
// Readings can only err high (the ledger counts a request once it
// completed, after the upstream charged it), except by the coarse steps
// some figures come in, so the estimator takes the requests-weighted
// median of the readings' costs, drops those above twice it (a burst of
// spending elsewhere), and divides what the rest fell by their requests:
// a ratio of sums, so the noise at each reading's edges (a request in
// flight while the figures were read) cancels out from one to the next.
// Spending elsewhere that never stops inflates every reading alike: the
// estimate then runs ahead of the figures, and an account is re-checked
// sooner, never later.

// The estimator's bounds.
const (
	// maxReadings is how many readings per (plan, family, window) are
	// kept, in memory and in the store.
	maxReadings = 24
	// minLearnRequests is how many requests the readings must cover
	// before the cost counts as learned (until then the prior stands).
	minLearnRequests = 1
	// outlierFactor is how far above the median a reading's cost must be
	// to be taken for spending elsewhere and left out.
	outlierFactor = 2
)

// The prior: a bucket's size in requests until readings say otherwise.
// Deliberately small: an estimate that falls too fast costs a quota read
// (the account is re-checked early), one that falls too slowly costs a
// 429. The first readings replace it, and the engine asks for them early
// (learnSoon).
const (
	priorUnits5h     = 20
	priorUnitsWeekly = 100
)

// The windows, indexed as in FamilyQuota's buckets.
const (
	win5h = iota
	winWeekly
	numWindows
)

// windowName returns the store's name of window index w.
func windowName(w int) cloudcode.Window {
	if w == winWeekly {
		return cloudcode.WindowWeekly
	}
	return cloudcode.Window5h
}

const numTiers = int(cloudcode.TierUltra) + 1

// reading is one observation: a bucket fell by fell over requests.
type reading struct {
	at             time.Time
	requests, fell float64
}

// unitCost is what the engine believes one request costs of a bucket.
type unitCost struct {
	perRequest float64 // a fraction of the bucket
	learned    bool    // from readings, not the prior
}

// costTable holds every bucket's cost, replaced whole (copy on write) so
// the hot path reads it with one atomic load.
type costTable [numTiers][len(cloudcode.Families)][numWindows]unitCost

// of returns the cost of tier's family index i, window w.
func (t *costTable) of(tier cloudcode.Tier, i, w int) unitCost {
	if tier < 0 || int(tier) >= numTiers || i < 0 || i >= len(t[tier]) || w < 0 || w >= numWindows {
		return unitCost{}
	}
	return t[tier][i][w]
}

// costModel gathers the readings and publishes the cost table.
type costModel struct {
	mu       sync.Mutex
	readings [numTiers][len(cloudcode.Families)][numWindows][]reading
	pending  []store.CostReading // this process's readings, not yet stored
	seen     int64               // the store's cost version last loaded; -1 none
	table    atomic.Pointer[costTable]
}

func (c *costModel) init() {
	c.seen = -1
	c.publish()
}

// priorCost is the prior of window w.
func priorCost(w int) unitCost {
	if w == winWeekly {
		return unitCost{perRequest: 1.0 / priorUnitsWeekly}
	}
	return unitCost{perRequest: 1.0 / priorUnits5h}
}

// publish recomputes the table from the readings. The caller holds mu, or
// is init.
func (c *costModel) publish() {
	t := new(costTable)
	for tier := range t {
		for i := range t[tier] {
			for w := range t[tier][i] {
				if v, ok := estimateCost(c.readings[tier][i][w]); ok {
					t[tier][i][w] = unitCost{perRequest: v, learned: true}
				} else {
					t[tier][i][w] = priorCost(w)
				}
			}
		}
	}
	c.table.Store(t)
}

// estimateCost is the estimator described above: the ratio of sums over
// the readings not far above their weighted median. ok is false when the
// readings cover too few requests.
func estimateCost(rs []reading) (float64, bool) {
	var total float64
	for _, r := range rs {
		total += r.requests
	}
	if len(rs) == 0 || total < minLearnRequests {
		return 0, false
	}
	sorted := make([]reading, len(rs))
	copy(sorted, rs)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].fell/sorted[i].requests < sorted[j].fell/sorted[j].requests })
	var median, acc float64
	for _, r := range sorted {
		acc += r.requests
		if acc >= total/2 {
			median = r.fell / r.requests
			break
		}
	}
	var fell, reqs float64
	for _, r := range sorted {
		if r.fell/r.requests > outlierFactor*median && median > 0 {
			break
		}
		fell += r.fell
		reqs += r.requests
	}
	return fell / reqs, true
}

// add takes new readings of this process (to be stored) and republishes.
func (c *costModel) add(tier cloudcode.Tier, i int, rs [numWindows]reading, at time.Time) {
	if tier < 0 || int(tier) >= numTiers || i < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for w, r := range rs {
		if r.requests <= 0 {
			continue
		}
		c.readings[tier][i][w] = keepNewest(append(c.readings[tier][i][w], r))
		c.pending = append(c.pending, store.CostReading{Tier: tier.String(), Family: cloudcode.Families[i].String(),
			Window: string(windowName(w)), At: at, Requests: r.requests, Fell: r.fell})
	}
	c.publish()
}

// keepNewest drops the oldest readings beyond maxReadings.
func keepNewest(rs []reading) []reading {
	if over := len(rs) - maxReadings; over > 0 {
		rs = append(rs[:0], rs[over:]...)
	}
	return rs
}

// flushReadings stores this process's new readings; on failure they are
// kept for the next flush (the cost is already in use here).
func (m *Manager) flushReadings(ctx context.Context) {
	if m.ls == nil {
		return
	}
	m.costs.mu.Lock()
	p := m.costs.pending
	m.costs.pending = nil
	m.costs.mu.Unlock()
	if len(p) == 0 {
		return
	}
	if err := m.ls.AddCostReadings(ctx, p, maxReadings); err != nil {
		m.costs.mu.Lock()
		if len(m.costs.pending) < 4*maxReadings {
			m.costs.pending = append(p, m.costs.pending...)
		}
		m.costs.mu.Unlock()
		if ctx.Err() == nil {
			m.warnLedger(err)
		}
	}
}

// loadCosts reads every process's readings from the store when its cost
// version moved (or always, with force), replacing the ones in memory;
// this process's unwritten readings stay on top.
func (m *Manager) loadCosts(ctx context.Context, force bool) error {
	if m.ls == nil {
		return nil
	}
	v, err := m.ls.CostVersion(ctx)
	if err != nil {
		return err
	}
	m.costs.mu.Lock()
	seen := m.costs.seen
	m.costs.mu.Unlock()
	if !force && v == seen {
		return nil
	}
	stored, err := m.ls.CostReadings(ctx)
	if err != nil {
		return err
	}
	m.costs.mu.Lock()
	defer m.costs.mu.Unlock()
	var next [numTiers][len(cloudcode.Families)][numWindows][]reading
	for _, r := range append(stored, m.costs.pending...) {
		tier, i, w := cloudcode.ParseTier(r.Tier), familyIndex(cloudcode.ParseFamily(r.Family)), windowIndex(cloudcode.Window(r.Window))
		if i < 0 || w < 0 || r.Requests <= 0 || math.IsNaN(r.Fell) {
			continue
		}
		next[tier][i][w] = keepNewest(append(next[tier][i][w], reading{at: r.At, requests: r.Requests, fell: r.Fell}))
	}
	m.costs.readings = next
	m.costs.seen = v
	m.costs.publish()
	return nil
}

// windowIndex returns the index of window w, -1 for an unknown one.
func windowIndex(w cloudcode.Window) int {
	switch w {
	case cloudcode.Window5h:
		return win5h
	case cloudcode.WindowWeekly:
		return winWeekly
	}
	return -1
}

// learnEvery bounds how often an account whose requests' cost is not
// learned yet is synced early to learn it (learnSoon).
const learnEvery = 10 * time.Second

// learnSoon asks for an early sync of an account that just spent a
// request whose cost the engine has not learned (only the prior stands):
// the sync's reading teaches it for every account of the same plan, so
// the estimates that decide when to re-check stop guessing after the
// first requests. At most once per learnEvery per account.
func (m *Manager) learnSoon(a *account, i int, now time.Time) {
	tier := a.snap.Load().status.Tier
	if m.costs.table.Load().of(tier, i, win5h).learned {
		return
	}
	last := a.learnAsked.Load()
	if last != 0 && now.UnixNano()-last < int64(learnEvery) {
		return
	}
	if a.learnAsked.CompareAndSwap(last, now.UnixNano()) {
		m.ResyncSoon(a.id)
	}
}

// CostPerRequest returns what the engine believes one request costs of
// the bucket of tier, family f and window w (a fraction), and whether it
// was learned from readings (else it is the prior).
func (m *Manager) CostPerRequest(tier cloudcode.Tier, f cloudcode.Family, w cloudcode.Window) (float64, bool) {
	c := m.costs.table.Load().of(tier, familyIndex(f), windowIndex(w))
	return c.perRequest, c.learned
}
