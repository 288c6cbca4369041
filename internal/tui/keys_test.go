package tui

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// runCmd executes a command the way the program would, batches included,
// and returns the messages, leaving out spinner ticks.
func runCmd(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	switch msg := cmd().(type) {
	case nil, spinner.TickMsg:
		return nil
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, runCmd(c)...)
		}
		return out
	default:
		return []tea.Msg{msg}
	}
}

// labels returns the table's labels in display order.
func (f *fixture) labels() []string {
	var out []string
	for _, r := range f.m.rows {
		out = append(out, displayName(&f.m.accounts[r]))
	}
	return out
}

func TestSortCycles(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	want := []struct {
		mode  string
		first []string
	}{
		{"name", []string{"alice", "bob-work", "carol@example.com", "dave"}},
		{"tier", []string{"alice", "grace", "bob-work", "dave"}},
		{"reset", []string{"frank", "bob-work", "dave", "alice"}},
		{"worst", []string{"frank", "erin", "carol@example.com", "dave", "bob-work"}},
	}
	for _, w := range want {
		f.press("s")
		if got := f.m.sortBy.String(); got != w.mode {
			t.Fatalf("sort = %s, want %s", got, w.mode)
		}
		if got := f.labels()[:len(w.first)]; strings.Join(got, ",") != strings.Join(w.first, ",") {
			t.Errorf("sort %s: rows start %v, want %v", w.mode, got, w.first)
		}
		if !strings.Contains(f.view(), "sort "+w.mode) {
			t.Errorf("sort %s not shown in the title", w.mode)
		}
	}
}

func TestCursorFollowsAccountAcrossResort(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	f.press("j", "j") // carol under the worst sort
	if got := f.m.selected; got != 3 {
		t.Fatalf("selected %d, want carol (3)", got)
	}
	f.press("s") // by name: carol is third
	if f.m.selected != 3 || displayName(&f.m.accounts[f.m.rows[f.m.cursor]]) != "carol@example.com" {
		t.Errorf("cursor left carol after re-sort: %v at %d", f.labels(), f.m.cursor)
	}
	// A new snapshot with carol recovered keeps the cursor on her.
	st := fixtureStatuses()
	st[2].Families[0] = famQuota(cloudcode.FamilyGemini, 1, 1, time.Hour, time.Hour)
	f.send(quotasMsg{statuses: st})
	if f.m.selected != 3 {
		t.Errorf("cursor moved off carol after an update: selected %d", f.m.selected)
	}
}

func TestFilter(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	f.press("/", "C", "a", "r")
	if got := f.labels(); len(got) != 1 || got[0] != "carol@example.com" {
		t.Fatalf("filter car: rows %v", got)
	}
	if v := f.view(); !strings.Contains(v, "filter: Car█") || !strings.Contains(v, "1/8 accounts") {
		t.Errorf("filter not shown while typing:\n%s", v)
	}
	f.press("q") // typed into the filter, not quit
	if got := f.m.filter.Value(); got != "Carq" || len(f.m.rows) != 0 {
		t.Errorf("q while filtering: value %q rows %d", got, len(f.m.rows))
	}
	if !strings.Contains(f.view(), "no account matches") {
		t.Error("empty filter result not explained")
	}
	f.press("backspace", "enter")
	if f.m.filtering || len(f.m.rows) != 1 {
		t.Fatalf("enter should keep the filter: filtering=%v rows=%d", f.m.filtering, len(f.m.rows))
	}
	f.press("esc")
	if f.m.filter.Value() != "" || len(f.m.rows) != 8 {
		t.Errorf("esc should clear the filter: %q, %d rows", f.m.filter.Value(), len(f.m.rows))
	}
	// Email matches too; esc while typing clears.
	f.press("/", "e", "x", "a", "m", "p", "l", "e", ".", "o", "r", "g")
	if got := f.labels(); len(got) != 1 || !strings.HasPrefix(got[0], "heidi") {
		t.Errorf("filter by email domain: %v", got)
	}
	f.press("esc")
	if f.m.filtering || len(f.m.rows) != 8 {
		t.Errorf("esc while typing should clear and leave: filtering=%v rows=%d", f.m.filtering, len(f.m.rows))
	}
}

