package quota

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// The monitor's housekeeping cadence and the resync queue's bound.
const (
	// watchEvery is how often the monitor asks the store whether another
	// process changed an account (one row read): changes are noticed
	// within about that time, well inside the 2 s the user may wait.
	watchEvery    = time.Second
	flushEvery    = 5 * time.Second
	compactEvery  = time.Hour
	firstCompact  = time.Minute
	resyncQueue   = 64
	resyncWorkers = 4
)

// ErrMonitorRunning is returned by StartMonitor when a monitor already runs.
var ErrMonitorRunning = errors.New("quota: monitor already running")

// monitorState is the monitor's bookkeeping, guarded by mu.
type monitorState struct {
	mu         sync.Mutex
	running    bool
	interval   time.Duration // the running monitor's interval
	syncing    int           // SyncAlls running now (R can overlap a monitor round)
	syncsRun   int64
	lastStart  time.Time
	lastTook   time.Duration
	lastOK     int
	lastErrors int
	next       time.Time

	resync  chan int64         // nil unless the monitor runs
	queued  map[int64]struct{} // ids in resync, to deduplicate
	dropped uint64             // resync requests dropped

	busy busyState // adaptive sync (adaptive.go), its own lock
}

func (s *monitorState) init() {
	s.queued = map[int64]struct{}{}
}

func (s *monitorState) syncStarted(at time.Time) {
	s.mu.Lock()
	s.syncing++
	s.lastStart = at
	s.mu.Unlock()
}

func (s *monitorState) syncFinished(r SyncResult) {
	s.mu.Lock()
	s.syncing--
	s.syncsRun++
	s.lastTook = r.Took
	s.lastOK = r.OK
	s.lastErrors = len(r.Errors)
	s.mu.Unlock()
}

// StartMonitor runs the background monitor until ctx ends: the poller
// election (one process per database polls; see poller.go), then a round
// at once and every interval (Options.Interval when interval ≤ 0) with
// ±10 % jitter — a SyncAll in the poller, a read of the poller's figures in
// the others; ResyncSoon requests; noticing other processes' account
// changes within a second or so; writing queued events every few seconds;
// and an hourly store compaction. On return the lease is released. It returns nil once everything it started has
// stopped, or ErrMonitorRunning if another monitor runs.
func (m *Manager) StartMonitor(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = m.opt.Interval
	}
	resync := make(chan int64, resyncQueue)
	m.mon.mu.Lock()
	if m.mon.running {
		m.mon.mu.Unlock()
		return ErrMonitorRunning
	}
	m.mon.running, m.mon.resync, m.mon.interval = true, resync, interval
	m.mon.mu.Unlock()

	var wg sync.WaitGroup
	for range min(resyncWorkers, m.opt.Concurrency) {
		wg.Go(func() { m.serveResyncs(ctx, resync) })
	}
	// The election comes first, so two processes started together do not
	// both run a first round.
	m.beat(ctx)
	m.heartbeat(ctx)
	select {
	case <-m.poll.wake: // the first round comes now anyway
	default:
	}
	wg.Go(func() { m.housekeep(ctx) })

	for {
		if m.poll.leader.Load() {
			m.SyncAll(ctx)
		} else if _, err := m.loadFigures(ctx, false); err != nil && ctx.Err() == nil {
			m.log.Warn("quota: read the poller's figures", "err", err)
		}
		d := jitter(interval)
		m.mon.mu.Lock()
		m.mon.next = m.clock.Now().Add(time.Duration(float64(d) * m.opt.ClockRate))
		m.mon.mu.Unlock()
		t := time.NewTimer(d)
		select {
		case <-t.C:
			continue
		case <-m.poll.wake:
			// This process became the poller: a round now, since the one
			// before it may have stopped mid-cycle.
			t.Stop()
			continue
		case <-ctx.Done():
			t.Stop()
		}
		break
	}
	wg.Wait()
	m.release(ctx)
	m.leave(ctx)

	m.mon.mu.Lock()
	m.mon.running, m.mon.resync, m.mon.next = false, nil, time.Time{}
	clear(m.mon.queued)
	m.mon.mu.Unlock()
	// Events published while stopping, and the ledger, still reach the
	// store.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeWriteTimeout)
	m.flushEvents(wctx)
	m.FlushLedger(wctx)
	cancel()
	return nil
}

