package tui

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/quota"
)

// t0 is the fixed time every deterministic test draws at.
var t0 = time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC)

// unk marks an unknown bucket in fixtures.
const unk = -1.0

// famQuota builds a FamilyQuota the way the engine would: effective is the
// lowest known bucket, the bottleneck is its window.
func famQuota(f cloudcode.Family, five, weekly float64, fiveReset, weekReset time.Duration) quota.FamilyQuota {
	fq := quota.FamilyQuota{Family: f, FetchedAt: t0.Add(-time.Minute)}
	if five != unk {
		fq.FiveHour = quota.BucketQuota{Remaining: cloudcode.KnownFraction(five), ResetTime: t0.Add(fiveReset)}
	}
	if weekly != unk {
		fq.Weekly = quota.BucketQuota{Remaining: cloudcode.KnownFraction(weekly), ResetTime: t0.Add(weekReset)}
	}
	fq.Effective = fq.FiveHour.Remaining.Min(fq.Weekly.Remaining)
	switch {
	case !fq.Effective.Known:
	case fq.FiveHour.Remaining.Known && fq.Effective == fq.FiveHour.Remaining:
		fq.Bottleneck, fq.ResetTime = cloudcode.Window5h, fq.FiveHour.ResetTime
	default:
		fq.Bottleneck, fq.ResetTime = cloudcode.WindowWeekly, fq.Weekly.ResetTime
	}
	fq.Decision = quota.MakeDecision(fq.Effective, quota.DefaultThresholds)
	return fq
}

// fixtureStatuses is eight accounts across tiers and states, with unknown
// values and an empty weekly bucket behind a full 5h one.
func fixtureStatuses() []quota.Status {
	st := func(id int64, email, label string, tier cloudcode.Tier, state quota.AccountState, gem, cla quota.FamilyQuota) quota.Status {
		s := quota.Status{AccountID: id, Email: email, Label: label, Tier: tier, State: state, LastSync: t0.Add(-2 * time.Minute)}
		if label == "" {
			s.Label = email
		}
		s.Families[0], s.Families[1] = gem, cla
		return s
	}
	G, C := cloudcode.FamilyGemini, cloudcode.FamilyClaudeGPT
	h := time.Hour
	out := []quota.Status{
		st(1, "alice@example.com", "alice", cloudcode.TierUltra, quota.StateActive,
			famQuota(G, 0.87, 0.95, 3*h, 100*h), famQuota(C, 0.80, 0.62, 2*h+10*time.Minute, 50*h)),
		st(2, "bob@example.com", "bob-work", cloudcode.TierPro, quota.StateActive,
			famQuota(G, 0.07, 0.50, 1*h+5*time.Minute, 90*h), famQuota(C, 0.40, 0.90, 4*h, 90*h)),
		st(3, "carol@example.com", "", cloudcode.TierFree, quota.StateActive,
			famQuota(G, 0.80, 0, 4*h, 108*h+48*time.Minute), famQuota(C, unk, unk, 0, 0)),
		st(4, "dave@example.com", "dave", cloudcode.TierPro, quota.StateActive,
			famQuota(G, 0.55, 0.70, 2*h, 70*h), famQuota(C, 0.30, 0.45, 3*h, 70*h)),
		st(5, "erin@example.com", "erin", cloudcode.TierFree, quota.StateForbidden,
			famQuota(G, unk, unk, 0, 0), famQuota(C, unk, unk, 0, 0)),
		st(6, "frank@example.com", "frank", cloudcode.TierPro, quota.StateNeedsLogin,
			famQuota(G, 0.33, 0.60, 30*time.Minute, 20*h), famQuota(C, 0.10, 0.20, 30*time.Minute, 20*h)),
		st(7, "grace@example.com", "grace", cloudcode.TierUltra, quota.StateDisabled,
			famQuota(G, 1, 1, 5*h, 168*h), famQuota(C, 1, 1, 5*h, 168*h)),
		st(8, "heidi.with.a.very.long.address@example.org", "", cloudcode.TierUnknown, quota.StateActive,
			famQuota(G, unk, unk, 0, 0), famQuota(C, unk, unk, 0, 0)),
	}
	// dave's Gemini figure is an estimate: 60 % at the sync, four
	// requests served since (the dashboard shows ≈55%).
	out[3].Families[0].Estimated, out[3].Families[0].Synced, out[3].Families[0].Requests = true, cloudcode.KnownFraction(0.60), 4
	out[3].Marks[1] = quota.Mark{Kind: quota.CooldownMark, Until: t0.Add(3 * time.Minute), Since: t0.Add(-time.Minute), Reason: "bare 429"}
	out[4].StateReason = "SERVICE_DISABLED"
	out[5].StateReason = "invalid_grant"
	out[0].TierID, out[0].ProjectID = "g1-ultra-tier", "proj-alice"
	out[1].Routing = quota.Routing{Priority: 2, Reserve: 0.2}
	out[0].Families[0].Models = []cloudcode.ModelQuota{
		{ID: "gemini-3-flash", Family: G, Remaining: cloudcode.KnownFraction(0.87)},
		{ID: "gemini-3-pro", Family: G, Remaining: cloudcode.KnownFraction(0.9)},
	}
	out[0].Families[1].Models = []cloudcode.ModelQuota{{ID: "claude-sonnet-4-6-thinking", Family: C, Remaining: cloudcode.KnownFraction(0.8)}}
	return out
}

