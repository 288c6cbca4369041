package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/quotatui/quotatui/internal/quota"
)

// The detail says which policy routes, the account's own routing choices,
// and per family where the account stands and why, as quota explains it.
func TestDetailShowsRouting(t *testing.T) {
	f := newFixture(t, 160, 60, true)
	f.openDetail(t, "bob")
	v := ansi.Strip(f.view())
	for _, want := range []string{
		"routing: reset-aware · this account: priority 2 · reserve 20%",
		// Gemini at 7 %: under its 20 % reserve.
		"proxy (reserve 20%): not routed: " + quota.ReasonReserve,
		// Claude: alice's window resets before bob's.
		"proxy (reserve 20%): 2nd of 4 · behind alice: its units expire sooner (in 2h10m, 5h reset vs in 4h00m, 5h reset)",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("detail lacks %q:\n%s", want, v)
		}
	}
	// alice cools down: on the next tick bob is first for Claude.
	f.eng.mu.Lock()
	f.eng.statuses[0].Marks[1] = quota.Mark{Kind: quota.CooldownMark, Until: t0.Add(time.Hour)}
	f.eng.mu.Unlock()
	for _, msg := range runCmd(f.m.tick()) {
		f.send(msg)
	}
	if v := ansi.Strip(f.view()); !strings.Contains(v, "proxy (reserve 20%): 1st of 3 · ahead of carol@example.com: its quota is known (the other's is not)") {
		t.Errorf("after alice's cooldown the standing did not move:\n%s", v)
	}
}

// Standings fetched for an account the user has left are not shown for
// another.
func TestStaleStandingsIgnored(t *testing.T) {
	f := newFixture(t, 160, 60, true)
	f.openDetail(t, "bob")
	f.send(statsMsg{now: t0, mon: f.eng.MonitorStats(), standingsFor: 1, standings: f.eng.Standings(1)})
	if f.m.standingsFor != 2 {
		t.Errorf("standings of account %d shown in bob's detail", f.m.standingsFor)
	}
}

// The proxy panel names the active policy at every size.
func TestProxyPanelShowsPolicy(t *testing.T) {
	for _, w := range []int{200, 80, 60} {
		f := newFixture(t, w, 40, true)
		if v := f.view(); !strings.Contains(v, "reset-aware") {
			t.Errorf("%d columns: the main view does not name the policy:\n%s", w, v)
		}
	}
}