// freshFor is how long a figure synced now answers checks. Without a
// monitor it is CacheTTL. With one, the figure stays fresh until the next
// round has replaced it (the interval with its jitter, the last round's
// time and one account timeout, on the manager's clock) when that is
// longer: a cache that expired before the monitor came round would make a
// proxied request wait for a quota read about every other cycle.
func (m *Manager) freshFor() time.Duration {
	m.mon.mu.Lock()
	running, interval, took := m.mon.running, m.mon.interval, m.mon.lastTook
	m.mon.mu.Unlock()
	if !running {
		return m.opt.CacheTTL
	}
	realWait := float64(interval)*(1+jitterSpread) + float64(took+m.opt.AccountTimeout)
	return max(m.opt.CacheTTL, time.Duration(realWait*m.opt.ClockRate))
}

// jitterSpread is the monitor's interval jitter, ±10 %.
const jitterSpread = 0.1

// jitter spreads d by ±10 % so many instances do not sync in step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 - jitterSpread + 2*jitterSpread*rand.Float64()))
}

// serveResyncs syncs the accounts ResyncSoon queued until ctx ends.
func (m *Manager) serveResyncs(ctx context.Context, resync <-chan int64) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-resync:
			// Unqueue first: a request made during the sync queues another.
			m.mon.mu.Lock()
			delete(m.mon.queued, id)
			m.mon.mu.Unlock()
			if a := m.lookup(id); a != nil && syncable(&a.snap.Load().status) &&
				!a.snap.Load().status.UnreadableUntil.After(m.clock.Now()) {
				if err := m.syncShared(ctx, a, -1); err != nil {
					m.log.Debug("quota: resync", "account", id, "err", err)
				}
			}
		}
	}
}

// housekeep writes queued events, cleans the cache and compacts the store
// until ctx ends.
func (m *Manager) housekeep(ctx context.Context) {
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	watch := time.NewTicker(cmp.Or(m.watchEvery, watchEvery))
	defer watch.Stop()
	beat := time.NewTicker(m.opt.LeaseBeat)
	defer beat.Stop()
	changed, cs := m.changes()
	// The first compaction comes a minute in, after the first sync has
	// written, so a short session compacts too; then hourly.
	compact := time.NewTimer(firstCompact)
	defer compact.Stop()
	ledger := time.NewTicker(ledgerEvery)
	defer ledger.Stop()
	busy := time.NewTicker(m.busyTick())
	defer busy.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			m.beat(ctx)
			m.heartbeat(ctx)
		case <-changed:
			m.onChanges(ctx, cs.TakeChanges())
		case <-m.hub.kick:
			// A mark was set or cleared: other processes must stop (or
			// start) routing to the account now, not at the next flush.
			m.flushEvents(ctx)
		case <-watch.C:
			m.watchHealth()
			m.reloadIfChanged(ctx)
			// The poller too: a resync another process made is newer than
			// its figures (adoptFigures keeps only newer ones).
			if _, err := m.loadFigures(ctx, false); err != nil && ctx.Err() == nil {
				m.log.Warn("quota: read the poller's figures", "err", err)
			}
			m.watchLedger(ctx)
		case <-ledger.C:
			m.FlushLedger(ctx)
		case <-busy.C:
			if m.opt.BusyPerMinute > 0 {
				m.syncBusy(m.clock.Now())
			}
		case <-flush.C:
			m.flushEvents(ctx)
			m.cleanExpired()
		case <-compact.C:
			compact.Reset(compactEvery)
			if err := m.st.Compact(ctx, m.clock.Now(), m.opt.RollupAfter, m.opt.Retention); err != nil && ctx.Err() == nil {
				m.log.Warn("quota: compact history", "err", err)
			}
			if m.ls != nil {
				if err := m.ls.CompactUsage(ctx, m.clock.Now(), m.opt.RollupAfter, m.opt.Retention); err != nil && ctx.Err() == nil {
					m.log.Warn("quota: compact usage", "err", err)
				}
			}
		}
	}
}

