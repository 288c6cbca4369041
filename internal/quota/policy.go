package quota

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// Policy decides the order in which Rank offers accounts for a model, and
// so where a new conversation (or one that must move) goes. A
// conversation keeps its account under every policy: the proxy's session
// binding asks the ranking only when it has no account or must leave it.
// Under every policy usable accounts come first.
type Policy uint8

// The policies. The zero value is PolicyBalanced.
const (
	// PolicyBalanced is the order quotatui always had: tier (ULTRA > PRO >
	// FREE > unknown), then most remaining, then least recently used.
	PolicyBalanced Policy = iota
	// PolicyResetAware spends first what would otherwise be lost: the
	// account whose units expire soonest (its 5-hour window's reset; its
	// weekly reset instead when the weekly bucket is behind pace, so a
	// weekly window is not burnt early). Accounts in the low zone come
	// after the others, so a new conversation starts where it can stay.
	PolicyResetAware
	// PolicyFillFirst uses one account until it is LOW before opening the
	// next: started windows first, the most used first; untouched windows
	// are kept for later.
	PolicyFillFirst
	// PolicyPriority orders by the user's per-account priority (higher
	// first), then as PolicyBalanced within one priority.
	PolicyPriority
)

// Policies lists every policy in the order they are documented.
var Policies = [...]Policy{PolicyBalanced, PolicyResetAware, PolicyFillFirst, PolicyPriority}

// String returns the policy's name as the routing.policy setting spells it.
func (p Policy) String() string {
	switch p {
	case PolicyBalanced:
		return "balanced"
	case PolicyResetAware:
		return "reset-aware"
	case PolicyFillFirst:
		return "fill-first"
	case PolicyPriority:
		return "priority"
	default:
		return fmt.Sprintf("policy(%d)", uint8(p))
	}
}

// PolicyNames returns the names ParsePolicy accepts.
func PolicyNames() []string {
	out := make([]string, len(Policies))
	for i, p := range Policies {
		out[i] = p.String()
	}
	return out
}

