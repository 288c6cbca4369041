package alert

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/store"
)

const (
	ada = "ada@example.com"
	bob = "bob@example.com"
	cy  = "cy@example.com"
)

func pro(email string) cloudcodetest.AccountSpec {
	return cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"}
}

// proAccounts returns n PRO accounts, user0000@example.com and on.
func proAccounts(n int) []cloudcodetest.AccountSpec {
	specs := make([]cloudcodetest.AccountSpec, n)
	for i := range specs {
		specs[i] = pro(fmt.Sprintf("user%04d@example.com", i))
	}
	return specs
}

func all(rec *recorder) []Route { return []Route{{Sink: rec, Filter: AllKinds}} }

func TestLowExhaustedResetOncePerEpisode(t *testing.T) {
	w := newWorld(t, worldOptions{}, pro(ada), pro(bob))
	rec := &recorder{}
	s := w.run(all(rec), Options{})
	w.syncAll()
	w.settle(s)
	if got := rec.kinds(); len(got) != 0 {
		t.Fatalf("alerts with every account full: %v", got)
	}

	w.sim.SetRemaining(ada, gemini, w5h, 0.05)
	for range 3 {
		w.syncAll() // the same LOW figure three times: one alert
	}
	w.settle(s)
	lows := rec.of(KindLow)
	if len(lows) != 1 {
		t.Fatalf("low alerts %v, want one", rec.kinds())
	}
	low := lows[0]
	reset := w.sim.ResetTime(ada, gemini, w5h)
	if low.Account == nil || low.Account.Email != ada || low.Account.ID != w.id(ada) || low.Account.Tier != "PRO" ||
		low.Family != "gemini" || low.Window != "5h" || !low.ResetAt.Equal(reset) ||
		low.Remaining == nil || math.Abs(*low.Remaining-0.05) > 1e-9 || low.Severity != SeverityWarning {
		t.Errorf("low alert %+v (account %+v)", low, low.Account)
	}
	if low.Title != ada+": gemini low" || !strings.HasPrefix(low.Message, "gemini low: 5% left (5h window), resets in ") {
		t.Errorf("low alert says %q / %q", low.Title, low.Message)
	}

	w.sim.SetRemaining(ada, gemini, w5h, 0)
	w.syncAll()
	w.syncAll()
	w.settle(s)
	if ex := rec.of(KindExhausted); len(ex) != 1 || *ex[0].Remaining != 0 || ex[0].Severity != SeverityCritical {
		t.Fatalf("exhausted alerts %v", rec.kinds())
	}

	// The 5h window ends: quota is back, once.
	w.clk.Advance(5*time.Hour + time.Minute)
	w.syncAll()
	w.syncAll()
	w.settle(s)
	resets := rec.of(KindReset)
	if len(resets) != 1 || resets[0].Account.Email != ada || *resets[0].Remaining != 1 || resets[0].Title != ada+": gemini quota back" {
		t.Fatalf("reset alerts %v", rec.kinds())
	}

	// A new episode warns again.
	w.sim.SetRemaining(ada, gemini, w5h, 0.05)
	w.syncAll()
	w.settle(s)
	want := []string{"low:" + ada + "/gemini", "exhausted:" + ada + "/gemini", "reset:" + ada + "/gemini", "low:" + ada + "/gemini"}
	if got := rec.kinds(); !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
}

