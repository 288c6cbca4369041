package quota

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// buckets sizes the simulator's buckets: five units per 5-hour window and
// week per weekly one, for every plan and family.
func bucketSizes(five, week int) func(cloudcode.Tier, cloudcode.Family, cloudcode.Window) int {
	return func(_ cloudcode.Tier, _ cloudcode.Family, w cloudcode.Window) int {
		if w == cloudcode.WindowWeekly {
			return week
		}
		return five
	}
}

// spend makes proxied+outside generate calls of model on the account
// through the simulator: the proxied ones are recorded in the ledger, as
// the proxy records what it completed; the outside ones are another
// client of the account (the IDE), which the engine does not see.
func (e *env) spend(email, model string, proxied, outside int) {
	e.t.Helper()
	ctx := context.Background()
	id := e.id(email)
	st, _ := e.m.Account(id)
	tok := e.srv.AccessToken(email)
	body := []byte(fmt.Sprintf(`{"model":%q,"project":%q,"request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`, model, st.ProjectID))
	for i := range proxied + outside {
		resp, err := e.up.Do(ctx, cloudcode.Request{RPC: "generateContent", Body: body, AccessToken: tok})
		if err != nil {
			e.t.Fatalf("generate on %s: %v", email, err)
		}
		resp.Body.Close()
		if i < proxied {
			e.m.Record(Spend{AccountID: id, Family: cloudcode.ModelFamily(model), Model: model, Charged: true})
		}
	}
}

