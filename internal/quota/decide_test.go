package quota

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

func TestMakeDecisionBoundaries(t *testing.T) {
	reserve := Thresholds{Low: 0.10, Reserve: 0.02}
	tests := []struct {
		name string
		f    cloudcode.Fraction
		t    Thresholds
		want Decision
	}{
		{"unknown", cloudcode.Fraction{}, DefaultThresholds, Unknown},
		{"unknown is not zero", cloudcode.Fraction{Value: 0, Known: false}, DefaultThresholds, Unknown},
		{"empty", cloudcode.KnownFraction(0), DefaultThresholds, Exhausted},
		{"just above empty", cloudcode.KnownFraction(0.001), DefaultThresholds, LowQuota},
		{"just below low", cloudcode.KnownFraction(0.0999), DefaultThresholds, LowQuota},
		{"at low", cloudcode.KnownFraction(0.10), DefaultThresholds, Proceed},
		{"full", cloudcode.KnownFraction(1), DefaultThresholds, Proceed},
		{"at reserve", cloudcode.KnownFraction(0.02), reserve, Exhausted},
		{"above reserve", cloudcode.KnownFraction(0.021), reserve, LowQuota},
		{"below reserve", cloudcode.KnownFraction(0.01), reserve, Exhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MakeDecision(tt.f, tt.t); got != tt.want {
				t.Errorf("MakeDecision(%+v, %+v) = %s, want %s", tt.f, tt.t, got, tt.want)
			}
		})
	}
}

// TestCheckQuotaAgainstSimulator sets the simulator's buckets and checks
// what CheckQuota decides through the real client: every boundary, and the
// weekly bucket as the bottleneck even when the model says 100 %.
func TestCheckQuotaAgainstSimulator(t *testing.T) {
	tests := []struct {
		name          string
		fiveH, weekly float64
		want          Decision
		usable        bool
		reason        string
		remaining     float64
		bottleneck    cloudcode.Window
		opt           Thresholds
		model         string
		resetIsWeekly bool
	}{
		{name: "plenty", fiveH: 0.8, weekly: 0.9, want: Proceed, usable: true, remaining: 0.8, bottleneck: cloudcode.Window5h},
		{name: "at low threshold", fiveH: 0.10, weekly: 0.9, want: Proceed, usable: true, remaining: 0.10, bottleneck: cloudcode.Window5h},
		{name: "below low threshold", fiveH: 0.09, weekly: 0.9, want: LowQuota, usable: true, reason: ReasonLowQuota, remaining: 0.09, bottleneck: cloudcode.Window5h},
		{name: "one unit left", fiveH: 0.01, weekly: 0.9, want: LowQuota, usable: true, reason: ReasonLowQuota, remaining: 0.01, bottleneck: cloudcode.Window5h},
		{name: "5h empty", fiveH: 0, weekly: 0.9, want: Exhausted, usable: false, reason: ReasonExhausted, remaining: 0, bottleneck: cloudcode.Window5h},
		{name: "weekly lower", fiveH: 0.9, weekly: 0.3, want: Proceed, usable: true, remaining: 0.3, bottleneck: cloudcode.WindowWeekly, resetIsWeekly: true},
		{name: "weekly low", fiveH: 1, weekly: 0.05, want: LowQuota, usable: true, reason: ReasonLowQuota, remaining: 0.05, bottleneck: cloudcode.WindowWeekly, resetIsWeekly: true},
		{name: "weekly empty while model says 100%", fiveH: 1, weekly: 0, want: Exhausted, usable: false, reason: ReasonExhausted, remaining: 0, bottleneck: cloudcode.WindowWeekly, resetIsWeekly: true},
		{name: "at reserve", fiveH: 0.05, weekly: 1, want: Exhausted, usable: false, reason: ReasonExhausted, remaining: 0.05, bottleneck: cloudcode.Window5h, opt: Thresholds{Low: 0.1, Reserve: 0.05}},
		{name: "claude family", fiveH: 0.5, weekly: 0.6, want: Proceed, usable: true, remaining: 0.5, bottleneck: cloudcode.Window5h, model: "claude-sonnet-4-6-thinking"},
		{name: "models/ prefix", fiveH: 0.07, weekly: 0.6, want: LowQuota, usable: true, reason: ReasonLowQuota, remaining: 0.07, bottleneck: cloudcode.Window5h, model: "models/gemini-3-flash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const email = "pro@example.com"
			e := newEnv(t, cloudcodetest.Options{}, Options{Thresholds: tt.opt},
				cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
			model := tt.model
			if model == "" {
				model = "gemini-3-flash"
			}
			fam := cloudcode.ModelFamily(model)
			e.srv.SetRemaining(email, fam, cloudcode.Window5h, tt.fiveH)
			e.srv.SetRemaining(email, fam, cloudcode.WindowWeekly, tt.weekly)
			c := e.check(email, model)
			if c.Decision != tt.want || c.Usable != tt.usable || c.Reason != tt.reason {
				t.Errorf("check = %s usable=%v reason=%q, want %s usable=%v reason=%q", c.Decision, c.Usable, c.Reason, tt.want, tt.usable, tt.reason)
			}
			if !c.Remaining.Known || c.Remaining.Value != tt.remaining || c.Bottleneck != tt.bottleneck {
				t.Errorf("remaining %+v bottleneck %q, want %v %q", c.Remaining, c.Bottleneck, tt.remaining, tt.bottleneck)
			}
			w := cloudcode.Window5h
			if tt.resetIsWeekly {
				w = cloudcode.WindowWeekly
			}
			if want := e.srv.ResetTime(email, fam, w); !c.ResetTime.Equal(want) {
				t.Errorf("reset %s, want the %s bucket's %s", c.ResetTime, w, want)
			}
		})
	}
}