func TestPoolExhaustedWithTheEarliestReset(t *testing.T) {
	w := newWorld(t, worldOptions{}, pro(ada), pro(bob))
	rec := &recorder{}
	s := w.run(all(rec), Options{})
	// ada is out for the week, bob for this 5h window: bob comes back
	// first.
	w.sim.SetRemaining(ada, gemini, weekly, 0)
	w.sim.SetRemaining(bob, gemini, w5h, 0)
	w.syncAll()
	w.settle(s)
	pools := waitKind(t, rec, KindPoolExhausted, 1)
	p := pools[0]
	bobReset := w.sim.ResetTime(bob, gemini, w5h)
	if p.Family != "gemini" || !p.ResetAt.Equal(bobReset) || p.Pool == nil || *p.Pool != (Pool{Accounts: 2, Usable: 0}) ||
		p.Account != nil || p.Severity != SeverityCritical {
		t.Errorf("pool alert %+v pool %+v, want gemini resetting at %s", p, p.Pool, bobReset)
	}
	if p.Title != "gemini: every account is out of quota" ||
		!strings.Contains(p.Message, "None of the 2 accounts has quota left for Gemini Models") ||
		!strings.Contains(p.Message, "earliest reset in 5h") {
		t.Errorf("pool alert says %q / %q", p.Title, p.Message)
	}
	w.syncAll()
	w.syncAll()
	w.settle(s)
	if n := len(rec.of(KindPoolExhausted)); n != 1 {
		t.Errorf("%d pool_exhausted alerts, want 1: %v", n, rec.kinds())
	}
	for _, e := range rec.events() {
		if e.Family == "claude-gpt" {
			t.Errorf("alert for the untouched family: %+v", e)
		}
	}

	// bob's window resets: the pool is back, with one usable account.
	w.clk.Advance(5*time.Hour + time.Minute)
	w.syncAll()
	w.settle(s)
	back := rec.of(KindPoolReset)
	if len(back) != 1 || back[0].Pool == nil || *back[0].Pool != (Pool{Accounts: 2, Usable: 1}) ||
		back[0].Message != "1 of 2 accounts can serve Gemini Models again." {
		t.Errorf("pool reset alerts %+v", back)
	}
	w.syncAll()
	w.settle(s)
	if n := len(rec.of(KindPoolReset)); n != 1 {
		t.Errorf("%d pool_reset alerts, want 1", n)
	}
}

func TestPoolNotSpentWhileAnAccountIsOnlyCoolingDown(t *testing.T) {
	w := newWorld(t, worldOptions{}, pro(ada), pro(bob))
	rec := &recorder{}
	s := w.run(all(rec), Options{})
	w.sim.SetRemaining(ada, gemini, w5h, 0)
	w.syncAll()
	// bob has quota but waits out a short rate limit: the pool is not
	// spent, the proxy will use bob in a second.
	w.q.MarkCooldown(w.id(bob), gemini, w.clk.Now().Add(2*time.Second), "rate limited")
	w.settle(s)
	if n := len(rec.of(KindPoolExhausted)); n != 0 {
		t.Errorf("pool alert while an account only cools down: %v", rec.kinds())
	}
}

