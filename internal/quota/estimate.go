package quota

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/store"
)

// Between two syncs an account's figures are estimated: the last figure
// read, less the learned cost (cost.go) of every request the proxies
// completed on the account since (the ledger: this process's own count and
// the other processes' flushed spending). An estimate never raises a
// figure; the next sync replaces it. Every view of a Status the engine
// hands out (GetAllQuotas, Account, Rank, CheckQuota) carries the
// estimate, marked (FamilyQuota.Estimated, Check.Estimated), so the
// dashboard, status, metrics and the proxy's decisions all see the same.
//
// Each bucket's estimate starts from an anchor: the figure it was last
// set to and the request counts at that moment. A sync moves the anchor
// to its new figure, with one exception: figures in coarse steps (20 %)
// say only that what is left lies within one step below them, so an
// estimate that still lies within the step of an unchanged coarse
// reading is kept, not reset to the reading (which would undo the
// requests the step did not show). The same anchors give the cost
// readings: the requests between two anchors against how far the bucket
// fell; for coarse figures only between two readings where the figure
// changed (a step boundary), so each reading spans whole steps.

// anchor is where one bucket's estimate starts.
type anchor struct {
	set     bool
	value   float64   // the figure the estimate starts from
	reset   time.Time // the window it belongs to
	at      time.Time // when that figure was read
	own     int64     // this process's charged requests on the family then
	changed bool      // set at a reading that differed from the one before
	last    float64   // the last figure read, to tell a change
}

// recentSize is how many completion times recentRing keeps: enough to
// place this process's requests around a figure another process read a
// moment ago.
const recentSize = 64

// recentRing remembers the completion times of an account's last charged
// requests on a family, lock-free.
type recentRing struct {
	n atomic.Uint64
	t [recentSize]atomic.Int64 // unix nanoseconds
}

func (r *recentRing) note(at time.Time) {
	i := r.n.Add(1) - 1
	r.t[i%recentSize].Store(at.UnixNano())
}

// after counts the remembered completions after t (at most recentSize).
func (r *recentRing) after(t time.Time) int64 {
	tn := t.UnixNano()
	var n int64
	for i := range r.t {
		if v := r.t[i].Load(); v != 0 && v > tn {
			n++
		}
	}
	return n
}

// ownAt is how many charged requests of family index i this process had
// completed at t (its count now, less those completed after t).
func (a *account) ownAt(i int, t time.Time) int64 {
	return a.spent[i].Load() - a.recent[i].after(t)
}

// spendView is the other processes' recent spending, as last read.
type spendView struct {
	rows []store.SpendRow
}

// othersBetween sums what the other processes charged to (account,
// family index i) in (from, to]; a zero to means up to now.
func (v *spendView) othersBetween(id int64, i int, from, to time.Time) int64 {
	if v == nil {
		return 0
	}
	fam := cloudcode.Families[i].String()
	var n int64
	for _, r := range v.rows {
		if r.AccountID == id && r.Family == fam && r.At.After(from) && (to.IsZero() || !r.At.After(to)) {
			n += r.Charged
		}
	}
	return n
}

// buckets returns pointers to fq's two buckets, by window index.
func buckets(fq *FamilyQuota) [numWindows]*BucketQuota {
	return [numWindows]*BucketQuota{&fq.FiveHour, &fq.Weekly}
}

// since is how many requests the proxies completed on family index i of
// a since anchor an: this process's own and the other processes'.
func (a *account) since(i, w int, an *anchor) int64 {
	n := a.spent[i].Load() - an.own + a.others[i][w].Load()
	return max(n, 0)
}

// forward brings family index i's figures in fq (a copy of s's) forward
// to now: each bucket less the cost of the requests since its anchor, a
// bucket past its reset time taken as refilled, and the effective
// figure and decision computed again. It must not allocate: CheckQuota's
// cache hit runs it.
func (m *Manager) forward(a *account, s *snapshot, i int, fq *FamilyQuota, now time.Time) {
	costs := m.costs.table.Load()
	tier := s.status.Tier
	fq.Synced = fq.Effective
	c5, cw := costs.of(tier, i, win5h), costs.of(tier, i, winWeekly)
	fq.Cost5h, fq.CostWeekly, fq.CostLearned = c5.perRequest, cw.perRequest, c5.learned
	fq.Units5h, fq.UnitsWeekly = 0, 0
	if c5.learned && c5.perRequest > 0 {
		fq.Units5h = 1 / c5.perRequest
	}
	if cw.learned && cw.perRequest > 0 {
		fq.UnitsWeekly = 1 / cw.perRequest
	}
	moved := false
	for w, b := range buckets(fq) {
		an := &s.anchors[i][w]
		if !b.Remaining.Known || !an.set {
			continue
		}
		n := a.since(i, w, an)
		fq.Requests = max(fq.Requests, n)
		cost := [numWindows]float64{c5.perRequest, cw.perRequest}[w]
		if n == 0 || cost <= 0 {
			continue
		}
		v := max(min(an.value-cost*float64(n), b.Remaining.Value), 0)
		if v < b.Remaining.Value {
			if w == win5h {
				fq.drop5h = b.Remaining.Value - v
			}
			b.Remaining = cloudcode.KnownFraction(v)
			moved = true
		}
	}
	stale := false
	for _, b := range buckets(fq) {
		stale = stale || refilled(b.ResetTime, now)
	}
	if !moved && !stale {
		return
	}
	fq.Estimated = true
	e := effective(fq, "", now)
	fq.Effective, fq.Bottleneck, fq.ResetTime = e.Remaining, e.Bottleneck, e.ResetTime
	fq.Decision = decideFigure(fq.Effective, m.opt.Thresholds, fq.Coarse)
}

