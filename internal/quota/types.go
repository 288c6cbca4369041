// Package quota knows every account's quota at every moment, cheaply: a
// cache keyed by (account, model family), the decisions made on the
// effective remaining fraction, a manager that syncs accounts from the
// upstream (on demand and in a background monitor), a prioritizer that
// ranks accounts for a model, an event hub, and run-out forecasts.
package quota

import (
	"math"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// Decision is what the engine says about using an account for a model.
type Decision uint8

// The decisions. Unknown means there is no data.
const (
	Unknown Decision = iota
	Proceed
	LowQuota
	Exhausted
)

// String returns the decision's name.
func (d Decision) String() string {
	switch d {
	case Proceed:
		return "Proceed"
	case LowQuota:
		return "LowQuota"
	case Exhausted:
		return "Exhausted"
	default:
		return "Unknown"
	}
}

// Thresholds set the decision boundaries, as fractions in [0, 1].
type Thresholds struct {
	Low     float64 // below this (and above Reserve) is LowQuota; default 0.10
	Reserve float64 // at or below this is Exhausted; default 0
}

// DefaultThresholds are the product's defaults.
var DefaultThresholds = Thresholds{Low: 0.10, Reserve: 0}

// CoarseStep is the step the upstream has been seen to report figures in
// (20 % at a time). Where every figure of a family sits on this grid, a
// reading of one step is the last before 0: the next request may empty
// it, so it counts as the low zone whatever the threshold says.
const CoarseStep = 0.2

// gridSlack absorbs float noise when testing a figure against the grid.
const gridSlack = 1e-9

// onCoarseGrid reports whether v is a multiple of CoarseStep.
func onCoarseGrid(v float64) bool {
	k := math.Round(v / CoarseStep)
	return math.Abs(v-k*CoarseStep) < gridSlack
}

// decideFigure is MakeDecision for a family whose figures may move in
// coarse steps: with coarse set, a figure at or below one CoarseStep that
// MakeDecision would let Proceed is LowQuota, because the next reading
// can be 0 with nothing in between. It does not allocate.
func decideFigure(remaining cloudcode.Fraction, t Thresholds, coarse bool) Decision {
	d := MakeDecision(remaining, t)
	if d == Proceed && coarse && remaining.Value <= CoarseStep+gridSlack {
		return LowQuota
	}
	return d
}

// MakeDecision decides on an effective remaining fraction:
// Exhausted at or below t.Reserve (0 by default), LowQuota below t.Low,
// Proceed at or above t.Low, Unknown when the fraction is unknown.
func MakeDecision(remaining cloudcode.Fraction, t Thresholds) Decision {
	switch {
	case !remaining.Known:
		return Unknown
	case remaining.Value <= t.Reserve:
		return Exhausted
	case remaining.Value < t.Low:
		return LowQuota
	default:
		return Proceed
	}
}

// BucketQuota is one bucket's figure.
type BucketQuota struct {
	Remaining cloudcode.Fraction
	ResetTime time.Time // zero when unknown
}

// FamilyQuota is what an account has left in one model family.
type FamilyQuota struct {
	Family    cloudcode.Family
	FiveHour  BucketQuota
	Weekly    BucketQuota
	Models    []cloudcode.ModelQuota // the family's models with their own 5h figure
	Effective cloudcode.Fraction     // min over FiveHour, Weekly and every model's own figure
	// Bottleneck names which window sets Effective: cloudcode.Window5h or
	// cloudcode.WindowWeekly ("" when unknown).
	Bottleneck cloudcode.Window
	ResetTime  time.Time // reset time of the bottleneck bucket
	FetchedAt  time.Time
	// Coarse is set while every figure seen for the family sits on the
	// CoarseStep grid: then a reading of one step is the low zone.
	Coarse bool
	// Units5h and UnitsWeekly are the buckets' sizes in requests, learned
	// from how far the figures fell over the requests the proxies sent
	// (0 until learned; cost.go). The upstream reports fractions only; the
	// routing policies need to know what a fraction is worth.
	Units5h, UnitsWeekly float64
	Decision             Decision // MakeDecision(Effective), coarse steps counted; marks below are separate

	// Estimated is set when the figures above were brought forward since
	// the sync that read them (estimate.go): less the cost of the
	// requests the proxies completed since (Requests of them), or, past a
	// bucket's reset time, that bucket taken as refilled. Synced is
	// Effective as the sync read it. The next sync replaces the estimate.
	// Statuses from the engine carry it; a Status built elsewhere has
	// none unless it sets these.
	Estimated bool
	Synced    cloudcode.Fraction
	Requests  int64
	// Cost5h and CostWeekly are what one request costs of each bucket (a
	// fraction; 0 when unknown), CostLearned set when learned from
	// readings rather than the prior: Check says from them how many
	// requests an account has left (Check.Left).
	Cost5h, CostWeekly float64
	CostLearned        bool
	// drop5h is how far the 5-hour estimate fell: the models' own 5-hour
	// figures (the same pool) fall with it.
	drop5h float64
}

// Mark is a reason an (account, family) is unusable until a time, set by
// the proxy after an upstream error.
type Mark struct {
	Kind   MarkKind
	Until  time.Time
	Since  time.Time // when the error that set it was received
	Reason string
}

// MarkKind tells an exhaustion lock from a short cooldown.
type MarkKind uint8

// The mark kinds.
const (
	NoMark MarkKind = iota
	CooldownMark
	ExhaustedMark
)

// AccountState mirrors store.AccountState for the dashboard without
// importing the store into every user of quota.
type AccountState string

// The account states.
const (
	StateActive             AccountState = "active"
	StateDisabled           AccountState = "disabled"
	StateForbidden          AccountState = "forbidden"
	StateValidationRequired AccountState = "validation_required"
	StateNeedsLogin         AccountState = "needs_login"
	StateNeedsClient        AccountState = "needs_client"    // the account's OAuth client is not configured
	StateClientMismatch     AccountState = "client_mismatch" // the token belongs to another OAuth client
)

// Status is a snapshot of one account for the dashboard and the
// prioritizer. It is a copy: holding it holds no lock.
type Status struct {
	AccountID int64
	Email     string
	Label     string // display name: label, else email
	Tier      cloudcode.Tier
	TierID    string
	TierName  string
	ProjectID string
	// State is the account's standing as the dashboard shows it:
	// StateDisabled when the user turned it off, else EngineState.
	State AccountState
	// EngineState is what the engine learned (active, forbidden, needs
	// login, ...; never disabled) and StateReason why. Disabled is the
	// user's choice; they are kept apart so the engine never writes over
	// the user's.
	EngineState   AccountState
	Disabled      bool
	StateReason   string
	ValidationURL string
	Families      [len(cloudcode.Families)]FamilyQuota // indexed like cloudcode.Families
	Marks         [len(cloudcode.Families)]Mark        // active marks per family (Kind NoMark when none)
	LastSync      time.Time
	LastError     string // last sync error, "" after a success
	LastUsed      time.Time
	// Unreadable says why the quota cannot be read now ("" when it can):
	// a 403 or a 429 on a quota read, or no project. The account stays
	// routable on the reactive path; its figures are unknown meanwhile.
	Unreadable string
	// UnreadableCause classifies Unreadable for metrics and scripts:
	// "forbidden" (a 403), "rate_limited" (a 429), "no_project", or
	// "other"; "" when the quota is readable.
	UnreadableCause string
	// UnreadableUntil is when the quota is read again after the upstream
	// asked to wait (a 429 on a quota read); zero for the next sync.
	UnreadableUntil time.Time
	// At is when this snapshot was taken, on the engine's clock, and
	// Thresholds the user's decision boundaries: with them Check answers
	// as the engine does.
	At         time.Time
	Thresholds Thresholds
	// Routing is the user's choices about how the proxy may use the
	// account (priority, reserve, families, monitored only). Check
	// honours them, so everyone judging from a Status agrees.
	Routing Routing
}

// settle sets State from EngineState and Disabled.
func (s *Status) settle() {
	s.State = s.EngineState
	if s.Disabled {
		s.State = StateDisabled
	}
}

// Family returns the account's quota for f (zero FamilyQuota for unknown).
func (s *Status) Family(f cloudcode.Family) *FamilyQuota {
	for i, g := range cloudcode.Families {
		if g == f {
			return &s.Families[i]
		}
	}
	return &FamilyQuota{Family: f}
}

// Check is the answer of Manager.CheckQuota for one (account, model).
type Check struct {
	Decision   Decision
	Remaining  cloudcode.Fraction // effective: min of the model's 5h and its family's 5h and weekly
	Bottleneck cloudcode.Window
	// ResetTime is when the bottleneck resets; under an active mark, when
	// the mark ends (or the reset, if the figures say spent for longer).
	ResetTime time.Time
	// Usable is false when the account is disabled, forbidden, needs a
	// login, or its family is under a cooldown or exhaustion mark, or the
	// decision is Exhausted. Reason says why (a constant string).
	Usable bool
	Reason string
	// Estimated is set when Remaining is an estimate (requests since the
	// last sync, or a bucket past its reset time taken as refilled).
	Estimated bool
	// Left is how many requests the account can still take for the model
	// by the estimate (the lowest over the buckets that apply, counting
	// one coarse step as possibly spent already); -1 when the cost or the
	// figure is unknown.
	Left int
}

// Candidate is one ranked account for a model, with what the policies
// order it by.
type Candidate struct {
	AccountID int64
	Label     string
	Tier      cloudcode.Tier
	Check     Check
	LastUsed  time.Time
	// Priority is the user's priority for the account (PolicyPriority).
	Priority int
	// SpendBy is when what the account has left for the model's family
	// is lost if not spent (PolicyResetAware): its 5-hour window's reset,
	// or its weekly reset when WeeklyKept. Zero when unknown.
	SpendBy time.Time
	// WeeklyKept is set when the weekly bucket is behind pace (less left
	// than the share of its week still to come): spending it now would
	// burn what the rest of the week needs.
	WeeklyKept bool
	// Urgent is set when SpendBy is within one 5-hour window: units are
	// lost unless the account is spent now.
	Urgent bool
	// Ahead is how far the weekly bucket is ahead of pace: what it holds
	// less the share of its week still to come (PaceKnown when both are
	// known). An account ahead of pace would end its week with units left.
	Ahead     float64
	PaceKnown bool
	// Started reports that the family's 5-hour window has been drawn from
	// (PolicyFillFirst).
	Started bool
	// Room is how many requests the family's 5-hour window still takes,
	// from the capacity the engine learned (FamilyQuota.Units5h); 0 when
	// not learned yet.
	Room float64
}

// EventKind names what happened.
type EventKind uint8

// The event kinds.
const (
	EventQuotaChanged EventKind = iota + 1
	EventLowQuota
	EventExhausted
	EventRecovered
	EventTierChanged
	EventSyncStarted
	EventSyncFinished
	EventAccountError
	EventSwitch          // published by the proxy
	EventAccountDisabled // invalid_grant, forbidden, validation required
)

// String returns the event kind's name as stored.
func (k EventKind) String() string {
	switch k {
	case EventQuotaChanged:
		return "quota_changed"
	case EventLowQuota:
		return "low_quota"
	case EventExhausted:
		return "exhausted"
	case EventRecovered:
		return "recovered"
	case EventTierChanged:
		return "tier_changed"
	case EventSyncStarted:
		return "sync_started"
	case EventSyncFinished:
		return "sync_finished"
	case EventAccountError:
		return "account_error"
	case EventSwitch:
		return "switch"
	case EventAccountDisabled:
		return "account_disabled"
	default:
		return "unknown"
	}
}

// Event is a discrete happening worth showing or keeping.
type Event struct {
	At        time.Time
	Kind      EventKind
	AccountID int64 // 0 when not about one account
	Account   string
	Family    cloudcode.Family
	Message   string
}

// MonitorStats describes the background monitor and the cache.
type MonitorStats struct {
	SyncsRun       int64
	Running        bool // a SyncAll is in progress
	LastSyncStart  time.Time
	LastSyncTook   time.Duration
	LastSyncOK     int
	LastSyncErrors int
	NextSync       time.Time
	Cache          CacheStats
	Monitoring     bool   // StartMonitor is running
	ResyncDropped  uint64 // ResyncSoon requests dropped (queue full or no monitor)
	// Poller is set while this process holds the poller lease: it polls
	// the upstream for every process on the database. Holder names it.
	Poller bool
	Holder string
	// Backend is the database's kind ("sqlite", "postgres"); Instances
	// how many instances are live on it, by their heartbeats (0 when the
	// database keeps none: SQLite).
	Backend   string
	Instances int
	// Health is the engine's own condition (its database), as Health()
	// returns it, for views that already read MonitorStats.
	Health Health
	// QuotaReads counts the quota-reading calls (loadCodeAssist,
	// fetchAvailableModels, retrieveUserQuotaSummary) this process made,
	// and QuotaReadsLastHour those of the last hour on the engine's clock:
	// what adaptive sync costs. BusySyncs counts the syncs it made early
	// because an account served traffic, and Busy the accounts that
	// served some since their last sync.
	QuotaReads         int64
	QuotaReadsLastHour int64
	BusySyncs          int64
	Busy               int
	// Estimate is how far the estimates were from the figures that
	// replaced them.
	Estimate EstimateError
}

// AccountSyncStats counts one account's syncs.
type AccountSyncStats struct {
	Successes int64
	Errors    int64
	LastError string
}

// CacheStats describes the quota cache.
type CacheStats struct {
	Active   int
	Expired  int
	Hits     uint64
	Misses   uint64
	HitRatio float64 // hits / (hits + misses), 0 when none
}

// SyncResult is the outcome of one SyncAll.
type SyncResult struct {
	Started time.Time
	Took    time.Duration
	OK      int
	Errors  map[int64]error
	// Skipped counts accounts not synced because they are disabled, need
	// a new login, or the upstream asked to wait before reading their
	// quota again (Status.UnreadableUntil).
	Skipped int
	// AccountTime is the sum of the per-account sync durations and Workers
	// the pool size, so AccountTime / (Took × Workers) is the parallel
	// efficiency.
	AccountTime time.Duration
	Workers     int
	// Persist is the part of Took spent writing the run to the store.
	Persist time.Duration
}

// Forecast projects when an (account, family) runs out at its current pace.
type Forecast struct {
	Enough       bool          // false until there are enough points to say anything
	BurnPerHour  float64       // fraction per hour, > 0 when draining
	EmptyIn      time.Duration // projected time to empty; 0 when not draining
	ResetIn      time.Duration // time to the bottleneck's reset
	RunsOutFirst bool          // EmptyIn < ResetIn: warn
}
