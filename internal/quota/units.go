package quota

import (
	"time"

	"github.com/quotatui/quotatui/internal/store"
)

// The upstream reports what is left as fractions; what a fraction is worth
// differs by plan and family, and the 5-hour and weekly buckets differ in
// size. The engine learns both sizes in requests from the proxy's own
// spending: every successful generation is counted (RecordSuccess), and
// when new figures arrive, the requests sent since the previous ones are
// set against how far each bucket fell within the same window. Sums decay
// per observation so the estimate follows a change of plan.

// unitsDecay weighs the observations: each new one counts fully, the one
// before 0.9 of that, and so on.
const unitsDecay = 0.9

// minUnitsRequests is how many requests (decayed) must have been observed
// before an estimate is given.
const minUnitsRequests = 5

// bucketLearner learns one bucket's size in requests.
type bucketLearner struct {
	requests, fell float64 // decayed sums over the observations
}

// observe adds n requests that took the bucket from prev to next, when
// both figures are known and of the same window.
func (l *bucketLearner) observe(n int64, prev, next BucketQuota) {
	if n <= 0 || !prev.Remaining.Known || !next.Remaining.Known ||
		prev.ResetTime.IsZero() || !sameReset(prev.ResetTime, next.ResetTime) {
		return
	}
	fell := prev.Remaining.Value - next.Remaining.Value
	if fell < 0 {
		return // refilled (a reset the times did not show) or spent elsewhere less: no reading
	}
	l.requests = l.requests*unitsDecay + float64(n)
	l.fell = l.fell*unitsDecay + fell
}

// size returns the learned size in requests, 0 when not known yet.
func (l *bucketLearner) size() float64 {
	if l.requests < minUnitsRequests || l.fell <= 0 {
		return 0
	}
	return l.requests / l.fell
}

// unitsLearner learns one family's bucket sizes.
type unitsLearner struct {
	seen         int64 // the family's spent count when the last figures arrived
	five, weekly bucketLearner
}

// sameReset reports whether two reset times name the same window.
func sameReset(a, b time.Time) bool {
	d := a.Sub(b)
	return d < store.ResetTolerance && d > -store.ResetTolerance
}

// learnUnits takes family index i's new figures next, replacing prev, into
// the account's estimate and writes the learned sizes into next. The
// caller holds a.mu.
func (a *account) learnUnits(i int, prev, next *FamilyQuota) {
	l := &a.units[i]
	spent := a.spent[i].Load()
	n := spent - l.seen
	l.seen = spent
	l.five.observe(n, prev.FiveHour, next.FiveHour)
	l.weekly.observe(n, prev.Weekly, next.Weekly)
	next.Units5h, next.UnitsWeekly = l.five.size(), l.weekly.size()
}