func TestDetailInAndOut(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	f.press("j", "j", "j", "j") // bob
	cmd := f.press("enter")
	if !f.m.detail || f.m.detailID != 2 {
		t.Fatalf("enter: detail=%v id=%d, want bob (2)", f.m.detail, f.m.detailID)
	}
	var msgs []tea.Msg
	for _, msg := range runCmd(cmd) {
		switch msg.(type) {
		case detailEventsMsg:
			msgs = append(msgs, msg)
		case usageMsg: // the account's usage, fetched alongside
			f.send(msg)
		}
	}
	if len(msgs) != 1 {
		t.Fatalf("enter should fetch recent events once, got %v", msgs)
	}
	f.send(msgs[0])
	v := f.view()
	for _, want := range []string{"bob@example.com", "Gemini Models", "Claude and GPT models", "resets 17:05 (in 1h05m)", "empty in 1h24m", "RECENT EVENTS", "7% left", "└-12h"} {
		if !strings.Contains(v, want) {
			t.Errorf("detail lacks %q", want)
		}
	}
	// j/k do not move the hidden table while in detail.
	f.press("j")
	if f.m.selected != 2 {
		t.Errorf("j in detail moved the table to %d", f.m.selected)
	}
	f.press("esc")
	if f.m.detail {
		t.Fatal("esc did not leave the detail view")
	}
	if !strings.Contains(f.view(), "MONITOR") {
		t.Error("main view not back after esc")
	}
}

func TestDetailIgnoresStaleEvents(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	f.press("enter") // frank
	f.send(detailEventsMsg{accountID: 99, events: fixtureEvents()})
	if len(f.m.detailEvts) != 0 {
		t.Error("events of another account were shown")
	}
}

func TestHelpToggle(t *testing.T) {
	for _, closeKey := range []string{"?", "esc"} {
		f := newFixture(t, 80, 24, true)
		f.press("?")
		v := f.view()
		if !strings.Contains(v, "Keys") || !strings.Contains(v, "resync all") || !strings.Contains(v, "⚿ NEEDS LOGIN") {
			t.Fatalf("help overlay missing keys or legend:\n%s", v)
		}
		f.press("s") // other keys do nothing under help
		if f.m.sortBy != sortWorst {
			t.Error("s acted under the help overlay")
		}
		f.press(closeKey)
		if f.m.showHelp || strings.Contains(f.view(), "resync all") {
			t.Errorf("%s did not close help", closeKey)
		}
	}
}

func TestPauseCallsProxy(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	for i, want := range []bool{true, false} {
		msgs := runCmd(f.press("p"))
		if !strings.Contains(f.view(), "toggling proxy") {
			t.Errorf("press %d: no progress shown", i)
		}
		for _, msg := range msgs {
			f.send(msg)
		}
		if got := f.prx.setCalls(); len(got) != i+1 || got[i] != want {
			t.Fatalf("press %d: SetPaused calls %v", i, got)
		}
		v := f.view()
		if want != strings.Contains(v, "PAUSED") {
			t.Errorf("press %d: PAUSED shown=%v, want %v", i, !want, want)
		}
	}
	if !strings.Contains(f.view(), "proxy resumed") {
		t.Error("resume result not shown")
	}
}

func TestPauseWithoutProxy(t *testing.T) {
	eng := newFakeEngine()
	m := New(Deps{Engine: eng, Clock: newFixture(t, 80, 24, true).clk, NoColor: true})
	nm, _ := m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	nm, cmd := nm.Update(keyPress("p"))
	if cmd != nil {
		t.Error("p without a proxy started a command")
	}
	v := nm.View().Content
	if strings.Contains(v, "PROXY") || !strings.Contains(v, "no proxy running") {
		t.Errorf("without a proxy the panel must be hidden and p explained:\n%s", v)
	}
}

