package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// An account that is already empty is not forecast to "last until the
// reset": it is empty now, and the view says when it comes back.
func TestDetailForecastOfAnEmptyAccount(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	f.eng.mu.Lock()
	f.eng.forecasts = map[int64]quota.Forecast{3: {Enough: true, BurnPerHour: 0.52, EmptyIn: 0, ResetIn: 108*time.Hour + 48*time.Minute}}
	f.eng.mu.Unlock()
	f.m.history = map[int64]*accountHistory{} // fetched before the forecast was set
	f.openDetail(t, "carol")
	for _, msg := range runCmd(f.m.startHistory()) {
		f.send(msg)
	}
	v := f.view()
	if strings.Contains(v, "empty in 0s") || strings.Contains(v, "lasts until the reset") {
		t.Errorf("an empty account is forecast to last:\n%s", v)
	}
	if !strings.Contains(v, "forecast: empty now; the weekly window resets Wed 04:48 (in 4d12h)") {
		t.Errorf("the forecast of an empty account does not say it is empty and when it resets:\n%s", v)
	}
}

// markedStatuses is the fixture with alice's Gemini locked by the
// upstream until the weekly reset while her figures say 60 %.
func markedStatuses() []quota.Status {
	st := fixtureStatuses()
	st[0].Families[0] = famQuota(cloudcode.FamilyGemini, 1, 0.6, 5*time.Hour, 100*time.Hour)
	st[0].Marks[0] = quota.Mark{Kind: quota.ExhaustedMark, Until: t0.Add(100 * time.Hour), Since: t0.Add(-time.Hour),
		Reason: "RESOURCE_EXHAUSTED: weekly quota"}
	return st
}

// When a family is exhausted, the detail says what binds: the upstream's
// lock (with its end) or the empty window (with its reset), never only a
// figure that contradicts the state.
func TestDetailSaysWhatBinds(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	f.send(quotasMsg{statuses: markedStatuses()})
	f.openDetail(t, "alice")
	v := strings.Join(strings.Fields(f.view()), " ") // wrapped lines read as one
	want := "Gemini Models ✗ EXHAUSTED: locked by the upstream until Tue 20:00 (in 4d4h): RESOURCE_EXHAUSTED: weekly quota; its figures say 60%"
	if !strings.Contains(v, want) {
		t.Errorf("the detail does not say the lock binds:\n%s\nwant %q", v, want)
	}

	f = newFixture(t, 120, 40, true)
	f.openDetail(t, "carol")
	if v := f.view(); !strings.Contains(v, "Gemini Models  ✗ EXHAUSTED: the weekly window is empty; it resets Wed 04:48 (in 4d12h)") {
		t.Errorf("the detail does not say the empty weekly window binds:\n%s", v)
	}
}

// The table's family cell names what binds in place of the window: an
// upstream lock or a cooldown.
func TestTableCellSaysWhatBinds(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	f.send(quotasMsg{statuses: markedStatuses()})
	for _, line := range strings.Split(f.view(), "\n") {
		switch {
		case strings.HasPrefix(line, "  alice") || strings.HasPrefix(line, "▸ alice"):
			if !strings.Contains(line, "60% ✗") {
				t.Errorf("alice's locked Gemini cell does not show the lock: %q", line)
			}
		case strings.HasPrefix(line, "  dave") || strings.HasPrefix(line, "▸ dave"):
			if !strings.Contains(line, "30% ◷") {
				t.Errorf("dave's cooling Claude cell does not show the cooldown: %q", line)
			}
		}
	}
}

// "gemini back to 60%" while the row stays EXHAUSTED: the warning says
// what still binds.
func TestRecoveredWarningSaysWhatStillBinds(t *testing.T) {
	f := newFixture(t, 160, 40, true)
	f.send(quotasMsg{statuses: markedStatuses()})
	f.send(eventsMsg{events: []quota.Event{{At: t0, Kind: quota.EventRecovered, AccountID: 1, Account: "alice",
		Family: cloudcode.FamilyGemini, Message: "gemini back to 60%"}}})
	f.press("tab", "enter")
	v := strings.Join(strings.Fields(f.view()), " ")
	if !strings.Contains(v, "alice: gemini back to 60%, but still ✗ EXHAUSTED: locked by the upstream until Tue 20:00") {
		t.Errorf("the recovered warning does not say what still binds:\n%s", f.view())
	}
	// An older "recovered" followed by a newer warning for the same family
	// is history: it is left as it was.
	f = newFixture(t, 160, 40, true)
	f.send(quotasMsg{statuses: markedStatuses()})
	f.send(eventsMsg{events: []quota.Event{
		{At: t0.Add(-time.Minute), Kind: quota.EventRecovered, AccountID: 1, Account: "alice", Family: cloudcode.FamilyGemini, Message: "gemini back to 60%"},
		{At: t0, Kind: quota.EventExhausted, AccountID: 1, Account: "alice", Family: cloudcode.FamilyGemini, Message: "gemini exhausted"},
	}})
	f.press("tab", "enter")
	if v := f.view(); strings.Contains(v, "but still") {
		t.Errorf("an older recovered warning was annotated:\n%s", v)
	}
}
