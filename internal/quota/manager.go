package quota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/store"
)

// Upstream is the part of the Cloud Code client the manager uses.
// *cloudcode.Client satisfies it.
type Upstream interface {
	LoadCodeAssist(ctx context.Context, accessToken string) (*cloudcode.Subscription, error)
	FetchAvailableModels(ctx context.Context, accessToken, project string) (*cloudcode.ModelCatalog, error)
	RetrieveUserQuotaSummary(ctx context.Context, accessToken, project string) (*cloudcode.QuotaSummary, error)
}

// TokenSource hands out access tokens per account. *auth.Tokens satisfies it.
type TokenSource interface {
	Token(ctx context.Context, accountID int64) (string, error)
	// Invalidate makes the next Token refresh (after a 401).
	Invalidate(accountID int64)
}

// Store is what the manager needs of a database: the SQLite store
// (*store.Store) and the PostgreSQL one (*pg.Store) both satisfy it; tests
// may fake it. A store may offer more, which the manager uses when it is
// there: its health (healthSource), its changes as other processes make
// them (changeSource), the instances' heartbeats (presence) and its kind
// (backendNamer).
type Store interface {
	Accounts(ctx context.Context) ([]store.Account, error)
	SetState(ctx context.Context, id int64, state store.AccountState, reason, validationURL string, at time.Time) error
	SetDisabled(ctx context.Context, id int64, disabled bool, at time.Time) error
	AccountsVersion(ctx context.Context) (int64, error)
	ClearTierCache(ctx context.Context) error
	Lease
	SyncVersion(ctx context.Context) (int64, error)
	Latest(ctx context.Context) ([]store.Sample, error)
	Write(ctx context.Context, b store.Batch) error
	Marks(ctx context.Context, now time.Time) ([]store.Mark, error)
	History(ctx context.Context, accountID int64, family, window string, since time.Time) ([]store.Point, error)
	Compact(ctx context.Context, now time.Time, rollupAfter, retention time.Duration) error
	Events(ctx context.Context, accountID int64, limit int) ([]store.Event, error)
}