func TestResyncShowsProgressThenResult(t *testing.T) {
	tests := []struct {
		key, running, result string
		calls                func(e *fakeEngine) int
	}{
		{"r", "syncing…", "synced frank in 0s", func(e *fakeEngine) int { return e.calls(6) }},
		{"R", "syncing all accounts…", "synced 8 accounts in 340ms, 1 error", func(e *fakeEngine) int { return e.syncAlls }},
		{"c", "clearing quota cache…", "quota cache cleared", func(e *fakeEngine) int { return e.clears }},
		{"t", "clearing tier cache…", "tier cache cleared", func(e *fakeEngine) int { return e.tierClears }},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			f := newFixture(t, 120, 40, true)
			cmd := f.press(tt.key)
			if v := f.view(); !strings.Contains(v, tt.running) {
				t.Fatalf("no %q while running:\n%s", tt.running, v)
			}
			// A second press while it runs starts nothing.
			if again := f.press(tt.key); again != nil {
				t.Fatal("second press started the action again")
			}
			if !strings.Contains(f.view(), "already "+tt.running) {
				t.Error("second press not explained")
			}
			for _, msg := range runCmd(cmd) {
				f.send(msg)
			}
			if got := tt.calls(f.eng); got != 1 {
				t.Errorf("engine called %d times, want 1", got)
			}
			v := f.view()
			if !strings.Contains(v, "16:00:00 "+tt.result) || strings.Contains(v, tt.running) {
				t.Errorf("want result %q with its time and no progress:\n%s", tt.result, v)
			}
			// Once finished it can run again.
			if f.press(tt.key) == nil {
				t.Error("action cannot run a second time after finishing")
			}
		})
	}
}

func TestResyncErrorShown(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	f.eng.syncErr = fmt.Errorf("upstream: 503")
	for _, msg := range runCmd(f.press("r")) {
		f.send(msg)
	}
	if v := f.view(); !strings.Contains(v, "error: resync frank: upstream: 503") {
		t.Errorf("error not shown:\n%s", v)
	}
}

func TestResyncBringsNewFigures(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	f.eng.onSync = func(id int64) {
		f.eng.statuses[5].Families[0] = famQuota(cloudcode.FamilyGemini, 0.44, 0.9, time.Hour, time.Hour)
	}
	for _, msg := range runCmd(f.press("r")) {
		f.send(msg)
	}
	if v := f.view(); !strings.Contains(v, " 44% 5h") {
		t.Errorf("new figure not shown after resync:\n%s", v)
	}
}

func TestQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		f := newFixture(t, 80, 24, true)
		cmd := f.press(k)
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s does not quit", k)
		}
	}
}

func TestTabFocusScrollsWarnings(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	f.press("tab", "j")
	if f.m.focus != focusLog || f.m.logOffset != 1 || f.m.selected != 6 {
		t.Fatalf("tab+j: focus %d offset %d selected %d", f.m.focus, f.m.logOffset, f.m.selected)
	}
	v := f.view()
	if !strings.Contains(v, "◂ focus") || strings.Contains(v, "session moved") {
		t.Errorf("focused log should scroll past the newest line:\n%s", v)
	}
	f.press("tab", "j")
	if f.m.focus != focusTable || f.m.selected != 5 {
		t.Errorf("second tab should give the table the keys back: focus %d selected %d", f.m.focus, f.m.selected)
	}
}

func TestWarningsLog(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	n := len(f.m.warnings)
	f.send(eventsMsg{events: []quota.Event{
		{At: t0, Kind: quota.EventSyncStarted},
		{At: t0, Kind: quota.EventQuotaChanged, AccountID: 1},
		{At: t0.Add(time.Second), Kind: quota.EventExhausted, Account: "dave", Family: cloudcode.FamilyClaudeGPT},
	}, dropped: 7})
	if len(f.m.warnings) != n+1 {
		t.Fatalf("only warnings belong in the log: %d lines, want %d", len(f.m.warnings), n+1)
	}
	v := f.view()
	if !strings.Contains(v, "16:00:01 ✗ dave claude-gpt: exhausted") || !strings.Contains(v, "7 events dropped") {
		t.Errorf("newest warning or drop count missing:\n%s", v)
	}
	many := make([]quota.Event, 3*maxWarnings)
	for i := range many {
		many[i] = quota.Event{At: t0, Kind: quota.EventLowQuota, Message: fmt.Sprint(i)}
	}
	f.send(eventsMsg{events: many})
	if len(f.m.warnings) != maxWarnings || f.m.warnings[0].Message != fmt.Sprint(len(many)-1) {
		t.Errorf("log not bounded newest first: %d lines, first %q", len(f.m.warnings), f.m.warnings[0].Message)
	}
}

