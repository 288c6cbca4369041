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
	// PolicyResetAware spends first what a reset would otherwise take
	// away. A new conversation starts where it can stay (Proceed, with
	// room for roomForNew requests in the 5-hour window once its size is
	// learned), then on an account whose units are lost within one 5-hour
	// window unless spent now (spendBy: the window's leftover when the
	// weekly bucket holds more than can be spent before its own reset, or a
	// weekly bucket that only full use from now on drains in time), soonest
	// first; otherwise on the account whose weekly bucket is furthest ahead
	// of pace, so every weekly window drains evenly towards its reset and
	// none is burnt early. Then the balanced order.
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

// The windows' lengths.
const (
	fiveHours  = 5 * time.Hour
	weekLength = 7 * 24 * time.Hour
)

// roomForNew is how many requests the 5-hour window must still take for a
// new conversation to start there first under PolicyResetAware: an
// agentic conversation runs to a few dozen requests, and one that starts
// on an account about to run dry has to move soon (a switch, and a cold
// prompt cache). Only where the engine learned the window's size.
const roomForNew = 50

// spendByStep is the grain at which spend-by times are compared: accounts
// whose units expire within the same few minutes are equal on that count
// and the next criterion decides (a finer difference is noise, and a
// grid keeps the order transitive where a tolerance would not).
const spendByStep = 10 * time.Minute