// status returns the account's Status as the engine hands it out.
func (e *env) status(email string) Status {
	e.t.Helper()
	st, ok := e.m.Account(e.id(email))
	if !ok {
		e.t.Fatalf("no account %s", email)
	}
	return st
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// The estimate falls with every request the ledger records, at the prior
// until the cost is learned, then at the learned cost; it is the same
// wherever it is read (CheckQuota, GetAllQuotas, Status.Check); the next
// sync replaces it; at 0 the account is exhausted by the estimate.
func TestEstimateFallsWithEachRequestAndIsReplacedAtSync(t *testing.T) {
	const a, model = "a@example.com", "gemini-3-flash"
	e := newEnv(t, cloudcodetest.Options{Capacity: bucketSizes(10, 50)}, Options{}, cloudcodetest.AccountSpec{Email: a, TierID: "g1-pro-tier"})
	e.sync(a)
	// A full bucket sits on the coarse grid: one step of it may be spent
	// already, so the prior's 20 requests count from 0.8.
	if c := e.check(a, model); !near(c.Remaining.Value, 1) || c.Estimated || c.Left != priorUnits5h*4/5 {
		t.Fatalf("after the sync: %+v; want 1, not estimated, %d left by the prior", c, priorUnits5h*4/5)
	}
	prev := 1.0
	for k := 1; k <= 3; k++ {
		e.spend(a, model, 1, 0)
		c := e.check(a, model)
		want := 1 - float64(k)/priorUnits5h
		if !near(c.Remaining.Value, want) || !c.Estimated || c.Remaining.Value >= prev {
			t.Fatalf("after %d requests: %+v; want %.2f, estimated, below %.2f", k, c, want, prev)
		}
		prev = c.Remaining.Value
		st := e.status(a)
		fq := st.Family(cloudcode.FamilyGemini)
		if !fq.Estimated || !near(fq.Effective.Value, want) || fq.Requests != int64(k) || !near(fq.Synced.Value, 1) {
			t.Errorf("after %d requests the status says %v estimated %v (%d requests, synced %v)", k, fq.Effective, fq.Estimated, fq.Requests, fq.Synced)
		}
		if sc := st.Check(model, st.At); sc.Remaining != c.Remaining || sc.Decision != c.Decision || sc.Left != c.Left {
			t.Errorf("Status.Check %+v disagrees with CheckQuota %+v", sc, c)
		}
	}
	// The sync replaces the estimate, and teaches the cost: 3 requests
	// took the 5-hour bucket from 1 to 0.7.
	e.sync(a)
	c := e.check(a, model)
	if !near(c.Remaining.Value, 0.7) || c.Estimated {
		t.Fatalf("after the sync: %+v; want the synced 0.7, not estimated", c)
	}
	if cost, learned := e.m.CostPerRequest(cloudcode.TierPro, cloudcode.FamilyGemini, cloudcode.Window5h); !learned || !near(cost, 0.1) {
		t.Errorf("learned 5h cost %v (%v), want 0.1", cost, learned)
	}
	if cost, learned := e.m.CostPerRequest(cloudcode.TierPro, cloudcode.FamilyGemini, cloudcode.WindowWeekly); !learned || !near(cost, 0.02) {
		t.Errorf("learned weekly cost %v (%v), want 0.02", cost, learned)
	}
	e.spend(a, model, 2, 0)
	if c := e.check(a, model); !near(c.Remaining.Value, 0.5) || !c.Estimated || c.Left != 5 || c.Decision != Proceed {
		t.Errorf("two requests at the learned cost: %+v; want 0.5, estimated, 5 left", c)
	}
	e.spend(a, model, 5, 0)
	c = e.check(a, model)
	if c.Remaining.Value != 0 || c.Decision != Exhausted || c.Usable || c.Reason != ReasonEstimatedEmpty || c.Left != 0 {
		t.Errorf("estimate at 0: %+v; want exhausted by the estimate, 0 left", c)
	}
	e.sync(a)
	if c := e.check(a, model); c.Remaining.Value != 0 || c.Estimated || c.Reason != ReasonExhausted {
		t.Errorf("synced at 0: %+v; want exhausted, not estimated", c)
	}
}

// Figures in coarse steps (the simulator rounds up to 0.2, as Google was
// seen to) do not reset the estimate while it lies within the step of an
// unchanged reading, and the cost is learned between step changes only:
// the estimate follows the real figure, not the rounded one.
func TestEstimateNotFooledByCoarseSteps(t *testing.T) {
	const a, model = "coarse@example.com", "gemini-3-flash"
	e := newEnv(t, cloudcodetest.Options{Capacity: bucketSizes(10, 1000), Steps: 0.2}, Options{},
		cloudcodetest.AccountSpec{Email: a, TierID: "g1-pro-tier"})
	real := func() float64 { return e.srv.Remaining(a, cloudcode.FamilyGemini, cloudcode.Window5h) }
	est := func() float64 {
		st := e.status(a)
		return st.Family(cloudcode.FamilyGemini).FiveHour.Remaining.Value
	}
	e.sync(a)
	e.spend(a, model, 2, 0)
	e.sync(a) // reads 0.8 (8 of 10): a step boundary, no reading yet (1.0 was not one)
	if _, learned := e.m.CostPerRequest(cloudcode.TierPro, cloudcode.FamilyGemini, cloudcode.Window5h); learned {
		t.Fatal("learned from a span that did not start at a step change")
	}
	e.spend(a, model, 1, 0) // 7 of 10 left; the estimate falls by the prior 0.05
	e.sync(a)               // reads 0.8 again
	if got := est(); !near(got, 0.75) {
		t.Fatalf("after an unchanged coarse reading the estimate is %.3f, want 0.75 (kept, not reset to 0.8)", got)
	}
	e.spend(a, model, 1, 0)
	e.sync(a) // reads 0.6: two requests since the change to 0.8 took a whole step
	if cost, learned := e.m.CostPerRequest(cloudcode.TierPro, cloudcode.FamilyGemini, cloudcode.Window5h); !learned || !near(cost, 0.1) {
		t.Fatalf("cost %v (learned %v) after a whole step over 2 requests, want 0.1", cost, learned)
	}
	for want := 0.5; want > 0.05; want -= 0.1 {
		e.spend(a, model, 1, 0)
		e.sync(a)
		if got := est(); math.Abs(got-real()) > 1e-9 || math.Abs(got-want) > 1e-9 {
			t.Fatalf("estimate %.3f, real %.3f, want %.1f", got, real(), want)
		}
		c := e.check(a, model)
		if c.Remaining.Value <= CoarseStep+gridSlack && (c.Decision != LowQuota || c.Left != 0) {
			t.Errorf("at %.1f in coarse steps: %+v; want LowQuota with no request certainly left", c.Remaining.Value, c)
		}
	}
	e.spend(a, model, 1, 0)
	if c := e.check(a, model); c.Decision != Exhausted || c.Reason != ReasonEstimatedEmpty {
		t.Errorf("the last unit spent: %+v; want exhausted by the estimate (the coarse reading still says 0.2)", c)
	}
}

// The cost per request is learned from the proxy's spending. Bursts of
// spending by another client of the account (the IDE) are left out;
// spending elsewhere that never stops makes the cost err high, never low.
func TestLearnedCost(t *testing.T) {
	const model = "gemini-3-flash"
	tests := []struct {
		name    string
		outside func(round int) int // requests by another client in a round of 3 proxied
		lo, hi  float64             // the learned 5h cost over the true one
	}{
		{"no outside spending", func(int) int { return 0 }, 1, 1},
		{"bursts elsewhere", func(r int) int { return map[int]int{2: 6, 5: 4, 7: 5}[r] }, 1, 1},
		{"steady spending elsewhere", func(int) int { return 1 }, 1, 1.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const a = "a@example.com"
			e := newEnv(t, cloudcodetest.Options{Capacity: bucketSizes(100, 500)}, Options{}, cloudcodetest.AccountSpec{Email: a, TierID: "g1-pro-tier"})
			e.sync(a)
			var fell, sent float64
			for r := range 9 {
				before := e.srv.Remaining(a, cloudcode.FamilyGemini, cloudcode.Window5h)
				e.spend(a, model, 3, tt.outside(r))
				fell += before - e.srv.Remaining(a, cloudcode.FamilyGemini, cloudcode.Window5h)
				sent += 3
				e.sync(a)
			}
			cost, learned := e.m.CostPerRequest(cloudcode.TierPro, cloudcode.FamilyGemini, cloudcode.Window5h)
			ratio := cost / 0.01
			if !learned || ratio < tt.lo-1e-6 || ratio > tt.hi+1e-6 {
				t.Errorf("learned cost %.4f (%.2f of the true 0.01), want within [%.2f, %.2f]; all that fell over the proxy's requests: %.2f",
					cost, ratio, tt.lo, tt.hi, fell/sent/0.01)
			}
		})
	}
}