// Options configure a Manager. Zero fields take the defaults named on each.
type Options struct {
	Clock          clock.Clock   // clock.Real{}
	Thresholds     Thresholds    // Low defaults to DefaultThresholds.Low; Reserve to 0
	CacheTTL       time.Duration // 5m
	TierTTL        time.Duration // 24h
	AccountTimeout time.Duration // 30s per account and sync
	Interval       time.Duration // 5m between monitor syncs
	Concurrency    int           // 16 accounts synced at once
	EventBuffer    int           // 256 events per subscriber
	Logger         *slog.Logger  // slog.Default(); tokens are never logged
	// Policy orders Rank and Best (the routing.policy setting); the
	// zero value is PolicyBalanced, the order quotatui always had.
	Policy Policy
	// Retention is how long quota history is kept by the monitor's hourly
	// compaction (720h); RollupAfter is the age past which history is rolled
	// up per hour (24h).
	Retention   time.Duration
	RollupAfter time.Duration
	// ClockRate is how many seconds of Clock pass per real second: 1 (the
	// default) for the wall clock, more for the demo's fast clock. The
	// monitor waits in real time and reports its next sync on Clock.
	ClockRate float64
	// OnSync, when set, is called after every SyncAll with its wall time
	// and how many accounts failed (the metrics' sync histogram).
	OnSync func(took time.Duration, errors int)
	// Holder names this process in the poller election (default: host,
	// pid and a random part). LeaseTTL is how long the lease lasts
	// unrenewed (DefaultLeaseTTL) and LeaseBeat how often the monitor
	// renews it or tries to take it (DefaultLeaseBeat); both real time.
	Holder    string
	LeaseTTL  time.Duration
	LeaseBeat time.Duration
	// BusyInterval is how often the poller syncs an account that served
	// traffic since its last sync (each account's wait spread over ±1/3
	// of it: 30–60 s for the default DefaultBusyInterval); BusyPerMinute
	// bounds those syncs in total (DefaultBusyPerMinute). Adaptive sync
	// is off with a negative BusyPerMinute.
	BusyInterval  time.Duration
	BusyPerMinute int
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.ClockRate <= 0 {
		o.ClockRate = 1
	}
	if o.Thresholds.Low <= 0 {
		o.Thresholds.Low = DefaultThresholds.Low
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = 5 * time.Minute
	}
	if o.TierTTL <= 0 {
		o.TierTTL = 24 * time.Hour
	}
	if o.AccountTimeout <= 0 {
		o.AccountTimeout = 30 * time.Second
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Minute
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = 256
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Retention <= 0 {
		o.Retention = 720 * time.Hour
	}
	if o.RollupAfter <= 0 {
		o.RollupAfter = 24 * time.Hour
	}
	if o.Holder == "" {
		o.Holder = newHolder()
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.LeaseBeat <= 0 {
		o.LeaseBeat = min(DefaultLeaseBeat, o.LeaseTTL/3)
	}
	if o.BusyInterval <= 0 {
		o.BusyInterval = DefaultBusyInterval
	}
	if o.BusyPerMinute == 0 {
		o.BusyPerMinute = DefaultBusyPerMinute
	}
	return o
}

// ErrUnknownAccount is returned for an account id the manager does not know.
var ErrUnknownAccount = errors.New("unknown account")

// ErrNotSyncable is returned by SyncAccount for an account that is disabled
// or needs a new login: it is skipped until its state changes.
var ErrNotSyncable = errors.New("account is disabled or needs a new login")

// Manager is the quota engine: a cache of every account's quota per family,
// the syncs that fill it, the marks the proxy sets, the event hub and the
// background monitor. It is safe for concurrent use.
type Manager struct {
	up     Upstream
	tokens TokenSource
	st     Store
	opt    Options
	clock  clock.Clock
	log    *slog.Logger

	// accts is a copy-on-write map so the hot path reads it without a lock.
	accts    atomic.Pointer[map[int64]*account]
	reloadMu sync.Mutex

	hits   atomic.Uint64
	misses atomic.Uint64

	// flightSeq orders every account's sync flights (see flight).
	flightSeq atomic.Uint64
	// seenVersion is the store's accounts version the last Reload read.
	seenVersion atomic.Int64
	// lastHealth is the Health text the monitor last logged.
	lastHealth atomic.Pointer[string]

	hub hub

	mon    monitorState
	poll   pollerState
	shared sharedState

	// watchEvery, when set, replaces the monitor's 1-second look at the
	// store's counters (tests of the announcements turn it off).
	watchEvery time.Duration

	// The spend ledger and what it feeds (ledger.go, cost.go,
	// estimate.go). ls is the store's ledger part, nil when it has none.
	ls           ledgerStore
	ledger       ledger
	costs        costModel
	spend        atomic.Pointer[spendView] // the other processes' recent spending
	spendSeen    atomic.Int64              // the store's spend version last read
	est          estimateError
	ledgerWarned atomic.Int64 // unix nanoseconds of the last WARN about the ledger
	reads        readCounter  // quota-reading calls (adaptive sync's budget)
}

// account holds one account's state. Readers load snap; writers hold mu,
// copy the snapshot, change the copy and store it.
type account struct {
	id       int64
	mu       sync.Mutex
	snap     atomic.Pointer[snapshot]
	lastUsed atomic.Int64 // unix nanoseconds; 0 = never

	// Guarded by mu.
	episodes [len(cloudcode.Families)]episode
	// fine is set for a family once a figure off the CoarseStep grid was
	// seen: it reports in small steps, so the threshold alone decides.
	fine [len(cloudcode.Families)]bool
	// problems are the oddities in the last answers (skipped entries,
	// figures read as unknown), each logged once while it lasts.
	problems map[string]bool
	stats    AccountSyncStats
	lastTook time.Duration // the last sync's time for this account
	flight   *flight       // the sync in progress, nil when none
	// spent counts the charged requests the proxy completed per family
	// (the ledger's Record); recent remembers when the last ones did;
	// others counts what other processes charged since each bucket's
	// anchor (estimate.go).
	spent  [len(cloudcode.Families)]atomic.Int64
	recent [len(cloudcode.Families)]recentRing
	others [len(cloudcode.Families)][numWindows]atomic.Int64
	// lastCharged and othersLast are when this process and the others
	// last completed a charged request on the account (unix nanoseconds),
	// to tell a busy account (adaptive sync). learnAsked is when the
	// account was last synced early to learn what requests cost, and
	// staleAsked when a resync after a passed reset time was last asked.
	lastCharged, othersLast atomic.Int64
	learnAsked, staleAsked  atomic.Int64
	// warnedMsg and warnedAt are the last failure logged at WARN and when.
	warnedMsg string
	warnedAt  time.Time
}

// snapshot is an immutable view of one account.
type snapshot struct {
	status Status
	// expires is when each family's cache entry stops answering CheckQuota;
	// zero means there is no entry (never fetched, cleared or cleaned up).
	// status.Families keeps the last known figures for display either way.
	expires       [len(cloudcode.Families)]time.Time
	tierCheckedAt time.Time
	// anchors are where each bucket's estimate starts (estimate.go).
	anchors [len(cloudcode.Families)][numWindows]anchor
}

// episode remembers which warnings fired for an (account, family) so each
// fires once per episode.
type episode struct {
	lowFired       bool
	exhaustedFired bool
	last           cloudcode.Fraction // effective figure at the last sync
	resetTime      time.Time          // bottleneck reset at the last sync
	bottleneck     cloudcode.Window   // the window resetTime belongs to
	locked         bool               // an upstream 429 locked the family this episode (MarkExhausted)
}

// NewManager returns a Manager for the accounts in st. It starts no
// goroutine: call StartMonitor for background syncs.
func NewManager(ctx context.Context, up Upstream, tokens TokenSource, st Store, opt Options) (*Manager, error) {
	if st == nil {
		return nil, errors.New("quota: nil store")
	}
	return newManager(ctx, up, tokens, st, opt)
}

func newManager(ctx context.Context, up Upstream, tokens TokenSource, st Store, opt Options) (*Manager, error) {
	if up == nil || tokens == nil {
		return nil, errors.New("quota: nil upstream or token source")
	}
	opt = opt.withDefaults()
	m := &Manager{up: up, tokens: tokens, st: st, opt: opt, clock: opt.Clock, log: opt.Logger}
	empty := map[int64]*account{}
	m.accts.Store(&empty)
	m.hub.init()
	m.mon.init()
	m.poll.init(opt.Holder)
	m.ledger.init()
	m.costs.init()
	m.spendSeen.Store(-1)
	m.ls, _ = st.(ledgerStore)
	// What requests cost, as every process on the database learned it.
	if err := m.loadCosts(ctx, true); err != nil {
		m.log.Warn("quota: read the learned request costs; starting from the prior", "err", err)
	}
	m.shared.started = time.Now()
	healthy := "ok"
	m.lastHealth.Store(&healthy)
	if err := m.Reload(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// Reload re-reads the accounts and the marks in force from the store
// (after a login, an import or a removal; the monitor calls it whenever
// another process changed them). Cached quota and marks of accounts that
// remain are kept; a stored mark that holds longer is adopted.
func (m *Manager) Reload(ctx context.Context) error {
	// The counter first: a change made while reading is seen next time.
	version, err := m.st.AccountsVersion(ctx)
	if err != nil {
		return fmt.Errorf("quota: load accounts: %w", err)
	}
	rows, err := m.st.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("quota: load accounts: %w", err)
	}
	// Marks learned from 429s (by this process before a restart, or by
	// another on the same database) are in force until they end.
	now := m.clock.Now()
	stored, err := m.st.Marks(ctx, now)
	if err != nil {
		return fmt.Errorf("quota: load marks: %w", err)
	}
	marks := make(map[int64][]store.Mark, len(stored))
	for _, mk := range stored {
		marks[mk.AccountID] = append(marks[mk.AccountID], mk)
	}
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	old := *m.accts.Load()
	next := make(map[int64]*account, len(rows))
	for _, r := range rows {
		a := old[r.ID]
		if a == nil {
			s := &snapshot{status: Status{AccountID: r.ID}}
			for i, f := range cloudcode.Families {
				s.status.Families[i].Family = f
			}
			a = &account{id: r.ID}
			a.snap.Store(s)
		}
		a.update(func(s *snapshot) {
			applyAccountRow(s, r)
			applyStoredMarks(s, marks[r.ID], now)
		})
		next[r.ID] = a
	}
	m.accts.Store(&next)
	m.seenVersion.Store(version)
	m.hub.signal()
	return nil
}

// applyAccountRow copies the store's view of an account into s. Tokens are
// deliberately not kept: the TokenSource owns them.
func applyAccountRow(s *snapshot, r store.Account) {
	st := &s.status
	st.Email = r.Email
	st.Label = r.Label
	if st.Label == "" {
		st.Label = r.Email
	}
	st.ProjectID = r.ProjectID
	st.TierID = r.TierID
	st.TierName = r.TierName
	st.Tier = cloudcode.ParseTier(r.Tier)
	if r.Tier == "" && r.TierID != "" {
		st.Tier = cloudcode.NormalizeTier(r.TierID, r.TierName)
	}
	st.EngineState = AccountState(r.State)
	if st.EngineState == "" {
		st.EngineState = StateActive
	}
	st.Disabled = r.Disabled
	st.settle()
	st.Routing = routingOf(r.Routing)
	st.StateReason = r.StateReason
	st.ValidationURL = r.ValidationURL
	s.tierCheckedAt = r.TierCheckedAt
}

// applyStoredMarks adopts the stored marks that hold longer than the ones
// in memory: a mark only ever extends (MarkExhausted's rule), so a stored
// mark never shortens one this process set.
func applyStoredMarks(s *snapshot, marks []store.Mark, now time.Time) {
	for _, sm := range marks {
		idx := familyIndex(cloudcode.ParseFamily(sm.Family))
		if idx < 0 || !sm.Until.After(now) {
			continue
		}
		kind := CooldownMark
		if sm.Kind == store.MarkExhausted {
			kind = ExhaustedMark
		}
		mk := &s.status.Marks[idx]
		if mk.Kind == NoMark || !mk.Until.After(now) || sm.Until.After(mk.Until) || kind == ExhaustedMark && mk.Kind == CooldownMark {
			*mk = Mark{Kind: kind, Until: sm.Until, Since: sm.Since, Reason: sm.Reason}
		}
	}
}

// update replaces a's snapshot with a modified copy. The caller must not
// hold a.mu.
func (a *account) update(fn func(s *snapshot)) {
	a.mu.Lock()
	a.updateLocked(fn)
	a.mu.Unlock()
}

// updateLocked is update for a caller that holds a.mu.
func (a *account) updateLocked(fn func(s *snapshot)) {
	next := *a.snap.Load()
	fn(&next)
	a.snap.Store(&next)
}

// lookup returns the account with id, or nil.
func (m *Manager) lookup(id int64) *account {
	return (*m.accts.Load())[id]
}

// sortedAccounts returns every account ordered by id.
func (m *Manager) sortedAccounts() []*account {
	all := *m.accts.Load()
	out := make([]*account, 0, len(all))
	for _, a := range all {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// statusOf returns a copy of the account's status brought forward to now
// (estimate.go), with the marks that are still in force and its
// last-used time.
func (m *Manager) statusOf(a *account, now time.Time) Status {
	st := m.forwarded(a, a.snap.Load(), now)
	for i := range st.Marks {
		if !st.Marks[i].Until.After(now) {
			st.Marks[i] = Mark{}
		}
	}
	st.At, st.Thresholds = now, m.opt.Thresholds
	if n := a.lastUsed.Load(); n != 0 {
		st.LastUsed = time.Unix(0, n)
	}
	return st
}

// GetAllQuotas returns a snapshot of every account, ordered by id. It does
// no I/O.
func (m *Manager) GetAllQuotas() []Status {
	now := m.clock.Now()
	accts := m.sortedAccounts()
	out := make([]Status, len(accts))
	for i, a := range accts {
		out[i] = m.statusOf(a, now)
	}
	return out
}

// Account returns a snapshot of one account and whether it exists.
func (m *Manager) Account(accountID int64) (Status, bool) {
	a := m.lookup(accountID)
	if a == nil {
		return Status{}, false
	}
	return m.statusOf(a, m.clock.Now()), true
}

// ClearCache drops every cached quota entry, so the next CheckQuota of each
// account asks the upstream. The last known figures stay on display.
func (m *Manager) ClearCache() {
	for _, a := range *m.accts.Load() {
		a.update(func(s *snapshot) { s.expires = [len(cloudcode.Families)]time.Time{} })
	}
	m.hub.signal()
}

// familyIndex returns f's index in cloudcode.Families, or -1.
func familyIndex(f cloudcode.Family) int {
	for i, g := range cloudcode.Families {
		if g == f {
			return i
		}
	}
	return -1
}
