// Package tui is quotatui's live dashboard: a Bubble Tea v2 program that
// shows every account's quota, the background monitor, the proxy and a
// warnings log, and lets the user act from the keyboard. It reads the
// quota engine and the proxy through small interfaces declared here, is fed
// by the engine's coalescing feed and a 1 s tick, and never blocks either.
package tui

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/quota"
)

// Engine is what the dashboard uses of the quota engine (*quota.Manager).
// GetAllQuotas and MonitorStats are cheap copies; the others may do I/O
// and are only called from commands.
type Engine interface {
	GetAllQuotas() []quota.Status
	MonitorStats() quota.MonitorStats
	SyncAccount(ctx context.Context, accountID int64) error
	SyncAll(ctx context.Context) quota.SyncResult
	ClearCache()
	ClearTierCache(ctx context.Context) error
	Forecast(ctx context.Context, accountID int64, f cloudcode.Family) (quota.Forecast, error)
	RecentEvents(ctx context.Context, accountID int64, n int) ([]quota.Event, error)
	// Policy is the routing policy the proxy ranks accounts by.
	Policy() quota.Policy
	// Standings says where an account stands in that ranking per
	// family, and why (no I/O, but it ranks every account).
	Standings(accountID int64) []quota.Standing
}

// HistoryFunc returns an (account, family)'s effective remaining fraction
// since a time, oldest first (quota.Manager.History, with store.Point
// converted to Point).
type HistoryFunc func(ctx context.Context, accountID int64, f cloudcode.Family, since time.Time) ([]Point, error)

// Feed is a subscription to the engine's hub (*quota.Feed): Changed is
// signalled, coalesced, when any account's status changed; Events carries
// discrete events from a bounded buffer that counts what it drops.
type Feed interface {
	Changed() <-chan struct{}
	Events() <-chan quota.Event
	Dropped() uint64
}

// Proxy is what the dashboard uses of the proxy (*proxy.Server).
type Proxy interface {
	// Counters is the proxy's counters (copies), taken every second.
	Counters() proxy.Stats
	// RoutedTo ranks every account per family to name where a new
	// session would go: asked only when something moved (routed.go).
	RoutedTo() map[string]string
	SetPaused(paused bool)
	Paused() bool
}

// Deps is everything the dashboard reads and acts on.
type Deps struct {
	Engine  Engine      // required
	Feed    Feed        // live updates; nil: the dashboard only refreshes on its tick
	History HistoryFunc // sparklines and charts; nil: none drawn
	Usage   UsageFunc   // the usage view and the detail's usage; nil: none shown
	Proxy   Proxy       // nil: the proxy panel is hidden
	Clock   clock.Clock // nil: clock.Real
	NoColor bool        // true when NO_COLOR is set: no escape codes for colour
	Version string
	// Logger receives what the user did and how it ended (resyncs, cache
	// clears, pausing the proxy) at INFO, failures at WARN; nil: nothing.
	Logger *slog.Logger
	// Tick is the stats refresh period; 0 means 1 s.
	Tick time.Duration
}

// Tunables of the dashboard.
const (
	historyWindow = 12 * time.Hour // span of sparklines and detail charts
	maxWarnings   = 200            // bounded warnings log
	recentEvents  = 20             // events shown in the detail view
)

// sortMode orders the accounts table.
type sortMode uint8

const (
	sortWorst sortMode = iota
	sortName
	sortTier
	sortReset
	numSortModes
)

func (s sortMode) String() string {
	return [...]string{"worst", "name", "tier", "reset"}[s]
}

// focusArea is which part receives the movement keys.
type focusArea uint8

const (
	focusTable focusArea = iota
	focusLog
)

// action is a keyboard action that runs as a command.
type action uint8

const (
	actResync action = iota
	actResyncAll
	actClearCache
	actClearTiers
	actPause
	numActions
)

// String names the action in logs.
func (a action) String() string {
	return [...]string{"resync", "resync_all", "clear_cache", "clear_tiers", "pause"}[a]
}

func (a action) running() string {
	return [...]string{"syncing…", "syncing all accounts…", "clearing quota cache…", "clearing tier cache…", "toggling proxy…"}[a]
}

// accountHistory is one account's cached history and forecasts.
type accountHistory struct {
	version   string
	points    [len(cloudcode.Families)][]Point
	forecasts [len(cloudcode.Families)]quota.Forecast
	err       string
}

// viewContext is the shared context of the components: sizes, theme and
// the time the frame is drawn at.
type viewContext struct {
	width, height int
	now           time.Time
	styles        *Styles
}