// What one process learned, every process on the database uses: a new
// manager (a restart, or the dashboard beside serve) starts from it.
func TestLearnedCostIsShared(t *testing.T) {
	const a, model = "a@example.com", "claude-sonnet-4-6"
	e := newEnv(t, cloudcodetest.Options{Capacity: bucketSizes(40, 200)}, Options{}, cloudcodetest.AccountSpec{Email: a, TierID: "g1-ultra-tier"})
	e.sync(a)
	e.spend(a, model, 4, 0)
	e.sync(a)
	e.m.FlushLedger(context.Background())
	other, err := NewManager(context.Background(), e.up, e.tokens, e.st, Options{Clock: e.clk, Logger: e.m.log})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []cloudcode.Window{cloudcode.Window5h, cloudcode.WindowWeekly} {
		want, _ := e.m.CostPerRequest(cloudcode.TierUltra, cloudcode.FamilyClaudeGPT, w)
		got, learned := other.CostPerRequest(cloudcode.TierUltra, cloudcode.FamilyClaudeGPT, w)
		if !learned || !near(got, want) {
			t.Errorf("%s cost in a new manager %v (learned %v), want %v", w, got, learned, want)
		}
	}
	if got, learned := other.CostPerRequest(cloudcode.TierPro, cloudcode.FamilyClaudeGPT, cloudcode.Window5h); learned || !near(got, 1.0/priorUnits5h) {
		t.Errorf("another plan's cost %v (learned %v), want the prior", got, learned)
	}
}

