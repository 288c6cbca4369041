package quota

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

func TestWarningsOncePerEpisode(t *testing.T) {
	const email = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	id := e.id(email)
	feed := e.m.Subscribe()
	defer feed.Close()
	steps := []struct {
		fiveH float64
		want  []EventKind
	}{
		{0.50, nil},
		{0.05, []EventKind{EventLowQuota}},
		{0.05, nil}, // same figure: no repeat
		{0.04, nil}, // still low: same episode
		{0.00, []EventKind{EventExhausted}},
		{0.00, nil},
		{0.03, nil}, // partly back but still low: not a recovery, no new low warning
		{0.60, []EventKind{EventRecovered}},
		{0.60, nil},
		{0.08, []EventKind{EventLowQuota}}, // re-armed
	}
	for i, s := range steps {
		e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.Window5h, s.fiveH)
		e.sync(email)
		if got := kinds(drainEvents(feed), id); !equalKinds(got, s.want) {
			t.Errorf("step %d (5h at %.2f): events %v, want %v", i, s.fiveH, got, s.want)
		}
	}
	if feed.Dropped() != 0 {
		t.Errorf("dropped %d events", feed.Dropped())
	}
	// The warnings are in the store, newest first.
	stored, err := e.m.RecentEvents(context.Background(), id, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []EventKind
	for _, ev := range stored {
		got = append(got, ev.Kind)
		if ev.Family != cloudcode.FamilyGemini || ev.Account != email {
			t.Errorf("stored event %+v: want gemini family and the account label", ev)
		}
	}
	want := []EventKind{EventLowQuota, EventRecovered, EventExhausted, EventLowQuota}
	if !equalKinds(got, want) {
		t.Errorf("stored events %v, want %v", got, want)
	}
}

func TestLowWarningRearmsOnWindowReset(t *testing.T) {
	// The weekly bucket stays low across a 5h reset, so the account never
	// reaches Proceed; a reset of the bottleneck window still re-arms.
	const email = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{AccessTokenTTL: 1000 * time.Hour}, Options{},
		cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	id := e.id(email)
	feed := e.m.Subscribe()
	defer feed.Close()
	e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.Window5h, 0.05)
	e.sync(email)
	if got := kinds(drainEvents(feed), id); !equalKinds(got, []EventKind{EventLowQuota}) {
		t.Fatalf("first low: %v", got)
	}
	e.clk.Set(e.srv.ResetTime(email, cloudcode.FamilyGemini, cloudcode.Window5h).Add(time.Minute))
	e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.Window5h, 0.05)
	e.sync(email)
	if got := kinds(drainEvents(feed), id); !equalKinds(got, []EventKind{EventLowQuota}) {
		t.Errorf("after the window reset: %v, want a new low warning", got)
	}
}

func TestFeedNeverBlocksAndCountsDrops(t *testing.T) {
	e := newEnv(t, cloudcodetest.Options{}, Options{EventBuffer: 3}, cloudcodetest.AccountSpec{Email: "a@example.com"})
	slow := e.m.Subscribe()
	fast := e.m.Subscribe()
	for i := range 10 {
		e.m.Publish(Event{Kind: EventSwitch, AccountID: e.id("a@example.com"), Message: "switch"})
		if i < 3 {
			<-fast.Events()
		}
	}
	if slow.Dropped() != 7 {
		t.Errorf("slow feed dropped %d, want 7", slow.Dropped())
	}
	if got := len(drainEvents(slow)); got != 3 {
		t.Errorf("slow feed holds %d, want its buffer of 3", got)
	}
	if fast.Dropped() != 4 {
		t.Errorf("fast feed dropped %d, want 4", fast.Dropped())
	}
	// Changed coalesces: many changes, one pending signal.
	e.m.ClearCache()
	e.m.ClearCache()
	<-slow.Changed()
	select {
	case <-slow.Changed():
		t.Error("two signals pending: not coalesced")
	default:
	}
	slow.Close()
	slow.Close()
	if _, ok := <-slow.Events(); ok {
		t.Error("events channel open after Close")
	}
	e.m.Publish(Event{Kind: EventSwitch}) // must not panic on the closed feed
	fast.Close()
	// Published events reach the store with the next flush.
	e.m.flushEvents(context.Background())
	stored, err := e.m.RecentEvents(context.Background(), 0, 100)
	if err != nil || len(stored) != 11 {
		t.Errorf("stored %d events (%v), want 11", len(stored), err)
	}
}

