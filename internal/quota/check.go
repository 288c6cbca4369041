package quota

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// The reasons a Check gives. They are constants so a cache-hit CheckQuota
// builds no string.
const (
	ReasonDisabled           = "account disabled"
	ReasonForbidden          = "account forbidden"
	ReasonValidationRequired = "account needs verification"
	ReasonNeedsLogin         = "account needs a new login"
	ReasonNeedsClient        = "account's OAuth client is not configured"
	ReasonClientMismatch     = "account's token belongs to another OAuth client"
	ReasonExhaustedMark      = "quota exhausted (upstream 429)"
	ReasonCooldown           = "cooling down after an upstream error"
	ReasonExhausted          = "quota exhausted"
	ReasonLowQuota           = "low quota"
	ReasonUnknown            = "quota unknown"
	ReasonUnknownFamily      = "model family not tracked"
	// The user's routing choices (Routing): the account stays monitored.
	ReasonReserve         = "at the reserve kept for other use"
	ReasonFamilyNotRouted = "family not routed to this account"
	ReasonProxyDisabled   = "monitored only (not routed)"
	// ReasonEstimatedEmpty: the estimate says the requests since the last
	// sync spent what it showed; the proxy reads the account again before
	// it sends it another request (the figure may be pessimistic).
	ReasonEstimatedEmpty = "quota spent by the estimate since the last sync"
)

// CheckQuota says whether accountID should be used for model now. A cache
// hit answers from memory without allocating. On a miss or an expired entry
// it syncs the account from the upstream once, however many callers miss at
// the same moment, then answers. When that sync fails the Check still says
// what is known (an account found forbidden is not Usable) and the error is
// returned alongside it.
func (m *Manager) CheckQuota(ctx context.Context, accountID int64, model string) (Check, error) {
	a := m.lookup(accountID)
	if a == nil {
		return Check{}, fmt.Errorf("check quota of account %d: %w", accountID, ErrUnknownAccount)
	}
	idx := familyIndex(cloudcode.ModelFamily(model))
	now := m.clock.Now()
	s := a.snap.Load()
	if idx < 0 {
		m.hits.Add(1)
		return s.status.check(-1, model, now, m.opt.Thresholds), nil
	}
	if exp := s.expires[idx]; !exp.IsZero() && now.Before(exp) || !syncable(&s.status) {
		m.hits.Add(1)
		return m.decide(a, s, idx, model, now), nil
	}
	m.misses.Add(1)
	err := m.syncShared(ctx, a, idx)
	c := m.decide(a, a.snap.Load(), idx, model, m.clock.Now())
	if err != nil {
		return c, fmt.Errorf("check quota of account %d: %w", accountID, err)
	}
	return c, nil
}

// CheckQuotaFresh is CheckQuota after a sync of the account, whatever the
// cache holds: for a caller about to spend an account's last units. The
// sync is shared with any other running for the account.
func (m *Manager) CheckQuotaFresh(ctx context.Context, accountID int64, model string) (Check, error) {
	a := m.lookup(accountID)
	if a == nil {
		return Check{}, fmt.Errorf("check quota of account %d: %w", accountID, ErrUnknownAccount)
	}
	idx := familyIndex(cloudcode.ModelFamily(model))
	var err error
	if syncable(&a.snap.Load().status) {
		m.misses.Add(1)
		err = m.syncShared(ctx, a, -1)
	}
	c := m.decide(a, a.snap.Load(), idx, model, m.clock.Now())
	if err != nil {
		return c, fmt.Errorf("check quota of account %d: %w", accountID, err)
	}
	return c, nil
}

// syncShared runs one sync of a however many callers ask at once, and
// persists it. With fresh ≥ 0 the sync is skipped when that family's cache
// entry became fresh meanwhile (a caller that missed just as another sync
// finished), and a sync already in flight is joined. With fresh < 0 the
// caller needs a figure asked for after its call (a resync, a check before
// spending the last units): a flight that started earlier is waited out
// and a new one run. The sync runs under its own context, bounded by
// AccountTimeout, so one caller giving up does not fail the others; each
// caller waits on its own context.
func (m *Manager) syncShared(ctx context.Context, a *account, fresh int) error {
	var need uint64
	if fresh < 0 {
		need = m.flightSeq.Load() + 1
	}
	out, err, led := m.flyOrJoin(ctx, a, need, true, func() bool {
		if fresh < 0 {
			return false
		}
		exp := a.snap.Load().expires[fresh]
		return !exp.IsZero() && m.clock.Now().Before(exp)
	})
	if led {
		m.persist(ctx, out)
	}
	return err
}

