package quota

import (
	"context"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// Exhaustion and cooldown marks learned from 429s survive a restart with
// their end times; a mark that ended meanwhile is not loaded, and a mark a
// later success cleared stays cleared.
func TestMarksSurviveRestart(t *testing.T) {
	e := newEnv(t, cloudcodetest.Options{}, Options{},
		cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "b@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "c@example.com", TierID: "g1-pro-tier"})
	a, b, c := e.id("a@example.com"), e.id("b@example.com"), e.id("c@example.com")
	reset := t0.Add(108 * time.Hour)
	e.m.MarkExhausted(a, cloudcode.FamilyClaudeGPT, reset, t0, "quota exhausted (upstream 429)")
	e.m.MarkCooldown(b, cloudcode.FamilyGemini, t0.Add(30*time.Second), "rate limited")
	e.m.MarkCooldown(c, cloudcode.FamilyGemini, t0.Add(time.Hour), "rate limited")
	e.m.RecordSuccess(c, cloudcode.FamilyGemini, t0.Add(time.Second)) // a request started after the mark: clears it
	e.m.flushEvents(context.Background())

	e.clk.Advance(time.Minute) // the cooldown ends while the process is down
	m2, err := NewManager(context.Background(), e.up, e.tokens, e.st, Options{Clock: e.clk, Logger: e.m.log})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := m2.Account(a)
	if mk := st.Marks[familyIndex(cloudcode.FamilyClaudeGPT)]; mk.Kind != ExhaustedMark || !mk.Until.Equal(reset) {
		t.Errorf("after a restart: %+v, want the exhaustion until %s", mk, reset)
	}
	c2, err := m2.CheckQuota(context.Background(), a, "claude-sonnet-4-6")
	if err != nil || c2.Usable || c2.Reason != ReasonExhaustedMark {
		t.Errorf("check after restart: %+v (%v), want unusable by the stored mark", c2, err)
	}
	for _, id := range []int64{b, c} {
		if st, _ := m2.Account(id); st.Marks[familyIndex(cloudcode.FamilyGemini)].Kind != NoMark {
			t.Errorf("account %d: %+v, want no mark (ended, or cleared by a success)", id, st.Marks)
		}
	}
}

// While the monitor runs, a figure it synced answers checks until the next
// round has refreshed it, even when the cache TTL equals the interval: in
// steady state a proxied request never waits for a quota read.
func TestMonitorRefreshesBeforeTheCacheExpires(t *testing.T) {
	const email = "steady@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{CacheTTL: 5 * time.Minute, Interval: 5 * time.Minute},
		cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.m.StartMonitor(ctx, 0) }()
	defer func() {
		cancel()
		<-done
	}()
	waitFor(t, "the first round", func() bool { return e.m.MonitorStats().SyncsRun == 1 })
	reads := e.srv.Requests(email, "fetchAvailableModels")
	// Past the TTL but before the next round (the interval is jittered up
	// to +10 %): the monitor has not come round yet.
	e.clk.Advance(5*time.Minute + 20*time.Second)
	if _, err := e.m.CheckQuota(context.Background(), e.id(email), "gemini-3-flash"); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Requests(email, "fetchAvailableModels"); n != reads {
		t.Errorf("a check between two monitor rounds read the quota (%d calls): the cache expired before the monitor came round", n-reads)
	}
}
