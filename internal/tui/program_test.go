package tui

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/syncbuf"
)

// screen records the frame the running program shows: a program filter
// sees the model before each message, and the fast tick keeps messages
// coming, so the last frame is never more than one tick old.
type screen struct {
	mu   sync.Mutex
	last string
}

func (s *screen) filter(m tea.Model, msg tea.Msg) tea.Msg {
	v := m.View().Content
	s.mu.Lock()
	s.last = v
	s.mu.Unlock()
	return msg
}

func (s *screen) get() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// waitFor polls the frame until it holds every want, or fails after a
// deadline.
func (s *screen) waitFor(t *testing.T, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := s.get()
		ok := true
		for _, w := range want {
			if !strings.Contains(v, w) {
				ok = false
				break
			}
		}
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("frame never showed %q; last frame:\n%s", want, v)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// program runs the dashboard over the fakes in a teatest program.
type program struct {
	tm     *teatest.TestModel
	scr    *screen
	eng    *fakeEngine
	prx    *fakeProxy
	feed   *fakeFeed
	cancel context.CancelFunc
}

func startProgram(t *testing.T, w, h int) *program {
	t.Helper()
	p := &program{scr: &screen{}, eng: newFakeEngine(), prx: newFakeProxy(), feed: newFakeFeed()}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	m := New(Deps{Engine: p.eng, Proxy: p.prx, Feed: p.feed, History: fakeHistory, Clock: clock.NewFake(t0),
		NoColor: true, Version: "test", Tick: 20 * time.Millisecond}).WithContext(ctx)
	p.tm = teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithFilter(p.scr.filter)))
	t.Cleanup(func() {
		_ = p.tm.Quit()
		p.tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
		cancel() // ends the feed wait and the tick
	})
	return p
}

func (p *program) press(keys ...string) {
	for _, k := range keys {
		p.tm.Send(keyPress(k))
	}
}

func TestProgramResyncShowsProgressThenNewFigures(t *testing.T) {
	p := startProgram(t, 120, 40)
	p.scr.waitFor(t, "frank", "33% 5h", "█▇▇▆▆▅▅▄▄▃▃▃")
	gate := make(chan struct{})
	p.eng.mu.Lock()
	p.eng.gate = gate
	p.eng.onSync = func(int64) {
		p.eng.statuses[5].Families[0] = famQuota(cloudcode.FamilyGemini, 0.44, 0.9, time.Hour, time.Hour)
		p.eng.statuses[5].LastSync = t0
	}
	p.eng.mu.Unlock()
	p.press("r")
	p.scr.waitFor(t, "syncing…")
	p.press("r") // ignored while running
	p.scr.waitFor(t, "already syncing…")
	close(gate)
	p.scr.waitFor(t, "synced frank in", " 44% 5h")
	if n := p.eng.calls(6); n != 1 {
		t.Errorf("SyncAccount ran %d times for two presses, want 1", n)
	}
	// The terminal itself got the new figure too.
	teatest.WaitFor(t, p.tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("44")) },
		teatest.WithDuration(5*time.Second))
}

func TestProgramClearCache(t *testing.T) {
	p := startProgram(t, 80, 24)
	p.scr.waitFor(t, "MONITOR")
	p.press("c")
	p.scr.waitFor(t, "quota cache cleared")
	p.eng.mu.Lock()
	defer p.eng.mu.Unlock()
	if p.eng.clears != 1 {
		t.Errorf("ClearCache called %d times", p.eng.clears)
	}
}

func TestProgramPauseProxy(t *testing.T) {
	p := startProgram(t, 80, 24)
	p.scr.waitFor(t, "PROXY RUNNING")
	p.press("p")
	p.scr.waitFor(t, "PROXY PAUSED", "proxy paused")
	if got := p.prx.setCalls(); len(got) != 1 || !got[0] {
		t.Errorf("SetPaused calls %v, want [true]", got)
	}
	p.press("p")
	p.scr.waitFor(t, "PROXY RUNNING", "proxy resumed")
}

func TestProgramLiveFeed(t *testing.T) {
	p := startProgram(t, 120, 40)
	p.scr.waitFor(t, "alice")
	p.eng.mu.Lock()
	p.eng.statuses[0].Families[0] = famQuota(cloudcode.FamilyGemini, 0.05, 0.9, time.Hour, time.Hour)
	p.eng.mu.Unlock()
	p.feed.changed <- struct{}{}
	p.feed.events <- quota.Event{At: t0, Kind: quota.EventLowQuota, Account: "alice", Family: cloudcode.FamilyGemini, Message: "5% left"}
	p.scr.waitFor(t, "  5% 5h", "16:00:00 ! alice gemini: 5% left")
	// A second signal is still received: the wait was re-armed.
	p.eng.mu.Lock()
	p.eng.statuses[0].Families[0] = famQuota(cloudcode.FamilyGemini, 0, 0.9, time.Hour, time.Hour)
	p.eng.mu.Unlock()
	p.feed.changed <- struct{}{}
	v := p.scr.waitFor(t, "  0% 5h")
	if !strings.Contains(v, "✗ EXHAUSTED") {
		t.Errorf("alice at 0%% should read EXHAUSTED:\n%s", v)
	}
}

func TestProgramQuit(t *testing.T) {
	p := startProgram(t, 50, 20)
	p.scr.waitFor(t, "frank")
	p.press("q")
	p.tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	fm, ok := p.tm.FinalModel(t).(Model)
	if !ok || fm.width != 50 {
		t.Errorf("final model %T width %d", p.tm.FinalModel(t), fm.width)
	}
}

// TestRunStopsWithContext runs Run itself: it draws to the output, and
// returns without error (and, per TestMain, without leaking a goroutine)
// when its context ends.
func TestRunStopsWithContext(t *testing.T) {
	eng := newFakeEngine()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	defer pw.Close()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Deps{Engine: eng, Feed: newFakeFeed(), Clock: clock.NewFake(t0), NoColor: true, Tick: 10 * time.Millisecond},
			tea.WithInput(pr), tea.WithOutput(&out), tea.WithWindowSize(80, 24), tea.WithoutSignals())
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(ansi.Strip(out.String()), "frank") {
		if time.Now().After(deadline) {
			t.Fatalf("Run drew nothing: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if loc := colourSGR.FindStringIndex(out.String()); loc != nil {
		t.Errorf("NoColor run emitted a colour code: %q", out.String()[loc[0]:loc[1]])
	}
	cancel()
	waitRun(t, done, "its context ended")
}

// waitRun waits for Run's result after what should have ended it.
func waitRun(t *testing.T, done <-chan error, after string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v after %s", err, after)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return after %s", after)
	}
}

// TestRunQuitsOnQ types q into Run's input.
func TestRunQuitsOnQ(t *testing.T) {
	pr, pw := io.Pipe()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Deps{Engine: newFakeEngine(), Proxy: newFakeProxy(), Clock: clock.NewFake(t0), NoColor: true},
			tea.WithInput(pr), tea.WithOutput(&out), tea.WithWindowSize(80, 24), tea.WithoutSignals())
	}()
	if _, err := pw.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	waitRun(t, done, "q")
	pw.Close()
}

// colourSGR matches an SGR sequence that sets a foreground or background
// colour.
var colourSGR = regexp.MustCompile(`\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m`)

// syncBuffer is safe for concurrent writers and readers.
type syncBuffer = syncbuf.Buffer