// flight is one sync of one account in progress. Every sync of an account
// goes through its flight, one at a time, so a later-asked figure always
// lands after an earlier one: an older answer can never replace a newer.
type flight struct {
	seq  uint64        // order in which flights were asked for
	done chan struct{} // closed when err is set
	err  error
}

// flyOrJoin runs a sync of a, or joins the one in flight when that was
// asked for at or after need (0: any). A flight asked for earlier is
// waited out and a new one started. skip, checked by the leader before
// syncing, may say the sync is no longer needed. detach runs the flight
// detached from ctx's cancellation (still bounded by AccountTimeout), for
// callers that share it; the monitor's rounds stop with their context.
// The leader (led) gets the output to persist; joiners get only the error.
func (m *Manager) flyOrJoin(ctx context.Context, a *account, need uint64, detach bool, skip func() bool) (out syncOutput, err error, led bool) {
	for {
		a.mu.Lock()
		f := a.flight
		if f == nil {
			f = &flight{seq: m.flightSeq.Add(1), done: make(chan struct{})}
			a.flight = f
			a.mu.Unlock()
			out, err = m.fly(ctx, a, f, detach, skip)
			return out, err, true
		}
		a.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return syncOutput{}, ctx.Err(), false
		}
		if f.seq >= need {
			return syncOutput{}, f.err, false
		}
	}
}

// fly runs flight f of a and lands it.
func (m *Manager) fly(ctx context.Context, a *account, f *flight, detach bool, skip func() bool) (out syncOutput, err error) {
	defer func() {
		a.mu.Lock()
		a.flight = nil
		a.mu.Unlock()
		f.err = err
		close(f.done)
	}()
	if skip != nil && skip() {
		return syncOutput{}, nil
	}
	parent := ctx
	if detach {
		parent = context.WithoutCancel(ctx)
	}
	sctx, cancel := context.WithTimeout(parent, m.opt.AccountTimeout)
	defer cancel()
	t0 := time.Now()
	out, err = m.syncOne(sctx, a)
	a.mu.Lock()
	a.lastTook = time.Since(t0)
	a.mu.Unlock()
	return out, err
}

// syncable reports whether the account is synced at all: not when the
// user disabled it or it waits for a new login.
func syncable(s *Status) bool {
	return !s.Disabled && s.EngineState != StateNeedsLogin
}

// stateReason returns the reason an account in state s cannot be used, or
// "" when it can.
func stateReason(s AccountState) string {
	switch s {
	case StateDisabled:
		return ReasonDisabled
	case StateForbidden:
		return ReasonForbidden
	case StateValidationRequired:
		return ReasonValidationRequired
	case StateNeedsLogin:
		return ReasonNeedsLogin
	case StateNeedsClient:
		return ReasonNeedsClient
	case StateClientMismatch:
		return ReasonClientMismatch
	default:
		return ""
	}
}

// decide computes the Check for model in family index idx (-1 for none)
// from a's snapshot s, brought forward to now. It must not allocate: it
// runs on every cache hit.
func (m *Manager) decide(a *account, s *snapshot, idx int, model string, now time.Time) Check {
	if idx < 0 {
		return s.status.check(idx, model, now, m.opt.Thresholds)
	}
	fq := s.status.Families[idx]
	m.forward(a, s, idx, &fq, now)
	return s.status.checkFamily(&fq, idx, model, now, m.opt.Thresholds)
}

// Check is the one answer to "may this account take a request for model
// now, and how is it doing?": the engine's CheckQuota, Rank and Best use
// it, and so should anything else that judges an account from a Status
// (the proxy, metrics, a test fake). The answer comes from the snapshot:
// the account's state (the user's "disabled" first, then what the engine
// learned), the family's mark if it is still in force at now, and the
// effective figure for the model (the lowest of its own 5h figure and the
// family's 5h and weekly buckets) decided with the snapshot's Thresholds
// (DefaultThresholds when unset) and coarse steps. A model outside every
// tracked family is judged on the state alone.
func (s *Status) Check(model string, now time.Time) Check {
	return s.check(familyIndex(cloudcode.ModelFamily(model)), model, now, s.Thresholds)
}

// FamilyCheck is Check for family f as a whole (no model's own figure).
func (s *Status) FamilyCheck(f cloudcode.Family, now time.Time) Check {
	return s.check(familyIndex(f), "", now, s.Thresholds)
}

