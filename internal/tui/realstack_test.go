package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
)

// TestProgramWithRealManager runs the dashboard over the real quota
// manager, store and proxy behind the simulator: the table shows the
// synced accounts, a drained account turns EXHAUSTED after a resync that
// shows its progress, and the cache clears.
func TestProgramWithRealManager(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := proxytest.Start(ctx, proxytest.Options{Accounts: []cloudcodetest.AccountSpec{
		{Email: "free@example.com", TierID: "free-tier"},
		{Email: "pro@example.com", TierID: "g1-pro-tier"},
		{Email: "ultra@example.com", TierID: "g1-ultra-tier"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}()
	if err := st.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	feed := st.Quota.Subscribe()
	defer feed.Close()

	scr := &screen{}
	deps := Deps{
		Engine: st.Quota, Feed: feed, NoColor: true, Tick: 20 * time.Millisecond,
		History: func(ctx context.Context, id int64, f cloudcode.Family, since time.Time) ([]Point, error) {
			pts, err := st.Quota.History(ctx, id, f, since)
			out := make([]Point, len(pts))
			for i, p := range pts {
				out[i] = Point{At: p.At, LastSeen: p.LastSeen, Fraction: p.Fraction, ResetTime: p.ResetTime}
			}
			return out, err
		},
	}
	deps.Proxy = st.Proxy
	tm := teatest.NewTestModel(t, New(deps).WithContext(ctx), teatest.WithInitialTermSize(120, 40),
		teatest.WithProgramOptions(tea.WithFilter(scr.filter)))
	press := func(keys ...string) {
		for _, k := range keys {
			tm.Send(keyPress(k))
		}
	}
	scr.waitFor(t, "free@example.com", "pro@example.com", "ultra@example.com", "ULTRA", "✓ OK", "100% wk")

	// Drain pro's Gemini pool upstream; the dashboard learns it on resync.
	st.Sim.Drain("pro@example.com", cloudcode.FamilyGemini)
	st.Sim.SetLatency(300 * time.Millisecond) // long enough to see the progress
	press("/", "p", "r", "o", "enter", "r")
	scr.waitFor(t, "syncing…")
	v := scr.waitFor(t, "synced pro@example.com in", "✗ EXHAUSTED", "  0% 5h")
	if strings.Contains(v, "syncing…") {
		t.Errorf("progress still shown after the result:\n%s", v)
	}
	st.Sim.SetLatency(0)

	press("esc", "c")
	scr.waitFor(t, "quota cache cleared")

	press("p")
	scr.waitFor(t, "PROXY PAUSED")
	if !st.Proxy.Paused() {
		t.Error("the proxy is not paused")
	}

	press("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	cancel()
}