func TestExhaustedByTheUpstream429(t *testing.T) {
	// The proxy's path: a 429 marks the family exhausted before any sync
	// says so. The alert gives the lock's end, not the stale figure.
	w := newWorld(t, worldOptions{}, pro(ada))
	rec := &recorder{}
	s := w.run(all(rec), Options{})
	w.syncAll()
	until := w.clk.Now().Add(90 * time.Minute)
	w.q.MarkExhausted(w.id(ada), claude, until, w.clk.Now(), "RESOURCE_EXHAUSTED")
	ex := waitKind(t, rec, KindExhausted, 1)[0]
	if ex.Family != "claude-gpt" || ex.Remaining != nil || ex.Window != "" || !ex.ResetAt.Equal(until) {
		t.Errorf("429 alert %+v, want claude-gpt locked until %s with no stale figure", ex, until)
	}
	// A single account: that is the whole pool.
	pool := waitKind(t, rec, KindPoolExhausted, 1)[0]
	if pool.Family != "claude-gpt" || !pool.ResetAt.Equal(until) {
		t.Errorf("pool alert %+v, want claude-gpt until %s", pool, until)
	}
	// The polled figure still says full, but the lock holds: quota is not
	// back yet.
	w.syncAll()
	w.settle(s)
	if got := rec.kinds(); !sameKinds(got, []string{"exhausted:" + ada + "/claude-gpt", "pool_exhausted/claude-gpt"}) {
		t.Errorf("alerts while locked %v", got)
	}
	// The lock ends: now it is.
	w.clk.Set(until.Add(time.Second))
	w.syncAll()
	w.settle(s)
	want := []string{"exhausted:" + ada + "/claude-gpt", "pool_exhausted/claude-gpt", "reset:" + ada + "/claude-gpt", "pool_reset/claude-gpt"}
	if got := rec.kinds(); !sameKinds(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
	if r := rec.of(KindReset)[0]; r.Remaining == nil || *r.Remaining != 1 || r.Message != "claude-gpt back to 100%" {
		t.Errorf("reset alert %+v", r)
	}
}

func TestAccountStateAlerts(t *testing.T) {
	w := newWorld(t, worldOptions{}, pro(ada), pro(bob), pro(cy))
	rec := &recorder{}
	s := w.run(all(rec), Options{})
	w.syncAll()

	// ada's refresh token is revoked and her access token expires.
	w.sim.RevokeRefreshToken(ada)
	w.sim.ExpireAccessTokens(ada)
	// bob must be verified in a browser.
	const verify = "https://accounts.example/signin/continue?id=bob"
	w.sim.FlagValidation(bob, verify)
	w.syncAll()
	w.syncAll()
	// cy is refused on a generate call (the proxy marks it).
	if err := w.q.MarkForbidden(context.Background(), w.id(cy), quota.StateForbidden, "PERMISSION_DENIED: project denied", ""); err != nil {
		t.Fatal(err)
	}
	w.settle(s)

	want := map[Kind]string{KindNeedsLogin: ada, KindVerification: bob, KindForbidden: cy}
	for k, email := range want {
		got := rec.of(k)
		if len(got) != 1 || got[0].Account == nil || got[0].Account.Email != email {
			t.Errorf("%s alerts: %v (all: %v)", k, got, rec.kinds())
		}
	}
	nl := rec.of(KindNeedsLogin)[0]
	if nl.Title != ada+" needs a new login" || !strings.Contains(nl.Message, "run `quotatui login`") ||
		!strings.Contains(nl.Message, "invalid_grant") {
		t.Errorf("needs_login alert says %q / %q", nl.Title, nl.Message)
	}
	if v := rec.of(KindVerification)[0]; v.URL != verify || v.Title != bob+" needs a browser verification" {
		t.Errorf("verification alert %+v", v)
	}
	if f := rec.of(KindForbidden)[0]; !strings.Contains(f.Message, "PERMISSION_DENIED: project denied") {
		t.Errorf("forbidden alert says %q", f.Message)
	}
	if n := len(rec.events()); n != 3 {
		t.Errorf("%d alerts, want 3: %v", n, rec.kinds())
	}

	// bob verifies: the episode ends; flagged again, he is alerted again.
	w.sim.Unflag(bob)
	w.syncAll()
	w.settle(s)
	w.sim.FlagValidation(bob, verify)
	w.syncAll()
	w.settle(s)
	if n := len(rec.of(KindVerification)); n != 2 {
		t.Errorf("%d verification alerts after a second episode, want 2: %v", n, rec.kinds())
	}
}

func TestStateAlertForAnAccountAlreadyWaitingAtStart(t *testing.T) {
	w := newWorld(t, worldOptions{}, pro(ada), pro(bob))
	ctx := context.Background()
	if err := w.st.SetState(ctx, w.id(ada), store.AccountState(quota.StateNeedsLogin), "refresh token rejected", "", t0); err != nil {
		t.Fatal(err)
	}
	if err := w.q.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	w.run(all(rec), Options{})
	// No sync runs: the first scan finds the state.
	got := waitKind(t, rec, KindNeedsLogin, 1)
	if got[0].Account.Email != ada {
		t.Errorf("alert %+v", got[0])
	}
}

func TestOAuthClientAlerts(t *testing.T) {
	// The configured client is not the one that issued the tokens: every
	// refresh answers invalid_client.
	w := newWorld(t, worldOptions{clientSecret: "not-the-secret"}, pro(ada), pro(bob))
	rec := &recorder{}
	s := w.run(all(rec), Options{NoClient: true})
	w.syncAll()
	w.syncAll()
	w.settle(s)
	got := rec.of(KindOAuthClient)
	var who []string
	for _, e := range got {
		if e.Account == nil {
			who = append(who, "(none)")
			continue
		}
		who = append(who, e.Account.Email)
		if !strings.Contains(e.Message, "invalid_client") || !strings.Contains(e.Message, "oauth.client_id") {
			t.Errorf("oauth_client alert says %q", e.Message)
		}
	}
	slices.Sort(who)
	if want := []string{"(none)", ada, bob}; !slices.Equal(who, want) {
		t.Errorf("oauth_client alerts for %v, want %v (one for the missing client, one per account)", who, want)
	}
	if strings.Contains(strings.Join(rec.kinds(), " "), "needs_login") {
		t.Errorf("a client problem reported as a login problem: %v", rec.kinds())
	}
}

// countingEngine counts the forecasts asked of the engine.
type countingEngine struct {
	Engine
	forecasts atomic.Int64
}

func (c *countingEngine) Forecast(ctx context.Context, id int64, f cloudcode.Family) (quota.Forecast, error) {
	c.forecasts.Add(1)
	return c.Engine.Forecast(ctx, id, f)
}

func TestForecastOncePerWindow(t *testing.T) {
	w := newWorld(t, worldOptions{}, pro(ada))
	rec := &recorder{}
	s := w.run(all(rec), Options{})
	// 10 % every five minutes: empty in under an hour, long before the
	// 5h window resets.
	drain := func(from float64, steps int) {
		for i := range steps {
			w.sim.SetRemaining(ada, gemini, w5h, from-0.1*float64(i))
			w.syncAll()
			w.settle(s)
			w.clk.Advance(5 * time.Minute)
		}
	}
	drain(1, 6)
	fc := rec.of(KindForecast)
	if len(fc) != 1 {
		t.Fatalf("forecast alerts %v, want one", rec.kinds())
	}
	e := fc[0]
	reset := w.sim.ResetTime(ada, gemini, w5h)
	if e.Family != "gemini" || e.Window != "5h" || !e.ResetAt.Equal(reset) || e.Forecast == nil ||
		math.Abs(e.Forecast.BurnPerHour-1.2) > 0.01 || !e.Forecast.EmptyAt.Before(reset) {
		t.Errorf("forecast alert %+v (%+v), want 120 %%/h, empty before %s", e, e.Forecast, reset)
	}
	if !strings.Contains(e.Message, "At this pace "+ada+"'s gemini quota is empty in ") || !strings.Contains(e.Message, "before its 5h window resets in") {
		t.Errorf("forecast alert says %q", e.Message)
	}

	// The next window drains as fast: a second forecast, once.
	w.clk.Set(reset.Add(time.Minute))
	drain(1, 6)
	if n := len(rec.of(KindForecast)); n != 2 {
		t.Errorf("%d forecast alerts over two windows, want 2: %v", n, rec.kinds())
	}
}

func TestForecastsAreNotReadWhenNoSinkWantsThem(t *testing.T) {
	w := newWorld(t, worldOptions{}, pro(ada))
	eng := &countingEngine{Engine: w.q}
	rec := &recorder{}
	s := New(eng, []Route{{Sink: rec, Filter: mustFilter(t, "low", "exhausted")}}, Options{Logger: quiet, Clock: w.clk, ScanEvery: time.Millisecond})
	s.flush = make(chan chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for i := range 5 {
		w.sim.SetRemaining(ada, gemini, w5h, 1-0.1*float64(i))
		w.syncAll()
		w.settle(s)
		w.clk.Advance(5 * time.Minute)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := eng.forecasts.Load(); n != 0 {
		t.Errorf("%d forecasts read with no sink wanting forecast alerts", n)
	}
}

func TestFiltersPerSink(t *testing.T) {
	w := newWorld(t, worldOptions{}, pro(ada))
	lows, crit := &recorder{name: "lows"}, &recorder{name: "critical"}
	s := w.run([]Route{
		{Sink: lows, Filter: mustFilter(t, "low")},
		{Sink: crit, Filter: mustFilter(t, "exhausted", "pool_exhausted")},
	}, Options{})
	w.sim.SetRemaining(ada, gemini, w5h, 0.05)
	w.syncAll()
	w.sim.SetRemaining(ada, gemini, w5h, 0)
	w.syncAll()
	w.settle(s)
	if got := lows.kinds(); !slices.Equal(got, []string{"low:" + ada + "/gemini"}) {
		t.Errorf("low sink got %v", got)
	}
	if got := crit.kinds(); !sameKinds(got, []string{"exhausted:" + ada + "/gemini", "pool_exhausted/gemini"}) {
		t.Errorf("critical sink got %v", got)
	}
}

// sameKinds compares alert lists regardless of order: an account's alert
// comes from the engine's event and its pool's from a snapshot scan, and
// the engine updates the snapshot before it publishes the event, so either
// may arrive first.
func sameKinds(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}