// fakeHistory draws a steady drain for the first two accounts and nothing
// for the others.
func fakeHistory(_ context.Context, id int64, f cloudcode.Family, since time.Time) ([]Point, error) {
	if id > 2 {
		return nil, nil
	}
	var pts []Point
	for i := range 12 {
		at := t0.Add(-12*time.Hour + time.Duration(i)*time.Hour)
		v := 1 - float64(i)*0.07
		if f == cloudcode.FamilyClaudeGPT {
			v = 0.9 - float64(i%4)*0.15
		}
		if at.Before(since) {
			continue
		}
		pts = append(pts, Point{At: at, LastSeen: at, Fraction: v})
	}
	return pts, nil
}

// fakeEngine is an in-memory quota engine. SyncAccount and SyncAll block
// on gate when it is set, so tests can look at the "running" frame.
type fakeEngine struct {
	mu          sync.Mutex
	statuses    []quota.Status
	mon         quota.MonitorStats
	gate        chan struct{}
	syncCalls   map[int64]int
	syncAlls    int
	clears      int
	tierClears  int
	onSync      func(id int64) // changes the statuses under the lock
	syncErr     error
	extraEvents []quota.Event            // returned by RecentEvents before the fixture's
	forecasts   map[int64]quota.Forecast // per account, for Gemini; before the fixture's
	policy      quota.Policy
	stands      int // Standings calls
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{
		policy:    quota.PolicyResetAware,
		statuses:  fixtureStatuses(),
		syncCalls: map[int64]int{},
		mon: quota.MonitorStats{
			SyncsRun: 12, LastSyncStart: t0.Add(-2 * time.Minute), LastSyncTook: 340 * time.Millisecond,
			LastSyncOK: 7, LastSyncErrors: 1, NextSync: t0.Add(3*time.Minute + 12*time.Second),
			Cache:      quota.CacheStats{Active: 12, Expired: 3, Hits: 980, Misses: 20, HitRatio: 0.98},
			QuotaReads: 410, QuotaReadsLastHour: 96, BusySyncs: 14, Busy: 2,
		},
	}
}

func (e *fakeEngine) GetAllQuotas() []quota.Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]quota.Status(nil), e.statuses...)
}

func (e *fakeEngine) MonitorStats() quota.MonitorStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mon
}

