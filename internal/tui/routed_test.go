package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/quotatui/quotatui/internal/clock"
)

// TestRoutedToRankedOnlyWhenSomethingMoved: the tick takes the proxy's
// counters every second but ranks the accounts (RoutedTo) only when the
// accounts' snapshot or the proxy's traffic moved, or rankEvery passed;
// in between the last ranking is shown.
func TestRoutedToRankedOnlyWhenSomethingMoved(t *testing.T) {
	eng, prx := newFakeEngine(), newFakeProxy()
	clk := clock.NewFake(t0)
	m := New(Deps{Engine: eng, Proxy: prx, Clock: clk, NoColor: true, Tick: time.Millisecond})
	nm, _ := m.Update(tea.WindowSizeMsg{Width: 160, Height: 50})
	m = nm.(Model)
	tick := func(d time.Duration) {
		t.Helper()
		clk.Advance(d)
		msg := m.tick()()
		if msg == nil {
			t.Fatal("the tick gave nothing")
		}
		nm, _ := m.Update(msg)
		m = nm.(Model)
	}
	expect := func(what string, calls int, shown string) {
		t.Helper()
		if got := prx.rankCalls(); got != calls {
			t.Errorf("%s: %d rankings, want %d", what, got, calls)
		}
		if v := m.View().Content; !strings.Contains(v, "gemini     → "+shown) {
			t.Errorf("%s: the proxy panel does not route gemini to %q:\n%s", what, shown, v)
		}
	}
	expect("New", 1, "alice")

	// Nothing moved: no ranking, and what a ranking would now say is not
	// shown yet.
	prx.mu.Lock()
	prx.stats.RoutedTo["gemini"] = "bob"
	prx.mu.Unlock()
	tick(time.Second)
	tick(time.Second)
	expect("idle ticks", 1, "alice")

	// Time alone: ranked again once rankEvery has passed.
	tick(rankEvery - 2*time.Second)
	expect("rankEvery later", 2, "bob")

	// Traffic: ranked at the next tick.
	prx.mu.Lock()
	prx.stats.Requests++
	prx.stats.RoutedTo["gemini"] = "carol"
	prx.mu.Unlock()
	tick(time.Second)
	expect("a request", 3, "carol")
	tick(time.Second)
	expect("idle again", 3, "carol")

	// A new snapshot of the accounts (a sync, a mark): ranked at the next
	// tick.
	prx.mu.Lock()
	prx.stats.RoutedTo["gemini"] = "dave"
	prx.mu.Unlock()
	nm, _ = m.Update(quotasMsg{statuses: eng.GetAllQuotas()})
	m = nm.(Model)
	tick(time.Second)
	expect("a new snapshot", 4, "dave")

	// Pausing the proxy moves the key too.
	prx.SetPaused(true)
	tick(time.Second)
	expect("paused", 5, "dave")
}

// TestStandingsRankedOnlyWhenSomethingMoved: with the detail open, the
// tick ranks every account for its standings (Engine.Standings) on the
// same terms as RoutedTo: when the accounts' snapshot, the proxy's
// traffic or pausing moved, the detail's account changed, or rankEvery
// passed; in between the last standings are shown.
func TestStandingsRankedOnlyWhenSomethingMoved(t *testing.T) {
	f := newFixture(t, 160, 50, true)
	f.m.deps.Tick = time.Millisecond
	tick := func(d time.Duration) {
		t.Helper()
		f.clk.Advance(d)
		msg := f.m.tick()()
		if msg == nil {
			t.Fatal("the tick gave nothing")
		}
		f.send(msg)
	}
	expect := func(what string, calls int) {
		t.Helper()
		if got := f.eng.standCalls(); got != calls {
			t.Errorf("%s: %d standings rankings, want %d", what, got, calls)
		}
		if f.m.standingsFor != f.m.detailID || len(f.m.standings) == 0 {
			t.Errorf("%s: no standings shown for %d (have %d for %d)", what, f.m.detailID, len(f.m.standings), f.m.standingsFor)
		}
	}

	// The dashboard alone never ranks for standings.
	tick(time.Second)
	if got := f.eng.standCalls(); got != 0 {
		t.Fatalf("without the detail: %d standings rankings", got)
	}

	// Opening the detail ranks with its events, and the first tick once
	// more: that one records what it was ranked on.
	f.openDetail(t, "alice")
	expect("opened", 1)
	tick(time.Second)
	expect("first tick", 2)

	// Nothing moved: no ranking.
	tick(time.Second)
	tick(time.Second)
	expect("idle ticks", 2)

	// Time alone: ranked again once rankEvery has passed.
	tick(rankEvery - 2*time.Second)
	expect("rankEvery later", 3)
	tick(time.Second)
	expect("idle after", 3)

	// Traffic: ranked at the next tick.
	f.prx.mu.Lock()
	f.prx.stats.Requests++
	f.prx.mu.Unlock()
	tick(time.Second)
	expect("a request", 4)
	tick(time.Second)
	expect("idle again", 4)

	// A new snapshot of the accounts (a sync, a mark).
	f.send(quotasMsg{statuses: f.eng.GetAllQuotas()})
	tick(time.Second)
	expect("a new snapshot", 5)

	// Pausing the proxy.
	f.prx.SetPaused(true)
	tick(time.Second)
	expect("paused", 6)
	tick(time.Second)
	expect("idle paused", 6)

	// Another account's detail: ranked for it at once.
	f.press("esc")
	f.openDetail(t, "bob")
	expect("bob opened", 7)
	tick(time.Second)
	expect("bob's first tick", 8)
	tick(time.Second)
	expect("bob idle", 8)
}
