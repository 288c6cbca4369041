package tui

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// lastLine is the footer of a view.
func lastLine(v string) string {
	lines := strings.Split(v, "\n")
	return lines[len(lines)-1]
}

// openDetail opens the detail of the account whose label starts with
// label, with its events fetched, as the program would.
func (f *fixture) openDetail(t *testing.T, label string) {
	t.Helper()
	for i, r := range f.m.rows {
		if strings.HasPrefix(displayName(&f.m.accounts[r]), label) {
			f.m.cursor, f.m.selected = i, f.m.accounts[r].AccountID
			for _, msg := range runCmd(f.press("enter")) {
				f.send(msg)
			}
			return
		}
	}
	t.Fatalf("no account %q", label)
}

func TestFilterTextVisibleWhileTyping(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{40, 15}, {60, 20}, {120, 40}} {
		f := newFixture(t, sz.w, sz.h, true)
		f.press("/", "b", "o", "b")
		if v := f.view(); !strings.Contains(v, "bob█") {
			t.Errorf("%dx%d: the filter being typed is not visible:\n%s", sz.w, sz.h, v)
		}
		f.press("enter")
		if v := f.view(); !strings.Contains(v, "bob") || !strings.Contains(v, "1/8") {
			t.Errorf("%dx%d: the kept filter is not visible:\n%s", sz.w, sz.h, v)
		}
	}
}

// The footer keeps help and quit (and back where there is one) at every
// width, and the main view's pause key down to 60 columns.
func TestFooterKeepsEssentialKeys(t *testing.T) {
	for _, w := range []int{30, 40, 50, 60, 80, 120, 200} {
		for _, view := range []struct {
			name string
			keys []string
			want []string
		}{
			{"main", nil, []string{"?", "q"}},
			{"detail", []string{"enter"}, []string{"esc", "q"}},
			{"help", []string{"?"}, []string{"esc", "q"}},
			{"log", []string{"tab", "enter"}, []string{"esc", "q"}},
		} {
			f := newFixture(t, w, 20, true)
			f.press(view.keys...)
			foot := lastLine(f.view())
			for _, k := range view.want {
				if !regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(k) + `(\s|$)`).MatchString(foot) {
					t.Errorf("%d columns, %s view: footer %q lacks %q", w, view.name, foot, k)
				}
			}
			if strings.Contains(foot, "…") {
				t.Errorf("%d columns, %s view: footer cut: %q", w, view.name, foot)
			}
			if w >= 60 && view.name == "main" && !strings.Contains(foot, "p pause") {
				t.Errorf("%d columns: footer %q lacks p pause", w, foot)
			}
		}
	}
}

// moreRe finds a "n more" indicator.
var moreRe = regexp.MustCompile(`↓ (\d+) more`)

func TestTableSaysHowManyMore(t *testing.T) {
	f := newFixture(t, 40, 15, true)
	v := f.view()
	m := moreRe.FindStringSubmatch(v)
	if m == nil {
		t.Fatalf("at 40x15 not every account shows, and nothing says so:\n%s", v)
	}
	shown := 0
	for _, r := range f.m.rows {
		if strings.Contains(v, fit(displayName(&f.m.accounts[r]), 6)) {
			shown++
		}
	}
	if fmt.Sprint(len(f.m.rows)-shown) != m[1] {
		t.Errorf("%d of %d accounts shown, the indicator says %s more:\n%s", shown, len(f.m.rows), m[1], v)
	}
	// Paging to the end shows the last account and what is above.
	for range 10 {
		f.send(tea.KeyPressMsg{Code: tea.KeyPgDown})
	}
	v = f.view()
	if !strings.Contains(v, "↑") || !strings.Contains(v, displayName(&f.m.accounts[f.m.rows[len(f.m.rows)-1]])[:5]) {
		t.Errorf("at the end: no indicator of what is above, or the last account is not shown:\n%s", v)
	}
}

func TestShortTerminalStillShowsWarnings(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{40, 15}, {60, 20}, {30, 12}} {
		v := newFixture(t, sz.w, sz.h, true).view()
		if !strings.Contains(v, "WARN") || !strings.Contains(v, "15:59:30 ⇄") {
			t.Errorf("%dx%d: the newest warning is not on screen:\n%s", sz.w, sz.h, v)
		}
	}
}

// scrollToEnd presses down until the view stops changing.
func (f *fixture) scrollToEnd() string {
	v := f.view()
	for range 200 {
		f.press("j")
		next := f.view()
		if next == v {
			break
		}
		v = next
	}
	return v
}