// newCandidate builds the candidate Rank and Best compare for s's family
// at index idx (-1: no tracked family), whose figures are fq (s's own or
// a copy brought forward; nil for idx -1), and model at now.
func newCandidate(id int64, s *Status, fq *FamilyQuota, idx int, model string, now time.Time, t Thresholds, lastUsed time.Time) Candidate {
	c := Candidate{AccountID: id, Label: s.Label, Tier: s.Tier, Priority: s.Routing.Priority, LastUsed: lastUsed}
	if idx < 0 || fq == nil {
		c.Check = s.check(idx, model, now, t)
		return c
	}
	c.Check = s.checkFamily(fq, idx, model, now, t)
	if c.Check.Remaining.Known {
		c.SpendBy, c.WeeklyKept = spendBy(fq, model, now)
		c.Urgent = !c.SpendBy.IsZero() && c.SpendBy.Sub(now) <= fiveHours
		if w := fq.Weekly; w.Remaining.Known && !w.ResetTime.IsZero() {
			c.Ahead, c.PaceKnown = w.Remaining.Value-weekShare(w.ResetTime, now), true
		}
		c.Started = started(fq, model)
		if b := fiveHour(fq, model); b.Remaining.Known && fq.Units5h > 0 {
			c.Room = b.Remaining.Value * fq.Units5h
		}
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
// is not spent, and whether its weekly bucket is what holds it back:
//
//   - With the buckets' sizes learned (FamilyQuota.Units5h, UnitsWeekly):
//     when the weekly bucket holds more than the account could serve before
//     the weekly reset (the rest of this 5-hour window and every window
//     after it, at full speed), whatever this window leaves is lost at its
//     reset: spend by then. Otherwise a unit spent now is one a later
//     window lacks; the weekly's units are lost only if the account is not
//     used at full speed from the latest time that still drains it: spend
//     by then (weeklyKept).
//   - Without the sizes: the weekly bucket counts as holding back when it
//     is behind pace (less left than the share of its week still to come);
//     then its reset, else the 5-hour reset.
//
// Zero when no reset is known.
func spendBy(fq *FamilyQuota, model string, now time.Time) (at time.Time, weeklyKept bool) {
	five, week := fiveHour(fq, model), fq.Weekly
	fiveKnown := five.Remaining.Known && !five.ResetTime.IsZero()
	weekKnown := week.Remaining.Known && !week.ResetTime.IsZero()
	switch {
	case fiveKnown && weekKnown && fq.Units5h > 0 && fq.UnitsWeekly > 0:
		// Both in 5-hour windows' worth.
		held := week.Remaining.Value * fq.UnitsWeekly / fq.Units5h
		most := five.Remaining.Value + max(float64(week.ResetTime.Sub(five.ResetTime)), 0)/float64(fiveHours)
		if held >= most {
			return five.ResetTime, false
		}
		return week.ResetTime.Add(-time.Duration(held * float64(fiveHours))), true
	case fiveKnown && weekKnown:
		if week.Remaining.Value < weekShare(week.ResetTime, now) {
			return week.ResetTime, true
		}
		return five.ResetTime, false
	case weekKnown:
		return week.ResetTime, false
	case fiveKnown:
		return five.ResetTime, false
	}
	return time.Time{}, false
}

// weekShare is the share of a weekly window still to come at now.
func weekShare(reset, now time.Time) float64 {
	return min(max(float64(reset.Sub(now))/float64(weekLength), 0), 1)
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

// roomZone is zone with a Proceed account that has room for fewer than
// roomForNew requests counted with the low ones: the conversations on it
// spend what it has left, a new one starts elsewhere.
func roomZone(c *Candidate) int {
	z := zone(c)
	if z == 0 && c.Room > 0 && c.Room < roomForNew {
		return 1
	}
	return z
}

func known(c *Candidate) bool { return c.Check.Remaining.Known }

// compareRemaining compares what a and b have left, less first; 0 when
// either is unknown (byKnown decides those).
func compareRemaining(a, b *Candidate) int {
	if !known(a) || !known(b) {
		return 0
	}
	return cmp.Compare(a.Check.Remaining.Value, b.Check.Remaining.Value)
}

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
		cmp: func(a, b *Candidate) int { return -compareRemaining(a, b) },
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
	byRoom = criterion{
		cmp: func(a, b *Candidate) int { return cmp.Compare(roomZone(a), roomZone(b)) },
		ahead: func(a, b *Candidate, _ time.Time) string {
			switch {
			case b.Check.Decision == LowQuota:
				return "the other is in its low zone (kept for the conversations already on it)"
			case roomZone(b) == 1:
				return fmt.Sprintf("the other has room for %.0f more requests in its 5h window (kept for the conversations already on it)", b.Room)
			}
			return "its quota is known (the other's is not)"
		},
	}
	bySpendBy = criterion{
		cmp: func(a, b *Candidate) int {
			switch {
			case a.Urgent != b.Urgent:
				return -cmpBool(a.Urgent, b.Urgent)
			case !a.Urgent:
				return 0 // nothing is lost soon on either: spread the load
			}
			return a.SpendBy.Truncate(spendByStep).Compare(b.SpendBy.Truncate(spendByStep))
		},
		ahead: func(a, b *Candidate, now time.Time) string {
			if !b.Urgent {
				return fmt.Sprintf("its units are lost unless spent soon (%s); the other's are not", spendByText(a, now))
			}
			return fmt.Sprintf("its units expire sooner (%s vs %s)", spendByText(a, now), spendByText(b, now))
		},
	}
	byAhead = criterion{
		cmp: func(a, b *Candidate) int {
			switch {
			case a.PaceKnown != b.PaceKnown:
				return -cmpBool(a.PaceKnown, b.PaceKnown)
			case !a.PaceKnown:
				return 0
			}
			return cmp.Compare(b.Ahead, a.Ahead)
		},
		ahead: func(a, b *Candidate, _ time.Time) string {
			if !b.PaceKnown {
				return "its weekly pace is known (the other's is not)"
			}
			return fmt.Sprintf("its weekly bucket is further ahead of pace (%+.0f points vs %+.0f)", a.Ahead*100, b.Ahead*100)
		},
	}
	byStarted = criterion{
		cmp: func(a, b *Candidate) int { return -cmpBool(a.Started, b.Started) },
		ahead: func(a, _ *Candidate, _ time.Time) string {
			return fmt.Sprintf("its 5h window is already started (%s left); the other's is untouched", percent(a.Check.Remaining.Value))
		},
	}
	byFullest = criterion{
		cmp: compareRemaining,
		ahead: func(a, b *Candidate, _ time.Time) string {
			return fmt.Sprintf("filled further (%s left vs %s)", percent(a.Check.Remaining.Value), percent(b.Check.Remaining.Value))
		},
	}
)

// orders holds each policy's criteria, most significant first.
var orders = [...][]criterion{
	PolicyBalanced:   {byUsable, byTier, byKnown, byMost, byLeastRecent, byID},
	PolicyResetAware: {byUsable, byRoom, bySpendBy, byAhead, byKnown, byMost, byTier, byLeastRecent, byID},
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
		window = "weekly kept for later windows"
	} else if c.SpendBy.Sub(now) > fiveHours+time.Minute {
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