// watchLedger reads what other processes on the database spent and
// learned, when the store says it changed.
func (m *Manager) watchLedger(ctx context.Context) {
	if _, err := m.refreshSpend(ctx); err != nil && ctx.Err() == nil {
		m.log.Warn("quota: read the other processes' spending", "err", err)
	}
	if err := m.loadCosts(ctx, false); err != nil && ctx.Err() == nil {
		m.log.Warn("quota: read the learned request costs", "err", err)
	}
}

// reloadIfChanged re-reads the accounts when any process (the CLI, another
// serve, this one) changed them since the last read: a disabled or removed
// account gets no new request, an added one is used, marks set elsewhere
// apply here.
func (m *Manager) reloadIfChanged(ctx context.Context) {
	v, err := m.st.AccountsVersion(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("quota: read the accounts' change counter", "err", err)
		}
		return
	}
	if v == m.seenVersion.Load() {
		return
	}
	if err := m.Reload(ctx); err != nil && ctx.Err() == nil {
		m.log.Warn("quota: reload accounts changed by another process", "err", err)
	}
}

// ResyncSoon asks the monitor to sync the account in the background soon,
// for example after a bare 429 that may or may not mean exhaustion. Requests
// are deduplicated and the queue is bounded; a request that does not fit,
// or any request while no monitor runs, is dropped (counted in
// MonitorStats.ResyncDropped), so it never blocks and never leaks.
func (m *Manager) ResyncSoon(accountID int64) {
	m.mon.mu.Lock()
	defer m.mon.mu.Unlock()
	if m.mon.resync == nil {
		m.mon.dropped++
		return
	}
	if _, ok := m.mon.queued[accountID]; ok {
		return
	}
	select {
	case m.mon.resync <- accountID:
		m.mon.queued[accountID] = struct{}{}
	default:
		m.mon.dropped++
	}
}

// MonitorStats describes the monitor's runs, each account's sync counts and
// the cache.
func (m *Manager) MonitorStats() MonitorStats {
	m.mon.mu.Lock()
	ms := MonitorStats{
		SyncsRun:       m.mon.syncsRun,
		Running:        m.mon.syncing > 0,
		LastSyncStart:  m.mon.lastStart,
		LastSyncTook:   m.mon.lastTook,
		LastSyncOK:     m.mon.lastOK,
		LastSyncErrors: m.mon.lastErrors,
		NextSync:       m.mon.next,
		ResyncDropped:  m.mon.dropped,
		Monitoring:     m.mon.running,
		Poller:         m.poll.leader.Load(),
		Holder:         m.poll.holder,
		Health:         m.Health(),
		Estimate:       m.EstimateError(),
		Backend:        m.Backend(),
		Instances:      len(m.Instances()),
	}
	m.mon.mu.Unlock()
	ms.QuotaReads, ms.QuotaReadsLastHour = m.reads.counts(m.clock.Now())
	m.mon.busy.mu.Lock()
	ms.BusySyncs, ms.Busy = m.mon.busy.syncs, m.mon.busy.busy
	m.mon.busy.mu.Unlock()
	ms.Cache = m.CacheStats()
	return ms
}

// SyncStats returns every account's sync counters. They are apart from
// MonitorStats, which the dashboard takes every second and which never
// shows them: a map of 1000 accounts a second was most of what the idle
// dashboard gave the collector. The metrics scrape reads them.
func (m *Manager) SyncStats() map[int64]AccountSyncStats {
	accts := *m.accts.Load()
	out := make(map[int64]AccountSyncStats, len(accts))
	for id, a := range accts {
		a.mu.Lock()
		out[id] = a.stats
		a.mu.Unlock()
	}
	return out
}

// rounds returns how many SyncAlls run now.
func (s *monitorState) rounds() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncing
}