// check is Check for family index idx (-1: no tracked family) with
// thresholds t. It must not allocate: it runs on every cache hit.
func (s *Status) check(idx int, model string, now time.Time, t Thresholds) Check {
	if t.Low <= 0 {
		t.Low = DefaultThresholds.Low
	}
	if idx < 0 {
		if r := stateReason(s.State); r != "" {
			return Check{Decision: Unknown, Reason: r, Left: -1}
		}
		if r := s.Routing.refusal(idx); r != "" {
			return Check{Decision: Unknown, Reason: r, Left: -1}
		}
		return Check{Decision: Unknown, Usable: true, Reason: ReasonUnknownFamily, Left: -1}
	}
	return s.checkFamily(&s.Families[idx], idx, model, now, t)
}

// checkFamily is check for family index idx ≥ 0 with its figures in fq
// (the status's own, or a copy brought forward). It must not allocate.
func (s *Status) checkFamily(fq *FamilyQuota, idx int, model string, now time.Time, t Thresholds) Check {
	if t.Low <= 0 {
		t.Low = DefaultThresholds.Low
	}
	c := effective(fq, model, now)
	// The user's reserve raises the floor for the proxy; the figure and
	// the family's own Decision (what the dashboard shows) stay real.
	own := t
	t, lift := s.Routing.thresholds(t)
	c.Decision = decideFigure(c.Remaining, t, fq.Coarse)
	if c.Decision == Proceed && fq.Coarse && lift > 0 && c.Remaining.Value <= t.Reserve+CoarseStep+gridSlack {
		c.Decision = LowQuota // one coarse step above the reserve: the next reading may be it
	}
	c.Left = requestsLeft(fq, model, now, t.Reserve)
	c.Usable = true
	switch c.Decision {
	case Exhausted:
		c.Usable, c.Reason = false, ReasonExhausted
		switch {
		case c.Remaining.Value > own.Reserve:
			c.Reason = ReasonReserve
		case c.Estimated && fq.Synced.Known && fq.Synced.Value > t.Reserve:
			c.Reason = ReasonEstimatedEmpty
		}
	case LowQuota:
		c.Reason = ReasonLowQuota
	case Unknown:
		c.Reason = ReasonUnknown
	}
	if mk := &s.Marks[idx]; mk.Kind != NoMark && mk.Until.After(now) {
		// ResetTime becomes when the account is usable again: the mark's
		// end, or the bucket's reset if the figures say it is spent longer.
		if c.Decision != Exhausted || mk.Until.After(c.ResetTime) {
			c.ResetTime = mk.Until
		}
		c.Usable = false
		if mk.Kind == ExhaustedMark {
			// The upstream said the pool is spent: that outranks a figure
			// polled before the 429.
			c.Decision, c.Reason = Exhausted, ReasonExhaustedMark
		} else {
			c.Reason = ReasonCooldown
		}
	}
	if r := s.Routing.refusal(idx); r != "" {
		c.Usable, c.Reason = false, r
	}
	if r := stateReason(s.State); r != "" {
		c.Usable, c.Reason = false, r
	}
	return c
}

// effective returns the effective remaining fraction for model in fq at
// now: the lowest of the model's own 5h figure and the family's 5h and
// weekly buckets. Unknown figures are ignored; the result is unknown only
// when all are. On a tie the weekly bucket is named the bottleneck, since
// it holds longer. A figure whose reset time has passed is from the
// window before: the bucket has been refilled since, so it counts as full
// (estimated) until a sync reads it. Taking it for unknown instead would
// rank the account behind every account with a figure, though its window
// just began; taking it as still spent is the bug it fixes (429s to
// clients for a minute after every reset). The monitor resyncs it soon.
// A model's own figure falls with the 5-hour bucket's estimate.
func effective(fq *FamilyQuota, model string, now time.Time) Check {
	var c Check
	if mq := modelQuota(fq, model); mq != nil {
		f := mq.Remaining
		if f.Known && fq.drop5h > 0 {
			f = cloudcode.KnownFraction(max(f.Value-fq.drop5h, 0))
		}
		considerAt(&c, f, cloudcode.Window5h, mq.ResetTime, now)
	}
	considerAt(&c, fq.FiveHour.Remaining, cloudcode.Window5h, fq.FiveHour.ResetTime, now)
	considerAt(&c, fq.Weekly.Remaining, cloudcode.WindowWeekly, fq.Weekly.ResetTime, now)
	c.Estimated = c.Estimated || fq.Estimated
	return c
}