// Another process's spending (serve's proxy, the ledger flushed to the
// store) brings this process's figures forward too, and the process that
// spent does not count its own requests twice.
func TestEstimateCountsOtherProcessesSpending(t *testing.T) {
	const a, model = "a@example.com", "gemini-3-flash"
	ctx := context.Background()
	e := newEnv(t, cloudcodetest.Options{Capacity: bucketSizes(20, 100)}, Options{}, cloudcodetest.AccountSpec{Email: a, TierID: "g1-pro-tier"})
	dash, err := NewManager(ctx, e.up, e.tokens, e.st, Options{Clock: e.clk, Logger: e.m.log})
	if err != nil {
		t.Fatal(err)
	}
	e.sync(a)
	if err := dash.SyncAccount(ctx, e.id(a)); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Second) // the requests come after both figures
	e.spend(a, model, 4, 0)
	e.m.FlushLedger(ctx)
	if changed, err := dash.refreshSpend(ctx); err != nil || !changed {
		t.Fatalf("refresh spend: changed %v, err %v", changed, err)
	}
	if changed, err := e.m.refreshSpend(ctx); err != nil || !changed {
		t.Fatalf("refresh spend (serve): changed %v, err %v", changed, err)
	}
	for name, m := range map[string]*Manager{"dashboard": dash, "serve": e.m} {
		st, _ := m.Account(e.id(a))
		fq := st.Family(cloudcode.FamilyGemini)
		if !fq.Estimated || fq.Requests != 4 || !near(fq.FiveHour.Remaining.Value, 1-4.0/priorUnits5h) {
			t.Errorf("%s: %v estimated %v after %d requests; want 4 requests at the prior", name, fq.FiveHour.Remaining, fq.Estimated, fq.Requests)
		}
	}
}

// Past a bucket's reset time its figure is the window before's: the
// account is usable again at once (the bucket taken as refilled, marked
// estimated), not after the next sync, and the poller resyncs it soon.
func TestResetTimePassedCountsAsRefilled(t *testing.T) {
	const a, model = "a@example.com", "gemini-3-flash"
	e := newEnv(t, cloudcodetest.Options{}, Options{Interval: time.Hour}, cloudcodetest.AccountSpec{Email: a, TierID: "g1-pro-tier"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.m.StartMonitor(ctx, time.Hour) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the first round", func() bool { return !e.status(a).LastSync.IsZero() && e.m.IsPoller() })

	e.srv.Drain(a, cloudcode.FamilyGemini)
	e.sync(a)
	reset := e.srv.ResetTime(a, cloudcode.FamilyGemini, cloudcode.Window5h)
	if st := e.status(a); st.Check(model, e.clk.Now()).Usable {
		t.Fatal("drained and still usable")
	}
	e.clk.Set(reset.Add(time.Second))
	st := e.status(a)
	c := st.Check(model, st.At)
	if !c.Usable || c.Decision != Proceed || !c.Estimated || !near(c.Remaining.Value, 1) {
		t.Errorf("past the reset time: %+v; want usable, estimated full", c)
	}
	if best, ok := e.m.Best(model); !ok || best.AccountID != e.id(a) {
		t.Errorf("Best past the reset: %+v %v", best, ok)
	}
	before := e.srv.Requests(a, "retrieveUserQuotaSummary")
	e.m.syncBusy(e.clk.Now())
	waitFor(t, "the resync after the reset", func() bool { return e.srv.Requests(a, "retrieveUserQuotaSummary") > before })
	waitFor(t, "the new figures", func() bool { return e.status(a).LastSync.After(reset) })
	if c := e.check(a, model); c.Estimated || !near(c.Remaining.Value, 1) {
		t.Errorf("after the resync: %+v; want the synced full figure", c)
	}
}

// Accounts that served traffic since their last sync are synced every
// 30–60 s; idle ones wait for the normal interval; the busy syncs are
// bounded in total; every quota read is counted.
func TestAdaptiveSyncFrequency(t *testing.T) {
	const model = "gemini-3-flash"
	tests := []struct {
		name      string
		perMinute int
		min, max  int // syncs of each busy account over the ten minutes
		total     int // busy syncs of all accounts at most
	}{
		{"per account", 0, 10, 21, 40},
		{"bounded in total", 1, 0, 12, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs := []cloudcodetest.AccountSpec{{Email: "busy1@example.com", TierID: "g1-pro-tier"},
				{Email: "busy2@example.com", TierID: "g1-pro-tier"}, {Email: "idle@example.com", TierID: "g1-pro-tier"}}
			e := newEnv(t, cloudcodetest.Options{}, Options{Interval: time.Hour, BusyPerMinute: tt.perMinute}, specs...)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = e.m.StartMonitor(ctx, time.Hour) }()
			t.Cleanup(func() { cancel(); <-done })
			waitFor(t, "the first round", func() bool { return e.m.MonitorStats().SyncsRun == 1 && e.m.IsPoller() })
			reads := func(email string) int { return e.srv.Requests(email, "retrieveUserQuotaSummary") }
			start := map[string]int{}
			for _, s := range specs {
				start[s.Email] = reads(s.Email)
			}
			before := e.m.MonitorStats()
			for range 40 { // ten minutes, a request on each busy account every 15 s
				e.spend("busy1@example.com", model, 1, 0)
				e.spend("busy2@example.com", model, 1, 0)
				e.clk.Advance(15 * time.Second)
				asked := e.m.MonitorStats().BusySyncs
				e.m.syncBusy(e.clk.Now())
				if n := e.m.MonitorStats().BusySyncs - asked; n > 0 {
					now := e.clk.Now()
					waitFor(t, "the busy syncs", func() bool {
						synced := 0
						for _, s := range specs[:2] {
							if e.status(s.Email).LastSync.Equal(now) {
								synced++
							}
						}
						return synced >= int(n)
					})
				}
			}
			total := 0
			for _, s := range specs[:2] {
				n := reads(s.Email) - start[s.Email]
				total += n
				if n < tt.min || n > tt.max {
					t.Errorf("%s synced %d times in ten busy minutes, want %d–%d", s.Email, n, tt.min, tt.max)
				}
			}
			ms := e.m.MonitorStats()
			// The first requests also ask for one early sync each, to
			// learn what requests cost (learnSoon): not busy syncs.
			if busy := ms.BusySyncs - before.BusySyncs; busy > int64(tt.total) || int64(total) < busy {
				t.Errorf("%d busy syncs asked, %d made in all; want at most %d asked, all made", busy, total, tt.total)
			}
			if n := reads("idle@example.com") - start["idle@example.com"]; n != 0 {
				t.Errorf("the idle account synced %d times; want none before the normal interval", n)
			}
			if got := ms.QuotaReads - before.QuotaReads; got != int64(2*total) || ms.QuotaReadsLastHour < int64(2*total) {
				t.Errorf("quota reads counted %d (last hour %d), want 2 per sync: %d", got, ms.QuotaReadsLastHour, 2*total)
			}
		})
	}
}