// Model is the root Bubble Tea model of the dashboard. It owns layout and
// message routing; the components render strings from its state.
type Model struct {
	deps   Deps
	ctx    context.Context
	keys   KeyMap
	styles *Styles
	filter lineInput
	spin   spinner.Model

	width, height int
	now           time.Time

	accounts []quota.Status // latest from the engine, in engine order
	rows     []int          // indexes into accounts: sorted and filtered
	cursor   int            // index into rows
	selected int64          // account id under the cursor, kept across re-sorts
	pinned   bool           // the user chose a row: follow that account, else stay on top
	offset   int            // first visible row
	sortBy   sortMode

	filtering bool
	focus     focusArea
	logOffset int // the warning the focused log starts at
	detail    bool
	detailID  int64
	logView   bool // the warnings log in full
	showHelp  bool
	scroll    [numPages]int // first line shown, per scrolling screen
	usage     usageState    // the usage view and the detail's usage (usage.go)

	mon        quota.MonitorStats
	pstats     proxy.Stats
	prevReq    uint64
	prevAt     time.Time
	rps        float64
	haveRate   bool
	history    map[int64]*accountHistory
	histBusy   bool
	detailEvts []quota.Event
	detailErr  string
	// standings are where the account standingsFor stands in the proxy's
	// ranking, fetched with the detail and, while it is open, by the tick
	// when something moved (stood: what they were ranked on, routed.go).
	standings    []quota.Standing
	standingsFor int64
	stood        ranking
	policy       quota.Policy

	warnings []quota.Event // newest first
	dropped  uint64

	running  [numActions]bool
	status   string
	statErr  bool
	statusAt time.Time // when the last action finished

	initHist tea.Cmd // the first history fetch, started by Init

	cache *renderCache // what recent frames drew (cache.go)
	snap  uint64       // the accounts snapshot's generation, for the cache

	ranked ranking // what the shown RoutedTo was ranked on (routed.go)
}

// New builds the dashboard's model and takes a first snapshot of the
// engine (and the proxy) so the first frame is complete. The model uses
// context.Background for its commands; Run binds it to its context.
func New(deps Deps) Model {
	if deps.Clock == nil {
		deps.Clock = clock.Real{}
	}
	if deps.Tick <= 0 {
		deps.Tick = time.Second
	}
	st := NewStyles(deps.NoColor)
	m := Model{
		deps:    deps,
		ctx:     context.Background(),
		keys:    DefaultKeyMap(),
		styles:  &st,
		spin:    spinner.New(spinner.WithSpinner(spinner.MiniDot)),
		now:     deps.Clock.Now(),
		history: map[int64]*accountHistory{},
		cache:   newRenderCache(),
	}
	m.spin.Style = st.Accent
	m.filter.limit = 64
	m.setAccounts(deps.Engine.GetAllQuotas())
	m.mon = deps.Engine.MonitorStats()
	m.policy = deps.Engine.Policy()
	if deps.Proxy != nil {
		m.pstats = deps.Proxy.Counters()
		m.pstats.RoutedTo = deps.Proxy.RoutedTo()
		m.ranked = ranking{on: rankingKey(m.snap, &m.pstats), at: m.now}
		m.prevReq, m.prevAt = m.pstats.Requests, m.now
	}
	m.initHist = m.startHistory()
	return m
}

// WithContext returns a copy of m whose commands stop when ctx ends.
func (m Model) WithContext(ctx context.Context) Model {
	m.ctx = ctx
	return m
}

// frameRate caps how often the renderer looks for a new frame. Bubble Tea
// parses the whole frame on every look, changed or not; at its default 60
// that alone cost the idle dashboard 1.5 % of a core. The data changes once
// a second; 15 frames a second still answers keys within 70 ms.
const frameRate = 15

// Run runs the dashboard on the terminal until the user quits or ctx
// ends. Its commands are bound to a context cancelled when it returns, so
// no goroutine outlives it. opts are passed to tea.NewProgram (tests give
// input, output and a size).
func Run(ctx context.Context, deps Deps, opts ...tea.ProgramOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := New(deps).WithContext(ctx)
	all := []tea.ProgramOption{tea.WithContext(ctx), tea.WithFPS(frameRate)}
	if deps.NoColor {
		all = append(all, tea.WithColorProfile(colorprofile.Ascii))
	}
	all = append(all, opts...)
	if _, err := tea.NewProgram(m, all...).Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}

// Init starts the live feeds: the wait on the engine's feed, the stats
// tick, and the first history fetch.
func (m Model) Init() tea.Cmd {
	return tea.Batch(m.waitFeed(), m.tick(), m.initHist)
}

// vc returns the shared view context of the current frame.
func (m *Model) vc() viewContext {
	return viewContext{width: m.width, height: m.height, now: m.now, styles: m.styles}
}