// considerAt is consider for a figure as it stands at now: past its reset
// time a known figure is the window before's, and the bucket full.
func considerAt(c *Check, f cloudcode.Fraction, w cloudcode.Window, reset, now time.Time) {
	if f.Known && refilled(reset, now) {
		if f.Value < 1 {
			c.Estimated = true
		}
		f = cloudcode.KnownFraction(1)
	}
	consider(c, f, w, reset)
}

// requestsLeft is how many requests fq has left for model by its figures
// and costs, above floor (the reserve): the lowest over the 5-hour figure
// (the model's own included) and the weekly one, each less a coarse step
// when the family reports in them (what is left may lie a step below the
// reading). -1 when no figure with a cost is known.
func requestsLeft(fq *FamilyQuota, model string, now time.Time, floor float64) int {
	left := -1
	count := func(f cloudcode.Fraction, reset time.Time, cost float64) {
		if !f.Known || cost <= 0 {
			return
		}
		v := f.Value
		if refilled(reset, now) {
			v = 1
		}
		v -= floor
		if fq.Coarse {
			v -= CoarseStep
		}
		n := 0
		if v > 0 {
			n = int(math.Min(math.Floor(v/cost+1e-6), math.MaxInt32))
		}
		if left < 0 || n < left {
			left = n
		}
	}
	five := fiveHour(fq, model)
	if mq := modelQuota(fq, model); mq != nil && five.Remaining == mq.Remaining && fq.drop5h > 0 {
		five.Remaining = cloudcode.KnownFraction(max(five.Remaining.Value-fq.drop5h, 0))
	}
	count(five.Remaining, five.ResetTime, fq.Cost5h)
	count(fq.Weekly.Remaining, fq.Weekly.ResetTime, fq.CostWeekly)
	return left
}

// consider makes f the effective figure of c when it is known and lower
// (or equal and weekly).
func consider(c *Check, f cloudcode.Fraction, w cloudcode.Window, reset time.Time) {
	if !f.Known {
		return
	}
	if !c.Remaining.Known || f.Value < c.Remaining.Value || f.Value == c.Remaining.Value && w == cloudcode.WindowWeekly {
		c.Remaining, c.Bottleneck, c.ResetTime = f, w, reset
	}
}

// modelQuota finds model's own entry in fq, ignoring a "models/" prefix and
// case.
func modelQuota(fq *FamilyQuota, model string) *cloudcode.ModelQuota {
	model = strings.TrimPrefix(model, "models/")
	for i := range fq.Models {
		if strings.EqualFold(fq.Models[i].ID, model) {
			return &fq.Models[i]
		}
	}
	return nil
}

// CacheStats describes the quota cache now: live and expired entries, hits
// and misses since the manager started.
func (m *Manager) CacheStats() CacheStats {
	now := m.clock.Now()
	var cs CacheStats
	for _, a := range *m.accts.Load() {
		s := a.snap.Load()
		for _, exp := range s.expires {
			switch {
			case exp.IsZero():
			case now.Before(exp):
				cs.Active++
			default:
				cs.Expired++
			}
		}
	}
	cs.Hits, cs.Misses = m.hits.Load(), m.misses.Load()
	if total := cs.Hits + cs.Misses; total > 0 {
		cs.HitRatio = float64(cs.Hits) / float64(total)
	}
	return cs
}

// cleanExpired drops cache entries past their TTL and marks past their
// until-time. The last known figures stay on display.
func (m *Manager) cleanExpired() (removed int) {
	now := m.clock.Now()
	for _, a := range *m.accts.Load() {
		s := a.snap.Load()
		stale := false
		for i := range s.expires {
			if !s.expires[i].IsZero() && !now.Before(s.expires[i]) ||
				s.status.Marks[i].Kind != NoMark && !s.status.Marks[i].Until.After(now) {
				stale = true
			}
		}
		if !stale {
			continue
		}
		a.update(func(s *snapshot) {
			for i := range s.expires {
				if !s.expires[i].IsZero() && !now.Before(s.expires[i]) {
					s.expires[i] = time.Time{}
					removed++
				}
				if s.status.Marks[i].Kind != NoMark && !s.status.Marks[i].Until.After(now) {
					s.status.Marks[i] = Mark{}
				}
			}
		})
	}
	return removed
}