func TestStatsTickComputesRate(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	ps := f.prx.Stats()
	ps.Requests += 35
	ps.Client429s = 2
	cmd := f.send(statsMsg{now: t0.Add(10 * time.Second), mon: f.eng.MonitorStats(), pstats: ps, hasProxy: true})
	if cmd == nil {
		t.Error("the tick was not re-armed")
	}
	v := f.view()
	for _, want := range []string{"req/s 3.5", "429s to clients 2", "16:00:10", "next sync  in 3m02s"} {
		if !strings.Contains(v, want) {
			t.Errorf("after a tick the view lacks %q", want)
		}
	}
}

func TestFeedWaitRearmedOnlyForItsOwnMessages(t *testing.T) {
	feed := newFakeFeed()
	eng := newFakeEngine()
	m := New(Deps{Engine: eng, Feed: feed, Clock: newFixture(t, 80, 24, true).clk, NoColor: true})
	if _, cmd := m.Update(quotasMsg{statuses: eng.GetAllQuotas()}); containsWait(cmd) {
		t.Error("a snapshot not from the feed re-armed a second wait")
	}
	feed.changed <- struct{}{}
	msg := m.waitFeed()()
	qm, ok := msg.(quotasMsg)
	if !ok || !qm.fromFeed || len(qm.statuses) != 8 {
		t.Fatalf("Changed should pull a snapshot, got %#v", msg)
	}
	feed.events <- quota.Event{Kind: quota.EventLowQuota}
	feed.events <- quota.Event{Kind: quota.EventExhausted}
	feed.dropped = 3
	em, ok := m.waitFeed()().(eventsMsg)
	if !ok || len(em.events) != 2 || em.dropped != 3 {
		t.Fatalf("events should be read in one batch with the drop count, got %#v", em)
	}
}

// containsWait reports whether cmd is or holds a feed wait; the wait is
// the only command here that blocks, so it is spotted by not returning.
func containsWait(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				if containsWait(c) {
					return true
				}
			}
		}
		return false
	case <-time.After(200 * time.Millisecond):
		return true // blocked: a wait (the fake feed stays quiet)
	}
}

func TestSeverity(t *testing.T) {
	base := fixtureStatuses()
	want := map[int64]string{1: "✓ OK", 2: "! LOW", 3: "✗ EXHAUSTED", 4: "◷ COOLING", 5: "⊘ FORBIDDEN", 6: "⚿ NEEDS LOGIN", 7: "– DISABLED", 8: "? UNKNOWN"}
	for i := range base {
		s := severity(&base[i])
		if got := s.Glyph() + " " + s.Word(); got != want[base[i].AccountID] {
			t.Errorf("account %d: %s, want %s", base[i].AccountID, got, want[base[i].AccountID])
		}
	}
	v := quota.Status{State: quota.StateValidationRequired}
	if severity(&v) != SevNeedsLogin {
		t.Error("validation required must ask for a human like a login")
	}
	// An exhaustion mark outranks a decision that still says Proceed.
	m := base[0]
	m.Marks[0] = quota.Mark{Kind: quota.ExhaustedMark}
	if severity(&m) != SevExhausted {
		t.Error("exhaustion mark ignored")
	}
	// A failed sync says so: the figures are not current. A state that
	// needs a human still comes first.
	f := base[0]
	f.LastError = "retrieveUserQuota: 503"
	if severity(&f) != SevSyncError {
		t.Errorf("an account whose last sync failed is %s; want SYNC ERROR", severity(&f).Word())
	}
	f.State = quota.StateNeedsLogin
	if severity(&f) != SevNeedsLogin {
		t.Errorf("a failed sync hid NEEDS LOGIN: %s", severity(&f).Word())
	}
}

func TestFigures(t *testing.T) {
	known := cloudcode.KnownFraction
	tests := []struct {
		f        cloudcode.Fraction
		pct, bar string
	}{
		{cloudcode.Fraction{}, "  ? ", "      "},
		{known(0), "  0%", "░░░░░░"},
		{known(0.004), "  1%", "▓░░░░░"},
		{known(0.62), " 62%", "▓▓▓▓░░"},
		{known(0.999), " 99%", "▓▓▓▓▓░"},
		{known(1), "100%", "▓▓▓▓▓▓"},
	}
	for _, tt := range tests {
		if got := pctText(tt.f); got != tt.pct {
			t.Errorf("pctText(%+v) = %q, want %q", tt.f, got, tt.pct)
		}
		if got := bar(tt.f, 6); got != tt.bar {
			t.Errorf("bar(%+v) = %q, want %q", tt.f, got, tt.bar)
		}
	}
}