func TestRecordSuccessRace(t *testing.T) {
	const email = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	id := e.id(email)
	e.check(email, "gemini-3-flash")
	sentEarly := t0.Add(-2 * time.Second) // in flight before the 429
	got429 := t0
	until := t0.Add(161 * time.Hour)
	e.m.MarkExhausted(id, cloudcode.FamilyGemini, until, got429, "QUOTA_EXHAUSTED")
	c := e.check(email, "gemini-3-flash")
	if c.Usable || c.Decision != Exhausted || c.Reason != ReasonExhaustedMark || !c.ResetTime.Equal(until) {
		t.Fatalf("after MarkExhausted: %+v", c)
	}
	// The late success of a request sent before the 429 must not unlock.
	e.m.RecordSuccess(id, cloudcode.FamilyGemini, sentEarly)
	e.m.RecordSuccess(id, cloudcode.FamilyGemini, got429)
	if c := e.check(email, "gemini-3-flash"); c.Usable {
		t.Fatalf("a request older than the mark cleared it: %+v", c)
	}
	// A cooldown never shortens the lock; an earlier until never either.
	e.m.MarkCooldown(id, cloudcode.FamilyGemini, t0.Add(time.Minute), "rate limited")
	e.m.MarkExhausted(id, cloudcode.FamilyGemini, t0.Add(time.Hour), t0, "again")
	st, _ := e.m.Account(id)
	if mk := st.Marks[0]; mk.Kind != ExhaustedMark || !mk.Until.Equal(until) {
		t.Fatalf("mark %+v, want the exhaustion until %s", mk, until)
	}
	// A request started after the mark succeeded: the account works.
	e.m.RecordSuccess(id, cloudcode.FamilyGemini, got429.Add(time.Second))
	if c := e.check(email, "gemini-3-flash"); !c.Usable || c.Decision != Proceed {
		t.Errorf("a newer success did not clear the mark: %+v", c)
	}
}

func TestMarkExhaustedWithoutResetUsesCachedReset(t *testing.T) {
	const email = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	id := e.id(email)
	e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.Window5h, 0.5)
	e.check(email, "gemini-3-flash")
	e.m.MarkExhausted(id, cloudcode.FamilyGemini, time.Time{}, time.Time{}, "no reset given")
	want := e.srv.ResetTime(email, cloudcode.FamilyGemini, cloudcode.Window5h)
	if c := e.check(email, "gemini-3-flash"); c.Usable || !c.ResetTime.Equal(want) {
		t.Errorf("check %+v, want locked until the cached reset %s", c, want)
	}
}

func TestMergeEffective(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	five := []pointF{{0, 0.9}, {10, 0.5}, {20, 1.0}}
	weekly := []pointF{{0, 0.8}, {15, 0.7}}
	got := mergeEffective(points(five, at), points(weekly, at))
	want := []pointF{{0, 0.8}, {10, 0.5}, {15, 0.5}, {20, 0.7}}
	if len(got) != len(want) {
		t.Fatalf("got %d points %+v, want %v", len(got), got, want)
	}
	for i, w := range want {
		if !got[i].At.Equal(at(w.min)) || got[i].Fraction != w.f {
			t.Errorf("point %d = %s %.2f, want %s %.2f", i, got[i].At, got[i].Fraction, at(w.min), w.f)
		}
	}
}