func TestCheckQuotaUnknownAndEmpty(t *testing.T) {
	// A model outside every family is Unknown but usable. A free account's
	// Claude and GPT pool, which Google sends as a quotaInfo with a reset
	// time and no fraction (proto3 leaves the 0 out), is 0 left until its
	// reset: exhausted, not unknown.
	const email = "free@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "free-tier"})
	if c := e.check(email, "some-new-model"); c.Decision != Unknown || !c.Usable || c.Reason != ReasonUnknownFamily {
		t.Errorf("unknown family: %+v", c)
	}
	c := e.check(email, "claude-sonnet-4-6")
	if c.Decision != Exhausted || c.Usable || !c.Remaining.Known || c.Remaining.Value != 0 || c.ResetTime.IsZero() {
		t.Errorf("free account's Claude pool: %+v; want exhausted, 0 left, with its reset time", c)
	}
}

func TestAccountStateAndMarksMakeUnusable(t *testing.T) {
	const email = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	id := e.id(email)
	if c := e.check(email, "gemini-3-flash"); !c.Usable || c.Decision != Proceed {
		t.Fatalf("fresh account: %+v", c)
	}
	e.m.MarkCooldown(id, cloudcode.FamilyGemini, t0.Add(30*time.Second), "rate limited")
	if c := e.check(email, "gemini-3-flash"); c.Usable || c.Reason != ReasonCooldown || c.Decision != Proceed {
		t.Errorf("cooldown: %+v", c)
	}
	if c := e.check(email, "claude-sonnet-4-6"); !c.Usable {
		t.Errorf("a Gemini cooldown must not touch Claude: %+v", c)
	}
	e.clk.Advance(31 * time.Second)
	if c := e.check(email, "gemini-3-flash"); !c.Usable {
		t.Errorf("cooldown over: %+v", c)
	}
	for _, st := range []AccountState{StateForbidden, StateValidationRequired, StateNeedsLogin, StateNeedsClient, StateClientMismatch} {
		if err := e.m.MarkForbidden(context.Background(), id, st, "test", ""); err != nil {
			t.Fatal(err)
		}
		if c := e.check(email, "gemini-3-flash"); c.Usable || c.Reason != stateReason(st) {
			t.Errorf("state %s: %+v", st, c)
		}
		row, err := e.st.Account(context.Background(), id)
		if err != nil || string(row.State) != string(st) {
			t.Errorf("stored state = %q, %v; want %s", row.State, err, st)
		}
	}
	// The user's choice is its own column, and outranks every state.
	if err := e.m.SetDisabled(context.Background(), id, true); err != nil {
		t.Fatal(err)
	}
	if c := e.check(email, "gemini-3-flash"); c.Usable || c.Reason != ReasonDisabled {
		t.Errorf("disabled: %+v", c)
	}
	if row, _ := e.st.Account(context.Background(), id); !row.Disabled || row.State != store.StateClientMismatch {
		t.Errorf("stored disabled %v state %s; want both kept", row.Disabled, row.State)
	}
}

