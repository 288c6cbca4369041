package quota

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/store"
)

// What a forecast needs before it says anything.
const (
	forecastMinPoints = 4
	forecastMinSpan   = 15 * time.Minute
	// resetTolerance absorbs small drifts in the reset time the upstream
	// reports for one window.
	resetTolerance = time.Minute
)

// windowLength is how far back a window's history can matter.
func windowLength(w cloudcode.Window) time.Duration {
	if w == cloudcode.WindowWeekly {
		return 7 * 24 * time.Hour
	}
	return 5 * time.Hour
}

// Forecast projects when the account's family f runs out at its current
// pace. It fits a least-squares line to the history of the family's
// bottleneck bucket since that window started (the points with the current
// reset time). Enough is false, and nothing is projected, until there are
// at least 4 points spanning 15 minutes and the fraction is falling.
func (m *Manager) Forecast(ctx context.Context, accountID int64, f cloudcode.Family) (Forecast, error) {
	a, idx := m.lookup(accountID), familyIndex(f)
	if a == nil {
		return Forecast{}, fmt.Errorf("forecast account %d: %w", accountID, ErrUnknownAccount)
	}
	if idx < 0 {
		return Forecast{}, fmt.Errorf("forecast account %d: unknown family %q", accountID, f)
	}
	fq := a.snap.Load().status.Families[idx]
	now := m.clock.Now()
	var fc Forecast
	if fq.Bottleneck == "" {
		return fc, nil
	}
	bucket := fq.FiveHour
	if fq.Bottleneck == cloudcode.WindowWeekly {
		bucket = fq.Weekly
	}
	reset := bucket.ResetTime
	if reset.IsZero() {
		reset = fq.ResetTime
	}
	if !reset.IsZero() && reset.After(now) {
		fc.ResetIn = reset.Sub(now)
	}
	pts, err := m.st.History(ctx, accountID, f.String(), string(fq.Bottleneck), now.Add(-windowLength(fq.Bottleneck)))
	if err != nil {
		return fc, fmt.Errorf("forecast account %d %s: %w", accountID, f, err)
	}
	var xs, ys []float64
	add := func(at time.Time, v float64) {
		xs = append(xs, at.Sub(now).Hours())
		ys = append(ys, v)
	}
	for _, p := range pts {
		if !reset.IsZero() && !p.ResetTime.IsZero() && absDur(p.ResetTime.Sub(reset)) > resetTolerance {
			continue // an earlier window
		}
		add(p.At, p.Fraction)
		// The store keeps a row per change; LastSeen says the value held
		// until then, which matters for a slow drain.
		if p.LastSeen.After(p.At) {
			add(p.LastSeen, p.Fraction)
		}
	}
	if len(xs) < forecastMinPoints {
		return fc, nil
	}
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo, hi = min(lo, x), max(hi, x)
	}
	if time.Duration((hi-lo)*float64(time.Hour)) < forecastMinSpan {
		return fc, nil
	}
	burn := -slope(xs, ys)
	if burn <= 0 {
		return fc, nil
	}
	fc.Enough = true
	fc.BurnPerHour = burn
	remaining := fq.Effective.Value
	if !fq.Effective.Known {
		remaining = ys[len(ys)-1]
	}
	fc.EmptyIn = time.Duration(remaining / burn * float64(time.Hour))
	// An account already empty has run out: that is the Exhausted state's
	// to say, not a forecast's.
	fc.RunsOutFirst = remaining > 0 && fc.ResetIn > 0 && fc.EmptyIn < fc.ResetIn
	return fc, nil
}

// slope returns the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// History returns the account's effective-bucket history for family f since
// since, oldest first, for sparklines. The simplification: at each time a
// 5h or weekly point was recorded, the value is the lower of the latest 5h
// and weekly figures known at that time; the models' own figures are not
// part of the stored history.
func (m *Manager) History(ctx context.Context, accountID int64, f cloudcode.Family, since time.Time) ([]store.Point, error) {
	if familyIndex(f) < 0 {
		return nil, fmt.Errorf("history of account %d: unknown family %q", accountID, f)
	}
	five, err := m.st.History(ctx, accountID, f.String(), string(cloudcode.Window5h), since)
	if err != nil {
		return nil, fmt.Errorf("history of account %d %s 5h: %w", accountID, f, err)
	}
	weekly, err := m.st.History(ctx, accountID, f.String(), string(cloudcode.WindowWeekly), since)
	if err != nil {
		return nil, fmt.Errorf("history of account %d %s weekly: %w", accountID, f, err)
	}
	return mergeEffective(five, weekly), nil
}

// mergeEffective merges two series into the lower-of-both series.
func mergeEffective(a, b []store.Point) []store.Point {
	type tagged struct {
		p    store.Point
		from int
	}
	all := make([]tagged, 0, len(a)+len(b))
	for _, p := range a {
		all = append(all, tagged{p, 0})
	}
	for _, p := range b {
		all = append(all, tagged{p, 1})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].p.At.Before(all[j].p.At) })
	var (
		last [2]*store.Point
		out  []store.Point
	)
	for i := range all {
		t := &all[i]
		last[t.from] = &t.p
		pt := t.p
		if o := last[1-t.from]; o != nil && o.Fraction < pt.Fraction {
			pt.Fraction, pt.ResetTime = o.Fraction, o.ResetTime
		}
		if n := len(out); n > 0 && out[n-1].At.Equal(pt.At) {
			out[n-1] = pt // both series at one time: pt already holds the lower
			continue
		}
		out = append(out, pt)
	}
	return out
}

// RecentEvents returns the newest n stored events of the account (0 = all
// accounts), newest first.
func (m *Manager) RecentEvents(ctx context.Context, accountID int64, n int) ([]Event, error) {
	rows, err := m.st.Events(ctx, accountID, n)
	if err != nil {
		return nil, fmt.Errorf("recent events of account %d: %w", accountID, err)
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		e := Event{At: r.At, Kind: parseEventKind(r.Kind), AccountID: r.AccountID,
			Family: cloudcode.ParseFamily(r.Family), Message: r.Message}
		if a := m.lookup(r.AccountID); a != nil {
			e.Account = a.snap.Load().status.Label
		}
		out[i] = e
	}
	return out, nil
}

// parseEventKind is the inverse of EventKind.String (0 for unknown names).
func parseEventKind(s string) EventKind {
	for k := EventQuotaChanged; k <= EventAccountDisabled; k++ {
		if k.String() == s {
			return k
		}
	}
	return 0
}