func TestResyncSoonDeduplicatesAndBounds(t *testing.T) {
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: "a@example.com"})
	// Stand in for a running monitor whose workers are busy: a queue of two.
	q := make(chan int64, 2)
	e.m.mon.mu.Lock()
	e.m.mon.resync = q
	e.m.mon.mu.Unlock()
	for _, id := range []int64{1, 1, 1, 2, 3} {
		e.m.ResyncSoon(id)
	}
	if len(q) != 2 || <-q != 1 || <-q != 2 {
		t.Errorf("queue holds %d, want accounts 1 and 2 once each", len(q))
	}
	if d := e.m.MonitorStats().ResyncDropped; d != 1 {
		t.Errorf("dropped %d, want 1 (account 3, queue full)", d)
	}
}

func TestReload(t *testing.T) {
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"})
	ctx := context.Background()
	e.check("a@example.com", "gemini-3-flash")
	rows, err := e.st.UpsertAccounts(ctx, []store.Account{{Email: "b@example.com", Label: "work", State: store.AccountState(StateActive)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.m.Account(rows[0].ID); ok {
		t.Fatal("new account known before Reload")
	}
	if err := e.m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	st, ok := e.m.Account(rows[0].ID)
	if !ok || st.Label != "work" || st.Email != "b@example.com" || st.State != StateActive {
		t.Errorf("reloaded account %+v %v", st, ok)
	}
	// The cache of the account that stayed is kept.
	if cs := e.m.CacheStats(); cs.Active != 2 {
		t.Errorf("cache after Reload: %+v", cs)
	}
	if err := e.st.DeleteAccount(ctx, e.id("a@example.com")); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.CheckQuota(ctx, e.id("a@example.com"), "gemini-3-flash"); !errors.Is(err, ErrUnknownAccount) {
		t.Errorf("removed account: %v", err)
	}
	if got := e.m.GetAllQuotas(); len(got) != 1 || got[0].AccountID != rows[0].ID {
		t.Errorf("GetAllQuotas after removal: %d accounts", len(got))
	}
}

func TestCancelledSyncAllRecordsNoErrors(t *testing.T) {
	e := newEnv(t, cloudcodetest.Options{}, Options{},
		cloudcodetest.AccountSpec{Email: "a@example.com"}, cloudcodetest.AccountSpec{Email: "b@example.com"})
	feed := e.m.Subscribe()
	defer feed.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := e.m.SyncAll(ctx)
	if res.OK != 0 || len(res.Errors) != 2 {
		t.Errorf("cancelled SyncAll: %+v", res)
	}
	for _, ev := range drainEvents(feed) {
		if ev.Kind == EventAccountError || ev.Kind == EventAccountDisabled {
			t.Errorf("stopping produced %s: %s", ev.Kind, ev.Message)
		}
	}
	for _, st := range e.m.GetAllQuotas() {
		if st.LastError != "" || st.State != StateActive {
			t.Errorf("account %d after a cancelled sync: %q %s", st.AccountID, st.LastError, st.State)
		}
	}
}

// TestRecoveredOnlyAfterTheLock: the upstream's 429 locks a family whose
// polled figure still reads full. Syncs during the lock are no recovery
// (the dashboard and alerts would say "back to 100%" while every request
// fails); the first sync after the lock ends the episode with Recovered.
func TestRecoveredOnlyAfterTheLock(t *testing.T) {
	const email = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{AccessTokenTTL: 1000 * time.Hour}, Options{},
		cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	id := e.id(email)
	feed := e.m.Subscribe()
	defer feed.Close()
	e.sync(email)
	drainEvents(feed)
	until := t0.Add(90 * time.Minute)
	e.m.MarkExhausted(id, cloudcode.FamilyClaudeGPT, until, t0, "QUOTA_EXHAUSTED")
	if got := kinds(drainEvents(feed), id); !equalKinds(got, []EventKind{EventExhausted}) {
		t.Fatalf("after the 429: %v", got)
	}
	e.clk.Set(t0.Add(10 * time.Minute))
	e.sync(email)
	if got := kinds(drainEvents(feed), id); len(got) != 0 {
		t.Fatalf("a sync during the lock fired %v, want nothing", got)
	}
	e.clk.Set(until.Add(time.Second))
	e.sync(email)
	if got := kinds(drainEvents(feed), id); !equalKinds(got, []EventKind{EventRecovered}) {
		t.Errorf("the first sync after the lock fired %v, want recovered", got)
	}
}