func TestResetRestoresProceed(t *testing.T) {
	const email = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	feed := e.m.Subscribe()
	defer feed.Close()
	e.srv.Drain(email, cloudcode.FamilyGemini)
	if c := e.check(email, "gemini-3-flash"); c.Decision != Exhausted || c.Usable {
		t.Fatalf("drained: %+v", c)
	}
	reset := e.srv.ResetTime(email, cloudcode.FamilyGemini, cloudcode.Window5h)
	// Still cached: a check inside the TTL says Exhausted without asking.
	e.clk.Advance(time.Minute)
	if c := e.check(email, "gemini-3-flash"); c.Decision != Exhausted {
		t.Fatalf("inside TTL: %+v", c)
	}
	e.clk.Set(reset.Add(time.Second))
	c := e.check(email, "gemini-3-flash")
	if c.Decision != Proceed || !c.Usable || c.Remaining.Value != 1 {
		t.Fatalf("after the window reset: %+v", c)
	}
	if !c.ResetTime.After(reset) {
		t.Errorf("reset time %s should have moved past %s", c.ResetTime, reset)
	}
	got := kinds(drainEvents(feed), e.id(email))
	want := []EventKind{EventExhausted, EventRecovered}
	if !equalKinds(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func equalKinds(a, b []EventKind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestConcurrentMissesMakeOneUpstreamCall(t *testing.T) {
	const email = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{Latency: 20 * time.Millisecond}, Options{},
		cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	const callers = 100
	start := make(chan struct{})
	errs := make(chan error, callers)
	for range callers {
		go func() {
			<-start
			c, err := e.m.CheckQuota(context.Background(), e.id(email), "gemini-3-flash")
			if err == nil && c.Decision != Proceed {
				err = errors.New("decision " + c.Decision.String())
			}
			errs <- err
		}()
	}
	close(start)
	for range callers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, rpc := range []string{"loadCodeAssist", "fetchAvailableModels", "retrieveUserQuotaSummary"} {
		if n := e.srv.Requests(email, rpc); n != 1 {
			t.Errorf("%s called %d times, want 1", rpc, n)
		}
	}
	cs := e.m.CacheStats()
	if cs.Misses < 1 || cs.Hits+cs.Misses != callers {
		t.Errorf("cache stats %+v: want %d lookups", cs, callers)
	}
	// Later checks are hits.
	e.check(email, "gemini-3-pro-high")
	if n := e.srv.Requests(email, "fetchAvailableModels"); n != 1 {
		t.Errorf("a cache hit asked the upstream (%d calls)", n)
	}
}

func TestCheckQuotaHitAllocatesNothing(t *testing.T) {
	const email = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	id := e.id(email)
	e.check(email, "gemini-3-flash")
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := e.m.CheckQuota(ctx, id, "gemini-3-flash"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("cache hit allocates %.1f times, want 0", allocs)
	}
}

func TestCacheStatsAndCleanup(t *testing.T) {
	e := newEnv(t, cloudcodetest.Options{}, Options{CacheTTL: time.Minute},
		cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "b@example.com", TierID: "free-tier"})
	e.check("a@example.com", "gemini-3-flash") // miss
	e.check("a@example.com", "gemini-3-flash") // hit
	e.check("a@example.com", "claude-sonnet-4-6")
	cs := e.m.CacheStats()
	if cs.Active != 2 || cs.Expired != 0 || cs.Hits != 2 || cs.Misses != 1 {
		t.Errorf("after one sync: %+v", cs)
	}
	if cs.HitRatio < 0.66 || cs.HitRatio > 0.67 {
		t.Errorf("hit ratio %v, want 2/3", cs.HitRatio)
	}
	e.clk.Advance(2 * time.Minute)
	if cs := e.m.CacheStats(); cs.Active != 0 || cs.Expired != 2 {
		t.Errorf("after the TTL: %+v", cs)
	}
	if n := e.m.cleanExpired(); n != 2 {
		t.Errorf("cleaned %d entries, want 2", n)
	}
	if cs := e.m.CacheStats(); cs.Active != 0 || cs.Expired != 0 {
		t.Errorf("after cleanup: %+v", cs)
	}
	// The last known figures stay on display.
	st, _ := e.m.Account(e.id("a@example.com"))
	if !st.Family(cloudcode.FamilyGemini).Effective.Known {
		t.Error("cleanup dropped the displayed figures")
	}
	e.m.SyncAll(context.Background())
	if cs := e.m.CacheStats(); cs.Active != 4 {
		t.Errorf("after SyncAll: %+v", cs)
	}
	e.m.ClearCache()
	if cs := e.m.CacheStats(); cs.Active != 0 {
		t.Errorf("after ClearCache: %+v", cs)
	}
}

func TestTierCache(t *testing.T) {
	const email = "u@example.com"
	// Tokens outlive the clock jumps below, so each call is one request.
	e := newEnv(t, cloudcodetest.Options{AccessTokenTTL: 100 * time.Hour}, Options{},
		cloudcodetest.AccountSpec{Email: email, TierID: "g1-ultra-tier"})
	ctx := context.Background()
	id := e.id(email)
	for range 2 {
		sub, err := e.m.SubscriptionTier(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if sub.Tier != cloudcode.TierUltra || sub.TierID != "g1-ultra-tier" || sub.ProjectID == "" {
			t.Fatalf("subscription %+v", sub)
		}
	}
	if n := e.srv.Requests(email, "loadCodeAssist"); n != 1 {
		t.Errorf("loadCodeAssist called %d times within the TTL, want 1", n)
	}
	row, err := e.st.Account(ctx, id)
	if err != nil || row.Tier != "ULTRA" || row.TierID != "g1-ultra-tier" || !row.TierCheckedAt.Equal(t0) {
		t.Errorf("stored tier %q %q checked %s (%v)", row.Tier, row.TierID, row.TierCheckedAt, err)
	}
	// A new manager on the same store trusts the persisted tier.
	m2, err := NewManager(ctx, e.up, e.tokens, e.st, Options{Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	if sub, err := m2.SubscriptionTier(ctx, id); err != nil || sub.Tier != cloudcode.TierUltra {
		t.Errorf("persisted tier: %+v %v", sub, err)
	}
	if n := e.srv.Requests(email, "loadCodeAssist"); n != 1 {
		t.Errorf("persisted tier not used: %d calls", n)
	}
	e.clk.Advance(25 * time.Hour)
	if _, err := e.m.SubscriptionTier(ctx, id); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Requests(email, "loadCodeAssist"); n != 2 {
		t.Errorf("after the 24h TTL: %d calls, want 2", n)
	}
	if err := e.m.ClearTierCache(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.SubscriptionTier(ctx, id); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Requests(email, "loadCodeAssist"); n != 3 {
		t.Errorf("after ClearTierCache: %d calls, want 3", n)
	}
}

func TestSyncAllErrorIsolation(t *testing.T) {
	specs := []cloudcodetest.AccountSpec{
		{Email: "ok@example.com", TierID: "g1-pro-tier"},
		{Email: "forbidden@example.com", TierID: "g1-pro-tier"},
		{Email: "hang@example.com", TierID: "g1-pro-tier"},
		{Email: "expired@example.com", TierID: "g1-pro-tier"},
		{Email: "verify@example.com", TierID: "g1-pro-tier"},
		{Email: "login@example.com", TierID: "g1-pro-tier"},
	}
	const timeout = 500 * time.Millisecond
	e := newEnv(t, cloudcodetest.Options{}, Options{AccountTimeout: timeout}, specs...)
	ctx := context.Background()
	// Every account gets a cached token first, so expiring them later makes
	// the next call 401.
	if _, err := e.tokens.Token(ctx, e.id("expired@example.com")); err != nil {
		t.Fatal(err)
	}
	e.srv.ExpireAccessTokens("expired@example.com")
	e.srv.Forbid("forbidden@example.com", "SERVICE_DISABLED")
	e.srv.SetHang("hang@example.com", true)
	e.srv.FlagValidation("verify@example.com", "https://accounts.example/verify")
	e.tokens.setFail(e.id("login@example.com"), needsLoginErr{})

	start := time.Now()
	res := e.m.SyncAll(ctx)
	wall := time.Since(start)
	if wall > timeout+5*time.Second {
		t.Errorf("SyncAll took %s with a %s account timeout", wall, timeout)
	}
	if res.OK != 2 {
		t.Errorf("OK = %d, want 2 (ok and expired-then-refreshed); errors %v", res.OK, res.Errors)
	}
	for _, email := range []string{"forbidden@example.com", "hang@example.com", "verify@example.com", "login@example.com"} {
		if res.Errors[e.id(email)] == nil {
			t.Errorf("%s: no error", email)
		}
	}
	if err := res.Errors[e.id("hang@example.com")]; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hanging account: %v, want a deadline", err)
	}
	if n := e.tokens.invalidations(e.id("expired@example.com")); n != 1 {
		t.Errorf("401 led to %d invalidations, want 1", n)
	}
	for _, email := range []string{"ok@example.com", "expired@example.com"} {
		if c := e.check(email, "gemini-3-flash"); c.Decision != Proceed || !c.Usable {
			t.Errorf("%s: %+v", email, c)
		}
	}
	wantState := map[string]AccountState{
		"ok@example.com": StateActive,
		// A 403 on the quota reads alone is no proof: the quota is
		// unreadable, the account stays active.
		"forbidden@example.com": StateActive,
		"hang@example.com":      StateActive,
		"verify@example.com":    StateValidationRequired,
		"login@example.com":     StateNeedsLogin,
	}
	for email, want := range wantState {
		st, _ := e.m.Account(e.id(email))
		row, err := e.st.Account(ctx, e.id(email))
		if st.State != want || err != nil || string(row.State) != string(want) {
			t.Errorf("%s: state %s, stored %s (%v); want %s", email, st.State, row.State, err, want)
		}
	}
	if st, _ := e.m.Account(e.id("forbidden@example.com")); !strings.Contains(st.Unreadable, "SERVICE_DISABLED") {
		t.Errorf("forbidden account: unreadable %q, want the 403's reason", st.Unreadable)
	}
	if st, _ := e.m.Account(e.id("verify@example.com")); st.ValidationURL != "https://accounts.example/verify" {
		t.Errorf("validation URL %q", st.ValidationURL)
	}
	if ss := e.m.SyncStats(); ss[e.id("forbidden@example.com")].Errors != 1 || ss[e.id("ok@example.com")].Successes != 1 {
		t.Errorf("per-account stats %+v", ss)
	}

	// The next sync: the account that needs a login is skipped, and the
	// forbidden one is active again once the upstream answers.
	e.srv.Unflag("forbidden@example.com")
	e.srv.SetHang("hang@example.com", false)
	before := e.srv.Requests("login@example.com", "fetchAvailableModels")
	res = e.m.SyncAll(ctx)
	if res.Skipped != 1 || e.srv.Requests("login@example.com", "fetchAvailableModels") != before {
		t.Errorf("needs-login account not skipped: %+v", res)
	}
	if st, _ := e.m.Account(e.id("forbidden@example.com")); st.State != StateActive || st.Unreadable != "" {
		t.Errorf("forbidden account after a good sync: %s, unreadable %q", st.State, st.Unreadable)
	}
	if row, _ := e.st.Account(ctx, e.id("forbidden@example.com")); row.State != store.AccountState(StateActive) {
		t.Errorf("stored state after a good sync: %s", row.State)
	}
	if res.OK != 4 {
		t.Errorf("second sync OK = %d, want 4: %v", res.OK, res.Errors)
	}
}

func TestCheckQuotaFreshAsksUpstream(t *testing.T) {
	const email = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.Window5h, 0.05)
	if c := e.check(email, "gemini-3-flash"); c.Decision != LowQuota {
		t.Fatalf("first check: %+v", c)
	}
	e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.Window5h, 0)
	if c := e.check(email, "gemini-3-flash"); c.Decision != LowQuota {
		t.Fatalf("cached check should still say LowQuota: %+v", c)
	}
	c, err := e.m.CheckQuotaFresh(context.Background(), e.id(email), "gemini-3-flash")
	if err != nil || c.Decision != Exhausted || c.Usable {
		t.Errorf("fresh check: %+v %v, want Exhausted", c, err)
	}
	if n := e.srv.Requests(email, "retrieveUserQuotaSummary"); n != 2 {
		t.Errorf("%d summary calls, want 2", n)
	}
}

// noSummary is an upstream whose retrieveUserQuotaSummary is gone.
type noSummary struct{ *cloudcode.Client }

func (noSummary) RetrieveUserQuotaSummary(context.Context, string, string) (*cloudcode.QuotaSummary, error) {
	return nil, &cloudcode.NotFoundError{Status: 404, Message: "method not found"}
}

func TestSyncWithoutQuotaSummary(t *testing.T) {
	const email = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	ctx := context.Background()
	m, err := NewManager(ctx, noSummary{e.up}, e.tokens, e.st, Options{Clock: e.clk, Logger: e.m.log})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.Window5h, 0.05)
	e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0)
	c, err := m.CheckQuota(ctx, e.id(email), "gemini-3-flash")
	if err != nil {
		t.Fatal(err)
	}
	// The model's own figure still decides; the weekly bucket is unknown,
	// not full and not empty.
	if c.Decision != LowQuota || c.Remaining.Value != 0.05 || c.Bottleneck != cloudcode.Window5h {
		t.Errorf("check %+v, want LowQuota on the model's 5h figure", c)
	}
	st, _ := m.Account(e.id(email))
	if fq := st.Family(cloudcode.FamilyGemini); fq.Weekly.Remaining.Known || !fq.FiveHour.Remaining.Known {
		t.Errorf("family quota %+v: want 5h from the models and weekly unknown", fq)
	}
}