func TestSampleAndSparkline(t *testing.T) {
	pts := []Point{{At: t0.Add(-170 * time.Minute), Fraction: 1}, {At: t0.Add(-90 * time.Minute), Fraction: 0.5}, {At: t0.Add(-10 * time.Minute), Fraction: 0}}
	vals := sample(pts, t0.Add(-4*time.Hour), t0, 4)
	if !math.IsNaN(vals[0]) || vals[1] != 1 || vals[2] != 0.5 || vals[3] != 0 {
		t.Fatalf("sample = %v", vals)
	}
	if got := sparkline(vals); got != " █▅▁" {
		t.Errorf("sparkline = %q", got)
	}
	rows := chartRows([]float64{1, 0.5, 0, math.NaN()}, 2)
	if rows[0] != "█   " || rows[1] != "██▁ " {
		t.Errorf("chartRows = %q", rows)
	}
}

func TestShortDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 12 * time.Second: "12s", 4*time.Minute + 5*time.Second: "4m05s",
		2*time.Hour + 10*time.Minute: "2h10m", 108*time.Hour + 48*time.Minute: "4d12h",
	} {
		if got := shortDur(d); got != want {
			t.Errorf("shortDur(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestLayoutBreakpoints(t *testing.T) {
	tests := []struct {
		w                       int
		compact, spark, forecas bool
	}{
		{160, false, true, true}, {120, false, true, true}, {80, false, true, false},
		{79, false, false, false}, {55, false, false, false}, {54, true, false, false}, {44, true, false, false},
	}
	for _, tt := range tests {
		l := layoutFor(tt.w)
		if l.compact != tt.compact || l.spark != tt.spark || l.forecast != tt.forecas {
			t.Errorf("width %d: %+v", tt.w, l)
		}
		// The columns fill the width until they reach their limits.
		if sum := l.acct + l.fixed(); !l.compact && (sum > tt.w || tt.w <= 140 && sum != tt.w) {
			t.Errorf("width %d: columns add up to %d", tt.w, sum)
		}
		if l.compact && ansi.StringWidth(tableHeader(l)) != tt.w {
			t.Errorf("width %d: compact header is %d wide", tt.w, ansi.StringWidth(tableHeader(l)))
		}
	}
}

func TestScrollKeepsCursorVisible(t *testing.T) {
	eng := newFakeEngine()
	eng.statuses = manyStatuses(200)
	m := New(Deps{Engine: eng, Clock: newFixture(t, 80, 24, true).clk, NoColor: true})
	f := &fixture{m: m, eng: eng}
	f.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	for i, keys := range [][]string{{"j", "j", "j", "j", "j", "j", "j", "j", "j", "j", "j", "j"}, {"pgdown", "pgdown"}, {"pgup"}, {"k"}} {
		for _, k := range keys {
			switch k {
			case "pgdown":
				f.send(tea.KeyPressMsg{Code: tea.KeyPgDown})
			case "pgup":
				f.send(tea.KeyPressMsg{Code: tea.KeyPgUp})
			default:
				f.press(k)
			}
		}
		want := "▸ " + displayName(&f.m.accounts[f.m.rows[f.m.cursor]])
		v := f.view()
		if !strings.Contains(v, want) {
			t.Fatalf("step %d: cursor row %q not on screen (offset %d, cursor %d):\n%s", i, want, f.m.offset, f.m.cursor, v)
		}
		checkFits(t, v, 80, 24)
	}
	if f.m.cursor < 12 {
		t.Errorf("cursor %d after moving down 12 rows and two pages", f.m.cursor)
	}
}

func TestHistoryFetchedOnceAndAgainOnChange(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	if cmd := f.m.startHistory(); cmd != nil {
		t.Fatal("history refetched with nothing changed")
	}
	st := fixtureStatuses()
	st[0].LastSync = t0 // alice synced again
	cmd := f.send(quotasMsg{statuses: st})
	if cmd == nil || !f.m.histBusy {
		t.Fatal("a changed account did not refetch its history")
	}
	// While a fetch runs, another change waits for it.
	st2 := append([]quota.Status(nil), st...)
	st2[1].LastSync = t0
	if cmd2 := f.send(quotasMsg{statuses: st2}); cmd2 != nil {
		t.Fatal("a second fetch started while one runs")
	}
	msgs := runCmd(cmd)
	hm := msgs[0].(historyMsg)
	if _, ok := hm.data[1]; len(hm.data) != 1 || !ok {
		t.Fatalf("fetched %d accounts, want only alice", len(hm.data))
	}
	next := f.send(hm)
	if next == nil {
		t.Fatal("bob's change was forgotten after the fetch")
	}
	if hm2 := runCmd(next)[0].(historyMsg); len(hm2.data) != 1 || hm2.data[2] == nil {
		t.Errorf("second fetch: %v", hm2.data)
	}
}

func TestDetailShowsOnlyWarningEvents(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	f.eng.extraEvents = []quota.Event{
		{At: t0, Kind: quota.EventSyncFinished, AccountID: 6, Message: "routine sync"},
		{At: t0, Kind: quota.EventAccountDisabled, AccountID: 6, Account: "frank", Message: "invalid_grant: log in again"},
	}
	for _, msg := range runCmd(f.press("enter")) {
		f.send(msg)
	}
	v := f.view()
	if strings.Contains(v, "routine sync") || !strings.Contains(v, "⊘ frank: invalid_grant: log in again") {
		t.Errorf("detail events should keep warnings only:\n%s", v)
	}
}

func TestLineInput(t *testing.T) {
	in := lineInput{limit: 4}
	for _, k := range []string{"é", "a", "b", "c", "d"} { // d is over the limit
		in.Update(keyPress(k))
	}
	if in.Value() != "éabc" {
		t.Fatalf("typed %q", in.Value())
	}
	if !in.Update(keyPress("backspace")) || !in.Update(keyPress("backspace")) || !in.Update(keyPress("backspace")) || in.Value() != "é" {
		t.Fatalf("backspace left %q", in.Value())
	}
	if in.Update(tea.KeyPressMsg{Code: 'a', Mod: tea.ModCtrl}) || in.Value() != "é" {
		t.Error("a ctrl key was typed")
	}
	if !in.Update(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl}) || in.Value() != "" {
		t.Error("ctrl+u did not clear")
	}
	if in.Update(keyPress("backspace")) {
		t.Error("backspace on nothing reported a change")
	}
}

// With many accounts only the rows on screen get history, and scrolling
// fetches the rows that come into view.
func TestHistoryOnlyForRowsOnScreen(t *testing.T) {
	eng := newFakeEngine()
	eng.statuses = manyStatuses(300)
	var mu sync.Mutex
	asked := map[int64]bool{}
	hist := func(_ context.Context, id int64, _ cloudcode.Family, _ time.Time) ([]Point, error) {
		mu.Lock()
		asked[id] = true
		mu.Unlock()
		return nil, nil
	}
	m := New(Deps{Engine: eng, History: hist, Clock: clock.NewFake(t0)})
	next, _ := m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m = next.(Model)
	visible := m.tableRows()
	for _, cmd := range []tea.Cmd{m.initHist} {
		for _, msg := range runCmd(cmd) {
			next, _ = m.Update(msg)
			m = next.(Model)
		}
	}
	// Drain: fetches chain until nothing on screen is stale.
	for cmd := m.startHistory(); cmd != nil; cmd = m.startHistory() {
		for _, msg := range runCmd(cmd) {
			next, _ = m.Update(msg)
			m = next.(Model)
		}
	}
	mu.Lock()
	n := len(asked)
	mu.Unlock()
	if n == 0 || n > 50 {
		t.Fatalf("history fetched for %d of 300 accounts with %d rows on screen", n, visible)
	}
	// Paging down brings new rows on screen, and their history is fetched.
	for range 4 {
		next, cmd := m.Update(keyPress("pgdown"))
		m = next.(Model)
		for cmd != nil {
			var more tea.Cmd
			for _, msg := range runCmd(cmd) {
				next, more = m.Update(msg)
				m = next.(Model)
			}
			cmd = more
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) <= n {
		t.Errorf("after a page down no new history was fetched (%d accounts)", len(asked))
	}
	if len(m.history) > 2*visible+historySlack+1 {
		t.Errorf("history cache holds %d accounts", len(m.history))
	}
}