func (e *fakeEngine) wait(ctx context.Context) error {
	e.mu.Lock()
	g := e.gate
	e.mu.Unlock()
	if g == nil {
		return nil
	}
	select {
	case <-g:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *fakeEngine) SyncAccount(ctx context.Context, id int64) error {
	if err := e.wait(ctx); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.syncCalls[id]++
	if e.onSync != nil {
		e.onSync(id)
	}
	return e.syncErr
}

func (e *fakeEngine) SyncAll(ctx context.Context) quota.SyncResult {
	if err := e.wait(ctx); err != nil {
		return quota.SyncResult{Errors: map[int64]error{0: err}}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.syncAlls++
	return quota.SyncResult{Started: t0, Took: 340 * time.Millisecond, OK: 7, Errors: map[int64]error{5: errors.New("forbidden")}}
}

func (e *fakeEngine) ClearCache() {
	e.mu.Lock()
	e.clears++
	e.mu.Unlock()
}

func (e *fakeEngine) ClearTierCache(context.Context) error {
	e.mu.Lock()
	e.tierClears++
	e.mu.Unlock()
	return nil
}

func (e *fakeEngine) Policy() quota.Policy { return e.policy }

// Standings ranks the fixture's statuses with quota's own code, at t0.
func (e *fakeEngine) Standings(id int64) []quota.Standing {
	e.mu.Lock()
	e.stands++
	e.mu.Unlock()
	sts := e.GetAllQuotas()
	for i := range sts {
		sts[i].At = t0
	}
	return quota.StandingsOf(e.policy, sts, id)
}

func (e *fakeEngine) standCalls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stands
}

func (e *fakeEngine) Forecast(_ context.Context, id int64, f cloudcode.Family) (quota.Forecast, error) {
	e.mu.Lock()
	fc, ok := e.forecasts[id]
	e.mu.Unlock()
	if ok && f == cloudcode.FamilyGemini {
		return fc, nil
	}
	if id == 2 && f == cloudcode.FamilyGemini {
		return quota.Forecast{Enough: true, BurnPerHour: 0.05, EmptyIn: 84 * time.Minute, ResetIn: 4 * time.Hour, RunsOutFirst: true}, nil
	}
	if id == 1 {
		return quota.Forecast{Enough: true, BurnPerHour: 0.02, EmptyIn: 30 * time.Hour, ResetIn: 3 * time.Hour}, nil
	}
	return quota.Forecast{}, nil
}

func (e *fakeEngine) RecentEvents(_ context.Context, id int64, n int) ([]quota.Event, error) {
	e.mu.Lock()
	evs := append(append([]quota.Event(nil), e.extraEvents...), fixtureEvents()...)
	e.mu.Unlock()
	var out []quota.Event
	for _, ev := range evs {
		if ev.AccountID == id && len(out) < n {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (e *fakeEngine) calls(id int64) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.syncCalls[id]
}

// fixtureEvents is a few warnings, newest first.
func fixtureEvents() []quota.Event {
	return []quota.Event{
		{At: t0.Add(-30 * time.Second), Kind: quota.EventSwitch, AccountID: 1, Account: "alice", Family: cloudcode.FamilyGemini, Message: "session moved from bob-work"},
		{At: t0.Add(-1 * time.Minute), Kind: quota.EventLowQuota, AccountID: 2, Account: "bob-work", Family: cloudcode.FamilyGemini, Message: "7% left"},
		{At: t0.Add(-3 * time.Minute), Kind: quota.EventExhausted, AccountID: 3, Account: "carol@example.com", Family: cloudcode.FamilyGemini, Message: "weekly bucket empty"},
		{At: t0.Add(-5 * time.Minute), Kind: quota.EventAccountError, AccountID: 5, Account: "erin", Message: "403 SERVICE_DISABLED"},
		{At: t0.Add(-9 * time.Minute), Kind: quota.EventRecovered, AccountID: 1, Account: "alice", Family: cloudcode.FamilyClaudeGPT},
	}
}

// fakeProxy is an in-memory proxy.
type fakeProxy struct {
	mu     sync.Mutex
	stats  proxy.Stats
	paused bool
	sets   []bool
	ranks  int // RoutedTo calls
}

func newFakeProxy() *fakeProxy {
	return &fakeProxy{stats: proxy.Stats{
		Listen: "127.0.0.1:8045", Started: t0.Add(-time.Hour), Requests: 1200, InFlight: 2,
		ProactiveSwitches: 5, ReactiveSwitches: 1, Client429s: 0, Upstream429s: 3, ActiveSessions: 4,
		RoutedTo: map[string]string{"gemini": "alice", "claude-gpt": "alice"},
	}}
}

// Stats is what *proxy.Server's Stats returns: the counters and a
// ranking (the tests build statsMsgs from it).
func (p *fakeProxy) Stats() proxy.Stats {
	s := p.Counters()
	s.RoutedTo = p.RoutedTo()
	return s
}

func (p *fakeProxy) Counters() proxy.Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Paused = p.paused
	s.RoutedTo = nil
	return s
}

func (p *fakeProxy) RoutedTo() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ranks++
	return maps.Clone(p.stats.RoutedTo)
}

func (p *fakeProxy) rankCalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ranks
}

func (p *fakeProxy) SetPaused(v bool) {
	p.mu.Lock()
	p.paused = v
	p.sets = append(p.sets, v)
	p.mu.Unlock()
}

func (p *fakeProxy) Paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

func (p *fakeProxy) setCalls() []bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]bool(nil), p.sets...)
}

// fakeFeed is a hand-driven feed.
type fakeFeed struct {
	changed chan struct{}
	events  chan quota.Event
	dropped uint64
}

func newFakeFeed() *fakeFeed {
	return &fakeFeed{changed: make(chan struct{}, 1), events: make(chan quota.Event, 16)}
}

func (f *fakeFeed) Changed() <-chan struct{}   { return f.changed }
func (f *fakeFeed) Events() <-chan quota.Event { return f.events }
func (f *fakeFeed) Dropped() uint64            { return f.dropped }

// manyStatuses makes n accounts cycling through the fixture's shapes.
func manyStatuses(n int) []quota.Status {
	base := fixtureStatuses()
	out := make([]quota.Status, n)
	for i := range out {
		s := base[i%len(base)]
		s.AccountID = int64(i + 1)
		s.Email = fmt.Sprintf("user%03d@example.com", i)
		s.Label = fmt.Sprintf("user%03d", i)
		out[i] = s
	}
	return out
}
