package tui

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// Every test of the package renders with the cache checking each hit
// against a fresh drawing; the benchmarks turn it off (noVerify).
func init() { verifyRenderCache = true }

// noVerify turns the check off for a benchmark.
func noVerify(b *testing.B) {
	verifyRenderCache = false
	b.Cleanup(func() { verifyRenderCache = true })
}

// idleModel is the dashboard at rest as quotaresources measures it: n
// accounts with history, a few warnings, a 160×50 terminal, nothing
// happening but the one-second tick.
func idleModel(b *testing.B, n int) (Model, *fakeEngine, *fakeProxy) {
	eng := newFakeEngine()
	eng.statuses = manyStatuses(n)
	prx := newFakeProxy()
	hist := func(ctx context.Context, id int64, f cloudcode.Family, since time.Time) ([]Point, error) {
		return fakeHistory(ctx, 1+id%2, f, since)
	}
	m := New(Deps{Engine: eng, Proxy: prx, History: hist, Clock: clock.NewFake(t0), Version: "bench"})
	nm, _ := m.Update(tea.WindowSizeMsg{Width: 160, Height: 50})
	nm, _ = nm.Update(m.initHist())
	nm, _ = nm.Update(eventsMsg{events: fixtureEvents()})
	return nm.(Model), eng, prx
}

// BenchmarkIdleTick1000 is what the idle dashboard does every second at
// 1000 accounts: take the tick's stats, then draw the frame (the clock and
// the countdowns moved by a second).
func BenchmarkIdleTick1000(b *testing.B) {
	noVerify(b)
	m, eng, prx := idleModel(b, 1000)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		nm, _ := m.Update(statsMsg{now: now, wall: now, mon: eng.MonitorStats(), pstats: prx.Stats(), hasProxy: true})
		m = nm.(Model)
		_ = m.View()
	}
}

// BenchmarkView200Uncached is BenchmarkView200 without the render cache:
// every row styled afresh, as every frame was before the cache (and as a
// frame is after a new snapshot).
func BenchmarkView200Uncached(b *testing.B) {
	noVerify(b)
	m := benchModel(b, 200)
	m.cache = nil
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}

// TestRenderCacheDrawsWhatAFreshRenderDraws renders a dashboard through a
// sequence of changes with its cache and compares every frame with the
// same model rendered without one: the clock moving (countdowns within the
// hour, sparklines), the cursor, a new snapshot with changed figures and
// labels, an older copy of the model rendered after the new one, a new
// history, narrow and compact widths and back. A key that misses anything
// a row's text depends on shows here as a stale row.
func TestRenderCacheDrawsWhatAFreshRenderDraws(t *testing.T) {
	eng := newFakeEngine()
	eng.statuses = manyStatuses(60)
	hist := func(ctx context.Context, id int64, f cloudcode.Family, since time.Time) ([]Point, error) {
		return fakeHistory(ctx, 1+id%2, f, since)
	}
	m := New(Deps{Engine: eng, Proxy: newFakeProxy(), History: hist, Clock: clock.NewFake(t0), Version: "test"})
	step := func(msg tea.Msg) {
		t.Helper()
		nm, _ := m.Update(msg)
		m = nm.(Model)
	}
	frame := 0
	check := func(what string, m Model) {
		t.Helper()
		frame++
		fresh := m
		fresh.cache = nil
		want := fresh.render()
		if got := m.render(); got != want {
			t.Fatalf("frame %d (%s): the cached render differs from a fresh one:\n%s\nwant:\n%s", frame, what, got, want)
		}
	}
	tick := func(d time.Duration) {
		step(statsMsg{now: m.now.Add(d), wall: m.now.Add(d), mon: eng.MonitorStats()})
	}
	step(tea.WindowSizeMsg{Width: 160, Height: 50})
	step(m.initHist())
	check("first", m)
	step(eventsMsg{events: fixtureEvents()})
	check("warnings", m)
	later := fixtureEvents()
	for i := range later {
		later[i].At = later[i].At.Add(time.Hour)
		later[i].Message += " again"
	}
	step(eventsMsg{events: later})
	check("more warnings", m)
	for range 3 {
		tick(time.Second)
		check("a second later", m)
	}
	tick(150 * time.Minute) // countdowns pass resets, sparklines lose points
	check("150 minutes later", m)
	m.move(3)
	check("cursor moved", m)
	m.move(-1)
	check("cursor back", m)

	old := m
	next := slices.Clone(m.accounts)
	for i := range next {
		next[i].Families[0].Effective = cloudcode.KnownFraction(0.5 + float64(i%7)/20)
		next[i].Label = fmt.Sprintf("renamed%03d", i)
	}
	step(quotasMsg{statuses: next})
	check("new snapshot", m)
	check("the old copy, after the new", old)
	check("the new again", m)

	id := m.accounts[m.rows[m.cursor]].AccountID
	h := &accountHistory{}
	pts, _ := fakeHistory(context.Background(), 1, cloudcode.FamilyGemini, m.now.Add(-historyWindow))
	for i := range pts {
		pts[i].Fraction = 1 - pts[i].Fraction
	}
	h.points[0], h.points[1] = pts, pts
	step(historyMsg{data: map[int64]*accountHistory{id: h}})
	check("a new history", m)
	// The same points with a forecast: only the history's identity says
	// the row changed.
	h2 := &accountHistory{points: h.points}
	h2.forecasts[0] = quota.Forecast{Enough: true, EmptyIn: time.Hour, ResetIn: 3 * time.Hour, RunsOutFirst: true}
	step(historyMsg{data: map[int64]*accountHistory{id: h2}})
	check("a forecast", m)

	for _, w := range []int{100, 70, 50, 40, 160} {
		step(tea.WindowSizeMsg{Width: w, Height: 30})
		check(fmt.Sprintf("width %d", w), m)
		tick(time.Second)
		check(fmt.Sprintf("width %d, a second later", w), m)
	}
}