// A request counted when the upstream accepted it (Charge) and recorded
// when its answer ended (Record with Counted) falls on the estimate once;
// one recorded without Charge is counted by Record.
func TestChargeThenRecordCountsOnce(t *testing.T) {
	const a, model = "a@example.com", "gemini-3-flash"
	e := newEnv(t, cloudcodetest.Options{Capacity: bucketSizes(100, 500)}, Options{}, cloudcodetest.AccountSpec{Email: a, TierID: "g1-pro-tier"})
	e.sync(a)
	id, f := e.id(a), cloudcode.FamilyGemini
	requests := func() int64 { return e.status(a).Families[familyIndex(f)].Requests }
	e.m.Charge(id, f, time.Time{})
	if n := requests(); n != 1 {
		t.Fatalf("after Charge: %d requests since the sync, want 1", n)
	}
	e.m.Record(Spend{AccountID: id, Family: f, Model: model, Charged: true, Counted: true})
	if n := requests(); n != 1 {
		t.Errorf("after Record of the counted request: %d, want 1", n)
	}
	e.m.Record(Spend{AccountID: id, Family: f, Model: model, Charged: true})
	if n := requests(); n != 2 {
		t.Errorf("after Record of an uncounted one: %d, want 2", n)
	}
	var charged int64
	for _, u := range e.m.UsageTotals() {
		charged += u.Charged
	}
	if charged != 2 {
		t.Errorf("the ledger has %d charged, want 2", charged)
	}
}