// ParsePolicy reads a routing.policy value; an unknown name is an error
// that lists the known ones.
func ParsePolicy(s string) (Policy, error) {
	for _, p := range Policies {
		if s == p.String() {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown routing policy %q: want one of %s", s, strings.Join(PolicyNames(), ", "))
}

// weekLength is the period of a weekly window, for its pace.
const weekLength = 7 * 24 * time.Hour

// spendByStep is the grain at which spend-by times are compared: accounts
// whose units expire within the same few minutes are equal on that count
// and the next criterion decides (a finer difference is noise, and a
// grid keeps the order transitive where a tolerance would not).
const spendByStep = 10 * time.Minute

// newCandidate builds the candidate Rank and Best compare for s's family
// at index idx (-1: no tracked family) and model at now.
func newCandidate(id int64, s *Status, idx int, model string, now time.Time, t Thresholds, lastUsed time.Time) Candidate {
	c := Candidate{AccountID: id, Label: s.Label, Tier: s.Tier, Priority: s.Routing.Priority, LastUsed: lastUsed,
		Check: s.check(idx, model, now, t)}
	if idx >= 0 && c.Check.Remaining.Known {
		fq := &s.Families[idx]
		c.SpendBy, c.WeeklyKept = spendBy(fq, model, now)
		c.Started = started(fq, model)
	}
	return c
}

// fiveHour returns the 5-hour figure and reset that apply to model in fq:
// the lower of the family's bucket and the model's own figure.
func fiveHour(fq *FamilyQuota, model string) BucketQuota {
	b := fq.FiveHour
	if mq := modelQuota(fq, model); mq != nil && mq.Remaining.Known &&
		(!b.Remaining.Known || mq.Remaining.Value < b.Remaining.Value) {
		b = BucketQuota{Remaining: mq.Remaining, ResetTime: mq.ResetTime}
	}
	return b
}

// spendBy is when what the account has left for the family is lost if it
// is not spent: the 5-hour window's reset, unless the weekly bucket is
// behind pace (less left than the share of its week still to come), in
// which case every unit spent now is one the rest of the week lacks, and
// its units count as lost only at the weekly reset. Zero when neither
// reset is known.
func spendBy(fq *FamilyQuota, model string, now time.Time) (at time.Time, weeklyKept bool) {
	five, week := fiveHour(fq, model), fq.Weekly
	if week.Remaining.Known && !week.ResetTime.IsZero() {
		left := min(max(float64(week.ResetTime.Sub(now))/float64(weekLength), 0), 1)
		if week.Remaining.Value < left || five.ResetTime.IsZero() || !five.Remaining.Known {
			return week.ResetTime, week.Remaining.Value < left
		}
	}
	if five.Remaining.Known {
		return five.ResetTime, false
	}
	return time.Time{}, false
}

// started reports whether the family's 5-hour window has been drawn from.
func started(fq *FamilyQuota, model string) bool {
	b := fiveHour(fq, model)
	return b.Remaining.Known && b.Remaining.Value < 1-gridSlack
}

// criterion is one key of a policy's order: cmp < 0 puts a first; ahead
// says briefly why a (which cmp puts first) ranks before b.
type criterion struct {
	cmp   func(a, b *Candidate) int
	ahead func(a, b *Candidate, now time.Time) string
}

// zone orders what a candidate can carry: Proceed, then LowQuota, then
// Unknown (no figure at all); a new conversation starts where it can stay.
func zone(c *Candidate) int {
	switch c.Check.Decision {
	case Proceed:
		return 0
	case LowQuota:
		return 1
	case Unknown:
		return 2
	default:
		return 3
	}
}

func known(c *Candidate) bool { return c.Check.Remaining.Known }

// The criteria the policies are made of.
var (
	byUsable = criterion{
		cmp:   func(a, b *Candidate) int { return -cmpBool(a.Check.Usable, b.Check.Usable) },
		ahead: func(a, b *Candidate, _ time.Time) string { return "it is usable (the other: " + b.Check.Reason + ")" },
	}
	byTier = criterion{
		cmp: func(a, b *Candidate) int { return cmp.Compare(b.Tier, a.Tier) },
		ahead: func(a, b *Candidate, _ time.Time) string {
			return fmt.Sprintf("higher tier (%s over %s)", tierName(a.Tier), tierName(b.Tier))
		},
	}
	byKnown = criterion{
		cmp:   func(a, b *Candidate) int { return -cmpBool(known(a), known(b)) },
		ahead: func(*Candidate, *Candidate, time.Time) string { return "its quota is known (the other's is not)" },
	}
	byMost = criterion{
		cmp: func(a, b *Candidate) int {
			if !known(a) || !known(b) {
				return 0
			}
			return cmp.Compare(b.Check.Remaining.Value, a.Check.Remaining.Value)
		},
		ahead: func(a, b *Candidate, _ time.Time) string {
			return fmt.Sprintf("more left (%s vs %s)", percent(a.Check.Remaining.Value), percent(b.Check.Remaining.Value))
		},
	}
	byLeastRecent = criterion{
		cmp:   func(a, b *Candidate) int { return a.LastUsed.Compare(b.LastUsed) },
		ahead: func(*Candidate, *Candidate, time.Time) string { return "used less recently" },
	}
	byID = criterion{
		cmp: func(a, b *Candidate) int { return cmp.Compare(a.AccountID, b.AccountID) },
		ahead: func(*Candidate, *Candidate, time.Time) string {
			return "equal on every count; the lower account id goes first"
		},
	}
	byPriority = criterion{
		cmp: func(a, b *Candidate) int { return cmp.Compare(b.Priority, a.Priority) },
		ahead: func(a, b *Candidate, _ time.Time) string {
			return fmt.Sprintf("higher priority (%d over %d)", a.Priority, b.Priority)
		},
	}
	byZone = criterion{
		cmp: func(a, b *Candidate) int { return cmp.Compare(zone(a), zone(b)) },
		ahead: func(a, b *Candidate, _ time.Time) string {
			if b.Check.Decision == LowQuota {
				return "the other is in its low zone (kept for the conversations already on it)"
			}
			return "its quota is known (the other's is not)"
		},
	}
	bySpendBy = criterion{
		cmp: func(a, b *Candidate) int {
			switch az, bz := a.SpendBy.IsZero(), b.SpendBy.IsZero(); {
			case az && bz:
				return 0
			case az != bz:
				return cmpBool(az, bz) // a known spend-by first
			}
			return a.SpendBy.Truncate(spendByStep).Compare(b.SpendBy.Truncate(spendByStep))
		},
		ahead: func(a, b *Candidate, now time.Time) string {
			if b.SpendBy.IsZero() {
				return "its units' expiry is known (the other's is not)"
			}
			return fmt.Sprintf("its units expire sooner (%s vs %s)", spendByText(a, now), spendByText(b, now))
		},
	}
	byStarted = criterion{
		cmp: func(a, b *Candidate) int { return -cmpBool(a.Started, b.Started) },
		ahead: func(a, _ *Candidate, _ time.Time) string {
			return fmt.Sprintf("its 5h window is already started (%s left); the other's is untouched", percent(a.Check.Remaining.Value))
		},
	}
	byFullest = criterion{
		cmp: func(a, b *Candidate) int {
			if !known(a) || !known(b) {
				return 0
			}
			return cmp.Compare(a.Check.Remaining.Value, b.Check.Remaining.Value)
		},
		ahead: func(a, b *Candidate, _ time.Time) string {
			return fmt.Sprintf("filled further (%s left vs %s)", percent(a.Check.Remaining.Value), percent(b.Check.Remaining.Value))
		},
	}
)

// orders holds each policy's criteria, most significant first.
var orders = [...][]criterion{
	PolicyBalanced:   {byUsable, byTier, byKnown, byMost, byLeastRecent, byID},
	PolicyResetAware: {byUsable, byZone, bySpendBy, byTier, byKnown, byMost, byLeastRecent, byID},
	PolicyFillFirst:  {byUsable, byZone, byKnown, byStarted, byFullest, byTier, byID},
	PolicyPriority:   {byUsable, byPriority, byTier, byKnown, byMost, byLeastRecent, byID},
}

// criteria returns p's order (balanced for an unknown policy).
func (p Policy) criteria() []criterion {
	if int(p) < len(orders) {
		return orders[p]
	}
	return orders[PolicyBalanced]
}

// compare orders a and b under p: < 0 puts a first. The second result is
// the criterion that decided (-1 when none did, which the id rules out).
func (p Policy) compare(a, b *Candidate) (int, int) {
	for i, c := range p.criteria() {
		if n := c.cmp(a, b); n != 0 {
			return n, i
		}
	}
	return 0, -1
}

// less reports whether a ranks before b under p.
func (p Policy) less(a, b *Candidate) bool {
	n, _ := p.compare(a, b)
	return n < 0
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}

func tierName(t cloudcode.Tier) string {
	if t == cloudcode.TierUnknown {
		return "unknown tier"
	}
	return t.String()
}

// spendByText says when a candidate's units expire and which window sets it.
func spendByText(c *Candidate, now time.Time) string {
	window := "5h reset"
	if c.WeeklyKept {
		window = "weekly reset, weekly behind pace"
	} else if c.SpendBy.Sub(now) > 5*time.Hour+time.Minute {
		window = "weekly reset"
	}
	return "in " + roundDur(c.SpendBy.Sub(now)) + ", " + window
}

// roundDur writes a duration briefly: "45m", "3h20m", "2d4h".
func roundDur(d time.Duration) string {
	if d < time.Minute {
		return "under a minute"
	}
	d = d.Round(time.Minute)
	days, d := d/(24*time.Hour), d%(24*time.Hour)
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	default:
		return fmt.Sprintf("%dm", m)
	}
}