// TestRenderCacheStaysSmall: however many frames, the cache holds what
// two frames drew, not what every frame drew.
func TestRenderCacheStaysSmall(t *testing.T) {
	eng := newFakeEngine()
	eng.statuses = manyStatuses(300)
	m := New(Deps{Engine: eng, Clock: clock.NewFake(t0)})
	nm, _ := m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m = nm.(Model)
	for i := range 200 {
		m.now = m.now.Add(time.Second)
		m.move(1 + i%3)
		_ = m.render()
	}
	c := m.cache
	if n := c.rows.len(); n > 4*40 {
		t.Errorf("the cache holds %d row parts after 200 frames of 40 lines", n)
	}
	if n := c.lines.len(); n > 2*40 {
		t.Errorf("the cache holds %d lines after 200 frames of 40 lines", n)
	}
}

// TestPanelsHeightCountsWhatPanelsDraw: split decides between the full
// and the terse panels by panelsHeight and terseHeight, which count their
// lines without drawing them; they must count what is drawn, at
// every width, with and without the proxy, with no, few and many
// warnings, scrolled or not, and with families this build does not know.
func TestPanelsHeightCountsWhatPanelsDraw(t *testing.T) {
	many := make([]quota.Event, 0, 40)
	for range 8 {
		many = append(many, fixtureEvents()...)
	}
	for _, withProxy := range []bool{false, true} {
		for _, evs := range [][]quota.Event{nil, fixtureEvents()[:1], fixtureEvents(), many} {
			for _, unknown := range []bool{false, true} {
				eng := newFakeEngine()
				deps := Deps{Engine: eng, Clock: clock.NewFake(t0)}
				if withProxy {
					prx := newFakeProxy()
					if unknown {
						prx.stats.RoutedTo = map[string]string{"gemini": "a", "future-family": "b", "other": "c"}
					}
					deps.Proxy = prx
				}
				m := New(deps)
				nm, _ := m.Update(eventsMsg{events: evs})
				m = nm.(Model)
				for _, w := range []int{30, 61, 62, 80, wideFrom - 1, wideFrom, 200} {
					for _, offset := range []int{-1, 0, 3, 100} {
						m.width, m.height = w, 40
						m.focus, m.logOffset = focusTable, 0
						if offset >= 0 {
							m.focus, m.logOffset = focusLog, offset
						}
						vc := m.vc()
						if got, want := m.panelsHeight(vc), len(m.panelLines(vc, false, 0)); got != want {
							t.Errorf("proxy %v, %d warnings, unknown families %v, width %d, log offset %d: panelsHeight = %d, panelLines drew %d",
								withProxy, len(evs), unknown, w, offset, got, want)
						}
						for budget := range 12 {
							if got, want := m.terseHeight(budget), len(m.tersePanels(vc, budget)); got != want {
								t.Errorf("proxy %v, %d warnings, width %d, log offset %d: terseHeight(%d) = %d, tersePanels drew %d",
									withProxy, len(evs), w, offset, budget, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestSparklineHeldUntilASlotPassesAPoint: sampleFor's samples hold, with
// from and to moving on together, for exactly as long as it says, and the
// cache redraws a sparkline then and only then.
func TestSparklineHeldUntilASlotPassesAPoint(t *testing.T) {
	var pts []Point
	for i := range 40 {
		pts = append(pts, Point{At: t0.Add(-15*time.Hour + time.Duration(i*i)*37*time.Second), Fraction: float64(i%7) / 6})
	}
	now := t0.Add(-3 * time.Hour)
	for range 200 {
		vals, holds := sampleFor(pts, now.Add(-historyWindow), now, sparkW)
		if holds < 0 {
			break
		}
		same := func(d time.Duration) bool {
			got := sample(pts, now.Add(d-historyWindow), now.Add(d), sparkW)
			return sparkline(got) == sparkline(vals)
		}
		for _, d := range []time.Duration{0, holds / 2, holds - time.Nanosecond} {
			if d >= 0 && !same(d) {
				t.Fatalf("at %v: the samples changed %v later, before the %v they hold for", now, d, holds)
			}
		}
		now = now.Add(holds)
	}

	c := newRenderCache()
	h := &accountHistory{}
	at := t0.Add(-3 * time.Hour)
	_, holds := sampleFor(pts, at.Add(-historyWindow), at, sparkW)
	first := c.spark(h, 0, pts, at)
	c.endFrame()
	if v := c.sparks.prev[sparkKey{h, 0}]; !v.at.Equal(at) || !v.until.Equal(at.Add(holds)) {
		t.Fatalf("memo %+v, want drawn at %v until %v", v, at, at.Add(holds))
	}
	if got := c.spark(h, 0, pts, at.Add(holds-time.Nanosecond)); got != first {
		t.Fatalf("within its time: %q, want %q", got, first)
	}
	if v := c.sparks.cur[sparkKey{h, 0}]; !v.at.Equal(at) {
		t.Fatalf("redrawn within its time (at %v)", v.at)
	}
	c.endFrame()
	c.spark(h, 0, pts, at.Add(holds))
	if v := c.sparks.cur[sparkKey{h, 0}]; !v.at.Equal(at.Add(holds)) {
		t.Fatalf("not redrawn when a slot passed a point (at %v)", v.at)
	}
}
