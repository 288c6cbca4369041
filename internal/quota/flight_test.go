package quota

import (
	"context"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// A slow answer from before a drain must not land after a newer one: a
// sync asked for after the drain reads 0 %, and the monitor's older round,
// still in flight, does not put 100 % back afterwards.
func TestOlderAnswerNeverWins(t *testing.T) {
	const email = "race@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	ctx := context.Background()
	e.sync(email) // tier cached: the next syncs are the two quota reads
	e.srv.SetReplyDelay(email, 300*time.Millisecond)
	round := make(chan SyncResult, 1)
	go func() { round <- e.m.SyncAll(ctx) }()
	waitFor(t, "the round's answers to be taken", func() bool { return e.srv.HeldReplies() == 2 })
	e.srv.SetReplyDelay(email, 0)
	e.srv.Drain(email, cloudcode.FamilyGemini)

	// The user presses R after the drain: that sync must see it.
	if err := e.m.SyncAccount(ctx, e.id(email)); err != nil {
		t.Fatal(err)
	}
	if c := e.check(email, "gemini-3-flash"); c.Decision != Exhausted {
		t.Errorf("after a sync asked for after the drain: %s %s, want Exhausted", c.Decision, c.Remaining)
	}
	<-round
	if c := e.check(email, "gemini-3-flash"); c.Decision != Exhausted || c.Usable {
		t.Errorf("after the older round landed: %s %s usable=%v, want still Exhausted", c.Decision, c.Remaining, c.Usable)
	}
}

// Two rounds at once (R during a monitor round) share the accounts' syncs
// and the monitor shows running until the last one ends.
func TestOverlappingRoundsShowRunning(t *testing.T) {
	const email = "slow@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	ctx := context.Background()
	e.sync(email)
	reads := e.srv.Requests(email, "fetchAvailableModels")
	e.srv.SetReplyDelay(email, 200*time.Millisecond)
	first := make(chan SyncResult, 1)
	go func() { first <- e.m.SyncAll(ctx) }()
	waitFor(t, "the first round's answers", func() bool { return e.srv.HeldReplies() == 2 })
	second := make(chan SyncResult, 1)
	go func() { second <- e.m.SyncAll(ctx) }()
	waitFor(t, "two rounds running", func() bool { return e.m.mon.rounds() == 2 })
	if !e.m.MonitorStats().Running {
		t.Error("two rounds run and the monitor shows idle")
	}
	for _, ch := range []chan SyncResult{first, second} {
		if res := <-ch; res.OK != 1 {
			t.Errorf("round: %+v", res)
		}
	}
	if e.m.MonitorStats().Running {
		t.Error("both rounds ended and the monitor still shows running")
	}
	if n := e.srv.Requests(email, "fetchAvailableModels") - reads; n != 1 {
		t.Errorf("two overlapping rounds read the account %d times, want once (shared)", n)
	}
}

// The monitor counts rounds: the end of one does not hide another that
// still runs (it was one flag, cleared by whichever ended first).
func TestMonitorCountsRounds(t *testing.T) {
	var s monitorState
	s.init()
	s.syncStarted(t0)
	s.syncStarted(t0)
	s.syncFinished(SyncResult{})
	if s.rounds() != 1 {
		t.Errorf("after two starts and one end: %d rounds running, want 1", s.rounds())
	}
	s.syncFinished(SyncResult{})
	if s.rounds() != 0 {
		t.Errorf("after both ended: %d rounds running", s.rounds())
	}
}