// seen collects every line a scrolled view showed.
func (f *fixture) seen() string {
	var all strings.Builder
	v := f.view()
	all.WriteString(v)
	for range 200 {
		f.press("j")
		next := f.view()
		if next == v {
			break
		}
		all.WriteString("\n" + next)
		v = next
	}
	return all.String()
}

func TestHelpScrollsAtSmallSizes(t *testing.T) {
	f := newFixture(t, 40, 15, true)
	f.press("?")
	if v := f.view(); !moreRe.MatchString(v) {
		t.Errorf("help cut at 40x15 without saying so:\n%s", v)
	}
	all := f.seen()
	for _, want := range []string{"Keys", "clear tiers", "States", "⚿ NEEDS LOGIN", "? never means 0 %", "an upstream lock"} {
		if !strings.Contains(all, want) {
			t.Errorf("help never shows %q when scrolled:\n%s", want, all)
		}
	}
}

func TestDetailScrollsAndWraps(t *testing.T) {
	f := newFixture(t, 40, 15, true)
	f.openDetail(t, "bob")
	if v := f.view(); !moreRe.MatchString(v) {
		t.Errorf("detail cut at 40x15 without saying so:\n%s", v)
	}
	all := f.seen()
	for _, want := range []string{"Gemini Models", "Claude and GPT models", "RECENT EVENTS", "7% left"} {
		if !strings.Contains(all, want) {
			t.Errorf("detail never shows %q when scrolled", want)
		}
	}
	if f.m.selected != 2 {
		t.Errorf("scrolling the detail moved the table's cursor to %d", f.m.selected)
	}

	// A long error is wrapped, not cut, even at 120 columns.
	f = newFixture(t, 120, 40, true)
	long := "retrieveUserQuota: all hosts failed: daily: Post \"https://daily-cloudcode-pa.googleapis.com/v1internal:retrieveUserQuota\": dial tcp: lookup daily-cloudcode-pa.googleapis.com: no such host; prod: HTTP 503 UNAVAILABLE"
	st := fixtureStatuses()
	st[0].LastError = long
	f.send(quotasMsg{statuses: st})
	f.openDetail(t, "alice")
	// Wrapping may break at a space or a hyphen: compare without them.
	if !strings.Contains(strings.Join(strings.Fields(ansi.Strip(f.seen())), ""), strings.Join(strings.Fields(long), "")) {
		t.Errorf("the last error is not shown in full:\n%s", f.view())
	}
}

func TestWarningsLogOpensInFull(t *testing.T) {
	f := newFixture(t, 60, 20, true)
	long := "session moved from bob-work to alice: bob-work's gemini 5h window is exhausted until 17:05 and the weekly window has 50% left"
	f.send(eventsMsg{events: []quota.Event{{At: t0, Kind: quota.EventSwitch, AccountID: 1, Account: "alice", Family: cloudcode.FamilyGemini, Message: long}}})
	if strings.Contains(f.view(), "weekly window has 50% left") {
		t.Fatal("the test needs a warning too long for the panel")
	}
	f.press("tab", "enter")
	v := f.view()
	if !strings.Contains(strings.Join(strings.Fields(v), ""), strings.Join(strings.Fields(long), "")) {
		t.Errorf("enter on a warning does not show it in full:\n%s", v)
	}
	all := f.seen()
	for _, want := range []string{"7% left", "403 SERVICE_DISABLED", "claude-gpt"} {
		if !strings.Contains(all, want) {
			t.Errorf("the full log never shows %q", want)
		}
	}
	f.press("esc")
	if v := f.view(); !strings.Contains(v, "MONITOR") && !strings.Contains(v, "SYNC") {
		t.Errorf("esc did not go back to the main view:\n%s", v)
	}
}

// At wide widths the forecast gets the room, not the account column.
func TestForecastGetsTheRoomWhenWide(t *testing.T) {
	for _, w := range []int{120, 160, 200} {
		f := newFixture(t, w, 40, true)
		row := ""
		for _, line := range strings.Split(f.view(), "\n") {
			if strings.Contains(line, "bob-work") && strings.Contains(line, "PRO") {
				row = line
			}
		}
		if !strings.Contains(row, "empty") || !strings.Contains(row, "1h24m") || !strings.Contains(row, "4h00m") || strings.HasSuffix(strings.TrimSpace(row), "…") {
			t.Errorf("%d columns: bob's forecast is cut: %q", w, row)
		}
		if l := layoutFor(w); l.acct > 44 {
			t.Errorf("%d columns: the account column is %d wide", w, l.acct)
		}
	}
}
