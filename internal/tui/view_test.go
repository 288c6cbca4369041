package tui

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/quotatui/quotatui/internal/clock"
)

// updating reports the -update flag, which x/exp/golden (through teatest)
// already defines for the same purpose: rewrite the golden files.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// fixture is a model over fakes plus the fakes, for pure tests.
type fixture struct {
	m   Model
	eng *fakeEngine
	prx *fakeProxy
	clk *clock.Fake
}

// newFixture builds a model over the fixture data at w×h, with its first
// history fetch and the fixture's warnings applied, as a running program
// would have them.
func newFixture(t testing.TB, w, h int, noColor bool) *fixture {
	t.Helper()
	f := &fixture{eng: newFakeEngine(), prx: newFakeProxy(), clk: clock.NewFake(t0)}
	f.m = New(Deps{Engine: f.eng, Proxy: f.prx, History: fakeHistory, Usage: fakeUsage, Clock: f.clk, NoColor: noColor, Version: "v0.1.0"})
	f.send(tea.WindowSizeMsg{Width: w, Height: h})
	if f.m.initHist == nil {
		t.Fatal("New did not prepare a history fetch")
	}
	f.send(f.m.initHist())
	evs := fixtureEvents()
	for i := len(evs) - 1; i >= 0; i-- { // oldest first, as the feed delivers
		f.send(eventsMsg{events: evs[i : i+1]})
	}
	return f
}

// send runs Update and keeps the model; it returns the command.
func (f *fixture) send(msg tea.Msg) tea.Cmd {
	nm, cmd := f.m.Update(msg)
	f.m = nm.(Model)
	return cmd
}

// press sends key presses given as key strings ("j", "enter", "esc", "R").
func (f *fixture) press(keys ...string) tea.Cmd {
	var last tea.Cmd
	for _, k := range keys {
		last = f.send(keyPress(k))
	}
	return last
}

// keyPress builds the tea.KeyPressMsg for a key string.
func keyPress(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

func (f *fixture) view() string { return f.m.View().Content }

// checkGolden compares got with testdata/name.golden, rewriting it under
// -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if updating() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, []byte(got)) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// checkFits fails when a line is wider than w or there are more than h.
func checkFits(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) > h {
		t.Errorf("%d lines for a %d-line terminal", len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("line %d is %d cells wide, terminal has %d: %q", i, n, w, ansi.Strip(l))
		}
	}
}

var sizes = []struct{ w, h int }{{200, 50}, {120, 40}, {80, 24}, {60, 20}, {50, 20}, {40, 15}}

func TestGoldenViews(t *testing.T) {
	for _, sz := range sizes {
		for _, screen := range []struct {
			name string
			keys []string
		}{
			{"main", nil},
			{"detail", []string{"/", "b", "o", "b", "enter", "enter"}},                  // bob: low, and the forecast warns
			{"detail_models", []string{"/", "a", "l", "i", "c", "e", "enter", "enter"}}, // alice: models, marks none, weekly bottleneck
			{"help", []string{"?"}},
			{"log", []string{"tab", "j", "enter"}}, // the full warnings log, from the second warning
			{"usage", []string{"u"}},               // the pool's usage
		} {
			name := fmt.Sprintf("%s_%dx%d", screen.name, sz.w, sz.h)
			t.Run(name, func(t *testing.T) {
				f := newFixture(t, sz.w, sz.h, true)
				for _, msg := range runCmd(f.press(screen.keys...)) {
					switch msg.(type) {
					case detailEventsMsg, usageMsg:
						f.send(msg)
					}
				}
				v := f.view()
				checkFits(t, v, sz.w, sz.h)
				if strings.Contains(v, "\x1b") {
					t.Error("NoColor view holds escape codes")
				}
				checkGolden(t, name, v)
			})
		}
	}
}

func TestColorViewMatchesPlainText(t *testing.T) {
	plain := newFixture(t, 120, 40, true).view()
	colored := newFixture(t, 120, 40, false).view()
	if !strings.Contains(colored, "\x1b[") {
		t.Fatal("colour view has no escape codes")
	}
	if got := ansi.Strip(colored); got != plain {
		t.Errorf("colour view differs from the plain one beyond escape codes:\n%s\n---\n%s", got, plain)
	}
	// Colours come from the 16-colour palette only (SGR 30–37, 90–97), so
	// the terminal's theme decides them.
	if strings.Contains(colored, "38;5;") || strings.Contains(colored, "38;2;") {
		t.Error("colour view uses 256-colour or true-colour codes")
	}
}

func TestEveryLineFits(t *testing.T) {
	widths := []int{160, 120, 100, 99, 81, 80, 79, 66, 60, 55, 54, 50, 44, 30}
	heights := []int{40, 24, 20, 12}
	for _, w := range widths {
		for _, h := range heights {
			for _, keys := range [][]string{nil, {"enter"}, {"?"}, {"tab"}, {"/", "a"}, {"tab", "enter"}, {"enter", "G"}, {"?", "G"}, {"tab", "enter", "G"}, {"u"}, {"u", "G"}, {"enter", "u"}} {
				f := newFixture(t, w, h, false)
				for _, k := range keys {
					for _, msg := range runCmd(f.press(k)) {
						switch msg.(type) {
						case detailEventsMsg, usageMsg:
							f.send(msg)
						}
					}
				}
				t.Run(fmt.Sprintf("%dx%d%v", w, h, keys), func(t *testing.T) {
					checkFits(t, f.view(), w, h)
				})
			}
		}
	}
}