// refilled reports whether a bucket whose window ends at reset has been
// refilled by now: its figure is from the window before.
func refilled(reset, now time.Time) bool {
	return !reset.IsZero() && !now.Before(reset)
}

// forwarded returns s's status with every family brought forward to now.
func (m *Manager) forwarded(a *account, s *snapshot, now time.Time) Status {
	st := s.status
	for i := range st.Families {
		m.forward(a, s, i, &st.Families[i], now)
	}
	return st
}

// moveAnchors moves the anchors of family index i to its new figures fq,
// read at `at` when this process had completed own charged requests on
// the family, and returns the cost readings they give (learn: figures
// this process fetched itself; figures adopted from another process were
// learned by it). It also records how far the estimate was from the new
// figures (the estimate's error). The caller holds a.mu and stores s.
func (m *Manager) moveAnchors(a *account, s *snapshot, i int, fq *FamilyQuota, at time.Time, own int64, learn bool) (rs [numWindows]reading) {
	view := m.spend.Load()
	costs := m.costs.table.Load()
	tier := s.status.Tier
	for w, b := range buckets(fq) {
		an := &s.anchors[i][w]
		if !b.Remaining.Known {
			*an = anchor{}
			a.others[i][w].Store(0)
			continue
		}
		v := b.Remaining.Value
		fresh := anchor{set: true, value: v, reset: b.ResetTime, at: at, own: own, last: v}
		if !an.set || !sameReset(an.reset, b.ResetTime) {
			// A first figure, or a new window: nothing to compare.
			*an = fresh
			a.others[i][w].Store(view.othersBetween(a.id, i, at, time.Time{}))
			continue
		}
		n := max(own-an.own+view.othersBetween(a.id, i, an.at, at), 0)
		changed := math.Abs(v-an.last) > gridSlack
		cost := costs.of(tier, i, w).perRequest
		est := an.value - cost*float64(n)
		if n > 0 {
			m.est.observe(math.Abs(max(est, 0) - v))
		}
		if learn && n > 0 && (changed || !fq.Coarse) && (an.changed || !fq.Coarse) && an.value >= v {
			rs[w] = reading{at: at, requests: float64(n), fell: an.value - v}
		}
		if fq.Coarse && !changed && est > v-CoarseStep-gridSlack && est <= v+gridSlack {
			// The coarse reading did not move and the estimate lies within
			// its step: keep counting from the anchor.
			an.last = v
			continue
		}
		fresh.changed = changed
		*an = fresh
		a.others[i][w].Store(view.othersBetween(a.id, i, at, time.Time{}))
	}
	return rs
}

// estimateError accumulates how far estimates were from the figures that
// replaced them.
type estimateError struct {
	n      atomic.Int64
	sumAbs atomic.Uint64 // float64 bits, added under CAS
}

func (e *estimateError) observe(d float64) {
	e.n.Add(1)
	for {
		old := e.sumAbs.Load()
		if e.sumAbs.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// EstimateError is how far the engine's estimates were from the synced
// figures that replaced them: Readings compared, and their mean absolute
// difference (a fraction of the bucket).
type EstimateError struct {
	Readings int64
	MeanAbs  float64
}

// EstimateError returns the estimates' error so far (this process's).
func (m *Manager) EstimateError() EstimateError {
	n := m.est.n.Load()
	if n == 0 {
		return EstimateError{}
	}
	return EstimateError{Readings: n, MeanAbs: math.Float64frombits(m.est.sumAbs.Load()) / float64(n)}
}

// refreshSpend reads the other processes' recent spending when the
// store's spend counter moved, and recounts every anchor's requests
// from it. It returns whether anything changed.
func (m *Manager) refreshSpend(ctx context.Context) (bool, error) {
	if m.ls == nil {
		return false, nil
	}
	v, err := m.ls.SpendVersion(ctx)
	if err != nil {
		return false, err
	}
	if v == m.spendSeen.Load() {
		return false, nil
	}
	// From the oldest anchor (a day at most): older spending is in every
	// figure already.
	now := m.clock.Now()
	from := now.Add(-24 * time.Hour)
	oldest := now
	for _, a := range *m.accts.Load() {
		s := a.snap.Load()
		for i := range s.anchors {
			for w := range s.anchors[i] {
				if an := &s.anchors[i][w]; an.set && an.at.Before(oldest) {
					oldest = an.at
				}
			}
		}
	}
	from = later(from, oldest)
	rows, err := m.ls.SpendSince(ctx, from, m.poll.holder)
	if err != nil {
		return false, err
	}
	view := &spendView{rows: rows}
	m.spend.Store(view)
	m.spendSeen.Store(v)
	last := map[int64]int64{}
	for _, r := range rows {
		last[r.AccountID] = max(last[r.AccountID], r.At.UnixNano())
	}
	for _, a := range *m.accts.Load() {
		a.othersLast.Store(last[a.id])
		a.mu.Lock()
		s := a.snap.Load()
		for i := range s.anchors {
			for w := range s.anchors[i] {
				if an := &s.anchors[i][w]; an.set {
					a.others[i][w].Store(view.othersBetween(a.id, i, an.at, time.Time{}))
				}
			}
		}
		a.mu.Unlock()
	}
	m.hub.signal()
	return true, nil
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// served reports whether the proxies completed requests on the account
// since its figures were last read: it is busy (adaptive sync).
func (a *account) served() bool {
	synced := a.snap.Load().status.LastSync.UnixNano()
	return a.lastCharged.Load() > synced || a.othersLast.Load() > synced
}

// sameReset reports whether two reset times name the same window.
func sameReset(a, b time.Time) bool {
	d := a.Sub(b)
	return d < store.ResetTolerance && d > -store.ResetTolerance
}
